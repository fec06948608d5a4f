//! Signing in (with account lockout and the per-address throttle), changing a password, and
//! describing the caller.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use uuid::Uuid;

use super::password::{Hasher, NewPassword};
use super::sessions::{self, Issued};
use super::{Ctx, SIGN_IN_STATUSES};
use crate::audit::alerts::{self, NewAlert};
use crate::audit::{self, Actor, Entry, Severity};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::roles::service::{MemberRole, roles_of};

pub const ACCOUNT_LOCK_FAILURES: i32 = 5;
pub const ACCOUNT_LOCK_MINUTES: i64 = 15;
pub const IP_BLOCK_FAILURES: i64 = 50;
pub const IP_BLOCK_MINUTES: i64 = 15;
/// How many accounts one identifier may match across organizations (a member of two
/// departments on one host may use one e-mail address in both).
const MAX_CANDIDATES: i64 = 5;

const GENERIC_FAILURE: &str = "the username or password is wrong, or the account is \
    temporarily locked after repeated failures";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// Username or e-mail address.
    pub username: String,
    pub password: String,
    /// The organization's slug. Needed only on a host serving several departments where the
    /// same username or e-mail is used in more than one; without it the first match wins.
    pub organization: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: Uuid,
    organization_id: Uuid,
    username: String,
    password_hash: Option<String>,
    status: String,
    locked_until: Option<DateTime<Utc>>,
    must_change_password: bool,
    org_active: bool,
}

pub struct SignedIn {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub issued: Issued,
    pub must_change_password: bool,
}

pub async fn login(
    db: &MySqlPool,
    hasher: &Hasher,
    input: LoginInput,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<SignedIn> {
    let identifier = input.username.trim();
    if identifier.is_empty() || input.password.is_empty() {
        return Err(AppError::Validation(
            [
                identifier
                    .is_empty()
                    .then(|| crate::error::FieldError::new("username", "is required")),
                input
                    .password
                    .is_empty()
                    .then(|| crate::error::FieldError::new("password", "is required")),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ));
    }
    if identifier.chars().count() > 254 || input.password.chars().count() > 1024 {
        return Err(AppError::Unauthorized(GENERIC_FAILURE.into()));
    }
    let ip_key = ip.unwrap_or("unknown");
    let blocked: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT blocked_until FROM ip_blocks WHERE ip_address = ? AND blocked_until > ?",
    )
    .bind(ip_key)
    .bind(db::now())
    .fetch_optional(db)
    .await?;
    if blocked.is_some() {
        return Err(AppError::TooManyRequests(
            "too many failed sign-ins from this address; try again in 15 minutes".into(),
        ));
    }

    let candidates: Vec<Candidate> = sqlx::query_as(
        "SELECT u.id, u.organization_id, u.username, u.password_hash, u.status,
                u.locked_until, u.must_change_password,
                o.active AS org_active
           FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE (u.username = ? OR u.email = ?) AND (? IS NULL OR o.slug = ?)
          ORDER BY o.created_at, u.id LIMIT ?",
    )
    .bind(identifier)
    .bind(identifier)
    .bind(&input.organization)
    .bind(&input.organization)
    .bind(MAX_CANDIDATES)
    .fetch_all(db)
    .await?;

    let now = db::now();
    let mut winner = None;
    let mut failed = Vec::new();
    if candidates.is_empty() {
        // Same cost as a real check, so timing does not reveal whether the account exists.
        hasher.verify(input.password.clone(), None).await?;
    }
    for c in candidates {
        let locked = c.locked_until.is_some_and(|t| t > now);
        if locked {
            hasher.verify(input.password.clone(), None).await?;
            continue;
        }
        let ok = hasher
            .verify(input.password.clone(), c.password_hash.clone())
            .await?;
        if ok && c.org_active && SIGN_IN_STATUSES.contains(&c.status.as_str()) {
            winner = Some(c);
            break;
        }
        if !ok {
            failed.push(c);
        }
    }

    if let Some(c) = winner {
        let mut tx = db.begin().await?;
        sqlx::query(
            "UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = ?
              WHERE id = ?",
        )
        .bind(now)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        let issued = sessions::start(&mut tx, c.organization_id, c.id, ip, user_agent).await?;
        let actor = Actor {
            org_id: c.organization_id,
            user_id: Some(c.id),
            label: c.username.clone(),
            ip: ip.map(str::to_string),
        };
        audit::record(
            &mut tx,
            &actor,
            Entry::new("auth.login", "session", issued.family_id),
        )
        .await?;
        tx.commit().await?;
        return Ok(SignedIn {
            org_id: c.organization_id,
            user_id: c.id,
            issued,
            must_change_password: c.must_change_password,
        });
    }

    let mut tx = db.begin().await?;
    for c in failed {
        record_account_failure(&mut tx, &c, ip).await?;
    }
    record_ip_failure(&mut tx, ip_key).await?;
    tx.commit().await?;
    Err(AppError::Unauthorized(GENERIC_FAILURE.into()))
}

async fn record_account_failure(tx: &mut Tx<'_>, c: &Candidate, ip: Option<&str>) -> AppResult<()> {
    // Re-read under a lock so that concurrent failures all count.
    let current: i32 =
        sqlx::query_scalar("SELECT failed_login_attempts FROM users WHERE id = ? FOR UPDATE")
            .bind(c.id)
            .fetch_one(&mut **tx)
            .await?;
    let attempts = current + 1;
    let lock = attempts >= ACCOUNT_LOCK_FAILURES;
    let now = db::now();
    sqlx::query("UPDATE users SET failed_login_attempts = ?, locked_until = ? WHERE id = ?")
        .bind(if lock { 0 } else { attempts })
        .bind(lock.then(|| now + Duration::minutes(ACCOUNT_LOCK_MINUTES)))
        .bind(c.id)
        .execute(&mut **tx)
        .await?;
    let actor = Actor {
        org_id: c.organization_id,
        user_id: None,
        label: "anonymous".into(),
        ip: ip.map(str::to_string),
    };
    audit::record(
        tx,
        &actor,
        Entry::new("auth.login_failed", "member", c.id)
            .severity(if lock {
                Severity::Warning
            } else {
                Severity::Info
            })
            .changes(serde_json::json!({"consecutive_failures": attempts, "locked": lock})),
    )
    .await?;
    if lock {
        alerts::raise(
            tx,
            c.organization_id,
            NewAlert {
                alert_type: "account_locked",
                severity: Severity::Warning,
                message: format!(
                    "{} was locked for {ACCOUNT_LOCK_MINUTES} minutes after \
                     {ACCOUNT_LOCK_FAILURES} failed sign-ins in a row",
                    c.username
                ),
                user_id: Some(c.id),
                ip,
            },
        )
        .await?;
    }
    Ok(())
}

/// Counts a failure against the address; at the threshold within an hour the address is
/// blocked and every organization on the host is alerted (it is aimed at the whole box).
async fn record_ip_failure(tx: &mut Tx<'_>, ip: &str) -> AppResult<()> {
    let now = db::now();
    sqlx::query("INSERT INTO login_failures (ip_address, attempted_at) VALUES (?, ?)")
        .bind(ip)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_failures WHERE ip_address = ? AND attempted_at > ?",
    )
    .bind(ip)
    .bind(now - Duration::hours(1))
    .fetch_one(&mut **tx)
    .await?;
    if recent < IP_BLOCK_FAILURES {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO ip_blocks (ip_address, blocked_until) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE blocked_until = VALUES(blocked_until)",
    )
    .bind(ip)
    .bind(now + Duration::minutes(IP_BLOCK_MINUTES))
    .execute(&mut **tx)
    .await?;
    let orgs: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM organizations WHERE active")
        .fetch_all(&mut **tx)
        .await?;
    for org in orgs {
        alerts::raise(
            tx,
            org,
            NewAlert {
                alert_type: "ip_blocked",
                severity: Severity::Warning,
                message: format!(
                    "{recent} failed sign-ins from {ip} within an hour; the address is \
                     blocked for {IP_BLOCK_MINUTES} minutes"
                ),
                user_id: None,
                ip: Some(ip),
            },
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password, ends every session of theirs (other devices are signed out at
/// once) and starts a new one for this device.
pub async fn change_password(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    input: ChangePassword,
    user_agent: Option<&str>,
) -> AppResult<Issued> {
    let (username, hash): (String, Option<String>) = sqlx::query_as(
        "SELECT username, password_hash FROM users WHERE id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    let new = NewPassword::parse("new_password", &input.new_password, &username)?;
    if !hasher.verify(input.current_password.clone(), hash).await? {
        return Err(AppError::field(
            "current_password",
            "is not your current password",
        ));
    }
    if input.current_password == input.new_password {
        return Err(AppError::field(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash = hasher.hash(new.into_inner()).await?;
    sqlx::query(
        "UPDATE users SET password_hash = ?, must_change_password = FALSE, password_changed_at = ?,
                updated_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(new_hash)
    .bind(db::now())
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    sessions::revoke_all_for_user(tx, ctx.org_id, ctx.user_id).await?;
    let issued =
        sessions::start(tx, ctx.org_id, ctx.user_id, ctx.ip.as_deref(), user_agent).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.password_changed", "member", ctx.user_id)
            .changes(serde_json::json!({"other_sessions_ended": true})),
    )
    .await?;
    Ok(issued)
}

pub async fn logout(tx: &mut Tx<'_>, actor: &Actor, family_id: Uuid) -> AppResult<()> {
    sessions::revoke_family(tx, family_id).await?;
    audit::record(tx, actor, Entry::new("auth.logout", "session", family_id)).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationSummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub timezone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub status: String,
    pub must_change_password: bool,
    pub organization: OrganizationSummary,
    pub roles: Vec<MemberRole>,
    pub permissions: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct MeRow {
    first_name: String,
    last_name: String,
    email: String,
    status: String,
    org_name: String,
    org_slug: String,
}

pub async fn me(ctx: &Ctx, conn: &mut Conn) -> AppResult<Me> {
    let row: MeRow = sqlx::query_as(
        "SELECT u.first_name, u.last_name, u.email, u.status, o.name AS org_name,
                o.slug AS org_slug
           FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE u.id = ? AND u.organization_id = ?",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut *conn)
    .await?;
    let roles = roles_of(conn, ctx.org_id, ctx.user_id).await?;
    Ok(Me {
        id: ctx.user_id,
        username: ctx.username.clone(),
        first_name: row.first_name,
        last_name: row.last_name,
        email: row.email,
        status: row.status,
        must_change_password: ctx.must_change_password,
        organization: OrganizationSummary {
            id: ctx.org_id,
            name: row.org_name,
            slug: row.org_slug,
            timezone: ctx.timezone.clone(),
        },
        roles,
        permissions: ctx.permissions.iter().cloned().collect(),
    })
}
