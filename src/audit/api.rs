//! `/api/v1/audit-logs` and `/api/v1/security-alerts` (all need `audit.view`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::log::{LogEntry, LogQuery, query_logs};

use super::alerts::{self, Alert, AlertQuery, ResolveInput};
use super::chain::{self, VerifyReport};
use crate::auth::Ctx;
use crate::auth::permissions::AUDIT_VIEW;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit-logs", get(list_logs))
        .route("/api/v1/audit-logs/verify", get(verify))
        .route("/api/v1/security-alerts", get(list_alerts))
        .route(
            "/api/v1/security-alerts/{id}/acknowledge",
            post(acknowledge),
        )
        .route("/api/v1/security-alerts/{id}/resolve", post(resolve))
}

#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit", params(LogQuery),
    responses((status = 200, body = Page<LogEntry>), (status = 403, body = crate::error::Problem)))]
pub async fn list_logs(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Page<LogEntry>>> {
    Ok(Json(query_logs(&ctx, &state.db, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/audit-logs/verify", tag = "audit",
    responses((status = 200, body = VerifyReport), (status = 403, body = crate::error::Problem)))]
pub async fn verify(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<VerifyReport>> {
    ctx.require(AUDIT_VIEW)?;
    Ok(Json(chain::verify(&state.db, ctx.org_id).await?))
}

#[utoipa::path(get, path = "/api/v1/security-alerts", tag = "audit", params(AlertQuery),
    responses((status = 200, body = Page<Alert>), (status = 403, body = crate::error::Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> AppResult<Json<Page<Alert>>> {
    let mut tx = state.db.begin().await?;
    let page = alerts::list(&ctx, &mut tx, q).await?;
    tx.commit().await?;
    Ok(Json(page))
}

#[utoipa::path(post, path = "/api/v1/security-alerts/{id}/acknowledge", tag = "audit",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Alert), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Alert>> {
    let mut tx = state.db.begin().await?;
    let alert = alerts::acknowledge(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(alert))
}

#[utoipa::path(post, path = "/api/v1/security-alerts/{id}/resolve", tag = "audit",
    params(("id" = Uuid, Path)), request_body = ResolveInput,
    responses((status = 200, body = Alert), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn resolve(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ResolveInput>,
) -> AppResult<Json<Alert>> {
    let mut tx = state.db.begin().await?;
    let alert = alerts::resolve(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(alert))
}
