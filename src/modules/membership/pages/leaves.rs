//! A member's leaves of absence (`/members/{id}/leaves`, `members.manage`): the list with the
//! form that grants one, editing one, and removing one after a confirmation. Each leave's training
//! waiver follows it (`super::super::leaves`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::leaves;
use super::MEMBERS;
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::error::{AppError, FieldError};
use crate::modules::training::pages::label;
use crate::state::AppState;
use crate::web::PathIds;
use crate::web::{self, Chrome, DoneQuery, PageResult, PathId, Viewer};
use crate::web::{beside, finish_form, parse_date};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members/{id}/leaves", get(leaves).post(grant_leave))
        .route(
            "/members/{id}/leaves/{leave}/remove",
            get(remove_leave_confirm).post(remove_leave),
        )
        .route(
            "/members/{id}/leaves/{leave}/edit",
            get(leave_edit).post(leave_update),
        )
}

#[derive(Debug, Default, Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    leave_type: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    exempt: Option<String>,
}

pub struct LeaveRow {
    pub id: Uuid,
    pub kind: String,
    pub dates: String,
    pub reason: String,
    pub waiver: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "membership/leaves.html")]
struct LeavesPage {
    chrome: Chrome,
    member_id: Uuid,
    member_name: String,
    notice: Option<&'static str>,
    leaves: Vec<LeaveRow>,
    form: LeaveForm,
    types: Vec<(&'static str, String)>,
    errors: std::collections::HashMap<String, String>,
}

async fn leaves_page(
    state: &AppState,
    ctx: &Ctx,
    member: Uuid,
    form: LeaveForm,
    errors: &[FieldError],
) -> Result<LeavesPage, AppError> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let name = crate::members::service::name_of(&mut conn, ctx.org_id, member).await?;
    let list = leaves::leaves(
        ctx,
        &mut conn,
        leaves::LeaveQuery {
            user_id: Some(member),
            all: true,
        },
    )
    .await?;
    Ok(LeavesPage {
        chrome: Chrome::for_viewer(ctx, MEMBERS),
        member_id: member,
        member_name: name,
        notice: None,
        leaves: list
            .into_iter()
            .map(|l| LeaveRow {
                id: l.id,
                kind: label(&l.leave_type),
                dates: ctx.locale.span(l.start_date, l.end_date),
                reason: l.reason.unwrap_or_default(),
                waiver: if l.exempt_from_training_waiver {
                    "Training not waived"
                } else {
                    "Training waived for these dates"
                },
                active: l.active,
            })
            .collect(),
        form,
        types: leaves::LEAVE_TYPES.iter().map(|t| (*t, label(t))).collect(),
        errors: beside(
            errors,
            &[
                ("leave_type", "Kind of leave"),
                ("start_date", "From"),
                ("end_date", "Until"),
                ("reason", "Reason"),
            ],
        ),
    })
}

async fn leaves(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let form = LeaveForm {
        leave_type: "leave_of_absence".into(),
        ..LeaveForm::default()
    };
    let mut page = leaves_page(&state, &ctx, id, form, &[]).await?;
    page.notice = match q.done.as_deref() {
        Some("granted") => Some("The leave was recorded."),
        Some("updated") => Some("The leave was changed, and its training waiver with it."),
        Some("removed") => Some("The leave was removed, and its training waiver with it."),
        _ => None,
    };
    Ok(web::render(&page))
}

async fn grant_leave(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<LeaveForm>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut errors = Vec::new();
    let start = parse_date("start_date", &form.start_date, &mut errors);
    let end = crate::web::parse_optional_date("end_date", &form.end_date, &mut errors);
    if let Some(start) = start {
        let input = leaves::NewLeave {
            user_id: id,
            leave_type: form.leave_type.clone(),
            reason: Some(form.reason.clone()),
            start_date: start,
            end_date: end,
            exempt_from_training_waiver: form.exempt.is_some(),
        };
        let mut tx = state.db.begin().await?;
        let saved = leaves::create_leave(&ctx, &mut tx, input).await;
        let saved = finish_form(tx, saved, &mut errors, &state.mailer).await?;
        if saved.is_some() {
            return Ok(Redirect::to(&format!("/members/{id}/leaves?done=granted")).into_response());
        }
    }
    let page = leaves_page(&state, &ctx, id, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "membership/leave_remove.html")]
struct RemoveLeavePage {
    chrome: Chrome,
    member_id: Uuid,
    leave: LeaveRow,
}

async fn remove_leave_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(member, leave): PathIds,
) -> PageResult {
    let page = leaves_page(&state, &ctx, member, LeaveForm::default(), &[]).await?;
    let row = page
        .leaves
        .into_iter()
        .find(|l| l.id == leave && l.active)
        .ok_or(AppError::NotFound)?;
    Ok(web::render(&RemoveLeavePage {
        chrome: Chrome::for_viewer(&ctx, MEMBERS),
        member_id: member,
        leave: row,
    }))
}

async fn remove_leave(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(member, leave): PathIds,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let found = leaves::get_leave(&ctx, &mut conn, leave).await?;
    drop(conn);
    if found.user_id != member {
        return Err(AppError::NotFound.into());
    }
    let mut tx = state.db.begin().await?;
    match leaves::remove_leave(&ctx, &mut tx, leave).await {
        Ok(()) => tx.commit().await?,
        // Removed already (a second click): the list shows it.
        Err(AppError::Conflict(_)) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(Redirect::to(&format!("/members/{member}/leaves?done=removed")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Editing a leave

#[derive(Template)]
#[template(path = "membership/leave_edit.html")]
struct LeaveEditPage {
    chrome: Chrome,
    member_id: Uuid,
    member_name: String,
    leave_id: Uuid,
    form: LeaveForm,
    types: Vec<(&'static str, String)>,
    errors: HashMap<String, String>,
}

const LEAVE_LABELS: &[(&str, &str)] = &[
    ("leave_type", "Kind of leave"),
    ("start_date", "From"),
    ("end_date", "Until"),
    ("reason", "Reason"),
];

/// The leave, if it is the member's (another member's or department's: not found).
async fn members_leave(
    state: &AppState,
    ctx: &Ctx,
    member: Uuid,
    leave: Uuid,
) -> Result<(leaves::Leave, String), AppError> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let l = leaves::get_leave(ctx, &mut conn, leave).await?;
    if l.user_id != member {
        return Err(AppError::NotFound);
    }
    let name = crate::members::service::name_of(&mut conn, ctx.org_id, member).await?;
    Ok((l, name))
}

fn leave_edit_page(
    ctx: &Ctx,
    member: Uuid,
    member_name: String,
    leave: Uuid,
    form: LeaveForm,
    errors: &[FieldError],
) -> LeaveEditPage {
    LeaveEditPage {
        chrome: Chrome::for_viewer(ctx, MEMBERS),
        member_id: member,
        member_name,
        leave_id: leave,
        form,
        types: leaves::LEAVE_TYPES.iter().map(|t| (*t, label(t))).collect(),
        errors: beside(errors, LEAVE_LABELS),
    }
}

async fn leave_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(member, leave): PathIds,
) -> PageResult {
    let (l, name) = members_leave(&state, &ctx, member, leave).await?;
    if !l.active {
        return Ok(Redirect::to(&format!("/members/{member}/leaves")).into_response());
    }
    let form = LeaveForm {
        leave_type: l.leave_type,
        start_date: l.start_date.to_string(),
        end_date: l.end_date.map(|d| d.to_string()).unwrap_or_default(),
        reason: l.reason.unwrap_or_default(),
        exempt: l.exempt_from_training_waiver.then(|| "1".into()),
    };
    Ok(web::render(&leave_edit_page(
        &ctx,
        member,
        name,
        leave,
        form,
        &[],
    )))
}

async fn leave_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(member, leave): PathIds,
    Form(form): Form<LeaveForm>,
) -> PageResult {
    let (l, name) = members_leave(&state, &ctx, member, leave).await?;
    if !l.active {
        return Ok(Redirect::to(&format!("/members/{member}/leaves")).into_response());
    }
    let mut errors = Vec::new();
    let start = parse_date("start_date", &form.start_date, &mut errors);
    let end = crate::web::parse_optional_date("end_date", &form.end_date, &mut errors);
    if let Some(start) = start {
        let patch = leaves::LeavePatch {
            leave_type: Some(form.leave_type.clone()),
            reason: Some(Some(form.reason.clone())),
            start_date: Some(start),
            end_date: Some(end),
            exempt_from_training_waiver: Some(form.exempt.is_some()),
        };
        let mut tx = state.db.begin().await?;
        let saved = leaves::update_leave(&ctx, &mut tx, leave, patch).await;
        match finish_form(tx, saved, &mut errors, &state.mailer).await {
            Ok(Some(_)) => {
                return Ok(
                    Redirect::to(&format!("/members/{member}/leaves?done=updated")).into_response(),
                );
            }
            Ok(None) => {}
            // Removed meanwhile: the list shows it.
            Err(AppError::Conflict(_)) => {
                return Ok(Redirect::to(&format!("/members/{member}/leaves")).into_response());
            }
            Err(other) => return Err(other.into()),
        }
    }
    let page = leave_edit_page(&ctx, member, name, leave, form, &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}
