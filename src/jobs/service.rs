//! What administrators see of the jobs (`settings.manage`), and "run now".

use crate::auth::OrgId;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::runner::{self, Begun, JobRun, RUN_COLUMNS, Trigger};
use super::scheduler;
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Cron with seconds, in the organization's time zone.
    pub schedule: String,
    /// The schedule in words.
    pub schedule_text: String,
    pub timezone: String,
    /// When it runs next, if this server schedules jobs.
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<JobRun>,
    /// The most recent failed run, if any.
    pub last_failure: Option<JobRun>,
}

pub async fn list(state: &AppState, ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<JobInfo>> {
    ctx.require(SETTINGS_MANAGE)?;
    let tz = crate::time::zone(&ctx.timezone);
    // The latest run and the latest failure of each job, in one query.
    let rows: Vec<JobRun> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs r
          WHERE organization_id = ?
            AND id IN (SELECT MAX(id) FROM job_runs WHERE organization_id = ? GROUP BY job
                       UNION
                       SELECT MAX(id) FROM job_runs
                        WHERE organization_id = ? AND outcome = 'failed' GROUP BY job)"
    )))
    .bind(ctx.org_id)
    .bind(ctx.org_id)
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?;
    let now = Utc::now();
    Ok(state
        .jobs
        .iter()
        .map(|def| {
            let mine = rows.iter().filter(|r| r.job == def.name);
            let last_run = mine.clone().max_by_key(|r| r.id).cloned();
            let last_failure = mine
                .filter(|r| r.outcome == "failed")
                .max_by_key(|r| r.id)
                .cloned();
            JobInfo {
                name: def.name,
                title: def.title,
                description: def.description,
                schedule: def.schedule.clone(),
                schedule_text: scheduler::describe(&def.schedule),
                timezone: ctx.timezone.clone(),
                next_run: state
                    .config
                    .scheduler
                    .then(|| scheduler::next_run(&def.schedule, tz, now))
                    .flatten(),
                last_run,
                last_failure,
            }
        })
        .collect())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// `running`, `succeeded`, `failed` or `skipped`.
    #[param(schema_with = outcome_schema)]
    pub outcome: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn outcome_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["running", "succeeded", "failed", "skipped"])
}

const OUTCOMES: &[&str] = &["running", "succeeded", "failed", "skipped"];

pub async fn runs(
    state: &AppState,
    ctx: &Ctx,
    conn: &mut Conn,
    name: &str,
    q: RunsQuery,
) -> AppResult<Page<JobRun>> {
    ctx.require(SETTINGS_MANAGE)?;
    let def = state.jobs.get(name).ok_or(AppError::NotFound)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let outcome = q.outcome.filter(|o| !o.is_empty());
    if let Some(o) = &outcome
        && !OUTCOMES.contains(&o.as_str())
    {
        return Err(AppError::field(
            "outcome",
            "must be running, succeeded, failed or skipped",
        ));
    }
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM job_runs
          WHERE organization_id = ? AND job = ? AND (? IS NULL OR outcome = ?)",
    )
    .bind(ctx.org_id)
    .bind(def.name)
    .bind(&outcome)
    .bind(&outcome)
    .fetch_one(&mut *conn)
    .await?;
    let items = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs
          WHERE organization_id = ? AND job = ? AND (? IS NULL OR outcome = ?)
          ORDER BY id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.org_id)
    .bind(def.name)
    .bind(&outcome)
    .bind(&outcome)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

async fn get_run(state: &AppState, org_id: OrgId, id: Uuid) -> AppResult<JobRun> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM job_runs WHERE id = ? AND organization_id = ?"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_one(&state.db)
    .await?)
}

/// How long "run now" waits for the run to finish before answering that it is still running.
const WAIT_FOR_RUN: Duration = Duration::from_secs(10);

/// Starts a run now. Answers with the finished run, or with the running one if it takes longer
/// than a few seconds (it carries on; its page shows the outcome). Audited.
pub async fn run_now(state: &AppState, ctx: &Ctx, name: &str) -> AppResult<JobRun> {
    ctx.require(SETTINGS_MANAGE)?;
    let def = state.jobs.get(name).ok_or(AppError::NotFound)?.clone();
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("job.run_requested", "job", def.name),
    )
    .await?;
    tx.commit().await?;
    let trigger = Trigger::Manual(ctx.user_id);
    let run_id = match runner::begin(state, &def, ctx.org_id, trigger)
        .await
        .map_err(AppError::Internal)?
    {
        Begun::Running { run_id, lock } => {
            let (state2, org_id) = (state.clone(), ctx.org_id);
            let task = tokio::spawn(async move {
                if let Err(e) = runner::execute(&state2, &def, org_id, trigger, run_id, lock).await
                {
                    tracing::warn!(error = %e, "could not record a job run");
                }
            });
            let _ = tokio::time::timeout(WAIT_FOR_RUN, task).await;
            run_id
        }
        Begun::Skipped(run_id) => run_id,
        Begun::Duplicate => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "a manual run cannot collide with a slot"
            )));
        }
    };
    get_run(state, ctx.org_id, run_id).await
}
