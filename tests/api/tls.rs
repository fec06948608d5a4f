//! HTTPS on the LAN, through the `logbook` binary: the self-signed CA a client can download over
//! plain HTTP and then trust, the HTTP port's redirects, a mismatched certificate/key pair refused
//! at start, and the CA kept across restarts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

/// A server started with `LOGBOOK_TLS=self-signed` on free ports.
struct TlsServer {
    child: tokio::process::Child,
    http: u16,
    https: u16,
}

impl TlsServer {
    async fn start(db: &TestDb, data: &Path, dir: &Path) -> TlsServer {
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

    fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https)
    }

    /// The CA certificate, fetched over plain HTTP as a phone would.
    async fn ca_pem(&self) -> String {
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
    async fn stop(mut self) -> std::process::ExitStatus {
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

/// A client whose only root is `ca_pem`.
fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
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
    let other = logbook::tls::load(&logbook::Config {
        tls: logbook::config::TlsMode::SelfSigned,
        ..test_config(&db.url, other_dir.clone())
    })
    .unwrap()
    .unwrap();
    let wrong = trusting(other.ca_pem.as_deref().unwrap());
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
    logbook::tls::load(&logbook::Config {
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
    let ok = logbook::tls::from_files(&cert, &made.join("tls/server.key")).unwrap();
    assert!(!ok.info().fingerprint.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
