//! The request context: who is calling, for which organization, with which permissions. Built
//! only from a verified access token and the database (user status, live session, roles), in one
//! query. The organization in every service call comes from here, never from the request.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use uuid::Uuid;

use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::members::rules::MemberStatus;
use crate::state::AppState;

pub const ACCESS_COOKIE: &str = "logbook_access";
pub const REFRESH_COOKIE: &str = "logbook_refresh";

/// Member statuses that may sign in (their words, from `MemberStatus`).
pub const SIGN_IN_STATUSES: &[&str] = &[
    MemberStatus::Active.as_str(),
    MemberStatus::Probationary.as_str(),
    MemberStatus::Leave.as_str(),
    MemberStatus::Retired.as_str(),
];

/// Whether a member with this status may sign in.
pub fn may_sign_in(status: MemberStatus) -> bool {
    SIGN_IN_STATUSES.contains(&status.as_str())
}

/// `SIGN_IN_STATUSES` as one value for SQL: `FIND_IN_SET(u.status, ?)` bound to this keeps the
/// list in one place.
pub fn sign_in_status_set() -> String {
    SIGN_IN_STATUSES.join(",")
}

#[derive(Debug, Clone)]
pub struct Ctx {
    pub user_id: Uuid,
    pub org_id: super::OrgId,
    pub session_id: Uuid,
    pub username: String,
    pub permissions: BTreeSet<String>,
    pub must_change_password: bool,
    /// The department requires two-factor sign-in of this member's role and they have not
    /// turned it on: like `must_change_password`, only enrolling is open to them.
    pub two_factor_due: bool,
    pub timezone: String,
    pub ip: Option<String>,
    /// Unread in-app notifications, for the page header (loaded with everything else).
    pub unread: u64,
    /// The features (`Module::feature` keys) the department turned off.
    pub features_off: BTreeSet<String>,
    /// The department lets every member see each other's email and phone (the station's call
    /// list); otherwise only holders of `users.view_contact` do.
    pub contact_directory_open: bool,
    /// How the department writes dates and times, and prints.
    pub locale: crate::time::Locale,
}

impl Ctx {
    /// Whether the department has the feature `key` on (every feature is, until turned off).
    pub fn feature_on(&self, key: &str) -> bool {
        !self.features_off.contains(key)
    }

    /// Whether this member sees other members' email and (unless they keep it to officers)
    /// phone: holders of `users.view_contact` always; everyone who sees the member list when
    /// the department's directory is open.
    pub fn sees_directory(&self) -> bool {
        self.has(super::permissions::USERS_VIEW_CONTACT)
            || (self.contact_directory_open && self.has(super::permissions::MEMBERS_VIEW))
    }

    /// The department's zone and way of writing dates and times, for showing a moment.
    pub fn local(&self) -> crate::time::Local {
        crate::time::Local::new(&self.timezone, self.locale)
    }

    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    pub fn require(&self, permission: &str) -> AppResult<()> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden_permission(permission))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            org_id: self.org_id,
            user_id: Some(self.user_id),
            label: self.username.clone(),
            ip: self.ip.clone(),
        }
    }
}

/// A caller who may still have to change their password: only change-password, logout, me and
/// refresh take this; every other route takes `Ctx`, which refuses such a caller.
pub struct SessionCtx(pub Ctx);

pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
}

fn bearer_or_cookie(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim().to_string());
    }
    CookieJar::from_headers(headers)
        .get(ACCESS_COOKIE)
        .map(|c| c.value().to_string())
}

#[derive(sqlx::FromRow)]
struct CtxRow {
    username: String,
    status: MemberStatus,
    must_change_password: bool,
    timezone: String,
    org_active: bool,
    require_two_factor: bool,
    has_two_factor: bool,
    perms: Option<String>,
    live: bool,
    unread: i64,
    settings: String,
}

/// The context's columns (`u` the member, `o` the organization; the session's family and the
/// member's and organization's ids bound in that order).
const CTX_COLUMNS: &str = "u.username, u.status, u.must_change_password, o.timezone,
        o.active AS org_active, o.require_two_factor, o.settings,
        EXISTS (SELECT 1 FROM two_factor_secrets t
                 WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS has_two_factor,
        (SELECT GROUP_CONCAT(DISTINCT rp.permission)
           FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE ur.user_id = u.id) AS perms,
        EXISTS (SELECT 1 FROM refresh_tokens r
                 WHERE r.family_id = ? AND r.user_id = u.id
                   AND r.revoked_at IS NULL AND r.expires_at > UTC_TIMESTAMP(6)) AS live,
        (SELECT COUNT(*) FROM notification_logs n
          WHERE n.recipient_id = u.id AND n.read_at IS NULL) AS unread";

fn ctx_sql(extra: Option<&str>) -> String {
    let extra = extra.map(|e| format!(", {e}")).unwrap_or_default();
    format!(
        "SELECT {CTX_COLUMNS}{extra} FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE u.id = ? AND u.organization_id = ?"
    )
}

async fn load(parts: &Parts, state: &AppState) -> AppResult<Ctx> {
    Ok(load_with(parts, state, None).await?.0)
}

/// The session's context, and with it in the same statement `extra` columns of the same member
/// (`u`) and organization (`o`) for a route that needs them (`/auth/me`): one round trip.
/// `extra` is SQL written in the code, never input.
pub async fn load_with(
    parts: &Parts,
    state: &AppState,
    extra: Option<&'static str>,
) -> AppResult<(Ctx, sqlx::mysql::MySqlRow)> {
    use sqlx::FromRow;
    let token = bearer_or_cookie(&parts.headers)
        .ok_or_else(|| AppError::Unauthorized("sign in first".into()))?;
    let claims = state
        .keys
        .verify_access(&token)
        .ok_or_else(|| AppError::Unauthorized("your session is not valid; sign in again".into()))?;
    // Every request's statement is written once, not per request.
    static PLAIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| ctx_sql(None));
    let query = match extra {
        None => sqlx::query(sqlx::AssertSqlSafe(PLAIN.as_str())),
        Some(extra) => sqlx::query(sqlx::AssertSqlSafe(ctx_sql(Some(extra)))),
    };
    let raw = query
        .bind(claims.sid)
        .bind(claims.sub)
        .bind(claims.org)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::Unauthorized("your session has ended".into()))?;
    let row = CtxRow::from_row(&raw)?;
    if !row.live || !row.org_active || !may_sign_in(row.status) {
        return Err(AppError::Unauthorized(
            "your session has ended; sign in again".into(),
        ));
    }
    let permissions: BTreeSet<String> = row
        .perms
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let settings = crate::organization::service::Settings::parse(&row.settings);
    let two_factor_due = row.require_two_factor
        && !row.has_two_factor
        && super::two_factor::GUARDED
            .iter()
            .any(|p| permissions.contains(*p));
    let ctx = Ctx {
        user_id: claims.sub,
        org_id: super::OrgId::confirmed(claims.org),
        session_id: claims.sid,
        username: row.username,
        permissions,
        must_change_password: row.must_change_password,
        two_factor_due,
        timezone: row.timezone,
        ip: client_ip(parts),
        unread: row.unread.max(0) as u64,
        features_off: crate::module::features_off(&row.settings),
        contact_directory_open: settings.contact_directory.unwrap_or_default()
            == crate::organization::service::ContactDirectory::Members,
        locale: settings.locale(),
    };
    Ok((ctx, raw))
}

impl FromRequestParts<AppState> for SessionCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        if let Some(ctx) = parts.extensions.get::<Ctx>() {
            return Ok(SessionCtx(ctx.clone()));
        }
        let ctx = load(parts, state).await?;
        parts.extensions.insert(ctx.clone());
        Ok(SessionCtx(ctx))
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let SessionCtx(ctx) = SessionCtx::from_request_parts(parts, state).await?;
        if ctx.must_change_password {
            return Err(AppError::PasswordChangeRequired);
        }
        if ctx.two_factor_due {
            return Err(AppError::TwoFactorRequired);
        }
        Ok(ctx)
    }
}
