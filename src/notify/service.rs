//! `notify`: the one call modules use to tell members something, and the inbox and preferences
//! behind it. Everything is scoped by the organization of the caller's session.

use crate::auth::OrgId;
use crate::members::rules::MemberStatus;
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::categories;
use super::mail;
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};

/// What to tell members. `link` is a path in the app (`/members/…`) the notification opens.
/// `dedupe_key` stamps a reminder: a member never gets two notifications with the same key, so
/// a job may re-run, restart or see the clock jump without sending anything twice.
#[derive(Debug, Clone)]
pub struct Notice {
    pub category: &'static str,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Sent {
    /// In-app notifications created.
    pub notified: u64,
    /// Emails put in the outbox.
    pub emails_queued: u64,
    /// Recipients skipped because they already had this reminder.
    pub already_sent: u64,
}

const SUBJECT_MAX: usize = 200;

/// What `notify` needs besides the caller's transaction: the address members open, for the
/// links in emails. Held in `AppState`; a service that tells members something takes this, not
/// the whole state.
#[derive(Clone)]
pub struct Notifier {
    public_url: std::sync::Arc<str>,
}

impl Notifier {
    pub fn new(public_url: &str) -> Notifier {
        Notifier {
            // The configuration has already dropped a trailing slash.
            public_url: public_url.into(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Recipient {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    wants_email: Option<bool>,
}

/// Creates an in-app notification for each recipient (members of `org_id` only; anyone else is
/// ignored) and queues an email for those whose preference says so, in the caller's transaction:
/// the change and what it announces commit together. End with `Mailer::commit_and_kick` (or
/// `web::finish_form`, which uses it) to send at once; otherwise the outbox job sends within a
/// minute.
pub async fn notify(
    notifier: &Notifier,
    tx: &mut Tx<'_>,
    org_id: OrgId,
    recipients: &[Uuid],
    notice: &Notice,
) -> AppResult<Sent> {
    let category = categories::find(notice.category).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("unknown category {}", notice.category))
    })?;
    let mut unique: Vec<Uuid> = recipients.to_vec();
    unique.sort();
    unique.dedup();
    let mut sent = Sent::default();
    if unique.is_empty() {
        return Ok(sent);
    }
    let org_name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(org_id)
        .fetch_one(&mut **tx)
        .await?;
    let email_on = mail::is_configured(tx, org_id).await?;
    let subject = mail::fit(notice.subject.trim(), SUBJECT_MAX);
    let now = db::now();
    for chunk in unique.chunks(500) {
        let mut q = QueryBuilder::new(
            "SELECT u.id, u.email, u.first_name, u.last_name,
                    COALESCE(p.email, d.email) AS wants_email
               FROM users u
               LEFT JOIN notification_preferences p ON p.user_id = u.id AND p.category = ",
        );
        q.push_bind(category.key);
        q.push(
            " LEFT JOIN notification_defaults d ON d.organization_id = u.organization_id
                 AND d.category = ",
        );
        q.push_bind(category.key);
        q.push(" WHERE u.organization_id = ");
        q.push_bind(org_id);
        q.push(" AND u.status <> ");
        q.push_bind(MemberStatus::Archived);
        q.push(" AND u.id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        let mut rows: Vec<Recipient> = q.build_query_as().fetch_all(&mut **tx).await?;
        if let Some(key) = &notice.dedupe_key {
            let mut q = QueryBuilder::new(
                "SELECT recipient_id FROM notification_logs WHERE organization_id = ",
            );
            q.push_bind(org_id);
            q.push(" AND dedupe_key = ");
            q.push_bind(key);
            q.push(" AND recipient_id IN (");
            let mut sep = q.separated(", ");
            for r in &rows {
                sep.push_bind(r.id);
            }
            q.push(")");
            let done: HashSet<Uuid> = if rows.is_empty() {
                HashSet::new()
            } else {
                q.build_query_scalar::<Uuid>()
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .collect()
            };
            let before = rows.len();
            rows.retain(|r| !done.contains(&r.id));
            sent.already_sent += (before - rows.len()) as u64;
        }
        if rows.is_empty() {
            continue;
        }
        let mut emails = Vec::new();
        let mut q = QueryBuilder::new(
            "INSERT INTO notification_logs (id, organization_id, recipient_id, category, subject,
                message, action_url, dedupe_key, emailed, created_at) ",
        );
        q.push_values(&rows, |mut b, r| {
            let id = db::new_id();
            let wants = category.email_required || r.wants_email.unwrap_or(category.email_default);
            let emailed = email_on && wants && !r.email.is_empty();
            if emailed {
                emails.push((id, r));
            }
            b.push_bind(id)
                .push_bind(org_id)
                .push_bind(r.id)
                .push_bind(category.key)
                .push_bind(subject.clone())
                .push_bind(notice.body.clone())
                .push_bind(notice.link.clone())
                .push_bind(notice.dedupe_key.clone())
                .push_bind(emailed)
                .push_bind(now);
        });
        q.build().execute(&mut **tx).await?;
        sent.notified += rows.len() as u64;
        let mut queued = Vec::with_capacity(emails.len());
        for (notification_id, r) in emails {
            let name = format!("{} {}", r.first_name, r.last_name);
            let body = mail::render_notification(&mail::NotificationMail {
                org_name: &org_name,
                recipient_name: &name,
                subject: &subject,
                body: &notice.body,
                link: notice
                    .link
                    .as_deref()
                    .map(|l| format!("{}{l}", notifier.public_url)),
                preferences_url: format!("{}/account/notifications", notifier.public_url),
            })?;
            queued.push(mail::Outgoing {
                notification_id: Some(notification_id),
                to_address: r.email.clone(),
                to_name: Some(name),
                subject: format!("[{org_name}] {subject}"),
                text: body.0,
                html: body.1,
            });
        }
        sent.emails_queued += mail::enqueue(tx, org_id, &queued).await?;
    }
    Ok(sent)
}

/// Members of the organization who hold `permission` and may sign in: who "the administrators"
/// are for a job's alert.
pub async fn holders_of(conn: &mut Conn, org_id: OrgId, permission: &str) -> AppResult<Vec<Uuid>> {
    let ids = sqlx::query_scalar(
        "SELECT DISTINCT u.id FROM users u
           JOIN user_roles ur ON ur.user_id = u.id
           JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE u.organization_id = ? AND rp.permission = ?
            AND FIND_IN_SET(u.status, ?)",
    )
    .bind(org_id)
    .bind(permission)
    .bind(crate::auth::ctx::sign_in_status_set())
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// The inbox: each member's own notifications.

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub category: String,
    pub subject: String,
    pub message: String,
    pub action_url: Option<String>,
    pub emailed: bool,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Only unread notifications.
    #[serde(default)]
    pub unread: Option<bool>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    #[serde(flatten)]
    pub page: Page<Notification>,
    pub unread: u64,
}

pub async fn inbox(ctx: &Ctx, conn: &mut Conn, q: InboxQuery) -> AppResult<Inbox> {
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let unread_only = q.unread.unwrap_or(false);
    let filter = if unread_only {
        " AND read_at IS NULL"
    } else {
        ""
    };
    let (total, unread): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(read_at IS NULL), 0) AS SIGNED)
           FROM notification_logs WHERE recipient_id = ? AND organization_id = ?{filter}"
    )))
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut *conn)
    .await?;
    let items = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, category, subject, message, action_url, emailed, created_at, read_at
           FROM notification_logs WHERE recipient_id = ? AND organization_id = ?{filter}
          ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    // Counted over the filter: with `unread` it is the total, otherwise the unread ones.
    let unread = if unread_only { total } else { unread };
    Ok(Inbox {
        page: Page {
            items,
            page,
            per_page,
            total: total as u64,
        },
        unread: unread as u64,
    })
}

pub async fn unread_count(ctx: &Ctx, conn: &mut Conn) -> AppResult<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs
          WHERE recipient_id = ? AND organization_id = ? AND read_at IS NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(conn)
    .await?;
    Ok(n as u64)
}

/// Marks one of the caller's notifications read (someone else's answers 404). Reading is the
/// member's own view state, not a change to the department's records, so it is not audited.
pub async fn mark_read(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Notification> {
    sqlx::query(
        "UPDATE notification_logs SET read_at = COALESCE(read_at, ?)
          WHERE id = ? AND recipient_id = ? AND organization_id = ?",
    )
    .bind(db::now())
    .bind(id)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    let n = sqlx::query_as(
        "SELECT id, category, subject, message, action_url, emailed, created_at, read_at
           FROM notification_logs WHERE id = ? AND recipient_id = ? AND organization_id = ?",
    )
    .bind(id)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    n.ok_or(AppError::NotFound)
}

pub async fn mark_all_read(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<u64> {
    let done = sqlx::query(
        "UPDATE notification_logs SET read_at = ?
          WHERE recipient_id = ? AND organization_id = ? AND read_at IS NULL",
    )
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Preferences: per member and category, over the organization's defaults.

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preference {
    pub category: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// In-app notifications are always on.
    pub in_app: bool,
    pub email: bool,
    /// What applies when the member has not chosen: the organization's default.
    pub email_default: bool,
    /// The member chose `email` (rather than following the default).
    pub customised: bool,
    /// Email cannot be turned off for this category.
    pub email_required: bool,
}

/// `{ "category": true|false|null }`: on, off, or back to the organization's default.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesInput {
    #[schema(value_type = Object)]
    pub email: BTreeMap<String, Option<bool>>,
}

async fn org_defaults(conn: &mut Conn, org_id: OrgId) -> AppResult<BTreeMap<String, bool>> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT category, email FROM notification_defaults WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn preferences(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Preference>> {
    let defaults = org_defaults(&mut *conn, ctx.org_id).await?;
    let own: BTreeMap<String, bool> = sqlx::query_as::<_, (String, bool)>(
        "SELECT category, email FROM notification_preferences
          WHERE user_id = ? AND organization_id = ?",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(categories::offered()
        .map(|c| {
            let default = c.email_required || *defaults.get(c.key).unwrap_or(&c.email_default);
            let chosen = own.get(c.key).copied();
            Preference {
                category: c.key,
                label: c.label,
                description: c.description,
                in_app: true,
                email: c.email_required || chosen.unwrap_or(default),
                email_default: default,
                customised: chosen.is_some() && !c.email_required,
                email_required: c.email_required,
            }
        })
        .collect())
}

fn check_choices(input: &PreferencesInput) -> AppResult<()> {
    let mut errors = Vec::new();
    for (key, value) in &input.email {
        match categories::find(key) {
            None => errors.push(crate::error::FieldError::new(
                format!("email.{key}"),
                "is not a notification category",
            )),
            Some(c) if c.email_required && *value == Some(false) => {
                errors.push(crate::error::FieldError::new(
                    format!("email.{key}"),
                    format!("{} emails cannot be turned off", c.label),
                ))
            }
            Some(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Sets the caller's own choices (every member may; nobody may set another's).
pub async fn set_preferences(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: PreferencesInput,
) -> AppResult<Vec<Preference>> {
    check_choices(&input)?;
    let before = preferences(ctx, tx).await?;
    store_choices(tx, ctx.org_id, Some(ctx.user_id), &input).await?;
    let after = preferences(ctx, tx).await?;
    let changes = email_changes(
        before.iter().map(|p| (p.category, p.email, p.customised)),
        after.iter().map(|p| (p.category, p.email, p.customised)),
    );
    if changes.as_object().is_some_and(|m| !m.is_empty()) {
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("notification_preferences.updated", "user", ctx.user_id).changes(changes),
        )
        .await?;
    }
    Ok(after)
}

/// One member's choices (`user` given) or the organization's defaults (`user` None): `Some`
/// sets, `None` goes back to what applies without a choice.
async fn store_choices(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    user: Option<Uuid>,
    input: &PreferencesInput,
) -> AppResult<()> {
    let now = db::now();
    for (key, value) in &input.email {
        let q = match (user, value) {
            (Some(user), Some(on)) => sqlx::query(
                "INSERT INTO notification_preferences
                    (organization_id, user_id, category, email, updated_at)
                 VALUES (?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE email = VALUES(email), updated_at = VALUES(updated_at)",
            )
            .bind(org_id)
            .bind(user)
            .bind(key)
            .bind(on)
            .bind(now),
            (Some(user), None) => sqlx::query(
                "DELETE FROM notification_preferences
                  WHERE organization_id = ? AND user_id = ? AND category = ?",
            )
            .bind(org_id)
            .bind(user)
            .bind(key),
            (None, Some(on)) => sqlx::query(
                "INSERT INTO notification_defaults (organization_id, category, email, updated_at)
                 VALUES (?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE email = VALUES(email), updated_at = VALUES(updated_at)",
            )
            .bind(org_id)
            .bind(key)
            .bind(on)
            .bind(now),
            (None, None) => sqlx::query(
                "DELETE FROM notification_defaults WHERE organization_id = ? AND category = ?",
            )
            .bind(org_id)
            .bind(key),
        };
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The audit entry's changes: `email.<category>` from → to, for what changed; for a member's
/// choices also whether they follow the department default.
fn email_changes<'a>(
    before: impl Iterator<Item = (&'a str, bool, bool)>,
    after: impl Iterator<Item = (&'a str, bool, bool)>,
) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for ((category, from, own_before), (_, to, own_after)) in before.zip(after) {
        if from != to || own_before != own_after {
            let mut change = serde_json::json!({"from": from, "to": to});
            if own_before != own_after {
                change["following_default"] = serde_json::json!(!own_after);
            }
            map.insert(format!("email.{category}"), change);
        }
    }
    serde_json::Value::Object(map)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DefaultPreference {
    pub category: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub email: bool,
    pub email_required: bool,
}

pub async fn defaults(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<DefaultPreference>> {
    ctx.require(SETTINGS_MANAGE)?;
    let set = org_defaults(conn, ctx.org_id).await?;
    Ok(categories::offered()
        .map(|c| DefaultPreference {
            category: c.key,
            label: c.label,
            description: c.description,
            email: c.email_required || *set.get(c.key).unwrap_or(&c.email_default),
            email_required: c.email_required,
        })
        .collect())
}

/// The organization-wide default (`settings.manage`); `null` goes back to the built-in one.
pub async fn set_defaults(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: PreferencesInput,
) -> AppResult<Vec<DefaultPreference>> {
    ctx.require(SETTINGS_MANAGE)?;
    check_choices(&input)?;
    let before = defaults(ctx, tx).await?;
    store_choices(tx, ctx.org_id, None, &input).await?;
    let after = defaults(ctx, tx).await?;
    let changes = email_changes(
        before.iter().map(|d| (d.category, d.email, false)),
        after.iter().map(|d| (d.category, d.email, false)),
    );
    if changes.as_object().is_some_and(|m| !m.is_empty()) {
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("notification_defaults.updated", "organization", ctx.org_id)
                .changes(changes),
        )
        .await?;
    }
    Ok(after)
}
