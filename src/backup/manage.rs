//! Backups from the administrator's side (`settings.manage`): the list with what each archive
//! holds, "back up now" in the background with live progress, checking, downloading and deleting.
//!
//! A backup holds the whole database — every organization on the host — so these work only
//! while the host serves exactly one organization; with more, backups are the host operator's
//! business (`logbook backup` on the command line).
//!
//! Reading an archive's manifest means reading the whole archive (the manifest is at its end),
//! so after an archive is made or checked a small sidecar `<file>.json` beside it keeps the
//! summary; the list reads those.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::archive;
use super::restoring::{self, RestoreRun, Starter};
use super::service::{self, BackupInfo, Progress, ProgressView};
use crate::audit::{self, Entry, Severity};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What the list shows of an archive once it has been read through.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Summary {
    pub app_version: String,
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    pub tables: usize,
    pub rows: u64,
    pub files: usize,
}

/// The sidecar `<file>.json`: what the last check of the archive found.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sidecar {
    /// The archive's size when checked; a different size now means it changed since.
    bytes: u64,
    checked_at: DateTime<Utc>,
    /// Why it failed its check; None: it read back correctly.
    problem: Option<String>,
    summary: Option<Summary>,
    /// Encrypted with a passphrase this server does not have: not checked until it is given.
    #[serde(default)]
    needs_passphrase: bool,
}

/// One backup in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupEntry {
    pub file: String,
    pub bytes: u64,
    pub modified: DateTime<Utc>,
    /// Whether it has been read through (when made, or by "check"); until then what it holds is
    /// not known.
    pub checked: bool,
    pub checked_at: Option<DateTime<Utc>>,
    /// It read back and matches its manifest.
    pub verified: bool,
    /// Why it failed its check.
    pub problem: Option<String>,
    /// Verified, and of a schema this version of Logbook can restore (not newer than its newest
    /// migration).
    pub restorable: bool,
    /// Encrypted with a passphrase this server does not have: what it holds is known once it is
    /// restored with its passphrase.
    pub needs_passphrase: bool,
    /// Uploaded (not made by this server); retention never deletes it.
    pub uploaded: bool,
    pub app_version: Option<String>,
    pub schema_version: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub tables: Option<usize>,
    pub rows: Option<u64>,
    /// Encrypted with a passphrase (restoring it needs that passphrase).
    pub encrypted: bool,
}

/// The backups and what this server can restore.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupList {
    pub backups: Vec<BackupEntry>,
    /// The newest schema this version restores.
    pub schema_version: i64,
    /// New backups are encrypted (a backup passphrase is set).
    pub encrypting: bool,
}

/// A "back up now": running, or how the last one ended.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BackupRun {
    pub running: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub started_by: Option<String>,
    pub progress: Option<ProgressView>,
    /// The backup made, once it succeeded.
    pub result: Option<BackupInfo>,
    /// Why it failed.
    pub error: Option<String>,
}

impl BackupRun {
    fn none() -> Self {
        BackupRun {
            running: false,
            started_at: None,
            finished_at: None,
            started_by: None,
            progress: None,
            result: None,
            error: None,
        }
    }
}

struct Run {
    id: uuid::Uuid,
    progress: Arc<Progress>,
    started_at: DateTime<Utc>,
    started_by: String,
    finished_at: Option<DateTime<Utc>>,
    result: Option<BackupInfo>,
    error: Option<String>,
}

/// The last "back up now" of each database this process serves (one, except in tests), keyed by
/// its lock name.
static RUNS: Mutex<Option<HashMap<String, Run>>> = Mutex::new(None);

fn with_runs<T>(f: impl FnOnce(&mut HashMap<String, Run>) -> T) -> T {
    let mut guard = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// The newest schema this build knows.
pub fn newest_schema() -> i64 {
    crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

pub fn backup_dir(state: &AppState) -> PathBuf {
    state.config.backup_dir.clone()
}

pub const SEVERAL_DEPARTMENTS: &str = "this server holds several departments; backups are made \
     from the command line (`logbook backup`)";

/// The permission, then the one-organization rule.
pub async fn allowed(state: &AppState, ctx: &Ctx) -> AppResult<()> {
    ctx.require(SETTINGS_MANAGE)?;
    let organizations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&state.db)
        .await?;
    if organizations > 1 {
        return Err(AppError::Conflict(SEVERAL_DEPARTMENTS.into()));
    }
    Ok(())
}

fn sidecar_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.json"))
}

fn read_sidecar(dir: &Path, file: &str) -> Option<Sidecar> {
    let bytes = std::fs::read(sidecar_path(dir, file)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_sidecar(dir: &Path, file: &str, sidecar: &Sidecar) {
    let written = serde_json::to_vec_pretty(sidecar)
        .map_err(anyhow::Error::from)
        .and_then(|b| crate::files::write_private(&sidecar_path(dir, file), &b));
    if let Err(e) = written {
        // The archive is fine; the list says "not checked yet" and a check writes it again.
        tracing::warn!(file, error = %e, "cannot write the backup's summary");
    }
}

/// Writes the sidecar of a backup just made (and checked by `create`). For any code that makes
/// backups (the schedule too), so the list knows what it holds without reading it.
pub fn record_made(dir: &Path, info: &BackupInfo) {
    write_sidecar(
        dir,
        &info.file,
        &Sidecar {
            bytes: info.bytes,
            checked_at: Utc::now(),
            problem: None,
            summary: Some(Summary {
                app_version: info.app_version.clone(),
                schema_version: info.schema_version,
                created_at: info.created_at,
                tables: info.tables,
                rows: info.rows,
                files: info.files,
            }),
            needs_passphrase: false,
        },
    );
}

fn summary_of(c: &archive::Checked) -> Summary {
    Summary {
        app_version: c.manifest.app_version.clone(),
        schema_version: c.manifest.schema_version,
        created_at: c.manifest.created_at,
        tables: c.manifest.tables.len(),
        rows: c.manifest.tables.iter().map(|t| t.rows).sum(),
        files: c.manifest.files.len(),
    }
}

/// Writes the sidecar of an archive that was just read through and checks out.
pub(super) fn record_checked(dir: &Path, file: &str, checked: &archive::Checked) {
    write_sidecar(
        dir,
        file,
        &Sidecar {
            bytes: checked.bytes,
            checked_at: Utc::now(),
            problem: None,
            summary: Some(summary_of(checked)),
            needs_passphrase: false,
        },
    );
}

/// Whether the refusal is one a passphrase would lift.
fn wants_passphrase(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<archive::Refusal>(),
        Some(archive::Refusal::NeedsPassphrase | archive::Refusal::WrongPassphrase)
    )
}

/// Removes the sidecar of a backup that is gone (for any code that deletes backups: retention
/// too); a missing one is fine.
pub fn forget(dir: &Path, file: &str) {
    match std::fs::remove_file(sidecar_path(dir, file)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file, error = %e, "cannot remove the backup's summary"),
    }
}

fn entry(dir: &Path, listed: service::Listed, newest: i64) -> BackupEntry {
    let sidecar = read_sidecar(dir, &listed.file).filter(|s| s.bytes == listed.bytes);
    let summary = sidecar.as_ref().and_then(|s| s.summary.clone());
    let verified = sidecar
        .as_ref()
        .is_some_and(|s| s.problem.is_none() && s.summary.is_some());
    BackupEntry {
        checked: sidecar.is_some(),
        checked_at: sidecar.as_ref().map(|s| s.checked_at),
        problem: sidecar.as_ref().and_then(|s| s.problem.clone()),
        restorable: verified && summary.as_ref().is_some_and(|s| s.schema_version <= newest),
        needs_passphrase: sidecar.as_ref().is_some_and(|s| s.needs_passphrase),
        uploaded: listed.file.starts_with(super::upload::PREFIX),
        verified,
        app_version: summary.as_ref().map(|s| s.app_version.clone()),
        schema_version: summary.as_ref().map(|s| s.schema_version),
        created_at: summary.as_ref().map(|s| s.created_at),
        tables: summary.as_ref().map(|s| s.tables),
        rows: summary.as_ref().map(|s| s.rows),
        encrypted: super::archive::is_encrypted(&dir.join(&listed.file)).unwrap_or(false),
        file: listed.file,
        bytes: listed.bytes,
        modified: listed.modified,
    }
}

pub async fn list(state: &AppState, ctx: &Ctx) -> AppResult<BackupList> {
    allowed(state, ctx).await?;
    let dir = backup_dir(state);
    let newest = newest_schema();
    let backups = blocking(move || {
        Ok(service::list(&dir)?
            .into_iter()
            .map(|l| entry(&dir, l, newest))
            .collect())
    })
    .await?;
    Ok(BackupList {
        backups,
        schema_version: newest,
        encrypting: super::key::stored(&state.config.data_dir)?.is_some(),
    })
}

/// The path of the listed backup `file`. A name with a path separator or `..` is refused
/// outright; any other name not in the list is not found. Nothing outside the backup directory
/// is ever named.
pub(super) async fn listed_path(
    state: &AppState,
    file: &str,
) -> AppResult<(PathBuf, service::Listed)> {
    if file.is_empty()
        || file.contains(['/', '\\', '\0'])
        || file.contains("..")
        || file.starts_with('.')
    {
        return Err(AppError::BadRequest(
            "a backup is named by its file name alone".into(),
        ));
    }
    let dir = backup_dir(state);
    let listed = {
        let dir = dir.clone();
        blocking(move || Ok(service::list(&dir)?)).await?
    };
    let found = listed
        .into_iter()
        .find(|l| l.file == file)
        .ok_or(AppError::NotFound)?;
    Ok((dir.join(&found.file), found))
}

/// The backup `file` to download: its path and size.
pub async fn download(state: &AppState, ctx: &Ctx, file: &str) -> AppResult<(PathBuf, u64)> {
    allowed(state, ctx).await?;
    let (path, listed) = listed_path(state, file).await?;
    Ok((path, listed.bytes))
}

/// Reads the backup through and records what it found; a backup that does not check out is
/// refused with the reason (and the list shows it).
pub async fn check(state: &AppState, ctx: &Ctx, file: &str) -> AppResult<BackupEntry> {
    allowed(state, ctx).await?;
    let (path, listed) = listed_path(state, file).await?;
    let dir = backup_dir(state);
    // In a task of its own: the result is recorded even if the caller stops waiting.
    let passphrase = super::key::stored(&state.config.data_dir)?;
    let checking = {
        let (dir, file) = (dir.clone(), listed.file.clone());
        tokio::spawn(async move {
            let checked = service::verify(&path, passphrase.as_deref()).await;
            let sidecar = match &checked {
                Ok(c) => Sidecar {
                    bytes: c.bytes,
                    checked_at: Utc::now(),
                    problem: None,
                    summary: Some(summary_of(c)),
                    needs_passphrase: false,
                },
                Err(e) => Sidecar {
                    bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                    checked_at: Utc::now(),
                    // Not damaged: the restore asks for its passphrase.
                    problem: (!wants_passphrase(e)).then(|| e.to_string()),
                    summary: None,
                    needs_passphrase: wants_passphrase(e),
                },
            };
            write_sidecar(&dir, &file, &sidecar);
            checked.map(|_| ()).map_err(|e| e.to_string())
        })
    };
    let outcome = checking
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the check stopped: {e}")))?;
    if let Err(problem) = outcome {
        return Err(AppError::Rejected(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} does not check out: {problem}", listed.file),
        ));
    }
    let newest = newest_schema();
    blocking(move || Ok(entry(&dir, listed, newest))).await
}

/// Deletes the backup and its sidecar; the audit entry and the deletion go together.
pub async fn delete(state: &AppState, ctx: &Ctx, file: &str) -> AppResult<()> {
    allowed(state, ctx).await?;
    let (path, listed) = listed_path(state, file).await?;
    // Not while a backup or restore runs (it may be reading this one).
    let lock = service::lock(&state.db)
        .await
        .map_err(|e| AppError::Conflict(e.to_string()))?;
    let result = async {
        let mut tx = state.db.begin().await?;
        audit::record(
            &mut tx,
            &ctx.actor(),
            Entry::new("backup.deleted", "backup", &listed.file)
                .changes(json!({"file": listed.file, "bytes": listed.bytes})),
        )
        .await?;
        let dir = backup_dir(state);
        let file = listed.file.clone();
        blocking(move || {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", path.display()))?;
            forget(&dir, &file);
            Ok(())
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    lock.release().await;
    result
}

/// How "back up now" is going (or how the last one ended).
pub async fn progress(state: &AppState, ctx: &Ctx) -> AppResult<BackupRun> {
    allowed(state, ctx).await?;
    let key = service::lock_name(&state.db).await?;
    Ok(run_of(&key).unwrap_or_else(BackupRun::none))
}

fn run_of(key: &str) -> Option<BackupRun> {
    with_runs(|runs| {
        runs.get(key).map(|r| BackupRun {
            running: r.finished_at.is_none(),
            started_at: Some(r.started_at),
            finished_at: r.finished_at,
            started_by: Some(r.started_by.clone()),
            progress: Some(r.progress.view()),
            result: r.result.clone(),
            error: r.error.clone(),
        })
    })
}

/// Starts a backup in the background; 409 while one (or a restore) runs, here or from the
/// command line (the backup lock decides). When it ends, `backup.created` or `backup.failed`
/// goes into the audit log, before the run shows as finished.
pub async fn start(state: &AppState, ctx: &Ctx) -> AppResult<BackupRun> {
    allowed(state, ctx).await?;
    let key = service::lock_name(&state.db).await?;
    let lock = service::lock(&state.db).await.map_err(|_| {
        AppError::Conflict(
            "a backup or restore is already running; try again when it has finished".into(),
        )
    })?;
    let progress = Arc::new(Progress::default());
    let run_id = uuid::Uuid::now_v7();
    with_runs(|runs| {
        runs.insert(
            key.clone(),
            Run {
                id: run_id,
                progress: progress.clone(),
                started_at: Utc::now(),
                started_by: ctx.username.clone(),
                finished_at: None,
                result: None,
                error: None,
            },
        )
    });
    let (db, data_dir, dir, actor) = (
        state.db.clone(),
        state.config.data_dir.clone(),
        backup_dir(state),
        ctx.actor(),
    );
    let task_key = key.clone();
    let options = service::CreateOptions {
        progress: Some(progress),
    };
    let started_at = crate::db::now();
    tokio::spawn(async move {
        let made = service::create_locked(&db, &data_dir, &dir, &options)
            .await
            .map_err(|e| format!("{e:#}"));
        let entry = match &made {
            Ok(info) => {
                record_made(&dir, info);
                Entry::new("backup.created", "backup", &info.file).changes(json!({
                    "file": info.file,
                    "bytes": info.bytes,
                    "rows": info.rows,
                }))
            }
            Err(reason) => {
                tracing::warn!(error = %reason, "back up now failed");
                Entry::new("backup.failed", "backup", "now")
                    .severity(Severity::Warning)
                    .changes(json!({"reason": reason}))
            }
        };
        let recorded = async {
            let mut tx = db.begin().await?;
            audit::record(&mut tx, &actor, entry).await?;
            // "Back up now" is a run of the backup job: its last run and the status count it.
            crate::jobs::runner::record_manual_run(
                &mut tx,
                actor.org_id,
                super::schedule::BACKUP_JOB,
                actor.user_id,
                started_at,
                made.as_ref().map(|_| 1).map_err(String::as_str),
            )
            .await?;
            tx.commit().await?;
            AppResult::Ok(())
        }
        .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "a backup's audit entry could not be written");
        }
        with_runs(|runs| {
            if let Some(run) = runs.get_mut(&task_key).filter(|r| r.id == run_id) {
                run.finished_at = Some(Utc::now());
                match made {
                    Ok(info) => run.result = Some(info),
                    Err(reason) => run.error = Some(reason),
                }
            }
        });
        lock.release().await;
    });
    run_of(&key)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the backup run was not recorded")))
}

/// File work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("backup file work stopped: {e}")))?
}

/// Receives an uploaded archive (streamed to disk, checked) into the backup directory and lists
/// it; audited. Not an archive, damaged or cut short: 422 and nothing kept.
pub async fn upload(
    state: &AppState,
    ctx: &Ctx,
    body: axum::body::Body,
    declared: Option<u64>,
) -> AppResult<BackupEntry> {
    allowed(state, ctx).await?;
    let dir = backup_dir(state);
    let received = super::upload::receive(&dir, &state.config.data_dir, body, declared).await?;
    record_received(&dir, &received);
    let recorded = async {
        let mut tx = state.db.begin().await?;
        audit::record(
            &mut tx,
            &ctx.actor(),
            Entry::new("backup.uploaded", "backup", &received.file).changes(json!({
                "file": received.file,
                "bytes": received.bytes,
                "needs_passphrase": received.checked.is_none(),
            })),
        )
        .await?;
        tx.commit().await?;
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = recorded {
        // Not recorded, not kept.
        let _ = std::fs::remove_file(dir.join(&received.file));
        forget(&dir, &received.file);
        return Err(e);
    }
    Ok(received_entry(&dir, &received))
}

/// The sidecar of an archive just uploaded.
pub(super) fn record_received(dir: &Path, received: &super::upload::Received) {
    match &received.checked {
        Some(c) => record_checked(dir, &received.file, c),
        None => write_sidecar(
            dir,
            &received.file,
            &Sidecar {
                bytes: received.bytes,
                checked_at: Utc::now(),
                problem: None,
                summary: None,
                needs_passphrase: true,
            },
        ),
    }
}

/// The list's entry of an archive just uploaded.
pub(super) fn received_entry(dir: &Path, received: &super::upload::Received) -> BackupEntry {
    let listed = service::Listed {
        file: received.file.clone(),
        bytes: received.bytes,
        modified: Utc::now(),
    };
    entry(dir, listed, newest_schema())
}

/// Starts restoring the listed backup `file` in the background (see `restoring`): 404 for a
/// name not in the list, 409 while a backup or restore runs, 422 on `passphrase` when the
/// archive is encrypted and the passphrase (given, or the server's) does not open it.
pub async fn restore(
    state: &AppState,
    ctx: &Ctx,
    file: &str,
    passphrase: Option<String>,
) -> AppResult<RestoreRun> {
    allowed(state, ctx).await?;
    let (path, listed) = listed_path(state, file).await?;
    restoring::start(
        state,
        path,
        listed.file,
        passphrase,
        Starter::Admin(ctx.actor()),
    )
    .await
}

/// How the last restore is going or ended: for its run's secret (which still works once the
/// restore has ended every session), or for an administrator.
pub async fn restore_progress(
    state: &AppState,
    ctx: Option<&Ctx>,
    secret: Option<&str>,
) -> AppResult<RestoreRun> {
    if let Some(secret) = secret
        && let Some(run) = restoring::by_secret(state, secret).await?
    {
        return Ok(run);
    }
    let ctx = ctx.ok_or_else(|| AppError::Unauthorized("sign in first".into()))?;
    allowed(state, ctx).await?;
    restoring::last(state).await
}

/// The setup wizard's upload (no department exists yet, so nothing to audit in): like `upload`.
/// The setup token was checked (`_token`).
pub async fn wizard_upload(
    state: &AppState,
    _token: &crate::setup::api::SetupToken,
    body: axum::body::Body,
    declared: Option<u64>,
) -> AppResult<BackupEntry> {
    let dir = backup_dir(state);
    let received = super::upload::receive(&dir, &state.config.data_dir, body, declared).await?;
    record_received(&dir, &received);
    Ok(received_entry(&dir, &received))
}

/// The setup wizard's restore of the backup `file` (uploaded, or put in the backup folder by
/// hand): like `restore`; `backup.restored` goes into each restored organization's log.
pub async fn wizard_restore(
    state: &AppState,
    token: &crate::setup::api::SetupToken,
    file: &str,
    passphrase: Option<String>,
) -> AppResult<RestoreRun> {
    let (path, listed) = listed_path(state, file).await?;
    restoring::start(
        state,
        path,
        listed.file,
        passphrase,
        Starter::Wizard {
            ip: token.ip.to_string(),
        },
    )
    .await
}

/// The backups in the backup folder, for the wizard to offer (the token was checked).
pub async fn wizard_list(
    state: &AppState,
    _token: &crate::setup::api::SetupToken,
) -> AppResult<Vec<BackupEntry>> {
    let dir = backup_dir(state);
    let newest = newest_schema();
    blocking(move || {
        Ok(service::list(&dir)?
            .into_iter()
            .map(|l| entry(&dir, l, newest))
            .collect())
    })
    .await
}

/// The listed backup `file` for the restore confirmation, and whether the page must ask for its
/// passphrase (encrypted, and the server's passphrase does not open it).
pub async fn restore_confirm(
    state: &AppState,
    ctx: &Ctx,
    file: &str,
) -> AppResult<(BackupEntry, bool)> {
    allowed(state, ctx).await?;
    let (path, listed) = listed_path(state, file).await?;
    let dir = backup_dir(state);
    let stored = super::key::stored(&state.config.data_dir)?;
    let newest = newest_schema();
    blocking(move || {
        let encrypted = archive::is_encrypted(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let asks = encrypted
            && stored
                .as_deref()
                .is_none_or(|p| super::archive::opens(&path, p).is_err());
        Ok((entry(&dir, listed, newest), asks))
    })
    .await
}
