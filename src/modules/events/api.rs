//! `/api/v1/events`: thin JSON handlers over `service`. Reading, answering and self check-in
//! need `events.view`; creating, changing and the attendance sheet `events.manage`. The
//! calendar feed (`/calendar/{secret}.ics`) answers without a session.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::rules::EventInput;
use super::service::attendance::{
    self, Attendee, Finalized, MemberInput, RsvpInput, SelfCheckIn, TimesInput, UndoInput,
};
use super::service::attachments::{self, Attachment};
use super::service::feed::{self, Feed};
use super::service::templates::{self, FromEvent, Template, TemplateInput};
use super::service::{self, CancelInput, Event, EventQuery, Named, Saved, ScopeQuery};
use crate::auth::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::{PathId, PathIds};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(events).post(create_event))
        .route("/api/v1/events/locations", get(locations))
        .route(
            "/api/v1/events/templates",
            get(templates).post(create_template),
        )
        .route("/api/v1/events/{id}/save-as-template", post(save_as_template))
        .route(
            "/api/v1/events/feed",
            get(feed).post(new_feed).delete(revoke_feed),
        )
        .route("/api/v1/events/{id}", get(event).put(update_event))
        .route("/api/v1/events/{id}/publish", post(publish))
        .route("/api/v1/events/{id}/cancel", post(cancel))
        .route("/api/v1/events/{id}/ics", get(event_ics))
        .route("/api/v1/events/{id}/rsvp", post(rsvp))
        .route("/api/v1/events/{id}/self-check-in", post(self_check_in))
        .route("/api/v1/events/{id}/attendees", get(attendees))
        .route("/api/v1/events/{id}/check-in", post(check_in))
        .route("/api/v1/events/{id}/check-out", post(check_out))
        .route("/api/v1/events/{id}/attendance", post(set_times))
        .route("/api/v1/events/{id}/finalize", post(finalize))
        .route("/api/v1/events/{id}/unfinalize", post(unfinalize))
        .route(
            "/api/v1/events/{id}/attachments",
            get(attachments).post(add_attachment).layer(axum::extract::DefaultBodyLimit::max(
                attachments::MAX_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/api/v1/events/{id}/attachments/{attachment}",
            get(download_attachment).delete(remove_attachment),
        )
        .route("/calendar/{file}", get(calendar_feed))
}

type Problem = crate::error::Problem;

/// Events in time order from a day (default today), searched and filtered.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = Page<Event>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> AppResult<Json<Page<Event>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::events(&ctx, &mut conn, q).await?))
}

/// Creates an event, or a series (`recurrence`): every occurrence a row, at most 365.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventInput,
    responses((status = 201, body = Saved), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_event(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<EventInput>,
) -> AppResult<(StatusCode, Json<Saved>)> {
    let mut tx = state.db.begin().await?;
    let saved = service::create(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = Uuid, Path)),
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn event(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Event>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::event(&ctx, &mut conn, id).await?))
}

/// Changes an event; `scope=future` changes the later occurrences of its series too.
#[utoipa::path(put, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = Uuid, Path), ScopeQuery), request_body = EventInput,
    responses((status = 200, body = Saved), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_event(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
    ApiJson(input): ApiJson<EventInput>,
) -> AppResult<Json<Saved>> {
    let scope = scope.scope()?;
    let mut tx = state.db.begin().await?;
    let saved = service::update(&ctx, &mut tx, id, scope, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Publishes a draft (`scope=future`: and the series' later drafts).
#[utoipa::path(post, path = "/api/v1/events/{id}/publish", tag = "events",
    params(("id" = Uuid, Path), ScopeQuery),
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> AppResult<Json<Event>> {
    let scope = scope.scope()?;
    let mut tx = state.db.begin().await?;
    let e = service::publish(&ctx, &mut tx, id, scope).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Cancels an event (`scope=future`: and the rest of its series); members who answered are
/// told.
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "events",
    params(("id" = Uuid, Path), ScopeQuery), request_body = CancelInput,
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
    ApiJson(input): ApiJson<CancelInput>,
) -> AppResult<Json<Event>> {
    let scope = scope.scope()?;
    let mut tx = state.db.begin().await?;
    let e = service::cancel(&ctx, &mut tx, &state.notifier, id, scope, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(e))
}

/// The event as a calendar file.
#[utoipa::path(get, path = "/api/v1/events/{id}/ics", tag = "events", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn event_ics(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Response> {
    let mut conn = state.db.acquire().await?;
    let (_, ics) = feed::event_ics(&ctx, &mut conn, id, &state.config.public_url).await?;
    Ok(calendar_response(ics, Some("event.ics")))
}

fn calendar_response(ics: String, file: Option<&str>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        ics,
    )
        .into_response();
    if let Some(file) = file
        && let Ok(v) = format!("attachment; filename=\"{file}\"").parse()
    {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The caller's answer: going, maybe or not going (a full event puts going on the waitlist).
#[utoipa::path(post, path = "/api/v1/events/{id}/rsvp", tag = "events",
    params(("id" = Uuid, Path)), request_body = RsvpInput,
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn rsvp(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<RsvpInput>,
) -> AppResult<Json<Event>> {
    let mut tx = state.db.begin().await?;
    let e = attendance::rsvp(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(e))
}

/// The caller checks in with the code of the event's QR link, within its check-in window.
#[utoipa::path(post, path = "/api/v1/events/{id}/self-check-in", tag = "events",
    params(("id" = Uuid, Path)), request_body = SelfCheckIn,
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn self_check_in(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SelfCheckIn>,
) -> AppResult<Json<Event>> {
    let mut tx = state.db.begin().await?;
    let e = attendance::self_check_in(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Everyone who answered or came (officers).
#[utoipa::path(get, path = "/api/v1/events/{id}/attendees", tag = "events",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Attendee>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn attendees(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Attendee>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(attendance::attendees(&ctx, &mut conn, id).await?))
}

/// An officer checks a member in now.
#[utoipa::path(post, path = "/api/v1/events/{id}/check-in", tag = "events",
    params(("id" = Uuid, Path)), request_body = MemberInput,
    responses((status = 200, body = Attendee), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn check_in(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MemberInput>,
) -> AppResult<Json<Attendee>> {
    let mut tx = state.db.begin().await?;
    let a = attendance::check_in(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// An officer checks a member out now.
#[utoipa::path(post, path = "/api/v1/events/{id}/check-out", tag = "events",
    params(("id" = Uuid, Path)), request_body = MemberInput,
    responses((status = 200, body = Attendee), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn check_out(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MemberInput>,
) -> AppResult<Json<Attendee>> {
    let mut tx = state.db.begin().await?;
    let a = attendance::check_out(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// An officer sets (or clears) a member's check-in and check-out times, with a reason.
#[utoipa::path(post, path = "/api/v1/events/{id}/attendance", tag = "events",
    params(("id" = Uuid, Path)), request_body = TimesInput,
    responses((status = 200, body = Attendee), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_times(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<TimesInput>,
) -> AppResult<Json<Attendee>> {
    let mut tx = state.db.begin().await?;
    let a = attendance::set_times(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// Closes the attendance; a training event credits those present with training records, once.
#[utoipa::path(post, path = "/api/v1/events/{id}/finalize", tag = "events",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Finalized), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn finalize(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Finalized>> {
    let mut tx = state.db.begin().await?;
    let f = attendance::finalize(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(f))
}

/// Opens a finalized attendance again, voiding the training records it made.
#[utoipa::path(post, path = "/api/v1/events/{id}/unfinalize", tag = "events",
    params(("id" = Uuid, Path)), request_body = UndoInput,
    responses((status = 200, body = Event), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn unfinalize(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<UndoInput>,
) -> AppResult<Json<Event>> {
    let mut tx = state.db.begin().await?;
    let e = attendance::unfinalize(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// The department's stations and rooms, for events.
#[utoipa::path(get, path = "/api/v1/events/locations", tag = "events",
    responses((status = 200, body = Vec<Named>), (status = 403, body = Problem)))]
pub async fn locations(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Named>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::locations(&ctx, &mut conn).await?))
}

/// Whether the caller has a calendar feed.
#[utoipa::path(get, path = "/api/v1/events/feed", tag = "events",
    responses((status = 200, body = Feed), (status = 403, body = Problem)))]
pub async fn feed(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Feed>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(feed::feed(&ctx, &mut conn).await?))
}

/// A new calendar feed address for the caller (shown once; the old one stops working).
#[utoipa::path(post, path = "/api/v1/events/feed", tag = "events",
    responses((status = 201, body = Feed), (status = 403, body = Problem)))]
pub async fn new_feed(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<(StatusCode, Json<Feed>)> {
    let mut tx = state.db.begin().await?;
    let f = feed::new_feed(&ctx, &mut tx, &state.config.public_url).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(f)))
}

/// Ends the caller's calendar feed.
#[utoipa::path(delete, path = "/api/v1/events/feed", tag = "events",
    responses((status = 200, body = Feed), (status = 403, body = Problem),
        (status = 409, body = Problem)))]
pub async fn revoke_feed(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Feed>> {
    let mut tx = state.db.begin().await?;
    let f = feed::revoke_feed(&ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(Json(f))
}

/// A member's feed, by the secret in its address (no session: calendar apps cannot sign in).
async fn calendar_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    match feed::feed_ics(&state.db, token, &state.config.public_url).await? {
        Some(ics) => Ok(calendar_response(ics, None)),
        None => Err(AppError::NotFound),
    }
}

/// The files attached to an event.
#[utoipa::path(get, path = "/api/v1/events/{id}/attachments", tag = "events",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Attachment>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn attachments(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Attachment>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(attachments::attachments(&ctx, &mut conn, id).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileName {
    /// The file's name as chosen (cleaned before it is kept); default "attachment".
    pub name: Option<String>,
}

/// Attaches a file: the request body is the file itself (at most 10 MB; a PDF, picture, Word,
/// Excel or PowerPoint file, or plain text, as its bytes show).
#[utoipa::path(post, path = "/api/v1/events/{id}/attachments", tag = "events",
    params(("id" = Uuid, Path), FileName),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn add_attachment(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(file): ApiQuery<FileName>,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<Attachment>)> {
    let bytes = axum::body::to_bytes(body, attachments::MAX_BYTES)
        .await
        .map_err(|_| {
            AppError::Rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the file is larger than 10 MB".into(),
            )
        })?;
    let data_dir = &state.config.data_dir;
    let mut tx = state.db.begin().await?;
    let saved = attachments::add(
        &ctx,
        &mut tx,
        data_dir,
        id,
        file.name.as_deref().unwrap_or("attachment"),
        &bytes,
    ).await?;
    if let Err(e) = tx.commit().await {
        let _ = std::fs::remove_file(attachments::path_of(data_dir, &ctx, saved.id));
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(saved)))
}

/// One attached file, as a download.
#[utoipa::path(get, path = "/api/v1/events/{id}/attachments/{attachment}", tag = "events",
    params(("id" = Uuid, Path), ("attachment" = Uuid, Path)),
    responses((status = 200, description = "The file, as the type its bytes showed",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                (String = "text/plain"))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, attachment): PathIds,
) -> AppResult<Response> {
    let mut conn = state.db.acquire().await?;
    let (a, bytes) =
        attachments::open(&ctx, &mut conn, &state.config.data_dir, id, attachment).await?;
    Ok(file_response(&a, bytes))
}

/// The bytes as a download: its sniffed type, never shown inline, never sniffed again.
pub fn file_response(a: &Attachment, bytes: Vec<u8>) -> Response {
    crate::uploads::bytes_download(bytes, &a.file_name, &a.content_type)
}

/// Removes an attached file.
#[utoipa::path(delete, path = "/api/v1/events/{id}/attachments/{attachment}", tag = "events",
    params(("id" = Uuid, Path), ("attachment" = Uuid, Path)),
    responses((status = 200, body = Attachment), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_attachment(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, attachment): PathIds,
) -> AppResult<Json<Attachment>> {
    let mut tx = state.db.begin().await?;
    let gone = attachments::remove(&ctx, &mut tx, id, attachment).await?;
    tx.commit().await?;
    remove_file(&state, &ctx, gone.id);
    Ok(Json(gone))
}

/// Deletes a removed attachment's bytes (after the commit: a failed removal leaves the row).
pub fn remove_file(state: &AppState, ctx: &Ctx, id: uuid::Uuid) {
    let path = attachments::path_of(&state.config.data_dir, ctx, id);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove an attachment's file");
    }
}

/// The department's event templates (officers).
#[utoipa::path(get, path = "/api/v1/events/templates", tag = "events",
    responses((status = 200, body = Vec<Template>), (status = 403, body = Problem)))]
pub async fn templates(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Template>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(templates::templates(&ctx, &mut conn).await?))
}

/// Saves a template for new events.
#[utoipa::path(post, path = "/api/v1/events/templates", tag = "events",
    request_body = TemplateInput,
    responses((status = 201, body = Template), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_template(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TemplateInput>,
) -> AppResult<(StatusCode, Json<Template>)> {
    let mut tx = state.db.begin().await?;
    let t = templates::create(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Saves an event's settings (kind, length, place, course, answers, reminders) as a template.
#[utoipa::path(post, path = "/api/v1/events/{id}/save-as-template", tag = "events",
    params(("id" = Uuid, Path)), request_body = FromEvent,
    responses((status = 201, body = Template), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn save_as_template(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<FromEvent>,
) -> AppResult<(StatusCode, Json<Template>)> {
    let mut tx = state.db.begin().await?;
    let t = templates::from_event(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}
