//! Security alerts: raised by the sign-in guard and the chain verifier, acknowledged and
//! resolved by members with `audit.view`.

use crate::auth::OrgId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::{Actor, Entry, Severity, record};
use crate::auth::Ctx;
use crate::auth::permissions::AUDIT_VIEW;
use crate::db::{self, Tx};
use crate::error::{AppError, AppResult};
use crate::http::Page;

pub struct NewAlert<'a> {
    pub alert_type: &'static str,
    pub severity: Severity,
    pub message: String,
    pub user_id: Option<Uuid>,
    pub ip: Option<&'a str>,
}

/// Raises an alert in the caller's transaction, audited like any other change.
pub async fn raise(tx: &mut Tx<'_>, org_id: OrgId, alert: NewAlert<'_>) -> AppResult<Uuid> {
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO security_alerts (id, organization_id, alert_type, severity, message, user_id,
            ip_address, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(org_id)
    .bind(alert.alert_type)
    .bind(alert.severity.as_str())
    .bind(&alert.message)
    .bind(alert.user_id)
    .bind(alert.ip)
    .bind(AlertStatus::Open)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    let actor = Actor {
        ip: alert.ip.map(str::to_string),
        ..Actor::system(org_id, "system")
    };
    record(
        tx,
        &actor,
        Entry::new("security_alert.raised", "security_alert", id)
            .severity(Severity::Warning)
            .changes(serde_json::json!({
                "alert_type": alert.alert_type,
                "message": alert.message,
                "user_id": alert.user_id,
            })),
    )
    .await?;
    Ok(id)
}

crate::words! {
    /// An alert is open until someone acknowledges it, and resolved with a note.
    pub enum AlertStatus {
        Open = "open",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Alert {
    pub id: Uuid,
    pub alert_type: String,
    pub severity: String,
    pub message: String,
    pub user_id: Option<Uuid>,
    pub ip_address: Option<String>,
    #[schema(schema_with = alert_status_schema)]
    pub status: AlertStatus,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// open, acknowledged or resolved
    #[param(schema_with = alert_status_schema)]
    pub status: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn alert_status_schema() -> utoipa::openapi::Object {
    AlertStatus::schema_object()
}

const ALERT_COLUMNS: &str = "id, alert_type, severity, message, user_id, ip_address, status,
    acknowledged_by, acknowledged_at, resolved_by, resolved_at, resolution_note, created_at";

pub async fn list(ctx: &Ctx, tx: &mut Tx<'_>, q: AlertQuery) -> AppResult<Page<Alert>> {
    ctx.require(AUDIT_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let status = AlertStatus::parse_filter("status", q.status.as_deref())?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM security_alerts WHERE organization_id = ? AND (? IS NULL OR status = ?)",
    )
    .bind(ctx.org_id)
    .bind(status)
    .bind(status)
    .fetch_one(&mut **tx)
    .await?;
    let items = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM security_alerts
          WHERE organization_id = ? AND (? IS NULL OR status = ?)
          ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.org_id)
    .bind(status)
    .bind(status)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

async fn load_for_update(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Alert> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM security_alerts WHERE id = ? AND organization_id = ? FOR UPDATE"
    )))
    .bind(id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn acknowledge(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Alert> {
    ctx.require(AUDIT_VIEW)?;
    let alert = load_for_update(ctx, tx, id).await?;
    if alert.status != AlertStatus::Open {
        return Err(AppError::Conflict(format!(
            "the alert is already {}",
            alert.status
        )));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE security_alerts SET status = ?, acknowledged_by = ?, acknowledged_at = ?
              WHERE id = ? AND organization_id = ? AND status = ?",
        )
        .bind(AlertStatus::Acknowledged)
        .bind(ctx.user_id)
        .bind(db::now())
        .bind(id)
        .bind(ctx.org_id)
        .bind(AlertStatus::Open),
        "the alert has just been acknowledged by someone else",
    )
    .await?;
    record(
        tx,
        &ctx.actor(),
        Entry::new("security_alert.acknowledged", "security_alert", id)
            .changes(serde_json::json!({"status": {"from": AlertStatus::Open,
                                                   "to": AlertStatus::Acknowledged}})),
    )
    .await?;
    load_for_update(ctx, tx, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    /// What was found and done (up to 1000 characters).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

pub async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ResolveInput,
) -> AppResult<Alert> {
    ctx.require(AUDIT_VIEW)?;
    let note = crate::input::optional_text("note", input.note, 1000)?;
    let alert = load_for_update(ctx, tx, id).await?;
    if alert.status == AlertStatus::Resolved {
        return Err(AppError::Conflict("the alert is already resolved".into()));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE security_alerts SET status = ?, resolved_by = ?, resolved_at = ?,
                    resolution_note = ?
              WHERE id = ? AND organization_id = ? AND status <> ?",
        )
        .bind(AlertStatus::Resolved)
        .bind(ctx.user_id)
        .bind(db::now())
        .bind(&note)
        .bind(id)
        .bind(ctx.org_id)
        .bind(AlertStatus::Resolved),
        "the alert has just been resolved by someone else",
    )
    .await?;
    record(
        tx,
        &ctx.actor(),
        Entry::new("security_alert.resolved", "security_alert", id).changes(serde_json::json!({
            "status": {"from": alert.status, "to": AlertStatus::Resolved},
            "resolution_note": note,
        })),
    )
    .await?;
    load_for_update(ctx, tx, id).await
}
