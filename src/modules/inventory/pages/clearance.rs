//! `/inventory/clearances`: the open departure clearances and a form to start one by hand;
//! one clearance with a form per pending line (returned, damaged, written off, waived) and a
//! form to close it with lines still pending. Errors beside their fields; the rules in
//! `service::clearance`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::service::clearance::{
    self, CloseClearance, DISPOSITIONS, Resolve, StartClearance,
};
use super::super::service::{self, INVENTORY_MANAGE};
use super::SECTION;
use crate::auth::Ctx;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::{self, Chrome, DoneQuery, FieldErrors, Opt, PageResult, PathId, PathIds, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/inventory/clearances",
            get(list).post(start),
        )
        .route("/inventory/clearances/{id}", get(one))
        .route(
            "/inventory/clearances/{id}/lines/{line}",
            post(resolve),
        )
        .route("/inventory/clearances/{id}/close", post(close))
}

struct Row {
    id: Uuid,
    member: String,
    status: &'static str,
    started: String,
    outstanding: usize,
    total: usize,
}

fn status_label(s: &str) -> &'static str {
    match s {
        "initiated" => "Started",
        "in_progress" => "In progress",
        "completed" => "Completed",
        _ => "Closed incomplete",
    }
}

#[derive(Template)]
#[template(path = "inventory/clearances.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    members: Vec<Opt>,
    errors: FieldErrors,
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct StartForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    return_deadline: String,
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    errors: &[FieldError],
    refusal: Option<String>,
) -> Result<ListPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let all = clearance::clearances(ctx, &mut conn, false).await?;
    let members = service::holders(ctx, &mut conn).await?;
    let local = ctx.local();
    Ok(ListPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        rows: all
            .into_iter()
            .map(|c| Row {
                id: c.id,
                member: c.member_name,
                status: status_label(&c.status),
                started: local.moment(&c.initiated_at),
                outstanding: c.items_outstanding,
                total: c.total_items,
            })
            .collect(),
        members: std::iter::once(Opt {
            value: String::new(),
            label: "Choose a member".into(),
            selected: true,
        })
        .chain(members.into_iter().map(|m| Opt {
            value: m.id.to_string(),
            label: m.name,
            selected: false,
        }))
        .collect(),
        errors: FieldErrors::new(
            errors,
            &[("user_id", "Member"), ("return_deadline", "Everything back by")],
        ),
        refusal,
    })
}

async fn list(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    Ok(web::render(&list_page(&state, &ctx, &[], None).await?))
}

async fn start(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<StartForm>,
) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    let mut errors = Vec::new();
    let user_id = match Uuid::try_parse(form.user_id.trim()) {
        Ok(u) => u,
        Err(_) => {
            errors.push(FieldError::new("user_id", "is required"));
            Uuid::nil()
        }
    };
    let deadline =
        web::parse_optional_date("return_deadline", &form.return_deadline, &mut errors);
    if !errors.is_empty() {
        let page = list_page(&state, &ctx, &errors, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response());
    }
    let mut tx = state.db.begin().await?;
    match clearance::start(
        &ctx,
        &mut tx,
        StartClearance {
            user_id,
            return_deadline: deadline,
        },
    )
    .await
    {
        Ok(c) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/inventory/clearances/{}?done=started", c.id)).into_response())
        }
        Err(AppError::Validation(found)) => {
            tx.rollback().await?;
            let page = list_page(&state, &ctx, &found, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(AppError::Conflict(why)) => {
            tx.rollback().await?;
            let page = list_page(&state, &ctx, &[], Some(web::sentence(&why))).await?;
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

struct LineView {
    id: Uuid,
    item_id: Uuid,
    name: String,
    barcode: String,
    serial: String,
    quantity: u32,
    how: &'static str,
    pending: bool,
    outcome: String,
    notes: String,
}

#[derive(Template)]
#[template(path = "inventory/clearance.html")]
struct OnePage {
    chrome: Chrome,
    id: Uuid,
    member_id: Uuid,
    member: String,
    status: &'static str,
    open: bool,
    deadline: String,
    started: String,
    outstanding: usize,
    total: usize,
    close_reason: String,
    lines: Vec<LineView>,
    dispositions: Vec<Opt>,
    notice: Option<&'static str>,
    /// The line whose form failed, its errors, and a refusal above the forms.
    failed_line: Option<Uuid>,
    errors: FieldErrors,
    refusal: Option<String>,
}

impl OnePage {
    fn failed_on(&self, line: &Uuid) -> bool {
        self.failed_line.as_ref() == Some(line)
    }
}

async fn one_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    failed_line: Option<Uuid>,
    errors: &[FieldError],
    refusal: Option<String>,
) -> Result<OnePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let c = clearance::clearance(ctx, &mut conn, id).await?;
    let local = ctx.local();
    Ok(OnePage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id: c.id,
        member_id: c.user_id,
        member: c.member_name,
        status: status_label(&c.status),
        open: matches!(c.status.as_str(), "initiated" | "in_progress"),
        deadline: c.return_deadline.map(|d| ctx.locale.day(d)).unwrap_or_default(),
        started: local.moment(&c.initiated_at),
        outstanding: c.items_outstanding,
        total: c.total_items,
        close_reason: c.close_reason.unwrap_or_default(),
        lines: c
            .lines
            .into_iter()
            .map(|l| LineView {
                id: l.id,
                item_id: l.item_id,
                how: match l.source_type.as_str() {
                    "checkout" => "checked out",
                    "assignment" => "assigned",
                    _ => "issued",
                },
                pending: l.disposition == "pending",
                outcome: DISPOSITIONS
                    .iter()
                    .find(|(w, _)| *w == l.disposition)
                    .map(|(_, label)| label.to_string())
                    .unwrap_or_default(),
                notes: l.resolution_notes.unwrap_or_default(),
                name: l.item_name,
                barcode: l.barcode,
                serial: l.serial_number.unwrap_or_default(),
                quantity: l.quantity,
            })
            .collect(),
        dispositions: web::options(DISPOSITIONS, "returned", None),
        notice: None,
        failed_line,
        errors: FieldErrors::new(
            errors,
            &[("disposition", "Outcome"), ("notes", "Notes"), ("reason", "Reason")],
        ),
        refusal,
    })
}

async fn one(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let mut page = one_page(&state, &ctx, id, None, &[], None).await?;
    page.notice = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("started") => Some("Clearance started: everything the member holds is listed."),
        Some("resolved") => Some("Line resolved."),
        Some("closed") => Some("Clearance closed."),
        _ => None,
    };
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
struct ResolveForm {
    #[serde(default)]
    disposition: String,
    #[serde(default)]
    notes: String,
}

async fn resolve(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, line): PathIds,
    Form(form): Form<ResolveForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = clearance::resolve(
        &ctx,
        &mut tx,
        id,
        line,
        Resolve {
            disposition: form.disposition,
            notes: Some(form.notes),
        },
    )
    .await;
    finish(&state, &ctx, id, Some(line), tx, result.map(|_| "resolved")).await
}

#[derive(Debug, Default, Deserialize)]
struct CloseForm {
    #[serde(default)]
    reason: String,
}

async fn close(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CloseForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = clearance::close(&ctx, &mut tx, id, CloseClearance { reason: form.reason }).await;
    finish(&state, &ctx, id, None, tx, result.map(|_| "closed")).await
}

async fn finish(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    line: Option<Uuid>,
    tx: crate::db::Tx<'static>,
    result: Result<&'static str, AppError>,
) -> PageResult {
    let (status, errors, refusal) = match result {
        Ok(done) => {
            tx.commit().await?;
            return Ok(
                Redirect::to(&format!("/inventory/clearances/{id}?done={done}")).into_response(),
            );
        }
        Err(AppError::Validation(found)) => (StatusCode::UNPROCESSABLE_ENTITY, found, None),
        Err(AppError::Conflict(why)) => (StatusCode::CONFLICT, Vec::new(), Some(web::sentence(&why))),
        Err(other) => return Err(other.into()),
    };
    tx.rollback().await?;
    let page = one_page(state, ctx, id, line, &errors, refusal).await?;
    Ok((status, web::render(&page)).into_response())
}
