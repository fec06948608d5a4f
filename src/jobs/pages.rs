//! The jobs pages (`settings.manage`, checked in `service`): every job with its schedule, next
//! run, last run and last failure, "run now", and each job's run history.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::runner::JobRun;
use super::service::{self, JobInfo, RunsQuery};
use crate::auth::Ctx;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{self, Chrome, LocalTime, NavItem, PageResult, Pager, SETTINGS, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/jobs", get(list))
        .route("/settings/jobs/{name}", get(history))
        .route("/settings/jobs/{name}/run", post(run_now))
}

const OUTCOMES: &[&str] = &["running", "succeeded", "failed", "skipped"];
const RUNS_PER_PAGE: u32 = 50;

/// One run, formatted for a page.
pub struct RunView {
    id: Uuid,
    outcome: String,
    trigger: &'static str,
    started: LocalTime,
    duration: String,
    items: u32,
    error: String,
    server: String,
}

fn duration(run: &JobRun) -> String {
    let Some(end) = run.finished_at else {
        return String::new();
    };
    let ms = (end - run.started_at).num_milliseconds().max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn run_view(run: JobRun, tz: crate::time::Local) -> RunView {
    RunView {
        duration: duration(&run),
        id: run.id,
        trigger: if run.trigger_kind == "manual" {
            "Run now"
        } else {
            "Schedule"
        },
        started: web::local_time(tz, &run.started_at),
        items: run.items,
        error: run.error.unwrap_or_default(),
        server: run.server,
        outcome: run.outcome,
    }
}

pub struct JobView {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    schedule: String,
    schedule_text: String,
    timezone: String,
    next_run: Option<LocalTime>,
    last_run: Option<RunView>,
    last_failure: Option<RunView>,
}

fn job_view(j: JobInfo, tz: crate::time::Local) -> JobView {
    JobView {
        name: j.name,
        title: j.title,
        description: j.description,
        schedule: j.schedule,
        // "At 03:10." reads better as "At 03:10 (America/Chicago)".
        schedule_text: j.schedule_text.trim_end_matches('.').to_string(),
        timezone: j.timezone,
        next_run: j.next_run.map(|t| web::local_time(tz, &t)),
        // The last failure is shown apart only when it is not the last run itself.
        last_failure: j
            .last_failure
            .filter(|f| j.last_run.as_ref().is_none_or(|l| l.id != f.id))
            .map(|r| run_view(r, tz)),
        last_run: j.last_run.map(|r| run_view(r, tz)),
    }
}

/// What "run now" came to, for the message at the top of the page.
pub struct Flash {
    ok: bool,
    text: String,
}

/// The message for the run `run_id` of `job`, if it is the job's last run (it is, unless another
/// started since).
fn flash(job: &JobView, run_id: &str) -> Flash {
    let run = job
        .last_run
        .as_ref()
        .filter(|r| r.id.to_string() == run_id.trim());
    let title = job.title;
    match run {
        Some(r) => match r.outcome.as_str() {
            "succeeded" => Flash {
                ok: true,
                text: format!(
                    "“{title}” ran: succeeded, {} item{} in {}.",
                    r.items,
                    if r.items == 1 { "" } else { "s" },
                    r.duration
                ),
            },
            "failed" => Flash {
                ok: false,
                text: format!("“{title}” ran and failed: {}", web::sentence(&r.error)),
            },
            "skipped" => Flash {
                ok: false,
                text: format!("“{title}” was skipped: {}", web::sentence(&r.error)),
            },
            _ => Flash {
                ok: true,
                text: format!("“{title}” is still running; its run history shows how it ends."),
            },
        },
        None => Flash {
            ok: true,
            text: format!("“{title}” was started; its run history shows how it went."),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Every job

#[derive(Debug, Default, Deserialize)]
pub struct RanQuery {
    #[serde(default)]
    ran: String,
    #[serde(default)]
    run: String,
}

#[derive(Template)]
#[template(path = "jobs/list.html")]
struct ListPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    jobs: Vec<JobView>,
    flash: Option<Flash>,
    scheduler_on: bool,
    timezone: String,
}

async fn jobs_of(state: &AppState, ctx: &Ctx) -> AppResult<Vec<JobView>> {
    let mut conn = state.db.acquire().await?;
    let tz = ctx.local();
    Ok(service::list(state, ctx, &mut conn)
        .await?
        .into_iter()
        .map(|j| job_view(j, tz))
        .collect())
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<RanQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let jobs = jobs_of(&state, &ctx).await?;
    let flash = jobs
        .iter()
        .find(|j| j.name == q.ran)
        .map(|j| flash(j, &q.run));
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/jobs"),
        jobs,
        flash,
        scheduler_on: state.config.scheduler,
        timezone: crate::time::zone(&ctx.timezone).name().to_string(),
    }))
}

// ---------------------------------------------------------------------------------------------
// One job's runs

#[derive(Debug, Default, Deserialize)]
pub struct HistoryFilter {
    #[serde(default)]
    outcome: String,
    page: Option<String>,
    #[serde(default)]
    run: String,
}

#[derive(Template)]
#[template(path = "jobs/history.html")]
struct HistoryPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    job: JobView,
    outcome: String,
    runs: Vec<RunView>,
    total: u64,
    pager: Pager,
    flash: Option<Flash>,
}

async fn history(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(name): Path<String>,
    query: Result<Query<HistoryFilter>, QueryRejection>,
) -> PageResult {
    let filter = query.map(|Query(f)| f).unwrap_or_default();
    let job = jobs_of(&state, &ctx)
        .await?
        .into_iter()
        .find(|j| j.name == name)
        .ok_or(AppError::NotFound)?;
    let outcome = match filter.outcome.trim() {
        o if OUTCOMES.contains(&o) => o.to_string(),
        _ => String::new(),
    };
    let page = web::page_number(filter.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let runs = service::runs(
        &state,
        &ctx,
        &mut conn,
        job.name,
        RunsQuery {
            outcome: (!outcome.is_empty()).then(|| outcome.clone()),
            page: Some(page),
            per_page: Some(RUNS_PER_PAGE),
        },
    )
    .await?;
    let tz = ctx.local();
    let pager = Pager::new(runs.page, runs.total, runs.per_page, |p| {
        let p = p.to_string();
        web::link(
            &format!("/settings/jobs/{}", job.name),
            &[("outcome", &outcome), ("page", &p)],
        )
    });
    let flash = (!filter.run.is_empty()).then(|| flash(&job, &filter.run));
    Ok(web::render(&HistoryPage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/jobs"),
        pager,
        runs: runs.items.into_iter().map(|r| run_view(r, tz)).collect(),
        total: runs.total,
        outcome,
        job,
        flash,
    }))
}

// ---------------------------------------------------------------------------------------------
// Run now

#[derive(Debug, Default, Deserialize)]
pub struct RunForm {
    /// `history` to come back to the job's history page; otherwise the list.
    #[serde(default)]
    from: String,
}

/// Runs the job (waiting a few seconds for it to finish), then back to the page it was started
/// from, which says how it went.
async fn run_now(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(name): Path<String>,
    Form(form): Form<RunForm>,
) -> PageResult {
    let run = service::run_now(&state, &ctx, &name).await?;
    let to = if form.from == "history" {
        format!("/settings/jobs/{}?run={}", run.job, run.id)
    } else {
        let back = web::link(
            "/settings/jobs",
            &[("ran", &run.job), ("run", &run.id.to_string())],
        );
        format!("{back}#job-{}", run.job)
    };
    Ok(Redirect::to(&to).into_response())
}
