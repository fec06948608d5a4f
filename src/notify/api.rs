//! `/api/v1/notifications` (each member's own inbox and preferences) and the administrators'
//! `/api/v1/settings/email` and `/api/v1/settings/notification-defaults` (`settings.manage`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::mail::{self, EmailSettings, EmailSettingsInput, Outbox, OutboxItem, OutboxQuery};
use super::mail::{TestInput, TestResult};
use super::service::{self, DefaultPreference, Inbox, InboxQuery, Notification};
use super::service::{Preference, PreferencesInput};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notifications", get(inbox))
        .route("/api/v1/notifications/unread-count", get(unread_count))
        .route("/api/v1/notifications/read-all", post(read_all))
        .route("/api/v1/notifications/{id}/read", post(read))
        .route(
            "/api/v1/notifications/preferences",
            get(preferences).put(set_preferences),
        )
        .route(
            "/api/v1/settings/notification-defaults",
            get(defaults).put(set_defaults),
        )
        .route(
            "/api/v1/settings/email",
            get(email_settings).put(save_email_settings),
        )
        .route("/api/v1/settings/email/test", post(send_test))
        .route("/api/v1/settings/email/outbox", get(outbox))
        .route("/api/v1/settings/email/outbox/{id}/retry", post(retry))
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(InboxQuery), responses((status = 200, body = Inbox)))]
pub async fn inbox(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> AppResult<Json<Inbox>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::inbox(&ctx, &mut conn, q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}

#[utoipa::path(get, path = "/api/v1/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = UnreadCount)))]
pub async fn unread_count(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<UnreadCount>> {
    let mut conn = state.db.acquire().await?;
    let unread = service::unread_count(&ctx, &mut conn).await?;
    Ok(Json(UnreadCount { unread }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Marked {
    pub marked: u64,
}

#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications",
    responses((status = 200, body = Marked)))]
pub async fn read_all(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Marked>> {
    let mut tx = state.db.begin().await?;
    let marked = service::mark_all_read(&ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(Json(Marked { marked }))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Notification), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Notification>> {
    let mut tx = state.db.begin().await?;
    let n = service::mark_read(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(n))
}

#[utoipa::path(get, path = "/api/v1/notifications/preferences", tag = "notifications",
    responses((status = 200, body = Vec<Preference>)))]
pub async fn preferences(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Preference>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::preferences(&ctx, &mut conn).await?))
}

#[utoipa::path(put, path = "/api/v1/notifications/preferences", tag = "notifications",
    request_body = PreferencesInput,
    responses((status = 200, body = Vec<Preference>), (status = 422, body = crate::error::Problem)))]
pub async fn set_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<PreferencesInput>,
) -> AppResult<Json<Vec<Preference>>> {
    let mut tx = state.db.begin().await?;
    let prefs = service::set_preferences(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok(Json(prefs))
}

#[utoipa::path(get, path = "/api/v1/settings/notification-defaults", tag = "notifications",
    responses((status = 200, body = Vec<DefaultPreference>), (status = 403, body = crate::error::Problem)))]
pub async fn defaults(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<DefaultPreference>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::defaults(&ctx, &mut conn).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/notification-defaults", tag = "notifications",
    request_body = PreferencesInput,
    responses((status = 200, body = Vec<DefaultPreference>), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn set_defaults(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<PreferencesInput>,
) -> AppResult<Json<Vec<DefaultPreference>>> {
    let mut tx = state.db.begin().await?;
    let d = service::set_defaults(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok(Json(d))
}

#[utoipa::path(get, path = "/api/v1/settings/email", tag = "email",
    responses((status = 200, body = EmailSettings), (status = 403, body = crate::error::Problem)))]
pub async fn email_settings(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<EmailSettings>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(mail::settings(&ctx, &mut conn).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/email", tag = "email",
    request_body = EmailSettingsInput,
    responses((status = 200, body = EmailSettings), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn save_email_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<EmailSettingsInput>,
) -> AppResult<Json<EmailSettings>> {
    let mut tx = state.db.begin().await?;
    let s = mail::save_settings(&state, &ctx, &mut tx, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// Sends a test message now and reports what the SMTP server answered.
#[utoipa::path(post, path = "/api/v1/settings/email/test", tag = "email",
    request_body = TestInput,
    responses((status = 200, body = TestResult), (status = 409, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn send_test(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TestInput>,
) -> AppResult<Json<TestResult>> {
    Ok(Json(mail::send_test(&state, &ctx, input).await?))
}

#[utoipa::path(get, path = "/api/v1/settings/email/outbox", tag = "email",
    params(OutboxQuery),
    responses((status = 200, body = Outbox), (status = 403, body = crate::error::Problem)))]
pub async fn outbox(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> AppResult<Json<Outbox>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(mail::outbox(&ctx, &mut conn, q).await?))
}

#[utoipa::path(post, path = "/api/v1/settings/email/outbox/{id}/retry", tag = "email",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OutboxItem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn retry(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<OutboxItem>> {
    let mut tx = state.db.begin().await?;
    let item = mail::retry(&ctx, &mut tx, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(item))
}
