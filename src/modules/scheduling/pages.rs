//! `/scheduling` pages, phone first: the board (a week or a month of shifts, open ones marked),
//! the shift with its seats (sign up, confirm, give up, offer a swap; officers assign, remove
//! and cancel), the requests page (time off and swaps: ask, withdraw, and officers decide), and
//! the officer's templates, patterns and month generation with a preview. Plain forms,
//! post-redirect-get; the rules live in `service`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{AssignmentStatus, PatternType, Preset, RequestStatus, Seat};
use super::service::assignments::{self, AssignInput, CancelInput, RespondInput, SignUpInput};
use super::service::closeout::{self, AttendanceLine, CloseOutInput, ReopenInput};
use super::service::requests::{self, RequestQuery, ReviewInput, SwapInput, TimeOffInput};
use super::service::{
    self, GenerateInput, Generated, PatternInput, PlatoonMember, SCHEDULING_MANAGE,
    SCHEDULING_VIEW, Shift, ShiftInput, ShiftQuery, TemplateInput,
};
use crate::auth::Ctx;
use crate::db::Conn;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::time::Local;
use crate::web::{self, Chrome, DoneQuery, FieldErrors, Opt, PageResult, PathId, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scheduling", get(board))
        .route("/scheduling/shifts/new", get(new_shift).post(create_shift))
        .route("/scheduling/shifts/{id}", get(shift_page))
        .route("/scheduling/shifts/{id}/signup", post(sign_up))
        .route("/scheduling/shifts/{id}/withdraw", post(withdraw))
        .route("/scheduling/shifts/{id}/assign", post(assign))
        .route("/scheduling/shifts/{id}/close-out", post(close_out))
        .route("/scheduling/shifts/{id}/reopen", post(reopen))
        .route(
            "/scheduling/shifts/{id}/cancel",
            get(cancel_page).post(cancel),
        )
        .route("/scheduling/shifts/{id}/swap", get(swap_page).post(offer_swap))
        .route("/scheduling/assignments/{id}/respond", post(respond))
        .route("/scheduling/assignments/{id}/remove", post(remove))
        .route("/scheduling/requests", get(requests_page))
        .route("/scheduling/time-off", post(ask_time_off))
        .route("/scheduling/time-off/{id}/review", post(review_time_off))
        .route("/scheduling/time-off/{id}/cancel", post(cancel_time_off))
        .route("/scheduling/swaps/{id}/review", post(review_swap))
        .route("/scheduling/swaps/{id}/cancel", post(cancel_swap))
        .route(
            "/scheduling/templates",
            get(templates_page).post(create_template),
        )
        .route(
            "/scheduling/patterns/new",
            get(new_pattern).post(create_pattern),
        )
        .route("/scheduling/generate", get(generate_page).post(generate))
        .route("/scheduling/patterns/{id}/active", post(set_pattern_active))
        .route("/scheduling/reports", get(reports_page))
}

const SECTION: &str = "/scheduling";

fn local(ctx: &Ctx) -> Local {
    Local::new(&ctx.timezone, ctx.locale)
}

fn parse_day(text: Option<&str>) -> Option<NaiveDate> {
    text.and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .filter(|d| (2000..=2100).contains(&d.year()))
}

/// A shift as a line of the board or the head of its page, in words.
struct ShiftView {
    id: Uuid,
    title: String,
    /// "Sat 12/05/2026, 7:00 AM – Sun 7:00 AM".
    when: String,
    day: NaiveDate,
    vehicle: String,
    officer: String,
    /// "Staffed", "Open: no Driver", "Open: 1 of 2".
    staffing: String,
    open: bool,
    cancelled: bool,
    cancellation_reason: String,
    started: bool,
    my_status: &'static str,
    my_assignment: String,
    notes: String,
}

impl ShiftView {
    fn new(ctx: &Ctx, s: &Shift) -> ShiftView {
        let l = local(ctx);
        let start = s.starts_at.with_timezone(&l.tz);
        let end = s.ends_at.with_timezone(&l.tz);
        let time = ctx.locale.time_pattern(false);
        let when = if start.date_naive() == end.date_naive() {
            format!(
                "{}, {} – {}",
                start.format(&format!("%a {}", ctx.locale.date_pattern())),
                start.format(time),
                end.format(time)
            )
        } else {
            format!(
                "{}, {} – {} {}",
                start.format(&format!("%a {}", ctx.locale.date_pattern())),
                start.format(time),
                end.format("%a"),
                end.format(time)
            )
        };
        let st = &s.staffing;
        let staffing = if !st.open {
            format!("Staffed · {} on", st.filled)
        } else {
            let mut why = Vec::new();
            if !st.missing.is_empty() {
                why.push(format!("no {}", st.missing.join(", no ")));
            }
            if st.filled < st.min_staffing {
                why.push(format!("{} of {}", st.filled, st.min_staffing));
            }
            format!("Open: {}", why.join(" · "))
        };
        ShiftView {
            id: s.id,
            title: s.title.clone(),
            when,
            day: s.shift_date,
            vehicle: s.apparatus.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            officer: s
                .shift_officer
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            staffing,
            open: st.open,
            cancelled: s.status == super::rules::ShiftStatus::Cancelled,
            cancellation_reason: s.cancellation_reason.clone().unwrap_or_default(),
            started: s.starts_at <= chrono::Utc::now(),
            my_status: s.my_assignment.as_ref().map_or("", |h| h.status.label()),
            my_assignment: s
                .my_assignment
                .as_ref()
                .map(|h| h.assignment_id.to_string())
                .unwrap_or_default(),
            notes: s.notes.clone().unwrap_or_default(),
        }
    }
}

fn done_notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "signed-up" => "You are on the shift.",
        "withdrew" => "You gave up your seat; it is open again.",
        "assigned" => "Assigned. The member is asked to confirm.",
        "removed" => "The member is off the shift and was told.",
        "confirmed" => "Confirmed: you are on.",
        "declined" => "Declined: the seat is open again.",
        "cancelled" => "The shift is cancelled and everyone on it was told.",
        "closed" => "Closed out: those present have the shift and its calls on their training record.",
        "reopened" => "Opened again: its training records are voided until it is closed out anew.",
        "created" => "The shift is made.",
        "generated" => "The shifts are made.",
        "asked" => "Asked. An officer will decide, and you will be told.",
        "swap-asked" => "Swap asked for. An officer will decide, and you will both be told.",
        "reviewed" => "Decided; the member was told.",
        "withdrawn" => "Withdrawn.",
        "template" => "Template saved.",
        "pattern" => "Pattern saved. Preview a range, then make the shifts.",
        "stopped" => "The pattern is stopped: it makes no more shifts. Those made stay.",
        "resumed" => "The pattern is in use again.",
        _ => return None,
    };
    Some(text.into())
}

// ---------------------------------------------------------------------------------------------
// The board

#[derive(Template)]
#[template(path = "scheduling/board.html")]
struct BoardPage {
    chrome: Chrome,
    can_manage: bool,
    view: &'static str,
    show: String,
    heading: String,
    prev: String,
    next: String,
    today_link: String,
    days: Vec<DayView>,
    weeks: Vec<Vec<Cell>>,
    weekday_names: Vec<&'static str>,
    notice: Option<String>,
    open_count: usize,
    /// The member's calendar feed (events') carries their shifts.
    feed_link: bool,
}

struct DayView {
    label: String,
    anchor: String,
    today: bool,
    shifts: Vec<ShiftView>,
}

struct Cell {
    day: u32,
    link: String,
    in_month: bool,
    today: bool,
    /// "2 shifts, 1 open".
    label: String,
    count: usize,
    open: usize,
}

#[derive(Debug, Default, Deserialize)]
struct BoardParams {
    view: Option<String>,
    on: Option<String>,
    show: Option<String>,
    done: Option<String>,
}

async fn board(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<BoardParams>, QueryRejection>,
) -> PageResult {
    ctx.require(SCHEDULING_VIEW)?;
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let today = crate::time::today(&ctx.timezone);
    let on = parse_day(p.on.as_deref()).unwrap_or(today);
    let view = if p.view.as_deref() == Some("month") {
        "month"
    } else {
        "week"
    };
    let show = match p.show.as_deref() {
        Some("open") => "open",
        Some("mine") => "mine",
        _ => "",
    };
    let (from, to) = if view == "month" {
        let first = on.with_day(1).unwrap_or(on);
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(first);
        (first, last)
    } else {
        let start = on - Duration::days(i64::from(on.weekday().num_days_from_sunday()));
        (start, start + Duration::days(6))
    };
    let mut conn = state.db.acquire().await?;
    let found = service::shifts(
        &ctx,
        &mut conn,
        ShiftQuery {
            from: Some(from),
            to: Some(to),
            open: Some(show == "open"),
            mine: Some(show == "mine"),
            include_cancelled: Some(true),
            per_page: Some(200),
            ..ShiftQuery::default()
        },
    )
    .await?;
    let mut days: Vec<DayView> = Vec::new();
    let mut open_count = 0;
    for s in &found.items {
        let v = ShiftView::new(&ctx, s);
        if v.open && !v.cancelled {
            open_count += 1;
        }
        // A shift from the evening before that runs into the range shows on its own day only
        // when that day is in the range.
        if v.day < from || v.day > to {
            continue;
        }
        match days.last_mut() {
            Some(d) if d.anchor == format!("d{}", v.day) => d.shifts.push(v),
            _ => days.push(DayView {
                label: v.day.format("%A, %B %-d").to_string(),
                anchor: format!("d{}", v.day),
                today: v.day == today,
                shifts: vec![v],
            }),
        }
    }
    let link = |view: &str, on: Option<NaiveDate>| {
        let on = on.map(|d| d.to_string()).unwrap_or_default();
        let view = if view == "week" { "" } else { view };
        web::link("/scheduling", &[("view", view), ("on", &on), ("show", show)])
    };
    let mut weeks = Vec::new();
    if view == "month" {
        let mut d = from - Duration::days(i64::from(from.weekday().num_days_from_sunday()));
        while d <= to {
            let mut week = Vec::new();
            for _ in 0..7 {
                let mine: Vec<&ShiftView> = days
                    .iter()
                    .flat_map(|x| x.shifts.iter())
                    .filter(|s| s.day == d && !s.cancelled)
                    .collect();
                let open = mine.iter().filter(|s| s.open).count();
                week.push(Cell {
                    day: d.day(),
                    link: link("week", Some(d)) + &format!("#d{d}"),
                    in_month: d.month() == from.month(),
                    today: d == today,
                    label: match (mine.len(), open) {
                        (0, _) => "no shifts".into(),
                        (n, 0) => format!("{n} shift{}, staffed", if n == 1 { "" } else { "s" }),
                        (n, o) => format!("{n} shift{}, {o} open", if n == 1 { "" } else { "s" }),
                    },
                    count: mine.len(),
                    open,
                });
                d += Duration::days(1);
            }
            weeks.push(week);
        }
    }
    let (heading, prev_on, next_on) = if view == "month" {
        (
            from.format("%B %Y").to_string(),
            from.checked_sub_months(chrono::Months::new(1)).unwrap_or(from),
            from.checked_add_months(chrono::Months::new(1)).unwrap_or(from),
        )
    } else {
        (
            format!("Week of {}", crate::time::day_in_words(from)),
            from - Duration::days(7),
            from + Duration::days(7),
        )
    };
    Ok(web::render(&BoardPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        can_manage: ctx.has(SCHEDULING_MANAGE),
        view,
        show: show.into(),
        heading,
        prev: link(view, Some(prev_on)),
        next: link(view, Some(next_on)),
        today_link: link(view, None),
        days,
        weeks,
        weekday_names: vec!["S", "M", "T", "W", "T", "F", "S"],
        notice: done_notice(p.done.as_deref()),
        open_count,
        feed_link: ctx.feature_on("events") && ctx.has("events.view"),
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The shift

#[derive(Template)]
#[template(path = "scheduling/shift.html")]
struct ShiftPage {
    chrome: Chrome,
    s: ShiftView,
    seats: Vec<SeatLine>,
    can_manage: bool,
    can_sign_up: bool,
    is_officer: bool,
    /// Started, not cancelled, not closed out, and the viewer may close it out.
    can_close: bool,
    /// "Closed out by Pat Doe on …, 3 calls".
    closed: String,
    members: Vec<Opt>,
    notice: Option<String>,
    refusal: Option<String>,
}

struct SeatLine {
    index: u8,
    name: String,
    required: bool,
    needs: String,
    holder: String,
    status: &'static str,
    assignment: String,
    mine: bool,
    free: bool,
}

async fn shift_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<ShiftPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let s = service::shift(ctx, &mut conn, id).await?;
    let can_manage = ctx.has(SCHEDULING_MANAGE);
    let members = if can_manage {
        let list = service::members(ctx, &mut conn).await?;
        let pairs: Vec<(String, String)> =
            list.into_iter().map(|m| (m.id.to_string(), m.name)).collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        web::options(&refs, "", Some("Choose a member"))
    } else {
        Vec::new()
    };
    let v = ShiftView::new(ctx, &s);
    let open_for_me = !v.cancelled && !v.started && s.finalized_at.is_none();
    let is_officer =
        can_manage || s.shift_officer.as_ref().is_some_and(|o| o.id == ctx.user_id);
    let l = local(ctx);
    let closed = match (&s.finalized_at, &s.finalized_by) {
        (Some(at), by) => format!(
            "Closed out{} on {}, {} call{}.",
            by.as_ref().map(|b| format!(" by {}", b.name)).unwrap_or_default(),
            l.moment(at),
            s.call_count.unwrap_or(0),
            if s.call_count == Some(1) { "" } else { "s" }
        ),
        (None, _) => String::new(),
    };
    Ok(ShiftPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        seats: s
            .seats
            .iter()
            .map(|seat| SeatLine {
                index: seat.index,
                name: seat.name.clone(),
                required: seat.required,
                needs: seat.course.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
                holder: seat
                    .holder
                    .as_ref()
                    .map(|h| h.member.name.clone())
                    .unwrap_or_default(),
                status: seat.holder.as_ref().map_or("", |h| h.status.label()),
                assignment: seat
                    .holder
                    .as_ref()
                    .map(|h| h.assignment_id.to_string())
                    .unwrap_or_default(),
                mine: seat.holder.as_ref().is_some_and(|h| h.member.id == ctx.user_id),
                free: seat.holder.is_none(),
            })
            .collect(),
        can_sign_up: open_for_me
            && s.my_assignment.is_none()
            && (s.open_to_all_members || can_manage),
        can_close: is_officer && v.started && !v.cancelled && s.finalized_at.is_none(),
        is_officer,
        closed,
        can_manage: can_manage && open_for_me,
        members,
        s: v,
        notice,
        refusal,
    })
}

async fn shift_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    let page = shift_view(&state, &ctx, id, done_notice(done.as_deref()), None).await?;
    Ok(web::render(&page))
}

/// After an action on a shift: back to it with the notice, or the shift with why it was
/// refused (nothing written).
async fn after_action<T>(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/scheduling/shifts/{id}?done={done}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            tx.rollback().await?;
            let status = if matches!(e, AppError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = shift_view(state, ctx, id, None, Some(web::refusal(&e))).await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SeatForm {
    #[serde(default)]
    seat: String,
    #[serde(default)]
    user_id: String,
}

async fn sign_up(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<SeatForm>,
) -> PageResult {
    let seat = form.seat.trim().parse::<u8>().ok();
    let mut tx = state.db.begin().await?;
    let result = assignments::sign_up(&ctx, &mut tx, id, SignUpInput { seat }).await;
    after_action(&state, &ctx, id, tx, result, "signed-up").await
}

async fn withdraw(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = assignments::withdraw(&ctx, &mut tx, &state.notifier, id).await;
    after_action(&state, &ctx, id, tx, result, "withdrew").await
}

async fn assign(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<SeatForm>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let (Ok(user_id), Ok(seat)) = (
        form.user_id.trim().parse::<Uuid>(),
        form.seat.trim().parse::<u8>(),
    ) else {
        let page = shift_view(
            &state,
            &ctx,
            id,
            None,
            Some("Choose a member for the seat.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    };
    let mut tx = state.db.begin().await?;
    let result = assignments::assign(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        AssignInput { user_id, seat },
    )
    .await;
    after_action(&state, &ctx, id, tx, result, "assigned").await
}

/// The shift an assignment is on (for the redirect after acting on it).
async fn shift_of(state: &AppState, ctx: &Ctx, assignment: Uuid) -> Result<Uuid, AppError> {
    let mut conn = state.db.acquire().await?;
    assignments::shift_of(ctx, &mut conn, assignment).await
}

#[derive(Debug, Default, Deserialize)]
struct RespondForm {
    #[serde(default)]
    accept: String,
}

async fn respond(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RespondForm>,
) -> PageResult {
    let shift = shift_of(&state, &ctx, id).await?;
    let accept = form.accept == "1";
    let mut tx = state.db.begin().await?;
    let result =
        assignments::respond(&ctx, &mut tx, &state.notifier, id, RespondInput { accept }).await;
    let done = if accept { "confirmed" } else { "declined" };
    after_action(&state, &ctx, shift, tx, result, done).await
}

async fn remove(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let shift = shift_of(&state, &ctx, id).await?;
    let mut tx = state.db.begin().await?;
    let result = assignments::remove(&ctx, &mut tx, &state.notifier, id).await;
    after_action(&state, &ctx, shift, tx, result, "removed").await
}

/// The close-out form: a `present_<assignment>` box ticked for each member there, and the calls.
#[derive(Debug, Default, Deserialize)]
struct CloseOutForm {
    #[serde(default)]
    call_count: String,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

async fn close_out(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CloseOutForm>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let s = service::shift(&ctx, &mut conn, id).await?;
    drop(conn);
    let calls = match form.call_count.trim() {
        "" => Some(0),
        t => t.parse::<u16>().ok(),
    };
    let Some(call_count) = calls else {
        let page = shift_view(&state, &ctx, id, None, Some("Calls must be a whole number.".into()))
            .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    };
    // Every seat held as the page showed it, present when its box is ticked.
    let attendance = s
        .seats
        .iter()
        .filter_map(|seat| seat.holder.as_ref())
        .map(|h| AttendanceLine {
            assignment_id: h.assignment_id,
            present: form.rest.contains_key(&format!("present_{}", h.assignment_id)),
        })
        .collect();
    let mut tx = state.db.begin().await?;
    let result = closeout::finalize(
        &ctx,
        &mut tx,
        id,
        CloseOutInput {
            attendance,
            call_count,
        },
    )
    .await;
    after_action(&state, &ctx, id, tx, result, "closed").await
}

async fn reopen(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CancelForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = closeout::reopen(&ctx, &mut tx, id, ReopenInput { reason: form.reason }).await;
    after_action(&state, &ctx, id, tx, result, "reopened").await
}

#[derive(Template)]
#[template(path = "scheduling/cancel.html")]
struct CancelPage {
    chrome: Chrome,
    s: ShiftView,
    reason: String,
    errors: FieldErrors,
    refusal: Option<String>,
}

async fn cancel_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let s = service::shift(&ctx, &mut conn, id).await?;
    Ok(web::render(&CancelPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        s: ShiftView::new(&ctx, &s),
        reason: String::new(),
        errors: FieldErrors::new(&[], &[]),
        refusal: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct CancelForm {
    #[serde(default)]
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CancelForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = assignments::cancel(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        CancelInput {
            reason: form.reason.clone(),
        },
    )
    .await;
    let (errors, refusal) = match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            return Ok(Redirect::to(&format!("/scheduling/shifts/{id}?done=cancelled")).into_response());
        }
        Err(AppError::Validation(found)) => (found, None),
        Err(AppError::Conflict(m)) => (Vec::new(), Some(web::sentence(&m))),
        Err(other) => return Err(other.into()),
    };
    tx.rollback().await?;
    let mut conn = state.db.acquire().await?;
    let s = service::shift(&ctx, &mut conn, id).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        web::render(&CancelPage {
            chrome: Chrome::for_viewer(&ctx, SECTION),
            s: ShiftView::new(&ctx, &s),
            reason: form.reason,
            errors: FieldErrors::new(&errors, &[("reason", "Why")]),
            refusal,
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Offering a swap

#[derive(Template)]
#[template(path = "scheduling/swap.html")]
struct SwapPage {
    chrome: Chrome,
    s: ShiftView,
    assignment: String,
    trades: Vec<Opt>,
    members: Vec<Opt>,
    errors: FieldErrors,
    reason: String,
}

async fn swap_view(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    errors: &[FieldError],
    reason: String,
) -> Result<SwapPage, AppError> {
    let s = service::shift(ctx, conn, id).await?;
    let Some(mine) = s.my_assignment.clone() else {
        return Err(AppError::Conflict(
            "you have no seat on this shift to offer".into(),
        ));
    };
    let today = crate::time::today(&ctx.timezone);
    let coming = service::shifts(
        ctx,
        conn,
        ShiftQuery {
            from: Some(today),
            to: Some(today + Duration::days(90)),
            per_page: Some(200),
            ..ShiftQuery::default()
        },
    )
    .await?;
    let l = local(ctx);
    let mut trades: Vec<(String, String)> = Vec::new();
    for other in coming.items.iter().filter(|o| o.id != s.id && o.starts_at > chrono::Utc::now()) {
        for seat in &other.seats {
            if let Some(h) = &seat.holder
                && h.member.id != ctx.user_id
            {
                trades.push((
                    h.assignment_id.to_string(),
                    format!(
                        "{}: {} ({}, {})",
                        h.member.name,
                        seat.name,
                        other.title,
                        l.moment(&other.starts_at)
                    ),
                ));
            }
        }
    }
    let members: Vec<(String, String)> = service::members(ctx, conn)
        .await?
        .into_iter()
        .filter(|m| m.id != ctx.user_id)
        .map(|m| (m.id.to_string(), m.name))
        .collect();
    let refs = |v: &[(String, String)]| -> Vec<(String, String)> { v.to_vec() };
    let opts = |v: Vec<(String, String)>, blank: &str| {
        let r: Vec<(&str, &str)> = v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        web::options(&r, "", Some(blank))
    };
    Ok(SwapPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        s: ShiftView::new(ctx, &s),
        assignment: mine.assignment_id.to_string(),
        trades: opts(refs(&trades), "No trade: hand it over"),
        members: opts(members, "Choose a member"),
        errors: FieldErrors::new(
            errors,
            &[
                ("other_assignment_id", "Trade for"),
                ("target_user_id", "Or hand it to"),
                ("assignment_id", "Your seat"),
                ("reason", "Why"),
            ],
        ),
        reason,
    })
}

async fn swap_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(SCHEDULING_VIEW)?;
    let mut conn = state.db.acquire().await?;
    Ok(web::render(&swap_view(&ctx, &mut conn, id, &[], String::new()).await?))
}

#[derive(Debug, Default, Deserialize)]
struct SwapForm {
    #[serde(default)]
    assignment_id: String,
    #[serde(default)]
    other_assignment_id: String,
    #[serde(default)]
    target_user_id: String,
    #[serde(default)]
    reason: String,
}

async fn offer_swap(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<SwapForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let parse = |field: &str, text: &str, errors: &mut Vec<FieldError>| {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let parsed = t.parse::<Uuid>().ok();
        if parsed.is_none() {
            errors.push(FieldError::new(field, "is not one of the choices"));
        }
        parsed
    };
    let assignment = parse("assignment_id", &form.assignment_id, &mut errors);
    let other = parse("other_assignment_id", &form.other_assignment_id, &mut errors);
    // A trade chosen wins over a member chosen as well.
    let target = if other.is_some() {
        None
    } else {
        parse("target_user_id", &form.target_user_id, &mut errors)
    };
    let mut tx = state.db.begin().await?;
    let result = match assignment {
        Some(assignment_id) => {
            requests::request_swap(
                &ctx,
                &mut tx,
                &state.notifier,
                SwapInput {
                    assignment_id,
                    other_assignment_id: other,
                    target_user_id: target,
                    reason: Some(form.reason.clone()),
                },
            )
            .await
        }
        None => Err(AppError::field("assignment_id", "is required")),
    };
    let result = match result {
        Err(AppError::Conflict(m)) => Err(AppError::field("other_assignment_id", m)),
        other => other,
    };
    match web::finish_form(tx, result, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to("/scheduling/requests?done=swap-asked").into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = swap_view(&ctx, &mut conn, id, &errors, form.reason).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests: time off and swaps

#[derive(Template)]
#[template(path = "scheduling/requests.html")]
struct RequestsPage {
    chrome: Chrome,
    can_manage: bool,
    time_off: Vec<RequestLine>,
    swaps: Vec<RequestLine>,
    form_start: String,
    form_end: String,
    form_reason: String,
    errors: FieldErrors,
    notice: Option<String>,
    refusal: Option<String>,
}

struct RequestLine {
    id: Uuid,
    who: String,
    what: String,
    reason: String,
    status: &'static str,
    pending: bool,
    mine: bool,
    /// An officer who may decide it (not a party to it).
    can_decide: bool,
    decided: String,
}

async fn requests_view(
    ctx: &Ctx,
    conn: &mut Conn,
    form: &TimeOffForm,
    errors: &[FieldError],
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<RequestsPage, AppError> {
    let can_manage = ctx.has(SCHEDULING_MANAGE);
    let l = local(ctx);
    let time_off = requests::time_off_list(ctx, conn, RequestQuery::default())
        .await?
        .into_iter()
        .map(|t| RequestLine {
            id: t.id,
            who: t.member.clone(),
            what: format!("Time off {}", ctx.locale.span(t.start_date, Some(t.end_date))),
            reason: t.reason.clone().unwrap_or_default(),
            status: t.status.label(),
            pending: t.status == RequestStatus::Pending,
            mine: t.user_id == ctx.user_id,
            can_decide: can_manage && t.user_id != ctx.user_id,
            decided: t
                .reviewer
                .as_ref()
                .zip(t.reviewed_at)
                .map(|(r, at)| {
                    format!(
                        "{r}, {}{}",
                        l.moment(&at),
                        t.reviewer_notes.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        })
        .collect();
    let swaps = requests::swaps(ctx, conn, RequestQuery::default())
        .await?
        .into_iter()
        .map(|w| RequestLine {
            id: w.id,
            who: w.requested_by.name.clone(),
            what: match &w.taking {
                Some(t) => format!("Trade {} for {t} ({})", w.offering, w.target.name),
                None => format!("Hand {} to {}", w.offering, w.target.name),
            },
            reason: w.reason.clone().unwrap_or_default(),
            status: w.status.label(),
            pending: w.status == RequestStatus::Pending,
            mine: w.requested_by.id == ctx.user_id,
            can_decide: can_manage
                && w.requested_by.id != ctx.user_id
                && w.target.id != ctx.user_id,
            decided: w
                .reviewer
                .as_ref()
                .zip(w.reviewed_at)
                .map(|(r, at)| format!("{r}, {}", l.moment(&at)))
                .unwrap_or_default(),
        })
        .collect();
    Ok(RequestsPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        can_manage,
        time_off,
        swaps,
        form_start: form.start_date.clone(),
        form_end: form.end_date.clone(),
        form_reason: form.reason.clone(),
        errors: FieldErrors::new(
            errors,
            &[
                ("start_date", "First day"),
                ("end_date", "Last day"),
                ("reason", "Why"),
            ],
        ),
        notice,
        refusal,
    })
}

async fn requests_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(SCHEDULING_VIEW)?;
    let done = done.ok().and_then(|Query(d)| d.done);
    let mut conn = state.db.acquire().await?;
    Ok(web::render(
        &requests_view(
            &ctx,
            &mut conn,
            &TimeOffForm::default(),
            &[],
            done_notice(done.as_deref()),
            None,
        )
        .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct TimeOffForm {
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    reason: String,
}

async fn ask_time_off(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<TimeOffForm>,
) -> PageResult {
    ctx.require(SCHEDULING_VIEW)?;
    let mut errors = Vec::new();
    let day = |field: &str, text: &str, errors: &mut Vec<FieldError>| {
        let d = ctx.locale.parse_day(text.trim()).or_else(|| parse_day(Some(text)));
        if d.is_none() {
            errors.push(FieldError::new(
                field,
                if text.trim().is_empty() {
                    "is required".to_string()
                } else {
                    format!("must be a date like {}", ctx.locale.date_hint())
                },
            ));
        }
        d
    };
    let start = day("start_date", &form.start_date, &mut errors);
    let end = if form.end_date.trim().is_empty() {
        start
    } else {
        day("end_date", &form.end_date, &mut errors)
    };
    let mut tx = state.db.begin().await?;
    let result = match (start, end) {
        (Some(start_date), Some(end_date)) => {
            requests::request_time_off(
                &ctx,
                &mut tx,
                &state.notifier,
                TimeOffInput {
                    start_date,
                    end_date,
                    reason: Some(form.reason.clone()),
                },
            )
            .await
        }
        _ => Err(AppError::Validation(Vec::new())),
    };
    match web::finish_form(tx, result, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to("/scheduling/requests?done=asked").into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = requests_view(&ctx, &mut conn, &form, &errors, None, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ReviewForm {
    #[serde(default)]
    approve: String,
    #[serde(default)]
    notes: String,
}

/// After deciding or withdrawing a request: the requests page with the notice, or with why it
/// was refused.
async fn after_request<T>(
    state: &AppState,
    ctx: &Ctx,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/scheduling/requests?done={done}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let status = e.status();
            let mut conn = state.db.acquire().await?;
            let page = requests_view(
                ctx,
                &mut conn,
                &TimeOffForm::default(),
                &[],
                None,
                Some(web::refusal(&e)),
            )
            .await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

fn review_input(form: ReviewForm) -> ReviewInput {
    ReviewInput {
        approve: form.approve == "1",
        notes: Some(form.notes),
    }
}

async fn review_time_off(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result =
        requests::review_time_off(&ctx, &mut tx, &state.notifier, id, review_input(form)).await;
    after_request(&state, &ctx, tx, result, "reviewed").await
}

async fn cancel_time_off(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = requests::cancel_time_off(&ctx, &mut tx, id).await;
    after_request(&state, &ctx, tx, result, "withdrawn").await
}

async fn review_swap(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result =
        requests::review_swap(&ctx, &mut tx, &state.notifier, id, review_input(form)).await;
    after_request(&state, &ctx, tx, result, "reviewed").await
}

async fn cancel_swap(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = requests::cancel_swap(&ctx, &mut tx, id).await;
    after_request(&state, &ctx, tx, result, "withdrawn").await
}

// ---------------------------------------------------------------------------------------------
// Templates

#[derive(Template)]
#[template(path = "scheduling/templates.html")]
struct TemplatesPage {
    chrome: Chrome,
    templates: Vec<TemplateLine>,
    form: TemplateForm,
    vehicles: Vec<Opt>,
    courses: Vec<Opt>,
    errors: FieldErrors,
    notice: Option<String>,
    /// Vehicles are edited with the stations, under the settings.
    can_edit_vehicles: bool,
}

struct TemplateLine {
    name: String,
    about: String,
    seats: String,
    active: bool,
}

#[derive(Debug, Default, Deserialize)]
struct TemplateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    apparatus_id: String,
    /// One seat a line; a line ending in "*" is required.
    #[serde(default)]
    seats: String,
    #[serde(default)]
    driver_course_id: String,
    #[serde(default)]
    min_staffing: String,
    #[serde(default)]
    open_to_all_members: Option<String>,
}

const TEMPLATE_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("start_time", "Starts"),
    ("duration_minutes", "Hours"),
    ("hours", "Hours"),
    ("apparatus_id", "Vehicle"),
    ("positions", "Seats"),
    ("seats", "Seats"),
    ("min_staffing", "Fewest on duty"),
    ("staffing_warning_hours", "Warn"),
];

impl TemplateForm {
    fn input(&self, errors: &mut Vec<FieldError>) -> TemplateInput {
        let hours = self.hours.trim().replace(',', ".");
        let minutes = match hours.parse::<f64>() {
            Ok(h) if h.is_finite() && h > 0.0 && h <= 48.0 => (h * 60.0).round() as u16,
            _ => {
                errors.push(FieldError::new(
                    "hours",
                    "must be a number of hours, more than 0 and at most 48",
                ));
                60
            }
        };
        let apparatus_id = match self.apparatus_id.trim() {
            "" => None,
            t => match t.parse() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("apparatus_id", "is not one of the choices"));
                    None
                }
            },
        };
        let driver_course: Option<Uuid> = self.driver_course_id.trim().parse().ok();
        let seats: Vec<Seat> = self
            .seats
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let required = l.ends_with('*');
                let name = l.trim_end_matches('*').trim().to_string();
                let course_id = driver_course.filter(|_| name.to_lowercase().contains("driver"));
                Seat {
                    name,
                    required,
                    course_id,
                }
            })
            .collect();
        let min_staffing = match self.min_staffing.trim() {
            "" => None,
            t => match t.parse::<u8>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new("min_staffing", "must be a whole number"));
                    None
                }
            },
        };
        TemplateInput {
            name: self.name.clone(),
            start_time: self.start_time.clone(),
            duration_minutes: minutes,
            apparatus_id,
            location_id: None,
            positions: (!seats.is_empty()).then_some(seats),
            min_staffing,
            open_to_all_members: self.open_to_all_members.is_some(),
            staffing_warning_hours: None,
            is_active: true,
        }
    }
}

async fn templates_view(
    ctx: &Ctx,
    conn: &mut Conn,
    form: TemplateForm,
    errors: &[FieldError],
    notice: Option<String>,
) -> Result<TemplatesPage, AppError> {
    ctx.require(SCHEDULING_MANAGE)?;
    let templates = service::templates(ctx, conn)
        .await?
        .into_iter()
        .map(|t| TemplateLine {
            about: format!(
                "From {} for {} hours{}",
                t.start_time,
                f64::from(t.duration_minutes) / 60.0,
                t.apparatus.as_ref().map(|a| format!(" · {}", a.name)).unwrap_or_default()
            ),
            seats: t
                .positions
                .iter()
                .map(|s| if s.required { format!("{}*", s.name) } else { s.name.clone() })
                .collect::<Vec<_>>()
                .join(", "),
            name: t.name,
            active: t.is_active,
        })
        .collect();
    let vehicles: Vec<(String, String)> = service::vehicles(ctx, conn)
        .await?
        .into_iter()
        .map(|v| (v.id.to_string(), v.name))
        .collect();
    let courses: Vec<(String, String)> = service::courses(ctx, conn)
        .await?
        .into_iter()
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    let opts = |v: &[(String, String)], current: &str, blank: &str| {
        let r: Vec<(&str, &str)> = v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        web::options(&r, current, Some(blank))
    };
    Ok(TemplatesPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        templates,
        vehicles: opts(&vehicles, form.apparatus_id.trim(), "No vehicle"),
        courses: opts(&courses, form.driver_course_id.trim(), "Anyone may drive"),
        form,
        errors: FieldErrors::new(errors, TEMPLATE_LABELS),
        notice,
        can_edit_vehicles: ctx.has(crate::auth::permissions::SETTINGS_MANAGE),
    })
}

async fn templates_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    done: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let done = done.ok().and_then(|Query(d)| d.done);
    let mut conn = state.db.acquire().await?;
    let form = TemplateForm {
        start_time: "07:00".into(),
        hours: "24".into(),
        seats: "Officer*\nDriver*\nFirefighter\nFirefighter".into(),
        open_to_all_members: Some("1".into()),
        ..TemplateForm::default()
    };
    Ok(web::render(
        &templates_view(&ctx, &mut conn, form, &[], done_notice(done.as_deref())).await?,
    ))
}

async fn create_template(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<TemplateForm>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let mut tx = state.db.begin().await?;
    let saved = service::create_template(&ctx, &mut tx, input).await;
    let saved = saved.map_err(|e| match e {
        // Seats are one text box here.
        AppError::Validation(errs) => AppError::Validation(
            errs.into_iter()
                .map(|mut e| {
                    if e.field.starts_with("positions") {
                        e.field = "seats".into();
                    } else if e.field == "duration_minutes" {
                        e.field = "hours".into();
                    }
                    e
                })
                .collect(),
        ),
        other => other,
    });
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to("/scheduling/templates?done=template").into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = templates_view(&ctx, &mut conn, form, &errors, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns and generating a range

#[derive(Template)]
#[template(path = "scheduling/pattern_form.html")]
struct PatternPage {
    chrome: Chrome,
    form: PatternForm,
    templates: Vec<Opt>,
    kinds: Vec<Opt>,
    presets: Vec<Opt>,
    day_boxes: Vec<(u8, &'static str, bool)>,
    crew: Vec<CrewLine>,
    errors: FieldErrors,
}

struct CrewLine {
    id: Uuid,
    name: String,
    platoon: String,
}

#[derive(Debug, Default, Deserialize)]
struct PatternForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    pattern_type: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    sequence: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
    /// Ticked weekdays ("1", "3") and each member's platoon ("platoon_<id>" = "A").
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

const PATTERN_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("template_id", "Template"),
    ("pattern_type", "Repeats"),
    ("preset", "Rotation"),
    ("sequence", "Sequence"),
    ("weekdays", "Days"),
    ("start_date", "First day"),
    ("end_date", "Last day"),
    ("members", "Platoons"),
];

async fn pattern_view(
    ctx: &Ctx,
    conn: &mut Conn,
    form: PatternForm,
    errors: &[FieldError],
) -> Result<PatternPage, AppError> {
    ctx.require(SCHEDULING_MANAGE)?;
    let templates: Vec<(String, String)> = service::templates(ctx, conn)
        .await?
        .into_iter()
        .filter(|t| t.is_active)
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    let r: Vec<(&str, &str)> = templates.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let kinds = [
        ("platoon", "A platoon rotation"),
        ("daily", "Every day"),
        ("weekly", "On chosen weekdays"),
        ("custom", "My own sequence of platoons"),
    ];
    let presets: Vec<(&str, &str)> = [Preset::ThreeDay, Preset::FortyEight, Preset::Kelly, Preset::TwoPlatoon]
        .iter()
        .map(|p| (p.as_str(), p.label()))
        .collect();
    let crew = service::members(ctx, conn)
        .await?
        .into_iter()
        .map(|m| CrewLine {
            platoon: form
                .rest
                .get(&format!("platoon_{}", m.id))
                .cloned()
                .unwrap_or_default(),
            id: m.id,
            name: m.name,
        })
        .collect();
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    Ok(PatternPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        templates: web::options(&r, form.template_id.trim(), Some("Choose a template")),
        kinds: web::options(&kinds, form.pattern_type.trim(), None),
        presets: web::options(&presets, form.preset.trim(), None),
        day_boxes: (0..7u8)
            .map(|d| (d, DAYS[usize::from(d)], form.rest.contains_key(&format!("day_{d}"))))
            .collect(),
        crew,
        form,
        errors: FieldErrors::new(errors, PATTERN_LABELS),
    })
}

async fn new_pattern(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let form = PatternForm {
        pattern_type: "platoon".into(),
        preset: Preset::ThreeDay.as_str().into(),
        start_date: crate::time::today(&ctx.timezone).to_string(),
        ..PatternForm::default()
    };
    Ok(web::render(&pattern_view(&ctx, &mut conn, form, &[]).await?))
}

async fn create_pattern(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<PatternForm>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut errors = Vec::new();
    let template_id = form.template_id.trim().parse::<Uuid>();
    if template_id.is_err() {
        errors.push(FieldError::new("template_id", "choose a template"));
    }
    let start = parse_day(Some(&form.start_date)).or_else(|| ctx.locale.parse_day(form.start_date.trim()));
    if start.is_none() {
        errors.push(FieldError::new("start_date", "must be a date"));
    }
    let end = match form.end_date.trim() {
        "" => None,
        t => {
            let d = parse_day(Some(t)).or_else(|| ctx.locale.parse_day(t));
            if d.is_none() {
                errors.push(FieldError::new("end_date", "must be a date"));
            }
            d
        }
    };
    let kind = PatternType::parse(form.pattern_type.trim()).unwrap_or(PatternType::Platoon);
    let members: Vec<PlatoonMember> = if matches!(kind, PatternType::Platoon | PatternType::Custom) {
        form.rest
            .iter()
            .filter_map(|(k, v)| {
                let id = k.strip_prefix("platoon_")?.parse().ok()?;
                (!v.trim().is_empty()).then(|| PlatoonMember {
                    user_id: id,
                    platoon: v.trim().to_string(),
                    position: None,
                    name: None,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let weekdays: Vec<u8> = (0..7u8)
        .filter(|d| form.rest.contains_key(&format!("day_{d}")))
        .collect();
    let mut tx = state.db.begin().await?;
    let result = match (template_id, start) {
        (Ok(template_id), Some(start_date)) if errors.is_empty() => {
            service::create_pattern(
                &ctx,
                &mut tx,
                PatternInput {
                    name: form.name.clone(),
                    template_id,
                    pattern_type: kind.as_str().into(),
                    weekdays,
                    preset: Some(form.preset.clone()),
                    sequence: Some(form.sequence.clone()),
                    start_date,
                    end_date: end,
                    members,
                },
            )
            .await
        }
        _ => Err(AppError::Validation(Vec::new())),
    };
    let result = result.map_err(|e| match e {
        AppError::Validation(errs) => AppError::Validation(
            errs.into_iter()
                .map(|mut e| {
                    if e.field.starts_with("members") {
                        e.field = "members".into();
                    }
                    e
                })
                .collect(),
        ),
        other => other,
    });
    match web::finish_form(tx, result, &mut errors, &state.mailer).await? {
        Some(p) => Ok(Redirect::to(&format!(
            "/scheduling/generate?pattern={}&done=pattern",
            p.id
        ))
        .into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = pattern_view(&ctx, &mut conn, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "scheduling/generate.html")]
struct GeneratePage {
    chrome: Chrome,
    patterns: Vec<Opt>,
    /// Every pattern: id, name, rule in words, in use.
    all: Vec<(Uuid, String, String, bool)>,
    pattern: String,
    from: String,
    to: String,
    preview: Vec<PlannedLine>,
    previewed: bool,
    new_count: usize,
    errors: FieldErrors,
    notice: Option<String>,
}

struct PlannedLine {
    when: String,
    platoon: String,
    crew: String,
    skipped: String,
    exists: bool,
}

#[derive(Debug, Default, Deserialize)]
struct GenerateParams {
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    done: Option<String>,
}

async fn generate_view(
    ctx: &Ctx,
    conn: &mut Conn,
    p: &GenerateParams,
    shown: Option<&Generated>,
    errors: &[FieldError],
) -> Result<GeneratePage, AppError> {
    ctx.require(SCHEDULING_MANAGE)?;
    let every = service::patterns(ctx, conn).await?;
    let all = every
        .iter()
        .map(|p| (p.id, p.name.clone(), p.described.clone(), p.is_active))
        .collect();
    let patterns: Vec<(String, String)> = every
        .into_iter()
        .filter(|p| p.is_active)
        .map(|p| (p.id.to_string(), format!("{} — {} ({})", p.name, p.described, p.template.name)))
        .collect();
    let r: Vec<(&str, &str)> = patterns.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let l = local(ctx);
    let preview: Vec<PlannedLine> = shown
        .map(|g| {
            g.shifts
                .iter()
                .map(|s| PlannedLine {
                    when: l.moment(&s.starts_at),
                    platoon: s.platoon.clone().unwrap_or_default(),
                    crew: s.crew.join(", "),
                    skipped: s.skipped.join(", "),
                    exists: s.exists,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(GeneratePage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        all,
        patterns: web::options(&r, p.pattern.trim(), Some("Choose a pattern")),
        pattern: p.pattern.clone(),
        from: p.from.clone(),
        to: p.to.clone(),
        new_count: preview.iter().filter(|x| !x.exists).count(),
        previewed: shown.is_some(),
        preview,
        errors: FieldErrors::new(
            errors,
            &[("pattern", "Pattern"), ("from", "From"), ("to", "To")],
        ),
        notice: done_notice(p.done.as_deref()),
    })
}

/// The range asked for, read from the form (`from`, `to`: dates) and the pattern.
fn generate_input(
    ctx: &Ctx,
    p: &GenerateParams,
    preview: bool,
    errors: &mut Vec<FieldError>,
) -> Option<(Uuid, GenerateInput)> {
    let pattern = p.pattern.trim().parse::<Uuid>().ok();
    if pattern.is_none() {
        errors.push(FieldError::new("pattern", "choose a pattern"));
    }
    let day = |field: &str, text: &str, errors: &mut Vec<FieldError>| {
        let d = parse_day(Some(text)).or_else(|| ctx.locale.parse_day(text.trim()));
        if d.is_none() {
            errors.push(FieldError::new(field, "must be a date"));
        }
        d
    };
    let from = day("from", &p.from, errors);
    let to = day("to", &p.to, errors);
    Some((pattern?, GenerateInput {
        from: from?,
        to: to?,
        preview,
    }))
}

async fn generate_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<GenerateParams>, QueryRejection>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut p = query.map(|Query(q)| q).unwrap_or_default();
    let today = crate::time::today(&ctx.timezone);
    let mut conn = state.db.acquire().await?;
    if p.from.trim().is_empty() && p.to.trim().is_empty() {
        // Next month, by default.
        let first = today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .unwrap_or(today);
        p.from = first.to_string();
        p.to = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(first)
            .to_string();
        return Ok(web::render(&generate_view(&ctx, &mut conn, &p, None, &[]).await?));
    }
    let mut errors = Vec::new();
    let shown = match generate_input(&ctx, &p, true, &mut errors) {
        Some((pattern, input)) if errors.is_empty() => {
            let mut tx = state.db.begin().await?;
            let g = service::generate(&ctx, &mut tx, pattern, input).await;
            tx.rollback().await?;
            match g {
                Ok(g) => Some(g),
                Err(AppError::Validation(found)) => {
                    errors.extend(found);
                    None
                }
                Err(AppError::NotFound) => {
                    errors.push(FieldError::new("pattern", "is not one of the choices"));
                    None
                }
                Err(other) => return Err(other.into()),
            }
        }
        _ => None,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = generate_view(&ctx, &mut conn, &p, shown.as_ref(), &errors).await?;
    Ok((status, web::render(&page)).into_response())
}

async fn generate(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(p): Form<GenerateParams>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut errors = Vec::new();
    let mut tx = state.db.begin().await?;
    let (result, from) = match generate_input(&ctx, &p, false, &mut errors) {
        Some((pattern, input)) if errors.is_empty() => {
            let from = input.from;
            (service::generate(&ctx, &mut tx, pattern, input).await, Some(from))
        }
        _ => (Err(AppError::Validation(Vec::new())), None),
    };
    let result = match result {
        Err(AppError::NotFound) => Err(AppError::field("pattern", "is not one of the choices")),
        other => other,
    };
    match web::finish_form(tx, result, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to(&format!(
            "/scheduling?view=month&on={}&done=generated",
            from.map(|d| d.to_string()).unwrap_or_default()
        ))
        .into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = generate_view(&ctx, &mut conn, &p, None, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ActiveForm {
    #[serde(default)]
    active: String,
}

async fn set_pattern_active(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActiveForm>,
) -> PageResult {
    let active = form.active == "1";
    let mut tx = state.db.begin().await?;
    service::set_pattern_active(&ctx, &mut tx, id, service::ActiveInput { active }).await?;
    tx.commit().await?;
    let done = if active { "resumed" } else { "stopped" };
    Ok(Redirect::to(&format!("/scheduling/generate?done={done}")).into_response())
}

// ---------------------------------------------------------------------------------------------
// A shift by hand

#[derive(Template)]
#[template(path = "scheduling/shift_form.html")]
struct ShiftFormPage {
    chrome: Chrome,
    templates: Vec<Opt>,
    form: NewShiftForm,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
struct NewShiftForm {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    shift_date: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    notes: String,
}

async fn shift_form_view(
    ctx: &Ctx,
    conn: &mut Conn,
    form: NewShiftForm,
    errors: &[FieldError],
) -> Result<ShiftFormPage, AppError> {
    ctx.require(SCHEDULING_MANAGE)?;
    let templates: Vec<(String, String)> = service::templates(ctx, conn)
        .await?
        .into_iter()
        .filter(|t| t.is_active)
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    let r: Vec<(&str, &str)> = templates.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    Ok(ShiftFormPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        templates: web::options(&r, form.template_id.trim(), Some("Choose a template")),
        form,
        errors: FieldErrors::new(
            errors,
            &[
                ("template_id", "Template"),
                ("shift_date", "Day"),
                ("title", "Title"),
                ("notes", "Notes"),
            ],
        ),
    })
}

async fn new_shift(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let form = NewShiftForm {
        shift_date: crate::time::today(&ctx.timezone).to_string(),
        ..NewShiftForm::default()
    };
    Ok(web::render(&shift_form_view(&ctx, &mut conn, form, &[]).await?))
}

async fn create_shift(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<NewShiftForm>,
) -> PageResult {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut errors = Vec::new();
    let template = form.template_id.trim().parse::<Uuid>().ok();
    if template.is_none() {
        errors.push(FieldError::new("template_id", "choose a template"));
    }
    let day = parse_day(Some(&form.shift_date)).or_else(|| ctx.locale.parse_day(form.shift_date.trim()));
    if day.is_none() {
        errors.push(FieldError::new("shift_date", "must be a date"));
    }
    let mut tx = state.db.begin().await?;
    let result = match (template, day) {
        (Some(template_id), Some(shift_date)) => {
            service::create_shift(
                &ctx,
                &mut tx,
                ShiftInput {
                    template_id: Some(template_id),
                    title: Some(form.title.clone()).filter(|t| !t.trim().is_empty()),
                    shift_date,
                    notes: Some(form.notes.clone()),
                    ..ShiftInput::default()
                },
            )
            .await
        }
        _ => Err(AppError::Validation(Vec::new())),
    };
    match web::finish_form(tx, result, &mut errors, &state.mailer).await? {
        Some(s) => Ok(Redirect::to(&format!("/scheduling/shifts/{}?done=created", s.id)).into_response()),
        None => {
            let mut conn = state.db.acquire().await?;
            let page = shift_form_view(&ctx, &mut conn, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reports

#[derive(Template)]
#[template(path = "scheduling/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    from: String,
    to: String,
    hours: Vec<(String, i64, String)>,
    months: Vec<super::service::reports::MonthCoverage>,
    errors: FieldErrors,
    query: String,
}

#[derive(Debug, Default, Deserialize)]
struct ReportParams {
    from: Option<String>,
    to: Option<String>,
}

async fn reports_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ReportParams>, QueryRejection>,
) -> PageResult {
    use super::service::reports::{self, ReportQuery};
    ctx.require(SCHEDULING_MANAGE)?;
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let mut errors = Vec::new();
    let mut day = |field: &str, text: Option<&str>| match text.map(str::trim) {
        None | Some("") => None,
        Some(t) => {
            let d = parse_day(Some(t)).or_else(|| ctx.locale.parse_day(t));
            if d.is_none() {
                errors.push(FieldError::new(field, "must be a date"));
            }
            d
        }
    };
    let q = ReportQuery {
        from: day("from", p.from.as_deref()),
        to: day("to", p.to.as_deref()),
        format: None,
    };
    let range = if errors.is_empty() {
        match reports::range(&ctx, &q) {
            Ok(r) => Some(r),
            Err(AppError::Validation(found)) => {
                errors.extend(found);
                None
            }
            Err(other) => return Err(other.into()),
        }
    } else {
        None
    };
    let mut conn = state.db.acquire().await?;
    let (hours, months, from, to) = match range {
        Some((from, to)) => (
            reports::hours(&ctx, &mut conn, from, to)
                .await?
                .members
                .into_iter()
                .map(|m| (m.member, m.shifts, m.hours.to_string()))
                .collect(),
            reports::coverage(&ctx, &mut conn, from, to).await?.months,
            from.to_string(),
            to.to_string(),
        ),
        None => (
            Vec::new(),
            Vec::new(),
            p.from.clone().unwrap_or_default(),
            p.to.clone().unwrap_or_default(),
        ),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let query = web::link("", &[("from", &from), ("to", &to)]);
    Ok((
        status,
        web::render(&ReportsPage {
            chrome: Chrome::for_viewer(&ctx, SECTION),
            query: query.trim_start_matches('?').to_string(),
            from,
            to,
            hours,
            months,
            errors: FieldErrors::new(&errors, &[("from", "From"), ("to", "To")]),
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// The dashboard

/// "Your next shifts" and, for officers, "Open shifts this week".
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    if !ctx.has(SCHEDULING_VIEW) {
        return Ok(Vec::new());
    }
    let today = crate::time::today(&ctx.timezone);
    let mut panels = Vec::new();
    let mine = service::shifts(
        ctx,
        conn,
        ShiftQuery {
            from: Some(today),
            to: Some(today + Duration::days(14)),
            mine: Some(true),
            per_page: Some(5),
            ..ShiftQuery::default()
        },
    )
    .await?;
    if !mine.items.is_empty() {
        panels.push(Panel {
            title: "Your next shifts".into(),
            items: mine
                .items
                .iter()
                .map(|s| {
                    let v = ShiftView::new(ctx, s);
                    let ask = match s.my_assignment.as_ref().map(|h| h.status) {
                        Some(AssignmentStatus::Assigned) => " · please confirm",
                        _ => "",
                    };
                    PanelItem {
                        text: format!("{} — {}{ask}", v.title, v.when),
                        link: format!("/scheduling/shifts/{}", s.id),
                    }
                })
                .collect(),
        });
    }
    let open = service::shifts(
        ctx,
        conn,
        ShiftQuery {
            from: Some(today),
            to: Some(today + Duration::days(7)),
            open: Some(true),
            per_page: Some(5),
            ..ShiftQuery::default()
        },
    )
    .await?;
    if !open.items.is_empty() {
        panels.push(Panel {
            title: format!("Open shifts this week ({})", open.total),
            items: open
                .items
                .iter()
                .map(|s| {
                    let v = ShiftView::new(ctx, s);
                    PanelItem {
                        text: format!("{} — {} · {}", v.title, v.when, v.staffing),
                        link: format!("/scheduling/shifts/{}", s.id),
                    }
                })
                .collect(),
        });
    }
    if ctx.has(SCHEDULING_MANAGE) {
        let (time_off, swaps) = requests::waiting(ctx, conn).await?;
        if time_off + swaps > 0 {
            let mut items = Vec::new();
            if time_off > 0 {
                items.push(PanelItem {
                    text: format!(
                        "{time_off} time off request{} to decide",
                        if time_off == 1 { "" } else { "s" }
                    ),
                    link: "/scheduling/requests".into(),
                });
            }
            if swaps > 0 {
                items.push(PanelItem {
                    text: format!("{swaps} swap{} to decide", if swaps == 1 { "" } else { "s" }),
                    link: "/scheduling/requests".into(),
                });
            }
            panels.push(Panel {
                title: "Scheduling requests".into(),
                items,
            });
        }
    }
    Ok(panels)
}
