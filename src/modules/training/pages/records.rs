//! The department's training records (`/training/records`, `training.manage`), searched and
//! filtered by date, and voiding one after asking for the reason
//! (`/training/records/{id}/void`): a void record stays listed and counts for nothing.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::super::service::{self, RecordQuery};
use super::chrome;
use super::standing::{RecordRow, record_row};
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, PageResult, Pager, Viewer, beside};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/records", get(records))
        .route("/training/records/{id}/void", get(void_confirm).post(void))
        .route("/training/sessions/{id}", get(session))
        .route(
            "/training/sessions/{id}/void",
            get(session_void_confirm).post(session_void),
        )
        .route(
            "/training/records/{id}/correct",
            get(correct_form).post(correct),
        )
}

#[derive(Template)]
#[template(path = "training/records.html")]
struct RecordsPage {
    chrome: Chrome,
    notice: Option<String>,
    q: String,
    from: String,
    to: String,
    entries: Vec<EntryRow>,
    total: u64,
    pager: Pager,
    error: Option<String>,
}

/// A line of the records list: one record, or a crew session shown once (`members` > 1), its
/// first attendee's record standing for the date, training and kind.
struct EntryRow {
    record: RecordRow,
    session: Option<SessionLine>,
}

struct SessionLine {
    id: Uuid,
    members: usize,
    voided: usize,
    /// The hours, or "varies" when a correction made them differ.
    hours: String,
}

impl SessionLine {
    fn of(id: Uuid, records: &[service::TrainingRecord]) -> SessionLine {
        let first = records.first().map_or_else(Default::default, |r| r.hours_completed);
        SessionLine {
            id,
            members: records.len(),
            voided: records
                .iter()
                .filter(|r| r.status == service::RecordStatus::Cancelled)
                .count(),
            hours: if records.iter().all(|r| r.hours_completed == first) {
                super::super::compliance::show(first)
            } else {
                "varies".into()
            },
        }
    }
}

fn entry_row(e: service::RecordEntry, locale: crate::time::Locale) -> Option<EntryRow> {
    let session = e.session.map(|id| SessionLine::of(id, &e.records));
    Some(EntryRow {
        record: record_row(e.records.into_iter().next()?, locale),
        session,
    })
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
    let listed = service::list_entries(
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
        Some("session_voided") => Some(
            "The session's records were voided. They stay listed, and count for nothing.".into(),
        ),
        Some("corrected") => Some(
            "The record was corrected. The audit log keeps the values before and the reason."
                .into(),
        ),
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
        entries: list
            .items
            .into_iter()
            .filter_map(|e| entry_row(e, ctx.locale))
            .collect(),
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
    /// Voiding a whole crew session: its line and the attendees' names.
    session: Option<(SessionLine, String)>,
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
    if r.status == service::RecordStatus::Cancelled {
        return Ok(Redirect::to("/training/records").into_response());
    }
    Ok(web::render(&VoidPage {
        chrome: chrome(&ctx),
        record: record_row(r, ctx.locale),
        session: None,
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
                record: record_row(r, ctx.locale),
                session: None,
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
// A crew session: its attendees, and voiding it at once

#[derive(Template)]
#[template(path = "training/session.html")]
struct SessionPage {
    chrome: Chrome,
    line: SessionLine,
    /// The first attendee's record, for the training, date and kind they share.
    first: RecordRow,
    instructor: String,
    attendees: Vec<RecordRow>,
}

async fn session(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let s = service::get_session(&ctx, &mut conn, id).await?;
    let line = SessionLine::of(id, &s.records);
    let head = s.records.first().ok_or(AppError::NotFound)?;
    let instructor = head.instructor.clone().unwrap_or_default();
    let attendees: Vec<RecordRow> = s
        .records
        .into_iter()
        .map(|r| record_row(r, ctx.locale))
        .collect();
    Ok(web::render(&SessionPage {
        chrome: chrome(&ctx),
        line,
        first: attendees.first().cloned().ok_or(AppError::NotFound)?,
        instructor,
        attendees,
    }))
}

/// The void page for a session: its line, its first record, and the names of who attended.
async fn session_void_page(
    ctx: &crate::auth::Ctx,
    conn: &mut crate::db::Conn,
    id: Uuid,
    reason: String,
    reason_error: Option<String>,
) -> Result<VoidPage, AppError> {
    let s = service::get_session(ctx, conn, id).await?;
    let line = SessionLine::of(id, &s.records);
    let names = s
        .records
        .iter()
        .map(|r| r.member_name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(VoidPage {
        chrome: chrome(ctx),
        record: record_row(
            s.records.first().cloned().ok_or(AppError::NotFound)?,
            ctx.locale,
        ),
        session: Some((line, names)),
        reason,
        reason_error,
    })
}

async fn session_void_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let page = session_void_page(&ctx, &mut conn, id, String::new(), None).await?;
    if page
        .session
        .as_ref()
        .is_some_and(|(l, _)| l.voided == l.members)
    {
        return Ok(Redirect::to(&format!("/training/sessions/{id}")).into_response());
    }
    Ok(web::render(&page))
}

async fn session_void(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<VoidForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut tx = state.db.begin().await?;
    match service::void_session(
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
            Ok(Redirect::to("/training/records?done=session_voided").into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let error = beside(&errors, &[("reason", "Reason")]).remove("reason");
            let page = session_void_page(&ctx, &mut conn, id, form.reason, error).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        // Voided already (a second click, or another officer): the session shows it.
        Err(AppError::Conflict(_)) => {
            Ok(Redirect::to(&format!("/training/sessions/{id}")).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Correcting a record

#[derive(Template)]
#[template(path = "training/correct.html")]
struct CorrectPage {
    chrome: Chrome,
    record: RecordRow,
    form: CorrectForm,
    errors: web::FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct CorrectForm {
    #[serde(default)]
    completion_date: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    expiration_date: String,
    #[serde(default)]
    certification_number: String,
    #[serde(default)]
    reason: String,
}

const CORRECT_LABELS: &[(&str, &str)] = &[
    ("completion_date", "Date"),
    ("hours", "Hours"),
    ("expiration_date", "Expires"),
    ("certification_number", "Certificate number"),
    ("reason", "Reason"),
];

async fn correct_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let r = service::get_record(&ctx, &mut conn, id).await?;
    if r.status == service::RecordStatus::Cancelled {
        return Ok(Redirect::to("/training/records").into_response());
    }
    let form = CorrectForm {
        completion_date: r.completion_date.to_string(),
        hours: super::super::compliance::show(r.hours_completed),
        expiration_date: r.expiration_date.map(|d| d.to_string()).unwrap_or_default(),
        certification_number: r.certification_number.clone().unwrap_or_default(),
        reason: String::new(),
    };
    Ok(web::render(&CorrectPage {
        chrome: chrome(&ctx),
        record: record_row(r, ctx.locale),
        form,
        errors: Default::default(),
    }))
}

async fn correct(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CorrectForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let date = web::parse_date("completion_date", &form.completion_date, &mut errors);
    let hours = web::parse_hours("hours", &form.hours, &mut errors);
    let expires = web::parse_optional_date("expiration_date", &form.expiration_date, &mut errors);
    let mut tx = state.db.begin().await?;
    let saved = if errors.is_empty() {
        service::correct_record(
            &ctx,
            &mut tx,
            id,
            service::RecordCorrection {
                completion_date: date,
                hours,
                expiration_date: expires,
                certification_number: Some(form.certification_number.clone()),
                reason: form.reason.clone(),
            },
        )
        .await
    } else {
        Err(AppError::Validation(errors))
    };
    match saved {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/training/records?done=corrected").into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let r = service::get_record(&ctx, &mut conn, id).await?;
            let page = CorrectPage {
                chrome: chrome(&ctx),
                record: record_row(r, ctx.locale),
                form,
                errors: web::FieldErrors::new(&errors, CORRECT_LABELS),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        // Voided meanwhile: the list shows it.
        Err(AppError::Conflict(_)) => Ok(Redirect::to("/training/records").into_response()),
        Err(other) => Err(other.into()),
    }
}
