//! Announcements: an officer (`announcements.manage`) posts a message to everyone or to chosen
//! roles; members see it on the dashboard until they dismiss it (or it expires or is withdrawn).
//! Posting also notifies the audience (in-app, and email per their preferences).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::ANNOUNCEMENTS_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::{Page, PageQuery};
use crate::notify::{self, Notice, Notifier, Sent, categories};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Announcement {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    /// `all` or `roles`.
    #[schema(schema_with = audience_schema)]
    pub audience: String,
    pub roles: Vec<RoleRef>,
    pub author_id: Uuid,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Whether the caller has dismissed it.
    pub dismissed: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    title: String,
    body: String,
    audience: String,
    created_by: Uuid,
    author_name: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
    dismissed: bool,
}

pub fn audience_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["all", "roles"])
}

const SELECT: &str = "SELECT a.id, a.title, a.body, a.audience, a.created_by,
        CONCAT(u.first_name, ' ', u.last_name) AS author_name, a.created_at, a.expires_at,
        a.withdrawn_at,
        EXISTS (SELECT 1 FROM announcement_dismissals d
                 WHERE d.announcement_id = a.id AND d.user_id = ?) AS dismissed
   FROM announcements a JOIN users u ON u.id = a.created_by";

/// Addressed to the member: everyone, or one of the member's roles.
const ADDRESSED: &str = "(a.audience = 'all' OR EXISTS (
        SELECT 1 FROM announcement_roles ar JOIN user_roles ur ON ur.role_id = ar.role_id
         WHERE ar.announcement_id = a.id AND ur.user_id = ?))";

async fn with_roles(conn: &mut Conn, rows: Vec<Row>) -> AppResult<Vec<Announcement>> {
    let mut roles: Vec<(Uuid, Uuid, String)> = Vec::new();
    if !rows.is_empty() {
        let mut q = QueryBuilder::new(
            "SELECT ar.announcement_id, r.id, r.name FROM announcement_roles ar
               JOIN roles r ON r.id = ar.role_id WHERE ar.announcement_id IN (",
        );
        let mut sep = q.separated(", ");
        for r in &rows {
            sep.push_bind(r.id);
        }
        q.push(") ORDER BY r.name");
        roles = q.build_query_as().fetch_all(conn).await?;
    }
    Ok(rows
        .into_iter()
        .map(|r| Announcement {
            roles: roles
                .iter()
                .filter(|(a, _, _)| *a == r.id)
                .map(|(_, id, name)| RoleRef {
                    id: *id,
                    name: name.clone(),
                })
                .collect(),
            id: r.id,
            title: r.title,
            body: r.body,
            audience: r.audience,
            author_id: r.created_by,
            author_name: r.author_name,
            created_at: r.created_at,
            expires_at: r.expires_at,
            withdrawn_at: r.withdrawn_at,
            dismissed: r.dismissed,
        })
        .collect())
}

/// What the dashboard shows the caller: addressed to them, current, not dismissed.
pub async fn for_me(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Announcement>> {
    let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "{SELECT} WHERE a.organization_id = ? AND a.withdrawn_at IS NULL
            AND (a.expires_at IS NULL OR a.expires_at > ?) AND {ADDRESSED}
            AND NOT EXISTS (SELECT 1 FROM announcement_dismissals d
                             WHERE d.announcement_id = a.id AND d.user_id = ?)
          ORDER BY a.created_at DESC LIMIT 20"
    )))
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(ctx.user_id)
    .fetch_all(&mut *conn)
    .await?;
    with_roles(conn, rows).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// Officers see every announcement (withdrawn and expired too); members see the current ones
/// addressed to them, dismissed or not.
pub async fn list(ctx: &Ctx, conn: &mut Conn, q: ListQuery) -> AppResult<Page<Announcement>> {
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let manager = ctx.has(ANNOUNCEMENTS_MANAGE);
    let filter = if manager {
        String::new()
    } else {
        format!(
            " AND a.withdrawn_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > ?) \
              AND {ADDRESSED}"
        )
    };
    let now = db::now();
    let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM announcements a WHERE a.organization_id = ?{filter}"
    )))
    .bind(ctx.org_id);
    if !manager {
        count = count.bind(now).bind(ctx.user_id);
    }
    let total = count.fetch_one(&mut *conn).await?;
    let mut rows = sqlx::query_as::<_, Row>(AssertSqlSafe(format!(
        "{SELECT} WHERE a.organization_id = ?{filter}
          ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.user_id)
    .bind(ctx.org_id);
    if !manager {
        rows = rows.bind(now).bind(ctx.user_id);
    }
    let rows = rows
        .bind(per_page)
        .bind(u64::from(page - 1) * u64::from(per_page))
        .fetch_all(&mut *conn)
        .await?;
    Ok(Page {
        items: with_roles(conn, rows).await?,
        page,
        per_page,
        total: total as u64,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnnouncement {
    pub title: String,
    pub body: String,
    /// `all` (default) or `roles`.
    #[serde(default)]
    #[schema(schema_with = audience_schema)]
    pub audience: Option<String>,
    /// With `audience: roles`: the roles it is for.
    #[serde(default)]
    pub role_ids: Vec<Uuid>,
    /// Hidden from the dashboard after this time.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Also send it as a notification (in-app, and email per preferences). Default true.
    #[serde(default)]
    pub notify: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Posted {
    pub announcement: Announcement,
    pub notified: Sent,
}

pub async fn post(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: NewAnnouncement,
) -> AppResult<Posted> {
    ctx.require(ANNOUNCEMENTS_MANAGE)?;
    let mut errors = Vec::new();
    let title = input.title.trim().to_string();
    if title.is_empty() {
        errors.push(FieldError::new("title", "enter a title"));
    } else if title.chars().count() > 200 {
        errors.push(FieldError::new("title", "must be at most 200 characters"));
    }
    let body = input.body.trim().to_string();
    if body.is_empty() {
        errors.push(FieldError::new("body", "enter the message"));
    } else if body.chars().count() > 10_000 {
        errors.push(FieldError::new("body", "must be at most 10,000 characters"));
    }
    let audience = input.audience.unwrap_or_else(|| "all".into());
    let mut role_ids = input.role_ids.clone();
    role_ids.sort();
    role_ids.dedup();
    match audience.as_str() {
        "all" if !role_ids.is_empty() => errors.push(FieldError::new(
            "role_ids",
            "roles are only for an announcement to chosen roles",
        )),
        "all" => {}
        "roles" if role_ids.is_empty() => {
            errors.push(FieldError::new("role_ids", "choose at least one role"))
        }
        "roles" => {
            let mut q = QueryBuilder::new("SELECT COUNT(*) FROM roles WHERE organization_id = ");
            q.push_bind(ctx.org_id);
            q.push(" AND id IN (");
            let mut sep = q.separated(", ");
            for id in &role_ids {
                sep.push_bind(*id);
            }
            q.push(")");
            let found: i64 = q.build_query_scalar().fetch_one(&mut **tx).await?;
            if found as usize != role_ids.len() {
                errors.push(FieldError::new(
                    "role_ids",
                    "one of the roles does not exist",
                ));
            }
        }
        _ => errors.push(FieldError::new("audience", "must be all or roles")),
    }
    let now = db::now();
    if let Some(at) = input.expires_at
        && at <= now
    {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO announcements (id, organization_id, title, body, audience, created_by,
            created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&title)
    .bind(&body)
    .bind(&audience)
    .bind(ctx.user_id)
    .bind(now)
    .bind(input.expires_at.map(db::trunc))
    .execute(&mut **tx)
    .await?;
    for role in &role_ids {
        sqlx::query("INSERT INTO announcement_roles (announcement_id, role_id) VALUES (?, ?)")
            .bind(id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("announcement.posted", "announcement", id).changes(serde_json::json!({
            "title": {"to": title}, "audience": {"to": audience},
            "role_ids": {"to": role_ids}, "expires_at": {"to": input.expires_at},
        })),
    )
    .await?;
    let mut notified = Sent::default();
    if input.notify.unwrap_or(true) {
        let recipients: Vec<Uuid> = sqlx::query_scalar(
            "SELECT u.id FROM users u
              WHERE u.organization_id = ?
                AND FIND_IN_SET(u.status, ?)
                AND (? = 'all' OR EXISTS (
                      SELECT 1 FROM announcement_roles ar JOIN user_roles ur
                        ON ur.role_id = ar.role_id
                       WHERE ar.announcement_id = ? AND ur.user_id = u.id))",
        )
        .bind(ctx.org_id)
        .bind(crate::auth::ctx::sign_in_status_set())
        .bind(&audience)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        notified = notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &recipients,
            &Notice {
                category: categories::ANNOUNCEMENTS,
                subject: title.clone(),
                body: body.clone(),
                link: Some("/announcements".into()),
                dedupe_key: Some(format!("announcement:{id}")),
            },
        )
        .await?;
    }
    let announcement = get(ctx, tx, id).await?;
    Ok(Posted {
        announcement,
        notified,
    })
}

/// One announcement the caller may see (officers: any of the organization's).
pub async fn get(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Announcement> {
    let manager = ctx.has(ANNOUNCEMENTS_MANAGE);
    let filter = if manager {
        String::new()
    } else {
        format!(" AND {ADDRESSED}")
    };
    let mut q = sqlx::query_as::<_, Row>(AssertSqlSafe(format!(
        "{SELECT} WHERE a.id = ? AND a.organization_id = ?{filter}"
    )))
    .bind(ctx.user_id)
    .bind(id)
    .bind(ctx.org_id);
    if !manager {
        q = q.bind(ctx.user_id);
    }
    let row = q
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(with_roles(conn, vec![row]).await?.remove(0))
}

/// Hides it from the caller's dashboard. The member's own view state: not audited.
pub async fn dismiss(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
    get(ctx, tx, id).await?;
    sqlx::query(
        "INSERT IGNORE INTO announcement_dismissals (announcement_id, user_id, dismissed_at)
         VALUES (?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.user_id)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes it off every dashboard (it stays in the list for officers, marked withdrawn).
pub async fn withdraw(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Announcement> {
    ctx.require(ANNOUNCEMENTS_MANAGE)?;
    let current = get(ctx, tx, id).await?;
    if current.withdrawn_at.is_some() {
        return Err(AppError::Conflict(
            "this announcement is already withdrawn".into(),
        ));
    }
    let now = db::now();
    db::transition(
        tx,
        sqlx::query(
            "UPDATE announcements SET withdrawn_at = ?
              WHERE id = ? AND organization_id = ? AND withdrawn_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(ctx.org_id),
        "this announcement has just been withdrawn by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("announcement.withdrawn", "announcement", id)
            .changes(serde_json::json!({"withdrawn_at": {"from": null, "to": now}})),
    )
    .await?;
    get(ctx, tx, id).await
}
