//! HTTPS on the LAN: the certificate the server presents (its own CA and server certificate, made
//! with rcgen and kept in `<data_dir>/tls/`, one an administrator uploaded, or the administrator's
//! PEM files named in the configuration), the rustls server configuration, and the pages that let
//! phones and PCs trust the CA (`/tls`, `/tls/ca.crt`). ring is the only crypto provider.
//!
//! The certificate is chosen at each handshake (`LiveCertificate`), so an uploaded one is used by
//! new connections at once, without a restart. `inspect_pair`, `install_uploaded`,
//! `store_uploaded` and `remove_uploaded` are what the settings page, the API and the setup
//! wizard call; they check a pair before anything is stored.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::config::{Config, TlsMode};
use crate::error::{AppError, AppResult, FieldError};

/// The generated CA lives this long; phones trust it once.
const CA_DAYS: i64 = 3650;
/// Browsers refuse server certificates valid for more than 398 days.
const SERVER_DAYS: i64 = 397;
/// A server certificate expiring sooner than this is renewed at start.
const RENEW_DAYS: i64 = 30;
const CA_NAME: &str = "Logbook local CA";

/// An uploaded certificate (chain) and its key, in `<data_dir>/tls/`.
const UPLOADED_CERT: &str = "uploaded.crt";
const UPLOADED_KEY: &str = "uploaded.key";
/// The most a pasted certificate chain or key may hold (a chain of a few certificates is
/// under 10 KiB).
pub const PEM_LIMIT: usize = 64 * 1024;
/// Resumable TLS sessions kept (rustls's default).
const SESSIONS: usize = 256;

const NOT_PEM_CERTIFICATE: &str =
    "is not a PEM certificate (it should start with -----BEGIN CERTIFICATE-----)";
const NOT_PEM_KEY: &str = "is not a PEM private key (it should start with -----BEGIN PRIVATE KEY----- or, for an older \
     key, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)";
const KEY_MISMATCH: &str =
    "does not belong to this certificate (the key and certificate do not match)";

/// A certificate as the pages, the API and the audit log describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CertificateInfo {
    /// `generated` (made by this server), `uploaded` (by an administrator) or `files` (named in
    /// the configuration).
    pub source: &'static str,
    /// SHA-256 of the server certificate, `AA:BB:…`, to compare with what a browser shows.
    pub fingerprint: String,
    /// The host names and addresses it is valid for (its DNS and IP subject alternative names).
    pub names: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// The fingerprint of the CA that issued it: the generated certificate only.
    pub ca_fingerprint: Option<String>,
}

/// A certificate ready to serve: the chain and signing key rustls uses, and its description.
#[derive(Debug, Clone)]
struct Served {
    key: Arc<CertifiedKey>,
    info: CertificateInfo,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Gives rustls the current certificate at each handshake: a swap takes effect for the next
/// connection; connections already open keep the one they started with.
#[derive(Debug)]
struct LiveCertificate(RwLock<Served>);

impl ResolvesServerCert for LiveCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(read(&self.0).key.clone())
    }
}

/// The server's resumable sessions, dropped when the certificate changes: a resumed session
/// skips the certificate, so a browser would go on seeing the old one.
#[derive(Debug)]
struct Sessions(RwLock<Arc<ServerSessionMemoryCache>>);

impl Sessions {
    fn new() -> Self {
        Sessions(RwLock::new(ServerSessionMemoryCache::new(SESSIONS)))
    }

    fn forget_all(&self) {
        *write(&self.0) = ServerSessionMemoryCache::new(SESSIONS);
    }
}

impl StoresServerSessions for Sessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        read(&self.0).put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.0).get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.0).take(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// What the server presents, and what the `/tls` page shows.
pub struct TlsMaterial {
    /// `self-signed` or `files` (the configuration's `tls`).
    pub mode: &'static str,
    pub server_config: Arc<rustls::ServerConfig>,
    live: Arc<LiveCertificate>,
    sessions: Arc<Sessions>,
    /// The CA and the generated certificate; replaced together when a restore brings back
    /// another server's (`reload`).
    authority: RwLock<Authority>,
}

struct Authority {
    /// The generated CA, PEM (self-signed mode only; offered at `/tls/ca.crt` whichever
    /// certificate is served).
    ca_pem: Option<String>,
    ca_fingerprint: Option<String>,
    /// The generated server certificate (self-signed mode): what removing an upload goes back to.
    generated: Option<Served>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("mode", &self.mode)
            .field("serving", &self.info())
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    fn new(
        mode: &'static str,
        serving: Served,
        generated: Option<Served>,
        ca_pem: Option<String>,
    ) -> anyhow::Result<TlsMaterial> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let live = Arc::new(LiveCertificate(RwLock::new(serving)));
        let sessions = Arc::new(Sessions::new());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(live.clone());
        server_config.session_storage = sessions.clone();
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let ca_fingerprint = ca_pem
            .as_deref()
            .and_then(|pem| CertificateDer::from_pem_slice(pem.as_bytes()).ok())
            .map(|der| fingerprint(&der));
        Ok(TlsMaterial {
            mode,
            server_config: Arc::new(server_config),
            live,
            sessions,
            authority: RwLock::new(Authority {
                ca_pem,
                ca_fingerprint,
                generated,
            }),
        })
    }

    /// The generated CA, PEM (self-signed mode only).
    pub fn ca_pem(&self) -> Option<String> {
        read(&self.authority).ca_pem.clone()
    }

    pub fn ca_fingerprint(&self) -> Option<String> {
        read(&self.authority).ca_fingerprint.clone()
    }

    /// Loads the certificate material from the data directory again (after a restore wrote back
    /// another server's CA, certificate or upload) and serves it from the next handshake on.
    /// With `tls = "files"` the configuration names the files and nothing changes.
    pub fn reload(&self, config: &Config) -> anyhow::Result<()> {
        if self.mode == "files" {
            return Ok(());
        }
        let Some(fresh) = load(config)? else {
            return Ok(());
        };
        self.take_from(&fresh);
        Ok(())
    }

    /// Serves what `fresh` serves, with its CA and generated certificate, from the next
    /// handshake on.
    fn take_from(&self, fresh: &TlsMaterial) {
        let served = read(&fresh.live.0).clone();
        let authority = std::mem::replace(
            &mut *write(&fresh.authority),
            Authority {
                ca_pem: None,
                ca_fingerprint: None,
                generated: None,
            },
        );
        *write(&self.authority) = authority;
        tracing::info!(fingerprint = %served.info.fingerprint, "serving the restored certificate");
        self.swap(served);
    }

    /// The certificate new connections get.
    pub fn info(&self) -> CertificateInfo {
        read(&self.live.0).info.clone()
    }

    /// The certificate this server made for itself (self-signed mode), served or not.
    pub fn generated_info(&self) -> Option<CertificateInfo> {
        read(&self.authority)
            .generated
            .as_ref()
            .map(|g| g.info.clone())
    }

    /// Serves `next` from the next handshake on.
    fn swap(&self, next: Served) {
        *write(&self.live.0) = next;
        self.sessions.forget_all();
    }

    fn refuse_files_mode(&self) -> AppResult<()> {
        if self.mode == "files" {
            return Err(AppError::Conflict(
                "the certificate is set in the configuration file (tls = \"files\"); change \
                 LOGBOOK_TLS_CERT/LOGBOOK_TLS_KEY (tls_cert/tls_key) there"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Installs ring as the process's rustls provider (once; later calls do nothing).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads (making or renewing it if needed) the certificate for `config.tls`; None when it is off.
/// In self-signed mode a stored upload (`<data_dir>/tls/uploaded.crt` and `.key`) is served when
/// it is still good; otherwise the generated certificate is, with a warning in the log.
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
/// `RENEW_DAYS` or no longer names `names`. The CA is kept as long as its files are there. A
/// stored upload in `dir` that is good at `now` is served instead of the generated certificate.
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
            crate::files::write_private(&ca_key, key.serialize_pem().as_bytes())?;
            crate::files::write_private(&ca_crt, cert.pem().as_bytes())?;
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
    if current.is_none() {
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
        crate::files::write_private(&server_key, key.serialize_pem().as_bytes())?;
        crate::files::write_private(&server_crt, cert.pem().as_bytes())?;
        let meta = Meta {
            not_after: params.not_after,
            names: names.to_vec(),
        };
        crate::files::write_private(&meta_path, meta.render().as_bytes())?;
        tracing::info!(names = ?names, "issued a new server certificate");
    }
    let mut generated = served_from_files(&server_crt, &server_key, "generated")?;
    generated.info.ca_fingerprint = Some(fingerprint(&ca_der));
    let uploaded = DateTime::from_timestamp(now.unix_timestamp(), 0)
        .and_then(|now| uploaded_at_start(dir, now));
    TlsMaterial::new(
        "self-signed",
        uploaded.unwrap_or_else(|| generated.clone()),
        Some(generated),
        Some(ca_pem),
    )
}

/// The stored upload in `dir` if it is good at `now`. One that is not (expired, damaged, half
/// written) is left where it is for the administrator to replace or remove, with a warning.
fn uploaded_at_start(dir: &Path, now: DateTime<Utc>) -> Option<Served> {
    let (cert, key) = (dir.join(UPLOADED_CERT), dir.join(UPLOADED_KEY));
    if !cert.exists() && !key.exists() {
        return None;
    }
    let checked = match (
        std::fs::read_to_string(&cert),
        std::fs::read_to_string(&key),
    ) {
        (Ok(c), Ok(k)) => check_pair(&c, &k, now).map_err(|e| problem_text(&e)),
        (Err(e), _) => Err(format!("cannot read {}: {e}", cert.display())),
        (_, Err(e)) => Err(format!("cannot read {}: {e}", key.display())),
    };
    match checked {
        Ok(served) => {
            tracing::info!(fingerprint = %served.info.fingerprint, "serving the uploaded certificate");
            Some(served)
        }
        Err(problem) => {
            tracing::warn!(
                path = %cert.display(),
                "not using the uploaded certificate: {problem}; serving the generated one"
            );
            None
        }
    }
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
    let served = served_from_files(cert, key, "files")?;
    if let Some(end) = served.info.not_after
        && end < Utc::now()
    {
        tracing::warn!(path = %cert.display(), "the configured TLS certificate expired on {}", end.date_naive());
    }
    TlsMaterial::new("files", served, None, None)
}

fn served_from_files(cert: &Path, key: &Path, source: &'static str) -> anyhow::Result<Served> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no PEM certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{} is not a PEM private key", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key_der, &provider).map_err(|e| {
        anyhow::anyhow!(
            "the TLS key {} does not match the certificate {} ({e}); give the key that \
             belongs to that certificate",
            key.display(),
            cert.display()
        )
    })?;
    // The names and dates are for people; a certificate rustls takes but this parser does not
    // is still served, shown without them.
    let info = describe(source, &certified.cert[0]);
    Ok(Served {
        key: Arc::new(certified),
        info,
    })
}

/// What an X.509 certificate says about itself, as far as the pages and the checks need.
struct Parsed {
    names: Vec<String>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    is_ca: bool,
    /// False when its extended key usage leaves out TLS servers.
    for_servers: bool,
}

fn parse_x509(der: &[u8]) -> Option<Parsed> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(dns.to_string()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    let for_servers = match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value.server_auth || eku.value.any,
        Ok(None) => true,
        Err(_) => false,
    };
    Some(Parsed {
        names,
        not_before: DateTime::from_timestamp(validity.not_before.timestamp(), 0)?,
        not_after: DateTime::from_timestamp(validity.not_after.timestamp(), 0)?,
        is_ca: cert.is_ca(),
        for_servers,
    })
}

/// The description of a server certificate (`der`, the first of its chain).
fn describe(source: &'static str, der: &[u8]) -> CertificateInfo {
    let parsed = parse_x509(der);
    CertificateInfo {
        source,
        fingerprint: fingerprint(der),
        names: parsed.as_ref().map(|p| p.names.clone()).unwrap_or_default(),
        not_before: parsed.as_ref().map(|p| p.not_before),
        not_after: parsed.as_ref().map(|p| p.not_after),
        ca_fingerprint: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Uploaded certificates

/// Checks an uploaded certificate (chain, server certificate first) and private key without
/// storing anything: both PEM, the key the certificate's, the certificate valid now and made for
/// a web server with names. Refusals are field errors on `certificate` and `private_key`.
pub fn inspect_pair(cert_pem: &str, key_pem: &str) -> AppResult<CertificateInfo> {
    check_pair(cert_pem, key_pem, Utc::now()).map(|s| s.info)
}

/// Checks the pair (`inspect_pair`), stores it in `<data_dir>/tls/` and serves it to new
/// connections at once. Refused (409) when the configuration names the certificate files.
pub fn install_uploaded(
    material: &TlsMaterial,
    data_dir: &Path,
    cert_pem: &str,
    key_pem: &str,
) -> AppResult<CertificateInfo> {
    material.refuse_files_mode()?;
    let served = check_pair(cert_pem, key_pem, Utc::now())?;
    let _files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    write_uploaded(data_dir, Some(cert_pem), Some(key_pem))?;
    let info = served.info.clone();
    material.swap(served);
    tracing::info!(fingerprint = %info.fingerprint, names = ?info.names, "serving an uploaded certificate");
    Ok(info)
}

/// Checks the pair and stores it, for a server whose HTTPS is off: it is served once HTTPS is
/// turned on (`tls = "self-signed"`).
pub fn store_uploaded(
    data_dir: &Path,
    cert_pem: &str,
    key_pem: &str,
) -> AppResult<CertificateInfo> {
    let served = check_pair(cert_pem, key_pem, Utc::now())?;
    let _files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    write_uploaded(data_dir, Some(cert_pem), Some(key_pem))?;
    Ok(served.info)
}

/// Deletes a stored upload (if there is one) and goes back to the generated certificate for new
/// connections. Returns the certificate now served (None while HTTPS is off). Refused (409)
/// when the configuration names the certificate files.
pub fn remove_uploaded(
    material: Option<&TlsMaterial>,
    data_dir: &Path,
) -> AppResult<Option<CertificateInfo>> {
    if let Some(m) = material {
        m.refuse_files_mode()?;
    }
    let _files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    write_uploaded(data_dir, None, None)?;
    if let Some(m) = material
        && let Some(generated) = read(&m.authority).generated.clone()
    {
        m.swap(generated);
        tracing::info!("serving the generated certificate again");
    }
    Ok(material.map(TlsMaterial::info))
}

/// A stored upload, as the settings page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredCertificate {
    /// What the stored certificate says (null when it cannot be read at all).
    pub certificate: Option<CertificateInfo>,
    /// Why it is not used, in words ("the certificate expired on 2026-03-01"); null when it is
    /// good.
    pub problem: Option<String>,
}

/// The upload stored in `<data_dir>/tls/`, if any, checked as of now.
pub fn read_uploaded(data_dir: &Path) -> Option<StoredCertificate> {
    let dir = data_dir.join("tls");
    let cert = std::fs::read_to_string(dir.join(UPLOADED_CERT));
    let key = std::fs::read_to_string(dir.join(UPLOADED_KEY));
    if cert.is_err() && key.is_err() {
        return None;
    }
    let described = cert.as_ref().ok().and_then(|pem| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .map(|der| describe("uploaded", &der))
    });
    let problem = match (&cert, &key) {
        (Ok(c), Ok(k)) => check_pair(c, k, Utc::now()).err().map(|e| problem_text(&e)),
        (Err(_), _) => Some("the certificate file is missing".into()),
        (_, Err(_)) => Some("the private key file is missing".into()),
    };
    Some(StoredCertificate {
        certificate: described,
        problem,
    })
}

/// What a change to the uploaded certificate replaces, so that `restore` can put it back when
/// the change cannot be recorded (the audit entry did not commit).
pub struct Snapshot {
    cert: Option<String>,
    key: Option<String>,
    served: Option<Served>,
}

pub fn snapshot(material: Option<&TlsMaterial>, data_dir: &Path) -> AppResult<Snapshot> {
    let dir = data_dir.join("tls");
    let read_file = |name: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::Internal(
            anyhow::Error::new(e).context(format!("cannot read {}", dir.join(name).display())),
        )),
    };
    Ok(Snapshot {
        cert: read_file(UPLOADED_CERT)?,
        key: read_file(UPLOADED_KEY)?,
        served: material.map(|m| read(&m.live.0).clone()),
    })
}

/// Puts back the stored files and the served certificate `snapshot` saw.
pub fn restore(
    material: Option<&TlsMaterial>,
    data_dir: &Path,
    snapshot: Snapshot,
) -> AppResult<()> {
    let _files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    write_uploaded(data_dir, snapshot.cert.as_deref(), snapshot.key.as_deref())?;
    if let (Some(m), Some(served)) = (material, snapshot.served) {
        m.swap(served);
    }
    Ok(())
}

/// One writer of the uploaded files at a time, so that the pair on disk is always one pair.
static FILES: Mutex<()> = Mutex::new(());

/// Writes (Some) or deletes (None) the uploaded certificate and key. Each file is replaced
/// atomically; a crash between the two leaves a pair that does not match, which the next start
/// reports and does not serve.
fn write_uploaded(data_dir: &Path, cert: Option<&str>, key: Option<&str>) -> AppResult<()> {
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in [(UPLOADED_CERT, cert), (UPLOADED_KEY, key)] {
        let path = dir.join(name);
        match text {
            Some(text) => {
                crate::files::write_private(&path, format!("{}\n", text.trim()).as_bytes())?
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(AppError::Internal(
                        anyhow::Error::new(e).context(format!("cannot delete {}", path.display())),
                    ));
                }
            },
        }
    }
    Ok(())
}

/// A refusal of `check_pair` as one line for the log and the settings page: "the certificate
/// expired on 2026-03-01".
fn problem_text(err: &AppError) -> String {
    match err {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| {
                let what = if e.field == "private_key" {
                    "the private key"
                } else {
                    "the certificate"
                };
                format!("{what} {}", e.message)
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// The certificate chain in `text`, server certificate first, or the reason it is not one.
fn parse_chain(text: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required".into());
    }
    if text.len() > PEM_LIMIT {
        return Err(format!("is too long (at most {} KiB)", PEM_LIMIT / 1024));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| NOT_PEM_CERTIFICATE.to_string())?;
    if chain.is_empty() {
        return Err(if text.contains("PRIVATE KEY-----") {
            "holds a private key, not a certificate (the key goes in the private key field)".into()
        } else {
            NOT_PEM_CERTIFICATE.into()
        });
    }
    if chain.iter().any(|der| parse_x509(der).is_none()) {
        return Err(
            "is damaged: its text is PEM, but not a certificate this server can read".into(),
        );
    }
    Ok(chain)
}

/// The private key in `text`, or the reason it is not one.
fn parse_key(text: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required".into());
    }
    if text.len() > PEM_LIMIT {
        return Err(format!("is too long (at most {} KiB)", PEM_LIMIT / 1024));
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err("is protected by a password; this server needs the key without one".into());
    }
    PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| {
        if text.contains("-----BEGIN CERTIFICATE-----") && !text.contains("PRIVATE KEY-----") {
            "holds a certificate, not a private key".to_string()
        } else {
            NOT_PEM_KEY.to_string()
        }
    })
}

/// The checks of `inspect_pair` at `now`, and the pair ready to serve.
fn check_pair(cert_pem: &str, key_pem: &str, now: DateTime<Utc>) -> AppResult<Served> {
    let chain = parse_chain(cert_pem);
    let key = parse_key(key_pem);
    let (chain, key) = match (chain, key) {
        (Ok(chain), Ok(key)) => (chain, key),
        (chain, key) => {
            let mut errors = Vec::new();
            if let Err(m) = chain {
                errors.push(FieldError::new("certificate", m));
            }
            if let Err(m) = key {
                errors.push(FieldError::new("private_key", m));
            }
            return Err(AppError::Validation(errors));
        }
    };
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|_| {
        AppError::field(
            "private_key",
            "is a kind of key this server cannot use (it takes RSA, ECDSA P-256 or P-384, and \
             Ed25519 keys)",
        )
    })?;

    let mut errors = Vec::new();
    // parse_chain read every certificate.
    let leaf = parse_x509(&chain[0])
        .ok_or_else(|| AppError::field("certificate", "is damaged: this server cannot read it"))?;
    let certified = CertifiedKey::new(chain.clone(), signing.clone());
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            // A chain pasted issuer first: the key is one of the later certificates'.
            let later = chain[1..].iter().any(|c| {
                CertifiedKey::new(vec![c.clone()], signing.clone())
                    .keys_match()
                    .is_ok()
            });
            if later {
                errors.push(FieldError::new(
                    "certificate",
                    "lists its certificates in the wrong order: the server's own certificate \
                     must come first, then the ones that issued it",
                ));
            } else {
                errors.push(FieldError::new("private_key", KEY_MISMATCH));
            }
        }
        Err(e) => errors.push(FieldError::new(
            "private_key",
            format!("could not be checked against the certificate ({e})"),
        )),
    }
    if leaf.not_after < now {
        errors.push(FieldError::new(
            "certificate",
            format!("expired on {}", leaf.not_after.format("%Y-%m-%d")),
        ));
    } else if leaf.not_before > now {
        errors.push(FieldError::new(
            "certificate",
            format!(
                "is not valid until {}",
                leaf.not_before.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    if leaf.is_ca {
        errors.push(FieldError::new(
            "certificate",
            "is a certificate authority's certificate, not a server's (give the certificate \
             issued to this server)",
        ));
    } else if !leaf.for_servers {
        errors.push(FieldError::new(
            "certificate",
            "is not made for web servers (its extended key usage leaves out TLS server \
             authentication)",
        ));
    }
    if leaf.names.is_empty() {
        errors.push(FieldError::new(
            "certificate",
            "names no host or address (it has no subject alternative names, which browsers \
             require)",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Served {
        info: CertificateInfo {
            source: "uploaded",
            fingerprint: fingerprint(&chain[0]),
            names: leaf.names,
            not_before: Some(leaf.not_before),
            not_after: Some(leaf.not_after),
            ca_fingerprint: None,
        },
        key: Arc::new(certified),
    })
}

mod page;
pub use page::router;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
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
    fn restored_material_is_served_in_place() {
        let now = OffsetDateTime::now_utc();
        let mine = self_signed(&temp_dir("mine"), &names(), now).unwrap();
        let theirs = self_signed(&temp_dir("theirs"), &names(), now).unwrap();
        let (their_cert, their_ca) = (theirs.info(), theirs.ca_pem());
        assert_ne!(mine.info().fingerprint, their_cert.fingerprint);
        let config = mine.server_config.clone();
        mine.take_from(&theirs);
        assert_eq!(mine.info(), their_cert);
        assert_eq!(mine.ca_pem(), their_ca);
        assert_eq!(mine.ca_fingerprint(), their_cert.ca_fingerprint);
        assert_eq!(mine.generated_info(), Some(their_cert));
        // The same rustls configuration: what the listener holds serves the new certificate.
        assert!(Arc::ptr_eq(&config, &mine.server_config));
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
        assert_eq!(first.ca_fingerprint(), again.ca_fingerprint());
        assert_eq!(first.info(), again.info());
        // New names: a new server certificate from the same CA.
        let more = certificate_names("station", ["10.0.0.5".parse().unwrap()]);
        let renamed = self_signed(&dir, &more, now).unwrap();
        assert_eq!(first.ca_fingerprint(), renamed.ca_fingerprint());
        assert_ne!(first.info().fingerprint, renamed.info().fingerprint);
        // Near expiry: renewed.
        let later = now + Duration::days(SERVER_DAYS - RENEW_DAYS + 1);
        let renewed = self_signed(&dir, &more, later).unwrap();
        assert_eq!(first.ca_fingerprint(), renewed.ca_fingerprint());
        assert_ne!(renamed.info().fingerprint, renewed.info().fingerprint);
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

    /// A test CA and a server certificate it issued for `names`, valid from `not_before` to
    /// `not_after`: (CA PEM, certificate PEM, key PEM).
    pub(super) fn issued(
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (String, String, String) {
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params(OffsetDateTime::now_utc())
            .unwrap()
            .self_signed(&ca_key)
            .unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_before = not_before;
        params.not_after = not_after;
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::new(ca_params(OffsetDateTime::now_utc()).unwrap(), &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (ca.pem(), cert.pem(), key.serialize_pem())
    }

    fn valid_pair() -> (String, String, String) {
        let now = OffsetDateTime::now_utc();
        issued(
            &["localhost", "127.0.0.1"],
            now - Duration::days(1),
            now + Duration::days(90),
        )
    }

    /// The (field, message) pairs of a refusal.
    fn refusals(err: AppError) -> Vec<(String, String)> {
        match err {
            AppError::Validation(errors) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    fn refused(cert: &str, key: &str) -> Vec<(String, String)> {
        refusals(inspect_pair(cert, key).expect_err("accepted"))
    }

    #[test]
    fn a_good_pair_is_described() {
        install_provider();
        let (_, cert, key) = valid_pair();
        let info = inspect_pair(&cert, &key).unwrap();
        assert_eq!(info.source, "uploaded");
        assert_eq!(info.names, ["localhost", "127.0.0.1"]);
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        assert_eq!(info.fingerprint, fingerprint(&der));
        assert!(info.not_before.unwrap() < Utc::now() && info.not_after.unwrap() > Utc::now());
        assert_eq!(info.ca_fingerprint, None);
        // A chain (certificate then its issuer) is fine too.
        let (ca, cert, key) = valid_pair();
        assert!(inspect_pair(&format!("{cert}{ca}"), &key).is_ok());
    }

    #[test]
    fn bad_pairs_are_refused_with_the_field_and_a_plain_reason() {
        install_provider();
        let (ca, cert, key) = valid_pair();
        let (_, other_cert, other_key) = valid_pair();
        let field = |f: &str, r: &[(String, String)]| {
            r.iter()
                .filter(|(x, _)| x == f)
                .map(|(_, m)| m.clone())
                .collect::<Vec<_>>()
        };

        let r = refused(&cert, &other_key);
        assert_eq!(field("private_key", &r), [KEY_MISMATCH], "{r:?}");
        assert!(field("certificate", &r).is_empty(), "{r:?}");

        let r = refused("", "  \n");
        assert_eq!(field("certificate", &r), ["is required"]);
        assert_eq!(field("private_key", &r), ["is required"]);

        let r = refused("hello", "not a key either");
        assert_eq!(field("certificate", &r), [NOT_PEM_CERTIFICATE]);
        assert_eq!(field("private_key", &r), [NOT_PEM_KEY]);

        // Each pasted in the other's field.
        let r = refused(&key, &cert);
        assert!(
            field("certificate", &r)[0].contains("holds a private key"),
            "{r:?}"
        );
        assert!(
            field("private_key", &r)[0].contains("holds a certificate"),
            "{r:?}"
        );

        // Base64 that is not a certificate.
        let r = refused(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            &key,
        );
        assert!(
            field("certificate", &r)[0].starts_with("is damaged"),
            "{r:?}"
        );

        let r = refused(&"A".repeat(PEM_LIMIT + 1), &key);
        assert_eq!(field("certificate", &r), ["is too long (at most 64 KiB)"]);

        let r = refused(
            &cert,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
        );
        assert!(field("private_key", &r)[0].contains("password"), "{r:?}");

        // Issuer first: the order is named, not the key.
        let r = refused(&format!("{ca}{cert}"), &key);
        assert!(field("certificate", &r)[0].contains("wrong order"), "{r:?}");
        assert!(field("private_key", &r).is_empty(), "{r:?}");

        let _ = other_cert;
    }

    #[test]
    fn dates_and_purpose_are_checked() {
        install_provider();
        let now = OffsetDateTime::now_utc();
        let (_, cert, key) = issued(
            &["localhost"],
            now - Duration::days(400),
            now - Duration::days(10),
        );
        let expired = (now - Duration::days(10)).date();
        assert_eq!(
            refused(&cert, &key),
            [("certificate".to_string(), format!("expired on {expired}"))]
        );
        let (_, cert, key) = issued(
            &["localhost"],
            now + Duration::days(2),
            now + Duration::days(90),
        );
        let r = refused(&cert, &key);
        assert!(r[0].1.starts_with("is not valid until "), "{r:?}");
        // No names: browsers would refuse it.
        let (_, cert, key) = issued(&[], now - Duration::days(1), now + Duration::days(9));
        assert!(
            refused(&cert, &key)[0]
                .1
                .contains("no subject alternative names")
        );
        // A CA's own certificate and key are a pair, but not a server certificate.
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params(now).unwrap().self_signed(&ca_key).unwrap();
        let r = refused(&ca.pem(), &ca_key.serialize_pem());
        assert!(
            r.iter().any(|(_, m)| m.contains("certificate authority")),
            "{r:?}"
        );
    }

    #[test]
    fn an_upload_is_served_at_once_kept_across_starts_and_removed_back_to_the_generated_one() {
        use std::os::unix::fs::PermissionsExt;
        install_provider();
        let data = temp_dir("upload");
        let dir = data.join("tls");
        let now = OffsetDateTime::now_utc();
        let material = self_signed(&dir, &names(), now).unwrap();
        let generated = material.info();
        assert_eq!(generated.source, "generated");
        assert_eq!(generated.ca_fingerprint, material.ca_fingerprint());
        assert!(generated.names.contains(&"station.local".to_string()));

        // A refused pair changes nothing.
        let (_, cert, key) = valid_pair();
        let (_, _, other_key) = valid_pair();
        assert!(install_uploaded(&material, &data, &cert, &other_key).is_err());
        assert_eq!(material.info(), generated);
        assert!(read_uploaded(&data).is_none());

        let info = install_uploaded(&material, &data, &cert, &key).unwrap();
        assert_eq!(material.info(), info);
        for f in [UPLOADED_CERT, UPLOADED_KEY] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let stored = read_uploaded(&data).unwrap();
        assert_eq!(stored.certificate.as_ref(), Some(&info));
        assert_eq!(stored.problem, None);

        // The next start serves it; the CA is still there to download.
        let again = self_signed(&dir, &names(), now).unwrap();
        assert_eq!(again.info(), info);
        assert_eq!(again.ca_pem(), material.ca_pem());
        // Once it has expired, the start falls back to the generated certificate.
        let later = now + Duration::days(120);
        let fallback = self_signed(&dir, &names(), later).unwrap();
        assert_eq!(fallback.info().source, "generated");

        // A snapshot puts back what a change replaced.
        let before = snapshot(Some(&material), &data).unwrap();
        assert_eq!(
            remove_uploaded(Some(&material), &data).unwrap(),
            Some(generated.clone())
        );
        assert_eq!(material.info(), generated);
        assert!(read_uploaded(&data).is_none());
        restore(Some(&material), &data, before).unwrap();
        assert_eq!(material.info(), info);
        assert!(read_uploaded(&data).is_some());

        remove_uploaded(Some(&material), &data).unwrap();
        assert_eq!(material.info(), generated);
        // Removing again is harmless.
        remove_uploaded(Some(&material), &data).unwrap();
        let _ = std::fs::remove_dir_all(data);
    }

    #[test]
    fn with_https_off_an_upload_is_stored_for_later_and_files_mode_refuses_it() {
        install_provider();
        let data = temp_dir("off");
        let (_, cert, key) = valid_pair();
        let info = store_uploaded(&data, &cert, &key).unwrap();
        assert_eq!(
            read_uploaded(&data).unwrap().certificate,
            Some(info.clone())
        );
        assert_eq!(remove_uploaded(None, &data).unwrap(), None);
        assert!(read_uploaded(&data).is_none());

        // A half-written pair is reported, not served.
        std::fs::create_dir_all(data.join("tls")).unwrap();
        std::fs::write(data.join("tls").join(UPLOADED_CERT), &cert).unwrap();
        let stored = read_uploaded(&data).unwrap();
        assert_eq!(
            stored.problem.as_deref(),
            Some("the private key file is missing")
        );
        assert!(
            self_signed(&data.join("tls"), &names(), OffsetDateTime::now_utc())
                .unwrap()
                .info()
                .source
                == "generated"
        );

        let made = temp_dir("files");
        self_signed(&made, &names(), OffsetDateTime::now_utc()).unwrap();
        let files = from_files(&made.join("server.crt"), &made.join("server.key")).unwrap();
        assert_eq!(files.info().source, "files");
        assert!(files.info().not_after.is_some());
        assert!(matches!(
            install_uploaded(&files, &data, &cert, &key),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            remove_uploaded(Some(&files), &data),
            Err(AppError::Conflict(_))
        ));
        let _ = std::fs::remove_dir_all(data);
        let _ = std::fs::remove_dir_all(made);
    }
}
