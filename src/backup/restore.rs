//! Restoring a backup. The archive is checked first (a damaged, cut-short, foreign or newer one
//! is refused and nothing changes); a safety backup of the current data is made; the archive is
//! loaded into a scratch database migrated to the archive's schema; every table is dumped again
//! and compared with the manifest's counts and checksums; the scratch database is migrated to
//! this version; then one `RENAME TABLE` statement swaps all tables at once, so the live database
//! holds either the old data or the restored data, never a mix. The audit chains are verified
//! afterwards; if one is broken, the safety backup is restored.
//!
//! MariaDB will not move a table with triggers between databases, so the scratch tables' triggers
//! are dropped before the swap and created again on the live tables after it. Their definitions
//! are first written to `<data_dir>/restore-journal.json`; a server that starts and finds the
//! journal (the restore was cut off in that moment) creates any trigger still missing.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{AssertSqlSafe, MySqlPool};
use tokio::sync::mpsc;

use super::archive::{self, Entry, Manifest};
use super::service::{self, Progress, RestoreOptions};
use crate::db::{self, MIGRATOR};

const JOURNAL: &str = "restore-journal.json";
/// Rows per INSERT statement while loading.
const BATCH: usize = 200;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Restored {
    pub file: String,
    /// The backup of the data as it was just before, kept in the backup directory.
    pub safety_backup: Option<String>,
    pub tables: usize,
    pub rows: u64,
    /// The archive's schema, and this version's (migrations ran in between when they differ).
    pub from_schema: i64,
    pub to_schema: i64,
    pub seconds: f64,
    /// The archive was encrypted.
    pub encrypted: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Trigger {
    name: String,
    timing: String,
    event: String,
    table: String,
    statement: String,
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Restores `archive_path` over the database `db` (whose URL is `url`) and the data directory.
pub async fn restore(
    db: &MySqlPool,
    url: &str,
    data_dir: &Path,
    archive_path: &Path,
    backup_dir: &Path,
    options: &RestoreOptions,
) -> anyhow::Result<Restored> {
    let lock = service::lock(db).await?;
    let result = restore_locked(db, url, data_dir, archive_path, backup_dir, options).await;
    lock.release().await;
    result
}

/// `restore` for a caller that holds the backup lock already.
pub(super) async fn restore_locked(
    db: &MySqlPool,
    url: &str,
    data_dir: &Path,
    archive_path: &Path,
    backup_dir: &Path,
    options: &RestoreOptions,
) -> anyhow::Result<Restored> {
    let progress = options.progress.clone().unwrap_or_default();
    let restored = restore_with(
        db,
        url,
        data_dir,
        archive_path,
        backup_dir,
        options,
        &progress,
    )
    .await;
    progress.set_stage(if restored.is_ok() { "done" } else { "failed" });
    restored
}

#[allow(clippy::too_many_arguments)]
async fn restore_with(
    db: &MySqlPool,
    url: &str,
    data_dir: &Path,
    archive_path: &Path,
    backup_dir: &Path,
    options: &RestoreOptions,
    progress: &Progress,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    progress.set_stage("checking");
    let encrypted = archive::is_encrypted(archive_path)
        .with_context(|| format!("cannot read {}", archive_path.display()))?;
    let passphrase = match (&options.passphrase, encrypted) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => super::key::stored(data_dir)?,
        (None, false) => None,
    };
    let checked = service::verify(archive_path, passphrase.as_deref())
        .await
        .context("the backup was refused; nothing was changed")?;
    let manifest = checked.manifest;
    progress.set_tables(manifest.tables.len());
    let ours: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let newest = ours.iter().copied().max().unwrap_or(0);
    if manifest.schema_version > newest || manifest.migrations.iter().any(|v| !ours.contains(v)) {
        bail!(
            "the backup was made by a newer Logbook (database schema {}, this one knows up to \
             {newest}); update Logbook, then restore it; nothing was changed",
            manifest.schema_version
        );
    }
    // A rollback restores the safety backup, and makes none of its own.
    let safety_backup = if !options.rollback {
        progress.set_stage("safety backup");
        let made =
            service::create_locked(db, data_dir, backup_dir, &service::CreateOptions::default())
                .await
                .context("the safety backup of the current data failed; nothing was changed")?;
        Some(made.path)
    } else {
        None
    };

    let live: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(db)
        .await?;
    let scratch = format!("{live}_restore");
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {}",
        ident(&scratch)
    )))
    .execute(db)
    .await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ident(&scratch)
    )))
    .execute(db)
    .await
    .context(
        "cannot create the scratch database for the restore (the database user needs CREATE on it)",
    )?;
    progress.set_stage("loading");
    let loaded = load_into_scratch(
        url,
        data_dir,
        &scratch,
        archive_path,
        passphrase.as_deref(),
        &manifest,
        progress,
    )
    .await;
    let (scratch_pool, files) = match loaded {
        Ok(ok) => ok,
        Err(e) => {
            drop_database(db, &scratch).await;
            return Err(e.context("the backup could not be loaded; nothing was changed"));
        }
    };
    progress.set_stage("swapping");
    let swapped = swap(db, &scratch_pool, &live, &scratch, data_dir).await;
    scratch_pool.close().await;
    drop_database(db, &scratch).await;
    swapped.context("the restored data could not be put in place; nothing was changed")?;

    // The data directory's files: secrets, TLS material, documents.
    files.put_in_place()?;

    // A server without a backup passphrase of its own goes on with the one that opened the
    // archive: its backups were encrypted, and the person restoring knows it.
    if let Some(p) = passphrase.as_deref().filter(|_| encrypted)
        && super::key::stored(data_dir)?.is_none()
    {
        super::key::store(data_dir, p)?;
    }

    // The audit chains must verify, or the safety backup goes back.
    progress.set_stage("verifying the audit log");
    let orgs: Vec<crate::auth::OrgId> = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_all(db)
        .await?;
    for org in orgs {
        let report = crate::audit::chain::verify(db, org)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.to_problem().detail))?;
        if let Some(b) = report.first_broken {
            if let Some(safety) = &safety_backup {
                let rollback = RestoreOptions {
                    rollback: true,
                    ..RestoreOptions::default()
                };
                Box::pin(restore_locked(
                    db,
                    url,
                    data_dir,
                    Path::new(safety),
                    backup_dir,
                    &rollback,
                ))
                .await
                .context("rolling back to the safety backup failed")?;
                bail!(
                    "the restored audit log is broken at entry {} ({}); the data from before the \
                     restore was put back",
                    b.sequence,
                    b.reason
                );
            }
            bail!(
                "the restored audit log is broken at entry {} ({})",
                b.sequence,
                b.reason
            );
        }
    }
    let rows = manifest.tables.iter().map(|t| t.rows).sum();
    let info = Restored {
        file: archive_path.display().to_string(),
        safety_backup,
        tables: manifest.tables.len(),
        rows,
        from_schema: manifest.schema_version,
        to_schema: newest,
        seconds: started.elapsed().as_secs_f64(),
        encrypted,
    };
    tracing::info!(file = %info.file, rows, seconds = info.seconds, "backup restored");
    Ok(info)
}

async fn drop_database(db: &MySqlPool, name: &str) {
    if let Err(e) = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {}",
        ident(name)
    )))
    .execute(db)
    .await
    {
        tracing::warn!(error = %e, database = name, "could not drop the scratch database");
    }
}

/// The archive's files, each written beside its place as `<name>.restore.tmp` while the archive
/// is read (one file in memory at a time, never all of them: documents run to hundreds of MB),
/// moved into place once the data is swapped in. Any left when this is dropped — a restore that
/// stopped — are removed, so a failed restore changes no file.
#[derive(Default)]
struct Files(Vec<(PathBuf, PathBuf)>);

impl Files {
    /// Stages one file of the archive under `data_dir`; a path that would leave it is skipped.
    fn stage(&mut self, data_dir: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = Path::new(rel);
        if path.is_absolute()
            || path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Ok(());
        }
        let target = data_dir.join(path);
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".restore.tmp");
        let staged = target.with_file_name(name);
        crate::files::write_private(&staged, bytes)?;
        self.0.push((staged, target));
        Ok(())
    }

    /// Moves every staged file into place.
    fn put_in_place(mut self) -> anyhow::Result<()> {
        for (staged, target) in std::mem::take(&mut self.0) {
            std::fs::rename(&staged, &target)
                .with_context(|| format!("cannot put {} in place", target.display()))?;
        }
        Ok(())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for (staged, _) in &self.0 {
            let _ = std::fs::remove_file(staged);
        }
    }
}

/// Migrates the scratch database to the archive's schema, loads every row, checks each table
/// against the manifest, then migrates it to this version.
async fn load_into_scratch(
    url: &str,
    data_dir: &Path,
    scratch: &str,
    archive_path: &Path,
    passphrase: Option<&str>,
    manifest: &Manifest,
    progress: &Progress,
) -> anyhow::Result<(MySqlPool, Files)> {
    let options = db::connect_options(url)?.database(scratch);
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    let at_archive = sqlx::migrate::Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .iter()
                .filter(|m| m.version <= manifest.schema_version)
                .cloned()
                .collect(),
        ),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
        table_name: MIGRATOR.table_name.clone(),
        create_schemas: MIGRATOR.create_schemas.clone(),
    };
    at_archive
        .run(&pool)
        .await
        .context("preparing the scratch database")?;

    // The archive is read on a blocking thread; its chunks come here to be inserted.
    let (tx, mut rx) = mpsc::channel::<(String, Vec<u8>)>(2);
    let reader = {
        let path: PathBuf = archive_path.to_path_buf();
        let data_dir = data_dir.to_path_buf();
        let passphrase = passphrase.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut files = Files::default();
            archive::read_checked(&path, passphrase.as_deref(), |e| {
                match e {
                    Entry::Rows { table, bytes } => tx
                        .blocking_send((table.to_string(), bytes.to_vec()))
                        .map_err(|_| anyhow::anyhow!("the loader stopped"))?,
                    Entry::File { path, bytes } => files.stage(&data_dir, path, bytes)?,
                }
                Ok(())
            })
            .map(|_| files)
            .map_err(|e| anyhow::anyhow!("{e}"))
        })
    };
    let mut conn = pool.acquire().await?;
    sqlx::query("SET FOREIGN_KEY_CHECKS = 0")
        .execute(&mut *conn)
        .await?;
    // Migrations seed some tables (the permission catalogue); the archive has those rows too.
    for t in &manifest.tables {
        sqlx::query(AssertSqlSafe(format!("TRUNCATE TABLE {}", ident(&t.name))))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("emptying table {} of the scratch database", t.name))?;
    }
    let mut load_error = None;
    let mut current: Option<String> = None;
    while let Some((table, bytes)) = rx.recv().await {
        if load_error.is_some() {
            continue;
        }
        if current.as_deref() != Some(table.as_str()) {
            if current.is_some() {
                progress.table_done();
            }
            current = Some(table.clone());
        }
        match insert_chunk(&mut conn, manifest, &table, &bytes).await {
            Ok(()) => progress.add_rows(bytes.iter().filter(|b| **b == b'\n').count() as u64),
            Err(e) => load_error = Some(e.context(format!("loading table {table}"))),
        }
    }
    if current.is_some() && load_error.is_none() {
        progress.table_done();
    }
    let files = reader.await.context("the archive reader stopped")??;
    if let Some(e) = load_error {
        return Err(e);
    }
    sqlx::query("SET FOREIGN_KEY_CHECKS = 1")
        .execute(&mut *conn)
        .await?;

    progress.set_stage("comparing");
    // Each table, dumped again from the scratch database, must be the archive's.
    for t in &manifest.tables {
        let again = service::dump_table(&mut conn, &t.name, |_, _| async { Ok(()) }).await?;
        if again.rows != t.rows || again.sha256 != t.sha256 {
            bail!(
                "table {} did not load exactly ({} of {} rows)",
                t.name,
                again.rows,
                t.rows
            );
        }
    }
    drop(conn);
    MIGRATOR
        .run(&pool)
        .await
        .context("bringing the restored data up to this version's schema")?;
    Ok((pool, files))
}

async fn insert_chunk(
    conn: &mut sqlx::MySqlConnection,
    manifest: &Manifest,
    table: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let entry = manifest
        .tables
        .iter()
        .find(|t| t.name == table)
        .with_context(|| format!("table {table} is not in the manifest"))?;
    let columns: Vec<String> = entry.columns.iter().map(|c| ident(&c.name)).collect();
    let placeholder = format!(
        "({})",
        entry
            .columns
            .iter()
            .map(|c| if c.binary { "UNHEX(?)" } else { "?" })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<Vec<Option<String>>> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<Result<_, _>>()?;
    for batch in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            ident(table),
            columns.join(", "),
            vec![placeholder.as_str(); batch.len()].join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in batch {
            if row.len() != columns.len() {
                bail!(
                    "a row of {table} has {} values for {} columns",
                    row.len(),
                    columns.len()
                );
            }
            for v in row {
                q = q.bind(v.clone());
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Puts the scratch tables in place of the live ones in one statement; the live ones move to
/// `<live>_old` (foreign key names are unique per database, so they cannot stay beside the
/// restored ones), which is dropped afterwards.
async fn swap(
    db: &MySqlPool,
    scratch_pool: &MySqlPool,
    live: &str,
    scratch: &str,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let tables = |schema: &str| {
        sqlx::query_scalar::<_, String>(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
              WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
        .bind(schema.to_string())
        .fetch_all(db)
    };
    let live_tables = tables(live).await?;
    let scratch_tables = tables(scratch).await?;
    let old = old_database(live);
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {}",
        ident(&old)
    )))
    .execute(db)
    .await?;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ident(&old)
    )))
    .execute(db)
    .await
    .context("cannot create the database the old tables move to")?;
    let triggers = |schema: &str| {
        sqlx::query_as::<_, (String, String, String, String, String)>(
            "SELECT CAST(trigger_name AS CHAR), CAST(action_timing AS CHAR),
                    CAST(event_manipulation AS CHAR), CAST(event_object_table AS CHAR),
                    CAST(action_statement AS CHAR)
               FROM information_schema.triggers WHERE trigger_schema = ? ORDER BY trigger_name",
        )
        .bind(schema.to_string())
        .fetch_all(db)
    };
    let wanted: Vec<Trigger> = triggers(scratch)
        .await?
        .into_iter()
        .map(|(name, timing, event, table, statement)| Trigger {
            name,
            timing,
            event,
            table,
            statement,
        })
        .collect();
    let live_triggers: Vec<String> = triggers(live).await?.into_iter().map(|t| t.0).collect();
    // MariaDB moves no table with triggers to another database. The journal first: if the
    // process stops before the triggers are back, the next start creates them.
    crate::files::write_private(
        &data_dir.join(JOURNAL),
        &serde_json::to_vec_pretty(&wanted)?,
    )?;
    for t in &wanted {
        sqlx::query(AssertSqlSafe(format!(
            "DROP TRIGGER {}.{}",
            ident(scratch),
            ident(&t.name)
        )))
        .execute(scratch_pool)
        .await?;
    }
    for name in &live_triggers {
        sqlx::query(AssertSqlSafe(format!(
            "DROP TRIGGER {}.{}",
            ident(live),
            ident(name)
        )))
        .execute(db)
        .await?;
    }
    let mut renames: Vec<String> = live_tables
        .iter()
        .map(|t| {
            format!(
                "{}.{} TO {}.{}",
                ident(live),
                ident(t),
                ident(&old),
                ident(t)
            )
        })
        .collect();
    renames.extend(scratch_tables.iter().map(|t| {
        format!(
            "{}.{} TO {}.{}",
            ident(scratch),
            ident(t),
            ident(live),
            ident(t)
        )
    }));
    // Waits for transactions using the live tables to finish, but not for ever.
    let mut conn = db.acquire().await?;
    sqlx::query("SET SESSION lock_wait_timeout = 60")
        .execute(&mut *conn)
        .await?;
    let renamed = sqlx::query(AssertSqlSafe(format!(
        "RENAME TABLE {}",
        renames.join(", ")
    )))
    .execute(&mut *conn)
    .await;
    drop(conn);
    // Either way the live tables get their triggers back (the old ones' definitions are the
    // same: both databases are at this version's schema).
    let finished = finish_swap(db, data_dir).await;
    renamed.map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "swapping the tables ({} live, {} restored)",
            live_tables.len(),
            scratch_tables.len()
        ))
    })?;
    finished
}

fn old_database(live: &str) -> String {
    format!("{live}_old")
}

/// After the swap (or at start, if a restore stopped around it): the triggers on the live
/// tables, and the old tables dropped.
pub async fn finish_swap(db: &MySqlPool, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(JOURNAL);
    let triggers: Vec<Trigger> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).context("reading the restore journal")?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context("reading the restore journal"),
    };
    let mut conn = db.acquire().await?;
    for t in &triggers {
        sqlx::query(AssertSqlSafe(format!(
            "DROP TRIGGER IF EXISTS {}",
            ident(&t.name)
        )))
        .execute(&mut *conn)
        .await?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TRIGGER {} {} {} ON {} FOR EACH ROW {}",
            ident(&t.name),
            t.timing,
            t.event,
            ident(&t.table),
            t.statement
        )))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("creating trigger {}", t.name))?;
    }
    let live: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {}",
        ident(&old_database(&live))
    )))
    .execute(&mut *conn)
    .await?;
    std::fs::remove_file(&path).context("removing the restore journal")?;
    Ok(())
}
