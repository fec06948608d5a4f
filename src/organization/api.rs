//! `/api/v1/organization`: the caller's own organization (never one named in the request).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::service::{self, OrgProfile, Organization};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/organization", get(read).patch(update))
}

#[utoipa::path(get, path = "/api/v1/organization", tag = "organization",
    responses((status = 200, body = Organization)))]
pub async fn read(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Organization>> {
    let mut tx = state.db.begin().await?;
    let org = service::get(&ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(Json(org))
}

#[utoipa::path(patch, path = "/api/v1/organization", tag = "organization",
    request_body = OrgProfile,
    responses((status = 200, body = Organization), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(patch): ApiJson<OrgProfile>,
) -> AppResult<Json<Organization>> {
    let mut tx = state.db.begin().await?;
    let org = service::update(&ctx, &mut tx, patch).await?;
    tx.commit().await?;
    Ok(Json(org))
}
