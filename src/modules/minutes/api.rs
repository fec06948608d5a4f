//! `/api/v1/minutes`: thin JSON handlers over `service`. Reading approved minutes needs
//! `minutes.view`; writing, the workflow, drafts and the department's attendance need
//! `minutes.manage`. A member reads and moves along their own action items and sees their own
//! meeting attendance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::service::attendance::{self, AttendanceInput, AttendanceView, MemberAttendance};
use super::service::content::{self, ActionItem, ActionItemInput, ItemQuery, ActionItemUpdate, Motion, MotionInput};
use super::service::{
    self, Minutes, MinutesQuery, RevisionQuery, MinutesSummary, MinutesUpdate, NewMinutes, Rejection, MinutesTemplate,
    MinutesTemplateInput,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::{PathId, PathIds};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/minutes", get(list).post(create))
        .route("/api/v1/minutes/templates", get(templates).post(create_template))
        .route("/api/v1/minutes/action-items", get(items))
        .route("/api/v1/minutes/action-items/{id}", axum::routing::patch(update_item))
        .route("/api/v1/minutes/attendance", get(attendance))
        .route("/api/v1/minutes/attendance/{id}", get(member_attendance))
        .route("/api/v1/minutes/{id}", get(get_one).put(update).delete(delete_one))
        .route("/api/v1/minutes/{id}/submit", post(submit))
        .route("/api/v1/minutes/{id}/approve", post(approve))
        .route("/api/v1/minutes/{id}/reject", post(reject))
        .route("/api/v1/minutes/{id}/publish", post(publish))
        .route("/api/v1/minutes/{id}/motions", post(add_motion))
        .route("/api/v1/minutes/{id}/motions/{motion}", delete(remove_motion))
        .route("/api/v1/minutes/{id}/action-items", post(add_item))
        .route("/api/v1/minutes/{id}/action-items/{item}", delete(remove_item))
        .route("/api/v1/minutes/{id}/attendance", put(set_attendance))
}

type Problem = crate::error::Problem;

/// Minutes the caller may see (members: approved ones), newest meeting first.
#[utoipa::path(get, path = "/api/v1/minutes", tag = "minutes", params(MinutesQuery),
    responses((status = 200, body = Page<MinutesSummary>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<MinutesQuery>,
) -> AppResult<Json<Page<MinutesSummary>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::list(&ctx, &mut conn, q).await?))
}

/// Starts minutes in draft, with the template's sections.
#[utoipa::path(post, path = "/api/v1/minutes", tag = "minutes", request_body = NewMinutes,
    responses((status = 201, body = Minutes), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewMinutes>,
) -> AppResult<(StatusCode, Json<Minutes>)> {
    let mut tx = state.db.begin().await?;
    let out = service::create(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Minutes in full: sections, motions, action items and attendance.
#[utoipa::path(get, path = "/api/v1/minutes/{id}", tag = "minutes", params(("id" = Uuid, Path)),
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Minutes>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::minutes(&ctx, &mut conn, id).await?))
}

/// Saves the header and sections of draft or rejected minutes (rejected ones become a draft).
#[utoipa::path(put, path = "/api/v1/minutes/{id}", tag = "minutes", params(("id" = Uuid, Path)),
    request_body = MinutesUpdate,
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MinutesUpdate>,
) -> AppResult<Json<Minutes>> {
    let mut tx = state.db.begin().await?;
    let out = service::update(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Deletes draft minutes that were never submitted.
#[utoipa::path(delete, path = "/api/v1/minutes/{id}", tag = "minutes",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn delete_one(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    service::delete(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submits minutes for approval; the other officers are told.
#[utoipa::path(post, path = "/api/v1/minutes/{id}/submit", tag = "minutes",
    params(("id" = Uuid, Path), RevisionQuery),
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<RevisionQuery>,
) -> AppResult<Json<Minutes>> {
    let mut tx = state.db.begin().await?;
    let out = service::submit(&ctx, &mut tx, &state.notifier, id, q.revision).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Approves submitted minutes: locked from now on; the assignees of their action items are told.
#[utoipa::path(post, path = "/api/v1/minutes/{id}/approve", tag = "minutes",
    params(("id" = Uuid, Path), RevisionQuery),
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<RevisionQuery>,
) -> AppResult<Json<Minutes>> {
    let mut tx = state.db.begin().await?;
    let out = service::approve(&ctx, &mut tx, &state.notifier, id, q.revision).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Sends submitted minutes back with a reason.
#[utoipa::path(post, path = "/api/v1/minutes/{id}/reject", tag = "minutes",
    params(("id" = Uuid, Path)), request_body = Rejection,
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<Rejection>,
) -> AppResult<Json<Minutes>> {
    let mut tx = state.db.begin().await?;
    let out = service::reject(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Publishes approved minutes into the Minutes folder as a page and a PDF (once: publishing
/// again returns the same document).
#[utoipa::path(post, path = "/api/v1/minutes/{id}/publish", tag = "minutes",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Minutes), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Minutes>> {
    let mut tx = state.db.begin().await?;
    let (out, path) =
        service::publish::publish(&ctx, &mut tx, &state.config.data_dir, id).await?;
    match path {
        Some(p) => crate::uploads::commit_or_remove(tx, &p).await?,
        None => tx.commit().await?,
    }
    Ok(Json(out))
}

/// Records a motion.
#[utoipa::path(post, path = "/api/v1/minutes/{id}/motions", tag = "minutes",
    params(("id" = Uuid, Path)), request_body = MotionInput,
    responses((status = 201, body = Motion), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_motion(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MotionInput>,
) -> AppResult<(StatusCode, Json<Motion>)> {
    let mut tx = state.db.begin().await?;
    let out = content::add_motion(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Removes a motion.
#[utoipa::path(delete, path = "/api/v1/minutes/{id}/motions/{motion}", tag = "minutes",
    params(("id" = Uuid, Path), ("motion" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn remove_motion(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, motion): PathIds,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    content::remove_motion(&ctx, &mut tx, id, motion).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds an action item (its assignee is told when the minutes are approved).
#[utoipa::path(post, path = "/api/v1/minutes/{id}/action-items", tag = "minutes",
    params(("id" = Uuid, Path)), request_body = ActionItemInput,
    responses((status = 201, body = ActionItem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ActionItemInput>,
) -> AppResult<(StatusCode, Json<ActionItem>)> {
    let mut tx = state.db.begin().await?;
    let out = content::add_item(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Removes an action item.
#[utoipa::path(delete, path = "/api/v1/minutes/{id}/action-items/{item}", tag = "minutes",
    params(("id" = Uuid, Path), ("item" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn remove_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, item): PathIds,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    content::remove_item(&ctx, &mut tx, id, item).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Action items: the caller's own, or (officers, `scope=all`) the department's.
#[utoipa::path(get, path = "/api/v1/minutes/action-items", tag = "minutes", params(ItemQuery),
    responses((status = 200, body = Page<ActionItem>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn items(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> AppResult<Json<Page<ActionItem>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(content::items(&ctx, &mut conn, q).await?))
}

/// Moves an action item along (its assignee: the status; officers: also due date, priority
/// and assignee), whatever state the minutes are in.
#[utoipa::path(patch, path = "/api/v1/minutes/action-items/{id}", tag = "minutes",
    params(("id" = Uuid, Path)), request_body = ActionItemUpdate,
    responses((status = 200, body = ActionItem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ActionItemUpdate>,
) -> AppResult<Json<ActionItem>> {
    let mut tx = state.db.begin().await?;
    let out = content::update_item(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Records the meeting's attendance (replacing it). For a meeting linked to an event, only the
/// excused: the present are the event's check-ins.
#[utoipa::path(put, path = "/api/v1/minutes/{id}/attendance", tag = "minutes",
    params(("id" = Uuid, Path)), request_body = AttendanceInput,
    responses((status = 200, body = AttendanceView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_attendance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AttendanceInput>,
) -> AppResult<Json<AttendanceView>> {
    let mut tx = state.db.begin().await?;
    let out = attendance::set(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// The department's minutes templates (each meeting type has a default).
#[utoipa::path(get, path = "/api/v1/minutes/templates", tag = "minutes",
    responses((status = 200, body = Vec<MinutesTemplate>), (status = 403, body = Problem)))]
pub async fn templates(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<MinutesTemplate>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::templates(&ctx, &mut conn).await?))
}

/// Adds a template of the department's own.
#[utoipa::path(post, path = "/api/v1/minutes/templates", tag = "minutes",
    request_body = MinutesTemplateInput,
    responses((status = 201, body = MinutesTemplate), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_template(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<MinutesTemplateInput>,
) -> AppResult<(StatusCode, Json<MinutesTemplate>)> {
    let mut tx = state.db.begin().await?;
    let out = service::create_template(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The last day of the window; default today.
    pub as_of: Option<NaiveDate>,
}

/// Every current member's meeting attendance over their tier's window (officers).
#[utoipa::path(get, path = "/api/v1/minutes/attendance", tag = "minutes", params(AsOf),
    responses((status = 200, body = Vec<MemberAttendance>), (status = 403, body = Problem)))]
pub async fn attendance(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<AsOf>,
) -> AppResult<Json<Vec<MemberAttendance>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(attendance::department(&ctx, &mut conn, q.as_of).await?))
}

/// One member's meeting attendance: one's own, or anyone's for officers.
#[utoipa::path(get, path = "/api/v1/minutes/attendance/{id}", tag = "minutes",
    params(("id" = Uuid, Path), AsOf),
    responses((status = 200, body = MemberAttendance), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn member_attendance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<AsOf>,
) -> AppResult<Json<MemberAttendance>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(attendance::of_member(&ctx, &mut conn, id, q.as_of).await?))
}
