//! Reading the audit log: a page of entries filtered by member, action and days (the API and
//! the audit page both list through here), and the members who can be chosen as the actor.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, MySqlPool};
use uuid::Uuid;

use crate::auth::Ctx;
use crate::auth::permissions::AUDIT_VIEW;
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The member who acted.
    pub member_id: Option<Uuid>,
    /// Exact action name, e.g. `member.status_changed`.
    pub action: Option<String>,
    /// A kind of change: sign_in, members, roles, training, announcements, backups, security
    /// or settings.
    pub kind: Option<String>,
    /// First day (inclusive, in the organization's time zone), YYYY-MM-DD.
    pub from: Option<NaiveDate>,
    /// Last day (inclusive, in the organization's time zone), YYYY-MM-DD.
    pub to: Option<NaiveDate>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogEntry {
    pub id: Uuid,
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_label: String,
    pub ip_address: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub severity: String,
    /// The changed fields, as recorded.
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub hash: String,
}

/// The first instant of `day` in `tz`, in UTC (where a DST change skips midnight, the first
/// hour that exists).
fn start_of_day(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    (0..24)
        .filter_map(|h| day.and_hms_opt(h, 0, 0))
        .find_map(|t| t.and_local_timezone(tz).earliest())
        .map_or_else(
            || day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// One page of the organization's audit log, newest first, filtered by `q` (the API and the
/// audit page both list through here). Needs `audit.view`.
pub async fn query_logs(ctx: &Ctx, db: &MySqlPool, q: &LogQuery) -> AppResult<Page<LogEntry>> {
    ctx.require(AUDIT_VIEW)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(AppError::field("to", "must not be before `from`"));
    }
    // Entries are shown in the organization's time zone, so its days are the ones filtered on.
    let kind = match q.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => Some(super::words::kind_pattern(k).ok_or_else(|| {
            AppError::field(
                "kind",
                format!(
                    "must be one of {}",
                    super::words::KINDS
                        .iter()
                        .map(|(k, _, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?),
    };
    let tz = crate::time::zone(&ctx.timezone);
    let from = q.from.map(|d| start_of_day(d, tz));
    let to = q.to.and_then(|d| d.succ_opt()).map(|d| start_of_day(d, tz));
    const FILTER: &str = "organization_id = ?
        AND (? IS NULL OR actor_user_id = ?)
        AND (? IS NULL OR action = ?)
        AND (? IS NULL OR action REGEXP ?)
        AND (? IS NULL OR occurred_at >= ?)
        AND (? IS NULL OR occurred_at < ?)";
    let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM audit_logs WHERE {FILTER}"
    )))
    .bind(ctx.org_id)
    .bind(q.member_id)
    .bind(q.member_id)
    .bind(&q.action)
    .bind(&q.action)
    .bind(&kind)
    .bind(&kind)
    .bind(from)
    .bind(from)
    .bind(to)
    .bind(to)
    .fetch_one(db)
    .await?;
    let items: Vec<LogEntry> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, sequence, occurred_at, actor_user_id, actor_label, ip_address, action,
                entity_type, entity_id, severity, changes, hash
           FROM audit_logs WHERE {FILTER} ORDER BY sequence DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.org_id)
    .bind(q.member_id)
    .bind(q.member_id)
    .bind(&q.action)
    .bind(&q.action)
    .bind(&kind)
    .bind(&kind)
    .bind(from)
    .bind(from)
    .bind(to)
    .bind(to)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(db)
    .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

/// The department's members, for choosing whose actions to see: id, first and last name,
/// username. Needs `audit.view`.
pub async fn actors(ctx: &Ctx, db: &MySqlPool) -> AppResult<Vec<(Uuid, String, String, String)>> {
    ctx.require(AUDIT_VIEW)?;
    Ok(sqlx::query_as(
        "SELECT id, first_name, last_name, username FROM users WHERE organization_id = ?
          ORDER BY last_name, first_name, username",
    )
    .bind(ctx.org_id)
    .fetch_all(db)
    .await?)
}

/// The names the log's ids stand for in the caller's department: members and roles.
pub async fn names(ctx: &Ctx, db: &MySqlPool) -> AppResult<super::words::Names> {
    ctx.require(AUDIT_VIEW)?;
    let members: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, first_name, last_name FROM users WHERE organization_id = ?")
            .bind(ctx.org_id)
            .fetch_all(db)
            .await?;
    let roles: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM roles WHERE organization_id = ?")
            .bind(ctx.org_id)
            .fetch_all(db)
            .await?;
    Ok(super::words::Names {
        members: members
            .into_iter()
            .map(|(id, first, last)| (id, format!("{first} {last}").trim().to_string()))
            .collect(),
        roles: roles.into_iter().collect(),
    })
}
