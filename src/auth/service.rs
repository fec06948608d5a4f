//! Signing in (with account lockout and the per-address throttle), changing a password, and
//! describing the caller.

use crate::auth::OrgId;
use crate::members::rules::MemberStatus;
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
use crate::roles::service::{MemberRole, roles_of};

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
    organization_id: super::OrgId,
    username: String,
    password_hash: Option<String>,
    status: MemberStatus,
    locked_until: Option<DateTime<Utc>>,
    must_change_password: bool,
    org_active: bool,
}

pub struct SignedIn {
    pub org_id: OrgId,
    pub user_id: Uuid,
    pub issued: Issued,
    pub must_change_password: bool,
}

/// What a right password leads to: a session, or (the member has two-factor sign-in) a
/// challenge that a code from their authenticator completes (`two_factor::complete`).
pub enum LoginOutcome {
    SignedIn(SignedIn),
    TwoFactor { challenge: String },
}

pub async fn login(
    db: &MySqlPool,
    hasher: &Hasher,
    input: LoginInput,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<LoginOutcome> {
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
    let now = db::now();
    let block: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT blocked_until FROM ip_blocks WHERE ip_address = ?")
            .bind(ip_key)
            .fetch_optional(db)
            .await?;
    if block.is_some_and(|until| until > now) {
        return Err(too_many_from_address());
    }
    // Failures count for an hour, and a block that has run out starts the count afresh.
    let since = block.map_or(now - Duration::hours(1), |until| {
        until.max(now - Duration::hours(1))
    });
    // The attempt is counted against the address before its password is hashed, so that a
    // hundred guesses sent at once meet the same limit as a hundred sent one by one.
    let reservation = reserve_address(db, ip_key, since).await?;
    let outcome = attempt(db, hasher, &input, identifier, ip, user_agent).await;
    match &outcome {
        // A failure keeps its reservation: it is the failure's record.
        Err(AppError::Unauthorized(_)) => block_address_if_due(db, ip_key, since).await?,
        _ => release_address(db, reservation).await?,
    }
    outcome
}

fn too_many_from_address() -> AppError {
    AppError::TooManyRequests(format!(
        "too many failed sign-ins from this address; try again in {IP_BLOCK_MINUTES} minutes"
    ))
}

/// Writes this attempt into the address's tally and refuses it when it is past the limit. The
/// rank is taken from the row's own id, so of many attempts arriving together exactly as many
/// as the limit allows go on.
async fn reserve_address(db: &MySqlPool, ip: &str, since: DateTime<Utc>) -> AppResult<u64> {
    let now = db::now();
    let id = sqlx::query("INSERT INTO login_failures (ip_address, attempted_at) VALUES (?, ?)")
        .bind(ip)
        .bind(now)
        .execute(db)
        .await?
        .last_insert_id();
    let rank: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_failures
          WHERE ip_address = ? AND attempted_at > ? AND id <= ?",
    )
    .bind(ip)
    .bind(since)
    .bind(id)
    .fetch_one(db)
    .await?;
    if rank > IP_BLOCK_FAILURES {
        release_address(db, id).await?;
        return Err(too_many_from_address());
    }
    Ok(id)
}

/// A sign-in that did not fail (it succeeded, or never got as far as a password) does not
/// count against its address.
async fn release_address(db: &MySqlPool, reservation: u64) -> AppResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE id = ?")
        .bind(reservation)
        .execute(db)
        .await?;
    Ok(())
}

/// Reserves one of the account's attempts before its password is checked: the counter goes up
/// only while the account is not locked and has attempts left, so concurrent guesses past the
/// limit are refused unchecked. `false`: none left (locked, or the rest are in flight).
pub(super) async fn reserve_account(db: &MySqlPool, user_id: Uuid) -> AppResult<bool> {
    let matched = sqlx::query(
        "UPDATE users SET failed_login_attempts = failed_login_attempts + 1
          WHERE id = ? AND failed_login_attempts < ?
            AND (locked_until IS NULL OR locked_until <= ?)",
    )
    .bind(user_id)
    .bind(ACCOUNT_LOCK_FAILURES)
    .bind(db::now())
    .execute(db)
    .await?
    .rows_affected();
    Ok(matched == 1)
}

/// Gives back an attempt reserved by `reserve_account` that was not a wrong guess.
pub(super) async fn release_account(db: &MySqlPool, user_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET failed_login_attempts = GREATEST(failed_login_attempts - 1, 0)
          WHERE id = ?",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt itself: the accounts the identifier names, each password checked once.
async fn attempt(
    db: &MySqlPool,
    hasher: &Hasher,
    input: &LoginInput,
    identifier: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<LoginOutcome> {
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
    // A failure counts against an account only when the attempt names that account: its
    // department was given, or no other department on this host has the name. Otherwise five
    // typos in one department would lock out a same-named admin of another; such attempts
    // count against the address alone.
    let named = input.organization.is_some() || candidates.len() == 1;

    let now = db::now();
    let mut winner = None;
    let mut failed = Vec::new();
    if candidates.is_empty() {
        // Same cost as a real check, so timing does not reveal whether the account exists.
        hasher.verify(input.password.clone(), None).await?;
    }
    for c in candidates {
        let open = if named {
            reserve_account(db, c.id).await?
        } else {
            c.locked_until.is_none_or(|t| t <= now)
        };
        if !open {
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
        } else if named {
            // The right password for an account that may not sign in: not a guess.
            release_account(db, c.id).await?;
        }
    }

    if let Some(c) = winner {
        if super::two_factor::enabled(db, c.id).await? {
            // Half way: the password was right, so this attempt is given back, but the counter
            // is not cleared (codes guessed after a known password still lock the account);
            // the code that completes the sign-in clears it.
            if named {
                release_account(db, c.id).await?;
            }
            let challenge = super::two_factor::issue_challenge(db, c.organization_id, c.id).await?;
            return Ok(LoginOutcome::TwoFactor { challenge });
        }
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
        return Ok(LoginOutcome::SignedIn(SignedIn {
            org_id: c.organization_id,
            user_id: c.id,
            issued,
            must_change_password: c.must_change_password,
        }));
    }

    // One transaction per account: each touches its own department's chain only.
    for c in failed {
        let mut tx = db.begin().await?;
        record_account_failure(&mut tx, &c, ip, named).await?;
        tx.commit().await?;
    }
    Err(AppError::Unauthorized(GENERIC_FAILURE.into()))
}

/// Writes a failed attempt into the account's department log; for an attempt that named the
/// account, the one it reserved stays counted and the account locks at the limit.
async fn record_account_failure(
    tx: &mut Tx<'_>,
    c: &Candidate,
    ip: Option<&str>,
    counted: bool,
) -> AppResult<()> {
    record_failure(
        tx,
        c.id,
        c.organization_id,
        &c.username,
        ip,
        counted,
        "auth.login_failed",
    )
    .await
}

/// A failed sign-in step (`action`: a wrong password, or a wrong two-factor code) in the
/// account's department log; when `counted`, its reserved attempt stays counted and the account
/// locks at the limit.
pub(super) async fn record_failure(
    tx: &mut Tx<'_>,
    user_id: Uuid,
    org_id: OrgId,
    username: &str,
    ip: Option<&str>,
    counted: bool,
    action: &'static str,
) -> AppResult<()> {
    let (attempts, locked_until): (i32, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT failed_login_attempts, locked_until FROM users WHERE id = ? FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    let now = db::now();
    let already_locked = locked_until.is_some_and(|t| t > now);
    let lock = counted && !already_locked && attempts >= ACCOUNT_LOCK_FAILURES;
    if lock {
        sqlx::query("UPDATE users SET failed_login_attempts = 0, locked_until = ? WHERE id = ?")
            .bind(now + Duration::minutes(ACCOUNT_LOCK_MINUTES))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    let actor = Actor {
        org_id,
        user_id: None,
        label: "anonymous".into(),
        ip: ip.map(str::to_string),
    };
    let changes = if counted {
        serde_json::json!({"consecutive_failures": attempts, "locked": lock})
    } else {
        serde_json::json!({"counted": false,
            "why": "the sign-in named no department and several departments use this name"})
    };
    audit::record(
        tx,
        &actor,
        Entry::new(action, "member", user_id)
            .severity(if lock {
                Severity::Warning
            } else {
                Severity::Info
            })
            .changes(changes),
    )
    .await?;
    if lock {
        alerts::raise(
            tx,
            org_id,
            NewAlert {
                alert_type: "account_locked",
                severity: Severity::Warning,
                message: format!(
                    "{} was locked for {ACCOUNT_LOCK_MINUTES} minutes after \
                     {ACCOUNT_LOCK_FAILURES} failed sign-ins in a row",
                    username
                ),
                user_id: Some(user_id),
                ip,
            },
        )
        .await?;
    }
    Ok(())
}

/// After a failure: at the threshold within an hour the address is blocked, and every
/// organization on the host is alerted (it is aimed at the whole box) by the one failure that
/// made the block, not by each of those arriving together.
async fn block_address_if_due(db: &MySqlPool, ip: &str, since: DateTime<Utc>) -> AppResult<()> {
    let now = db::now();
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_failures WHERE ip_address = ? AND attempted_at > ?",
    )
    .bind(ip)
    .bind(since)
    .fetch_one(db)
    .await?;
    if recent < IP_BLOCK_FAILURES {
        return Ok(());
    }
    // The address's row exists (run out) before anyone blocks it, so the block itself is one
    // UPDATE that expects it run out: of many failures arriving together, one makes the block
    // and alerts; the rest wait for its row lock and match nothing.
    sqlx::query(
        "INSERT IGNORE INTO ip_blocks (ip_address, blocked_until) VALUES (?, '1970-01-01')",
    )
    .bind(ip)
    .execute(db)
    .await?;
    let until = now + Duration::minutes(IP_BLOCK_MINUTES);
    let mut tx = db.begin().await?;
    let blocked = sqlx::query(
        "UPDATE ip_blocks SET blocked_until = ? WHERE ip_address = ? AND blocked_until <= ?",
    )
    .bind(until)
    .bind(ip)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if blocked {
        // In id order: every writer that takes several departments' chains takes them in the
        // same order.
        let orgs: Vec<super::OrgId> =
            sqlx::query_scalar("SELECT id FROM organizations WHERE active ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        for org in orgs {
            alerts::raise(
                &mut tx,
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
    }
    tx.commit().await?;
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
    pub id: super::OrgId,
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
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub status: MemberStatus,
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
    status: MemberStatus,
    org_name: String,
    org_slug: String,
}

/// What `/auth/me` reads beside the context, in the context's own statement
/// (`ctx::load_with`): the member's names and address, the organization's name and slug, and
/// the member's roles as JSON (ids in hex), highest priority first.
pub const ME_COLUMNS: &str = "u.first_name, u.last_name, u.email, o.name AS org_name,
        o.slug AS org_slug,
        (SELECT JSON_ARRAYAGG(JSON_OBJECT('role_id', HEX(r.id), 'name', r.name, 'slug', r.slug,
                    'is_system', r.is_system,
                    'assigned_at', DATE_FORMAT(ur.assigned_at, '%Y-%m-%d %H:%i:%s.%f'))
                    ORDER BY r.priority DESC, r.name)
           FROM user_roles ur JOIN roles r ON r.id = ur.role_id
          WHERE ur.user_id = u.id AND ur.organization_id = u.organization_id) AS roles_json";

#[derive(sqlx::FromRow)]
struct MeColumns {
    #[sqlx(flatten)]
    row: MeRow,
    roles_json: Option<String>,
}

#[derive(Deserialize)]
struct RoleJson {
    role_id: String,
    name: String,
    slug: String,
    is_system: i64,
    assigned_at: String,
}

/// The caller's own account from the context and the `ME_COLUMNS` of its statement.
pub fn me_from_row(ctx: &Ctx, row: &sqlx::mysql::MySqlRow) -> AppResult<Me> {
    use sqlx::FromRow;
    let cols = MeColumns::from_row(row)?;
    let unreadable = |what: &str| AppError::Internal(anyhow::anyhow!("/auth/me: {what}"));
    let listed: Vec<RoleJson> = match cols.roles_json.as_deref() {
        None => Vec::new(),
        Some(json) => serde_json::from_str(json).map_err(|_| unreadable("roles"))?,
    };
    let mut roles = Vec::with_capacity(listed.len());
    for r in listed {
        roles.push(MemberRole {
            role_id: Uuid::parse_str(&r.role_id).map_err(|_| unreadable("role id"))?,
            name: r.name,
            slug: r.slug,
            is_system: r.is_system != 0,
            assigned_at: chrono::NaiveDateTime::parse_from_str(
                &r.assigned_at,
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .map_err(|_| unreadable("assigned_at"))?
            .and_utc(),
        });
    }
    Ok(me_of(ctx, cols.row, roles))
}

fn me_of(ctx: &Ctx, row: MeRow, roles: Vec<MemberRole>) -> Me {
    Me {
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
    }
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
    Ok(me_of(ctx, row, roles))
}
