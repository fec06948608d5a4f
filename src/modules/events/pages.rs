//! `/events` pages, phone first: the calendar (a list, a week, a month), the event with its
//! answer in one tap, the check-in a QR code opens, the officer's form, attendance sheet (check
//! in, out, fix times, finalize), a printable sign-in sheet and the QR code for a station
//! tablet, and the member's calendar feed. Plain forms, post-redirect-get; the rules live in
//! `service`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{self, CheckInWindow, EventInput, EventType, Pattern, ReminderTarget, Rsvp};
use super::service::attendance::{
    self, Attendee, MemberInput, RsvpInput, SelfCheckIn, TimesInput, UndoInput,
};
use super::service::attachments;
use super::service::feed;
use super::service::templates::{self, FromEvent};
use super::service::{
    self, CancelInput, EVENTS_MANAGE, EVENTS_VIEW, Event, EventQuery, Named, Scope,
};
use crate::auth::Ctx;
use crate::db::Conn;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::time::Local;
use crate::web::{
    self, Chrome, DoneQuery, FieldErrors, Opt, PageResult, Pager, PathId, PathIds, Viewer,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(calendar))
        .route("/events/new", get(new_event).post(create_event))
        .route("/events/{id}/template", post(save_as_template))
        .route("/events/feed", get(feed_page).post(new_feed))
        .route("/events/feed/revoke", post(revoke_feed))
        .route("/events/{id}", get(event_page))
        .route("/events/{id}/edit", get(edit_event).post(update_event))
        .route("/events/{id}/rsvp", post(rsvp))
        .route("/events/{id}/check-in", get(check_in_page).post(self_check_in))
        .route("/events/{id}/publish", post(publish))
        .route("/events/{id}/cancel", get(cancel_page).post(cancel))
        .route("/events/{id}/attendance", get(attendance_page))
        .route("/events/{id}/attendance/check-in", post(officer_check_in))
        .route("/events/{id}/attendance/check-out", post(officer_check_out))
        .route("/events/{id}/attendance/times", post(set_times))
        .route("/events/{id}/attendance/finalize", post(finalize))
        .route("/events/{id}/attendance/unfinalize", post(unfinalize))
        .route("/events/{id}/sign-in-sheet", get(sign_in_sheet))
        .route("/events/{id}/qr", get(qr_page))
        .route(
            "/events/{id}/attachments/{attachment}/remove",
            post(remove_attachment),
        )
}

const SECTION: &str = "/events";

fn local(ctx: &Ctx) -> Local {
    Local::new(&ctx.timezone, ctx.locale)
}

/// An event as a line of the calendar or the head of its page, in words.
struct EventView {
    id: Uuid,
    title: String,
    kind: &'static str,
    /// "Tue 12/08/2026, 7:00 PM – 9:00 PM".
    when: String,
    day: NaiveDate,
    place: String,
    description: String,
    going: i64,
    maybe: i64,
    waitlisted: i64,
    checked_in: i64,
    capacity: String,
    my_rsvp_label: &'static str,
    my_rsvp_word: &'static str,
    checked_in_at: String,
    mandatory: bool,
    draft: bool,
    cancelled: bool,
    cancellation_reason: String,
    finalized: bool,
    over: bool,
    started: bool,
    requires_rsvp: bool,
    recurrence: String,
    series: bool,
    course: String,
    training: bool,
}

impl EventView {
    fn new(ctx: &Ctx, e: &Event) -> EventView {
        let l = local(ctx);
        let start = e.starts_at.with_timezone(&l.tz);
        let end = e.ends_at.with_timezone(&l.tz);
        let time = ctx.locale.time_pattern(false);
        let when = if start.date_naive() == end.date_naive() {
            format!(
                "{}, {} – {}",
                start.format(&format!("%a {}", ctx.locale.date_pattern())),
                start.format(time),
                end.format(time)
            )
        } else {
            format!("{} – {}", l.moment_plain(&e.starts_at), l.moment_plain(&e.ends_at))
        };
        let now = Utc::now();
        EventView {
            id: e.id,
            title: e.title.clone(),
            kind: e.event_type.label(),
            when,
            day: start.date_naive(),
            place: e
                .location
                .as_ref()
                .map(|p| p.name.clone())
                .or(e.location_text.clone())
                .unwrap_or_default(),
            description: e.description.clone().unwrap_or_default(),
            going: e.going,
            maybe: e.maybe,
            waitlisted: e.waitlisted,
            checked_in: e.checked_in,
            capacity: e
                .max_attendees
                .map(|m| format!("{} of {m} places taken", e.going))
                .unwrap_or_default(),
            my_rsvp_label: e.my_rsvp.map_or("", Rsvp::label),
            my_rsvp_word: e.my_rsvp.map_or("", Rsvp::as_str),
            checked_in_at: e
                .my_checked_in_at
                .map(|t| l.moment(&t))
                .unwrap_or_default(),
            mandatory: e.is_mandatory,
            draft: e.is_draft,
            cancelled: e.cancelled_at.is_some(),
            cancellation_reason: e.cancellation_reason.clone().unwrap_or_default(),
            finalized: e.finalized_at.is_some(),
            over: e.ends_at <= now,
            started: e.starts_at <= now,
            requires_rsvp: e.requires_rsvp,
            recurrence: e.recurrence.clone().unwrap_or_default(),
            series: e.series_id.is_some(),
            course: e.course.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            training: e.event_type == EventType::Training || e.course.is_some(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The calendar

/// A day of the calendar with its events.
struct DayView {
    label: String,
    anchor: String,
    today: bool,
    events: Vec<EventView>,
}

/// A cell of the month grid.
struct Cell {
    day: u32,
    anchor: String,
    in_month: bool,
    busy: bool,
    today: bool,
}

#[derive(Template)]
#[template(path = "events/calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    can_manage: bool,
    view: &'static str,
    heading: String,
    prev: String,
    next: String,
    today_link: String,
    days: Vec<DayView>,
    weeks: Vec<Vec<Cell>>,
    weekday_names: Vec<&'static str>,
    total: u64,
    pager: Pager,
    q: String,
    kind: String,
    kinds: Vec<Opt>,
    notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
struct CalendarParams {
    view: Option<String>,
    /// The day the week or month is around (`YYYY-MM-DD`).
    on: Option<String>,
    q: Option<String>,
    kind: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

fn type_pairs() -> Vec<(&'static str, &'static str)> {
    EventType::WORDS
        .iter()
        .filter_map(|w| EventType::parse(w).map(|t| (*w, t.label())))
        .collect()
}

async fn calendar(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<CalendarParams>, QueryRejection>,
) -> PageResult {
    ctx.require(EVENTS_VIEW)?;
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let today = crate::time::today(&ctx.timezone);
    let on = p
        .on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .filter(|d| (2000..=2100).contains(&d.year()))
        .unwrap_or(today);
    let view = match p.view.as_deref() {
        Some("month") => "month",
        Some("week") => "week",
        _ => "list",
    };
    let q = p.q.unwrap_or_default().trim().chars().take(100).collect::<String>();
    let kind = p
        .kind
        .filter(|k| EventType::parse(k).is_some())
        .unwrap_or_default();
    let (from, to) = match view {
        "month" => {
            let first = on.with_day(1).unwrap_or(on);
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(first);
            (first, Some(last))
        }
        "week" => {
            let start = on - Duration::days(i64::from(on.weekday().num_days_from_sunday()));
            (start, Some(start + Duration::days(6)))
        }
        _ => (today, None),
    };
    let page = if view == "list" {
        web::page_number(p.page.as_deref())
    } else {
        1
    };
    let mut conn = state.db.acquire().await?;
    let found = service::events(
        &ctx,
        &mut conn,
        EventQuery {
            from: Some(from),
            to,
            q: (!q.is_empty()).then(|| q.clone()),
            event_type: (!kind.is_empty()).then(|| kind.clone()),
            include_cancelled: Some(view != "list"),
            page: Some(page),
            per_page: Some(if view == "list" { 25 } else { 200 }),
        },
    )
    .await?;
    let mut days: Vec<DayView> = Vec::new();
    for e in &found.items {
        let v = EventView::new(&ctx, e);
        let day = v.day.max(from);
        match days.last_mut() {
            Some(d) if d.anchor == format!("d{day}") => d.events.push(v),
            _ => days.push(DayView {
                label: day.format("%A, %B %-d").to_string(),
                anchor: format!("d{day}"),
                today: day == today,
                events: vec![v],
            }),
        }
    }
    let busy: std::collections::BTreeSet<NaiveDate> =
        days.iter().flat_map(|d| d.events.iter().map(|e| e.day)).collect();
    let mut weeks = Vec::new();
    if view == "month" {
        let first = from;
        let mut d = first - Duration::days(i64::from(first.weekday().num_days_from_sunday()));
        while d <= to.unwrap_or(first) {
            let mut week = Vec::new();
            for _ in 0..7 {
                week.push(Cell {
                    day: d.day(),
                    anchor: format!("d{d}"),
                    in_month: d.month() == first.month(),
                    busy: busy.contains(&d),
                    today: d == today,
                });
                d += Duration::days(1);
            }
            weeks.push(week);
        }
    }
    let (heading, prev_on, next_on) = match view {
        "month" => (
            from.format("%B %Y").to_string(),
            from.checked_sub_months(chrono::Months::new(1)).unwrap_or(from),
            from.checked_add_months(chrono::Months::new(1)).unwrap_or(from),
        ),
        "week" => (
            format!("Week of {}", crate::time::day_in_words(from)),
            from - Duration::days(7),
            from + Duration::days(7),
        ),
        _ => ("Coming up".to_string(), from, from),
    };
    let link = |view: &str, on: Option<NaiveDate>, page: u32| {
        let on = on.map(|d| d.to_string()).unwrap_or_default();
        let page = if page <= 1 {
            String::new()
        } else {
            page.to_string()
        };
        let view = if view == "list" { "" } else { view };
        web::link(
            "/events",
            &[("view", view), ("on", &on), ("q", &q), ("kind", &kind), ("page", &page)],
        )
    };
    let notice = match p.done.as_deref() {
        Some("feed") => Some("Your calendar feed is revoked."),
        _ => None,
    };
    Ok(web::render(&CalendarPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        can_manage: ctx.has(EVENTS_MANAGE),
        view,
        heading,
        prev: link(view, Some(prev_on), 1),
        next: link(view, Some(next_on), 1),
        today_link: link(view, None, 1),
        pager: Pager::new(found.page, found.total, found.per_page, |n| {
            link("list", None, n)
        }),
        total: found.total,
        days,
        weeks,
        weekday_names: vec!["S", "M", "T", "W", "T", "F", "S"],
        kinds: web::options(&type_pairs(), &kind, Some("Any kind")),
        q,
        kind,
        notice,
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The event

#[derive(Template)]
#[template(path = "events/event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventView,
    can_manage: bool,
    notice: Option<String>,
    refusal: Option<String>,
    rsvp_choices: Vec<(&'static str, &'static str, bool)>,
    can_answer: bool,
    check_in_window: String,
    files: Vec<FileView>,
    upload_js: String,
}

/// An attached file as a line of the event page.
struct FileView {
    id: Uuid,
    name: String,
    /// "PDF, 240 KB".
    about: String,
}

fn file_views(list: &[attachments::Attachment]) -> Vec<FileView> {
    list.iter()
        .map(|a| {
            let kind = match a.content_type.as_str() {
                "application/pdf" => "PDF",
                "text/plain" => "Text",
                t if t.starts_with("image/") => "Picture",
                t if t.contains("wordprocessing") => "Word",
                t if t.contains("spreadsheet") => "Excel",
                t if t.contains("presentation") => "PowerPoint",
                _ => "File",
            };
            let size = if a.size_bytes >= 1024 * 1024 {
                format!("{:.1} MB", f64::from(a.size_bytes) / (1024.0 * 1024.0))
            } else {
                format!("{} KB", a.size_bytes.div_ceil(1024))
            };
            FileView {
                id: a.id,
                name: a.file_name.clone(),
                about: format!("{kind}, {size}"),
            }
        })
        .collect()
}

async fn event_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<EventPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let e = service::event(ctx, &mut conn, id).await?;
    let files = attachments::attachments(ctx, &mut conn, id).await?;
    let v = EventView::new(ctx, &e);
    let (opens, closes) = rules::check_in_span(e.check_in_window, e.starts_at, e.ends_at);
    let l = local(ctx);
    let now = Utc::now();
    let can_answer = e.requires_rsvp
        && !v.cancelled
        && !v.draft
        && !v.over
        && e.rsvp_deadline.is_none_or(|d| d >= now);
    let current = e.my_rsvp.map(|r| if r == Rsvp::Waitlisted { Rsvp::Going } else { r });
    Ok(EventPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        can_manage: ctx.has(EVENTS_MANAGE),
        rsvp_choices: [Rsvp::Going, Rsvp::Maybe, Rsvp::NotGoing]
            .into_iter()
            .map(|r| (r.as_str(), r.label(), current == Some(r)))
            .collect(),
        can_answer,
        check_in_window: format!(
            "Check-in opens {} and closes {}.",
            l.moment_plain(&opens),
            l.moment_plain(&closes)
        ),
        e: v,
        notice,
        refusal,
        files: file_views(&files),
        upload_js: web::asset_url("upload.js"),
    })
}

fn done_notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "The event is saved.",
            "series" => "The series is saved: every occurrence is on the calendar.",
            "updated" => "The event is updated.",
            "rsvp" => "Your answer is saved.",
            "checked-in" => "You are checked in. Thank you for coming.",
            "published" => "The event is published: members see it now.",
            "cancelled" => "The event is cancelled; members who answered are told.",
            "attached" => "The file is attached.",
            "file-removed" => "The file is removed.",
            "template" => "Saved as a template: choose it when you create the next event.",
            _ => return None,
        }
        .to_string(),
    )
}

async fn event_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    let mut notice = done_notice(done.as_deref());
    // After a save that found the place booked: the clash, worked out again (a link carries
    // no text of its own to the page).
    if done.as_deref() == Some("warned") && ctx.has(EVENTS_MANAGE) {
        let mut conn = state.db.acquire().await?;
        notice = Some(match service::clashes(&ctx, &mut conn, id).await?.first() {
            Some(w) => format!("Saved. Note: {w}."),
            None => "Saved. Note: the place is also booked by another event at one of the \
                     series' times."
                .into(),
        });
    }
    Ok(web::render(&event_view(&state, &ctx, id, notice, None).await?))
}

/// After an action on the event: its page with the notice, or with why it was refused.
async fn after_action<T>(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
    done: &str,
    target: &str,
) -> PageResult {
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/events/{id}{target}?done={done}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            tx.rollback().await?;
            let status = if matches!(e, AppError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let message = web::refusal(&e);
            if target.is_empty() {
                let page = event_view(state, ctx, id, None, Some(message)).await?;
                Ok((status, web::render(&page)).into_response())
            } else {
                let page = attendance_view(state, ctx, id, None, Some(message)).await?;
                Ok((status, web::render(&page)).into_response())
            }
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct RsvpForm {
    #[serde(default)]
    status: String,
}

async fn rsvp(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RsvpForm>,
) -> PageResult {
    let Some(status) = Rsvp::parse(&form.status) else {
        let page = event_view(
            &state,
            &ctx,
            id,
            None,
            Some("Choose going, maybe or not going.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    };
    let mut tx = state.db.begin().await?;
    let result =
        attendance::rsvp(&ctx, &mut tx, &state.notifier, id, RsvpInput { status }).await;
    after_action(&state, &ctx, id, tx, result, "rsvp", "").await
}

async fn publish(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ScopeForm>,
) -> PageResult {
    let scope = Scope::parse(&form.scope).unwrap_or(Scope::This);
    let mut tx = state.db.begin().await?;
    let result = service::publish(&ctx, &mut tx, id, scope).await;
    after_action(&state, &ctx, id, tx, result, "published", "").await
}

#[derive(Debug, Default, Deserialize)]
struct ScopeForm {
    #[serde(default)]
    scope: String,
}

async fn remove_attachment(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, attachment): PathIds,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = attachments::remove(&ctx, &mut tx, id, attachment).await;
    let removed = result.as_ref().ok().map(|a| a.id);
    let answer = after_action(&state, &ctx, id, tx, result, "file-removed", "").await;
    if let (Some(gone), Ok(_)) = (removed, &answer) {
        super::api::remove_file(&state, &ctx, gone);
    }
    answer
}

// ---------------------------------------------------------------------------------------------
// Check-in by the QR code

#[derive(Template)]
#[template(path = "events/check_in.html")]
struct CheckInPage {
    chrome: Chrome,
    e: EventView,
    code: String,
    window: String,
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CodeParams {
    code: Option<String>,
}

async fn check_in_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    code: String,
    refusal: Option<String>,
) -> Result<CheckInPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let e = service::event(ctx, &mut conn, id).await?;
    let (opens, closes) = rules::check_in_span(e.check_in_window, e.starts_at, e.ends_at);
    let l = local(ctx);
    Ok(CheckInPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        e: EventView::new(ctx, &e),
        code,
        window: format!(
            "Check-in is open from {} to {}.",
            l.moment_plain(&opens),
            l.moment_plain(&closes)
        ),
        refusal,
    })
}

async fn check_in_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<CodeParams>, QueryRejection>,
) -> PageResult {
    let code = query
        .ok()
        .and_then(|Query(q)| q.code)
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    Ok(web::render(&check_in_view(&state, &ctx, id, code, None).await?))
}

async fn self_check_in(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CodeParams>,
) -> PageResult {
    let code: String = form.code.unwrap_or_default().chars().take(64).collect();
    let mut tx = state.db.begin().await?;
    let result =
        attendance::self_check_in(&ctx, &mut tx, id, SelfCheckIn { code: code.clone() }).await;
    match result {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/events/{id}?done=checked-in")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            tx.rollback().await?;
            let status = if matches!(e, AppError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = check_in_view(&state, &ctx, id, code, Some(web::refusal(&e))).await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "events/qr.html")]
struct QrPage {
    chrome: Chrome,
    e: EventView,
    svg: String,
    url: String,
    window: String,
}

/// The check-in QR code, big, for a station tablet or the screen at the meeting.
async fn qr_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(&ctx, &mut conn, id).await?;
    let url = format!(
        "{}/events/{id}/check-in?code={}",
        state.config.public_url,
        e.check_in_code.clone().unwrap_or_default()
    );
    let (opens, closes) = rules::check_in_span(e.check_in_window, e.starts_at, e.ends_at);
    let l = local(&ctx);
    Ok(web::render(&QrPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        svg: web::qr_svg(&url)?,
        e: EventView::new(&ctx, &e),
        url,
        window: format!(
            "Open from {} to {}.",
            l.moment_plain(&opens),
            l.moment_plain(&closes)
        ),
    }))
}

// ---------------------------------------------------------------------------------------------
// The form

#[derive(Debug, Default, Deserialize)]
struct EventForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_time: String,
    #[serde(default)]
    location_id: String,
    #[serde(default)]
    location_text: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    max_attendees: String,
    #[serde(default)]
    requires_rsvp: Option<String>,
    #[serde(default)]
    is_mandatory: Option<String>,
    #[serde(default)]
    reminder_hours: String,
    #[serde(default)]
    reminder_target: String,
    #[serde(default)]
    check_in_window: String,
    #[serde(default)]
    course_id: String,
    #[serde(default)]
    is_draft: Option<String>,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    template_id: String,
}

const FORM_LABELS: &[(&str, &str)] = &[
    ("title", "Title"),
    ("event_type", "Kind"),
    ("start_date", "Day"),
    ("start_time", "Starts"),
    ("end_time", "Ends"),
    ("location_id", "Where"),
    ("location_text", "Somewhere else"),
    ("description", "Details"),
    ("max_attendees", "Places"),
    ("reminder_hours", "Remind, hours before"),
    ("reminder_target", "Remind whom"),
    ("check_in_window", "Check-in"),
    ("course_id", "Course credited"),
    ("repeat", "Repeats"),
    ("until", "Until"),
    ("rsvp_deadline", "Answer by"),
];

impl EventForm {
    fn blank(today: NaiveDate) -> EventForm {
        EventForm {
            event_type: "training".into(),
            start_date: (today + Duration::days(7)).to_string(),
            start_time: "19:00".into(),
            end_time: "21:00".into(),
            requires_rsvp: Some("1".into()),
            reminder_hours: "24".into(),
            check_in_window: "flexible".into(),
            ..EventForm::default()
        }
    }

    /// A new event from a template: its settings, on the day and at the time of `blank`.
    fn from_template(today: NaiveDate, t: &templates::Template) -> EventForm {
        let blank = EventForm::blank(today);
        let start = chrono::NaiveTime::parse_from_str(&blank.start_time, "%H:%M").unwrap_or_default();
        let end = start + Duration::minutes(i64::from(t.duration_minutes));
        EventForm {
            title: t.title.clone(),
            event_type: t.event_type.to_string(),
            end_time: end.format("%H:%M").to_string(),
            location_id: t.location_id.map(|l| l.to_string()).unwrap_or_default(),
            description: t.description.clone().unwrap_or_default(),
            max_attendees: t.max_attendees.map(|m| m.to_string()).unwrap_or_default(),
            requires_rsvp: t.requires_rsvp.then(|| "1".into()),
            is_mandatory: t.is_mandatory.then(|| "1".into()),
            reminder_hours: t.reminder_hours.map(|h| h.to_string()).unwrap_or_default(),
            reminder_target: t.reminder_target.to_string(),
            check_in_window: t.check_in_window.to_string(),
            course_id: t.course_id.map(|c| c.to_string()).unwrap_or_default(),
            template_id: t.id.to_string(),
            ..blank
        }
    }

    fn from_event(ctx: &Ctx, e: &Event) -> EventForm {
        let tz = crate::time::zone(&ctx.timezone);
        let s = e.starts_at.with_timezone(&tz);
        let t = e.ends_at.with_timezone(&tz);
        EventForm {
            title: e.title.clone(),
            event_type: e.event_type.to_string(),
            start_date: s.date_naive().to_string(),
            start_time: s.format("%H:%M").to_string(),
            end_time: t.format("%H:%M").to_string(),
            location_id: e.location.as_ref().map(|l| l.id.to_string()).unwrap_or_default(),
            location_text: e.location_text.clone().unwrap_or_default(),
            description: e.description.clone().unwrap_or_default(),
            max_attendees: e.max_attendees.map(|m| m.to_string()).unwrap_or_default(),
            requires_rsvp: e.requires_rsvp.then(|| "1".into()),
            is_mandatory: e.is_mandatory.then(|| "1".into()),
            reminder_hours: e.reminder_hours.map(|h| h.to_string()).unwrap_or_default(),
            reminder_target: e.reminder_target.to_string(),
            check_in_window: e.check_in_window.to_string(),
            course_id: e.course.as_ref().map(|c| c.id.to_string()).unwrap_or_default(),
            is_draft: e.is_draft.then(|| "1".into()),
            repeat: String::new(),
            until: String::new(),
            scope: "this".into(),
            template_id: String::new(),
        }
    }

    /// The service's input, and the errors of reading the form itself.
    fn input(&self, errors: &mut Vec<FieldError>) -> EventInput {
        let opt = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        let number = |field: &str, s: &str, errors: &mut Vec<FieldError>| match s.trim() {
            "" => None,
            t => match t.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(field, "must be a whole number"));
                    None
                }
            },
        };
        let id = |field: &str, s: &str, errors: &mut Vec<FieldError>| {
            web::parse_optional_id(field, s, errors)
        };
        let event_type = EventType::parse(&self.event_type).unwrap_or_else(|| {
            errors.push(FieldError::new("event_type", EventType::must_be()));
            EventType::Other
        });
        let start = format!("{}T{}", self.start_date.trim(), self.start_time.trim());
        // An end at or before the start is the next morning (an overnight event).
        let end_day = match (
            NaiveDate::parse_from_str(self.start_date.trim(), "%Y-%m-%d"),
            chrono::NaiveTime::parse_from_str(self.start_time.trim(), "%H:%M"),
            chrono::NaiveTime::parse_from_str(self.end_time.trim(), "%H:%M"),
        ) {
            (Ok(d), Ok(s), Ok(e)) if e <= s => d + Duration::days(1),
            (Ok(d), _, _) => d,
            _ => NaiveDate::default(),
        };
        if chrono::NaiveTime::parse_from_str(self.end_time.trim(), "%H:%M").is_err() {
            errors.push(FieldError::new("end_time", "must be a time such as 21:00"));
        }
        if NaiveDate::parse_from_str(self.start_date.trim(), "%Y-%m-%d").is_err() {
            errors.push(FieldError::new("start_date", "must be a day such as 2026-12-08"));
        } else if chrono::NaiveTime::parse_from_str(self.start_time.trim(), "%H:%M").is_err() {
            errors.push(FieldError::new("start_time", "must be a time such as 19:00"));
        }
        let recurrence = match self.repeat.trim() {
            "" => None,
            word => match (Pattern::parse(word), web::parse_date("until", &self.until, errors)) {
                (Some(pattern), Some(until)) => Some(rules::RecurrenceInput { pattern, until }),
                (None, _) => {
                    errors.push(FieldError::new("repeat", Pattern::must_be()));
                    None
                }
                _ => None,
            },
        };
        let reminder_hours = match self.reminder_hours.trim() {
            "" => None,
            t => match t.parse::<u16>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new("reminder_hours", "must be between 1 and 720 hours"));
                    None
                }
            },
        };
        EventInput {
            title: self.title.clone(),
            event_type,
            description: opt(&self.description),
            location_id: id("location_id", &self.location_id, errors),
            location_text: opt(&self.location_text),
            start,
            end: format!("{end_day}T{}", self.end_time.trim()),
            requires_rsvp: self.requires_rsvp.is_some(),
            rsvp_deadline: None,
            max_attendees: number("max_attendees", &self.max_attendees, errors),
            is_mandatory: self.is_mandatory.is_some(),
            reminder_hours,
            reminder_target: ReminderTarget::parse(&self.reminder_target),
            check_in_window: CheckInWindow::parse(&self.check_in_window),
            course_id: id("course_id", &self.course_id, errors),
            template_id: id("template_id", &self.template_id, errors),
            is_draft: self.is_draft.is_some(),
            recurrence,
        }
    }
}

#[derive(Template)]
#[template(path = "events/form.html")]
struct FormPage {
    chrome: Chrome,
    /// None: a new event.
    id: Option<Uuid>,
    series: bool,
    form: EventForm,
    errors: FieldErrors,
    kinds: Vec<Opt>,
    locations: Vec<Opt>,
    courses: Vec<Opt>,
    targets: Vec<Opt>,
    windows: Vec<Opt>,
    patterns: Vec<Opt>,
    /// Templates to start a new event from (id, name).
    templates: Vec<(Uuid, String)>,
}

fn named_options(list: &[Named], current: &str, blank: &str) -> Vec<Opt> {
    let pairs: Vec<(String, String)> = list.iter().map(|n| (n.id.to_string(), n.name.clone())).collect();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    web::options(&refs, current, Some(blank))
}

async fn form_page(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Option<Uuid>,
    series: bool,
    form: EventForm,
    errors: &[FieldError],
) -> Result<FormPage, AppError> {
    let locations = service::locations(ctx, conn).await?;
    let courses = service::courses(ctx, conn).await?;
    let templates = if id.is_none() {
        templates::templates(ctx, conn)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect()
    } else {
        Vec::new()
    };
    // The API's fields by the form's names.
    let errors: Vec<FieldError> = errors
        .iter()
        .cloned()
        .map(|mut e| {
            e.field = match e.field.as_str() {
                "start" => "start_date".into(),
                "end" => "end_time".into(),
                "recurrence.until" => "until".into(),
                _ => e.field,
            };
            e
        })
        .collect();
    Ok(FormPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        series,
        kinds: web::options(&type_pairs(), &form.event_type, None),
        locations: named_options(&locations, &form.location_id, "Choose a place"),
        courses: named_options(&courses, &form.course_id, "No course (hours as a drill)"),
        targets: web::options(
            &[
                ("going", "Members going"),
                ("all", "Every active member"),
                ("none", "Nobody"),
            ],
            &form.reminder_target,
            Some("Going, or everyone if mandatory"),
        ),
        windows: web::options(
            &[
                ("flexible", "From an hour before until the end"),
                ("strict", "From the start until the end"),
                ("window", "15 minutes either side of the start"),
            ],
            &form.check_in_window,
            None,
        ),
        patterns: web::options(
            &[
                ("daily", "Every day"),
                ("weekly", "Every week"),
                ("biweekly", "Every other week"),
                ("monthly", "Monthly, same date"),
                ("monthly_weekday", "Monthly, same weekday (2nd Tuesday)"),
                ("yearly", "Every year"),
            ],
            &form.repeat,
            Some("Does not repeat"),
        ),
        errors: FieldErrors::new(&errors, FORM_LABELS),
        form,
        templates,
    })
}

#[derive(Debug, Default, Deserialize)]
struct NewParams {
    template: Option<String>,
}

async fn new_event(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<NewParams>, QueryRejection>,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let today = crate::time::today(&ctx.timezone);
    let template = query
        .ok()
        .and_then(|Query(p)| p.template)
        .and_then(|t| Uuid::try_parse(t.trim()).ok());
    let form = match template {
        Some(t) => EventForm::from_template(today, &templates::template(&ctx, &mut conn, t).await?),
        None => EventForm::blank(today),
    };
    Ok(web::render(&form_page(&ctx, &mut conn, None, false, form, &[]).await?))
}

fn warn_link(id: Uuid, done: &str, warnings: &[String]) -> String {
    match warnings.first() {
        Some(_) => format!("/events/{id}?done=warned"),
        None => format!("/events/{id}?done={done}"),
    }
}

async fn create_event(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<EventForm>,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let mut tx = state.db.begin().await?;
    let saved = service::create(&ctx, &mut tx, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(s) => {
            let done = if s.occurrences > 1 { "series" } else { "created" };
            Ok(Redirect::to(&warn_link(s.event.id, done, &s.warnings)).into_response())
        }
        None => {
            let mut conn = state.db.acquire().await?;
            let page = form_page(&ctx, &mut conn, None, false, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

async fn edit_event(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(&ctx, &mut conn, id).await?;
    let form = EventForm::from_event(&ctx, &e);
    Ok(web::render(
        &form_page(&ctx, &mut conn, Some(id), e.series_id.is_some(), form, &[]).await?,
    ))
}

async fn update_event(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<EventForm>,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut errors = Vec::new();
    let mut input = form.input(&mut errors);
    input.recurrence = None;
    let scope = Scope::parse(&form.scope).unwrap_or(Scope::This);
    let mut tx = state.db.begin().await?;
    let saved = service::update(&ctx, &mut tx, id, scope, input).await;
    let saved = match saved {
        Err(AppError::Conflict(m)) => Err(AppError::field("", m)),
        other => other,
    };
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(s) => Ok(Redirect::to(&warn_link(id, "updated", &s.warnings)).into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let series = service::event(&ctx, &mut conn, id).await?.series_id.is_some();
            let page = form_page(&ctx, &mut conn, Some(id), series, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct TemplateForm {
    #[serde(default)]
    name: String,
}

async fn save_as_template(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<TemplateForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = templates::from_event(&ctx, &mut tx, id, FromEvent { name: form.name }).await;
    after_action(&state, &ctx, id, tx, result, "template", "").await
}

// ---------------------------------------------------------------------------------------------
// Cancel

#[derive(Template)]
#[template(path = "events/cancel.html")]
struct CancelPage {
    chrome: Chrome,
    e: EventView,
    reason: String,
    scope: String,
    errors: FieldErrors,
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CancelForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    scope: String,
}

async fn cancel_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(&ctx, &mut conn, id).await?;
    Ok(web::render(&CancelPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        e: EventView::new(&ctx, &e),
        reason: String::new(),
        scope: "this".into(),
        errors: FieldErrors::new(&[], &[]),
        refusal: None,
    }))
}

async fn cancel(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CancelForm>,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let scope = Scope::parse(&form.scope).unwrap_or(Scope::This);
    let mut tx = state.db.begin().await?;
    let result = service::cancel(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        scope,
        CancelInput {
            reason: form.reason.clone(),
        },
    )
    .await;
    let (errors, refusal) = match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            return Ok(Redirect::to(&format!("/events/{id}?done=cancelled")).into_response());
        }
        Err(AppError::Validation(found)) => (found, None),
        Err(AppError::Conflict(m)) => (Vec::new(), Some(web::sentence(&m))),
        Err(other) => return Err(other.into()),
    };
    tx.rollback().await?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(&ctx, &mut conn, id).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        web::render(&CancelPage {
            chrome: Chrome::for_viewer(&ctx, SECTION),
            e: EventView::new(&ctx, &e),
            reason: form.reason,
            scope: form.scope,
            errors: FieldErrors::new(&errors, &[("reason", "Why")]),
            refusal,
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// The attendance sheet

/// A member's line on the sheet.
struct Line {
    user_id: Uuid,
    name: String,
    rank: String,
    answer: &'static str,
    came: String,
    left: String,
    came_value: String,
    left_value: String,
    present: bool,
    out: bool,
    fixed: String,
    credited: bool,
}

#[derive(Template)]
#[template(path = "events/attendance.html")]
struct AttendancePage {
    chrome: Chrome,
    e: EventView,
    lines: Vec<Line>,
    present: usize,
    notice: Option<String>,
    refusal: Option<String>,
}

fn lines(ctx: &Ctx, list: &[Attendee]) -> Vec<Line> {
    let l = local(ctx);
    let tz = l.tz;
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format(ctx.locale.time_pattern(false)).to_string())
            .unwrap_or_default()
    };
    let value = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    };
    list.iter()
        .map(|a| Line {
            user_id: a.user_id,
            name: a.name.clone(),
            rank: a.rank.clone().unwrap_or_default(),
            answer: a.rsvp_status.map_or("No answer", Rsvp::label),
            came: time(a.checked_in_at),
            left: time(a.checked_out_at),
            came_value: value(a.checked_in_at),
            left_value: value(a.checked_out_at),
            present: a.checked_in_at.is_some(),
            out: a.checked_out_at.is_some(),
            fixed: a.override_reason.clone().unwrap_or_default(),
            credited: a.training_record_id.is_some(),
        })
        .collect()
}

async fn attendance_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<AttendancePage, AppError> {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(ctx, &mut conn, id).await?;
    let list = attendance::attendees(ctx, &mut conn, id).await?;
    let lines = lines(ctx, &list);
    Ok(AttendancePage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        e: EventView::new(ctx, &e),
        present: lines.iter().filter(|l| l.present).count(),
        lines,
        notice,
        refusal,
    })
}

async fn attendance_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let notice = done.ok().and_then(|Query(d)| d.done).and_then(|d| {
        Some(
            match d.as_str() {
                "in" => "Checked in.",
                "out" => "Checked out.",
                "times" => "The times are saved.",
                "finalized" => "Attendance is finalized.",
                "reopened" => "Attendance is open again; any training records it made are void.",
                _ => return None,
            }
            .to_string(),
        )
    });
    Ok(web::render(&attendance_view(&state, &ctx, id, notice, None).await?))
}

#[derive(Debug, Default, Deserialize)]
struct MemberForm {
    #[serde(default)]
    user_id: String,
}

fn member_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::try_parse(raw.trim()).map_err(|_| AppError::field("user_id", "must be a member"))
}

async fn officer_check_in(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<MemberForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = match member_id(&form.user_id) {
        Ok(user_id) => attendance::check_in(&ctx, &mut tx, id, MemberInput { user_id }).await,
        Err(e) => Err(e),
    };
    after_action(&state, &ctx, id, tx, result, "in", "/attendance").await
}

async fn officer_check_out(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<MemberForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = match member_id(&form.user_id) {
        Ok(user_id) => attendance::check_out(&ctx, &mut tx, id, MemberInput { user_id }).await,
        Err(e) => Err(e),
    };
    after_action(&state, &ctx, id, tx, result, "out", "/attendance").await
}

#[derive(Debug, Default, Deserialize)]
struct TimesForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    checked_in_at: String,
    #[serde(default)]
    checked_out_at: String,
    #[serde(default)]
    reason: String,
}

async fn set_times(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<TimesForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = match member_id(&form.user_id) {
        Ok(user_id) => {
            attendance::set_times(
                &ctx,
                &mut tx,
                id,
                TimesInput {
                    user_id,
                    checked_in_at: Some(form.checked_in_at),
                    checked_out_at: Some(form.checked_out_at),
                    reason: form.reason,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    after_action(&state, &ctx, id, tx, result, "times", "/attendance").await
}

async fn finalize(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = attendance::finalize(&ctx, &mut tx, id).await;
    after_action(&state, &ctx, id, tx, result, "finalized", "/attendance").await
}

#[derive(Debug, Default, Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn unfinalize(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result =
        attendance::unfinalize(&ctx, &mut tx, id, UndoInput { reason: form.reason }).await;
    after_action(&state, &ctx, id, tx, result, "reopened", "/attendance").await
}

#[derive(Template)]
#[template(path = "events/sign_in_sheet.html")]
struct SheetPage {
    chrome: Chrome,
    e: EventView,
    lines: Vec<Line>,
    print_js: String,
}

/// A paper sign-in sheet: every member with a line to sign, those going first.
async fn sign_in_sheet(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(EVENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let e = service::event(&ctx, &mut conn, id).await?;
    let list = attendance::attendees(&ctx, &mut conn, id).await?;
    Ok(web::render(&SheetPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        e: EventView::new(&ctx, &e),
        lines: lines(&ctx, &list),
        print_js: web::asset_url("print.js"),
    }))
}

// ---------------------------------------------------------------------------------------------
// The calendar feed

#[derive(Template)]
#[template(path = "events/feed.html")]
struct FeedPage {
    chrome: Chrome,
    active: bool,
    since: String,
    last_used: String,
    url: Option<String>,
}

async fn feed_view(state: &AppState, ctx: &Ctx, url: Option<String>) -> Result<FeedPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let f = feed::feed(ctx, &mut conn).await?;
    let l = local(ctx);
    Ok(FeedPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        active: f.active,
        since: f.created_at.map(|t| l.moment(&t)).unwrap_or_default(),
        last_used: f.last_used_at.map(|t| l.moment(&t)).unwrap_or_default(),
        url,
    })
}

async fn feed_page(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    Ok(web::render(&feed_view(&state, &ctx, None).await?))
}

/// A new address, shown on this answer only (not kept, so not shown again).
async fn new_feed(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut tx = state.db.begin().await?;
    let f = feed::new_feed(&ctx, &mut tx, &state.config.public_url).await?;
    tx.commit().await?;
    let mut page = feed_view(&state, &ctx, f.url).await?;
    page.active = true;
    let mut response = web::render(&page);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

async fn revoke_feed(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut tx = state.db.begin().await?;
    match feed::revoke_feed(&ctx, &mut tx).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/events?done=feed").into_response())
        }
        Err(AppError::Conflict(_)) => Ok(Redirect::to("/events/feed").into_response()),
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard

/// "Coming up": the next events within a week, with the member's answer; an officer also sees
/// events over and not yet finalized.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    if !ctx.has(EVENTS_VIEW) {
        return Ok(Vec::new());
    }
    let today = crate::time::today(&ctx.timezone);
    let found = service::events(
        ctx,
        conn,
        EventQuery {
            from: Some(today),
            to: Some(today + Duration::days(7)),
            per_page: Some(5),
            ..EventQuery::default()
        },
    )
    .await?;
    if found.items.is_empty() {
        return Ok(Vec::new());
    }
    let items = found
        .items
        .iter()
        .map(|e| {
            let v = EventView::new(ctx, e);
            let answer = match e.my_rsvp {
                Some(r) => format!(" · {}", r.label().to_lowercase()),
                None if e.requires_rsvp => " · no answer yet".into(),
                None => String::new(),
            };
            PanelItem {
                text: format!("{} — {}{answer}", v.title, v.when),
                link: format!("/events/{}", e.id),
            }
        })
        .collect();
    Ok(vec![Panel {
        title: "Coming up this week".into(),
        items,
    }])
}
