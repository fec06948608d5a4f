//! Reviewing submitted training (`/training/submissions`, `training.manage`): the queue of
//! pending submissions with the recent decisions, and approving, rejecting or sending one back
//! with a note.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::submissions::{self, Review};
use super::chrome;
use super::standing::{SubmissionRow, submission_row};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::AppError;
use crate::http::parse_id;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer, beside, parse_hours};

pub fn router() -> Router<AppState> {
    Router::new().route("/training/submissions", get(queue).post(review))
}

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
    decided.retain(|s| s.status != submissions::SubmissionStatus::PendingReview);
    Ok(QueuePage {
        chrome: chrome(ctx),
        notice: None,
        pending: pending.items.into_iter().map(|s| submission_row(s, ctx.locale)).collect(),
        decided: decided.into_iter().map(|s| submission_row(s, ctx.locale)).collect(),
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
        submissions::review(&state.notifier, &ctx, &mut tx, id, input).await
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
