//! Two-factor sign-in with an authenticator app (TOTP, RFC 6238): a member enrols by scanning a
//! QR code and confirming one code, and gets ten single-use recovery codes; from then on a right
//! password yields a short-lived challenge that a current code (or a recovery code) completes.
//! Wrong codes count against the same five tries as wrong passwords. A department may require
//! it for members who manage settings or members; until they enrol, such a member can do
//! nothing else. Every change is audited in its transaction.

use crate::auth::OrgId;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;
use uuid::Uuid;

use super::Ctx;
use super::password::Hasher;
use super::permissions::{MEMBERS_MANAGE, SETTINGS_MANAGE};
use super::service::{self, SignedIn};
use super::sessions;
use crate::audit::{self, Actor, Entry, Severity};
use crate::crypto::FieldCipher;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};

/// How long a passed password waits for its code.
pub const CHALLENGE_MINUTES: i64 = 5;
const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Logbook";

/// The permissions whose holders a department may oblige to use two-factor sign-in.
pub const GUARDED: &[&str] = &[SETTINGS_MANAGE, MEMBERS_MANAGE];

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn totp(secret_base32: &str) -> AppResult<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|e| anyhow::anyhow!("stored two-factor secret is not base32: {e}"))?;
    // SHA-1, six digits, 30 s, one step either side: what every authenticator app expects.
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("two-factor secret: {e}")))
}

/// The time step a six-digit `code` belongs to, if it is one of the secret's current ones.
fn matching_step(secret_base32: &str, code: &str) -> AppResult<Option<u64>> {
    Ok(totp(secret_base32)?.check(code, now_secs()))
}

fn now_secs() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

/// What a member typed: six digits, or a recovery code (`xxxxx-xxxxx`); spaces and dashes
/// are forgiven. Anything else is a field error on `code`.
enum Code {
    Totp(String),
    Recovery(String),
}

fn parse_code(raw: &str) -> AppResult<Code> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if compact.len() == 6 && compact.chars().all(|c| c.is_ascii_digit()) {
        return Ok(Code::Totp(compact));
    }
    if compact.len() == 10 && compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(Code::Recovery(compact.to_ascii_lowercase()));
    }
    Err(AppError::field(
        "code",
        "enter the 6 digits your authenticator app shows, or one of your recovery codes",
    ))
}

/// Ten codes like `k3m9q-x7b2d` (no look-alike characters), and their hashes.
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes = random_bytes::<10>();
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

async fn store_recovery_codes(tx: &mut Tx<'_>, ctx: &Ctx) -> AppResult<Vec<String>> {
    sqlx::query("DELETE FROM two_factor_recovery_codes WHERE organization_id = ? AND user_id = ?")
        .bind(ctx.org_id)
        .bind(ctx.user_id)
        .execute(&mut **tx)
        .await?;
    let codes = new_recovery_codes();
    for code in &codes {
        sqlx::query(
            "INSERT INTO two_factor_recovery_codes (id, organization_id, user_id, code_hash,
                 created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(ctx.org_id)
        .bind(ctx.user_id)
        .bind(sha256_hex(&code.replace('-', "")))
        .bind(db::now())
        .execute(&mut **tx)
        .await?;
    }
    Ok(codes)
}

/// Whether the member signs in with a second factor (enrolled and confirmed).
pub async fn enabled(db: &MySqlPool, user_id: Uuid) -> AppResult<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM two_factor_secrets WHERE user_id = ? AND confirmed_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?
        > 0)
}

/// A single-use challenge for the member whose password was right; only its hash is stored.
pub async fn issue_challenge(db: &MySqlPool, org_id: OrgId, user_id: Uuid) -> AppResult<String> {
    let token = hex::encode(random_bytes::<32>());
    sqlx::query(
        "INSERT INTO two_factor_challenges (token_hash, organization_id, user_id, expires_at)
         VALUES (?, ?, ?, ?)",
    )
    .bind(sha256_hex(&token))
    .bind(org_id)
    .bind(user_id)
    .bind(db::now() + Duration::minutes(CHALLENGE_MINUTES))
    .execute(db)
    .await?;
    Ok(token)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteInput {
    /// The challenge the password step answered with.
    pub challenge: String,
    /// Six digits from the authenticator app, or a recovery code.
    pub code: String,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    username: String,
    status: crate::members::rules::MemberStatus,
    must_change_password: bool,
    org_active: bool,
}

fn start_again() -> AppError {
    AppError::Unauthorized(
        "this sign-in has expired or was already used; start again with your password".into(),
    )
}

/// Completes a sign-in with a code. The code is checked once the account has an attempt left
/// (reserved before checking, as passwords are); of two requests with one challenge, one
/// signs in and the other gets 409.
pub async fn complete(
    db: &MySqlPool,
    cipher: &FieldCipher,
    input: CompleteInput,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<SignedIn> {
    let code = parse_code(&input.code)?;
    if input.challenge.is_empty() || input.challenge.len() > 128 {
        return Err(start_again());
    }
    let hash = sha256_hex(input.challenge.trim());
    let found: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT user_id, expires_at FROM two_factor_challenges WHERE token_hash = ?",
    )
    .bind(&hash)
    .fetch_optional(db)
    .await?;
    let Some((user_id, expires_at)) = found else {
        return Err(start_again());
    };
    if expires_at <= db::now() {
        return Err(start_again());
    }
    if !service::reserve_account(db, user_id).await? {
        return Err(AppError::Unauthorized(
            "the account is locked for a while after repeated failures; try again later".into(),
        ));
    }
    let mut tx = db.begin().await?;
    // The challenge row, then the member's secret row, locked: of two requests with one
    // challenge the second waits and sees it used; code checks of one member take turns, each
    // seeing the step the one before it used. (Locking reads see the latest rows.)
    let (org_id, used_at, expires_at): (OrgId, Option<DateTime<Utc>>, DateTime<Utc>) =
        sqlx::query_as(
            "SELECT organization_id, used_at, expires_at FROM two_factor_challenges
              WHERE token_hash = ? FOR UPDATE",
        )
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
    let secret: Option<(Vec<u8>, Option<u64>)> = sqlx::query_as(
        "SELECT secret_encrypted, last_used_step FROM two_factor_secrets
          WHERE user_id = ? AND organization_id = ? AND confirmed_at IS NOT NULL FOR UPDATE",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let member: MemberRow = sqlx::query_as(
        "SELECT u.username, u.status, u.must_change_password, o.active AS org_active
           FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE u.id = ? AND u.organization_id = ?",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_one(&mut *tx)
    .await?;
    if used_at.is_some() {
        drop(tx);
        service::release_account(db, user_id).await?;
        return Err(AppError::Conflict(
            "this sign-in was just completed (a second tap?); you are signed in on the first"
                .into(),
        ));
    }
    let Some((secret, last_used_step)) = secret.filter(|_| {
        expires_at > db::now() && member.org_active && super::ctx::may_sign_in(member.status)
    }) else {
        drop(tx);
        service::release_account(db, user_id).await?;
        return Err(start_again());
    };
    let accepted = match &code {
        Code::Totp(digits) => {
            let secret = cipher.decrypt(&secret)?;
            match matching_step(&secret, digits)? {
                Some(step) if last_used_step.is_none_or(|last| step > last) => {
                    sqlx::query(
                        "UPDATE two_factor_secrets SET last_used_step = ? WHERE user_id = ?",
                    )
                    .bind(step)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    true
                }
                // Wrong, or a code already used: a code works once.
                _ => false,
            }
        }
        Code::Recovery(code) => {
            sqlx::query(
                "UPDATE two_factor_recovery_codes SET used_at = ?
                  WHERE organization_id = ? AND user_id = ? AND code_hash = ? AND used_at IS NULL",
            )
            .bind(db::now())
            .bind(org_id)
            .bind(user_id)
            .bind(sha256_hex(code))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        }
    };
    let actor = Actor {
        org_id,
        user_id: Some(user_id),
        label: member.username.clone(),
        ip: ip.map(str::to_string),
    };
    if !accepted {
        drop(tx);
        let mut tx = db.begin().await?;
        service::record_failure(
            &mut tx,
            user_id,
            org_id,
            &member.username,
            ip,
            true,
            "auth.two_factor_failed",
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::Unauthorized(
            "that code is not right (or was already used); try the current one".into(),
        ));
    }
    db::transition(
        &mut tx,
        sqlx::query(
            "UPDATE two_factor_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
        )
        .bind(db::now())
        .bind(&hash),
        "this sign-in was just completed",
    )
    .await?;
    sqlx::query(
        "UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = ?
          WHERE id = ?",
    )
    .bind(db::now())
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let issued = sessions::start(&mut tx, org_id, user_id, ip, user_agent).await?;
    if let Code::Recovery(_) = code {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM two_factor_recovery_codes
              WHERE organization_id = ? AND user_id = ? AND used_at IS NULL",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &actor,
            Entry::new("auth.recovery_code_used", "member", user_id)
                .severity(Severity::Warning)
                .changes(serde_json::json!({"recovery_codes_left": left})),
        )
        .await?;
    }
    audit::record(
        &mut tx,
        &actor,
        Entry::new("auth.login", "session", issued.family_id).changes(serde_json::json!({
            "two_factor": match code { Code::Totp(_) => "authenticator", Code::Recovery(_) => "recovery code" },
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        org_id,
        user_id,
        issued,
        must_change_password: member.must_change_password,
    })
}

// ---------------------------------------------------------------------------------------------
// Enrolment

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Two-factor sign-in is on for this member.
    pub enabled: bool,
    /// Enrolment was started and waits for its first code.
    pub pending: bool,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub recovery_codes_left: i64,
    /// The department requires it of members who manage settings or members.
    pub department_requires: bool,
    /// The department's rule applies to this member (they hold such a permission).
    pub required_for_me: bool,
}

pub fn guarded(ctx: &Ctx) -> bool {
    GUARDED.iter().any(|p| ctx.has(p))
}

pub async fn status(ctx: &Ctx, conn: &mut Conn) -> AppResult<Status> {
    let row: Option<(Option<DateTime<Utc>>,)> = sqlx::query_as(
        "SELECT confirmed_at FROM two_factor_secrets WHERE user_id = ? AND organization_id = ?",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut *conn)
    .await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM two_factor_recovery_codes
          WHERE organization_id = ? AND user_id = ? AND used_at IS NULL",
    )
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .fetch_one(&mut *conn)
    .await?;
    let requires: bool =
        sqlx::query_scalar("SELECT require_two_factor FROM organizations WHERE id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut *conn)
            .await?;
    let confirmed_at = row.and_then(|r| r.0);
    Ok(Status {
        enabled: confirmed_at.is_some(),
        pending: row.is_some() && confirmed_at.is_none(),
        confirmed_at,
        recovery_codes_left: if confirmed_at.is_some() { left } else { 0 },
        department_requires: requires,
        required_for_me: requires && guarded(ctx),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Setup {
    /// The secret as text, for typing into an app by hand (base32).
    pub secret: String,
    /// The `otpauth://` link the QR code holds.
    pub otpauth_uri: String,
    /// The QR code, as an SVG image.
    pub qr_svg: String,
}

fn otpauth_uri(secret: &str, account: &str, department: &str) -> String {
    let label = format!("{ISSUER} ({department}):{account}");
    format!(
        "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period=30",
        crate::web::url_encode(&label).replace('/', "%2F"),
        crate::web::url_encode(ISSUER)
    )
}

fn qr_svg(uri: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The set-up in progress (a secret not yet confirmed), shown again after a wrong first code so
/// that the app that already scanned it keeps working.
pub async fn pending_setup(
    ctx: &Ctx,
    conn: &mut Conn,
    cipher: &FieldCipher,
) -> AppResult<Option<Setup>> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT secret_encrypted FROM two_factor_secrets
          WHERE user_id = ? AND organization_id = ? AND confirmed_at IS NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let secret = cipher.decrypt(&stored)?;
    let department: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&mut *conn)
        .await?;
    let otpauth_uri = otpauth_uri(&secret, &ctx.username, &department);
    Ok(Some(Setup {
        qr_svg: qr_svg(&otpauth_uri)?,
        secret,
        otpauth_uri,
    }))
}

/// Starts (or starts over) enrolment: a new secret, not yet in force.
pub async fn start_setup(ctx: &Ctx, tx: &mut Tx<'_>, cipher: &FieldCipher) -> AppResult<Setup> {
    let existing: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT confirmed_at FROM two_factor_secrets
          WHERE user_id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    if existing.flatten().is_some() {
        return Err(AppError::Conflict(
            "two-factor sign-in is already on; turn it off first to move it to another app".into(),
        ));
    }
    let secret = totp_rs::Secret::from(random_bytes::<20>().to_vec()).to_base32();
    sqlx::query(
        "INSERT INTO two_factor_secrets (user_id, organization_id, secret_encrypted, created_at)
         VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE secret_encrypted = VALUES(secret_encrypted),
             created_at = VALUES(created_at), last_used_step = NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(cipher.encrypt(&secret)?)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.two_factor_setup_started", "member", ctx.user_id),
    )
    .await?;
    let department: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&mut **tx)
        .await?;
    let otpauth_uri = otpauth_uri(&secret, &ctx.username, &department);
    Ok(Setup {
        qr_svg: qr_svg(&otpauth_uri)?,
        secret,
        otpauth_uri,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// A current six-digit code from the app.
    pub code: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Shown once: each signs in once when the phone is not at hand.
    pub recovery_codes: Vec<String>,
}

/// Turns two-factor sign-in on with the first code the app shows; answers the recovery codes.
pub async fn confirm(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    cipher: &FieldCipher,
    input: ConfirmInput,
) -> AppResult<RecoveryCodes> {
    let Code::Totp(digits) = parse_code(&input.code)? else {
        return Err(AppError::field(
            "code",
            "enter the 6 digits your authenticator app shows",
        ));
    };
    let pending: Option<(Vec<u8>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT secret_encrypted, confirmed_at FROM two_factor_secrets
          WHERE user_id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    let secret = match pending {
        None => {
            return Err(AppError::Conflict(
                "start the set-up first: there is no code to confirm".into(),
            ));
        }
        Some((_, Some(_))) => {
            return Err(AppError::Conflict(
                "two-factor sign-in is already on".into(),
            ));
        }
        Some((secret, None)) => cipher.decrypt(&secret)?,
    };
    let Some(step) = matching_step(&secret, &digits)? else {
        return Err(AppError::field(
            "code",
            "is not the code the app shows now; check the phone's clock and try the next one",
        ));
    };
    db::transition(
        tx,
        sqlx::query(
            "UPDATE two_factor_secrets SET confirmed_at = ?, last_used_step = ?
              WHERE user_id = ? AND organization_id = ? AND confirmed_at IS NULL",
        )
        .bind(db::now())
        .bind(step)
        .bind(ctx.user_id)
        .bind(ctx.org_id),
        "two-factor sign-in was just turned on",
    )
    .await?;
    let recovery_codes = store_recovery_codes(tx, ctx).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.two_factor_enabled", "member", ctx.user_id)
            .changes(serde_json::json!({"recovery_codes": RECOVERY_CODES})),
    )
    .await?;
    Ok(RecoveryCodes { recovery_codes })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    /// The member's current password.
    pub password: String,
}

async fn check_password(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    password: &str,
) -> AppResult<()> {
    let hash: Option<String> = sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    if password.is_empty() || !hasher.verify(password.to_string(), hash).await? {
        return Err(AppError::field("password", "is not your current password"));
    }
    Ok(())
}

/// Turns it off (the password proves it is the member). Refused while the department requires
/// it of this member.
pub async fn disable(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    input: PasswordInput,
) -> AppResult<()> {
    check_password(ctx, tx, hasher, &input.password).await?;
    let requires: bool =
        sqlx::query_scalar("SELECT require_two_factor FROM organizations WHERE id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut **tx)
            .await?;
    if requires && guarded(ctx) {
        return Err(AppError::Conflict(
            "your department requires two-factor sign-in for your role; move it to a new app \
             with the help of another administrator instead"
                .into(),
        ));
    }
    let removed =
        sqlx::query("DELETE FROM two_factor_secrets WHERE user_id = ? AND organization_id = ?")
            .bind(ctx.user_id)
            .bind(ctx.org_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if removed == 0 {
        return Err(AppError::Conflict("two-factor sign-in is not on".into()));
    }
    sqlx::query("DELETE FROM two_factor_recovery_codes WHERE organization_id = ? AND user_id = ?")
        .bind(ctx.org_id)
        .bind(ctx.user_id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.two_factor_disabled", "member", ctx.user_id).severity(Severity::Warning),
    )
    .await
}

/// New recovery codes; the old ones stop working.
pub async fn regenerate_recovery_codes(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    input: PasswordInput,
) -> AppResult<RecoveryCodes> {
    check_password(ctx, tx, hasher, &input.password).await?;
    let on: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM two_factor_secrets
          WHERE user_id = ? AND organization_id = ? AND confirmed_at IS NOT NULL",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    if on == 0 {
        return Err(AppError::Conflict("two-factor sign-in is not on".into()));
    }
    let recovery_codes = store_recovery_codes(tx, ctx).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.recovery_codes_regenerated", "member", ctx.user_id),
    )
    .await?;
    Ok(RecoveryCodes { recovery_codes })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// Require two-factor sign-in of members holding `settings.manage` or `members.manage`.
    pub required: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Policy {
    pub required: bool,
    /// Members the rule applies to who have not turned it on yet (they can do nothing else
    /// until they do).
    pub not_enrolled: Vec<String>,
}

pub async fn policy(ctx: &Ctx, conn: &mut Conn) -> AppResult<Policy> {
    ctx.require(SETTINGS_MANAGE)?;
    let required: bool =
        sqlx::query_scalar("SELECT require_two_factor FROM organizations WHERE id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut *conn)
            .await?;
    let not_enrolled: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT CONCAT(u.first_name, ' ', u.last_name) FROM users u
           JOIN user_roles ur ON ur.user_id = u.id
           JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE u.organization_id = ? AND FIND_IN_SET(u.status, ?)
            AND rp.permission IN (?, ?)
            AND NOT EXISTS (SELECT 1 FROM two_factor_secrets t
                             WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
          ORDER BY 1",
    )
    .bind(ctx.org_id)
    .bind(super::ctx::sign_in_status_set())
    .bind(SETTINGS_MANAGE)
    .bind(MEMBERS_MANAGE)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Policy {
        required,
        not_enrolled,
    })
}

pub async fn set_policy(ctx: &Ctx, tx: &mut Tx<'_>, input: PolicyInput) -> AppResult<Policy> {
    ctx.require(SETTINGS_MANAGE)?;
    db::transition(
        tx,
        sqlx::query(
            "UPDATE organizations SET require_two_factor = ?, updated_at = ?
              WHERE id = ? AND require_two_factor <> ?",
        )
        .bind(input.required)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(input.required),
        if input.required {
            "two-factor sign-in is already required"
        } else {
            "two-factor sign-in is already optional"
        },
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "organization.two_factor_policy_changed",
            "organization",
            ctx.org_id,
        )
        .severity(Severity::Warning)
        .changes(serde_json::json!({"require_two_factor": input.required,
                                        "applies_to": GUARDED})),
    )
    .await?;
    policy(ctx, tx).await
}

/// An administrator (`members.manage`) turns off a member's two-factor sign-in, e.g. after a
/// lost phone and lost recovery codes; the member enrols again at their next sign-in.
pub async fn reset_for_member(ctx: &Ctx, tx: &mut Tx<'_>, member: Uuid) -> AppResult<()> {
    ctx.require(MEMBERS_MANAGE)?;
    if member == ctx.user_id {
        return Err(AppError::Forbidden(
            "another administrator resets your own two-factor sign-in".into(),
        ));
    }
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = ? AND organization_id = ?")
            .bind(member)
            .bind(ctx.org_id)
            .fetch_one(&mut **tx)
            .await?;
    if exists == 0 {
        return Err(AppError::NotFound);
    }
    let removed =
        sqlx::query("DELETE FROM two_factor_secrets WHERE user_id = ? AND organization_id = ?")
            .bind(member)
            .bind(ctx.org_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if removed == 0 {
        return Err(AppError::Conflict(
            "this member does not use two-factor sign-in".into(),
        ));
    }
    sqlx::query("DELETE FROM two_factor_recovery_codes WHERE organization_id = ? AND user_id = ?")
        .bind(ctx.org_id)
        .bind(member)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("auth.two_factor_reset", "member", member).severity(Severity::Warning),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_or_a_recovery_code() {
        assert!(matches!(parse_code(" 123 456 "), Ok(Code::Totp(c)) if c == "123456"));
        assert!(matches!(parse_code("K3M9Q-X7B2D"), Ok(Code::Recovery(c)) if c == "k3m9qx7b2d"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "k3m9q-x7b2",
            "k3m9q-x7b2d!",
            "１２３４５６",
        ] {
            assert!(parse_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_code_from_the_secret_matches_its_step_only() {
        let secret = totp_rs::Secret::from(random_bytes::<20>().to_vec()).to_base32();
        let t = totp(&secret).unwrap();
        let now = now_secs();
        let code = t.generate(now).to_string();
        assert_eq!(t.check(&code, now), Some(now / 30));
        let old = t.generate(now - 120).to_string();
        assert_eq!(t.check(&old, now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_readable() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
        );
    }
}
