//! `GET /api/v1/system/status` (`settings.manage`): the status page's data as JSON.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::status::{self, SystemStatus};
use crate::app::AppState;
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiQuery;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/system/status", get(read))
}

/// It takes no parameters; a misspelt one is refused rather than ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Host, server process, disks, database, certificate and this organization's recent job runs.
#[utoipa::path(get, path = "/api/v1/system/status", tag = "system",
    responses((status = 200, body = SystemStatus), (status = 403, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> AppResult<Json<SystemStatus>> {
    Ok(Json(status::collect(&state, &ctx).await?))
}
