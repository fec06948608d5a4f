//! `/api/v1/organization`: the caller's own organization (never one named in the request).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::service::{self, OrgProfile, Organization};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::web::PathId;

use super::stations::{self, Apparatus, ApparatusBody, Station};
use crate::setup::service::LocationInput;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/organization", get(read).patch(update))
        .route("/api/v1/stations", get(list_stations).post(create_station))
        .route(
            "/api/v1/stations/{id}",
            get(read_station).put(update_station),
        )
        .route("/api/v1/stations/{id}/retire", post(retire_station))
        .route("/api/v1/stations/{id}/reactivate", post(reactivate_station))
        .route(
            "/api/v1/apparatus",
            get(list_apparatus).post(create_apparatus),
        )
        .route(
            "/api/v1/apparatus/{id}",
            get(read_apparatus).put(update_apparatus),
        )
        .route("/api/v1/apparatus/{id}/retire", post(retire_apparatus))
        .route(
            "/api/v1/apparatus/{id}/reactivate",
            post(reactivate_apparatus),
        )
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

// ---------------------------------------------------------------------------------------------
// Stations and apparatus

#[utoipa::path(get, path = "/api/v1/stations", tag = "organization",
    responses((status = 200, body = Vec<Station>, description = "In service first, then retired")))]
pub async fn list_stations(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Station>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(stations::stations(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/stations", tag = "organization", request_body = LocationInput,
    responses((status = 201, body = Station), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn create_station(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<LocationInput>,
) -> AppResult<(StatusCode, Json<Station>)> {
    let mut tx = state.db.begin().await?;
    let station = stations::create_station(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(station)))
}

#[utoipa::path(get, path = "/api/v1/stations/{id}", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Station), (status = 404, body = crate::error::Problem)))]
pub async fn read_station(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Station>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(stations::station(&ctx, &mut conn, id).await?))
}

#[utoipa::path(put, path = "/api/v1/stations/{id}", tag = "organization",
    params(("id" = Uuid, Path)), request_body = LocationInput,
    responses((status = 200, body = Station), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn update_station(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<LocationInput>,
) -> AppResult<Json<Station>> {
    let mut tx = state.db.begin().await?;
    let station = stations::update_station(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(station))
}

async fn station_active(
    state: &AppState,
    ctx: &Ctx,
    id: uuid::Uuid,
    active: bool,
) -> AppResult<Json<Station>> {
    let mut tx = state.db.begin().await?;
    let station = stations::set_station_active(ctx, &mut tx, id, active).await?;
    tx.commit().await?;
    Ok(Json(station))
}

/// Takes a station out of service (kept for history). Refused while vehicles are there.
#[utoipa::path(post, path = "/api/v1/stations/{id}/retire", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Station), (status = 409, body = crate::error::Problem,
            description = "Already retired, or vehicles are still there"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn retire_station(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Station>> {
    station_active(&state, &ctx, id, false).await
}

#[utoipa::path(post, path = "/api/v1/stations/{id}/reactivate", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Station), (status = 409, body = crate::error::Problem,
            description = "Already in service"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn reactivate_station(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Station>> {
    station_active(&state, &ctx, id, true).await
}

#[utoipa::path(get, path = "/api/v1/apparatus", tag = "organization",
    responses((status = 200, body = Vec<Apparatus>, description = "In service first, then retired")))]
pub async fn list_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Apparatus>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(stations::apparatus_list(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/apparatus", tag = "organization", request_body = ApparatusBody,
    responses((status = 201, body = Apparatus), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn create_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<ApparatusBody>,
) -> AppResult<(StatusCode, Json<Apparatus>)> {
    let mut tx = state.db.begin().await?;
    let vehicle = stations::create_apparatus(&ctx, &mut tx, body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(vehicle)))
}

#[utoipa::path(get, path = "/api/v1/apparatus/{id}", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Apparatus), (status = 404, body = crate::error::Problem)))]
pub async fn read_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Apparatus>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(stations::apparatus(&ctx, &mut conn, id).await?))
}

#[utoipa::path(put, path = "/api/v1/apparatus/{id}", tag = "organization",
    params(("id" = Uuid, Path)), request_body = ApparatusBody,
    responses((status = 200, body = Apparatus), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn update_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ApparatusBody>,
) -> AppResult<Json<Apparatus>> {
    let mut tx = state.db.begin().await?;
    let vehicle = stations::update_apparatus(&ctx, &mut tx, id, body).await?;
    tx.commit().await?;
    Ok(Json(vehicle))
}

async fn apparatus_active(
    state: &AppState,
    ctx: &Ctx,
    id: uuid::Uuid,
    active: bool,
) -> AppResult<Json<Apparatus>> {
    let mut tx = state.db.begin().await?;
    let vehicle = stations::set_apparatus_active(ctx, &mut tx, id, active).await?;
    tx.commit().await?;
    Ok(Json(vehicle))
}

#[utoipa::path(post, path = "/api/v1/apparatus/{id}/retire", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Apparatus), (status = 409, body = crate::error::Problem,
            description = "Already retired"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn retire_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Apparatus>> {
    apparatus_active(&state, &ctx, id, false).await
}

/// Back into service, at its station if that is still in service (else with none).
#[utoipa::path(post, path = "/api/v1/apparatus/{id}/reactivate", tag = "organization",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Apparatus), (status = 409, body = crate::error::Problem,
            description = "Already in service"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn reactivate_apparatus(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Apparatus>> {
    apparatus_active(&state, &ctx, id, true).await
}
