//! Training waivers granted by hand (`/training/waivers`, `training.manage`): the list, filtered
//! by name and status, with the form that grants one, and deactivating one after asking
//! (`/training/waivers/{id}/deactivate`). Waivers that follow a leave of absence are listed
//! too; the rules live in `super::super::waivers`.

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

use super::super::{service, waivers};
use super::{chrome, label};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, PageResult, Pager, Viewer};
use crate::web::{beside, finish_form, parse_date, parse_optional_id};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/waivers", get(waivers_list).post(grant_waiver))
        .route(
            "/training/waivers/{id}/deactivate",
            get(deactivate_confirm).post(deactivate),
        )
}

pub struct WaiverRow {
    pub id: Uuid,
    pub member_id: Uuid,
    pub member: String,
    pub kind: String,
    pub dates: String,
    pub covers: String,
    pub reason: String,
    pub from_leave: bool,
    pub active: bool,
}

fn waiver_row(w: waivers::ListedWaiver, locale: crate::time::Locale) -> WaiverRow {
    WaiverRow {
        id: w.id,
        member_id: w.user_id,
        member: format!("{} {}", w.first_name, w.last_name),
        kind: label(&w.waiver_type),
        dates: locale.span(w.start_date, w.end_date),
        covers: if w.all_requirements {
            "All requirements".into()
        } else {
            w.requirements.join(", ")
        },
        reason: w.reason.unwrap_or_default(),
        from_leave: w.leave_id.is_some(),
        active: w.active,
    }
}

#[derive(Debug, Default)]
struct WaiverForm {
    user_id: String,
    waiver_type: String,
    reason: String,
    start_date: String,
    end_date: String,
    /// "all" or "chosen".
    scope: String,
    requirement_ids: Vec<String>,
}

impl WaiverForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = WaiverForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "user_id" => f.user_id = v,
                "waiver_type" => f.waiver_type = v,
                "reason" => f.reason = v,
                "start_date" => f.start_date = v,
                "end_date" => f.end_date = v,
                "scope" => f.scope = v,
                "requirement_ids" => f.requirement_ids.push(v),
                _ => {}
            }
        }
        f
    }

    fn has(&self, id: &Uuid) -> bool {
        self.requirement_ids
            .iter()
            .any(|x| x.trim() == id.to_string())
    }
}

const WAIVER_LABELS: &[(&str, &str)] = &[
    ("user_id", "Member"),
    ("waiver_type", "Kind of waiver"),
    ("reason", "Reason"),
    ("start_date", "From"),
    ("end_date", "Until"),
    ("requirement_ids", "Requirements"),
];

#[derive(Template)]
#[template(path = "training/waivers.html")]
struct WaiversPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    q: String,
    status: String,
    rows: Vec<WaiverRow>,
    total: u64,
    pager: Pager,
    members: Vec<(Uuid, String)>,
    types: Vec<(&'static str, String)>,
    requirements: Vec<(Uuid, String)>,
    form: WaiverForm,
    errors: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct WaiversQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

async fn waivers_page(
    state: &AppState,
    ctx: &Ctx,
    q: &WaiversQuery,
    form: WaiverForm,
    errors: &[FieldError],
) -> Result<WaiversPage, AppError> {
    ctx.require(TRAINING_MANAGE)?;
    let page = web::page_number(q.page.as_deref());
    let status = match q.status.as_deref() {
        Some("inactive") => "inactive",
        Some("all") => "all",
        _ => "active",
    };
    let per_page = 25;
    let mut conn = state.db.acquire().await?;
    let list = waivers::list_waivers(
        ctx,
        &mut conn,
        waivers::WaiverListQuery {
            q: q.q.clone(),
            active: match status {
                "active" => Some(true),
                "inactive" => Some(false),
                _ => None,
            },
            page,
            per_page,
        },
    )
    .await?;
    let qs = q.q.clone().unwrap_or_default();
    let pager = Pager::new(page, list.total, per_page, |p| {
        web::link(
            "/training/waivers",
            &[("q", &qs), ("status", status), ("page", &p.to_string())],
        )
    });
    let members: Vec<(Uuid, String, String)> =
        service::member_choices(&mut conn, ctx.org_id).await?;
    let requirements = service::requirements(ctx, &mut conn).await?;
    Ok(WaiversPage {
        chrome: chrome(ctx),
        notice: match q.done.as_deref() {
            Some("granted") => Some("The waiver was granted. The matrix counts it now."),
            Some("deactivated") => {
                Some("The waiver was deactivated. It stays listed, and waives nothing.")
            }
            _ => None,
        },
        q: qs,
        status: status.to_string(),
        total: list.total,
        rows: list
            .items
            .into_iter()
            .map(|w| waiver_row(w, ctx.locale))
            .collect(),
        pager,
        members: members
            .into_iter()
            .map(|(id, first, last)| (id, format!("{last}, {first}")))
            .collect(),
        types: waivers::WAIVER_TYPES
            .iter()
            .map(|t| (*t, label(t)))
            .collect(),
        requirements: requirements
            .into_iter()
            .filter(|r| r.active)
            .map(|r| (r.id, r.name))
            .collect(),
        form,
        errors: beside(errors, WAIVER_LABELS),
    })
}

fn new_waiver_form() -> WaiverForm {
    WaiverForm {
        waiver_type: "medical".into(),
        scope: "all".into(),
        ..WaiverForm::default()
    }
}

async fn waivers_list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<WaiversQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = waivers_page(&state, &ctx, &q, new_waiver_form(), &[]).await?;
    Ok(web::render(&page))
}

async fn grant_waiver(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let form = WaiverForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let user = parse_optional_id("user_id", &form.user_id, &mut errors);
    if form.user_id.trim().is_empty() {
        errors.push(FieldError::new("user_id", "is required"));
    }
    let start = parse_date("start_date", &form.start_date, &mut errors);
    let end = crate::web::parse_optional_date("end_date", &form.end_date, &mut errors);
    let requirement_ids: Vec<Uuid> = if form.scope == "chosen" {
        let ids: Vec<Uuid> = form
            .requirement_ids
            .iter()
            .filter_map(|r| parse_optional_id("requirement_ids", r, &mut errors))
            .collect();
        if ids.is_empty() && form.requirement_ids.is_empty() {
            errors.push(FieldError::new(
                "requirement_ids",
                "must name at least one requirement, or choose all of them",
            ));
        }
        ids
    } else {
        Vec::new()
    };
    if let (Some(user), Some(start)) = (user, start) {
        let input = waivers::NewWaiver {
            user_id: user,
            waiver_type: form.waiver_type.clone(),
            reason: Some(form.reason.clone()),
            start_date: start,
            end_date: end,
            requirement_ids,
        };
        let mut tx = state.db.begin().await?;
        let saved = waivers::create_waiver(&ctx, &mut tx, input).await;
        if finish_form(tx, saved, &mut errors, &state.mailer)
            .await?
            .is_some()
        {
            return Ok(Redirect::to("/training/waivers?done=granted").into_response());
        }
    }
    let page = waivers_page(&state, &ctx, &WaiversQuery::default(), form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "training/waiver_deactivate.html")]
struct DeactivatePage {
    chrome: Chrome,
    waiver: WaiverRow,
    error: Option<String>,
}

async fn deactivate_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let w = waivers::listed_waiver(&ctx, &mut conn, id).await?;
    if !w.active {
        return Ok(Redirect::to("/training/waivers?status=inactive").into_response());
    }
    Ok(web::render(&DeactivatePage {
        chrome: chrome(&ctx),
        waiver: waiver_row(w, ctx.locale),
        error: None,
    }))
}

async fn deactivate(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let mut tx = state.db.begin().await?;
    match waivers::deactivate_waiver(&ctx, &mut tx, id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/training/waivers?done=deactivated").into_response())
        }
        Err(AppError::Conflict(message)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let w = waivers::listed_waiver(&ctx, &mut conn, id).await?;
            // Deactivated already (a second click): the list shows it.
            if !w.active {
                return Ok(Redirect::to("/training/waivers?status=inactive").into_response());
            }
            let page = DeactivatePage {
                chrome: chrome(&ctx),
                waiver: waiver_row(w, ctx.locale),
                error: Some(web::sentence(&message)),
            };
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
