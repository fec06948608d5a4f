//! HTTPS on the LAN, through the `logbook` binary: the self-signed CA a client can download over
//! plain HTTP and then trust, the HTTP port's redirects, a mismatched certificate/key pair refused
//! at start, and the CA kept across restarts. Then the administrator's own certificate
//! (`/api/v1/system/tls`, `/settings/https`): checked before use, served at once, kept across a
//! restart, removed back to the generated one, audited, refused in `files` mode.
//!
//! The certificate is the host's: every test here has a database of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

/// A server started with `LOGBOOK_TLS=self-signed` on free ports.
pub struct TlsServer {
    child: tokio::process::Child,
    http: u16,
    https: u16,
}

impl TlsServer {
    pub async fn start(db: &TestDb, data: &Path, dir: &Path) -> TlsServer {
        let (http, https) = (free_port(), free_port());
        let mut cmd = logbook_command(dir);
        cmd.env("LOGBOOK_DATABASE_URL", &db.url)
            .env("LOGBOOK_DATA_DIR", data)
            .env("LOGBOOK_DB_WAIT_SECS", "10")
            .env("LOGBOOK_TLS", "self-signed")
            .env("LOGBOOK_LISTEN", format!("127.0.0.1:{http}"))
            .env("LOGBOOK_HTTPS_LISTEN", format!("127.0.0.1:{https}"))
            .arg("serve");
        let mut child = cmd.spawn().unwrap();
        wait_until_healthy(
            &mut child,
            &format!("http://127.0.0.1:{http}"),
            Duration::from_secs(30),
        )
        .await;
        TlsServer { child, http, https }
    }

    fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https)
    }

    /// The CA certificate, fetched over plain HTTP as a phone would.
    pub async fn ca_pem(&self) -> String {
        let res = reqwest::get(self.http_url("/tls/ca.crt")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[reqwest::header::CONTENT_TYPE],
            "application/x-x509-ca-cert"
        );
        let disposition = res.headers()[reqwest::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.contains("filename="), "{disposition}");
        let pem = res.text().await.unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        pem
    }

    /// SIGTERM, then the exit status.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("logbook did not stop within 10 s of SIGTERM")
            .unwrap()
    }
}

/// A client whose only root is `ca_pem` (a new one has no connection or TLS session to reuse).
pub fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn data_dirs() -> (PathBuf, PathBuf) {
    let dir = temp_dir();
    let data = dir.join("data");
    (dir, data)
}

/// The `<code id="...">` value on the `/tls` page.
fn code_with_id(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("<code id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no {id} on the page: {page}"));
    let rest = &page[start..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()].to_string()
}

#[tokio::test]
async fn a_client_trusting_the_downloaded_ca_connects_and_signs_in() {
    let db = TestDb::create().await;
    let (dir, data) = data_dirs();
    // An organization and its administrator, made with `logbook init`.
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mut init = logbook_command(&dir);
    init.env("LOGBOOK_DATABASE_URL", &db.url)
        .env("LOGBOOK_DATA_DIR", &data)
        .env("LOGBOOK_DB_WAIT_SECS", "10")
        .args(["init", "--org-name", "Station One", "--admin-username"])
        .args(["chief", "--admin-email", "chief@example.org"])
        .arg("--admin-password-file")
        .arg(&password_file);
    let out = init.output().await.unwrap();
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = TlsServer::start(&db, &data, &dir).await;
    let ca = server.ca_pem().await;
    let client = trusting(&ca);
    for host in ["127.0.0.1", "localhost"] {
        let res = client
            .get(server.https_url(host, "/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("HTTPS to {host}: {e:?}"));
        assert_eq!(res.status(), StatusCode::OK, "{host}");
        let hsts = res.headers()["strict-transport-security"].to_str().unwrap();
        assert!(hsts.contains("max-age="), "{hsts}");
    }

    // Signing in over HTTPS: Secure cookies.
    let res = client
        .post(server.https_url("localhost", "/api/v1/auth/login"))
        .json(&json!({"username": "chief", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookies: Vec<String> = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(!cookies.is_empty(), "no session cookies");
    assert!(cookies.iter().all(|c| c.contains("Secure")), "{cookies:?}");
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let res = client
        .get(server.https_url("127.0.0.1", "/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The status page reports the certificate being served.
    let res = client
        .get(server.https_url("127.0.0.1", "/api/v1/system/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let status: serde_json::Value = res.json().await.unwrap();
    let cert = &status["certificate"];
    assert_eq!(cert["configured"], true, "{cert}");
    assert_eq!(cert["mode"], "self-signed", "{cert}");
    assert!(cert["not_after"].is_string(), "{cert}");
    assert!(
        cert["subject"].as_str().unwrap().contains("localhost"),
        "{cert}"
    );

    // A client that does not trust the CA is refused.
    let stranger = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(
        stranger
            .get(server.https_url("127.0.0.1", "/health"))
            .send()
            .await
            .is_err(),
        "a client without the CA connected"
    );
    // Nor does trusting some other CA help.
    let other_dir = temp_dir();
    let other = logbook::system::tls::load(&logbook::Config {
        tls: logbook::config::TlsMode::SelfSigned,
        ..test_config(&db.url, other_dir.clone())
    })
    .unwrap()
    .unwrap();
    let wrong = trusting(other.ca_pem().as_deref().unwrap());
    assert!(
        wrong
            .get(server.https_url("127.0.0.1", "/health"))
            .send()
            .await
            .is_err(),
        "a client trusting another CA connected"
    );

    assert_eq!(server.stop().await.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other_dir);
}

#[tokio::test]
async fn the_http_port_redirects_except_health_and_the_certificate_pages() {
    let db = TestDb::create().await;
    let (dir, data) = data_dirs();
    let server = TlsServer::start(&db, &data, &dir).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/members", "/api/v1/members?page=2", "/"] {
        let res = plain.get(server.http_url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT, "{path}");
        assert_eq!(
            res.headers()[reqwest::header::LOCATION],
            format!("https://127.0.0.1:{}{path}", server.https).as_str(),
            "{path}"
        );
    }
    // A POST is redirected as a POST (308), with the host the client asked for.
    let res = plain
        .post(server.http_url("/api/v1/auth/login"))
        .header(reqwest::header::HOST, "station.local")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers()[reqwest::header::LOCATION],
        format!("https://station.local:{}/api/v1/auth/login", server.https).as_str()
    );

    let res = plain.get(server.http_url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pass");
    assert!(
        plain
            .get(server.http_url("/health"))
            .send()
            .await
            .unwrap()
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "HSTS over plain HTTP"
    );

    // The instructions page, over HTTP, with both fingerprints; the same over HTTPS.
    let res = plain.get(server.http_url("/tls")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    for want in [
        "iPhone",
        "Android",
        "Windows",
        "macOS",
        "Linux",
        "/tls/ca.crt",
    ] {
        assert!(page.contains(want), "{want} missing from /tls");
    }
    let ca_fp = code_with_id(&page, "ca-fingerprint");
    let server_fp = code_with_id(&page, "server-fingerprint");
    assert_eq!(ca_fp.len(), 32 * 3 - 1, "{ca_fp}");
    assert_ne!(ca_fp, server_fp);
    let ca = server.ca_pem().await;
    let https_page = trusting(&ca)
        .get(server.https_url("localhost", "/tls"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code_with_id(&https_page, "ca-fingerprint"), ca_fp);

    assert_eq!(server.stop().await.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_restart_keeps_the_ca() {
    let db = TestDb::create().await;
    let (dir, data) = data_dirs();
    let first = TlsServer::start(&db, &data, &dir).await;
    let ca = first.ca_pem().await;
    let page = reqwest::get(first.http_url("/tls"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fingerprint = code_with_id(&page, "ca-fingerprint");
    assert_eq!(first.stop().await.code(), Some(0));

    let second = TlsServer::start(&db, &data, &dir).await;
    assert_eq!(second.ca_pem().await, ca, "the CA was replaced");
    let page = reqwest::get(second.http_url("/tls"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code_with_id(&page, "ca-fingerprint"), fingerprint);
    // And the old CA still verifies the (reused) server certificate.
    let res = trusting(&ca)
        .get(second.https_url("127.0.0.1", "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(second.stop().await.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_mismatched_certificate_and_key_are_refused_at_start() {
    let dir = temp_dir();
    // A real certificate (from a self-signed run) and a key that is not its own.
    let made = dir.join("made");
    logbook::system::tls::load(&logbook::Config {
        tls: logbook::config::TlsMode::SelfSigned,
        ..test_config("mysql://nobody@127.0.0.1:1/none", made.clone())
    })
    .unwrap();
    let cert = made.join("tls/server.crt");
    let key = dir.join("other.key");
    std::fs::write(&key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();

    let mut cmd = logbook_command(&dir);
    cmd.env("LOGBOOK_DATABASE_URL", "mysql://nobody@127.0.0.1:1/none")
        .env("LOGBOOK_DB_WAIT_SECS", "1")
        .env("LOGBOOK_DATA_DIR", dir.join("data"))
        .env("LOGBOOK_TLS", "files")
        .env("LOGBOOK_TLS_CERT", &cert)
        .env("LOGBOOK_TLS_KEY", &key)
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("LOGBOOK_HTTPS_LISTEN", format!("127.0.0.1:{}", free_port()))
        .arg("serve");
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("logbook did not exit within 30 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with a mismatched pair");
    assert!(
        stderr.contains(&cert.display().to_string())
            && stderr.contains(&key.display().to_string())
            && stderr.contains("does not match"),
        "stderr: {stderr}"
    );

    // The matching key is accepted.
    let ok = logbook::system::tls::from_files(&cert, &made.join("tls/server.key")).unwrap();
    assert!(!ok.info().fingerprint.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The administrator's own certificate

/// A CA of the test's own and a server certificate it issued.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate for `names` from a new CA, valid from `from_days` to `until_days` (from now).
pub fn pki(names: &[&str], from_days: i64, until_days: i64) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let now = time::OffsetDateTime::now_utc();
    let ca_params = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "Test department CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = now - time::Duration::days(30);
        p.not_after = now + time::Duration::days(3650);
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params().self_signed(&ca_key).unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = now + time::Duration::days(from_days);
    params.not_after = now + time::Duration::days(until_days);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::new(ca_params(), &ca_key))
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A good certificate for the names the tests connect to.
pub fn local_pki() -> Pki {
    pki(&["localhost", "127.0.0.1"], -1, 90)
}

fn upload_body(cert: &str, key: &str) -> Value {
    json!({"certificate_pem": cert, "private_key_pem": key})
}

/// The SHA-256 fingerprint of `pem`'s first certificate, as the server writes it.
pub fn fingerprint_of(pem: &str) -> String {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    logbook::system::tls::fingerprint(&CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
}

/// Connects to `url` with a new client that trusts `ca_pem` only; the fingerprint of the
/// certificate the server presented, or the connection error.
pub async fn presented(ca_pem: &str, url: &str) -> Result<String, String> {
    let res = trusting(ca_pem)
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    let info = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("TLS info");
    Ok(logbook::system::tls::fingerprint(
        info.peer_certificate().expect("a peer certificate"),
    ))
}

/// The generated CA, downloaded from the server as a phone does.
async fn generated_ca(app: &TestApp) -> String {
    let res = app.client.get(app.url("/tls/ca.crt")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

fn uploaded_files(app: &TestApp) -> [PathBuf; 2] {
    let dir = app.data_dir.join("tls");
    [dir.join("uploaded.crt"), dir.join("uploaded.key")]
}

/// The validation messages of a 422 for `field`.
fn messages_for(body: &Value, field: &str) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter(|e| e["field"] == field)
                .map(|e| e["message"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_uploaded_certificate_is_served_at_once_kept_across_a_restart_and_removed() {
    let mut app = TestApp::spawn_tls(|_| {}).await;
    let admin = app.a.admin.token.clone();
    let health = app.url("/health");
    let ca = generated_ca(&app).await;
    let generated = presented(&ca, &health)
        .await
        .expect("the generated CA works");
    let (status, settings) = app.get(&admin, "/api/v1/system/tls").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["mode"], "self-signed");
    assert_eq!(settings["active"]["source"], "generated");
    assert_eq!(settings["active"]["fingerprint"], generated.as_str());
    assert!(
        settings["active"]["ca_fingerprint"].is_string(),
        "{settings}"
    );
    assert!(settings["uploaded"].is_null(), "{settings}");
    assert_eq!(settings["can_upload"], true);

    let own = local_pki();
    assert!(
        presented(&own.ca_pem, &health).await.is_err(),
        "the department's CA trusted the generated certificate"
    );
    let b_before = app.audit_count(&app.b).await;
    let (status, body) = app
        .call(
            Method::PUT,
            &admin,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fingerprint = fingerprint_of(&own.cert_pem);
    assert_eq!(body["certificate"]["fingerprint"], fingerprint.as_str());
    assert_eq!(body["certificate"]["source"], "uploaded");
    assert_eq!(
        body["certificate"]["names"],
        json!(["localhost", "127.0.0.1"])
    );
    assert!(body["certificate"]["not_after"].is_string(), "{body}");
    assert_eq!(body["in_use"], true);

    // New connections get it, by name and by address, with no restart; the generated CA no
    // longer verifies the server.
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/health", app.addr.port());
        assert_eq!(presented(&own.ca_pem, &url).await, Ok(fingerprint.clone()));
    }
    assert!(presented(&ca, &health).await.is_err());
    let (_, settings) = app.get(&admin, "/api/v1/system/tls").await;
    assert_eq!(settings["active"]["fingerprint"], fingerprint.as_str());
    assert_eq!(
        settings["uploaded"]["certificate"]["fingerprint"],
        fingerprint.as_str()
    );
    assert!(settings["uploaded"]["problem"].is_null(), "{settings}");
    // The trust page shows it instead of the generated CA's instructions.
    let page = app
        .client
        .get(app.url("/tls"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(code_with_id(&page, "server-fingerprint"), fingerprint);
    assert!(!page.contains("ca-fingerprint"), "{page}");
    // The status page reports it too.
    let (_, status_page) = app.get(&admin, "/api/v1/system/status").await;
    assert_eq!(status_page["certificate"]["source"], "uploaded");
    assert_eq!(
        status_page["certificate"]["fingerprint_sha256"],
        fingerprint.as_str()
    );

    // Stored for this server only; audited in organization A alone, without the key.
    use std::os::unix::fs::PermissionsExt;
    for f in uploaded_files(&app) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
    }
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        1
    );
    assert_eq!(app.audit_count(&app.b).await, b_before);
    let changes: String = sqlx::query_scalar(
        "SELECT changes FROM audit_logs WHERE organization_id = ? AND action = ?",
    )
    .bind(app.a.id)
    .bind("tls.certificate_uploaded")
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(
        changes.contains(&fingerprint) && changes.contains("localhost"),
        "{changes}"
    );
    assert!(!changes.contains("PRIVATE KEY"), "{changes}");
    let (status, chain) = app.get(&admin, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chain["valid"], true, "{chain}");

    // Back to the generated certificate: the downloaded CA works again.
    let (status, body) = app.delete(&admin, "/api/v1/system/tls/uploaded").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"]["source"], "generated");
    assert!(body["uploaded"].is_null(), "{body}");
    assert_eq!(
        presented(&generated_ca(&app).await, &health).await,
        Ok(generated.clone())
    );
    assert!(presented(&own.ca_pem, &health).await.is_err());
    assert!(uploaded_files(&app).iter().all(|f| !f.exists()));
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        1
    );
    assert_eq!(app.audit_count(&app.b).await, b_before);
    // Nothing left to remove.
    let (status, body) = app.delete(&admin, "/api/v1/system/tls/uploaded").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        1
    );

    // Uploaded again, then a new server on the same data directory keeps serving it.
    let (status, body) = app
        .call(
            Method::PUT,
            &admin,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
    let dir = temp_dir();
    let restarted = TlsServer::start(&app.db, &app.data_dir, &dir).await;
    assert_eq!(
        presented(&own.ca_pem, &restarted.https_url("localhost", "/health")).await,
        Ok(fingerprint.clone())
    );
    // The generated CA is still offered, unchanged.
    assert_eq!(restarted.ca_pem().await, ca);
    assert_eq!(restarted.stop().await.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn refused_uploads_say_which_field_and_why_and_change_nothing() {
    let app = TestApp::spawn_tls(|_| {}).await;
    let admin = &app.a.admin.token;
    let health = app.url("/health");
    let ca = generated_ca(&app).await;
    let served = presented(&ca, &health).await.unwrap();
    let own = local_pki();
    let other = local_pki();
    let expired = pki(&["localhost"], -400, -10);
    let early = pki(&["localhost"], 3, 90);
    let before = app.snapshot(&app.a).await;

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "a key that is not the certificate's",
            upload_body(&own.cert_pem, &other.key_pem),
            "private_key",
            "does not belong to this certificate (the key and certificate do not match)",
        ),
        (
            "text that is not PEM",
            upload_body("my certificate", &own.key_pem),
            "certificate",
            "is not a PEM certificate (it should start with -----BEGIN CERTIFICATE-----)",
        ),
        (
            "a key that is not PEM",
            upload_body(&own.cert_pem, "my key"),
            "private_key",
            "is not a PEM private key",
        ),
        (
            "an empty certificate",
            upload_body("", &own.key_pem),
            "certificate",
            "is required",
        ),
        (
            "no key at all",
            json!({"certificate_pem": own.cert_pem}),
            "private_key",
            "is required",
        ),
        (
            "an expired certificate",
            upload_body(&expired.cert_pem, &expired.key_pem),
            "certificate",
            "expired on ",
        ),
        (
            "a certificate not valid yet",
            upload_body(&early.cert_pem, &early.key_pem),
            "certificate",
            "is not valid until ",
        ),
        (
            "the CA's certificate instead of the server's",
            upload_body(&own.ca_pem, &own.key_pem),
            "certificate",
            "is a certificate authority's certificate",
        ),
    ];
    for (what, body, field, message) in cases {
        let (status, answer) = app
            .call(Method::PUT, admin, "/api/v1/system/tls", Some(body))
            .await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        let got = messages_for(&answer, field);
        assert!(
            got.iter().any(|m| m.starts_with(message)),
            "{what}: {field} should say {message:?}: {answer}"
        );
    }
    // The expired one names its date.
    let (_, answer) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(upload_body(&expired.cert_pem, &expired.key_pem)),
        )
        .await;
    let day = (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%d");
    assert_eq!(
        messages_for(&answer, "certificate"),
        [format!("expired on {day}")]
    );
    // Both fields empty: both named. An unknown field is refused, not ignored.
    let (_, answer) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(upload_body("", " ")),
        )
        .await;
    assert_eq!(error_fields(&answer), ["certificate", "private_key"]);
    let (status, answer) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(json!({"certificate": own.cert_pem, "private_key_pem": own.key_pem})),
        )
        .await;
    assert!(status.is_client_error(), "{status} {answer}");

    // A good pair whose audit entry cannot be written is not installed either.
    sqlx::query(
        "CREATE TRIGGER audit_logs_refuse BEFORE INSERT ON audit_logs FOR EACH ROW \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log refuses entries'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (status, answer) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        )
        .await;
    assert_problem(status, &answer, StatusCode::INTERNAL_SERVER_ERROR);
    sqlx::query("DROP TRIGGER audit_logs_refuse")
        .execute(&app.db.pool)
        .await
        .unwrap();

    // Nothing stored, nothing audited, the same certificate served.
    assert!(uploaded_files(&app).iter().all(|f| !f.exists()));
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        0
    );
    assert_eq!(app.snapshot(&app.a).await, before);
    assert_eq!(presented(&ca, &health).await, Ok(served));
}

#[tokio::test]
async fn with_files_in_the_configuration_uploads_are_refused() {
    let own = local_pki();
    let files = temp_dir();
    let (cert, key) = (files.join("server.crt"), files.join("server.key"));
    std::fs::write(&cert, &own.cert_pem).unwrap();
    std::fs::write(&key, &own.key_pem).unwrap();
    let app = TestApp::spawn_tls(|c| {
        c.tls = logbook::config::TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        }
    })
    .await;
    let admin = &app.a.admin.token;
    let (status, settings) = app.get(admin, "/api/v1/system/tls").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["mode"], "files");
    assert_eq!(settings["can_upload"], false);
    assert_eq!(settings["active"]["source"], "files");
    assert_eq!(
        settings["active"]["fingerprint"],
        fingerprint_of(&own.cert_pem).as_str()
    );
    assert_eq!(
        settings["active"]["names"],
        json!(["localhost", "127.0.0.1"])
    );

    let other = local_pki();
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(upload_body(&other.cert_pem, &other.key_pem)),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("LOGBOOK_TLS_CERT"),
        "{body}"
    );
    let (status, body) = app.delete(admin, "/api/v1/system/tls/uploaded").await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(
        presented(&own.ca_pem, &app.url("/health")).await,
        Ok(fingerprint_of(&own.cert_pem))
    );
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        0
    );
    assert!(uploaded_files(&app).iter().all(|f| !f.exists()));

    // The page says where the certificate is set, and offers no upload.
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/https", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("LOGBOOK_TLS_CERT"), "{html}");
    assert!(!html.contains("name=\"private_key\""), "{html}");
    let _ = std::fs::remove_dir_all(&files);
}

#[tokio::test]
async fn with_https_off_an_upload_is_stored_for_when_it_is_on() {
    let app = TestApp::spawn_private().await;
    let admin = &app.a.admin.token;
    let own = local_pki();
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["in_use"], false);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("once HTTPS is turned on"),
        "{body}"
    );
    let (_, settings) = app.get(admin, "/api/v1/system/tls").await;
    assert_eq!(settings["mode"], "off");
    assert!(settings["active"].is_null(), "{settings}");
    let fingerprint = fingerprint_of(&own.cert_pem);
    assert_eq!(
        settings["uploaded"]["certificate"]["fingerprint"],
        fingerprint.as_str()
    );
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        1
    );

    // Turned on, the server serves it.
    let on = logbook::system::tls::load(&logbook::Config {
        tls: logbook::config::TlsMode::SelfSigned,
        ..test_config(&app.db.url, app.data_dir.clone())
    })
    .unwrap()
    .unwrap();
    assert_eq!(on.info().source, "uploaded");
    assert_eq!(on.info().fingerprint, fingerprint);
    assert!(
        on.ca_pem().is_some(),
        "the generated CA is made all the same"
    );

    let (status, body) = app.delete(admin, "/api/v1/system/tls/uploaded").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["active"].is_null() && body["uploaded"].is_null(),
        "{body}"
    );
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        1
    );

    // A stored pair that has expired since (put there by hand here) is reported, with the way
    // out, and can be removed.
    let expired = pki(&["localhost"], -400, -10);
    let [cert, key] = uploaded_files(&app);
    std::fs::create_dir_all(cert.parent().unwrap()).unwrap();
    std::fs::write(&cert, &expired.cert_pem).unwrap();
    std::fs::write(&key, &expired.key_pem).unwrap();
    let (_, settings) = app.get(admin, "/api/v1/system/tls").await;
    let problem = settings["uploaded"]["problem"].as_str().unwrap_or_default();
    assert!(
        problem.starts_with("the certificate expired on "),
        "{settings}"
    );
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (_, _, html) = app.page_get("/settings/https", &cookies).await;
    assert!(html.contains("Not usable"), "{html}");
    assert!(html.contains("The certificate expired on "), "{html}");
    assert!(html.contains("Remove the uploaded certificate"), "{html}");
    let (_, _, html) = app.page_get("/settings/https/remove", &cookies).await;
    assert!(html.contains("Remove the uploaded certificate?"), "{html}");
    let (status, location, _) = app.page_post("/settings/https/remove", &cookies, &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/settings/https?done=removed")
    );
    assert!(!cert.exists() && !key.exists());
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        2
    );
}

#[tokio::test]
async fn only_settings_managers_see_or_change_the_certificate() {
    let app = TestApp::spawn_private().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let own = local_pki();
    // An upload stored by the administrator, for the member to try to remove.
    let (status, _) = app
        .call(
            Method::PUT,
            &app.a.admin.token,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let cookies = app.page_sign_in("plain", PASSWORD).await;
    let before = app.snapshot(&app.a).await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/system/tls", None),
        (
            Method::PUT,
            "/api/v1/system/tls",
            Some(upload_body(&own.cert_pem, &own.key_pem)),
        ),
        (Method::DELETE, "/api/v1/system/tls/uploaded", None),
    ] {
        let (status, answer) = app
            .call(method.clone(), &plain.token, path, body.clone())
            .await;
        assert_problem(status, &answer, StatusCode::FORBIDDEN);
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .json(&body.unwrap_or(Value::Null))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(uploaded_files(&app).iter().all(|f| f.exists()));

    for path in ["/settings/https", "/settings/https/remove"] {
        let (status, _, _) = app.page_get(path, &cookies).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, location, _) = app.page_get(path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert!(location.starts_with("/login?next="), "{location}");
    }
    let form = [
        ("certificate", own.cert_pem.as_str()),
        ("private_key", own.key_pem.as_str()),
    ];
    let (status, _, _) = app.page_post("/settings/https", &cookies, &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app.page_post("/settings/https/remove", &cookies, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(uploaded_files(&app).iter().all(|f| f.exists()));
    // The settings navigation shows the page to those who may use it.
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (_, _, html) = app.page_get("/settings/status", &admin).await;
    assert!(html.contains("href=\"/settings/https\""), "{html}");
}

#[tokio::test]
async fn the_https_page_uploads_shows_refusals_beside_the_field_and_goes_back_after_asking() {
    let app = TestApp::spawn_tls(|_| {}).await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let generated = app.state.tls.as_ref().unwrap().info();
    let (status, _, html) = app.page_get("/settings/https", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    for want in [
        "Made by this server",
        generated.fingerprint.as_str(),
        "href=\"/tls\"",
        "name=\"certificate\"",
        "name=\"private_key\"",
    ] {
        assert!(html.contains(want), "{want} missing: {html}");
    }
    assert!(
        !html.contains("/settings/https/remove"),
        "nothing to remove yet"
    );

    // A key that is not the certificate's: the reason beside the key, the certificate kept in
    // its field, the key not sent back, nothing changed.
    let own = local_pki();
    let other = local_pki();
    let (status, _, html) = app
        .page_post(
            "/settings/https",
            &cookies,
            &[
                ("certificate", own.cert_pem.as_str()),
                ("private_key", other.key_pem.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(
            "<p class=\"field-error\" id=\"private_key-error\">Private key does not belong to \
             this certificate (the key and certificate do not match).</p>"
        ),
        "{html}"
    );
    assert!(html.contains("aria-describedby=\"private_key-hint private_key-error\""));
    let cert_body = own.cert_pem.lines().nth(1).unwrap();
    let key_body = other.key_pem.lines().nth(1).unwrap();
    assert!(
        html.contains(cert_body),
        "the certificate is kept in its field"
    );
    assert!(!html.contains(key_body), "the key is never sent back");
    assert_eq!(app.state.tls.as_ref().unwrap().info(), generated);

    // An empty form: both fields say so.
    let (status, _, html) = app.page_post("/settings/https", &cookies, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Certificate is required."), "{html}");
    assert!(html.contains("Private key is required."), "{html}");
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        0
    );

    // The right pair: in use at once.
    let (status, location, _) = app
        .page_post(
            "/settings/https",
            &cookies,
            &[
                ("certificate", own.cert_pem.as_str()),
                ("private_key", own.key_pem.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/https?done=uploaded");
    let fingerprint = fingerprint_of(&own.cert_pem);
    assert_eq!(
        presented(&own.ca_pem, &app.url("/health")).await,
        Ok(fingerprint.clone())
    );
    let (_, _, html) = app.page_get(&location, &cookies).await;
    for want in [
        "Certificate uploaded. New connections get it now",
        "Uploaded by an administrator",
        fingerprint.as_str(),
        "localhost, 127.0.0.1",
        "href=\"/settings/https/remove\"",
    ] {
        assert!(html.contains(want), "{want} missing: {html}");
    }
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_uploaded").await,
        1
    );

    // Going back asks first; the answer is a form, not a link that acts.
    let (status, _, html) = app.page_get("/settings/https/remove", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Go back to the generated certificate?"),
        "{html}"
    );
    assert!(html.contains(&fingerprint));
    assert_eq!(
        app.state.tls.as_ref().unwrap().info().fingerprint,
        fingerprint
    );
    let (status, location, _) = app.page_post("/settings/https/remove", &cookies, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/https?done=removed");
    assert_eq!(app.state.tls.as_ref().unwrap().info(), generated);
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("own certificate is in use again."), "{html}");
    assert!(html.contains("Made by this server"), "{html}");
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        1
    );
    // A second click finds nothing to remove and lands back on the page.
    let (status, location, _) = app.page_post("/settings/https/remove", &cookies, &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/settings/https")
    );
    assert_eq!(
        app.audit_actions(&app.a, "tls.certificate_removed").await,
        1
    );
}
