//! Submitting training taken elsewhere (`/training/submit`, `training.view`): the form, and the
//! submission it makes for an officer to review (or approves at once, when the department's
//! settings allow it).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::super::service;
use super::super::submissions::{self, SubmissionInput};
use super::{chrome, types};
use crate::auth::permissions::TRAINING_VIEW;
use crate::error::FieldError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer, beside, finish_form, parse_date, parse_hours};

pub fn router() -> Router<AppState> {
    Router::new().route("/training/submit", get(submit_form).post(submit))
}

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
        let saved = submissions::submit(&state.notifier, &ctx, &mut tx, input).await;
        let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
        if let Some(s) = saved {
            let done = if s.status == submissions::SubmissionStatus::Approved {
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
