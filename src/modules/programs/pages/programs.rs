//! Program pages: the list (with the member's own enrollments), building a program (phases and
//! items, added one form at a time; an unused item removed after asking), enrolling members, an
//! enrollment's progress with the officer's decisions on items and phase sign-offs, and
//! withdrawing after asking. Plain forms, post-redirect-get; the rules live in `service`.


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

use super::super::service::{
    self, AdvanceInput, EnrollInput, Enrollment, EnrollmentDetail, EnrollmentQuery, ItemAction,
    ItemInput, PhaseInput, Program, ProgramInput, WithdrawInput,
};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::error::{AppError, FieldError};
use crate::modules::training::compliance::show;
use crate::modules::training::pages::{chrome, label};
use crate::state::AppState;
use crate::web::DoneQuery;
use crate::web::PathId;
use crate::web::PathIds;
use crate::web::{self, Chrome, PageResult, Viewer};
use crate::web::{finish_form, parse_date, parse_optional_id};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/programs", get(list))
        .route("/training/programs/new", get(new_form).post(create))
        .route("/training/programs/{id}", get(detail))
        .route("/training/programs/{id}/edit", get(edit_form).post(update))
        .route("/training/programs/{id}/phases", post(add_phase))
        .route("/training/programs/{id}/items", post(add_item))
        .route(
            "/training/programs/{id}/items/{item}/remove",
            get(remove_item_confirm).post(remove_item),
        )
        .route("/training/programs/{id}/enroll", post(enroll))
        .route("/training/enrollments/{id}", get(enrollment))
        .route("/training/enrollments/{id}/items/{item}", post(act_on_item))
        .route("/training/enrollments/{id}/advance", post(advance))
        .route(
            "/training/enrollments/{id}/withdraw",
            get(withdraw_form).post(withdraw),
        )
}

/// Messages beside fields, for `training/fields.html` (whose macros name fields by `&str`).
pub(super) type Errors = crate::web::FieldErrors;

pub(super) type Options = Vec<(String, String)>;

fn structure_words(s: &str) -> &'static str {
    match s {
        "flexible" => "Flexible: items in any order",
        "sequential" => "Sequential: one phase after another",
        _ => "Phases: one after another, sign-offs where a phase asks",
    }
}

fn item_words(kind: &str, target: Decimal) -> String {
    let n = show(target);
    match kind {
        "hours" => format!("{n} hours of training"),
        "shifts" => format!("{n} shift{}", if target == Decimal::ONE { "" } else { "s" }),
        "calls" => format!("{n} call{}", if target == Decimal::ONE { "" } else { "s" }),
        "skill" if target == Decimal::ONE => "Signed off once".into(),
        "skill" => format!("Observed {n} times"),
        _ => "Complete the course".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The list

struct ProgramRow {
    id: Uuid,
    name: String,
    structure: &'static str,
    phases: usize,
    items: usize,
    enrolled: i64,
    completed: i64,
    active: bool,
}

struct EnrollmentRow {
    id: Uuid,
    member: String,
    program: String,
    status: String,
    phase: String,
    percent: String,
    target: String,
}

fn enrollment_row(e: &Enrollment, locale: crate::time::Locale) -> EnrollmentRow {
    EnrollmentRow {
        id: e.id,
        member: e.member_name.clone(),
        program: e.program_name.clone(),
        status: label(e.status.as_str()),
        phase: e.current_phase_name.clone().unwrap_or_default(),
        percent: show(e.progress_percentage),
        target: locale.day_or_blank(e.target_completion_date),
    }
}

#[derive(Template)]
#[template(path = "programs/programs.html")]
struct ListPage {
    chrome: Chrome,
    officer: bool,
    programs: Vec<ProgramRow>,
    mine: Vec<EnrollmentRow>,
}

async fn list(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let mut conn = state.db.acquire().await?;
    let officer = ctx.has(TRAINING_MANAGE);
    let programs = if officer {
        service::programs(&ctx, &mut conn).await?
    } else {
        Vec::new()
    };
    let mine = service::enrollments(
        &ctx,
        &mut conn,
        EnrollmentQuery {
            user_id: Some(ctx.user_id),
            ..EnrollmentQuery::default()
        },
    )
    .await?;
    Ok(web::render(&ListPage {
        chrome: chrome(&ctx),
        officer,
        programs: programs
            .iter()
            .map(|p| ProgramRow {
                id: p.id,
                name: p.name.clone(),
                structure: structure_words(&p.structure_type),
                phases: p.phases.len(),
                items: p.phases.iter().map(|ph| ph.items.len()).sum(),
                enrolled: p.enrolled,
                completed: p.completed,
                active: p.active,
            })
            .collect(),
        mine: mine.iter().map(|e| enrollment_row(e, ctx.locale)).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Creating and editing a program

#[derive(Debug, Default, Deserialize)]
struct ProgramForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    target_position: String,
    #[serde(default)]
    structure_type: String,
    #[serde(default)]
    time_limit_days: String,
    active: Option<String>,
}

const PROGRAM_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("description", "Description"),
    ("target_position", "Leads to"),
    ("structure_type", "Structure"),
    ("time_limit_days", "Time limit"),
];

#[derive(Template)]
#[template(path = "programs/program_form.html")]
struct ProgramFormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    form: ProgramForm,
    structures: Options,
    errors: Errors,
}

fn structures() -> Options {
    service::STRUCTURES
        .iter()
        .map(|s| (s.to_string(), structure_words(s).to_string()))
        .collect()
}

fn program_form_page(
    ctx: &Ctx,
    id: Option<Uuid>,
    form: ProgramForm,
    errors: &[FieldError],
) -> ProgramFormPage {
    ProgramFormPage {
        chrome: chrome(ctx),
        id,
        form,
        structures: structures(),
        errors: Errors::new(errors, PROGRAM_LABELS),
    }
}

async fn new_form(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = ProgramForm {
        structure_type: "phases".into(),
        active: Some("1".into()),
        ..ProgramForm::default()
    };
    Ok(web::render(&program_form_page(&ctx, None, form, &[])))
}

async fn edit_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let p = service::program(&ctx, &mut conn, id).await?;
    let form = ProgramForm {
        name: p.name,
        description: p.description.unwrap_or_default(),
        target_position: p.target_position.unwrap_or_default(),
        structure_type: p.structure_type,
        time_limit_days: p.time_limit_days.map(|d| d.to_string()).unwrap_or_default(),
        active: p.active.then(|| "1".into()),
    };
    Ok(web::render(&program_form_page(&ctx, Some(id), form, &[])))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ProgramForm>,
) -> PageResult {
    save_program(&state, &ctx, None, form).await
}

async fn update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ProgramForm>,
) -> PageResult {
    save_program(&state, &ctx, Some(id), form).await
}

fn parse_days(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<u16> {
    match raw.trim() {
        "" => None,
        d => match d.parse::<u16>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(field, "must be a whole number of days"));
                None
            }
        },
    }
}

async fn save_program(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: ProgramForm,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let days = parse_days("time_limit_days", &form.time_limit_days, &mut errors);
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let input = ProgramInput {
        name: form.name.clone(),
        description: opt(&form.description),
        target_position: opt(&form.target_position),
        structure_type: Some(form.structure_type.clone()),
        time_limit_days: days,
        active: id.map(|_| form.active.is_some()),
    };
    let mut tx = state.db.begin().await?;
    let saved = match id {
        Some(id) => service::update_program(ctx, &mut tx, id, input).await,
        None => service::create_program(ctx, &mut tx, input).await,
    };
    if let Some(p) = finish_form(tx, saved, &mut errors, &state.mailer).await? {
        let done = if id.is_some() { "saved" } else { "created" };
        return Ok(
            Redirect::to(&format!("/training/programs/{}?done={done}", p.id)).into_response(),
        );
    }
    let page = program_form_page(ctx, id, form, &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// A program: its phases and items, adding to them, enrolling

struct PhaseView {
    number: u16,
    name: String,
    description: String,
    manual: bool,
    items: Vec<ItemView>,
}

struct ItemView {
    id: Uuid,
    name: String,
    what: String,
    required: bool,
}

/// Its fields are named apart from the item form's: both are on the program page.
#[derive(Debug, Default, Deserialize)]
struct PhaseForm {
    #[serde(default)]
    phase_name: String,
    #[serde(default)]
    phase_description: String,
    manual: Option<String>,
    #[serde(default)]
    time_limit_days: String,
}

#[derive(Debug, Default, Deserialize)]
struct ItemForm {
    #[serde(default)]
    phase_id: String,
    #[serde(default)]
    item_type: String,
    #[serde(default)]
    course_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    target_value: String,
    optional: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EnrollForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    target_completion_date: String,
}

#[derive(Template)]
#[template(path = "programs/program.html")]
struct ProgramPage {
    chrome: Chrome,
    id: Uuid,
    name: String,
    description: String,
    structure: &'static str,
    time_limit: String,
    target_position: String,
    active: bool,
    phases: Vec<PhaseView>,
    enrollments: Vec<EnrollmentRow>,
    phase_form: PhaseForm,
    item_form: ItemForm,
    enroll_form: EnrollForm,
    phase_errors: Errors,
    item_errors: Errors,
    enroll_errors: Errors,
    phase_options: Options,
    type_options: Options,
    course_options: Options,
    member_options: Options,
    notice: Option<&'static str>,
}

#[derive(Default)]
struct Forms {
    phase: PhaseForm,
    item: ItemForm,
    enroll: EnrollForm,
    phase_errors: Vec<FieldError>,
    item_errors: Vec<FieldError>,
    enroll_errors: Vec<FieldError>,
}

async fn program_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    forms: Forms,
) -> Result<ProgramPage, AppError> {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let p: Program = service::program(ctx, &mut conn, id).await?;
    let enrollments = service::enrollments(
        ctx,
        &mut conn,
        EnrollmentQuery {
            program_id: Some(id),
            ..EnrollmentQuery::default()
        },
    )
    .await?;
    let courses = crate::modules::training::service::courses(ctx, &mut conn).await?;
    let members: Vec<(Uuid, String, String)> =
        crate::modules::training::service::member_choices(&mut conn, ctx.org_id).await?;
    let mut member_options: Options = vec![(String::new(), "Choose a member".into())];
    member_options.extend(
        members
            .into_iter()
            .map(|(id, first, last)| (id.to_string(), format!("{last}, {first}"))),
    );
    let mut course_options: Options = vec![(String::new(), "None (not a course item)".into())];
    course_options.extend(
        courses
            .into_iter()
            .filter(|c| c.active)
            .map(|c| (c.id.to_string(), c.name)),
    );
    let mut item = forms.item;
    if item.phase_id.is_empty()
        && let Some(last) = p.phases.last()
    {
        item.phase_id = last.id.to_string();
    }
    if item.item_type.is_empty() {
        item.item_type = "course".into();
    }
    Ok(ProgramPage {
        chrome: chrome(ctx),
        id,
        description: p.description.clone().unwrap_or_default(),
        structure: structure_words(&p.structure_type),
        time_limit: p
            .time_limit_days
            .map(|d| format!("{d} days"))
            .unwrap_or_else(|| "None".into()),
        target_position: p.target_position.clone().unwrap_or_default(),
        active: p.active,
        phase_options: p
            .phases
            .iter()
            .map(|ph| {
                (
                    ph.id.to_string(),
                    format!("{}. {}", ph.phase_number, ph.name),
                )
            })
            .collect(),
        phases: p
            .phases
            .iter()
            .map(|ph| PhaseView {
                number: ph.phase_number,
                name: ph.name.clone(),
                description: ph.description.clone().unwrap_or_default(),
                manual: ph.requires_manual_advancement,
                items: ph
                    .items
                    .iter()
                    .map(|i| ItemView {
                        id: i.id,
                        name: i.name.clone(),
                        what: item_words(&i.item_type, i.target_value),
                        required: i.is_required,
                    })
                    .collect(),
            })
            .collect(),
        name: p.name,
        enrollments: enrollments
            .iter()
            .map(|e| enrollment_row(e, ctx.locale))
            .collect(),
        phase_errors: Errors::new(
            &forms.phase_errors,
            &[
                ("phase_name", "Phase name"),
                ("phase_description", "Description"),
                ("time_limit_days", "Time limit"),
            ],
        ),
        item_errors: Errors::new(
            &forms.item_errors,
            &[
                ("phase_id", "Phase"),
                ("item_type", "Kind"),
                ("course_id", "Course"),
                ("name", "Name"),
                ("target_value", "How many"),
            ],
        ),
        enroll_errors: Errors::new(
            &forms.enroll_errors,
            &[
                ("user_id", "Member"),
                ("target_completion_date", "Finish by"),
                ("program", "The program"),
            ],
        ),
        phase_form: forms.phase,
        item_form: item,
        enroll_form: forms.enroll,
        type_options: service::ITEM_TYPES
            .iter()
            .map(|t| (t.to_string(), label(t)))
            .collect(),
        course_options,
        member_options,
        notice: None,
    })
}

async fn detail(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut page = program_page(&state, &ctx, id, Forms::default()).await?;
    page.notice = match q.done.as_deref() {
        Some("created") => Some("The program was created. Add its phases, then their items."),
        Some("saved") => Some("The program was saved."),
        Some("phase") => Some("The phase was added."),
        Some("item") => Some("The item was added; members enrolled have it too."),
        Some("removed") => Some("The item was removed."),
        Some("enrolled") => Some("The member was enrolled and told."),
        _ => None,
    };
    Ok(web::render(&page))
}

async fn add_phase(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<PhaseForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let days = parse_days("time_limit_days", &form.time_limit_days, &mut errors);
    let input = PhaseInput {
        name: form.phase_name.clone(),
        description: (!form.phase_description.trim().is_empty())
            .then(|| form.phase_description.clone()),
        requires_manual_advancement: form.manual.is_some(),
        time_limit_days: days,
    };
    let mut tx = state.db.begin().await?;
    // The phase form's fields are named apart from the item form's on the same page.
    let saved = service::add_phase(&ctx, &mut tx, id, input)
        .await
        .map_err(|e| match e {
            AppError::Validation(found) => AppError::Validation(
                found
                    .into_iter()
                    .map(|mut e| {
                        if matches!(e.field.as_str(), "name" | "description") {
                            e.field = format!("phase_{}", e.field);
                        }
                        e
                    })
                    .collect(),
            ),
            other => other,
        });
    if finish_form(tx, saved, &mut errors, &state.mailer)
        .await?
        .is_some()
    {
        return Ok(
            Redirect::to(&format!("/training/programs/{id}?done=phase#phases")).into_response(),
        );
    }
    let forms = Forms {
        phase: form,
        phase_errors: errors,
        ..Forms::default()
    };
    let page = program_page(&state, &ctx, id, forms).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn add_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ItemForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let phase = match Uuid::try_parse(form.phase_id.trim()) {
        Ok(p) => Some(p),
        Err(_) => {
            errors.push(FieldError::new(
                "phase_id",
                "add a phase first, then choose it",
            ));
            None
        }
    };
    let course = parse_optional_id("course_id", &form.course_id, &mut errors);
    let target = match form.target_value.trim() {
        "" => None,
        t => match t.replace(',', ".").parse::<Decimal>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(FieldError::new("target_value", "is not a number"));
                None
            }
        },
    };
    // A course chosen with another kind is ignored rather than refused: the form shows both.
    let course = if form.item_type == "course" {
        course
    } else {
        None
    };
    if let Some(phase) = phase {
        let input = ItemInput {
            phase_id: phase,
            name: (!form.name.trim().is_empty()).then(|| form.name.clone()),
            item_type: form.item_type.clone(),
            course_id: course,
            target_value: target,
            is_required: form.optional.is_none(),
        };
        let mut tx = state.db.begin().await?;
        let saved = service::add_item(&ctx, &mut tx, id, input).await;
        if finish_form(tx, saved, &mut errors, &state.mailer)
            .await?
            .is_some()
        {
            return Ok(
                Redirect::to(&format!("/training/programs/{id}?done=item#phases")).into_response(),
            );
        }
    }
    let forms = Forms {
        item: form,
        item_errors: errors,
        ..Forms::default()
    };
    let page = program_page(&state, &ctx, id, forms).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "programs/item_remove.html")]
struct RemoveItemPage {
    chrome: Chrome,
    program_id: Uuid,
    program: String,
    item_id: Uuid,
    item: String,
    error: Option<String>,
}

async fn remove_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    item: Uuid,
) -> Result<RemoveItemPage, AppError> {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let p = service::program(ctx, &mut conn, id).await?;
    let name = p
        .phases
        .iter()
        .flat_map(|ph| ph.items.iter())
        .find(|i| i.id == item)
        .map(|i| i.name.clone())
        .ok_or(AppError::NotFound)?;
    Ok(RemoveItemPage {
        chrome: chrome(ctx),
        program_id: id,
        program: p.name,
        item_id: item,
        item: name,
        error: None,
    })
}

async fn remove_item_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, item): PathIds,
) -> PageResult {
    Ok(web::render(&remove_page(&state, &ctx, id, item).await?))
}

async fn remove_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, item): PathIds,
) -> PageResult {
    let mut page = remove_page(&state, &ctx, id, item).await?;
    let mut tx = state.db.begin().await?;
    match service::remove_item(&ctx, &mut tx, id, item).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(
                Redirect::to(&format!("/training/programs/{id}?done=removed#phases"))
                    .into_response(),
            )
        }
        Err(AppError::Conflict(why)) => {
            tx.rollback().await?;
            page.error = Some(web::sentence(&why));
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn enroll(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<EnrollForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut errors = Vec::new();
    let user = match Uuid::try_parse(form.user_id.trim()) {
        Ok(u) => Some(u),
        Err(_) => {
            errors.push(FieldError::new("user_id", "choose the member to enroll"));
            None
        }
    };
    let target = match form.target_completion_date.trim() {
        "" => None,
        _ => parse_date(
            "target_completion_date",
            &form.target_completion_date,
            &mut errors,
        ),
    };
    if let Some(user) = user {
        let mut tx = state.db.begin().await?;
        let input = EnrollInput {
            user_id: user,
            target_completion_date: target,
        };
        let saved = service::enroll(&state.notifier, &ctx, &mut tx, id, input).await;
        if finish_form(tx, saved, &mut errors, &state.mailer)
            .await?
            .is_some()
        {
            return Ok(
                Redirect::to(&format!("/training/programs/{id}?done=enrolled#enrolled"))
                    .into_response(),
            );
        }
    }
    let forms = Forms {
        enroll: form,
        enroll_errors: errors,
        ..Forms::default()
    };
    let page = program_page(&state, &ctx, id, forms).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// An enrollment

struct ItemProgressView {
    item_id: Uuid,
    name: String,
    done: String,
    status: String,
    status_label: String,
    percent: String,
}

struct PhaseProgressView {
    number: u16,
    name: String,
    manual: bool,
    complete: bool,
    signed_off: bool,
    current: bool,
    items: Vec<ItemProgressView>,
}

#[derive(Template)]
#[template(path = "programs/enrollment.html")]
struct EnrollmentPage {
    chrome: Chrome,
    officer: bool,
    own: bool,
    id: Uuid,
    program_id: Uuid,
    program: String,
    member: String,
    member_id: Uuid,
    status: String,
    status_label: String,
    percent: String,
    phase: String,
    target: String,
    withdrawn_reason: String,
    awaiting: bool,
    /// A flexible program has no phase order to sign off.
    flexible: bool,
    open_items: usize,
    phases: Vec<PhaseProgressView>,
    item_error: Option<(Uuid, String)>,
    error: Option<String>,
    notice: Option<&'static str>,
    actions: Options,
}

fn done_words(kind: &str, value: Decimal, target: Decimal) -> String {
    match kind {
        "course" => {
            if value >= target {
                "Completed".into()
            } else {
                "Not yet".into()
            }
        }
        "hours" => format!("{} of {} hours", show(value), show(target)),
        "skill" => format!("Observed {} of {}", show(value), show(target)),
        _ => format!("{} of {}", show(value), show(target)),
    }
}

fn enrollment_page(ctx: &Ctx, d: EnrollmentDetail) -> EnrollmentPage {
    let locale = ctx.locale;
    let e = d.enrollment;
    let current = d.phases.iter().find(|p| p.current);
    let open_items = current
        .map(|p| {
            p.items
                .iter()
                .filter(|i| i.is_required && !i.status.done())
                .count()
        })
        .unwrap_or(0);
    EnrollmentPage {
        chrome: chrome(ctx),
        // Another officer decides on an officer's own program.
        officer: ctx.has(TRAINING_MANAGE) && e.user_id != ctx.user_id,
        own: e.user_id == ctx.user_id,
        id: e.id,
        program_id: e.program_id,
        program: e.program_name.clone(),
        member: e.member_name.clone(),
        member_id: e.user_id,
        status_label: label(e.status.as_str()),
        percent: show(e.progress_percentage),
        phase: e.current_phase_name.clone().unwrap_or_default(),
        target: locale.day_or_blank(e.target_completion_date),
        withdrawn_reason: e.withdrawn_reason.clone().unwrap_or_default(),
        awaiting: d.awaiting_sign_off,
        flexible: e.structure_type == "flexible",
        open_items,
        phases: d
            .phases
            .iter()
            .map(|p| PhaseProgressView {
                number: p.phase_number,
                name: p.name.clone(),
                manual: p.requires_manual_advancement,
                complete: p.complete,
                signed_off: p.signed_off,
                current: p.current,
                items: p
                    .items
                    .iter()
                    .map(|i| ItemProgressView {
                        item_id: i.item_id,
                        name: format!(
                            "{}{}",
                            i.name,
                            if i.is_required { "" } else { " (optional)" }
                        ),
                        done: done_words(&i.item_type, i.progress_value, i.target_value),
                        status: i.status.to_string(),
                        status_label: label(i.status.as_str()),
                        percent: show(i.percent()),
                    })
                    .collect(),
            })
            .collect(),
        status: e.status.to_string(),
        item_error: None,
        error: None,
        notice: None,
        actions: vec![
            ("verify".into(), "Sign off (verified)".into()),
            ("credit".into(), "Add credit".into()),
            ("waive".into(), "Waive".into()),
            ("clear".into(), "Clear the decision".into()),
        ],
    }
}

async fn enrollment(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let d = service::enrollment(&ctx, &mut conn, id).await?;
    let mut page = enrollment_page(&ctx, d);
    page.notice = match q.done.as_deref() {
        Some("item") => Some("The item was updated."),
        Some("signed") => Some("The phase was signed off."),
        Some("withdrawn") => Some("The enrollment was withdrawn. Its progress is kept."),
        _ => None,
    };
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
struct ItemActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    note: String,
}

async fn act_on_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, item): PathIds,
    Form(form): Form<ItemActionForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let units = match (form.action.as_str(), form.units.trim()) {
        ("credit", "") => Err("Units: say how much to credit.".to_string()),
        ("credit", u) => u
            .replace(',', ".")
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| "Units: not a number.".to_string()),
        _ => Ok(None),
    };
    let failure = match units {
        Err(message) => Some(message),
        Ok(units) => {
            let input = ItemAction {
                action: form.action.clone(),
                units,
                note: (!form.note.trim().is_empty()).then(|| form.note.clone()),
            };
            let mut tx = state.db.begin().await?;
            match service::act_on_item(&ctx, &mut tx, id, item, input).await {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(
                        Redirect::to(&format!("/training/enrollments/{id}?done=item"))
                            .into_response(),
                    );
                }
                Err(AppError::Validation(found)) => {
                    tx.rollback().await?;
                    let (by_field, _) = web::field_errors(found, |f| match f {
                        "units" => Some("Units"),
                        "action" => Some("Action"),
                        "note" => Some("Note"),
                        _ => None,
                    });
                    Some(by_field.into_values().collect::<Vec<_>>().join(" "))
                }
                Err(AppError::Conflict(why)) => {
                    tx.rollback().await?;
                    Some(web::sentence(&why))
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    let mut conn = state.db.acquire().await?;
    let d = service::enrollment(&ctx, &mut conn, id).await?;
    let mut page = enrollment_page(&ctx, d);
    page.item_error = failure.map(|f| (item, f));
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct AdvanceForm {
    force: Option<String>,
}

async fn advance(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<AdvanceForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let input = AdvanceInput {
        force: form.force.is_some(),
    };
    match service::advance(&ctx, &mut tx, id, input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/training/enrollments/{id}?done=signed")).into_response())
        }
        Err(AppError::Conflict(why)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let d = service::enrollment(&ctx, &mut conn, id).await?;
            let mut page = enrollment_page(&ctx, d);
            page.error = Some(web::sentence(
                &why.replace(" with force", ": tick the box below"),
            ));
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "programs/withdraw.html")]
struct WithdrawPage {
    chrome: Chrome,
    id: Uuid,
    program: String,
    member: String,
    own: bool,
    form: WithdrawForm,
    errors: Errors,
}

async fn withdraw_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    form: WithdrawForm,
    errors: &[FieldError],
) -> Result<WithdrawPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let d = service::enrollment(ctx, &mut conn, id).await?;
    if !d.enrollment.status.going() {
        return Err(AppError::Conflict(format!(
            "the enrollment is {}, not active",
            d.enrollment.status.words()
        )));
    }
    Ok(WithdrawPage {
        chrome: chrome(ctx),
        id,
        program: d.enrollment.program_name,
        own: d.enrollment.user_id == ctx.user_id,
        member: d.enrollment.member_name,
        form,
        errors: Errors::new(errors, &[("reason", "Reason")]),
    })
}

async fn withdraw_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    Ok(web::render(
        &withdraw_page(&state, &ctx, id, WithdrawForm::default(), &[]).await?,
    ))
}

async fn withdraw(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<WithdrawForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let input = WithdrawInput {
        reason: form.reason.clone(),
    };
    match service::withdraw(&ctx, &mut tx, id, input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/training/enrollments/{id}?done=withdrawn")).into_response())
        }
        Err(AppError::Validation(found)) => {
            tx.rollback().await?;
            let page = withdraw_page(&state, &ctx, id, form, &found).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
