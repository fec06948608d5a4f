//! Courses and requirements (`/training/setup`, `training.manage`): the lists, and the forms that
//! add and edit a course (`/training/courses/...`) or a requirement
//! (`/training/requirements/...`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::compliance::show as hours;
use super::super::service;
use super::{chrome, label, types};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{
    self, Chrome, DoneQuery, PageResult, Viewer, beside, finish_form, parse_hours,
    parse_optional_id,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/setup", get(setup))
        .route("/training/setup/compliance", post(save_compliance))
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
    include_current_month: bool,
}

fn period_words(r: &service::Requirement) -> String {
    let day = |m: Option<u8>, d: Option<u8>| {
        Some(crate::modules::training::compliance::month_day((
            u32::from(m?),
            u32::from(d?),
        )))
    };
    let mut words = match (r.period.as_str(), r.rolling_months) {
        ("rolling", Some(n)) => format!("Rolling {n} months"),
        ("one_time", _) => "Once".into(),
        ("biannual", _) => "While the certification is valid".into(),
        (p, _) => label(p),
    };
    if let Some(start) = day(r.period_start_month, r.period_start_day) {
        words.push_str(&format!(" from {start}"));
    }
    if let Some(end) = day(r.period_end_month, r.period_end_day) {
        words.push_str(&format!(" to {end}"));
    }
    if let Some(y) = r.year {
        words.push_str(&format!(", {y} only"));
    }
    if let Some(n) = r.recency_days {
        words.push_str(&format!("; records from the last {n} days"));
    }
    words
}

#[derive(Debug, Default, Deserialize)]
pub struct ComplianceForm {
    /// "current" or "finished" (months).
    #[serde(default)]
    months: String,
}

async fn save_compliance(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ComplianceForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let include_current_month = match form.months.as_str() {
        "current" => true,
        "finished" => false,
        _ => {
            return Err(AppError::field("months", "must be current or finished").into());
        }
    };
    let mut tx = state.db.begin().await?;
    service::set_compliance_config(
        &ctx,
        &mut tx,
        service::ComplianceConfig {
            include_current_month,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/training/setup?done=compliance").into_response())
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
    let config = service::compliance_config(&ctx, &mut conn).await?;
    let page = SetupPage {
        chrome: chrome(&ctx),
        include_current_month: config.include_current_month,
        notice: match q.done.as_deref() {
            Some("course") => Some("The course was saved."),
            Some("requirement") => Some("The requirement was saved. The matrix uses it now."),
            Some("compliance") => Some("Saved. Every standing and the matrix count this way now."),
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
                period: period_words(&r),
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
    let input = super::super::rules::CourseInput {
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

impl RequirementFormPage {
    /// The message beside `field`, if it was refused.
    fn error_of(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    /// The fields of a year of the department's own: name, label, value.
    fn own_year_fields(&self) -> Vec<(&'static str, &'static str, &str)> {
        let f = &self.form;
        vec![
            ("period_start_month", "Year starts: month (1–12)", &f.period_start_month),
            ("period_start_day", "Year starts: day", &f.period_start_day),
            ("period_end_month", "Year ends: month (optional)", &f.period_end_month),
            ("period_end_day", "Year ends: day (optional)", &f.period_end_day),
            ("year", "Only for the year (optional)", &f.year),
        ]
    }
}

#[derive(Debug, Default)]
struct RequirementForm {
    name: String,
    requirement_type: String,
    category_id: String,
    required_hours: String,
    required_count: String,
    course_ids: Vec<String>,
    registry_code: String,
    period: String,
    rolling_months: String,
    year: String,
    period_start_month: String,
    period_start_day: String,
    period_end_month: String,
    period_end_day: String,
    recency_days: String,
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
                "registry_code" => f.registry_code = v,
                "period" => f.period = v,
                "rolling_months" => f.rolling_months = v,
                "year" => f.year = v,
                "period_start_month" => f.period_start_month = v,
                "period_start_day" => f.period_start_day = v,
                "period_end_month" => f.period_end_month = v,
                "period_end_day" => f.period_end_day = v,
                "recency_days" => f.recency_days = v,
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
    ("registry_code", "Registry code"),
    ("period", "Period"),
    ("rolling_months", "Months"),
    ("year", "Only for the year"),
    ("period_start_month", "Year starts (month)"),
    ("period_start_day", "Year starts (day)"),
    ("period_end_month", "Year ends (month)"),
    ("period_end_day", "Year ends (day)"),
    ("recency_days", "Within the last days"),
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
    let (roles, tiers) = service::audience_choices(&mut conn, ctx.org_id).await?;
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
    fn text<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    let form = RequirementForm {
        name: r.name,
        requirement_type: r.requirement_type,
        category_id: r.category_id.map(|c| c.to_string()).unwrap_or_default(),
        required_hours: r.required_hours.map(hours).unwrap_or_default(),
        required_count: r.required_count.map(|c| c.to_string()).unwrap_or_default(),
        course_ids: ids(&r.course_ids),
        registry_code: r.registry_code.unwrap_or_default(),
        period: r.period,
        rolling_months: r.rolling_months.map(|m| m.to_string()).unwrap_or_default(),
        year: text(r.year),
        period_start_month: text(r.period_start_month),
        period_start_day: text(r.period_start_day),
        period_end_month: text(r.period_end_month),
        period_end_day: text(r.period_end_day),
        recency_days: text(r.recency_days),
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
    let year = whole("year", &form.year, &mut errors).map(|y| i32::try_from(y).unwrap_or(i32::MAX));
    let start_month = whole("period_start_month", &form.period_start_month, &mut errors);
    let start_day = whole("period_start_day", &form.period_start_day, &mut errors);
    let end_month = whole("period_end_month", &form.period_end_month, &mut errors);
    let end_day = whole("period_end_day", &form.period_end_day, &mut errors);
    let recency = whole("recency_days", &form.recency_days, &mut errors);
    let mut ids = |field: &str, raw: &[String]| {
        raw.iter()
            .filter_map(|v| parse_optional_id(field, v, &mut errors))
            .collect::<Vec<_>>()
    };
    let course_ids = ids("course_ids", &form.course_ids);
    let role_ids = ids("role_ids", &form.role_ids);
    let tier_ids = ids("tier_ids", &form.tier_ids);
    let category_id = parse_optional_id("category_id", &form.category_id, &mut errors);
    let input = super::super::rules::RequirementInput {
        name: form.name.clone(),
        description: None,
        requirement_type: form.requirement_type.clone(),
        category_id,
        training_type: None,
        required_hours: h,
        required_count: count,
        course_ids,
        registry_code: Some(form.registry_code.clone()),
        period: form.period.clone(),
        rolling_months: rolling,
        year,
        period_start_month: start_month,
        period_start_day: start_day,
        period_end_month: end_month,
        period_end_day: end_day,
        recency_days: recency,
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
