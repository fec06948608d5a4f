//! Configuration in layers: built-in defaults, then `/etc/logbook/logbook.toml` (or `--config`),
//! then `LOGBOOK_*` environment variables, which win. Secrets not configured are generated on
//! first start into the data directory (mode 0600).

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use rand::RngCore;
use serde::Deserialize;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/logbook/logbook.toml";
const MIN_SECRET_BYTES: usize = 32;

/// The file's keys. Unknown keys are an error that names the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    log: Option<String>,
    jwt_secret: Option<String>,
    encryption_key: Option<String>,
    db_wait_secs: Option<u64>,
    secure_cookies: Option<bool>,
    public_url: Option<String>,
    scheduler: Option<bool>,
    tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    https_listen: Option<String>,
    backup_dir: Option<PathBuf>,
    backup_copy_dir: Option<PathBuf>,
    backup_keep_daily: Option<u32>,
    backup_keep_weekly: Option<u32>,
    header_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
}

/// How the server speaks HTTPS (`tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP only (behind a proxy, or tests).
    Off,
    /// A CA and a server certificate the server makes (and renews) itself in `<data_dir>/tls/`.
    SelfSigned,
    /// The administrator's PEM certificate (chain) and key.
    Files { cert: PathBuf, key: PathBuf },
}

impl TlsMode {
    pub fn name(&self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::SelfSigned => "self-signed",
            TlsMode::Files { .. } => "files",
        }
    }

    pub fn is_on(&self) -> bool {
        *self != TlsMode::Off
    }
}

#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log: String,
    pub jwt_secret: Option<String>,
    pub encryption_key: Option<String>,
    /// How long to keep retrying the database at start before giving up.
    pub db_wait: Duration,
    /// Mark session cookies `Secure` (on when serving HTTPS).
    pub secure_cookies: bool,
    /// The address members reach the server at, for links in emails (`http://station.local:8080`).
    /// Default: this host's name under `.local` with the listening port.
    pub public_url: String,
    /// Run the scheduled jobs in this process (on by default).
    pub scheduler: bool,
    /// HTTPS: off (default), self-signed or files.
    pub tls: TlsMode,
    /// Where HTTPS is served when `tls` is on (`listen` then only redirects to it, except
    /// `/health` and the certificate pages).
    pub https_listen: SocketAddr,
    /// Where backups are written (default `<data_dir>/backups`).
    pub backup_dir: PathBuf,
    /// A second directory (a USB drive's mount point) that receives a copy of each scheduled
    /// backup. None: no copy.
    pub backup_copy_dir: Option<PathBuf>,
    /// Scheduled backups keep the newest backup of each of this many days...
    pub backup_keep_daily: u32,
    /// ...and of each of this many ISO weeks before those.
    pub backup_keep_weekly: u32,
    /// How long a request head may take to arrive, and how long a keep-alive connection may sit
    /// idle (`crate::listener`).
    pub header_timeout: Duration,
    /// A cap on open connections below the one the open-file limit gives; None: that one.
    pub max_connections: Option<usize>,
}

/// The most days and weeks retention may be set to keep.
pub const MAX_KEEP_DAILY: u32 = 365;
pub const MAX_KEEP_WEEKLY: u32 = 104;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("log", &self.log)
            .field("db_wait", &self.db_wait)
            .field("secure_cookies", &self.secure_cookies)
            .field("public_url", &self.public_url)
            .field("scheduler", &self.scheduler)
            .field("tls", &self.tls)
            .field("https_listen", &self.https_listen)
            .field("backup_dir", &self.backup_dir)
            .field("backup_copy_dir", &self.backup_copy_dir)
            .field("backup_keep_daily", &self.backup_keep_daily)
            .field("backup_keep_weekly", &self.backup_keep_weekly)
            .field("header_timeout", &self.header_timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Hides the password in a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Loads the file (an explicitly named file must exist; the default one may be absent), then
    /// applies the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let file = match path {
            Some(p) => read_file(p)?,
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
                read_file(Path::new(DEFAULT_CONFIG_PATH))?
            }
            None => FileConfig::default(),
        };
        Self::from_layers(file, |key| std::env::var(key).ok())
    }

    fn from_layers(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let database_url = env("LOGBOOK_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| "mysql://logbook@127.0.0.1:3306/logbook".into());
        let listen = env("LOGBOOK_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| "0.0.0.0:8080".into());
        let listen: SocketAddr = listen
            .parse()
            .with_context(|| format!("listen address `{listen}` is not host:port"))?;
        let data_dir = env("LOGBOOK_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("/var/lib/logbook"));
        let log = env("LOGBOOK_LOG")
            .or(file.log)
            // The scheduler crate logs every job it creates at info: keep it to warnings.
            .unwrap_or_else(|| "info,tokio_cron_scheduler=warn".into());
        let db_wait_secs = match env("LOGBOOK_DB_WAIT_SECS") {
            Some(v) => v
                .parse()
                .with_context(|| format!("LOGBOOK_DB_WAIT_SECS `{v}` is not a number"))?,
            None => file.db_wait_secs.unwrap_or(120),
        };
        let tls_cert = env("LOGBOOK_TLS_CERT").map(PathBuf::from).or(file.tls_cert);
        let tls_key = env("LOGBOOK_TLS_KEY").map(PathBuf::from).or(file.tls_key);
        let tls = match env("LOGBOOK_TLS").or(file.tls).as_deref() {
            None | Some("off") => TlsMode::Off,
            Some("self-signed") => TlsMode::SelfSigned,
            Some("files") => match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => TlsMode::Files { cert, key },
                _ => bail!("tls = \"files\" needs both tls_cert and tls_key (PEM files)"),
            },
            Some(other) => {
                bail!("tls `{other}` is not one of self-signed, files or off")
            }
        };
        let https_listen = env("LOGBOOK_HTTPS_LISTEN")
            .or(file.https_listen)
            .unwrap_or_else(|| "0.0.0.0:443".into());
        let https_listen: SocketAddr = https_listen
            .parse()
            .with_context(|| format!("https_listen address `{https_listen}` is not host:port"))?;
        // With HTTPS on, session cookies are always Secure.
        let secure_cookies = tls.is_on()
            || match env("LOGBOOK_SECURE_COOKIES") {
                Some(v) => matches!(v.as_str(), "1" | "true" | "yes"),
                None => file.secure_cookies.unwrap_or(false),
            };
        let scheduler = match env("LOGBOOK_SCHEDULER") {
            Some(v) => !matches!(v.as_str(), "0" | "false" | "no" | "off"),
            None => file.scheduler.unwrap_or(true),
        };
        let public_url = env("LOGBOOK_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| {
                if tls.is_on() {
                    default_public_url("https", &https_listen)
                } else {
                    default_public_url("http", &listen)
                }
            });
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("public_url `{public_url}` must start with http:// or https://");
        }
        let jwt_secret = env("LOGBOOK_JWT_SECRET").or(file.jwt_secret);
        let encryption_key = env("LOGBOOK_ENCRYPTION_KEY").or(file.encryption_key);
        for (name, value) in [
            ("jwt_secret", &jwt_secret),
            ("encryption_key", &encryption_key),
        ] {
            if let Some(v) = value
                && v.len() < MIN_SECRET_BYTES
            {
                bail!(
                    "the configured {name} is {} bytes; it must be at least {MIN_SECRET_BYTES} \
                     (or leave it unset to have one generated)",
                    v.len()
                );
            }
        }
        let backup_dir = env("LOGBOOK_BACKUP_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or(file.backup_dir)
            .unwrap_or_else(|| crate::backup::service::default_dir(&data_dir));
        let backup_copy_dir = match env("LOGBOOK_BACKUP_COPY_DIR") {
            // Set but empty: no copy, whatever the file says.
            Some(v) if v.is_empty() => None,
            Some(v) => Some(PathBuf::from(v)),
            None => file.backup_copy_dir,
        };
        if let Some(copy) = &backup_copy_dir
            && !copy.is_absolute()
        {
            bail!(
                "backup_copy_dir `{}` must be a full path (e.g. /media/usb/logbook)",
                copy.display()
            );
        }
        if backup_copy_dir.as_ref() == Some(&backup_dir) {
            bail!("backup_copy_dir must be another directory than backup_dir (a USB drive)");
        }
        let backup_keep_daily = keep_number(
            env("LOGBOOK_BACKUP_KEEP_DAILY"),
            "backup_keep_daily",
            file.backup_keep_daily,
            7,
            MAX_KEEP_DAILY,
        )?;
        let backup_keep_weekly = keep_number(
            env("LOGBOOK_BACKUP_KEEP_WEEKLY"),
            "backup_keep_weekly",
            file.backup_keep_weekly,
            4,
            MAX_KEEP_WEEKLY,
        )?;
        if backup_keep_daily == 0 && backup_keep_weekly == 0 {
            bail!(
                "backup_keep_daily and backup_keep_weekly are both 0: scheduled backups would \
                 keep only the newest one; keep at least one day or one week"
            );
        }
        let header_timeout_secs = match env("LOGBOOK_HEADER_TIMEOUT_SECS") {
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                anyhow::anyhow!(
                    "LOGBOOK_HEADER_TIMEOUT_SECS `{v}` is not a whole number of seconds"
                )
            })?,
            None => file
                .header_timeout_secs
                .unwrap_or(crate::listener::DEFAULT_HEADER_TIMEOUT.as_secs()),
        };
        if !(1..=300).contains(&header_timeout_secs) {
            bail!("header_timeout_secs is {header_timeout_secs}; it must be from 1 to 300");
        }
        let max_connections = match env("LOGBOOK_MAX_CONNECTIONS") {
            Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
                anyhow::anyhow!("LOGBOOK_MAX_CONNECTIONS `{v}` is not a whole number")
            })?),
            None => file.max_connections,
        };
        if max_connections == Some(0) {
            bail!("max_connections is 0; leave it unset to follow the open-file limit");
        }
        Ok(Config {
            database_url,
            listen,
            data_dir,
            log,
            jwt_secret,
            encryption_key,
            db_wait: Duration::from_secs(db_wait_secs),
            secure_cookies,
            public_url,
            scheduler,
            tls,
            https_listen,
            backup_dir,
            backup_copy_dir,
            backup_keep_daily,
            backup_keep_weekly,
            header_timeout: Duration::from_secs(header_timeout_secs),
            max_connections,
        })
    }
}

/// A retention number from the environment (which wins) or the file, within `0..=max`.
fn keep_number(
    env: Option<String>,
    key: &str,
    file: Option<u32>,
    default: u32,
    max: u32,
) -> anyhow::Result<u32> {
    let n = match env {
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            anyhow::anyhow!(
                "LOGBOOK_{} `{v}` is not a whole number from 0 to {max}",
                key.to_ascii_uppercase()
            )
        })?,
        None => file.unwrap_or(default),
    };
    if n > max {
        bail!("{key} is {n}; it must be from 0 to {max}");
    }
    Ok(n)
}

/// This machine's host name (`localhost` if it has none).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `http://<hostname>.local[:port]` (or `https://`): what avahi answers on a Raspberry Pi.
fn default_public_url(scheme: &str, listen: &SocketAddr) -> String {
    let host = host_name();
    let host = if host == "localhost" || host.contains('.') {
        host
    } else {
        format!("{host}.local")
    };
    match (scheme, listen.port()) {
        ("http", 80) | ("https", 443) => format!("{scheme}://{host}"),
        (_, port) => format!("{scheme}://{host}:{port}"),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "configuration file {}: {}",
            path.display(),
            e.message().trim()
        )
    })
}

/// The secrets the server signs and encrypts with.
#[derive(Clone)]
pub struct Secrets {
    pub jwt_key: Vec<u8>,
    pub encryption_key: Vec<u8>,
}

impl Secrets {
    /// Uses the configured secrets, or reads (creating on first start) `<data_dir>/secrets/*`.
    pub fn load_or_generate(config: &Config) -> anyhow::Result<Self> {
        let dir = config.data_dir.join("secrets");
        let jwt_key = match &config.jwt_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => file_secret(&dir.join("jwt.key"))?,
        };
        let encryption_key = match &config.encryption_key {
            Some(s) => s.as_bytes().to_vec(),
            None => file_secret(&dir.join("encryption.key"))?,
        };
        Ok(Secrets {
            jwt_key,
            encryption_key,
        })
    }
}

fn file_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if existing.len() < MIN_SECRET_BYTES * 2 {
            bail!(
                "secret file {} is shorter than {} hex characters; remove it to regenerate",
                path.display(),
                MIN_SECRET_BYTES * 2
            );
        }
        return Ok(existing.into_bytes());
    }
    let parent = path.parent().context("secret path has no parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let encoded = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create secret file {}", path.display()))?;
    file.write_all(encoded.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret");
    Ok(encoded.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let err = toml::from_str::<FileConfig>("listen = \"0.0.0.0:1\"\nlisten_port = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn env_wins_over_file() {
        let file = FileConfig {
            listen: Some("127.0.0.1:1".into()),
            log: Some("debug".into()),
            ..Default::default()
        };
        let cfg = Config::from_layers(file, |k| {
            (k == "LOGBOOK_LISTEN").then(|| "127.0.0.1:2".to_string())
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 2);
        assert_eq!(cfg.log, "debug");
    }

    #[test]
    fn short_secret_refused() {
        let err = Config::from_layers(FileConfig::default(), |k| {
            (k == "LOGBOOK_JWT_SECRET").then(|| "short".to_string())
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("jwt_secret"), "{err}");
    }

    #[test]
    fn tls_is_off_by_default() {
        let cfg = Config::from_layers(FileConfig::default(), |_| None).unwrap();
        assert_eq!(cfg.tls, TlsMode::Off);
        assert!(!cfg.secure_cookies);
        assert!(cfg.public_url.starts_with("http://"), "{}", cfg.public_url);
    }

    #[test]
    fn tls_self_signed_turns_on_secure_cookies_and_https_url() {
        let file = toml::from_str::<FileConfig>(
            "tls = \"self-signed\"\nhttps_listen = \"0.0.0.0:8443\"\n",
        )
        .unwrap();
        let cfg = Config::from_layers(file, |_| None).unwrap();
        assert_eq!(cfg.tls, TlsMode::SelfSigned);
        assert_eq!(cfg.https_listen.port(), 8443);
        assert!(cfg.secure_cookies);
        assert!(
            cfg.public_url.starts_with("https://") && cfg.public_url.ends_with(":8443"),
            "{}",
            cfg.public_url
        );
        // The default HTTPS port.
        let cfg = Config::from_layers(FileConfig::default(), |k| {
            (k == "LOGBOOK_TLS").then(|| "self-signed".to_string())
        })
        .unwrap();
        assert_eq!(cfg.https_listen.port(), 443);
    }

    #[test]
    fn tls_files_needs_both_paths() {
        let env = |k: &str| match k {
            "LOGBOOK_TLS" => Some("files".to_string()),
            "LOGBOOK_TLS_CERT" => Some("/etc/logbook/cert.pem".to_string()),
            _ => None,
        };
        let err = Config::from_layers(FileConfig::default(), env)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tls_key"), "{err}");
        let cfg = Config::from_layers(FileConfig::default(), |k| match k {
            "LOGBOOK_TLS_KEY" => Some("/k.pem".to_string()),
            other => env(other),
        })
        .unwrap();
        assert_eq!(
            cfg.tls,
            TlsMode::Files {
                cert: "/etc/logbook/cert.pem".into(),
                key: "/k.pem".into()
            }
        );
    }

    #[test]
    fn unknown_tls_mode_is_named() {
        let file = toml::from_str::<FileConfig>("tls = \"on\"\n").unwrap();
        let err = Config::from_layers(file, |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tls") && err.contains("`on`"), "{err}");
    }

    #[test]
    fn backup_settings_default_and_validate() {
        let cfg = Config::from_layers(FileConfig::default(), |k| {
            (k == "LOGBOOK_DATA_DIR").then(|| "/srv/lb".to_string())
        })
        .unwrap();
        assert_eq!(cfg.backup_dir, PathBuf::from("/srv/lb/backups"));
        assert_eq!(cfg.backup_copy_dir, None);
        assert_eq!((cfg.backup_keep_daily, cfg.backup_keep_weekly), (7, 4));

        let file = toml::from_str::<FileConfig>(
            "backup_dir = \"/b\"\nbackup_copy_dir = \"/media/usb/logbook\"\n\
             backup_keep_daily = 0\nbackup_keep_weekly = 104\n",
        )
        .unwrap();
        let cfg = Config::from_layers(file, |_| None).unwrap();
        assert_eq!(cfg.backup_dir, PathBuf::from("/b"));
        assert_eq!(
            cfg.backup_copy_dir,
            Some(PathBuf::from("/media/usb/logbook"))
        );
        assert_eq!((cfg.backup_keep_daily, cfg.backup_keep_weekly), (0, 104));

        let err_of = |pairs: &'static [(&'static str, &'static str)]| {
            Config::from_layers(FileConfig::default(), |k| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
        };
        let err = err_of(&[("LOGBOOK_BACKUP_KEEP_DAILY", "366")]);
        assert!(
            err.contains("backup_keep_daily") && err.contains("365"),
            "{err}"
        );
        let err = err_of(&[("LOGBOOK_BACKUP_KEEP_WEEKLY", "105")]);
        assert!(
            err.contains("backup_keep_weekly") && err.contains("104"),
            "{err}"
        );
        let err = err_of(&[("LOGBOOK_BACKUP_KEEP_DAILY", "seven")]);
        assert!(err.contains("LOGBOOK_BACKUP_KEEP_DAILY"), "{err}");
        let err = err_of(&[
            ("LOGBOOK_BACKUP_KEEP_DAILY", "0"),
            ("LOGBOOK_BACKUP_KEEP_WEEKLY", "0"),
        ]);
        assert!(err.contains("both 0"), "{err}");
        let err = err_of(&[("LOGBOOK_BACKUP_COPY_DIR", "usb")]);
        assert!(err.contains("full path"), "{err}");
        // An empty copy directory in the environment turns the copy off.
        let file = toml::from_str::<FileConfig>("backup_copy_dir = \"/media/usb\"\n").unwrap();
        let cfg = Config::from_layers(file, |k| (k == "LOGBOOK_BACKUP_COPY_DIR").then(String::new))
            .unwrap();
        assert_eq!(cfg.backup_copy_dir, None);
    }

    #[test]
    fn the_packaged_backup_settings_parse_when_uncommented() {
        let template = include_str!("../packaging/logbook.toml");
        let lines: Vec<&str> = template
            .lines()
            .filter_map(|l| l.strip_prefix("# backup_"))
            .filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        let text: String = lines.iter().map(|l| format!("backup_{l}\n")).collect();
        let file = toml::from_str::<FileConfig>(&text).unwrap();
        let cfg = Config::from_layers(file, |_| None).unwrap();
        assert_eq!(cfg.backup_dir, PathBuf::from("/var/lib/logbook/backups"));
        assert_eq!(
            cfg.backup_copy_dir,
            Some(PathBuf::from("/media/usb/logbook"))
        );
    }

    #[test]
    fn url_password_redacted() {
        assert_eq!(
            redact_url("mysql://u:secret@host:3306/db"),
            "mysql://u:***@host:3306/db"
        );
    }
}
