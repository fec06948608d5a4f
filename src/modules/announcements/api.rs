//! `/api/v1/announcements`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::service::{self, Announcement, ListQuery, NewAnnouncement, Posted};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/announcements", get(list).post(post_one))
        .route("/api/v1/announcements/current", get(current))
        .route("/api/v1/announcements/{id}", get(read))
        .route("/api/v1/announcements/{id}/dismiss", post(dismiss))
        .route("/api/v1/announcements/{id}/withdraw", post(withdraw))
}

/// Officers (`announcements.manage`) see all; members the current ones addressed to them.
#[utoipa::path(get, path = "/api/v1/announcements", tag = "announcements",
    params(ListQuery), responses((status = 200, body = Page<Announcement>)))]
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Announcement>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::list(&ctx, &mut conn, q).await?))
}

/// What the caller's dashboard shows: current, addressed to them, not dismissed.
#[utoipa::path(get, path = "/api/v1/announcements/current", tag = "announcements",
    responses((status = 200, body = Vec<Announcement>)))]
pub async fn current(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Announcement>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::for_me(&ctx, &mut conn).await?))
}

#[utoipa::path(get, path = "/api/v1/announcements/{id}", tag = "announcements",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Announcement), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Announcement>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::get(&ctx, &mut conn, id).await?))
}

#[utoipa::path(post, path = "/api/v1/announcements", tag = "announcements",
    request_body = NewAnnouncement,
    responses((status = 201, body = Posted), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn post_one(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewAnnouncement>,
) -> AppResult<(StatusCode, Json<Posted>)> {
    let mut tx = state.db.begin().await?;
    let posted = service::post(&state.notifier, &ctx, &mut tx, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

#[utoipa::path(post, path = "/api/v1/announcements/{id}/dismiss", tag = "announcements",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn dismiss(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    service::dismiss(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/announcements/{id}/withdraw", tag = "announcements",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Announcement), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Announcement>> {
    let mut tx = state.db.begin().await?;
    let a = service::withdraw(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(a))
}
