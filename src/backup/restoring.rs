//! Restoring from the web (the backups page, its API, and the setup wizard): a restore runs in
//! the background under the backup lock, with its progress by stage, like "back up now".
//!
//! Restoring replaces the database, and with it every session: the person who started it is
//! signed out when it ends. So each run has a secret (`run_token`) that its starter keeps (the
//! pages put it in a cookie, API clients send it in `X-Restore-Run`) and that shows the run's
//! progress and result without a session.
//!
//! After a successful restore: every session of the restored data is ended (sessions from the
//! backup's time must not come back to life), `backup.restored` goes into the restored
//! audit log, the restored secrets (JWT key, encryption key, certificate) are used at once, and
//! a server in setup mode leaves it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::archive::{self, Refusal};
use super::service::{self, Progress, ProgressView, RestoreOptions};
use crate::audit::{self, Actor, Entry, Severity};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The header that carries a run's secret.
pub const RUN_HEADER: &str = "x-restore-run";
/// The page cookie that carries it.
pub const RUN_COOKIE: &str = "logbook_restore";

/// What a restore put back.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RestoreResult {
    pub file: String,
    /// The backup of the data as it was just before, in the backup list.
    pub safety_backup: Option<String>,
    pub tables: usize,
    pub rows: u64,
    pub from_schema: i64,
    pub to_schema: i64,
    pub seconds: f64,
    pub encrypted: bool,
    /// Sessions ended (everyone signs in again).
    pub sessions_ended: u64,
    /// Something after the restore that did not work (the data is restored).
    pub warning: Option<String>,
}

/// A restore: running, or how it ended.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RestoreRun {
    pub running: bool,
    /// The archive being restored (empty when none ran).
    pub file: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub started_by: Option<String>,
    /// Stage: checking, safety backup, loading, comparing, swapping, verifying the audit log,
    /// done, failed.
    pub progress: Option<ProgressView>,
    pub result: Option<RestoreResult>,
    /// Why it failed (nothing was changed unless it says so).
    pub error: Option<String>,
    /// The run's secret: send it in `X-Restore-Run` to follow the run after the restore has
    /// ended every session. Only in the answer that started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_token: Option<String>,
}

impl RestoreRun {
    pub fn none() -> Self {
        RestoreRun {
            running: false,
            file: String::new(),
            started_at: None,
            finished_at: None,
            started_by: None,
            progress: None,
            result: None,
            error: None,
            run_token: None,
        }
    }
}

/// Who starts a restore.
#[derive(Debug, Clone)]
pub enum Starter {
    /// An administrator (`settings.manage`) of the one organization.
    Admin(Actor),
    /// The setup wizard (the setup token); from this address.
    Wizard { ip: String },
    /// `logbook backup restore` on the box, by this operating-system user.
    CommandLine { user: String },
}

impl Starter {
    fn label(&self) -> String {
        match self {
            Starter::Admin(a) => a.label.clone(),
            Starter::Wizard { .. } => "setup wizard".into(),
            Starter::CommandLine { user } => format!("{user} (command line)"),
        }
    }
}

/// What `logbook backup restore` does once the data is back, as the web restore does: every
/// session ended (a token signed out after the backup must not come back to life) and
/// `backup.restored` in each restored organization's log. Returns the sessions ended.
pub async fn after_command_line_restore(
    state: &AppState,
    restored: &super::restore::Restored,
    user: &str,
) -> AppResult<u64> {
    let safety_backup = restored.safety_backup.as_deref().map(file_name);
    record_restored(
        state,
        &file_name(&restored.file),
        restored,
        &safety_backup,
        &Starter::CommandLine {
            user: user.to_string(),
        },
    )
    .await
}

struct Run {
    id: Uuid,
    secret: String,
    file: String,
    progress: Arc<Progress>,
    started_at: DateTime<Utc>,
    started_by: String,
    finished_at: Option<DateTime<Utc>>,
    result: Option<RestoreResult>,
    error: Option<String>,
}

impl Run {
    fn view(&self) -> RestoreRun {
        RestoreRun {
            running: self.finished_at.is_none(),
            file: self.file.clone(),
            started_at: Some(self.started_at),
            finished_at: self.finished_at,
            started_by: Some(self.started_by.clone()),
            progress: Some(self.progress.view()),
            result: self.result.clone(),
            error: self.error.clone(),
            run_token: None,
        }
    }
}

/// The last restore of each database this process serves, keyed by its backup lock name.
static RUNS: Mutex<Option<HashMap<String, Run>>> = Mutex::new(None);

fn with_runs<T>(f: impl FnOnce(&mut HashMap<String, Run>) -> T) -> T {
    let mut guard = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The last restore, if `secret` is its run's.
pub async fn by_secret(state: &AppState, secret: &str) -> AppResult<Option<RestoreRun>> {
    let key = service::lock_name(&state.db).await?;
    Ok(with_runs(|runs| {
        runs.get(&key)
            .filter(|r| {
                !secret.is_empty() && constant_time_eq(r.secret.as_bytes(), secret.as_bytes())
            })
            .map(Run::view)
    }))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The last restore (for a caller already allowed to see it).
pub async fn last(state: &AppState) -> AppResult<RestoreRun> {
    let key = service::lock_name(&state.db).await?;
    Ok(with_runs(|runs| runs.get(&key).map(Run::view)).unwrap_or_else(RestoreRun::none))
}

/// The passphrase the restore of the archive at `path` will use, checked against the archive
/// now: a missing or wrong one is a field error on `passphrase`, and nothing starts.
async fn passphrase_for(
    state: &AppState,
    path: &Path,
    given: Option<String>,
) -> AppResult<Option<String>> {
    let given = given.filter(|p| !p.is_empty());
    let encrypted = archive::is_encrypted(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if !encrypted {
        return Ok(None);
    }
    let Some(passphrase) = given.or(super::key::stored(&state.config.data_dir)?) else {
        return Err(AppError::field(
            "passphrase",
            Refusal::NeedsPassphrase.to_string(),
        ));
    };
    let (p, trial) = (path.to_path_buf(), passphrase.clone());
    let opened = tokio::task::spawn_blocking(move || super::archive::opens(&p, &trial))
        .await
        .map_err(|e| anyhow::anyhow!("the passphrase check stopped: {e}"))?;
    match opened {
        Ok(()) => Ok(Some(passphrase)),
        Err(r @ (Refusal::WrongPassphrase | Refusal::NeedsPassphrase)) => {
            Err(AppError::field("passphrase", r.to_string()))
        }
        Err(other) => Err(AppError::Rejected(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{other}; nothing was changed"),
        )),
    }
}

/// Starts restoring the archive `file` at `path` in the background: 409 while a backup or
/// restore runs; a missing or wrong passphrase for an encrypted archive is refused first. The
/// answer carries the run's secret.
pub async fn start(
    state: &AppState,
    path: PathBuf,
    file: String,
    passphrase: Option<String>,
    starter: Starter,
) -> AppResult<RestoreRun> {
    let key = service::lock_name(&state.db).await?;
    let server_passphrase = super::key::stored(&state.config.data_dir)?;
    let lock = service::lock(&state.db).await.map_err(|_| {
        AppError::Conflict(
            "a backup or restore is already running; try again when it has finished".into(),
        )
    })?;
    let passphrase = match passphrase_for(state, &path, passphrase).await {
        Ok(p) => p,
        Err(e) => {
            lock.release().await;
            return Err(e);
        }
    };
    let progress = Arc::new(Progress::default());
    let run_id = Uuid::now_v7();
    let secret = new_secret();
    with_runs(|runs| {
        runs.insert(
            key.clone(),
            Run {
                id: run_id,
                secret: secret.clone(),
                file: file.clone(),
                progress: progress.clone(),
                started_at: Utc::now(),
                started_by: starter.label(),
                finished_at: None,
                result: None,
                error: None,
            },
        )
    });
    let task_state = state.clone();
    let task_key = key.clone();
    tokio::spawn(async move {
        let state = task_state;
        let options = RestoreOptions::new(passphrase, Some(progress));
        let restored = super::restore::restore_locked(
            &state.db,
            &state.config.database_url,
            &state.config.data_dir,
            &path,
            &state.config.backup_dir,
            &options,
        )
        .await;
        let outcome = match restored {
            Ok(r) => {
                Ok(after_restore(&state, &file, r, &starter, server_passphrase.as_deref()).await)
            }
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::warn!(error = %reason, file, "restore failed");
                if let Starter::Admin(actor) = &starter {
                    record_failure(&state, actor, &file, &reason).await;
                }
                Err(reason)
            }
        };
        with_runs(|runs| {
            if let Some(run) = runs.get_mut(&task_key).filter(|r| r.id == run_id) {
                run.finished_at = Some(Utc::now());
                match outcome {
                    Ok(result) => run.result = Some(result),
                    Err(reason) => run.error = Some(reason),
                }
            }
        });
        lock.release().await;
    });
    let mut run = with_runs(|runs| runs.get(&key).map(Run::view))
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the restore run was not recorded")))?;
    run.run_token = Some(secret);
    Ok(run)
}

/// The file name of a path the restore reports.
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// Ends every session, records `backup.restored` in the restored data, takes the restored
/// secrets into use and leaves setup mode. What fails here is reported as a warning: the data
/// is restored either way.
async fn after_restore(
    state: &AppState,
    file: &str,
    restored: super::restore::Restored,
    starter: &Starter,
    safety_passphrase: Option<&str>,
) -> RestoreResult {
    let mut warnings = Vec::new();
    let safety_backup = restored.safety_backup.as_deref().map(file_name);
    let sessions_ended =
        match record_restored(state, file, &restored, &safety_backup, starter).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "the restore's audit entry could not be written");
                warnings.push(format!("the audit entry could not be written: {e}"));
                0
            }
        };
    if let Err(e) = state.reload_secrets() {
        tracing::error!(error = %e, "the restored secrets could not be loaded");
        warnings.push(format!(
            "the restored secrets could not be loaded ({e:#}); restart the server"
        ));
    }
    // Setup mode ends once the restored data has a department.
    if let Err(e) = state.setup.pending(&state.db, &state.config.data_dir).await {
        warnings.push(format!("{e}"));
    }
    if let Some(safety) = &restored.safety_backup {
        // Last, so that sessions end at once: read through once more so the list shows what it
        // holds (made with the passphrase the server had before the restore, which may have
        // brought back another).
        match service::verify(Path::new(safety), safety_passphrase).await {
            Ok(checked) => super::manage::record_checked(
                &state.config.backup_dir,
                &file_name(safety),
                &checked,
            ),
            Err(e) => warnings.push(format!("the safety backup does not check out: {e}")),
        }
    }
    RestoreResult {
        file: file.to_string(),
        safety_backup,
        tables: restored.tables,
        rows: restored.rows,
        from_schema: restored.from_schema,
        to_schema: restored.to_schema,
        seconds: restored.seconds,
        encrypted: restored.encrypted,
        sessions_ended,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
    }
}

/// In one transaction of the restored database: every session ended, and `backup.restored` in
/// the starter's organization (or, when the restored data does not have it, in each of its
/// organizations). Returns the number of sessions ended.
async fn record_restored(
    state: &AppState,
    file: &str,
    restored: &super::restore::Restored,
    safety_backup: &Option<String>,
    starter: &Starter,
) -> AppResult<u64> {
    let mut tx = state.db.begin().await?;
    let ended = sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL")
        .bind(crate::db::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let orgs: Vec<crate::auth::OrgId> =
        sqlx::query_scalar("SELECT id FROM organizations ORDER BY created_at")
            .fetch_all(&mut *tx)
            .await?;
    let actors: Vec<Actor> = match starter {
        Starter::Admin(a) if orgs.contains(&a.org_id) => vec![a.clone()],
        Starter::Admin(a) => orgs
            .iter()
            .map(|o| Actor {
                label: format!("{} (restore)", a.label),
                ip: a.ip.clone(),
                ..Actor::system(*o, "")
            })
            .collect(),
        Starter::Wizard { ip } => orgs
            .iter()
            .map(|o| Actor {
                ip: Some(ip.clone()),
                ..Actor::system(*o, "setup wizard")
            })
            .collect(),
        Starter::CommandLine { .. } => orgs
            .iter()
            .map(|o| Actor::system(*o, &starter.label()))
            .collect(),
    };
    for actor in &actors {
        audit::record(
            &mut tx,
            actor,
            Entry::new("backup.restored", "backup", file).changes(json!({
                "file": file,
                "rows": restored.rows,
                "tables": restored.tables,
                "from_schema": restored.from_schema,
                "to_schema": restored.to_schema,
                "safety_backup": safety_backup,
                "encrypted": restored.encrypted,
                "sessions_ended": ended,
            })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// `backup.restore_failed` in the (unchanged) current data.
async fn record_failure(state: &AppState, actor: &Actor, file: &str, reason: &str) {
    let recorded = async {
        let mut tx = state.db.begin().await?;
        audit::record(
            &mut tx,
            actor,
            Entry::new("backup.restore_failed", "backup", file)
                .severity(Severity::Warning)
                .changes(json!({"file": file, "reason": reason})),
        )
        .await?;
        tx.commit().await?;
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "a failed restore's audit entry could not be written");
    }
}
