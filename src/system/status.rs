//! The status page's data (`settings.manage`): the host (sysinfo), this server process, the disk
//! holding the data directory, the database, and this organization's recent job runs, with
//! warnings where something needs attention. Host facts are the same for every organization;
//! job runs are the caller's organization's only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sysinfo::{
    Components, CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks,
    ProcessRefreshKind, ProcessesToUpdate, System,
};

use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::error::{AppError, AppResult};
use crate::jobs::runner::{JobRun, RUN_COLUMNS};
use crate::state::AppState;

/// How many job runs the page lists.
pub const RECENT_RUNS: u32 = 10;

/// Free space below this share of the disk, or below `LOW_DISK_BYTES`, is a warning.
pub const LOW_DISK_PERCENT: u64 = 10;
pub const LOW_DISK_BYTES: u64 = 1 << 30;
/// A CPU this hot (°C) is throttling, or about to: a Pi needs a fan or a better spot.
pub const HOT_CPU_CELSIUS: f64 = 75.0;
/// Available memory below this share of the total is a warning.
pub const LOW_MEMORY_PERCENT: u64 = 10;

/// A slow or hung filesystem must not hold the page for ever.
const HOST_SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SystemStatus {
    /// This server's version.
    pub app_version: &'static str,
    pub collected_at: DateTime<Utc>,
    pub host: HostStatus,
    pub server: ServerProcess,
    /// The filesystem holding the data directory.
    pub data_dir: Storage,
    /// What the data directory keeps (documents, attachments, secrets), by its top-level
    /// folder: every backup carries these files.
    pub stored_files: Vec<StoredFiles>,
    pub backup_target: BackupTarget,
    pub database: DatabaseStatus,
    pub certificate: CertificateStatus,
    /// This organization's last runs, newest first.
    pub recent_job_runs: Vec<JobRun>,
    /// The department has email set up (reminders, password resets, alerts by email).
    pub email_configured: bool,
    /// What needs attention; empty when all is well.
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostStatus {
    pub host_name: Option<String>,
    /// Addresses of the network interfaces, loopback and IPv6 link-local left out (a phone on
    /// the LAN reaches the box on none of those).
    pub addresses: Vec<Address>,
    pub uptime_seconds: Option<u64>,
    pub cpu_count: usize,
    pub load_average: Option<LoadAverage>,
    /// The CPU's temperature, if the machine has a sensor for it.
    pub cpu_temperature_celsius: Option<f64>,
    /// The sensor it was read from.
    pub temperature_sensor: Option<String>,
    pub memory: Memory,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Address {
    pub interface: String,
    #[schema(value_type = String)]
    pub address: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Memory {
    pub total_bytes: u64,
    pub used_bytes: u64,
    /// What programs can still get without swapping.
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServerProcess {
    pub pid: u32,
    pub uptime_seconds: Option<u64>,
    /// Resident memory of this process.
    pub rss_bytes: Option<u64>,
}

/// The files under one top-level folder of the data directory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredFiles {
    /// The folder's name (`documents`, `attachments`, `secrets`…).
    pub folder: String,
    pub files: u64,
    pub bytes: u64,
}

/// The files of the data directory by top-level folder, the backup directory left out (it may
/// live inside). Files directly in it count under ".".
pub fn stored_files(data_dir: &Path, backup_dir: &Path) -> Vec<StoredFiles> {
    let skip = std::fs::canonicalize(backup_dir).ok();
    let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut stack = vec![(data_dir.to_path_buf(), None::<String>)];
    while let Some((dir, top)) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if std::fs::canonicalize(&path).ok() != skip {
                    stack.push((path, Some(top.clone().unwrap_or(name))));
                }
            } else if kind.is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let e = by
                    .entry(top.clone().unwrap_or_else(|| ".".into()))
                    .or_default();
                e.0 += 1;
                e.1 += size;
            }
        }
    }
    by.into_iter()
        .map(|(folder, (files, bytes))| StoredFiles {
            folder,
            files,
            bytes,
        })
        .collect()
}

/// A directory and the space on the filesystem that holds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Storage {
    pub path: String,
    /// None when no mounted filesystem could be found for the path.
    pub space: Option<DiskSpace>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiskSpace {
    pub mount_point: String,
    pub total_bytes: u64,
    /// Space the server can still write.
    pub free_bytes: u64,
}

/// Where backups are written (`backup_dir`), the space there and the newest backup in it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupTarget {
    pub configured: bool,
    pub storage: Option<Storage>,
    pub last_backup_at: Option<DateTime<Utc>>,
}

impl BackupTarget {
    pub fn of(dir: &Path) -> Self {
        BackupTarget {
            configured: true,
            // The directory may not exist before the first backup: its parent's disk then.
            storage: Some(storage(dir)),
            last_backup_at: crate::backup::service::list(dir)
                .ok()
                .and_then(|l| l.first().map(|b| b.modified)),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatabaseStatus {
    /// `SELECT VERSION()`, e.g. "10.11.6-MariaDB-0+deb12u1".
    pub version: String,
    /// This database's tables and indexes, as the server estimates them.
    pub size_bytes: u64,
    pub migrations_applied: u64,
    /// The migrations this server version brings.
    pub migrations_known: u64,
}

/// The HTTPS certificate (not configured with `tls = "off"`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateStatus {
    pub configured: bool,
    /// `self-signed`, `files` or `off`.
    pub mode: Option<String>,
    /// Where the served certificate comes from: `generated`, `uploaded` or `files`.
    pub source: Option<String>,
    pub subject: Option<String>,
    pub not_after: Option<DateTime<Utc>>,
    pub fingerprint_sha256: Option<String>,
}

impl CertificateStatus {
    /// The certificate being served to new connections.
    pub fn of(tls: &crate::system::tls::TlsMaterial) -> Self {
        let info = tls.info();
        CertificateStatus {
            configured: true,
            mode: Some(tls.mode.to_string()),
            source: Some(info.source.to_string()),
            subject: (!info.names.is_empty()).then(|| info.names.join(", ")),
            not_after: info.not_after,
            fingerprint_sha256: Some(info.fingerprint),
        }
    }

    pub fn not_configured() -> Self {
        CertificateStatus {
            configured: false,
            mode: None,
            source: None,
            subject: None,
            not_after: None,
            fingerprint_sha256: None,
        }
    }
}

/// Something that needs attention. `subject` names the part of the status it is about:
/// `data_dir`, `backup_target`, `cpu_temperature`, `memory`, `migrations`, `certificate`,
/// `email`, `https`, `backup` or `jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    pub subject: &'static str,
    pub message: String,
}

/// Everything the status page shows. Host facts are read on a blocking thread while the database
/// answers.
pub async fn collect(state: &AppState, ctx: &Ctx) -> AppResult<SystemStatus> {
    ctx.require(SETTINGS_MANAGE)?;
    let data_dir = state.config.data_dir.clone();
    let backup_dir = state.config.backup_dir.clone();
    let host = async {
        let sample = tokio::task::spawn_blocking(move || sample_host(&data_dir, &backup_dir));
        match tokio::time::timeout(HOST_SAMPLE_TIMEOUT, sample).await {
            Ok(joined) => joined
                .context("reading the host's status")
                .map_err(AppError::from),
            Err(_) => Err(AppError::Unavailable(
                "the host's status did not come within 5 s (a slow or hung disk?)".into(),
            )),
        }
    };
    let (host, (database, recent_job_runs, email_configured)) =
        tokio::try_join!(host, database_part(state, ctx))?;
    let HostSample {
        host,
        server,
        data_dir,
        stored_files,
    } = host;
    let mut status = SystemStatus {
        app_version: env!("CARGO_PKG_VERSION"),
        collected_at: Utc::now(),
        host,
        server,
        data_dir,
        stored_files,
        backup_target: BackupTarget::of(&state.config.backup_dir),
        database,
        certificate: match state.tls.as_deref() {
            Some(tls) => CertificateStatus::of(tls),
            None => CertificateStatus::not_configured(),
        },
        recent_job_runs,
        email_configured,
        warnings: Vec::new(),
    };
    status.warnings = warnings(&status);
    Ok(status)
}

async fn database_part(
    state: &AppState,
    ctx: &Ctx,
) -> AppResult<(DatabaseStatus, Vec<JobRun>, bool)> {
    let mut conn = state.db.acquire().await?;
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    let size_bytes: u64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS UNSIGNED)
           FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_one(&mut *conn)
    .await?;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await?;
    let known = crate::db::MIGRATOR
        .migrations
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    let runs = recent_runs(&mut conn, ctx).await?;
    let email = crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
    Ok((
        DatabaseStatus {
            version,
            size_bytes,
            migrations_applied: applied.max(0) as u64,
            migrations_known: known as u64,
        },
        runs,
        email,
    ))
}

struct HostSample {
    host: HostStatus,
    server: ServerProcess,
    data_dir: Storage,
    stored_files: Vec<StoredFiles>,
}

/// Reads only what the page shows (no process list, no CPU usage sampling).
fn sample_host(data_dir: &Path, backup_dir: &Path) -> HostSample {
    let mut sys = System::new().ok();
    let (memory, cpu_count) = match sys.as_mut() {
        Some(sys) => {
            sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
            sys.refresh_cpu_list(CpuRefreshKind::nothing());
            (
                Memory {
                    total_bytes: sys.total_memory(),
                    used_bytes: sys.used_memory(),
                    available_bytes: sys.available_memory(),
                },
                sys.cpus().len(),
            )
        }
        None => (
            Memory {
                total_bytes: 0,
                used_bytes: 0,
                available_bytes: 0,
            },
            0,
        ),
    };
    let cpu_count = if cpu_count > 0 {
        cpu_count
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };

    let pid = std::process::id();
    let me = sys.as_mut().and_then(|sys| {
        let spid = sysinfo::Pid::from_u32(pid);
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[spid]),
            false,
            ProcessRefreshKind::nothing().with_memory().without_tasks(),
        );
        sys.process(spid).map(|p| (p.run_time(), p.memory()))
    });

    let sensors: Vec<(String, f32)> = Components::new_with_refreshed_list()
        .map(|list| {
            list.iter()
                .filter_map(|c| Some((c.label().to_string(), c.temperature()?)))
                .collect()
        })
        .unwrap_or_default();
    let temperature = cpu_temperature(&sensors);

    let addresses = lan_addresses();

    HostSample {
        host: HostStatus {
            host_name: System::host_name().ok().filter(|h| !h.is_empty()),
            addresses,
            uptime_seconds: System::uptime().ok(),
            cpu_count,
            load_average: System::load_average().ok().map(|l| LoadAverage {
                one: round(l.one, 2),
                five: round(l.five, 2),
                fifteen: round(l.fifteen, 2),
            }),
            cpu_temperature_celsius: temperature.as_ref().map(|t| t.1),
            temperature_sensor: temperature.map(|t| t.0),
            memory,
        },
        server: ServerProcess {
            pid,
            uptime_seconds: me.map(|m| m.0),
            rss_bytes: me.map(|m| m.1).filter(|rss| *rss > 0),
        },
        data_dir: storage(data_dir),
        stored_files: stored_files(data_dir, backup_dir),
    }
}

/// The space on the filesystem holding `path` (the mount with the longest matching prefix).
/// Backups and the setup wizard use it for their directories too.
pub fn storage(path: &Path) -> Storage {
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let space = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
        .ok()
        .and_then(|disks| {
            let mounts = disks.iter().map(|d| {
                (
                    d.mount_point().to_path_buf(),
                    d.total_space(),
                    d.available_space(),
                )
            });
            containing_mount(&resolved, mounts)
        });
    Storage {
        path: path.display().to_string(),
        space,
    }
}

/// Of `mounts` (mount point, total, free), the one `path` lives on.
fn containing_mount(
    path: &Path,
    mounts: impl IntoIterator<Item = (PathBuf, u64, u64)>,
) -> Option<DiskSpace> {
    mounts
        .into_iter()
        .filter(|(mount, total, _)| *total > 0 && path.starts_with(mount))
        .max_by_key(|(mount, _, _)| mount.components().count())
        .map(|(mount, total, free)| DiskSpace {
            mount_point: mount.display().to_string(),
            total_bytes: total,
            free_bytes: free.min(total),
        })
}

/// This host's addresses a phone on the LAN can reach (no loopback, unspecified or link-local),
/// by interface. The status page shows them; the self-signed certificate names them.
pub fn lan_addresses() -> Vec<Address> {
    Networks::new_with_refreshed_list()
        .map(|networks| {
            let mut list: Vec<Address> = networks
                .iter()
                .flat_map(|(name, data)| {
                    let interface = name.to_string_lossy().into_owned();
                    data.ip_networks()
                        .iter()
                        .map(move |ip| (interface.clone(), ip.addr, ip.prefix))
                })
                .filter(|(_, addr, _)| reachable(addr))
                .map(|(interface, address, prefix)| Address {
                    interface,
                    address,
                    prefix,
                })
                .collect();
            list.sort_by(|a, b| {
                (&a.interface, a.address.is_ipv6(), a.address).cmp(&(
                    &b.interface,
                    b.address.is_ipv6(),
                    b.address,
                ))
            });
            list
        })
        .unwrap_or_default()
}

fn reachable(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !a.is_loopback() && !a.is_unspecified(),
        IpAddr::V6(a) => {
            !a.is_loopback() && !a.is_unspecified() && (a.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// The CPU's sensor among `sensors` (label, °C): a Pi's `cpu_thermal`, a PC's package or die
/// sensor; otherwise the only sensor there is.
fn cpu_temperature(sensors: &[(String, f32)]) -> Option<(String, f64)> {
    const CPU_LABELS: &[&str] = &[
        "cpu", "soc", "package", "tctl", "tdie", "coretemp", "k10temp",
    ];
    let valid = || {
        sensors
            .iter()
            .filter(|(_, t)| t.is_finite() && *t > -40.0 && *t < 150.0)
    };
    let chosen = valid()
        .find(|(label, _)| {
            let label = label.to_lowercase();
            CPU_LABELS.iter().any(|c| label.contains(c))
        })
        .or_else(|| {
            let mut all = valid();
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })?;
    Some((chosen.0.clone(), round(f64::from(chosen.1), 1)))
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Free space on `space` is low: under 10 % of the disk or under 1 GiB.
pub fn disk_low(space: &DiskSpace) -> bool {
    space.free_bytes < LOW_DISK_BYTES
        || u128::from(space.free_bytes) * 100
            < u128::from(space.total_bytes) * u128::from(LOW_DISK_PERCENT)
}

pub fn memory_low(memory: &Memory) -> bool {
    memory.total_bytes > 0
        && u128::from(memory.available_bytes) * 100
            < u128::from(memory.total_bytes) * u128::from(LOW_MEMORY_PERCENT)
}

pub fn cpu_hot(celsius: f64) -> bool {
    celsius >= HOT_CPU_CELSIUS
}

/// Certificates this close to expiry are a warning (a self-signed one renews well before).
const CERT_WARN_DAYS: i64 = 14;

/// What needs attention in `s`.
pub fn warnings(s: &SystemStatus) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |subject, message: String| out.push(Warning { subject, message });
    if let Some(space) = &s.data_dir.space
        && disk_low(space)
    {
        warn(
            "data_dir",
            format!(
                "only {} free on the disk holding the data directory",
                bytes(space.free_bytes)
            ),
        );
    }
    if let Some(space) = s
        .backup_target
        .storage
        .as_ref()
        .and_then(|t| t.space.as_ref())
        && disk_low(space)
    {
        warn(
            "backup_target",
            format!("only {} free on the backup target", bytes(space.free_bytes)),
        );
    }
    if let Some(t) = s.host.cpu_temperature_celsius
        && cpu_hot(t)
    {
        warn(
            "cpu_temperature",
            format!("the CPU is at {t:.1} °C; it slows itself down to cool off"),
        );
    }
    if memory_low(&s.host.memory) {
        warn(
            "memory",
            format!(
                "only {} of memory available",
                bytes(s.host.memory.available_bytes)
            ),
        );
    }
    if s.database.migrations_applied != s.database.migrations_known {
        warn(
            "migrations",
            format!(
                "the database has {} of this version's {} migrations",
                s.database.migrations_applied, s.database.migrations_known
            ),
        );
    }
    if let Some(end) = s.certificate.not_after
        && (end - s.collected_at).num_days() < CERT_WARN_DAYS
    {
        warn(
            "certificate",
            format!("the HTTPS certificate expires {}", end.format("%Y-%m-%d")),
        );
    }
    out.extend(operational(
        s.email_configured,
        s.certificate.configured,
        &s.backup_target,
        &s.recent_job_runs,
        s.collected_at,
    ));
    out
}

/// What needs attention in how the department runs (as against the host): email, HTTPS,
/// backups and jobs. The status page and the dashboard both say it.
fn operational(
    email: bool,
    https: bool,
    backup: &BackupTarget,
    runs: &[JobRun],
    now: DateTime<Utc>,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |subject, message: String| out.push(Warning { subject, message });
    if !https {
        warn(
            "https",
            "HTTPS is off: passwords cross the station's network unprotected (unless a proxy \
             in front of Logbook provides HTTPS)"
                .into(),
        );
    }
    if !email {
        warn(
            "email",
            "email is not set up: members get no reminders by email and no password-reset links"
                .into(),
        );
    }
    if backup.configured {
        match backup.last_backup_at {
            None => warn("backup", "no backup has been made yet".into()),
            Some(at) if (now - at).num_days() >= BACKUP_WARN_DAYS => warn(
                "backup",
                format!("the last backup was made {}", at.format("%Y-%m-%d")),
            ),
            Some(_) => {}
        }
    }
    // A job whose latest run failed (a later success clears it).
    let mut seen: Vec<&str> = Vec::new();
    for run in runs {
        if seen.contains(&run.job.as_str()) {
            continue;
        }
        seen.push(&run.job);
        if run.outcome == "failed" {
            warn(
                "jobs",
                format!(
                    "the job {} failed at its last run ({})",
                    run.job,
                    run.started_at.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
    }
    out
}

/// The department's last job runs, newest first (ids are UUIDv7: their order is the order the
/// runs started in).
async fn recent_runs(conn: &mut crate::db::Conn, ctx: &Ctx) -> AppResult<Vec<JobRun>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs WHERE organization_id = ? ORDER BY id DESC LIMIT ?"
    )))
    .bind(ctx.org_id)
    .bind(RECENT_RUNS)
    .fetch_all(&mut *conn)
    .await?)
}

/// The department's operational warnings for the dashboard of a settings manager: cheap to
/// find (no host sampling), each with the settings page that fixes it.
pub async fn attention(state: &AppState, ctx: &Ctx) -> AppResult<Vec<(Warning, &'static str)>> {
    ctx.require(SETTINGS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let email = crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
    let runs = recent_runs(&mut conn, ctx).await?;
    drop(conn);
    let dir = state.config.backup_dir.clone();
    let data_dir = state.config.data_dir.clone();
    let (backup, data) =
        tokio::task::spawn_blocking(move || (BackupTarget::of(&dir), storage(&data_dir)))
            .await
            .context("reading the backup folder")?;
    let mut warnings = operational(email, state.tls.is_some(), &backup, &runs, Utc::now());
    // A full disk stops backups and then the database: say so while there is room to act.
    if let Some(space) = data.space.as_ref().filter(|s| disk_low(s)) {
        warnings.push(Warning {
            subject: "disk",
            message: format!(
                "only {} free on the disk holding Logbook's data",
                bytes(space.free_bytes)
            ),
        });
    }
    if let Some(space) = backup
        .storage
        .as_ref()
        .and_then(|t| t.space.as_ref())
        .filter(|s| disk_low(s))
    {
        warnings.push(Warning {
            subject: "backup",
            message: format!(
                "only {} free where backups are written",
                bytes(space.free_bytes)
            ),
        });
    }
    Ok(warnings
        .into_iter()
        .map(|w| {
            let page = match w.subject {
                "email" => "/settings/email",
                "https" => "/settings/https",
                "backup" => "/settings/backups",
                "jobs" => "/settings/jobs",
                _ => "/settings/status",
            };
            (w, page)
        })
        .collect())
}

/// A backup older than this many days is a warning (the scheduled one runs daily).
const BACKUP_WARN_DAYS: i64 = 8;

/// Bytes for people: "812 MiB", "1.4 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: &[&str] = &["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ if value < 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// A status as a Pi in trouble reports it: little disk and memory left, a hot CPU, a migration
/// missing and a certificate about to expire. For the tests of both faces.
#[cfg(test)]
pub(crate) fn troubled_example() -> SystemStatus {
    const GIB: u64 = 1 << 30;
    let now = Utc::now();
    let mut s = SystemStatus {
        app_version: "0.1.0",
        collected_at: now,
        host: HostStatus {
            host_name: Some("station-pi".into()),
            addresses: vec![Address {
                interface: "eth0".into(),
                address: "192.168.1.20".parse().unwrap(),
                prefix: 24,
            }],
            uptime_seconds: Some(3 * 86_400 + 3600),
            cpu_count: 4,
            load_average: Some(LoadAverage {
                one: 3.5,
                five: 2.0,
                fifteen: 1.25,
            }),
            cpu_temperature_celsius: Some(81.2),
            temperature_sensor: Some("cpu_thermal temp1".into()),
            memory: Memory {
                total_bytes: 4 * GIB,
                used_bytes: 3 * GIB + GIB * 7 / 10,
                available_bytes: GIB * 3 / 10,
            },
        },
        server: ServerProcess {
            pid: 812,
            uptime_seconds: Some(7200),
            rss_bytes: Some(48 << 20),
        },
        data_dir: Storage {
            path: "/var/lib/logbook".into(),
            space: Some(DiskSpace {
                mount_point: "/".into(),
                total_bytes: 30 * GIB,
                free_bytes: GIB / 2,
            }),
        },
        stored_files: vec![StoredFiles {
            folder: "documents".into(),
            files: 3,
            bytes: 210 << 20,
        }],
        backup_target: BackupTarget {
            configured: true,
            storage: Some(Storage {
                path: "/media/usb/logbook".into(),
                space: Some(DiskSpace {
                    mount_point: "/media/usb".into(),
                    total_bytes: 64 * GIB,
                    free_bytes: 40 * GIB,
                }),
            }),
            last_backup_at: None,
        },
        database: DatabaseStatus {
            version: "10.11.6-MariaDB-0+deb12u1".into(),
            size_bytes: 12 << 20,
            migrations_applied: 1,
            migrations_known: 2,
        },
        certificate: CertificateStatus {
            configured: true,
            mode: Some("self-signed".into()),
            source: Some("generated".into()),
            subject: Some("station-pi.local".into()),
            not_after: Some(now + chrono::Duration::days(3)),
            fingerprint_sha256: None,
        },
        recent_job_runs: Vec::new(),
        email_configured: false,
        warnings: Vec::new(),
    };
    s.warnings = warnings(&s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_about_what_needs_attention() {
        let s = troubled_example();
        let subjects: Vec<&str> = s.warnings.iter().map(|w| w.subject).collect();
        assert_eq!(
            subjects,
            [
                "data_dir",
                "cpu_temperature",
                "memory",
                "migrations",
                "certificate",
                "email",
                "backup"
            ]
        );
        assert_eq!(
            s.warnings[0].message,
            "only 512 MiB free on the disk holding the data directory"
        );
    }

    #[test]
    fn picks_the_cpu_sensor() {
        let s = |v: &[(&str, f32)]| -> Vec<(String, f32)> {
            v.iter().map(|(l, t)| (l.to_string(), *t)).collect()
        };
        assert_eq!(
            cpu_temperature(&s(&[
                ("nvme Composite", 40.0),
                ("coretemp Package id 0", 51.04)
            ])),
            Some(("coretemp Package id 0".into(), 51.0))
        );
        assert_eq!(
            cpu_temperature(&s(&[("cpu_thermal temp1", 48.312)])),
            Some(("cpu_thermal temp1".into(), 48.3))
        );
        // One sensor of unknown kind: the only thing there is.
        assert_eq!(
            cpu_temperature(&s(&[("acpitz temp1", 30.0)])),
            Some(("acpitz temp1".into(), 30.0))
        );
        // Several of unknown kind, or nonsense readings: none.
        assert_eq!(cpu_temperature(&s(&[("a", 30.0), ("b", 31.0)])), None);
        assert_eq!(
            cpu_temperature(&s(&[("cpu", f32::NAN), ("cpu2", 500.0)])),
            None
        );
        assert_eq!(cpu_temperature(&[]), None);
    }

    #[test]
    fn finds_the_mount_of_a_path() {
        let mounts = || {
            vec![
                (PathBuf::from("/"), 100, 50),
                (PathBuf::from("/var"), 200, 20),
                (PathBuf::from("/var/lib/logbook-other"), 300, 30),
                (PathBuf::from("/proc"), 0, 0),
            ]
        };
        let d = containing_mount(Path::new("/var/lib/logbook"), mounts()).unwrap();
        assert_eq!((d.mount_point.as_str(), d.total_bytes), ("/var", 200));
        let d = containing_mount(Path::new("/home/x"), mounts()).unwrap();
        assert_eq!(d.mount_point, "/");
        assert!(containing_mount(Path::new("/x"), Vec::new()).is_none());
    }

    #[test]
    fn thresholds() {
        let disk = |total: u64, free: u64| DiskSpace {
            mount_point: "/".into(),
            total_bytes: total,
            free_bytes: free,
        };
        const GIB: u64 = 1 << 30;
        assert!(!disk_low(&disk(100 * GIB, 11 * GIB)));
        assert!(disk_low(&disk(100 * GIB, 9 * GIB)), "under 10 %");
        assert!(disk_low(&disk(5 * GIB, GIB - 1)), "under 1 GiB");
        assert!(!disk_low(&disk(5 * GIB, GIB)));
        let mem = |total, available| Memory {
            total_bytes: total,
            used_bytes: total - available,
            available_bytes: available,
        };
        assert!(memory_low(&mem(1000, 99)));
        assert!(!memory_low(&mem(1000, 100)));
        assert!(!memory_low(&mem(0, 0)), "unknown is not low");
        assert!(cpu_hot(75.0) && !cpu_hot(74.9));
    }

    #[test]
    fn addresses_a_phone_can_reach() {
        let ok = |s: &str| reachable(&s.parse().unwrap());
        assert!(ok("192.168.1.20") && ok("fd00::2") && ok("2001:db8::1"));
        assert!(!ok("127.0.0.1") && !ok("::1") && !ok("fe80::1") && !ok("0.0.0.0"));
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(812 * 1024 * 1024), "812 MiB");
        assert_eq!(bytes(3 * (1 << 30) / 2), "1.5 GiB");
    }
}
