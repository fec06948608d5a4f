//! Recording a crew's training at once (`/training/record`, `training.manage`): the members to
//! tick, the course or training, the date and hours; one record for each member.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use uuid::Uuid;

use super::super::rules::RecordInput;
use super::super::service::{self, Category, Course};
use super::{chrome, types};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::{
    self, Chrome, PageResult, Viewer, beside, finish_form, parse_date, parse_hours,
    parse_optional_id,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/training/record", get(record_form).post(record))
}

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
