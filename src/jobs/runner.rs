//! Running one job for one organization, and the record of it.
//!
//! A scheduled run first claims its slot (`job_runs` has a unique key on organization, job and
//! scheduled time), so a second server firing for the same slot does nothing. Then it takes the
//! job's MariaDB named lock: if the previous run is still going, this one is recorded as
//! skipped. The body runs in its own task, so a panic is recorded as a failure, not lost.

use crate::auth::OrgId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{JobCtx, JobDef};
use crate::db::{self, NamedLock};
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    Schedule(DateTime<Utc>),
    Manual(Uuid),
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobRun {
    pub id: Uuid,
    pub job: String,
    /// `schedule` or `manual`.
    pub trigger_kind: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `failed` or `skipped`.
    pub outcome: String,
    pub items: u32,
    pub error: Option<String>,
    pub triggered_by: Option<Uuid>,
    pub server: String,
}

pub const RUN_COLUMNS: &str = "id, job, trigger_kind, scheduled_for, started_at, finished_at, \
                               outcome, items, error, triggered_by, server";

pub fn lock_name(job: &str, org_id: OrgId) -> String {
    format!("logbook:{job}:{}", org_id.uuid().simple())
}

/// This server's name in the records: the host name and process id.
pub fn server_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

pub enum Begun {
    /// Claimed and locked: call `finish` with the body's result.
    Running { run_id: Uuid, lock: NamedLock },
    /// The previous run still holds the lock; recorded as skipped.
    Skipped(Uuid),
    /// Another server already took this scheduled slot.
    Duplicate,
}

pub async fn begin(
    state: &AppState,
    def: &JobDef,
    org_id: OrgId,
    trigger: Trigger,
) -> anyhow::Result<Begun> {
    let run_id = db::new_id();
    let (kind, slot, by) = match trigger {
        Trigger::Schedule(at) => ("schedule", Some(at), None),
        Trigger::Manual(user) => ("manual", None, Some(user)),
    };
    let claimed = sqlx::query(
        "INSERT IGNORE INTO job_runs (id, organization_id, job, trigger_kind, scheduled_for,
            started_at, outcome, items, triggered_by, server)
         VALUES (?, ?, ?, ?, ?, ?, 'running', 0, ?, ?)",
    )
    .bind(run_id)
    .bind(org_id)
    .bind(def.name)
    .bind(kind)
    .bind(slot)
    .bind(db::now())
    .bind(by)
    .bind(server_name())
    .execute(&state.db)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(Begun::Duplicate);
    }
    match NamedLock::try_acquire(&state.db, &lock_name(def.name, org_id)).await? {
        Some(lock) => Ok(Begun::Running { run_id, lock }),
        None => {
            sqlx::query(
                "UPDATE job_runs SET outcome = 'skipped', finished_at = ?,
                        error = 'the previous run was still going'
                  WHERE id = ?",
            )
            .bind(db::now())
            .bind(run_id)
            .execute(&state.db)
            .await?;
            Ok(Begun::Skipped(run_id))
        }
    }
}

/// Runs the body in its own task and records how it ended.
pub async fn execute(
    state: &AppState,
    def: &JobDef,
    org_id: OrgId,
    trigger: Trigger,
    run_id: Uuid,
    lock: NamedLock,
) -> anyhow::Result<()> {
    let ctx = JobCtx {
        state: state.clone(),
        org_id,
        manual: matches!(trigger, Trigger::Manual(_)),
        slot: match trigger {
            Trigger::Schedule(at) => Some(at),
            Trigger::Manual(_) => None,
        },
    };
    let body = (def.run)(ctx);
    let result = match tokio::spawn(body).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(anyhow::anyhow!("the job panicked")),
        Err(e) => Err(anyhow::anyhow!("the job was cancelled: {e}")),
    };
    let (outcome, items, error) = match result {
        Ok(n) => ("succeeded", n.min(u64::from(u32::MAX)) as u32, None),
        Err(e) if e.downcast_ref::<super::Skip>().is_some() => ("skipped", 0, Some(e.to_string())),
        Err(e) => {
            tracing::warn!(job = def.name, org = %org_id, error = %format!("{e:#}"), "job failed");
            ("failed", 0, Some(format!("{e:#}")))
        }
    };
    let recorded = sqlx::query(
        "UPDATE job_runs SET outcome = ?, items = ?, error = ?, finished_at = ? WHERE id = ?",
    )
    .bind(outcome)
    .bind(items)
    .bind(error)
    .bind(db::now())
    .bind(run_id)
    .execute(&state.db)
    .await;
    lock.release().await;
    recorded?;
    Ok(())
}

/// Runs that say `running` but whose lock nobody holds were cut short (the server stopped).
pub async fn mark_interrupted(state: &AppState) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE job_runs SET outcome = 'failed', finished_at = ?,
                error = 'the server stopped during this run'
          WHERE outcome = 'running'
            AND IS_USED_LOCK(CONCAT('logbook:', job, ':', LOWER(HEX(organization_id)))) IS NULL",
    )
    .bind(db::now())
    .execute(&state.db)
    .await?;
    Ok(done.rows_affected())
}

/// One scheduled firing: claim, lock, run, record.
pub async fn run_scheduled(state: &AppState, def: &JobDef, org_id: OrgId, slot: DateTime<Utc>) {
    let trigger = Trigger::Schedule(slot);
    let outcome = match begin(state, def, org_id, trigger).await {
        Ok(Begun::Running { run_id, lock }) => {
            execute(state, def, org_id, trigger, run_id, lock).await
        }
        Ok(Begun::Skipped(_) | Begun::Duplicate) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        tracing::warn!(job = def.name, org = %org_id, error = %e, "could not run job");
    }
}

/// Records work a job does that was done outside the runner as one of the job's manual runs:
/// "Back up now" is a run of the backup job, so the jobs page and the status page count it.
pub async fn record_manual_run(
    tx: &mut crate::db::Tx<'_>,
    org_id: OrgId,
    job: &str,
    by: Option<Uuid>,
    started_at: DateTime<Utc>,
    result: Result<u64, &str>,
) -> crate::error::AppResult<()> {
    let (outcome, items, error) = match result {
        Ok(items) => ("succeeded", items, None),
        Err(reason) => ("failed", 0, Some(reason)),
    };
    sqlx::query(
        "INSERT INTO job_runs (id, organization_id, job, trigger_kind, scheduled_for, started_at,
            finished_at, outcome, items, error, triggered_by, server)
         VALUES (?, ?, ?, 'manual', NULL, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(org_id)
    .bind(job)
    .bind(started_at)
    .bind(db::now())
    .bind(outcome)
    .bind(items)
    .bind(error)
    .bind(by)
    .bind(server_name())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
