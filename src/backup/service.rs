//! Making, listing and checking backups. A backup takes every table in one consistent snapshot
//! (`START TRANSACTION WITH CONSISTENT SNAPSHOT`) while the server keeps serving, streams it into
//! a temporary file that is fsynced and renamed, then reads the archive back and checks it
//! against its manifest before it is listed as good. One backup or restore at a time (a MariaDB
//! named lock, so across processes too: the CLI and the server).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, MySqlPool, Row};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::archive::{
    self, AuditCheckpoint, CHUNK_BYTES, ColumnEntry, FileEntry, Manifest, Part, TableEntry,
};
use crate::db::NamedLock;

/// The name of the lock only one backup or restore of this database holds (MariaDB's lock names
/// are server-wide, so it names the database).
pub async fn lock_name(db: &MySqlPool) -> anyhow::Result<String> {
    let name: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(db)
        .await?;
    Ok(format!("logbook.backup.{name}").chars().take(64).collect())
}

/// Whether a backup or restore of this database runs now (its lock is held).
pub async fn busy(db: &MySqlPool) -> anyhow::Result<bool> {
    let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
        .bind(lock_name(db).await?)
        .fetch_one(db)
        .await?;
    Ok(holder.is_some())
}

/// Takes the backup lock of this database; an error says another backup or restore runs.
pub async fn lock(db: &MySqlPool) -> anyhow::Result<NamedLock> {
    match NamedLock::try_acquire(db, &lock_name(db).await?).await? {
        Some(l) => Ok(l),
        None => bail!("a backup or restore is already running; try again when it has finished"),
    }
}
/// Archives end in this; a temporary one (being written) ends in `.tmp` and is never listed.
pub const EXTENSION: &str = "lbk";
/// Room left free on the target beside the backup's estimated size.
const SPARE_BYTES: u64 = 64 * 1024 * 1024;

/// How far a running backup is, for a page that shows it live. Shared with the task making it.
#[derive(Debug, Default)]
pub struct Progress {
    stage: std::sync::Mutex<String>,
    tables_done: std::sync::atomic::AtomicU32,
    tables_total: std::sync::atomic::AtomicU32,
    rows: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ProgressView {
    /// What it is doing, in words: "tables", "files", "checking", "done".
    pub stage: String,
    pub tables_done: u32,
    pub tables_total: u32,
    pub rows: u64,
}

impl Progress {
    pub(super) fn set_stage(&self, stage: &str) {
        if let Ok(mut s) = self.stage.lock() {
            *s = stage.to_string();
        }
    }

    pub(super) fn set_tables(&self, total: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.tables_total
            .store(u32::try_from(total).unwrap_or(u32::MAX), Relaxed);
        self.tables_done.store(0, Relaxed);
        self.rows.store(0, Relaxed);
    }

    pub(super) fn table_done(&self) {
        self.tables_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn add_rows(&self, rows: u64) {
        self.rows
            .fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn view(&self) -> ProgressView {
        use std::sync::atomic::Ordering::Relaxed;
        ProgressView {
            stage: self.stage.lock().map(|s| s.clone()).unwrap_or_default(),
            tables_done: self.tables_done.load(Relaxed),
            tables_total: self.tables_total.load(Relaxed),
            rows: self.rows.load(Relaxed),
        }
    }
}

/// How to make a backup.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// Filled in as the backup goes.
    pub progress: Option<std::sync::Arc<Progress>>,
}

/// How to restore a backup.
#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    /// The passphrase of an encrypted archive; without one, the passphrase backups are made
    /// with on this server is tried.
    pub passphrase: Option<String>,
    /// Filled in as the restore goes.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// Putting the safety backup back after a failed restore: no safety backup of its own.
    pub(super) rollback: bool,
}

impl RestoreOptions {
    pub fn new(passphrase: Option<String>, progress: Option<std::sync::Arc<Progress>>) -> Self {
        RestoreOptions {
            passphrase,
            progress,
            rollback: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupInfo {
    pub file: String,
    pub path: String,
    pub bytes: u64,
    pub tables: usize,
    pub rows: u64,
    pub files: usize,
    pub schema_version: i64,
    pub app_version: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub seconds: f64,
    /// Made with the server's backup passphrase (see `key`).
    pub encrypted: bool,
}

/// `` `name` `` for SQL.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The default backup directory.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// Makes a backup of the whole database and the data directory's files into `dir`.
pub async fn create(
    db: &MySqlPool,
    data_dir: &Path,
    dir: &Path,
    options: &CreateOptions,
) -> anyhow::Result<BackupInfo> {
    let lock = lock(db).await?;
    let result = create_locked(db, data_dir, dir, options).await;
    lock.release().await;
    result
}

pub(super) async fn create_locked(
    db: &MySqlPool,
    data_dir: &Path,
    dir: &Path,
    options: &CreateOptions,
) -> anyhow::Result<BackupInfo> {
    let progress = options.progress.clone().unwrap_or_default();
    progress.set_stage("starting");
    let started = Instant::now();
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    check_space(db, data_dir, dir).await?;
    let passphrase = super::key::stored(data_dir)?;
    let created_at = crate::db::now();
    let file = format!(
        "logbook-{}-{}.{EXTENSION}",
        created_at.format("%Y%m%d-%H%M%S-%3f"),
        &Uuid::now_v7().simple().to_string()[24..]
    );
    let path = dir.join(&file);
    let tmp = dir.join(format!(".{file}.tmp"));
    let (tx, rx) = mpsc::channel::<Part>(2);
    let writer = {
        let (tmp, passphrase) = (tmp.clone(), passphrase.clone());
        tokio::task::spawn_blocking(move || archive::write_parts(&tmp, rx, passphrase.as_deref()))
    };
    let produced = produce(db, data_dir, dir, created_at, &tx, &progress).await;
    drop(tx);
    let written = writer.await.context("the archive writer stopped")?;
    let (manifest, bytes) = match (produced, written) {
        (Ok(m), Ok(bytes)) => (m, bytes),
        (Err(e), _) | (Ok(_), Err(e)) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot rename to {}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    // Read back before it counts: an archive that does not match its manifest is removed.
    progress.set_stage("checking");
    let check_path = path.clone();
    let check_passphrase = passphrase.clone();
    let checked = tokio::task::spawn_blocking(move || {
        archive::read_checked(&check_path, check_passphrase.as_deref(), |_| Ok(()))
    })
    .await
    .context("the archive check stopped")?;
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&path);
        bail!("the backup was written but does not read back correctly ({e}); it was removed");
    }
    let info = BackupInfo {
        file,
        path: path.display().to_string(),
        bytes,
        tables: manifest.tables.len(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        files: manifest.files.len(),
        schema_version: manifest.schema_version,
        app_version: manifest.app_version.clone(),
        created_at,
        seconds: started.elapsed().as_secs_f64(),
        encrypted: passphrase.is_some(),
    };
    progress.set_stage("done");
    tracing::info!(file = %info.file, bytes, rows = info.rows, seconds = info.seconds, "backup made");
    Ok(info)
}

/// Refuses before writing anything when the target has not room for the backup (estimated from
/// the database's size and the files') and some to spare.
async fn check_space(db: &MySqlPool, data_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let db_bytes: Option<u64> = sqlx::query_scalar(
        "SELECT CAST(SUM(data_length) AS UNSIGNED) FROM information_schema.tables
          WHERE table_schema = DATABASE()",
    )
    .fetch_one(db)
    .await?;
    let files: u64 = archive::data_files(data_dir, dir)?
        .iter()
        .filter_map(|p| std::fs::metadata(data_dir.join(p)).ok())
        .map(|m| m.len())
        .sum();
    let need = db_bytes.unwrap_or(0) + files + SPARE_BYTES;
    if let Some(space) = crate::system::status::storage(dir).space
        && space.free_bytes < need
    {
        bail!(
            "not enough free space in {}: {} free, a backup needs about {}",
            dir.display(),
            crate::system::status::bytes(space.free_bytes),
            crate::system::status::bytes(need)
        );
    }
    Ok(())
}

/// Sends every table (in one snapshot), every file and the manifest to the writer.
async fn produce(
    db: &MySqlPool,
    data_dir: &Path,
    dir: &Path,
    created_at: chrono::DateTime<chrono::Utc>,
    tx: &mpsc::Sender<Part>,
    progress: &Progress,
) -> anyhow::Result<Manifest> {
    let send = |part: Part| async {
        tx.send(part)
            .await
            .map_err(|_| anyhow::anyhow!("the archive writer stopped"))
    };
    let mut conn = db.acquire().await?;
    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *conn)
        .await?;
    sqlx::query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .execute(&mut *conn)
        .await?;
    let migrations: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
          WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'
            AND table_name <> '_sqlx_migrations'
          ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await?;
    progress.set_stage("tables");
    progress.set_tables(tables.len());
    let mut entries = Vec::new();
    for table in tables {
        let entry = dump_table(&mut conn, &table, |chunk, bytes| {
            send(Part::Rows {
                table: table.clone(),
                chunk,
                bytes,
            })
        })
        .await
        .with_context(|| format!("backing up table {table}"))?;
        progress.table_done();
        progress.add_rows(entry.rows);
        entries.push(entry);
    }
    let checkpoints: Vec<(Uuid, u64, String)> = sqlx::query_as(
        "SELECT organization_id, last_sequence, last_hash FROM audit_chain_heads
          ORDER BY organization_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    drop(conn);

    progress.set_stage("files");
    let mut files = Vec::new();
    for rel in archive::data_files(data_dir, dir)? {
        // Hashed here in pieces, then read again by the writer: one file is never held whole.
        let source = data_dir.join(&rel);
        let (bytes, sha256) = {
            let source = source.clone();
            tokio::task::spawn_blocking(move || hash_file(&source))
                .await
                .context("hashing a file")?
                .with_context(|| format!("cannot read {}", rel.display()))?
        };
        let path = rel.to_string_lossy().replace('\\', "/");
        files.push(FileEntry {
            path: path.clone(),
            bytes,
            sha256,
        });
        send(Part::File {
            path,
            source,
            bytes,
        })
        .await?;
    }
    let manifest = Manifest {
        format: archive::FORMAT,
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: migrations.last().copied().unwrap_or(0),
        migrations,
        created_at,
        tables: entries,
        files,
        audit_checkpoints: checkpoints
            .into_iter()
            .map(
                |(organization_id, last_sequence, last_hash)| AuditCheckpoint {
                    organization_id,
                    last_sequence,
                    last_hash,
                },
            )
            .collect(),
    };
    send(Part::Manifest(Box::new(manifest.clone()))).await?;
    Ok(manifest)
}

/// Streams one table's rows, in primary-key order, as JSON lines in chunks to `sink`; returns
/// its manifest entry. Every value goes out as text exactly as the database prints it (binary
/// ones as hex), so a restore puts back the same bytes.
pub async fn dump_table<F, Fut>(
    conn: &mut sqlx::MySqlConnection,
    table: &str,
    mut sink: F,
) -> anyhow::Result<TableEntry>
where
    F: FnMut(u32, Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use futures_util::TryStreamExt;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ? AND extra NOT LIKE '%GENERATED%'
          ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let key: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(column_name AS CHAR) FROM information_schema.key_column_usage
          WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY'
          ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let columns: Vec<ColumnEntry> = columns
        .into_iter()
        .map(|(name, kind)| ColumnEntry {
            binary: matches!(
                kind.to_ascii_lowercase().as_str(),
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
            ),
            name,
        })
        .collect();
    let select: Vec<String> = columns
        .iter()
        .map(|c| {
            if c.binary {
                format!("HEX({})", ident(&c.name))
            } else {
                format!("CAST({} AS CHAR)", ident(&c.name))
            }
        })
        .collect();
    // Without a primary key, every column orders the rows (a stable order for the checksum).
    let order: Vec<String> = if key.is_empty() {
        columns.iter().map(|c| ident(&c.name)).collect()
    } else {
        key.iter().map(|k| ident(k)).collect()
    };
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        select.join(", "),
        ident(table),
        order.join(", ")
    );
    let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *conn);
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut count = 0u64;
    let mut chunk = 0u32;
    while let Some(row) = rows.try_next().await? {
        let values: Vec<Option<String>> = (0..columns.len())
            .map(|i| row.try_get::<Option<String>, _>(i))
            .collect::<Result<_, _>>()?;
        serde_json::to_writer(&mut buf, &values)?;
        buf.push(b'\n');
        count += 1;
        if buf.len() >= CHUNK_BYTES {
            hasher.update(&buf);
            chunk += 1;
            sink(chunk, std::mem::take(&mut buf)).await?;
        }
    }
    drop(rows);
    if !buf.is_empty() {
        hasher.update(&buf);
        chunk += 1;
        sink(chunk, buf).await?;
    }
    Ok(TableEntry {
        name: table.to_string(),
        columns,
        rows: count,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Checks the archive at `path` against its manifest, decrypting it with `passphrase` when it is
/// encrypted. A refusal comes back as an `archive::Refusal` (downcast it to tell which).
pub async fn verify(path: &Path, passphrase: Option<&str>) -> anyhow::Result<archive::Checked> {
    let p = path.to_path_buf();
    let passphrase = passphrase.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        archive::read_checked(&p, passphrase.as_deref(), |_| Ok(()))
    })
    .await
    .context("the archive check stopped")?
    .map_err(|e| match e {
        archive::ReadError::Refused(r) => anyhow::Error::new(r),
        other => anyhow::anyhow!("{other}"),
    })
}

/// A backup in the directory (not checked: `verify` reads it all).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub file: String,
    pub bytes: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// The backups in `dir`, newest first. Temporary files of a backup being written (or cut short
/// by a crash) are not listed.
pub fn list(dir: &Path) -> anyhow::Result<Vec<Listed>> {
    let mut out = Vec::new();
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in read {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(&format!(".{EXTENSION}")) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        out.push(Listed {
            file: name,
            bytes: meta.len(),
            modified: meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| b.file.cmp(&a.file));
    Ok(out)
}

/// A file's size and SHA-256 (hex), read in pieces.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}
