//! `/minutes` pages, phone first: the list (search, year, state), new minutes from a template or
//! a business-meeting event, the minutes themselves (the secretary writes the sections, the
//! attendance, motions and action items on one page; the officers submit, approve or send back;
//! approved minutes are published to the library and print cleanly), a member's action items,
//! and the attendance register. Plain forms, post-redirect-get; the rules live in `service`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{ItemStatus, MeetingType, MinutesStatus, MotionResult, Priority};
use super::service::attendance::{self, AttendanceInput, ExcusedInput, MemberAttendance};
use super::service::content::{self, ActionItem, ActionItemInput, ItemQuery, ActionItemUpdate, MotionInput};
use super::service::publish::{self, result_word};
use super::service::{
    self, MINUTES_MANAGE, Minutes, MinutesQuery, MinutesUpdate, NewMinutes, Rejection,
    MinutesSectionInput,
};
use crate::auth::Ctx;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::{self, Chrome, DoneQuery, FieldErrors, PageResult, Pager, PathId, PathIds, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/minutes", get(list_page))
        .route("/minutes/new", get(new_page).post(create))
        .route("/minutes/action-items", get(items_page))
        .route("/minutes/action-items/{id}", post(update_item))
        .route("/minutes/attendance", get(attendance_page))
        .route("/minutes/{id}", get(view_page))
        .route("/minutes/{id}/edit", post(save))
        .route("/minutes/{id}/attendance", post(save_attendance))
        .route("/minutes/{id}/motions", post(add_motion))
        .route("/minutes/{id}/motions/{motion}/remove", post(remove_motion))
        .route("/minutes/{id}/action-items", post(add_item))
        .route("/minutes/{id}/action-items/{item}/remove", post(remove_item))
        .route("/minutes/{id}/submit", post(submit))
        .route("/minutes/{id}/approve", post(approve))
        .route("/minutes/{id}/reject", post(reject))
        .route("/minutes/{id}/publish", post(publish))
        .route("/minutes/{id}/print", get(print_page))
        .route("/minutes/{id}/delete", get(delete_confirm).post(delete))
}

const SECTION: &str = "/minutes";

type Options = Vec<(String, String)>;

fn done_notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Minutes started from the template. Write each section, then save.",
            "saved" => "Saved.",
            "attendance" => "Attendance saved.",
            "motion" => "Motion recorded.",
            "motion-removed" => "Motion removed.",
            "item" => "Action item added; its assignee is told when the minutes are approved.",
            "item-removed" => "Action item removed.",
            "submitted" => "Submitted for approval. The other officers have been told.",
            "approved" => "Approved: these minutes are now the record and can no longer change.",
            "rejected" => "Sent back to the secretary with your reason.",
            "published" => "Published to the Minutes folder of the library.",
            "deleted" => "Draft deleted.",
            "item-updated" => "Action item updated.",
            _ => return None,
        }
        .to_string(),
    )
}

fn status_label(s: MinutesStatus) -> &'static str {
    match s {
        MinutesStatus::Draft => "Draft",
        MinutesStatus::Submitted => "Waiting for approval",
        MinutesStatus::Approved => "Approved",
        MinutesStatus::Rejected => "Sent back",
    }
}

fn type_options() -> Options {
    MeetingType::WORDS
        .iter()
        .filter_map(|w| MeetingType::parse(w))
        .map(|t| (t.as_str().to_string(), t.label().to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

struct Line {
    id: Uuid,
    title: String,
    meta: String,
    status: &'static str,
    status_class: &'static str,
}

#[derive(Template)]
#[template(path = "minutes/list.html")]
struct ListPage {
    chrome: Chrome,
    notice: Option<String>,
    can_manage: bool,
    q: String,
    status: String,
    statuses: Options,
    lines: Vec<Line>,
    total: u64,
    pager: Pager,
}

async fn list_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(p): Query<ListParams>,
) -> PageResult {
    let page = web::page_number(p.page.as_deref());
    let q = p.q.clone().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let found = service::list(
        &ctx,
        &mut conn,
        MinutesQuery {
            q: Some(q.clone()),
            status: Some(status.clone()).filter(|s| !s.is_empty()),
            page: Some(page),
            ..MinutesQuery::default()
        },
    )
    .await?;
    let pairs_q = q.clone();
    let pairs_s = status.clone();
    let pager = Pager::new(found.page, found.total, found.per_page, move |n| {
        web::link(
            "/minutes",
            &[("q", &pairs_q), ("status", &pairs_s), ("page", &n.to_string())],
        )
    });
    let mut statuses: Options = vec![(String::new(), "Every state".into())];
    statuses.extend(
        MinutesStatus::WORDS
            .iter()
            .filter_map(|w| MinutesStatus::parse(w))
            .map(|s| (s.as_str().to_string(), status_label(s).to_string())),
    );
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        notice: done_notice(p.done.as_deref()),
        can_manage: ctx.has(MINUTES_MANAGE),
        q,
        status,
        statuses,
        total: found.total,
        lines: found
            .items
            .into_iter()
            .map(|m| Line {
                id: m.id,
                title: m.title,
                meta: format!("{} · {}", m.meeting_type.label(), ctx.locale.day(m.meeting_date)),
                status: status_label(m.status),
                status_class: m.status.as_str(),
            })
            .collect(),
        pager,
    }))
}

// ---------------------------------------------------------------------------------------------
// New minutes

#[derive(Debug, Default, Clone, Deserialize)]
struct NewForm {
    #[serde(default)]
    meeting_type: String,
    #[serde(default)]
    meeting_date: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    presiding: String,
}

const NEW_LABELS: &[(&str, &str)] = &[
    ("meeting_type", "Meeting"),
    ("meeting_date", "Date"),
    ("template_id", "Template"),
    ("event_id", "Event"),
    ("title", "Title"),
    ("location", "Where"),
    ("presiding", "Presiding"),
];

#[derive(Template)]
#[template(path = "minutes/new.html")]
struct NewPage {
    chrome: Chrome,
    form: NewForm,
    types: Options,
    templates: Options,
    events: Options,
    errors: FieldErrors,
}

async fn new_form_page(
    state: &AppState,
    ctx: &Ctx,
    form: NewForm,
    errors: &[FieldError],
) -> Result<NewPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let mut templates: Options = vec![(String::new(), "The meeting's usual template".into())];
    templates.extend(
        service::templates(ctx, &mut conn)
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), format!("{} ({} sections)", t.name, t.sections.len()))),
    );
    let mut events: Options = vec![(String::new(), "None: I will record who was there".into())];
    events.extend(
        service::meeting_events(ctx, &mut conn)
            .await?
            .into_iter()
            .map(|(id, title, starts)| {
                (
                    id.to_string(),
                    format!("{title}, {}", ctx.local().moment(&starts)),
                )
            }),
    );
    Ok(NewPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        form,
        types: type_options(),
        templates,
        events,
        errors: FieldErrors::new(errors, NEW_LABELS),
    })
}

async fn new_page(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(MINUTES_MANAGE)?;
    let form = NewForm {
        meeting_type: MeetingType::Business.as_str().into(),
        meeting_date: crate::time::today(&ctx.timezone).to_string(),
        ..NewForm::default()
    };
    Ok(web::render(&new_form_page(&state, &ctx, form, &[]).await?))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<NewForm>,
) -> PageResult {
    ctx.require(MINUTES_MANAGE)?;
    let mut errors = Vec::new();
    let date = web::parse_optional_date("meeting_date", &form.meeting_date, &mut errors);
    let template_id = web::parse_optional_id("template_id", &form.template_id, &mut errors);
    let event_id = web::parse_optional_id("event_id", &form.event_id, &mut errors);
    let input = NewMinutes {
        title: Some(form.title.clone()),
        meeting_type: Some(form.meeting_type.clone()).filter(|t| !t.is_empty()),
        meeting_date: date,
        template_id,
        event_id,
        location: Some(form.location.clone()),
        presiding: Some(form.presiding.clone()),
    };
    let mut tx = state.db.begin().await?;
    let saved = service::create(&ctx, &mut tx, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(m) => Ok(Redirect::to(&format!("/minutes/{}?done=created", m.id)).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&new_form_page(&state, &ctx, form, &errors).await?),
        )
            .into_response()),
    }
}

// ---------------------------------------------------------------------------------------------
// The minutes

/// The header and sections as typed (kept when a save is refused).
#[derive(Debug, Default, Clone)]
struct HeaderForm {
    revision: String,
    title: String,
    meeting_type: String,
    meeting_date: String,
    location: String,
    presiding: String,
    called_to_order_at: String,
    adjourned_at: String,
    quorum: String,
    sections: Vec<(String, String)>,
}

impl HeaderForm {
    fn of(m: &Minutes) -> Self {
        let time = |t: Option<chrono::NaiveTime>| {
            t.map(|t| t.format("%H:%M").to_string()).unwrap_or_default()
        };
        HeaderForm {
            revision: m.revision.to_string(),
            title: m.title.clone(),
            meeting_type: m.meeting_type.as_str().into(),
            meeting_date: m.meeting_date.to_string(),
            location: m.location.clone().unwrap_or_default(),
            presiding: m.presiding.clone().unwrap_or_default(),
            called_to_order_at: time(m.called_to_order_at),
            adjourned_at: time(m.adjourned_at),
            quorum: match m.quorum_met {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            },
            sections: m
                .sections
                .iter()
                .map(|s| (s.title.clone(), s.body.clone()))
                .collect(),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = HeaderForm::default();
        let mut titles: Vec<(usize, String)> = Vec::new();
        let mut bodies: Vec<(usize, String)> = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "revision" => f.revision = v,
                "title" => f.title = v,
                "meeting_type" => f.meeting_type = v,
                "meeting_date" => f.meeting_date = v,
                "location" => f.location = v,
                "presiding" => f.presiding = v,
                "called_to_order_at" => f.called_to_order_at = v,
                "adjourned_at" => f.adjourned_at = v,
                "quorum" => f.quorum = v,
                other => {
                    if let Some(i) = other.strip_prefix("section_title_") {
                        if let Ok(i) = i.parse() {
                            titles.push((i, v));
                        }
                    } else if let Some(i) = other.strip_prefix("section_body_")
                        && let Ok(i) = i.parse()
                    {
                        bodies.push((i, v));
                    }
                }
            }
        }
        titles.sort_by_key(|(i, _)| *i);
        titles.truncate(60);
        f.sections = titles
            .into_iter()
            .map(|(i, t)| {
                let body = bodies
                    .iter()
                    .find(|(j, _)| *j == i)
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                (t, body)
            })
            .collect();
        f
    }

    fn input(&self, errors: &mut Vec<FieldError>) -> Option<MinutesUpdate> {
        let date = web::parse_date("meeting_date", &self.meeting_date, errors);
        let quorum = match self.quorum.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        };
        Some(MinutesUpdate {
            revision: self.revision.trim().parse().ok(),
            title: self.title.clone(),
            meeting_type: self.meeting_type.clone(),
            meeting_date: date?,
            location: Some(self.location.clone()),
            presiding: Some(self.presiding.clone()),
            called_to_order_at: Some(self.called_to_order_at.clone()),
            adjourned_at: Some(self.adjourned_at.clone()),
            quorum_met: quorum,
            sections: Some(
                self.sections
                    .iter()
                    .map(|(t, b)| MinutesSectionInput {
                        title: t.clone(),
                        body: b.clone(),
                    })
                    .collect(),
            ),
        })
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
struct MotionForm {
    #[serde(default)]
    motion_text: String,
    #[serde(default)]
    moved_by: String,
    #[serde(default)]
    seconded_by: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    votes_for: String,
    #[serde(default)]
    votes_against: String,
    #[serde(default)]
    votes_abstain: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct ItemForm {
    #[serde(default)]
    description: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    priority: String,
}

const LABELS: &[(&str, &str)] = &[
    ("title", "Title"),
    ("meeting_type", "Meeting"),
    ("meeting_date", "Date"),
    ("location", "Where"),
    ("presiding", "Presiding"),
    ("called_to_order_at", "Called to order"),
    ("adjourned_at", "Adjourned"),
    ("sections", "Sections"),
    ("motion_text", "Motion"),
    ("moved_by", "Moved by"),
    ("seconded_by", "Seconded by"),
    ("result", "Result"),
    ("votes_for", "For"),
    ("votes_against", "Against"),
    ("votes_abstain", "Abstaining"),
    ("description", "What is to be done"),
    ("assignee_id", "Who"),
    ("due_date", "Due"),
    ("priority", "Priority"),
    ("present", "Present"),
    ("excused", "Excused"),
    ("reason", "Reason"),
];

/// A member's line in the attendance form.
struct AttendanceLine {
    id: String,
    name: String,
    /// `present`, `excused` or empty (absent).
    state: String,
}

struct ItemLine {
    id: Uuid,
    description: String,
    assignee: String,
    due: String,
    priority: &'static str,
    status: &'static str,
    overdue: bool,
}

struct MotionLine {
    id: Uuid,
    text: String,
}

#[derive(Template)]
#[template(path = "minutes/minutes.html")]
struct MinutesPage {
    chrome: Chrome,
    notice: Option<String>,
    refusal: Option<String>,
    m: Minutes,
    status: &'static str,
    editable: bool,
    manager: bool,
    record: String,
    date: String,
    rejected_note: Option<String>,
    header: HeaderForm,
    motion: MotionForm,
    item: ItemForm,
    types: Options,
    members: Options,
    results: Options,
    priorities: Options,
    attendance: Vec<AttendanceLine>,
    motions: Vec<MotionLine>,
    items: Vec<ItemLine>,
    may_delete: bool,
    reason: String,
    errors: FieldErrors,
}

/// What a form on the minutes page brings: the field errors found reading it, and what was
/// typed, kept when the change is refused.
#[derive(Default)]
struct Typed {
    errors: Vec<FieldError>,
    header: Option<HeaderForm>,
    motion: Option<MotionForm>,
    item: Option<ItemForm>,
    reason: Option<String>,
}

async fn minutes_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    notice: Option<String>,
    refusal: Option<String>,
    typed: Typed,
    errors: &[FieldError],
) -> Result<MinutesPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let m = service::minutes(ctx, &mut conn, id).await?;
    let manager = m.may_manage;
    let editable = manager && matches!(m.status, MinutesStatus::Draft | MinutesStatus::Rejected);
    let record = if editable {
        String::new()
    } else {
        publish::record_html(ctx, &mut conn, &m).await?
    };
    let (members, attendance) = if editable {
        let choices =
            crate::modules::training::service::member_choices(&mut conn, ctx.org_id).await?;
        let mut members: Options = vec![(String::new(), "Choose a member".into())];
        members.extend(
            choices
                .iter()
                .map(|(id, first, last)| (id.to_string(), format!("{first} {last}"))),
        );
        let lines = choices
            .into_iter()
            .map(|(id, first, last)| {
                let state = if m.attendance.excused.iter().any(|e| e.member.id == id) {
                    "excused"
                } else if m.attendance.present.iter().any(|p| p.id == id) {
                    "present"
                } else {
                    ""
                };
                AttendanceLine {
                    id: id.to_string(),
                    name: format!("{first} {last}"),
                    state: state.into(),
                }
            })
            .collect();
        (members, lines)
    } else {
        (Vec::new(), Vec::new())
    };
    let results = MotionResult::WORDS
        .iter()
        .filter_map(|w| MotionResult::parse(w))
        .map(|r| (r.as_str().to_string(), result_word(r).to_string()))
        .collect();
    let priorities = Priority::WORDS
        .iter()
        .map(|w| (w.to_string(), crate::web::sentence(w).trim_end_matches('.').to_string()))
        .collect();
    let motions = m
        .motions
        .iter()
        .map(|mo| {
            let mut text = mo.motion_text.clone();
            if let Some(by) = &mo.moved_by {
                text.push_str(&format!(" — moved by {}", by.name));
                if let Some(s) = &mo.seconded_by {
                    text.push_str(&format!(", seconded by {}", s.name));
                }
            }
            text.push_str(&format!(". {}", result_word(mo.result)));
            if let (Some(f), Some(a)) = (mo.votes_for, mo.votes_against) {
                text.push_str(&format!(" ({f}–{a})"));
            }
            MotionLine { id: mo.id, text }
        })
        .collect();
    let items = m.action_items.iter().map(|a| item_line(ctx, a)).collect();
    let rejected_note = match (m.status, &m.rejection_reason) {
        (MinutesStatus::Rejected, Some(r)) => Some(format!(
            "Sent back{}: {r}",
            m.rejected_by
                .as_ref()
                .map(|b| format!(" by {}", b.name))
                .unwrap_or_default()
        )),
        _ => None,
    };
    Ok(MinutesPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        notice,
        refusal,
        status: status_label(m.status),
        editable,
        manager,
        record,
        date: ctx.locale.day(m.meeting_date),
        rejected_note,
        header: typed.header.unwrap_or_else(|| HeaderForm::of(&m)),
        motion: typed.motion.unwrap_or(MotionForm {
            result: MotionResult::Passed.as_str().into(),
            ..MotionForm::default()
        }),
        item: typed.item.unwrap_or(ItemForm {
            priority: Priority::Medium.as_str().into(),
            ..ItemForm::default()
        }),
        types: type_options(),
        members,
        results,
        priorities,
        attendance,
        motions,
        items,
        may_delete: manager && m.status == MinutesStatus::Draft && m.submitted_by.is_none(),
        reason: typed.reason.unwrap_or_default(),
        errors: FieldErrors::new(errors, LABELS),
        m,
    })
}

fn item_line(ctx: &Ctx, a: &ActionItem) -> ItemLine {
    ItemLine {
        id: a.id,
        description: a.description.clone(),
        assignee: a.assignee.name.clone(),
        due: a
            .due_date
            .map(|d| ctx.locale.day(d))
            .unwrap_or_default(),
        priority: a.priority.as_str(),
        status: a.status.label(),
        overdue: a.overdue,
    }
}

async fn view_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let page = minutes_page(
        &state,
        &ctx,
        id,
        done_notice(q.done.as_deref()),
        None,
        Typed::default(),
        &[],
    )
    .await?;
    Ok(web::render(&page))
}

/// Ends a change made from the minutes page: commit and back to the page with a notice, or the
/// page again with the refusal and what was typed.
async fn after<T>(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
    done: &str,
    mut typed: Typed,
) -> PageResult {
    let mut errors = std::mem::take(&mut typed.errors);
    let result = match result {
        Ok(_) if !errors.is_empty() => Err(AppError::Validation(Vec::new())),
        other => other,
    };
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/minutes/{id}?done={done}")).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let status = match &e {
                AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
                other => other.status(),
            };
            let refusal = match e {
                AppError::Validation(found) => {
                    errors.extend(found);
                    None
                }
                other => Some(web::refusal(&other)),
            };
            let page = minutes_page(state, ctx, id, None, refusal, typed, &errors).await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn save(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = HeaderForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let mut tx = state.db.begin().await?;
    let r = match input {
        Some(u) => service::update(&ctx, &mut tx, id, u).await,
        None => Err(AppError::Validation(Vec::new())),
    };
    let typed = Typed {
        header: Some(form),
        ..Typed::default()
    };
    after(&state, &ctx, id, tx, r, "saved", Typed { errors, ..typed }).await
}

async fn save_attendance(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let mut errors = Vec::new();
    let mut input = AttendanceInput::default();
    for (k, v) in pairs {
        let Some(member) = k.strip_prefix("att_") else {
            continue;
        };
        let Some(member) = web::parse_optional_id("present", member, &mut errors) else {
            continue;
        };
        match v.as_str() {
            "present" => input.present.push(member),
            "excused" => input.excused.push(ExcusedInput {
                user_id: member,
                excuse: None,
            }),
            _ => {}
        }
    }
    let mut tx = state.db.begin().await?;
    let r = attendance::set(&ctx, &mut tx, id, input).await;
    after(&state, &ctx, id, tx, r, "attendance", Typed { errors, ..Typed::default() }).await
}

fn optional_count(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<u16> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<u16>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(field, "must be a whole number, 0 or more"));
            None
        }
    }
}

async fn add_motion(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<MotionForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let input = MotionInput {
        motion_text: form.motion_text.clone(),
        moved_by: web::parse_optional_id("moved_by", &form.moved_by, &mut errors),
        seconded_by: web::parse_optional_id("seconded_by", &form.seconded_by, &mut errors),
        result: form.result.clone(),
        votes_for: optional_count("votes_for", &form.votes_for, &mut errors),
        votes_against: optional_count("votes_against", &form.votes_against, &mut errors),
        votes_abstain: optional_count("votes_abstain", &form.votes_abstain, &mut errors),
    };
    let mut tx = state.db.begin().await?;
    let r = content::add_motion(&ctx, &mut tx, id, input).await;
    let typed = Typed {
        motion: Some(form),
        ..Typed::default()
    };
    after(&state, &ctx, id, tx, r, "motion", Typed { errors, ..typed }).await
}

async fn remove_motion(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, motion): PathIds,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = content::remove_motion(&ctx, &mut tx, id, motion).await;
    after(&state, &ctx, id, tx, r, "motion-removed", Typed::default()).await
}

async fn add_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ItemForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let assignee = web::parse_optional_id("assignee_id", &form.assignee_id, &mut errors);
    if assignee.is_none() && !errors.iter().any(|e| e.field == "assignee_id") {
        errors.push(FieldError::new("assignee_id", "is required: choose who does it"));
    }
    let due = web::parse_optional_date("due_date", &form.due_date, &mut errors);
    let mut tx = state.db.begin().await?;
    let r = match assignee {
        Some(a) => {
            content::add_item(
                &ctx,
                &mut tx,
                id,
                ActionItemInput {
                    description: form.description.clone(),
                    assignee_id: a,
                    due_date: due,
                    priority: Some(form.priority.clone()).filter(|p| !p.is_empty()),
                },
            )
            .await
        }
        None => Err(AppError::Validation(Vec::new())),
    };
    let typed = Typed {
        item: Some(form),
        ..Typed::default()
    };
    after(&state, &ctx, id, tx, r, "item", Typed { errors, ..typed }).await
}

async fn remove_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, item): PathIds,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = content::remove_item(&ctx, &mut tx, id, item).await;
    after(&state, &ctx, id, tx, r, "item-removed", Typed::default()).await
}

/// The revision a workflow button was pressed on.
#[derive(Deserialize)]
struct RevisionForm {
    #[serde(default)]
    revision: String,
}

impl RevisionForm {
    fn revision(&self) -> Option<u32> {
        self.revision.trim().parse().ok()
    }
}

async fn submit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RevisionForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::submit(&ctx, &mut tx, &state.notifier, id, form.revision()).await;
    after(&state, &ctx, id, tx, r, "submitted", Typed::default()).await
}

async fn approve(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RevisionForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::approve(&ctx, &mut tx, &state.notifier, id, form.revision()).await;
    after(&state, &ctx, id, tx, r, "approved", Typed::default()).await
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    revision: String,
}

async fn reject(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReasonForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = service::reject(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        Rejection {
            reason: form.reason.clone(),
            revision: form.revision.trim().parse().ok(),
        },
    )
    .await;
    let typed = Typed {
        reason: Some(form.reason),
        ..Typed::default()
    };
    after(&state, &ctx, id, tx, r, "rejected", typed).await
}

async fn publish(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match publish::publish(&ctx, &mut tx, &state.config.data_dir, id).await {
        Ok((_, path)) => {
            match path {
                Some(p) => crate::uploads::commit_or_remove(tx, &p).await?,
                None => tx.commit().await?,
            }
            Ok(Redirect::to(&format!("/minutes/{id}?done=published")).into_response())
        }
        Err(e) => {
            after::<()>(&state, &ctx, id, tx, Err(e), "", Typed::default()).await
        }
    }
}

#[derive(Template)]
#[template(path = "minutes/print.html")]
struct PrintPage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    record: String,
    draft: bool,
    print_js: String,
}

async fn print_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let m = service::minutes(&ctx, &mut conn, id).await?;
    let record = publish::record_html(&ctx, &mut conn, &m).await?;
    Ok(web::render(&PrintPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        id,
        title: m.title.clone(),
        record,
        draft: m.status != MinutesStatus::Approved,
        print_js: web::asset_url("print.js"),
    }))
}

#[derive(Template)]
#[template(path = "minutes/delete.html")]
struct DeletePage {
    chrome: Chrome,
    id: Uuid,
    title: String,
    refusal: Option<String>,
}

async fn delete_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(MINUTES_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let m = service::minutes(&ctx, &mut conn, id).await?;
    Ok(web::render(&DeletePage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        id,
        title: m.title,
        refusal: None,
    }))
}

async fn delete(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match service::delete(&ctx, &mut tx, id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/minutes?done=deleted").into_response())
        }
        Err(e @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let m = service::minutes(&ctx, &mut conn, id).await?;
            Ok((
                StatusCode::CONFLICT,
                web::render(&DeletePage {
                    chrome: Chrome::for_viewer(&ctx, SECTION),
                    id,
                    title: m.title,
                    refusal: Some(web::refusal(&e)),
                }),
            )
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Action items

#[derive(Deserialize, Default)]
struct ItemsParams {
    scope: Option<String>,
    closed: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

struct MyItem {
    line: ItemLine,
    minutes_id: Uuid,
    minutes_title: String,
    status: String,
    may_update: bool,
}

#[derive(Template)]
#[template(path = "minutes/items.html")]
struct ItemsPage {
    chrome: Chrome,
    notice: Option<String>,
    refusal: Option<String>,
    all: bool,
    closed: bool,
    manager: bool,
    items: Vec<MyItem>,
    statuses: Options,
    total: u64,
    pager: Pager,
}

async fn items_page_for(
    state: &AppState,
    ctx: &Ctx,
    p: ItemsParams,
    refusal: Option<String>,
) -> Result<ItemsPage, AppError> {
    let page = web::page_number(p.page.as_deref());
    let all = p.scope.as_deref() == Some("all") && ctx.has(MINUTES_MANAGE);
    let closed = p.closed.as_deref() == Some("1");
    let mut conn = state.db.acquire().await?;
    let found = content::items(
        ctx,
        &mut conn,
        ItemQuery {
            scope: Some(if all { "all" } else { "mine" }.into()),
            closed: Some(closed),
            page: Some(page),
            per_page: None,
        },
    )
    .await?;
    let scope = if all { "all" } else { "mine" };
    let closed_s = if closed { "1" } else { "" };
    let pager = Pager::new(found.page, found.total, found.per_page, move |n| {
        web::link(
            "/minutes/action-items",
            &[("scope", scope), ("closed", closed_s), ("page", &n.to_string())],
        )
    });
    Ok(ItemsPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        notice: done_notice(p.done.as_deref()),
        refusal,
        all,
        closed,
        manager: ctx.has(MINUTES_MANAGE),
        total: found.total,
        items: found
            .items
            .iter()
            .map(|a| MyItem {
                line: item_line(ctx, a),
                minutes_id: a.minutes_id,
                minutes_title: a.minutes_title.clone(),
                status: a.status.as_str().into(),
                may_update: a.may_update,
            })
            .collect(),
        statuses: ItemStatus::WORDS
            .iter()
            .filter_map(|w| ItemStatus::parse(w))
            .map(|s| (s.as_str().to_string(), s.label().to_string()))
            .collect(),
        pager,
    })
}

async fn items_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(p): Query<ItemsParams>,
) -> PageResult {
    Ok(web::render(&items_page_for(&state, &ctx, p, None).await?))
}

#[derive(Deserialize)]
struct ItemStatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    back: String,
}

async fn update_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(item): PathId,
    Form(form): Form<ItemStatusForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let r = content::update_item(
        &ctx,
        &mut tx,
        &state.notifier,
        item,
        ActionItemUpdate {
            status: Some(form.status.clone()),
            ..ActionItemUpdate::default()
        },
    )
    .await;
    match r {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            let back = if form.back == "all" { "scope=all&" } else { "" };
            Ok(Redirect::to(&format!("/minutes/action-items?{back}done=item-updated"))
                .into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let status = e.status();
            let p = ItemsParams {
                scope: Some(form.back),
                ..ItemsParams::default()
            };
            let page = items_page_for(&state, &ctx, p, Some(web::refusal(&e))).await?;
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Attendance

#[derive(Deserialize, Default)]
struct AttendanceParams {
    as_of: Option<String>,
}

struct AttendanceRow {
    id: Uuid,
    name: String,
    tier: String,
    figures: String,
    percent: u8,
    required: String,
    below: bool,
}

#[derive(Template)]
#[template(path = "minutes/attendance.html")]
struct AttendancePage {
    chrome: Chrome,
    all: bool,
    as_of: String,
    window: String,
    rows: Vec<AttendanceRow>,
    below: usize,
    error: Option<String>,
}

fn attendance_row(a: MemberAttendance) -> AttendanceRow {
    AttendanceRow {
        id: a.member.id,
        name: a.member.name,
        tier: a.tier.unwrap_or_default(),
        figures: format!(
            "{} of {} meetings{}",
            a.present,
            a.counted,
            if a.excused > 0 {
                format!(", {} excused", a.excused)
            } else {
                String::new()
            }
        ),
        percent: a.percent,
        required: a
            .required_percent
            .map(|r| format!("{r} % to vote"))
            .unwrap_or_default(),
        below: a.below_minimum,
    }
}

async fn attendance_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(p): Query<AttendanceParams>,
) -> PageResult {
    let mut errors = Vec::new();
    let as_of = web::parse_optional_date("as_of", p.as_of.as_deref().unwrap_or(""), &mut errors);
    let error = errors.first().map(|e| web::field_sentence("The date", &e.message));
    let all = ctx.has(MINUTES_MANAGE) || ctx.has(crate::auth::permissions::MEMBERS_MANAGE);
    let mut conn = state.db.acquire().await?;
    let list = if all {
        attendance::department(&ctx, &mut conn, as_of).await?
    } else {
        vec![attendance::of_member(&ctx, &mut conn, ctx.user_id, as_of).await?]
    };
    let day = as_of.unwrap_or_else(|| crate::time::today(&ctx.timezone));
    let window = list
        .first()
        .map(|a| format!("{} to {}", ctx.locale.day(a.from), ctx.locale.day(a.to)))
        .unwrap_or_default();
    let rows: Vec<AttendanceRow> = list.into_iter().map(attendance_row).collect();
    Ok(web::render(&AttendancePage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        all,
        as_of: day.to_string(),
        window,
        below: rows.iter().filter(|r| r.below).count(),
        rows,
        error,
    }))
}

/// The dashboard's minutes panel: minutes waiting for the officer's approval, and the member's
/// own open action items due within a week or overdue.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut crate::db::Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    if !ctx.has(service::MINUTES_VIEW) {
        return Ok(Vec::new());
    }
    let mut items: Vec<PanelItem> = service::waiting_for_approval(ctx, conn)
        .await?
        .into_iter()
        .map(|(id, title)| PanelItem {
            text: format!("Approve or send back: {title}"),
            link: format!("/minutes/{id}"),
        })
        .collect();
    let soon = crate::time::today(&ctx.timezone) + chrono::Days::new(7);
    let mine = content::items(
        ctx,
        conn,
        ItemQuery {
            per_page: Some(10),
            ..ItemQuery::default()
        },
    )
    .await?;
    items.extend(
        mine.items
            .into_iter()
            .filter(|a| a.due_date.is_some_and(|d| d <= soon))
            .take(5)
            .map(|a| PanelItem {
                text: format!(
                    "{} {}: {}",
                    if a.overdue { "Overdue since" } else { "Due" },
                    a.due_date.map(|d| ctx.locale.day(d)).unwrap_or_default(),
                    a.description
                ),
                link: "/minutes/action-items".into(),
            }),
    );
    if items.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Panel {
        title: "Minutes".into(),
        items,
    }])
}
