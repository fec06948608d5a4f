//! A department's SMTP settings: read (the password never shown back), validated field by
//! field, saved and audited; the wizard's first settings.

use chrono::{DateTime, Utc};
use lettre::Address;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Entry};
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailSettings {
    /// False until an administrator has saved settings: email is then not sent at all.
    pub configured: bool,
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` (implicit, usually port 465) or `none` (a relay on the LAN).
    pub security: String,
    pub username: Option<String>,
    /// Whether a password is stored; the password itself is never returned.
    pub password_set: bool,
    pub from_address: String,
    pub from_name: Option<String>,
    /// Undelivered email is given up after this many hours.
    pub give_up_hours: u32,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An organization's SMTP settings as stored (the password encrypted with the server's key).
/// The setup wizard builds one from its draft to send a test message before the organization
/// exists.
#[derive(sqlx::FromRow, Clone)]
pub struct SettingsRow {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
    pub security: String,
    pub username: Option<String>,
    pub password_encrypted: Option<Vec<u8>>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub give_up_hours: u32,
    pub updated_at: DateTime<Utc>,
}

impl SettingsRow {
    pub fn public(&self) -> EmailSettings {
        EmailSettings {
            configured: true,
            enabled: self.enabled,
            host: self.host.clone(),
            port: self.port as u16,
            security: self.security.clone(),
            username: self.username.clone(),
            password_set: self.password_encrypted.is_some(),
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
            give_up_hours: self.give_up_hours,
            updated_at: Some(self.updated_at),
        }
    }
}

impl EmailSettings {
    fn unconfigured() -> Self {
        EmailSettings {
            configured: false,
            enabled: false,
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: None,
            password_set: false,
            from_address: String::new(),
            from_name: None,
            give_up_hours: 72,
            updated_at: None,
        }
    }
}

pub(super) async fn load_settings(
    conn: &mut Conn,
    org_id: OrgId,
) -> AppResult<Option<SettingsRow>> {
    Ok(sqlx::query_as(
        "SELECT enabled, host, port, security, username, password_encrypted, from_address,
                from_name, give_up_hours, updated_at
           FROM email_settings WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?)
}

/// Whether notifications should queue email at all for this organization.
pub async fn is_configured(conn: &mut Conn, org_id: OrgId) -> AppResult<bool> {
    let on: Option<bool> =
        sqlx::query_scalar("SELECT enabled FROM email_settings WHERE organization_id = ?")
            .bind(org_id)
            .fetch_optional(conn)
            .await?;
    Ok(on.unwrap_or(false))
}

/// Whether any active department on this server (or the one with this short name) has email
/// set up: a host-wide fact, safe to tell someone who is not signed in (it says nothing about
/// any account).
pub async fn configured_anywhere(db: &sqlx::MySqlPool, slug: Option<&str>) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM email_settings s JOIN organizations o ON o.id = s.organization_id
          WHERE s.enabled AND o.active AND (? IS NULL OR o.slug = ?)",
    )
    .bind(slug)
    .bind(slug)
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

pub async fn settings(ctx: &Ctx, conn: &mut Conn) -> AppResult<EmailSettings> {
    ctx.require(SETTINGS_MANAGE)?;
    Ok(load_settings(conn, ctx.org_id)
        .await?
        .map(|r| r.public())
        .unwrap_or_else(EmailSettings::unconfigured))
}

/// The whole settings form. `password`: absent keeps the stored one, a string replaces it,
/// `null` or "" removes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettingsInput {
    #[serde(default)]
    pub enabled: Option<bool>,
    pub host: String,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: u32,
    #[schema(schema_with = crate::notify::mail::security_schema)]
    pub security: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "crate::http::double_option")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    pub from_address: String,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub give_up_hours: Option<u32>,
}

pub const SECURITY_MODES: &[&str] = &["starttls", "tls", "none"];

pub fn security_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(SECURITY_MODES)
}

pub struct ValidSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u32,
    pub security: String,
    pub username: Option<String>,
    pub password: Option<Option<String>>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub give_up_hours: u32,
}

pub(super) fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The settings form's rules (a password is checked against the stored one by `save_settings`).
pub fn validate(input: EmailSettingsInput) -> AppResult<ValidSettings> {
    let mut errors = Vec::new();
    let host = input.host.trim().to_string();
    if host.is_empty() {
        errors.push(FieldError::new(
            "host",
            "enter the mail server's name or address",
        ));
    } else if host.len() > 253
        || host.contains("://")
        || host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        errors.push(FieldError::new(
            "host",
            "enter a host name such as smtp.example.org (no http://, no path)",
        ));
    }
    if !(1..=65535).contains(&input.port) {
        errors.push(FieldError::new("port", "must be between 1 and 65535"));
    }
    let security = input.security.trim().to_ascii_lowercase();
    if !SECURITY_MODES.contains(&security.as_str()) {
        errors.push(FieldError::new("security", "must be starttls, tls or none"));
    }
    let username = blank_to_none(input.username);
    if username.as_ref().is_some_and(|u| u.len() > 254) {
        errors.push(FieldError::new(
            "username",
            "must be at most 254 characters",
        ));
    }
    let password = input.password.map(|p| p.filter(|s| !s.is_empty()));
    if let Some(Some(p)) = &password
        && p.len() > 200
    {
        errors.push(FieldError::new(
            "password",
            "must be at most 200 characters",
        ));
    }
    let from_address = input.from_address.trim().to_string();
    if from_address.parse::<Address>().is_err() || from_address.len() > 254 {
        errors.push(FieldError::new(
            "from_address",
            "enter the address emails come from, such as logbook@example.org",
        ));
    }
    let from_name = blank_to_none(input.from_name);
    if from_name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        errors.push(FieldError::new(
            "from_name",
            "must be at most 200 characters",
        ));
    }
    let give_up_hours = input.give_up_hours.unwrap_or(72);
    if !(1..=720).contains(&give_up_hours) {
        errors.push(FieldError::new(
            "give_up_hours",
            "must be between 1 and 720 hours (30 days)",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(ValidSettings {
        enabled: input.enabled.unwrap_or(true),
        host,
        port: input.port,
        security,
        username,
        password,
        from_address,
        from_name,
        give_up_hours,
    })
}

pub async fn save_settings(
    state: &AppState,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: EmailSettingsInput,
) -> AppResult<EmailSettings> {
    ctx.require(SETTINGS_MANAGE)?;
    let v = validate(input)?;
    let before = load_settings(tx, ctx.org_id).await?;
    let stored_password = before.as_ref().and_then(|b| b.password_encrypted.clone());
    // A stored password goes only to the server it was entered for: whoever changes where it
    // would be sent (or drops TLS) must type it again, or could collect it with their own server.
    if v.password.is_none()
        && v.username.is_some()
        && let Some(b) = &before
        && b.password_encrypted.is_some()
        && (b.host != v.host
            || b.port != v.port
            || b.security != v.security
            || b.username != v.username)
    {
        return Err(AppError::field(
            "password",
            "enter the password again when you change the server, port, security or user name",
        ));
    }
    let (password, password_change) = match &v.password {
        // No user name: no credentials to keep.
        _ if v.username.is_none() => (None, stored_password.as_ref().map(|_| "removed")),
        None => (stored_password.clone(), None),
        Some(None) => (None, stored_password.as_ref().map(|_| "removed")),
        Some(Some(p)) => (
            Some(state.cipher.encrypt(p).map_err(AppError::Internal)?),
            Some(if stored_password.is_some() {
                "replaced"
            } else {
                "set"
            }),
        ),
    };
    if v.username.is_some() && password.is_none() {
        return Err(AppError::field(
            "password",
            "enter the password for this user name",
        ));
    }
    sqlx::query(
        "INSERT INTO email_settings (organization_id, enabled, host, port, security, username,
            password_encrypted, from_address, from_name, give_up_hours, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), host = VALUES(host),
            port = VALUES(port), security = VALUES(security), username = VALUES(username),
            password_encrypted = VALUES(password_encrypted), from_address = VALUES(from_address),
            from_name = VALUES(from_name), give_up_hours = VALUES(give_up_hours),
            updated_at = VALUES(updated_at)",
    )
    .bind(ctx.org_id)
    .bind(v.enabled)
    .bind(&v.host)
    .bind(v.port)
    .bind(&v.security)
    .bind(&v.username)
    .bind(&password)
    .bind(&v.from_address)
    .bind(&v.from_name)
    .bind(v.give_up_hours)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    let after = load_settings(tx, ctx.org_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("email settings vanished")))?;
    let view = |s: &EmailSettings| {
        serde_json::json!({
            "enabled": s.enabled, "host": s.host, "port": s.port, "security": s.security,
            "username": s.username, "from_address": s.from_address, "from_name": s.from_name,
            "give_up_hours": s.give_up_hours,
        })
    };
    let before_view = before
        .as_ref()
        .map(|b| view(&b.public()))
        .unwrap_or_else(|| serde_json::json!({}));
    let mut changes = audit::chain::diff(&before_view, &view(&after.public()));
    if let (Some(map), Some(what)) = (changes.as_object_mut(), password_change) {
        // Never the password itself: only that it changed.
        map.insert("password".into(), serde_json::json!(what));
    }
    if changes.as_object().is_some_and(|m| !m.is_empty()) {
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("email_settings.updated", "organization", ctx.org_id).changes(changes),
        )
        .await?;
    }
    Ok(after.public())
}

/// Stores a new organization's first email settings (the setup wizard) and audits them, in the
/// caller's transaction.
pub async fn insert_initial(
    tx: &mut Tx<'_>,
    actor: &crate::audit::Actor,
    s: &SettingsRow,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO email_settings (organization_id, enabled, host, port, security, username,
            password_encrypted, from_address, from_name, give_up_hours, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(actor.org_id)
    .bind(s.enabled)
    .bind(&s.host)
    .bind(s.port)
    .bind(&s.security)
    .bind(&s.username)
    .bind(&s.password_encrypted)
    .bind(&s.from_address)
    .bind(&s.from_name)
    .bind(s.give_up_hours)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        actor,
        Entry::new("email_settings.updated", "organization", actor.org_id).changes(
            serde_json::json!({
                "enabled": s.enabled, "host": s.host, "port": s.port, "security": s.security,
                "username": s.username, "from_address": s.from_address,
                "from_name": s.from_name, "give_up_hours": s.give_up_hours,
                "password": if s.password_encrypted.is_some() { "set" } else { "none" },
            }),
        ),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated_field_by_field() {
        let bad = EmailSettingsInput {
            enabled: None,
            host: "http://mail/x".into(),
            port: 70000,
            security: "ssl".into(),
            username: None,
            password: None,
            from_address: "not an address".into(),
            from_name: None,
            give_up_hours: Some(0),
        };
        let Err(AppError::Validation(errs)) = validate(bad) else {
            panic!("accepted bad settings")
        };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["host", "port", "security", "from_address", "give_up_hours"]
        );
    }
}
