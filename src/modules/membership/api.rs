//! The tiers' JSON API (`/api/v1/membership/tiers`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};

use super::service::{Tier, TierInput, create_tier, tiers, update_tier};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/membership/tiers", get(api_tiers).post(api_create))
        .route("/api/v1/membership/tiers/{id}", put(api_update))
}

#[utoipa::path(get, path = "/api/v1/membership/tiers", tag = "members",
    responses((status = 200, body = Vec<Tier>), (status = 403, body = crate::error::Problem)))]
pub async fn api_tiers(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Tier>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(tiers(&ctx, &mut conn).await?))
}

/// Adds a tier.
#[utoipa::path(post, path = "/api/v1/membership/tiers", tag = "members", request_body = TierInput,
    responses((status = 201, body = Tier), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TierInput>,
) -> AppResult<(StatusCode, Json<Tier>)> {
    let mut tx = state.db.begin().await?;
    let t = create_tier(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Replaces a tier's definition: its name, years and benefits.
#[utoipa::path(put, path = "/api/v1/membership/tiers/{id}", tag = "members",
    params(("id" = Uuid, Path)), request_body = TierInput,
    responses((status = 200, body = Tier), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<TierInput>,
) -> AppResult<Json<Tier>> {
    let mut tx = state.db.begin().await?;
    let t = update_tier(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(t))
}
