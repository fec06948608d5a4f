//! HTTPS on the LAN: the certificate the server presents (its own CA and server certificate, made
//! with rcgen and kept in `<data_dir>/tls/`, or the administrator's PEM files), the rustls server
//! configuration, and the pages that let phones and PCs trust the CA (`/tls`, `/tls/ca.crt`).
//! ring is the only crypto provider.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::app::AppState;
use crate::config::{Config, TlsMode};

/// The generated CA lives this long; phones trust it once.
const CA_DAYS: i64 = 3650;
/// Browsers refuse server certificates valid for more than 398 days.
const SERVER_DAYS: i64 = 397;
/// A server certificate expiring sooner than this is renewed at start.
const RENEW_DAYS: i64 = 30;
const CA_NAME: &str = "Logbook local CA";

/// What the server presents, and what the `/tls` page shows.
pub struct TlsMaterial {
    pub mode: &'static str,
    pub server_config: Arc<rustls::ServerConfig>,
    /// The generated CA, PEM (self-signed mode only).
    pub ca_pem: Option<String>,
    pub ca_fingerprint: Option<String>,
    pub server_fingerprint: String,
    /// When the generated server certificate expires (self-signed mode only).
    pub server_not_after: Option<OffsetDateTime>,
    /// The names the generated server certificate carries.
    pub names: Vec<String>,
}

/// Installs ring as the process's rustls provider (once; later calls do nothing).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads (making or renewing it if needed) the certificate for `config.tls`; None when it is off.
pub fn load(config: &Config) -> anyhow::Result<Option<TlsMaterial>> {
    install_provider();
    match &config.tls {
        TlsMode::Off => Ok(None),
        TlsMode::SelfSigned => {
            let names = certificate_names(
                &crate::config::host_name(),
                crate::system::status::lan_addresses()
                    .into_iter()
                    .map(|a| a.address),
            );
            self_signed(
                &config.data_dir.join("tls"),
                &names,
                OffsetDateTime::now_utc(),
            )
            .map(Some)
        }
        TlsMode::Files { cert, key } => from_files(cert, key).map(Some),
    }
}

/// The names the generated certificate carries: the host name, `<host>.local`, `localhost`, the
/// loopback addresses and the machine's LAN addresses; sorted, without duplicates.
pub fn certificate_names(host: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if !host.is_empty() && host != "localhost" {
        names.push(host.clone());
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
    }
    names.push("127.0.0.1".into());
    names.push("::1".into());
    names.extend(addresses.into_iter().map(|a| a.to_string()));
    names.sort();
    names.dedup();
    names
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ca_params(now: OffsetDateTime) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "Logbook");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_DAYS);
    Ok(params)
}

/// The CA and server certificate in `dir` (`ca.crt`, `ca.key`, `server.crt`, `server.key`,
/// `server.meta`): made on first start, the server certificate renewed when it expires within
/// `RENEW_DAYS` or no longer names `names`. The CA is kept as long as its files are there.
fn self_signed(dir: &Path, names: &[String], now: OffsetDateTime) -> anyhow::Result<TlsMaterial> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ca_crt = dir.join("ca.crt");
    let ca_key = dir.join("ca.key");
    let (ca_pem, ca_key_pair) = match (
        std::fs::read_to_string(&ca_crt),
        std::fs::read_to_string(&ca_key),
    ) {
        (Ok(pem), Ok(key)) => {
            let key = KeyPair::from_pem(&key)
                .with_context(|| format!("{} is not a PEM private key", ca_key.display()))?;
            (pem, key)
        }
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params(now)?.self_signed(&key)?;
            write_private(&ca_key, &key.serialize_pem())?;
            write_private(&ca_crt, &cert.pem())?;
            // A new CA invalidates the old server certificate.
            let _ = std::fs::remove_file(dir.join("server.meta"));
            tracing::info!(path = %ca_crt.display(), "generated a new local certificate authority");
            (cert.pem(), key)
        }
    };
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .with_context(|| format!("{} is not a PEM certificate", ca_crt.display()))?;

    let server_crt = dir.join("server.crt");
    let server_key = dir.join("server.key");
    let meta_path = dir.join("server.meta");
    let current = std::fs::read_to_string(&meta_path)
        .ok()
        .and_then(|m| Meta::parse(&m))
        .filter(|m| m.names == names && m.not_after - Duration::days(RENEW_DAYS) > now)
        .filter(|_| server_crt.exists() && server_key.exists());
    let not_after = match current {
        Some(meta) => meta.not_after,
        None => {
            let mut params = CertificateParams::new(names.to_vec())?;
            let mut dn = DistinguishedName::new();
            dn.push(
                DnType::CommonName,
                names
                    .iter()
                    .find(|n| n.ends_with(".local"))
                    .unwrap_or(&names[0])
                    .as_str(),
            );
            params.distinguished_name = dn;
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(SERVER_DAYS);
            let key = KeyPair::generate()?;
            let issuer = Issuer::new(ca_params(now)?, &ca_key_pair);
            let cert = params.signed_by(&key, &issuer)?;
            write_private(&server_key, &key.serialize_pem())?;
            write_private(&server_crt, &cert.pem())?;
            let meta = Meta {
                not_after: params.not_after,
                names: names.to_vec(),
            };
            write_private(&meta_path, &meta.render())?;
            tracing::info!(names = ?names, "issued a new server certificate");
            params.not_after
        }
    };
    let mut material = from_files(&server_crt, &server_key)?;
    material.mode = "self-signed";
    material.ca_fingerprint = Some(fingerprint(&ca_der));
    material.ca_pem = Some(ca_pem);
    material.server_not_after = Some(not_after);
    material.names = names.to_vec();
    Ok(material)
}

/// What the server certificate was made for (so a start can tell whether to renew it without
/// parsing X.509): its expiry (Unix seconds) on the first line, then one name a line.
struct Meta {
    not_after: OffsetDateTime,
    names: Vec<String>,
}

impl Meta {
    fn parse(text: &str) -> Option<Meta> {
        let mut lines = text.lines();
        let secs: i64 = lines.next()?.trim().parse().ok()?;
        Some(Meta {
            not_after: OffsetDateTime::from_unix_timestamp(secs).ok()?,
            names: lines.map(str::to_string).collect(),
        })
    }

    fn render(&self) -> String {
        let mut out = format!("{}\n", self.not_after.unix_timestamp());
        for n in &self.names {
            out.push_str(n);
            out.push('\n');
        }
        out
    }
}

/// A PEM certificate chain and its key: refused unless the key is the certificate's.
pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<TlsMaterial> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no PEM certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{} is not a PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = rustls::sign::CertifiedKey::from_der(chain.clone(), key_der, &provider)
        .map_err(|e| {
            anyhow::anyhow!(
                "the TLS key {} does not match the certificate {} ({e}); give the key that \
                 belongs to that certificate",
                key.display(),
                cert.display()
            )
        })?;
    let server_fingerprint = fingerprint(&chain[0]);
    let resolver = Arc::new(rustls::sign::SingleCertAndKey::from(certified));
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        mode: "files",
        server_config: Arc::new(server_config),
        ca_pem: None,
        ca_fingerprint: None,
        server_fingerprint,
        server_not_after: None,
        names: Vec::new(),
    })
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `/tls` and `/tls/ca.crt`: public, over HTTP too (a phone fetches the CA before trusting it).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tls", get(page))
        .route("/tls/ca.crt", get(ca_certificate))
}

async fn ca_certificate(State(state): State<AppState>) -> Response {
    match state.tls.as_ref().and_then(|t| t.ca_pem.clone()) {
        Some(pem) => (
            [
                (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"logbook-ca.crt\"",
                ),
            ],
            pem,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "This server does not use its own certificate authority.\n",
        )
            .into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(state): State<AppState>) -> Html<String> {
    let mut body = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Trust this server · Logbook</title></head><body><main>\
         <h1>Trust this server's certificate</h1>",
    );
    match state.tls.as_deref() {
        None => body.push_str(
            "<p>This server speaks plain HTTP (HTTPS is off in its configuration, for example \
             because a proxy in front of it handles HTTPS). There is nothing to install.</p>",
        ),
        Some(tls) => {
            if let (Some(ca), Some(_)) = (&tls.ca_fingerprint, &tls.ca_pem) {
                body.push_str(&format!(
                    "<p>This server makes its own certificates. Install its certificate \
                     authority (CA) once on each device, and browsers will trust it without \
                     warnings.</p>\
                     <p><a href=\"/tls/ca.crt\" download=\"logbook-ca.crt\">Download the CA \
                     certificate (logbook-ca.crt)</a></p>\
                     <p>Before trusting it, check that the fingerprint your device shows \
                     matches:</p>\
                     <dl><dt>CA SHA-256 fingerprint</dt><dd><code id=\"ca-fingerprint\">{}</code></dd>\
                     <dt>Server certificate SHA-256 fingerprint</dt>\
                     <dd><code id=\"server-fingerprint\">{}</code></dd>",
                    escape(ca),
                    escape(&tls.server_fingerprint)
                ));
                if let Some(not_after) = tls.server_not_after {
                    body.push_str(&format!(
                        "<dt>Server certificate valid until</dt><dd>{} (renewed automatically)</dd>",
                        not_after.date()
                    ));
                }
                if !tls.names.is_empty() {
                    body.push_str(&format!(
                        "<dt>Names it is valid for</dt><dd>{}</dd>",
                        escape(&tls.names.join(", "))
                    ));
                }
                body.push_str(
                    "</dl>\
                     <h2>iPhone and iPad</h2><ol>\
                     <li>Open this page in Safari and tap the download link; allow the profile \
                     download.</li>\
                     <li>Settings → General → VPN &amp; Device Management (or Settings → \
                     Profile Downloaded) → the Logbook profile → Install.</li>\
                     <li>Settings → General → About → Certificate Trust Settings → turn on full \
                     trust for “Logbook local CA”.</li></ol>\
                     <h2>Android</h2><ol>\
                     <li>Download the certificate.</li>\
                     <li>Settings → Security (or Security &amp; privacy → More security settings) → \
                     Encryption &amp; credentials → Install a certificate → CA certificate; pick \
                     logbook-ca.crt and confirm.</li></ol>\
                     <h2>Windows</h2><ol>\
                     <li>Download the certificate and open it → Install Certificate → Current User \
                     (or Local Machine) → Place all certificates in the following store → \
                     Trusted Root Certification Authorities → Finish.</li>\
                     <li>Restart the browser. (Firefox: Settings → Privacy &amp; Security → \
                     Certificates → View Certificates → Authorities → Import.)</li></ol>\
                     <h2>macOS</h2><ol>\
                     <li>Download the certificate and open it: Keychain Access adds it to the \
                     login keychain.</li>\
                     <li>Double-click “Logbook local CA” → Trust → When using this certificate: \
                     Always Trust.</li></ol>\
                     <h2>Linux</h2><ol>\
                     <li>Debian/Ubuntu: <code>sudo cp logbook-ca.crt \
                     /usr/local/share/ca-certificates/ &amp;&amp; sudo update-ca-certificates</code>.</li>\
                     <li>Fedora: <code>sudo cp logbook-ca.crt /etc/pki/ca-trust/source/anchors/ \
                     &amp;&amp; sudo update-ca-trust</code>.</li>\
                     <li>Firefox and Chromium keep their own list: import it under Settings → \
                     Certificates → Authorities.</li></ol>",
                );
            } else {
                body.push_str(&format!(
                    "<p>This server uses a certificate its administrator installed; devices that \
                     trust its issuer need nothing more.</p>\
                     <dl><dt>Server certificate SHA-256 fingerprint</dt>\
                     <dd><code id=\"server-fingerprint\">{}</code></dd></dl>",
                    escape(&tls.server_fingerprint)
                ));
            }
        }
    }
    body.push_str("</main></body></html>");
    Html(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "logbook-tls-{name}-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names() -> Vec<String> {
        certificate_names("station", ["192.168.1.20".parse().unwrap()])
    }

    #[test]
    fn names_cover_host_local_localhost_and_addresses() {
        let n = names();
        for want in [
            "station",
            "station.local",
            "localhost",
            "127.0.0.1",
            "::1",
            "192.168.1.20",
        ] {
            assert!(n.contains(&want.to_string()), "{want} missing from {n:?}");
        }
    }

    #[test]
    fn generated_files_are_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        install_provider();
        let dir = temp_dir("reuse");
        let now = OffsetDateTime::now_utc();
        let first = self_signed(&dir, &names(), now).unwrap();
        for f in [
            "ca.crt",
            "ca.key",
            "server.crt",
            "server.key",
            "server.meta",
        ] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let again = self_signed(&dir, &names(), now).unwrap();
        assert_eq!(first.ca_fingerprint, again.ca_fingerprint);
        assert_eq!(first.server_fingerprint, again.server_fingerprint);
        // New names: a new server certificate from the same CA.
        let more = certificate_names("station", ["10.0.0.5".parse().unwrap()]);
        let renamed = self_signed(&dir, &more, now).unwrap();
        assert_eq!(first.ca_fingerprint, renamed.ca_fingerprint);
        assert_ne!(first.server_fingerprint, renamed.server_fingerprint);
        // Near expiry: renewed.
        let later = now + Duration::days(SERVER_DAYS - RENEW_DAYS + 1);
        let renewed = self_signed(&dir, &more, later).unwrap();
        assert_eq!(first.ca_fingerprint, renewed.ca_fingerprint);
        assert_ne!(renamed.server_fingerprint, renewed.server_fingerprint);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn mismatched_files_are_refused_naming_both() {
        install_provider();
        let a = temp_dir("a");
        let b = temp_dir("b");
        let now = OffsetDateTime::now_utc();
        self_signed(&a, &names(), now).unwrap();
        self_signed(&b, &names(), now).unwrap();
        let ok = from_files(&a.join("server.crt"), &a.join("server.key")).unwrap();
        assert_eq!(ok.mode, "files");
        let err = from_files(&a.join("server.crt"), &b.join("server.key"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&a.join("server.crt").display().to_string())
                && err.contains(&b.join("server.key").display().to_string())
                && err.contains("does not match"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }
}
