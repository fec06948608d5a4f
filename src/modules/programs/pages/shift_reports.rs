//! Shift report pages: the list (officers: every report but others' drafts, filtered by status;
//! a trainee: the approved reports about them), writing and editing a report, reading one,
//! reviewing it (another officer) and acknowledging it (the trainee).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::super::shift_reports::{
    self as reports, ListQuery, ReviewInput, ShiftReport, ShiftReportInput,
};
use super::programs::{Errors, Options};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::error::{AppError, FieldError};
use crate::modules::training::compliance::show;
use crate::modules::training::pages::{chrome, label};
use crate::modules::training::service as training;
use crate::state::AppState;
use crate::web::DoneQuery;
use crate::web::PathId;
use crate::web::{self, Chrome, PageResult, Pager, Viewer};
use crate::web::{finish_form, parse_date, parse_optional_id};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/shift-reports", get(list))
        .route("/training/shift-reports/new", get(new_form).post(create))
        .route("/training/shift-reports/{id}", get(detail))
        .route(
            "/training/shift-reports/{id}/edit",
            get(edit_form).post(update),
        )
        .route("/training/shift-reports/{id}/review", post(review))
        .route(
            "/training/shift-reports/{id}/acknowledge",
            post(acknowledge),
        )
}

struct Row {
    id: Uuid,
    date: String,
    trainee: String,
    officer: String,
    program: String,
    hours: String,
    calls: u16,
    status: String,
    status_label: String,
    acknowledged: bool,
}

fn row(r: &ShiftReport, locale: crate::time::Locale) -> Row {
    Row {
        id: r.id,
        date: locale.day(r.shift_date),
        trainee: r.trainee_name.clone(),
        officer: r.officer_name.clone(),
        program: r.program_name.clone().unwrap_or_default(),
        hours: show(r.hours_on_shift),
        calls: r.calls_responded,
        status: r.review_status.to_string(),
        status_label: label(r.review_status.as_str()),
        acknowledged: r.trainee_acknowledged_at.is_some(),
    }
}

#[derive(Template)]
#[template(path = "programs/shift_reports.html")]
struct ListPage {
    chrome: Chrome,
    officer: bool,
    rows: Vec<Row>,
    total: u64,
    status: String,
    statuses: Options,
    pager: Pager,
    notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
struct ListForm {
    status: Option<String>,
    page: Option<u32>,
    done: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListForm>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let officer = ctx.has(TRAINING_MANAGE);
    // Officers land on what waits for review; "all" shows everything.
    let status = match q.status.as_deref() {
        None if officer => "pending_review".to_string(),
        None | Some("all") | Some("") => String::new(),
        Some(s) if reports::ReviewStatus::parse(s).is_some() => s.to_string(),
        Some(_) => String::new(),
    };
    let mut conn = state.db.acquire().await?;
    let page = reports::list(
        &state.cipher,
        &ctx,
        &mut conn,
        ListQuery {
            trainee_id: None,
            status: (!status.is_empty()).then(|| status.clone()),
            page: q.page,
            per_page: Some(25),
        },
    )
    .await?;
    let link_status = if status.is_empty() { "all" } else { &status };
    let pager = Pager::new(page.page, page.total, page.per_page, |p| {
        format!("/training/shift-reports?status={link_status}&page={p}")
    });
    let mut statuses: Options = vec![("all".into(), "All".into())];
    statuses.extend(
        reports::ReviewStatus::WORDS
            .iter()
            .map(|s| (s.to_string(), label(s))),
    );
    Ok(web::render(&ListPage {
        chrome: chrome(&ctx),
        officer,
        rows: page.items.iter().map(|r| row(r, ctx.locale)).collect(),
        total: page.total,
        status: if status.is_empty() {
            "all".into()
        } else {
            status
        },
        statuses,
        pager,
        notice: match q.done.as_deref() {
            Some("draft") => Some("The report was saved as a draft."),
            Some("sent") => Some("The report was sent for review."),
            _ => None,
        },
    }))
}

// ---------------------------------------------------------------------------------------------
// Writing a report

#[derive(Debug, Default, Deserialize)]
struct ReportForm {
    #[serde(default)]
    trainee_id: String,
    #[serde(default)]
    enrollment_id: String,
    #[serde(default)]
    shift_date: String,
    #[serde(default)]
    hours_on_shift: String,
    #[serde(default)]
    calls_responded: String,
    #[serde(default)]
    call_types: String,
    #[serde(default)]
    skills_observed: String,
    #[serde(default)]
    performance_rating: String,
    #[serde(default)]
    narrative: String,
    draft: Option<String>,
}

const LABELS: &[(&str, &str)] = &[
    ("trainee_id", "Trainee"),
    ("enrollment_id", "Program"),
    ("shift_date", "Shift date"),
    ("hours_on_shift", "Hours on shift"),
    ("calls_responded", "Calls"),
    ("call_types", "Kinds of call"),
    ("skills_observed", "Skills observed"),
    ("performance_rating", "Rating"),
    ("narrative", "Narrative"),
];

#[derive(Template)]
#[template(path = "programs/shift_report_form.html")]
struct FormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    form: ReportForm,
    members: Options,
    enrollments: Options,
    ratings: Options,
    skills_hint: String,
    errors: Errors,
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: ReportForm,
    errors: &[FieldError],
) -> Result<FormPage, AppError> {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let people: Vec<(Uuid, String, String)> = training::member_choices(&mut conn, ctx.org_id)
        .await?
        .into_iter()
        .filter(|(id, _, _)| *id != ctx.user_id)
        .collect();
    let (going, skills) = super::super::shift_reports::form_choices(&mut conn, ctx.org_id).await?;
    let mut members: Options = vec![(String::new(), "Choose the trainee".into())];
    members.extend(
        people
            .into_iter()
            .map(|(id, first, last)| (id.to_string(), format!("{last}, {first}"))),
    );
    let mut enrollments: Options =
        vec![(String::new(), "Each active program of the trainee".into())];
    enrollments.extend(
        going.into_iter().map(|(id, first, last, program)| {
            (id.to_string(), format!("{last}, {first}: {program}"))
        }),
    );
    let mut ratings: Options = vec![(String::new(), "No rating".into())];
    ratings.extend(
        [
            "1 – needs a lot of work",
            "2 – below expectations",
            "3 – meets expectations",
            "4 – above expectations",
            "5 – excellent",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| ((i + 1).to_string(), l.to_string())),
    );
    Ok(FormPage {
        chrome: chrome(ctx),
        id,
        form,
        members,
        enrollments,
        ratings,
        skills_hint: if skills.is_empty() {
            "One per line.".into()
        } else {
            format!(
                "One per line. A skill named as in a program credits it: {}.",
                skills.join(", ")
            )
        },
        errors: Errors::new(errors, LABELS),
    })
}

async fn new_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let today = training::today_for(&ctx);
    let form = ReportForm {
        shift_date: today.to_string(),
        calls_responded: "0".into(),
        ..ReportForm::default()
    };
    Ok(web::render(
        &form_page(&state, &ctx, None, form, &[]).await?,
    ))
}

fn lines(raw: &str) -> Vec<String> {
    raw.split(['\n', ','])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn save(state: &AppState, ctx: &Ctx, id: Option<Uuid>, form: ReportForm) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let trainee = match Uuid::try_parse(form.trainee_id.trim()) {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push(FieldError::new("trainee_id", "choose the trainee"));
            None
        }
    };
    let enrollment = parse_optional_id("enrollment_id", &form.enrollment_id, &mut errors);
    let date = parse_date("shift_date", &form.shift_date, &mut errors);
    let hours = match form.hours_on_shift.trim() {
        "" => {
            errors.push(FieldError::new("hours_on_shift", "is required"));
            None
        }
        h => match h.replace(',', ".").parse::<Decimal>() {
            Ok(h) => Some(h),
            Err(_) => {
                errors.push(FieldError::new(
                    "hours_on_shift",
                    "is not a number of hours",
                ));
                None
            }
        },
    };
    let calls = match form.calls_responded.trim() {
        "" => Some(0),
        c => match c.parse::<u16>() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(FieldError::new("calls_responded", "must be a whole number"));
                None
            }
        },
    };
    let rating = match form.performance_rating.trim() {
        "" => None,
        r => match r.parse::<u8>() {
            Ok(r) => Some(r),
            Err(_) => {
                errors.push(FieldError::new(
                    "performance_rating",
                    "is not one of the choices",
                ));
                None
            }
        },
    };
    if let (Some(trainee), Some(date), Some(hours), Some(calls)) = (trainee, date, hours, calls) {
        let input = ShiftReportInput {
            trainee_id: trainee,
            enrollment_id: enrollment,
            shift_date: date,
            hours_on_shift: hours,
            calls_responded: calls,
            call_types: lines(&form.call_types),
            skills_observed: lines(&form.skills_observed),
            performance_rating: rating,
            narrative: (!form.narrative.trim().is_empty()).then(|| form.narrative.clone()),
            draft: form.draft.is_some(),
        };
        let mut tx = state.db.begin().await?;
        let saved = match id {
            Some(id) => {
                reports::update(&state.cipher, &state.notifier, ctx, &mut tx, id, input).await
            }
            None => reports::create(&state.cipher, &state.notifier, ctx, &mut tx, input).await,
        };
        if let Some(r) = finish_form(tx, saved, &mut errors, &state.mailer).await? {
            let done = if r.review_status == reports::ReviewStatus::Draft {
                "draft"
            } else {
                "sent"
            };
            return Ok(
                Redirect::to(&format!("/training/shift-reports/{}?done={done}", r.id))
                    .into_response(),
            );
        }
    }
    let page = form_page(state, ctx, id, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ReportForm>,
) -> PageResult {
    save(&state, &ctx, None, form).await
}

async fn edit_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let r = reports::get_report(&state.cipher, &ctx, &mut conn, id).await?;
    drop(conn);
    if r.officer_id != ctx.user_id || !r.review_status.editable() {
        return Err(AppError::Conflict(
            "only the officer who wrote a draft or a flagged report may change it".into(),
        )
        .into());
    }
    let form = ReportForm {
        trainee_id: r.trainee_id.to_string(),
        enrollment_id: r.enrollment_id.map(|e| e.to_string()).unwrap_or_default(),
        shift_date: r.shift_date.to_string(),
        hours_on_shift: show(r.hours_on_shift),
        calls_responded: r.calls_responded.to_string(),
        call_types: r.call_types.join(", "),
        skills_observed: r.skills_observed.join("\n"),
        performance_rating: r
            .performance_rating
            .map(|p| p.to_string())
            .unwrap_or_default(),
        narrative: r.narrative.unwrap_or_default(),
        draft: None,
    };
    Ok(web::render(
        &form_page(&state, &ctx, Some(id), form, &[]).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReportForm>,
) -> PageResult {
    save(&state, &ctx, Some(id), form).await
}

// ---------------------------------------------------------------------------------------------
// Reading, reviewing, acknowledging

#[derive(Template)]
#[template(path = "programs/shift_report.html")]
struct DetailPage {
    chrome: Chrome,
    r: ShiftReport,
    /// The shift's day, as the department writes dates.
    day: String,
    hours: String,
    status_label: String,
    call_types: String,
    skills: String,
    can_review: bool,
    can_edit: bool,
    can_acknowledge: bool,
    notes: String,
    errors: Errors,
    notice: Option<&'static str>,
    error: Option<String>,
    decisions: Options,
}

fn detail_page(ctx: &Ctx, r: ShiftReport) -> DetailPage {
    let manage = ctx.has(TRAINING_MANAGE);
    DetailPage {
        chrome: chrome(ctx),
        day: ctx.locale.day(r.shift_date),
        hours: show(r.hours_on_shift),
        status_label: label(r.review_status.as_str()),
        call_types: r.call_types.join(", "),
        skills: r.skills_observed.join(", "),
        can_review: manage
            && r.review_status == reports::ReviewStatus::PendingReview
            && r.officer_id != ctx.user_id
            && r.trainee_id != ctx.user_id,
        can_edit: manage && r.officer_id == ctx.user_id && r.review_status.editable(),
        can_acknowledge: r.trainee_id == ctx.user_id
            && r.review_status == reports::ReviewStatus::Approved
            && r.trainee_acknowledged_at.is_none(),
        r,
        notes: String::new(),
        errors: Errors::default(),
        notice: None,
        error: None,
        decisions: vec![
            (
                "approved".into(),
                "Approve (credits the trainee's program)".into(),
            ),
            ("flagged".into(), "Flag it back to the author".into()),
        ],
    }
}

async fn detail(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let r = reports::get_report(&state.cipher, &ctx, &mut conn, id).await?;
    let mut page = detail_page(&ctx, r);
    page.notice = match q.done.as_deref() {
        Some("draft") => {
            Some("The report was saved as a draft. Send it for review when it is ready.")
        }
        Some("sent") => Some("The report was sent for review."),
        Some("approved") => Some("The report was approved and credited to the trainee's program."),
        Some("flagged") => Some("The report was flagged back to its author."),
        Some("acknowledged") => Some("Thank you: the report is acknowledged."),
        _ => None,
    };
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
struct ReviewForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    notes: String,
}

async fn review(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    let input = ReviewInput {
        decision: form.decision.clone(),
        notes: (!form.notes.trim().is_empty()).then(|| form.notes.clone()),
    };
    let mut tx = state.db.begin().await?;
    let failure =
        match reports::review(&state.cipher, &state.notifier, &ctx, &mut tx, id, input).await {
            Ok(r) => {
                state.mailer.commit_and_kick(tx).await?;
                return Ok(Redirect::to(&format!(
                    "/training/shift-reports/{id}?done={}",
                    r.review_status
                ))
                .into_response());
            }
            Err(AppError::Validation(found)) => (StatusCode::UNPROCESSABLE_ENTITY, found, None),
            Err(AppError::Conflict(why)) => {
                (StatusCode::CONFLICT, Vec::new(), Some(web::sentence(&why)))
            }
            Err(other) => return Err(other.into()),
        };
    tx.rollback().await?;
    let mut conn = state.db.acquire().await?;
    let r = reports::get_report(&state.cipher, &ctx, &mut conn, id).await?;
    let mut page = detail_page(&ctx, r);
    page.errors = Errors::new(&failure.1, &[("decision", "Decision"), ("notes", "Notes")]);
    page.notes = form.notes;
    page.error = failure.2;
    Ok((failure.0, web::render(&page)).into_response())
}

async fn acknowledge(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    reports::acknowledge(&state.cipher, &ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/training/shift-reports/{id}?done=acknowledged")).into_response())
}
