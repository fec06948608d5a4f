//! What administrators see of the outbox: the list with counts per status, and retrying a
//! failed email.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};

crate::words! {
    /// Where an email stands in the outbox.
    pub enum OutboxStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
    }
}

fn outbox_status_schema() -> utoipa::openapi::Object {
    OutboxStatus::schema_object()
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OutboxItem {
    pub id: Uuid,
    pub to_address: String,
    pub subject: String,
    #[schema(schema_with = outbox_status_schema)]
    pub status: OutboxStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub give_up_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `sending`, `sent` or `failed`.
    #[param(schema_with = outbox_status_schema)]
    pub status: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
}

impl OutboxCounts {
    fn of(&mut self, s: OutboxStatus) -> &mut u64 {
        match s {
            OutboxStatus::Pending => &mut self.pending,
            OutboxStatus::Sending => &mut self.sending,
            OutboxStatus::Sent => &mut self.sent,
            OutboxStatus::Failed => &mut self.failed,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outbox {
    #[serde(flatten)]
    pub page: Page<OutboxItem>,
    pub counts: OutboxCounts,
}

pub async fn outbox(ctx: &Ctx, conn: &mut Conn, q: OutboxQuery) -> AppResult<Outbox> {
    ctx.require(SETTINGS_MANAGE)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let status =
        OutboxStatus::parse_filter("status", q.status.as_deref().filter(|s| !s.is_empty()))?;
    let mut counts = OutboxCounts::default();
    let rows: Vec<(OutboxStatus, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM email_outbox WHERE organization_id = ? GROUP BY status",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    for (s, n) in rows {
        let n = n as u64;
        *counts.of(s) = n;
    }
    let total = match status {
        Some(s) => *counts.of(s),
        None => counts.pending + counts.sending + counts.sent + counts.failed,
    };
    let items = sqlx::query_as(
        "SELECT id, to_address, subject, status, attempts, last_error, created_at,
                next_attempt_at, sent_at, give_up_at
           FROM email_outbox
          WHERE organization_id = ? AND (? IS NULL OR status = ?)
          ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
    )
    .bind(ctx.org_id)
    .bind(status)
    .bind(status)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Outbox {
        page: Page {
            items,
            page,
            per_page,
            total,
        },
        counts,
    })
}

/// Puts a failed email back in the queue for one more try with a fresh retry period.
pub async fn retry(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<OutboxItem> {
    ctx.require(SETTINGS_MANAGE)?;
    let status: Option<OutboxStatus> = sqlx::query_scalar(
        "SELECT status FROM email_outbox WHERE id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    match status {
        None => return Err(AppError::NotFound),
        Some(OutboxStatus::Failed) => {}
        Some(other) => {
            return Err(AppError::Conflict(format!(
                "only a failed email can be retried; this one is {other}"
            )));
        }
    }
    let hours: u32 =
        sqlx::query_scalar("SELECT give_up_hours FROM email_settings WHERE organization_id = ?")
            .bind(ctx.org_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(72);
    let now = db::now();
    sqlx::query(
        "UPDATE email_outbox SET status = ?, next_attempt_at = ?, give_up_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(OutboxStatus::Pending)
    .bind(now)
    .bind(now + chrono::Duration::hours(i64::from(hours)))
    .bind(id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("email.retried", "email", id)
            .changes(serde_json::json!({"status": {"from": "failed", "to": "pending"}})),
    )
    .await?;
    let item = sqlx::query_as(
        "SELECT id, to_address, subject, status, attempts, last_error, created_at,
                next_attempt_at, sent_at, give_up_at
           FROM email_outbox WHERE id = ? AND organization_id = ?",
    )
    .bind(id)
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(item)
}
