//! `/api/v1/jobs`: the scheduled jobs, their runs, and "run now" (`settings.manage`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::runner::JobRun;
use super::service::{self, JobInfo, RunsQuery};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiQuery, Page};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list))
        .route("/api/v1/jobs/{name}/runs", get(runs))
        .route("/api/v1/jobs/{name}/run", post(run_now))
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    responses((status = 200, body = Vec<JobInfo>), (status = 403, body = crate::error::Problem)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<JobInfo>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::list(&state, &ctx, &mut conn).await?))
}

#[utoipa::path(get, path = "/api/v1/jobs/{name}/runs", tag = "jobs",
    params(("name" = String, Path), RunsQuery),
    responses((status = 200, body = Page<JobRun>), (status = 404, body = crate::error::Problem)))]
pub async fn runs(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> AppResult<Json<Page<JobRun>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        service::runs(&state, &ctx, &mut conn, &name, q).await?,
    ))
}

/// 200 with the finished run; 202 with the run while it is still going.
#[utoipa::path(post, path = "/api/v1/jobs/{name}/run", tag = "jobs",
    params(("name" = String, Path)),
    responses((status = 200, body = JobRun), (status = 202, body = JobRun),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn run_now(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
) -> AppResult<(StatusCode, Json<JobRun>)> {
    let run = service::run_now(&state, &ctx, &name).await?;
    let status = if run.outcome == "running" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run)))
}
