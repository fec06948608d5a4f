//! Sessions: a sign-in starts a refresh-token family; each refresh rotates the token within the
//! family; replaying a used token revokes the family and raises a security alert.

use crate::auth::OrgId;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::tokens::{self, REFRESH_TTL_DAYS};
use crate::audit::alerts::{self, NewAlert};
use crate::audit::{self, Actor, Entry, Severity};
use crate::db::{self, Tx};
use crate::error::{AppError, AppResult};

/// A used token presented again within this many seconds is a race between tabs, not a theft.
pub const REUSE_GRACE_SECS: i64 = 10;

pub struct Issued {
    pub family_id: Uuid,
    pub refresh_token: String,
}

async fn insert_token(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    user_id: Uuid,
    family_id: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<String> {
    let token = tokens::new_refresh_token();
    let now = db::now();
    sqlx::query(
        "INSERT INTO refresh_tokens (id, organization_id, user_id, family_id, token_hash,
            created_at, expires_at, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(org_id)
    .bind(user_id)
    .bind(family_id)
    .bind(tokens::hash_token(&token))
    .bind(now)
    .bind(now + Duration::days(REFRESH_TTL_DAYS))
    .bind(ip)
    .bind(user_agent.map(|ua| ua.chars().take(255).collect::<String>()))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

pub async fn start(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    user_id: Uuid,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<Issued> {
    let family_id = db::new_id();
    let refresh_token = insert_token(tx, org_id, user_id, family_id, ip, user_agent).await?;
    Ok(Issued {
        family_id,
        refresh_token,
    })
}

pub async fn revoke_family(tx: &mut Tx<'_>, family_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(db::now())
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends every session of a member at once (their access tokens stop working too, because the
/// context extractor checks the session on every request).
pub async fn revoke_all_for_user(tx: &mut Tx<'_>, org_id: OrgId, user_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = ?
          WHERE user_id = ? AND organization_id = ? AND revoked_at IS NULL",
    )
    .bind(db::now())
    .bind(user_id)
    .bind(org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    organization_id: super::OrgId,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    username: String,
    status: crate::members::rules::MemberStatus,
    must_change_password: bool,
    org_active: bool,
}

pub struct Rotated {
    pub org_id: OrgId,
    pub user_id: Uuid,
    pub must_change_password: bool,
    pub issued: Issued,
}

pub enum Refresh {
    Rotated(Rotated),
    /// The token was not valid; the reason is for logs only.
    Refused,
}

/// Rotates a refresh token. A replayed (already used) token revokes its whole family, raises a
/// security alert and is refused; the caller must commit the transaction in every case.
pub async fn rotate(
    tx: &mut Tx<'_>,
    presented: &str,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<Refresh> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT r.id, r.organization_id, r.user_id, r.family_id, r.expires_at, r.used_at,
                r.revoked_at, u.username, u.status, u.must_change_password,
                o.active AS org_active
           FROM refresh_tokens r
           JOIN users u ON u.id = r.user_id
           JOIN organizations o ON o.id = r.organization_id
          WHERE r.token_hash = ? FOR UPDATE",
    )
    .bind(tokens::hash_token(presented))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(Refresh::Refused);
    };
    if row.revoked_at.is_some() {
        return Ok(Refresh::Refused);
    }
    if let Some(used_at) = row.used_at {
        // Two tabs refreshing at the same moment both present the same token; the loser is
        // refused but the session is not torn down (the winner's new cookie serves both tabs).
        if db::now() - used_at < Duration::seconds(REUSE_GRACE_SECS) {
            tracing::info!(family = %row.family_id, "refresh token reused within grace; refused");
            return Ok(Refresh::Refused);
        }
        revoke_family(tx, row.family_id).await?;
        let actor = Actor {
            org_id: row.organization_id,
            user_id: Some(row.user_id),
            label: row.username.clone(),
            ip: ip.map(str::to_string),
        };
        audit::record(
            tx,
            &actor,
            Entry::new("auth.refresh_reuse", "session", row.family_id)
                .severity(Severity::Critical)
                .changes(serde_json::json!({"session_revoked": true})),
        )
        .await?;
        alerts::raise(
            tx,
            row.organization_id,
            NewAlert {
                alert_type: "refresh_token_reuse",
                severity: Severity::Critical,
                message: format!(
                    "A used sign-in token of {} was presented again; the session was ended. \
                     The token may have been stolen.",
                    row.username
                ),
                user_id: Some(row.user_id),
                ip,
            },
        )
        .await?;
        return Ok(Refresh::Refused);
    }
    if row.expires_at <= db::now() || !row.org_active || !super::ctx::may_sign_in(row.status) {
        return Ok(Refresh::Refused);
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE id = ?")
        .bind(db::now())
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    let refresh_token = insert_token(
        tx,
        row.organization_id,
        row.user_id,
        row.family_id,
        ip,
        user_agent,
    )
    .await?;
    Ok(Refresh::Rotated(Rotated {
        org_id: row.organization_id,
        user_id: row.user_id,
        must_change_password: row.must_change_password,
        issued: Issued {
            family_id: row.family_id,
            refresh_token,
        },
    }))
}

pub fn refused() -> AppError {
    AppError::Unauthorized("the sign-in has expired or was ended; sign in again".into())
}
