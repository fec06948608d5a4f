//! The audit log page (filterable, with the chain's verification status at the top) and the
//! security alerts page (acknowledge, resolve). Both need `audit.view`.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::alerts::{self, Alert, AlertQuery, ResolveInput};
use super::chain::{self, VerifyReport};
use super::log::{LogEntry, LogQuery, query_logs};
use super::words;
use crate::auth::Ctx;
use crate::auth::permissions::AUDIT_VIEW;
use crate::error::{AppError, AppResult};
use crate::http::Page;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, LocalTime, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_log))
        .route("/security-alerts", get(alert_list))
        .route("/security-alerts/{id}/acknowledge", post(acknowledge))
        .route("/security-alerts/{id}/resolve", post(resolve))
}

const PER_PAGE: u32 = 50;

/// The audit pages show times to the second.
fn local_time(t: &DateTime<Utc>, tz: crate::time::Local) -> LocalTime {
    web::local_time_exact(tz, t)
}

// ---------------------------------------------------------------------------------------------
// Audit log

/// The filter form as submitted: empty fields mean "any".
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    member: String,
    #[serde(default)]
    action: String,
    /// A kind of change (`words::KINDS`).
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    page: Option<String>,
}

pub struct Row {
    pub sequence: u64,
    pub time: LocalTime,
    /// The entry in words: who did what to whom.
    pub sentence: String,
    pub action: String,
    pub severity: String,
    pub entity: String,
    /// The changes as recorded, indented.
    pub changes: String,
    pub ip: String,
}

pub struct MemberOption {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "audit/log.html")]
struct LogPage {
    chrome: Chrome,
    report: VerifyReport,
    timezone: String,
    filter: AuditFilter,
    members: Vec<MemberOption>,
    kinds: Vec<KindOption>,
    member_error: Option<String>,
    from_error: Option<String>,
    to_error: Option<String>,
    rows: Vec<Row>,
    total: u64,
    page: u32,
    prev: Option<String>,
    next: Option<String>,
}

fn row(e: LogEntry, tz: crate::time::Local, names: &words::Names) -> Row {
    let entity = match &e.entity_id {
        Some(id) => format!("{} {id}", e.entity_type),
        None => e.entity_type.clone(),
    };
    Row {
        sequence: e.sequence,
        time: local_time(&e.occurred_at, tz),
        sentence: words::sentence(&e, names),
        ip: e.ip_address.clone().unwrap_or_default(),
        action: e.action,
        severity: e.severity,
        entity,
        changes: serde_json::to_string_pretty(&e.changes).unwrap_or_default(),
    }
}

pub struct KindOption {
    pub key: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

async fn member_options(
    state: &AppState,
    ctx: &Ctx,
    selected: &str,
) -> AppResult<Vec<MemberOption>> {
    let rows = super::log::actors(ctx, &state.db).await?;
    Ok(rows
        .into_iter()
        .map(|(id, first, last, username)| {
            let id = id.to_string();
            MemberOption {
                selected: id == selected.trim(),
                label: format!("{} {} ({username})", first, last)
                    .trim()
                    .to_string(),
                id,
            }
        })
        .collect())
}

async fn audit_log(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(filter): Query<AuditFilter>,
) -> PageResult {
    ctx.require(AUDIT_VIEW)?;
    let tz = ctx.local();
    let mut member_error = None;
    let mut from_error = None;
    let mut to_error = None;
    let member_id = match filter.member.trim() {
        "" => None,
        raw => match Uuid::try_parse(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                member_error = Some("Choose a member from the list.".into());
                None
            }
        },
    };
    let date = |raw: &str, error: &mut Option<String>| match raw.trim() {
        "" => None,
        raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| *error = Some("Enter a date as YYYY-MM-DD.".into()))
            .ok(),
    };
    let from = date(&filter.from, &mut from_error);
    let mut to = date(&filter.to, &mut to_error);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        to_error = Some("The last day must not be before the first.".into());
        to = None;
    }
    let page = web::page_number(filter.page.as_deref());
    let action = filter.action.trim().to_string();
    let q = LogQuery {
        member_id,
        action: (!action.is_empty()).then_some(action.clone()),
        kind: words::kind_pattern(filter.kind.trim()).map(|_| filter.kind.trim().to_string()),
        from,
        to,
        page: Some(page),
        per_page: Some(PER_PAGE),
    };
    let logs: Page<LogEntry> = query_logs(&ctx, &state.db, &q).await?;
    let report = chain::verify(&state.db, ctx.org_id).await?;
    let members = member_options(&state, &ctx, &filter.member).await?;
    let names = super::log::names(&ctx, &state.db).await?;
    let kinds = words::KINDS
        .iter()
        .map(|(key, label, _)| KindOption {
            key,
            label,
            selected: *key == filter.kind.trim(),
        })
        .collect();
    let link = |p: u32| {
        let p = p.to_string();
        web::link(
            "/audit",
            &[
                ("member", filter.member.trim()),
                ("action", &action),
                ("kind", filter.kind.trim()),
                ("from", filter.from.trim()),
                ("to", filter.to.trim()),
                ("page", &p),
            ],
        )
    };
    let prev = (page > 1).then(|| link(page - 1));
    let next = (u64::from(page) * u64::from(PER_PAGE) < logs.total).then(|| link(page + 1));
    let invalid = member_error.is_some() || from_error.is_some() || to_error.is_some();
    let page_html = LogPage {
        chrome: Chrome::for_viewer(&ctx, "/audit"),
        report,
        timezone: tz.tz.name().to_string(),
        rows: logs.items.into_iter().map(|e| row(e, tz, &names)).collect(),
        kinds,
        total: logs.total,
        page,
        prev,
        next,
        filter,
        members,
        member_error,
        from_error,
        to_error,
    };
    let status = if invalid {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, web::render(&page_html)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Security alerts

#[derive(Debug, Default, Deserialize)]
pub struct AlertFilter {
    #[serde(default)]
    status: String,
    page: Option<String>,
}

pub struct AlertRow {
    pub id: Uuid,
    pub created: String,
    pub alert_type: String,
    pub severity: String,
    pub message: String,
    pub ip: String,
    pub status: String,
    pub acknowledged: Option<String>,
    pub resolved: Option<String>,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "audit/alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    status: String,
    message: Option<String>,
    alerts: Vec<AlertRow>,
    total: u64,
    prev: Option<String>,
    next: Option<String>,
}

fn alert_row(a: Alert, tz: crate::time::Local) -> AlertRow {
    AlertRow {
        id: a.id,
        created: local_time(&a.created_at, tz).text,
        alert_type: a.alert_type,
        severity: a.severity,
        message: a.message,
        ip: a.ip_address.unwrap_or_default(),
        status: a.status.to_string(),
        acknowledged: a.acknowledged_at.map(|t| local_time(&t, tz).text),
        resolved: a.resolved_at.map(|t| local_time(&t, tz).text),
        note: a.resolution_note,
    }
}

async fn alerts_page(
    state: &AppState,
    ctx: &Ctx,
    filter: &AlertFilter,
    message: Option<String>,
) -> AppResult<AlertsPage> {
    ctx.require(AUDIT_VIEW)?;
    let status = match filter.status.trim() {
        s if alerts::AlertStatus::parse(s).is_some() => s.to_string(),
        _ => String::new(),
    };
    let page = web::page_number(filter.page.as_deref());
    let mut tx = state.db.begin().await?;
    let list = alerts::list(
        ctx,
        &mut tx,
        AlertQuery {
            status: (!status.is_empty()).then_some(status.clone()),
            page: Some(page),
            per_page: Some(PER_PAGE),
        },
    )
    .await?;
    tx.commit().await?;
    let link = |p: u32| {
        let p = p.to_string();
        web::link("/security-alerts", &[("status", &status), ("page", &p)])
    };
    let tz = ctx.local();
    Ok(AlertsPage {
        chrome: Chrome::for_viewer(ctx, "/security-alerts"),
        prev: (page > 1).then(|| link(page - 1)),
        next: (u64::from(page) * u64::from(PER_PAGE) < list.total).then(|| link(page + 1)),
        status,
        message,
        total: list.total,
        alerts: list.items.into_iter().map(|a| alert_row(a, tz)).collect(),
    })
}

async fn alert_list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(filter): Query<AlertFilter>,
) -> PageResult {
    Ok(web::render(
        &alerts_page(&state, &ctx, &filter, None).await?,
    ))
}

/// After acknowledging or resolving: back to the list, or the list with the refusal on top.
async fn after_change(state: &AppState, ctx: &Ctx, result: AppResult<()>) -> PageResult {
    match result {
        Ok(()) => Ok(Redirect::to("/security-alerts").into_response()),
        Err(err @ (AppError::Conflict(_) | AppError::Validation(_))) => {
            let message = match &err {
                AppError::Validation(errors) => errors
                    .iter()
                    .map(|e| web::sentence(&format!("{}: {}", e.field, e.message)))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => web::sentence(&other.to_problem().detail),
            };
            let page = alerts_page(state, ctx, &AlertFilter::default(), Some(message)).await?;
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn acknowledge(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(AUDIT_VIEW)?;
    let mut tx = state.db.begin().await?;
    let result = match alerts::acknowledge(&ctx, &mut tx, id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    };
    after_change(&state, &ctx, result).await
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    note: String,
}

async fn resolve(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ResolveForm>,
) -> PageResult {
    ctx.require(AUDIT_VIEW)?;
    let note = form.note.trim().to_string();
    let input = ResolveInput {
        note: (!note.is_empty()).then_some(note),
    };
    let mut tx = state.db.begin().await?;
    let result = match alerts::resolve(&ctx, &mut tx, id, input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    };
    after_change(&state, &ctx, result).await
}
