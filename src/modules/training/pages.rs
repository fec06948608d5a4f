//! Training pages: a member's own standing, records and submissions (`/training`), submitting
//! outside training; for officers (`training.manage`) recording a crew's training, the records
//! with voiding (asking first), the department matrix, a member's standing, the review queue
//! and the printable ISO report. Plain forms, post-redirect-get; the rules live in `service`,
//! `submissions` and `iso`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::compliance::show as hours;
use super::compliance::{Colour, MemberCompliance, Outcome};
use super::rules::{RecordInput, TRAINING_TYPES};
use super::service::{self, Category, Course, RecordQuery, TrainingRecord};
use super::submissions::{self, Review, Submission, SubmissionInput};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::error::{AppError, FieldError};
use crate::http::parse_id;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{
    self, Chrome, DoneQuery, PageResult, Pager, Viewer, beside, finish_form, parse_date,
    parse_hours, parse_optional_id,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training", get(me))
        .route("/training/me", get(me))
        .route("/training/submit", get(submit_form).post(submit))
        .route("/training/record", get(record_form).post(record))
        .route("/training/records", get(records))
        .route("/training/records/{id}/void", get(void_confirm).post(void))
        .route("/training/matrix", get(matrix))
        .route("/training/members/{id}", get(member))
        .route("/training/submissions", get(queue).post(review))
        .route("/training/reports/iso", get(iso))
        .route("/training/setup", get(setup))
        .route("/training/courses/new", get(course_new).post(course_create))
        .route(
            "/training/courses/{id}",
            get(course_edit).post(course_update),
        )
        .route(
            "/training/requirements/new",
            get(requirement_new).post(requirement_create),
        )
        .route(
            "/training/requirements/{id}",
            get(requirement_edit).post(requirement_update),
        )
}

/// The header entry the training pages belong to.
pub const SECTION: &str = "/training";

pub fn chrome(ctx: &Ctx) -> Chrome {
    Chrome::for_viewer(ctx, SECTION)
}

pub fn label(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// A member's standing, shown on their own page and to officers

pub struct RequirementView {
    pub name: String,
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    pub explanation: String,
    pub percent: String,
}

pub struct StandingView {
    pub colour: &'static str,
    pub colour_label: &'static str,
    pub reason: String,
    pub as_of: String,
    pub requirements: Vec<RequirementView>,
}

fn colour(c: Colour) -> (&'static str, &'static str) {
    match c {
        Colour::Green => ("green", "Green: up to date"),
        Colour::Yellow => ("yellow", "Yellow: due soon"),
        Colour::Red => ("red", "Red: behind"),
    }
}

pub fn standing_view(c: &MemberCompliance) -> StandingView {
    let (colour, colour_label) = colour(c.status);
    StandingView {
        colour,
        colour_label,
        reason: c.reason.clone(),
        as_of: c.as_of.to_string(),
        requirements: c
            .requirements
            .iter()
            .map(|r| {
                let (outcome, outcome_label) = match r.outcome {
                    Outcome::Met => ("completed", "Met"),
                    Outcome::Waived => ("completed", "Waived"),
                    Outcome::Expiring => ("in_progress", "Expiring soon"),
                    Outcome::InProgress => ("in_progress", "In progress"),
                    Outcome::NotStarted => ("not_started", "Not started"),
                    Outcome::Expired => ("expired", "Expired"),
                };
                RequirementView {
                    name: r.name.clone(),
                    outcome,
                    outcome_label,
                    explanation: r.explanation.clone(),
                    percent: format!("{}%", r.percent),
                }
            })
            .collect(),
    }
}

pub struct RecordRow {
    pub id: Uuid,
    pub member: String,
    pub member_id: Uuid,
    pub course: String,
    pub date: String,
    pub hours: String,
    pub expires: String,
    pub cancelled: bool,
    pub cancel_reason: String,
    pub kind: String,
}

fn record_row(r: TrainingRecord) -> RecordRow {
    RecordRow {
        id: r.id,
        member: r.member_name,
        member_id: r.user_id,
        course: r.course_name,
        date: r.completion_date.to_string(),
        hours: hours(r.hours_completed),
        expires: r.expiration_date.map(|d| d.to_string()).unwrap_or_default(),
        cancelled: r.status == "cancelled",
        cancel_reason: r.cancel_reason.unwrap_or_default(),
        kind: label(&r.training_type),
    }
}

pub struct SubmissionRow {
    pub id: Uuid,
    pub member: String,
    pub course: String,
    pub date: String,
    pub hours: String,
    pub kind: String,
    pub status: String,
    pub notes: String,
    pub description: String,
}

fn submission_row(s: Submission) -> SubmissionRow {
    SubmissionRow {
        id: s.id,
        member: s.member_name,
        course: s.course_name,
        date: s.completion_date.to_string(),
        hours: hours(s.hours_completed),
        kind: label(&s.training_type),
        status: label(&s.status),
        notes: s.reviewer_notes.unwrap_or_default(),
        description: s.description.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "training/me.html")]
struct MePage {
    chrome: Chrome,
    member_id: Uuid,
    heading: String,
    own: bool,
    officer: bool,
    pending: u64,
    notice: Option<&'static str>,
    standing: StandingView,
    records: Vec<RecordRow>,
    pager: Pager,
    submissions: Vec<SubmissionRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MeQuery {
    page: Option<String>,
    done: Option<String>,
}

async fn standing_page(
    state: &AppState,
    ctx: &Ctx,
    member: Uuid,
    page: u32,
    own: bool,
) -> Result<MePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let report = service::member_compliance(ctx, &mut conn, member, None).await?;
    let per_page = 25;
    let list = service::list_records(
        ctx,
        &mut conn,
        RecordQuery {
            user_id: Some(member),
            page: Some(page),
            per_page: Some(per_page),
            ..RecordQuery::default()
        },
    )
    .await?;
    let base = if own {
        "/training".to_string()
    } else {
        format!("/training/members/{member}")
    };
    let pager = Pager::new(page, list.total, per_page, |p| {
        web::link(&base, &[("page", &p.to_string())])
    });
    let submissions = if own {
        submissions::list(
            ctx,
            &mut conn,
            submissions::ListQuery {
                mine: true,
                per_page: Some(10),
                ..submissions::ListQuery::default()
            },
        )
        .await?
        .items
        .into_iter()
        .map(submission_row)
        .collect()
    } else {
        Vec::new()
    };
    let officer = ctx.has(TRAINING_MANAGE);
    let pending = if officer {
        submissions::pending_count(ctx, &mut conn).await?
    } else {
        0
    };
    Ok(MePage {
        chrome: chrome(ctx),
        member_id: member,
        heading: if own {
            "Your training".into()
        } else {
            format!("Training: {}", report.member_name)
        },
        own,
        officer,
        pending,
        notice: None,
        standing: standing_view(&report.compliance),
        records: list.items.into_iter().map(record_row).collect(),
        pager,
        submissions,
    })
}

async fn me(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<MeQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    let mut p = standing_page(&state, &ctx, ctx.user_id, page, true).await?;
    p.notice = match q.done.as_deref() {
        Some("submitted") => {
            Some("Your training was submitted. A training officer will review it.")
        }
        Some("approved") => Some("Your training was recorded."),
        _ => None,
    };
    Ok(web::render(&p))
}

async fn member(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<MeQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    Ok(web::render(
        &standing_page(&state, &ctx, id, page, id == ctx.user_id).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Submitting outside training

#[derive(Debug, Default, Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    course_name: String,
    #[serde(default)]
    training_type: String,
    #[serde(default)]
    completion_date: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "training/submit.html")]
struct SubmitPage {
    chrome: Chrome,
    form: SubmitForm,
    types: Vec<(&'static str, String)>,
    today: String,
    errors: std::collections::HashMap<String, String>,
}

fn types() -> Vec<(&'static str, String)> {
    TRAINING_TYPES.iter().map(|t| (*t, label(t))).collect()
}

const SUBMIT_LABELS: &[(&str, &str)] = &[
    ("course_name", "What you took"),
    ("training_type", "Kind of training"),
    ("completion_date", "Completed on"),
    ("hours", "Hours"),
    ("description", "Details"),
];

async fn submit_form(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let today = service::today_for(&ctx);
    Ok(web::render(&SubmitPage {
        chrome: chrome(&ctx),
        form: SubmitForm {
            training_type: "continuing_education".into(),
            completion_date: today.to_string(),
            ..SubmitForm::default()
        },
        types: types(),
        today: today.to_string(),
        errors: Default::default(),
    }))
}

async fn submit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<SubmitForm>,
) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let mut errors = Vec::new();
    let date = parse_date("completion_date", &form.completion_date, &mut errors);
    let h = parse_hours("hours", &form.hours, &mut errors);
    if form.hours.trim().is_empty() {
        errors.push(FieldError::new("hours", "is required"));
    }
    if let (Some(date), Some(h)) = (date, h) {
        let input = SubmissionInput {
            course_id: None,
            course_name: form.course_name.clone(),
            category_id: None,
            training_type: form.training_type.clone(),
            completion_date: date,
            hours: h,
            certification_number: None,
            issuing_agency: None,
            expiration_date: None,
            description: Some(form.description.clone()),
        };
        let mut tx = state.db.begin().await?;
        let saved = submissions::submit(&state, &ctx, &mut tx, input).await;
        let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
        if let Some(s) = saved {
            let done = if s.status == "approved" {
                "approved"
            } else {
                "submitted"
            };
            return Ok(Redirect::to(&format!("/training?done={done}")).into_response());
        }
    }
    let today = service::today_for(&ctx);
    let page = SubmitPage {
        chrome: chrome(&ctx),
        errors: beside(&errors, SUBMIT_LABELS),
        form,
        types: types(),
        today: today.to_string(),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Recording a crew's training

pub struct MemberChoice {
    pub id: Uuid,
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "training/record.html")]
struct RecordPage {
    chrome: Chrome,
    members: Vec<MemberChoice>,
    courses: Vec<(Uuid, String, bool)>,
    categories: Vec<(Uuid, String, bool)>,
    types: Vec<(&'static str, String)>,
    form: RecordForm,
    today: String,
    errors: std::collections::HashMap<String, String>,
}

#[derive(Debug, Default)]
struct RecordForm {
    user_ids: Vec<String>,
    course_id: String,
    course_name: String,
    category_id: String,
    training_type: String,
    completion_date: String,
    hours: String,
    instructor: String,
    notes: String,
}

impl RecordForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = RecordForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "user_ids" => f.user_ids.push(v),
                "course_id" => f.course_id = v,
                "course_name" => f.course_name = v,
                "category_id" => f.category_id = v,
                "training_type" => f.training_type = v,
                "completion_date" => f.completion_date = v,
                "hours" => f.hours = v,
                "instructor" => f.instructor = v,
                "notes" => f.notes = v,
                _ => {}
            }
        }
        f
    }
}

const RECORD_LABELS: &[(&str, &str)] = &[
    ("user_ids", "Members"),
    ("course_id", "Course"),
    ("course_name", "Training"),
    ("category_id", "Category"),
    ("training_type", "Kind of training"),
    ("completion_date", "Date"),
    ("hours", "Hours"),
    ("instructor", "Instructor"),
    ("notes", "Notes"),
    ("expiration_date", "Expires"),
];

async fn record_page(
    state: &AppState,
    ctx: &Ctx,
    form: RecordForm,
    errors: &[FieldError],
) -> Result<RecordPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let today = service::today_for(ctx);
    let members: Vec<(Uuid, String, String)> =
        service::member_choices(&mut conn, ctx.org_id).await?;
    let courses: Vec<Course> = service::courses(ctx, &mut conn).await?;
    let categories: Vec<Category> = service::categories(ctx, &mut conn).await?;
    Ok(RecordPage {
        chrome: chrome(ctx),
        members: members
            .into_iter()
            .map(|(id, first, last)| MemberChoice {
                checked: form.user_ids.iter().any(|u| u.trim() == id.to_string()),
                id,
                name: format!("{last}, {first}"),
            })
            .collect(),
        courses: courses
            .into_iter()
            .filter(|c| c.active)
            .map(|c| (c.id, c.name, form.course_id == c.id.to_string()))
            .collect(),
        categories: categories
            .into_iter()
            .filter(|c| c.active)
            .map(|c| (c.id, c.name, form.category_id == c.id.to_string()))
            .collect(),
        types: types(),
        today: today.to_string(),
        errors: beside(errors, RECORD_LABELS),
        form,
    })
}

async fn record_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let today = service::today_for(&ctx);
    let form = RecordForm {
        completion_date: today.to_string(),
        ..RecordForm::default()
    };
    Ok(web::render(&record_page(&state, &ctx, form, &[]).await?))
}

async fn record(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = RecordForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let mut user_ids = Vec::new();
    for u in &form.user_ids {
        match Uuid::try_parse(u.trim()) {
            Ok(id) => user_ids.push(id),
            Err(_) => errors.push(FieldError::new("user_ids", "is not one of the choices")),
        }
    }
    let date = parse_date("completion_date", &form.completion_date, &mut errors);
    let h = parse_hours("hours", &form.hours, &mut errors);
    let course_id = parse_optional_id("course_id", &form.course_id, &mut errors);
    let category_id = parse_optional_id("category_id", &form.category_id, &mut errors);
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    if let Some(date) = date {
        let input = RecordInput {
            user_ids,
            course_id,
            course_name: opt(&form.course_name),
            category_id,
            training_type: opt(&form.training_type),
            completion_date: date,
            hours: h,
            expiration_date: None,
            certification_number: None,
            issuing_agency: None,
            instructor: opt(&form.instructor),
            location_id: None,
            notes: opt(&form.notes),
            rank_at_completion: None,
            station_at_completion: None,
        };
        let mut tx = state.db.begin().await?;
        let saved = service::create_records(&ctx, &mut tx, input).await;
        let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
        if let Some(made) = saved {
            return Ok(Redirect::to(&format!(
                "/training/records?done=recorded&count={}",
                made.len()
            ))
            .into_response());
        }
    }
    let page = record_page(&state, &ctx, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Records, voiding

#[derive(Template)]
#[template(path = "training/records.html")]
struct RecordsPage {
    chrome: Chrome,
    notice: Option<String>,
    q: String,
    from: String,
    to: String,
    records: Vec<RecordRow>,
    total: u64,
    pager: Pager,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RecordsQuery {
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
    done: Option<String>,
    count: Option<String>,
}

async fn records(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    let date = |s: &Option<String>| {
        s.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
    };
    let (from, to) = (date(&q.from), date(&q.to));
    let mut error = None;
    if matches!(from, Some(Err(_))) || matches!(to, Some(Err(_))) {
        error = Some("The dates must be written as YYYY-MM-DD.".to_string());
    }
    let per_page = 25;
    let mut conn = state.db.acquire().await?;
    let listed = service::list_records(
        &ctx,
        &mut conn,
        RecordQuery {
            q: q.q.clone().filter(|s| !s.trim().is_empty()),
            from: from.and_then(Result::ok),
            to: to.and_then(Result::ok),
            page: Some(page),
            per_page: Some(per_page),
            ..RecordQuery::default()
        },
    )
    .await;
    let list = match listed {
        Ok(l) => l,
        Err(AppError::Validation(e)) => {
            error = Some(web::refusal(&AppError::Validation(e)));
            crate::http::Page {
                items: Vec::new(),
                page: 1,
                per_page,
                total: 0,
            }
        }
        Err(other) => return Err(other.into()),
    };
    let (qs, fs, ts) = (
        q.q.clone().unwrap_or_default(),
        q.from.clone().unwrap_or_default(),
        q.to.clone().unwrap_or_default(),
    );
    let pager = Pager::new(page, list.total, per_page, |p| {
        web::link(
            "/training/records",
            &[
                ("q", &qs),
                ("from", &fs),
                ("to", &ts),
                ("page", &p.to_string()),
            ],
        )
    });
    let notice = match q.done.as_deref() {
        Some("recorded") => {
            let n: u32 = q.count.as_deref().and_then(|c| c.parse().ok()).unwrap_or(1);
            Some(if n == 1 {
                "The training was recorded.".to_string()
            } else {
                format!("The training was recorded for {n} members.")
            })
        }
        Some("voided") => {
            Some("The record was voided. It stays listed, and counts for nothing.".into())
        }
        _ => None,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = RecordsPage {
        chrome: chrome(&ctx),
        notice,
        q: qs,
        from: fs,
        to: ts,
        total: list.total,
        records: list.items.into_iter().map(record_row).collect(),
        pager,
        error,
    };
    Ok((status, web::render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "training/void.html")]
struct VoidPage {
    chrome: Chrome,
    record: RecordRow,
    reason: String,
    reason_error: Option<String>,
}

async fn void_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let r = service::get_record(&ctx, &mut conn, id).await?;
    if r.status == "cancelled" {
        return Ok(Redirect::to("/training/records").into_response());
    }
    Ok(web::render(&VoidPage {
        chrome: chrome(&ctx),
        record: record_row(r),
        reason: String::new(),
        reason_error: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct VoidForm {
    #[serde(default)]
    reason: String,
}

async fn void(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<VoidForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut tx = state.db.begin().await?;
    match service::void_record(
        &ctx,
        &mut tx,
        id,
        service::VoidRecord {
            reason: form.reason.clone(),
        },
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/training/records?done=voided").into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let r = service::get_record(&ctx, &mut conn, id).await?;
            let page = VoidPage {
                chrome: chrome(&ctx),
                record: record_row(r),
                reason: form.reason,
                reason_error: beside(&errors, &[("reason", "Reason")]).remove("reason"),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        // Voided already (a second click): the list shows it.
        Err(AppError::Conflict(_)) => Ok(Redirect::to("/training/records").into_response()),
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The matrix

pub struct MatrixRowView {
    pub member_id: Uuid,
    pub name: String,
    pub colour: &'static str,
    pub colour_label: &'static str,
    pub reason: String,
    pub cells: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "training/matrix.html")]
struct MatrixPage {
    chrome: Chrome,
    as_of: String,
    q: String,
    status: String,
    columns: Vec<String>,
    rows: Vec<MatrixRowView>,
    green: usize,
    yellow: usize,
    red: usize,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MatrixQuery {
    as_of: Option<String>,
    q: Option<String>,
    status: Option<String>,
}

fn cell_label(cell: &str) -> &'static str {
    match cell {
        "completed" => "Met",
        "waived" => "Waived",
        "in_progress" => "In progress",
        "not_started" => "Not started",
        "expired" => "Expired",
        "exempt" => "Exempt",
        _ => "Does not apply",
    }
}

async fn matrix(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<MatrixQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut error = None;
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                error = Some("The date must be written as YYYY-MM-DD.".to_string());
                None
            }
        },
    };
    let status = q.status.clone().unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let m = service::matrix(
        &ctx,
        &mut conn,
        service::MatrixQuery {
            as_of,
            status: (!status.is_empty()).then(|| status.clone()),
            q: q.q.clone().filter(|s| !s.trim().is_empty()),
            requirement_id: None,
        },
    )
    .await;
    let m = match m {
        Ok(m) => m,
        Err(AppError::Validation(e)) => {
            error = Some(web::refusal(&AppError::Validation(e)));
            service::matrix(
                &ctx,
                &mut conn,
                service::MatrixQuery {
                    as_of: None,
                    status: None,
                    q: None,
                    requirement_id: None,
                },
            )
            .await?
        }
        Err(other) => return Err(other.into()),
    };
    let page = MatrixPage {
        chrome: chrome(&ctx),
        as_of: m.as_of.to_string(),
        q: q.q.unwrap_or_default(),
        status,
        columns: m.requirements.iter().map(|c| c.name.clone()).collect(),
        rows: m
            .members
            .into_iter()
            .map(|r| {
                let (colour, colour_label) = colour(r.status);
                MatrixRowView {
                    member_id: r.member_id,
                    name: r.member_name,
                    colour,
                    colour_label,
                    reason: r.reason,
                    cells: r
                        .cells
                        .into_iter()
                        .map(|c| {
                            (
                                c.cell.clone(),
                                cell_label(&c.cell).to_string(),
                                c.explanation.unwrap_or_default(),
                            )
                        })
                        .collect(),
                }
            })
            .collect(),
        green: m.green,
        yellow: m.yellow,
        red: m.red,
        error,
    };
    Ok(web::render(&page))
}

// ---------------------------------------------------------------------------------------------
// Reviewing submissions

#[derive(Template)]
#[template(path = "training/submissions.html")]
struct QueuePage {
    chrome: Chrome,
    notice: Option<&'static str>,
    pending: Vec<SubmissionRow>,
    decided: Vec<SubmissionRow>,
    /// The submission whose form was refused, and why.
    refused: Option<Uuid>,
    notes: String,
    hours: String,
    notes_error: Option<String>,
    hours_error: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    done: Option<String>,
}

async fn queue_page(state: &AppState, ctx: &Ctx) -> Result<QueuePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let pending = submissions::list(
        ctx,
        &mut conn,
        submissions::ListQuery {
            status: Some("pending_review".into()),
            per_page: Some(200),
            ..submissions::ListQuery::default()
        },
    )
    .await?;
    let mut decided = submissions::list(
        ctx,
        &mut conn,
        submissions::ListQuery {
            per_page: Some(20),
            ..submissions::ListQuery::default()
        },
    )
    .await?
    .items;
    decided.retain(|s| s.status != "pending_review");
    Ok(QueuePage {
        chrome: chrome(ctx),
        notice: None,
        pending: pending.items.into_iter().map(submission_row).collect(),
        decided: decided.into_iter().map(submission_row).collect(),
        refused: None,
        notes: String::new(),
        hours: String::new(),
        notes_error: None,
        hours_error: None,
        error: None,
    })
}

async fn queue(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut page = queue_page(&state, &ctx).await?;
    page.notice = match q.done.as_deref() {
        Some("approve") => Some("Approved: the training is in the member's record."),
        Some("reject") => Some("Rejected. The member was told why."),
        Some("request_changes") => Some("Sent back to the member with your note."),
        _ => None,
    };
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    hours: String,
}

async fn review(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let id = parse_id(form.id.trim())?;
    let mut errors = Vec::new();
    let h = parse_hours("hours", &form.hours, &mut errors);
    let input = Review {
        decision: form.decision.clone(),
        notes: Some(form.notes.clone()),
        hours: h,
    };
    let mut tx = state.db.begin().await?;
    let result = if errors.is_empty() {
        submissions::review(&state, &ctx, &mut tx, id, input).await
    } else {
        Err(AppError::Validation(errors))
    };
    match result {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(
                Redirect::to(&format!("/training/submissions?done={}", form.decision))
                    .into_response(),
            )
        }
        Err(err @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            tx.rollback().await?;
            let status = err.status();
            let mut page = queue_page(&state, &ctx).await?;
            page.refused = Some(id);
            page.notes = form.notes;
            page.hours = form.hours;
            match err {
                AppError::Validation(errors) => {
                    let mut by = beside(&errors, &[("notes", "Note"), ("hours", "Hours")]);
                    page.notes_error = by.remove("notes");
                    page.hours_error = by.remove("hours");
                    if !by.is_empty() {
                        page.error = Some(by.into_values().collect::<Vec<_>>().join(" "));
                    }
                }
                other => page.error = Some(web::refusal(&other)),
            }
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The ISO report, printable

#[derive(Template)]
#[template(path = "training/iso.html")]
struct IsoPage {
    chrome: Chrome,
    from: String,
    to: String,
    report: Option<super::iso::IsoReport>,
    from_error: Option<String>,
    to_error: Option<String>,
    csv_link: String,
    pdf_link: String,
    print_js: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct IsoQuery {
    from: Option<String>,
    to: Option<String>,
}

impl IsoPage {
    fn cell(d: &Decimal) -> String {
        hours(*d)
    }
}

async fn iso(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<IsoQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let today = service::today_for(&ctx);
    let year = today.year();
    let from = q.from.unwrap_or_else(|| format!("{year}-01-01"));
    let to = q.to.unwrap_or_else(|| format!("{year}-12-31"));
    let mut errors = Vec::new();
    let f = parse_date("from", &from, &mut errors);
    let t = parse_date("to", &to, &mut errors);
    let report = match (f, t) {
        (Some(f), Some(t)) => match super::iso::report(&ctx, &mut conn, Some(f), Some(t)).await {
            Ok(r) => Some(r),
            Err(AppError::Validation(e)) => {
                errors.extend(e);
                None
            }
            Err(other) => return Err(other.into()),
        },
        _ => None,
    };
    let mut by = beside(&errors, &[("from", "From"), ("to", "To")]);
    let link = |format: &str| {
        web::link(
            "/api/v1/training/reports/iso",
            &[("from", &from), ("to", &to), ("format", format)],
        )
    };
    let page = IsoPage {
        chrome: chrome(&ctx),
        csv_link: link("csv"),
        pdf_link: link("pdf"),
        from_error: by.remove("from"),
        to_error: by.remove("to"),
        from,
        to,
        print_js: web::asset_url("print.js"),
        report,
    };
    let status = if page.report.is_none() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The dashboard's training panels

/// The member's "training due" panel; for officers also submissions waiting and members in red.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut crate::db::Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    let mut panels = Vec::new();
    if !ctx.has(TRAINING_VIEW) {
        return Ok(panels);
    }
    let mine = service::member_compliance(ctx, conn, ctx.user_id, None).await?;
    let c = &mine.compliance;
    let mut items: Vec<PanelItem> = c
        .requirements
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Met | Outcome::Waived))
        .map(|r| PanelItem {
            text: format!("{}: {}", r.name, r.explanation),
            link: "/training".into(),
        })
        .collect();
    if items.is_empty() {
        items.push(PanelItem {
            text: c.reason.clone(),
            link: "/training".into(),
        });
    }
    panels.push(Panel {
        title: format!("Training due ({})", colour(c.status).1),
        items,
    });
    if ctx.has(TRAINING_MANAGE) {
        let pending = submissions::pending_count(ctx, conn).await?;
        let m = service::matrix(
            ctx,
            conn,
            service::MatrixQuery {
                as_of: None,
                status: Some("red".into()),
                q: None,
                requirement_id: None,
            },
        )
        .await?;
        let mut items = vec![PanelItem {
            text: match pending {
                0 => "No submitted training waiting for review".to_string(),
                1 => "1 submitted training waiting for review".to_string(),
                n => format!("{n} submitted trainings waiting for review"),
            },
            link: "/training/submissions".into(),
        }];
        items.push(PanelItem {
            text: match m.red {
                0 => "No member is in red".to_string(),
                1 => "1 member in red".to_string(),
                n => format!("{n} members in red"),
            },
            link: "/training/matrix?status=red".into(),
        });
        items.extend(m.members.iter().take(10).map(|r| PanelItem {
            text: format!("{}: {}", r.member_name, r.reason),
            link: format!("/training/members/{}", r.member_id),
        }));
        panels.push(Panel {
            title: "Training officer".into(),
            items,
        });
    }
    Ok(panels)
}

// ---------------------------------------------------------------------------------------------
// Courses and requirements (officers)

pub struct CourseRow {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub category: String,
    pub kind: String,
    pub hours: String,
    pub validity: String,
    pub active: bool,
}

pub struct RequirementRow {
    pub id: Uuid,
    pub name: String,
    pub what: String,
    pub period: String,
    pub who: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "training/setup.html")]
struct SetupPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    courses: Vec<CourseRow>,
    requirements: Vec<RequirementRow>,
}

fn period_words(period: &str, rolling: Option<u16>) -> String {
    match (period, rolling) {
        ("rolling", Some(n)) => format!("Rolling {n} months"),
        ("one_time", _) => "Once".into(),
        (p, _) => label(p),
    }
}

async fn setup(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let categories = service::categories(&ctx, &mut conn).await?;
    let cat = |id: Option<Uuid>| {
        id.and_then(|id| categories.iter().find(|c| c.id == id))
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    let courses = service::courses(&ctx, &mut conn).await?;
    let requirements = service::requirements(&ctx, &mut conn).await?;
    let page = SetupPage {
        chrome: chrome(&ctx),
        notice: match q.done.as_deref() {
            Some("course") => Some("The course was saved."),
            Some("requirement") => Some("The requirement was saved. The matrix uses it now."),
            _ => None,
        },
        requirements: requirements
            .into_iter()
            .map(|r| RequirementRow {
                what: match r.requirement_type.as_str() {
                    "hours" => format!(
                        "{} hours{}",
                        r.required_hours.map(hours).unwrap_or_default(),
                        match cat(r.category_id) {
                            c if c.is_empty() => String::new(),
                            c => format!(" of {}", c.to_lowercase()),
                        }
                    ),
                    "shifts" | "calls" => {
                        format!("{} {}", r.required_count.unwrap_or(0), r.requirement_type)
                    }
                    "courses" => format!("{} courses", r.course_ids.len()),
                    _ => "A valid certification".into(),
                },
                period: period_words(&r.period, r.rolling_months),
                who: match r.applies_to.as_str() {
                    "roles" => format!("{} roles", r.role_ids.len()),
                    "tiers" => format!("{} tiers", r.tier_ids.len()),
                    _ => "Everyone".into(),
                },
                id: r.id,
                name: r.name,
                active: r.active,
            })
            .collect(),
        courses: courses
            .into_iter()
            .map(|c| CourseRow {
                category: cat(c.category_id),
                id: c.id,
                name: c.name,
                code: c.code.unwrap_or_default(),
                kind: label(&c.training_type),
                hours: hours(c.duration_hours),
                validity: c
                    .expiration_months
                    .map(|m| format!("{m} months"))
                    .unwrap_or_else(|| "Does not expire".into()),
                active: c.active,
            })
            .collect(),
    };
    Ok(web::render(&page))
}

#[derive(Template)]
#[template(path = "training/course_form.html")]
struct CourseFormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    form: CourseForm,
    categories: Vec<(Uuid, String)>,
    types: Vec<(&'static str, String)>,
    errors: std::collections::HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CourseForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    training_type: String,
    #[serde(default)]
    duration_hours: String,
    #[serde(default)]
    expiration_months: String,
    #[serde(default)]
    issuing_agency: String,
    #[serde(default)]
    active: Option<String>,
}

const COURSE_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("code", "Code"),
    ("category_id", "Category"),
    ("training_type", "Kind of training"),
    ("duration_hours", "Hours"),
    ("expiration_months", "Valid for"),
    ("issuing_agency", "Issuing agency"),
];

async fn course_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: CourseForm,
    errors: &[FieldError],
) -> Result<CourseFormPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let categories = service::categories(ctx, &mut conn).await?;
    Ok(CourseFormPage {
        chrome: chrome(ctx),
        id,
        form,
        categories: categories.into_iter().map(|c| (c.id, c.name)).collect(),
        types: types(),
        errors: beside(errors, COURSE_LABELS),
    })
}

async fn course_new(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = CourseForm {
        training_type: "certification".into(),
        active: Some("1".into()),
        ..CourseForm::default()
    };
    Ok(web::render(
        &course_page(&state, &ctx, None, form, &[]).await?,
    ))
}

async fn course_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let c = service::courses(&ctx, &mut conn)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)?;
    let form = CourseForm {
        name: c.name,
        code: c.code.unwrap_or_default(),
        category_id: c.category_id.map(|c| c.to_string()).unwrap_or_default(),
        training_type: c.training_type,
        duration_hours: hours(c.duration_hours),
        expiration_months: c
            .expiration_months
            .map(|m| m.to_string())
            .unwrap_or_default(),
        issuing_agency: c.issuing_agency.unwrap_or_default(),
        active: c.active.then(|| "1".into()),
    };
    Ok(web::render(
        &course_page(&state, &ctx, Some(id), form, &[]).await?,
    ))
}

async fn course_save(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: CourseForm,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let duration = parse_hours("duration_hours", &form.duration_hours, &mut errors);
    if form.duration_hours.trim().is_empty() {
        errors.push(FieldError::new("duration_hours", "is required"));
    }
    let months = match form.expiration_months.trim() {
        "" => None,
        m => match m.parse::<u32>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.push(FieldError::new(
                    "expiration_months",
                    "must be a whole number of months",
                ));
                None
            }
        },
    };
    let category_id = parse_optional_id("category_id", &form.category_id, &mut errors);
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let input = super::rules::CourseInput {
        name: form.name.clone(),
        code: opt(&form.code),
        category_id,
        training_type: form.training_type.clone(),
        description: None,
        duration_hours: duration.unwrap_or_default(),
        expiration_months: months,
        issuing_agency: opt(&form.issuing_agency),
        active: form.active.is_some(),
    };
    let mut tx = state.db.begin().await?;
    let saved = match id {
        None => service::create_course(ctx, &mut tx, input).await,
        Some(id) => service::update_course(ctx, &mut tx, id, input).await,
    };
    let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
    if saved.is_some() {
        return Ok(Redirect::to("/training/setup?done=course").into_response());
    }
    let page = course_page(state, ctx, id, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn course_create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<CourseForm>,
) -> PageResult {
    course_save(&state, &ctx, None, form).await
}

async fn course_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CourseForm>,
) -> PageResult {
    course_save(&state, &ctx, Some(id), form).await
}

#[derive(Template)]
#[template(path = "training/requirement_form.html")]
struct RequirementFormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    form: RequirementForm,
    categories: Vec<(Uuid, String)>,
    courses: Vec<(Uuid, String)>,
    roles: Vec<(Uuid, String)>,
    tiers: Vec<(Uuid, String)>,
    errors: std::collections::HashMap<String, String>,
}

#[derive(Debug, Default)]
struct RequirementForm {
    name: String,
    requirement_type: String,
    category_id: String,
    required_hours: String,
    required_count: String,
    course_ids: Vec<String>,
    period: String,
    rolling_months: String,
    applies_to: String,
    role_ids: Vec<String>,
    tier_ids: Vec<String>,
    active: bool,
}

impl RequirementForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = RequirementForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "requirement_type" => f.requirement_type = v,
                "category_id" => f.category_id = v,
                "required_hours" => f.required_hours = v,
                "required_count" => f.required_count = v,
                "course_ids" => f.course_ids.push(v),
                "period" => f.period = v,
                "rolling_months" => f.rolling_months = v,
                "applies_to" => f.applies_to = v,
                "role_ids" => f.role_ids.push(v),
                "tier_ids" => f.tier_ids.push(v),
                "active" => f.active = true,
                _ => {}
            }
        }
        f
    }

    fn has(list: &[String], id: &Uuid) -> bool {
        list.iter().any(|x| x.trim() == id.to_string())
    }
}

const REQUIREMENT_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("requirement_type", "What it asks"),
    ("category_id", "Category"),
    ("required_hours", "Hours"),
    ("required_count", "How many"),
    ("course_ids", "Courses"),
    ("period", "Period"),
    ("rolling_months", "Months"),
    ("applies_to", "Who"),
    ("role_ids", "Roles"),
    ("tier_ids", "Tiers"),
];

async fn requirement_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: RequirementForm,
    errors: &[FieldError],
) -> Result<RequirementFormPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let categories = service::categories(ctx, &mut conn).await?;
    let courses = service::courses(ctx, &mut conn).await?;
    let roles: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM roles WHERE organization_id = ? ORDER BY priority DESC, name",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    let tiers: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM membership_tiers WHERE organization_id = ? ORDER BY sort_order",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(RequirementFormPage {
        chrome: chrome(ctx),
        id,
        form,
        categories: categories.into_iter().map(|c| (c.id, c.name)).collect(),
        courses: courses.into_iter().map(|c| (c.id, c.name)).collect(),
        roles,
        tiers,
        errors: beside(errors, REQUIREMENT_LABELS),
    })
}

async fn requirement_new(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = RequirementForm {
        requirement_type: "hours".into(),
        period: "annual".into(),
        applies_to: "all".into(),
        active: true,
        ..RequirementForm::default()
    };
    Ok(web::render(
        &requirement_page(&state, &ctx, None, form, &[]).await?,
    ))
}

async fn requirement_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let r = service::requirements(&ctx, &mut conn)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)?;
    let ids = |v: &[Uuid]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
    let form = RequirementForm {
        name: r.name,
        requirement_type: r.requirement_type,
        category_id: r.category_id.map(|c| c.to_string()).unwrap_or_default(),
        required_hours: r.required_hours.map(hours).unwrap_or_default(),
        required_count: r.required_count.map(|c| c.to_string()).unwrap_or_default(),
        course_ids: ids(&r.course_ids),
        period: r.period,
        rolling_months: r.rolling_months.map(|m| m.to_string()).unwrap_or_default(),
        applies_to: r.applies_to,
        role_ids: ids(&r.role_ids),
        tier_ids: ids(&r.tier_ids),
        active: r.active,
    };
    Ok(web::render(
        &requirement_page(&state, &ctx, Some(id), form, &[]).await?,
    ))
}

async fn requirement_save(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = RequirementForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let h = parse_hours("required_hours", &form.required_hours, &mut errors);
    let whole = |field: &str, raw: &str, errors: &mut Vec<FieldError>| match raw.trim() {
        "" => None,
        n => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(field, "must be a whole number"));
                None
            }
        },
    };
    let count = whole("required_count", &form.required_count, &mut errors);
    let rolling = whole("rolling_months", &form.rolling_months, &mut errors);
    let mut ids = |field: &str, raw: &[String]| {
        raw.iter()
            .filter_map(|v| parse_optional_id(field, v, &mut errors))
            .collect::<Vec<_>>()
    };
    let course_ids = ids("course_ids", &form.course_ids);
    let role_ids = ids("role_ids", &form.role_ids);
    let tier_ids = ids("tier_ids", &form.tier_ids);
    let category_id = parse_optional_id("category_id", &form.category_id, &mut errors);
    let input = super::rules::RequirementInput {
        name: form.name.clone(),
        description: None,
        requirement_type: form.requirement_type.clone(),
        category_id,
        training_type: None,
        required_hours: h,
        required_count: count,
        course_ids,
        period: form.period.clone(),
        rolling_months: rolling,
        include_current_month: None,
        applies_to: form.applies_to.clone(),
        role_ids,
        tier_ids,
        active: form.active,
    };
    let mut tx = state.db.begin().await?;
    let saved = match id {
        None => service::create_requirement(ctx, &mut tx, input).await,
        Some(id) => service::update_requirement(ctx, &mut tx, id, input).await,
    };
    let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
    if saved.is_some() {
        return Ok(Redirect::to("/training/setup?done=requirement").into_response());
    }
    let page = requirement_page(state, ctx, id, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn requirement_create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    requirement_save(&state, &ctx, None, pairs).await
}

async fn requirement_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    requirement_save(&state, &ctx, Some(id), pairs).await
}
