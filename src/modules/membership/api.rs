//! The tiers' JSON API (`/api/v1/membership/tiers`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};

use super::service::{
    MemberTier, MemberTierNow, Tier, TierInput, create_tier, set_member_tier, tiers, update_tier,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/membership/tiers", get(api_tiers).post(api_create))
        .route("/api/v1/membership/tiers/{id}", put(api_update))
        .route("/api/v1/members/{id}/tier", put(api_set_member_tier))
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

/// Gives a member a membership tier by hand (or none), with a reason; audited.
#[utoipa::path(put, path = "/api/v1/members/{id}/tier", tag = "membership",
    params(("id" = Uuid, Path)), request_body = MemberTier,
    responses((status = 200, body = MemberTierNow), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_set_member_tier(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MemberTier>,
) -> AppResult<Json<MemberTierNow>> {
    let mut tx = state.db.begin().await?;
    let now = set_member_tier(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(now))
}
