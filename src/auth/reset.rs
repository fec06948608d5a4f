//! Password reset by email, and the codes it shares with invitations (`members::invitations`).
//! The answer to a request is the same whether or not the address belongs to anyone; the link
//! carries a single-use code stored only as its SHA-256, valid for 30 minutes (an invitation's,
//! 7 days). Requests are throttled per client address and per account. Completing a reset
//! ends every session of the account.

use chrono::Duration;
use rand::RngCore;
use serde::Deserialize;
use uuid::Uuid;

use super::password::NewPassword;
use super::sessions;
use super::tokens::hash_token;
use crate::audit::{self, Actor, Entry, Severity};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::notify::mail::{self, Letter, Outgoing};
use crate::notify::{self, Notice, categories};
use crate::state::AppState;

pub const TOKEN_LIFETIME_MINUTES: i64 = 30;
/// Requests per client address per hour.
pub const PER_IP_PER_HOUR: i64 = 10;
/// Reset emails per account per hour.
pub const PER_ACCOUNT_PER_HOUR: i64 = 3;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
    /// The organization's short name, on a server that hosts several.
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Account {
    id: Uuid,
    organization_id: super::OrgId,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    org_name: String,
}

/// Letters and digits nobody misreads on paper or a phone screen (no 0/O, 1/I/L, U/V).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";

/// A new single-use code of `len` characters from `CODE_ALPHABET`, in groups of four joined by
/// dashes ("K7QM-4XPA-…"), for a link or to be typed from a printed sheet.
pub fn new_code(len: usize) -> String {
    let mut out = String::with_capacity(len + len / 4);
    let mut rng = rand::rngs::OsRng;
    let mut i = 0;
    while i < len {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - 256 % CODE_ALPHABET.len();
        if usize::from(byte[0]) >= limit {
            continue;
        }
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(
            CODE_ALPHABET[usize::from(byte[0]) % CODE_ALPHABET.len()],
        ));
        i += 1;
    }
    out
}

/// A code as stored (hashed): without spaces or dashes, in capitals, so "k7qm 4xpa" typed from
/// paper is the same code as "K7QM-4XPA".
pub fn canonical(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Reset links sent before codes were canonical were stored as typed: look a code up both ways.
fn hashes(code: &str) -> (String, String) {
    let code = code.trim();
    (hash_token(code), hash_token(&canonical(code)))
}

/// Characters in a reset link's code.
const RESET_CODE_LEN: usize = 24;

/// Sends a reset link to every account with this address (in the named organization, if
/// given) that may sign in and whose organization has email set up. Answers the same either way.
pub async fn request(state: &AppState, ip: Option<&str>, input: ResetRequest) -> AppResult<()> {
    let email = input.email.trim().to_string();
    if email.is_empty() || email.len() > 254 || !email.contains('@') {
        return Err(AppError::field("email", "enter your email address"));
    }
    let ip = ip.unwrap_or("unknown");
    let now = db::now();
    let mut tx = state.db.begin().await?;
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM password_reset_requests WHERE ip_address = ? AND requested_at > ?",
    )
    .bind(ip)
    .bind(now - Duration::hours(1))
    .fetch_one(&mut *tx)
    .await?;
    if recent >= PER_IP_PER_HOUR {
        return Err(AppError::TooManyRequests(
            "too many reset requests from this address; try again in an hour".into(),
        ));
    }
    sqlx::query("INSERT INTO password_reset_requests (ip_address, requested_at) VALUES (?, ?)")
        .bind(ip)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let slug = input
        .organization
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let accounts: Vec<Account> = sqlx::query_as(
        "SELECT u.id, u.organization_id, u.username, u.first_name, u.last_name, u.email,
                o.name AS org_name
           FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE u.email = ? AND o.active AND (? IS NULL OR o.slug = ?)
            AND FIND_IN_SET(u.status, ?)",
    )
    .bind(&email)
    .bind(&slug)
    .bind(&slug)
    .bind(crate::auth::ctx::sign_in_status_set())
    .fetch_all(&mut *tx)
    .await?;
    for account in accounts {
        if !mail::is_configured(&mut tx, account.organization_id).await? {
            tracing::info!(org = %account.organization_id,
                "password reset asked for, but the organization has no email set up");
            continue;
        }
        let sent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM password_reset_tokens
              WHERE user_id = ? AND purpose = 'reset' AND created_at > ?",
        )
        .bind(account.id)
        .bind(now - Duration::hours(1))
        .fetch_one(&mut *tx)
        .await?;
        if sent >= PER_ACCOUNT_PER_HOUR {
            continue;
        }
        let token = new_code(RESET_CODE_LEN);
        let token_id = db::new_id();
        sqlx::query(
            "INSERT INTO password_reset_tokens (id, organization_id, user_id, token_hash,
                created_at, expires_at, requested_ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token_id)
        .bind(account.organization_id)
        .bind(account.id)
        .bind(hash_token(&canonical(&token)))
        .bind(now)
        .bind(now + Duration::minutes(TOKEN_LIFETIME_MINUTES))
        .bind(ip)
        .execute(&mut *tx)
        .await?;
        let link = format!(
            "{}/password-reset/confirm?token={token}",
            state.config.public_url
        );
        let (text, html) = Letter {
            org_name: account.org_name.clone(),
            greeting: format!("Hello {} {},", account.first_name, account.last_name),
            title: "Reset your Logbook password".into(),
            paragraphs: vec![
                format!(
                    "Someone (we hope you) asked to reset the password of the account \
                     \"{}\". The link below works once, for {TOKEN_LIFETIME_MINUTES} minutes.",
                    account.username
                ),
                "If you did not ask for this, ignore this email: your password stays as it is."
                    .into(),
            ],
            link: Some(("Choose a new password".into(), link)),
            footer: format!("Sent by Logbook for {}.", account.org_name),
        }
        .render()?;
        mail::enqueue(
            &mut tx,
            account.organization_id,
            &[Outgoing {
                notification_id: None,
                to_address: account.email.clone(),
                to_name: Some(format!("{} {}", account.first_name, account.last_name)),
                subject: format!("[{}] Reset your password", account.org_name),
                text,
                html,
            }],
        )
        .await?;
        let actor = Actor {
            org_id: account.organization_id,
            user_id: None,
            label: "password reset by email".into(),
            ip: Some(ip.to_string()),
        };
        audit::record(
            &mut tx,
            &actor,
            Entry::new("auth.password_reset_requested", "member", account.id)
                .changes(serde_json::json!({"token_id": token_id})),
        )
        .await?;
    }
    state.mailer.commit_and_kick(tx).await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    organization_id: super::OrgId,
    user_id: Uuid,
    purpose: String,
    expires_at: chrono::DateTime<chrono::Utc>,
    used_at: Option<chrono::DateTime<chrono::Utc>>,
    username: String,
    status: crate::members::rules::MemberStatus,
}

pub fn invalid_link() -> AppError {
    AppError::field(
        "token",
        "this reset link is not valid or has expired; ask for a new one",
    )
}

/// What a code is for: a reset the member asked for, or an officer's invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Invitation,
}

impl Purpose {
    fn of(s: &str) -> Purpose {
        if s == "invitation" {
            Purpose::Invitation
        } else {
            Purpose::Reset
        }
    }
}

/// A good code: whose account it opens and what for.
#[derive(Debug, Clone)]
pub struct Holder {
    pub username: String,
    pub first_name: String,
}

/// Whether a link or code is still good, and whose it is (for the page that asks for the new
/// password: an invitation greets the member by name and shows their username).
pub async fn check(state: &AppState, token: &str) -> AppResult<Holder> {
    let (raw, canon) = hashes(token);
    let mut conn = state.db.acquire().await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT u.username, u.first_name
           FROM password_reset_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash IN (?, ?) AND t.used_at IS NULL AND t.expires_at > ?
            AND FIND_IN_SET(u.status, ?)",
    )
    .bind(raw)
    .bind(canon)
    .bind(db::now())
    .bind(crate::auth::ctx::sign_in_status_set())
    .fetch_optional(&mut *conn)
    .await?;
    let (username, first_name) = row.ok_or_else(invalid_link)?;
    Ok(Holder {
        username,
        first_name,
    })
}

/// Sets the password chosen with a reset link or an invitation's code; the account's username.
pub async fn confirm(state: &AppState, ip: Option<&str>, input: ResetConfirm) -> AppResult<String> {
    let token = input.token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(invalid_link());
    }
    let (raw, canon) = hashes(token);
    let mut tx = state.db.begin().await?;
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT t.id, t.organization_id, t.user_id, t.purpose, t.expires_at, t.used_at,
                u.username, u.status
           FROM password_reset_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash IN (?, ?) FOR UPDATE",
    )
    .bind(raw)
    .bind(canon)
    .fetch_optional(&mut *tx)
    .await?;
    let now = db::now();
    let Some(row) = row.filter(|r| {
        r.used_at.is_none() && r.expires_at > now && crate::auth::ctx::may_sign_in(r.status)
    }) else {
        return Err(invalid_link());
    };
    let new = NewPassword::parse("new_password", &input.new_password, &row.username)?;
    let hash = state.hasher.hash(new.into_inner()).await?;
    sqlx::query(
        "UPDATE users SET password_hash = ?, must_change_password = FALSE,
                password_changed_at = ?, failed_login_attempts = 0, locked_until = NULL,
                updated_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(hash)
    .bind(now)
    .bind(now)
    .bind(row.user_id)
    .bind(row.organization_id)
    .execute(&mut *tx)
    .await?;
    // This link and any other outstanding one for the account are spent.
    sqlx::query(
        "UPDATE password_reset_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
    )
    .bind(now)
    .bind(row.user_id)
    .execute(&mut *tx)
    .await?;
    sessions::revoke_all_for_user(&mut tx, row.organization_id, row.user_id).await?;
    let actor = Actor {
        org_id: row.organization_id,
        user_id: Some(row.user_id),
        label: row.username.clone(),
        ip: ip.map(str::to_string),
    };
    if Purpose::of(&row.purpose) == Purpose::Invitation {
        audit::record(
            &mut tx,
            &actor,
            Entry::new("auth.invitation_accepted", "member", row.user_id)
                .changes(serde_json::json!({"token_id": row.id})),
        )
        .await?;
        tx.commit().await?;
        return Ok(row.username);
    }
    audit::record(
        &mut tx,
        &actor,
        Entry::new("auth.password_reset", "member", row.user_id)
            .severity(Severity::Warning)
            .changes(serde_json::json!({"token_id": row.id, "sessions_ended": true})),
    )
    .await?;
    notify::notify(
        &state.notifier,
        &mut tx,
        row.organization_id,
        &[row.user_id],
        &Notice {
            category: categories::ACCOUNT,
            subject: "Your password was reset".into(),
            body: "Your Logbook password was just changed with a reset link sent by email, and \
                   every session was signed out. If this was not you, tell an administrator at \
                   once."
                .into(),
            link: Some("/account".into()),
            dedupe_key: Some(format!("password-reset:{}", row.id)),
        },
    )
    .await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(row.username)
}
