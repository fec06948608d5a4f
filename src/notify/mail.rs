//! Email: the organization's SMTP settings (password encrypted at rest, never shown back), the
//! message templates, the outbox with retries and backoff, and the test message.
//!
//! Every email goes through `email_outbox`, so nothing is lost when the SMTP server, the
//! internet or this server is down. Sending for an organization holds a MariaDB named lock: one
//! sender at a time across servers, and a row left `sending` by a server that died (its lock
//! went with its connection) is sent again by the next holder.

use crate::auth::OrgId;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::{self, Conn, NamedLock, Tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::{Page, PageQuery};
use crate::state::AppState;

const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Connecting, greeting, authenticating and handing over one message (under the 30 s request
/// timeout, so that "send a test message" can report a server that hangs).
const SEND_TIMEOUT: Duration = Duration::from_secs(25);
/// Backoff after the n-th failed attempt: 30 s, 1, 2, 4 … minutes, at most an hour.
fn backoff(attempts: u32) -> chrono::Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(7));
    chrono::Duration::seconds(secs.min(3600))
}

// ---------------------------------------------------------------------------------------------
// Templates: plain text and HTML from the same letter.

#[derive(Template)]
#[template(path = "email/letter.txt")]
struct LetterText<'a> {
    l: &'a Letter,
}

#[derive(Template)]
#[template(path = "email/letter.html")]
struct LetterHtml<'a> {
    l: &'a Letter,
}

/// One email: the organization's name at the top, a greeting, paragraphs, an optional button.
pub struct Letter {
    pub org_name: String,
    pub greeting: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
    pub footer: String,
}

impl Letter {
    pub fn render(&self) -> AppResult<(String, String)> {
        let text = LetterText { l: self }
            .render()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("email template: {e}")))?;
        let html = LetterHtml { l: self }
            .render()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("email template: {e}")))?;
        Ok((text, html))
    }
}

pub struct NotificationMail<'a> {
    pub org_name: &'a str,
    pub recipient_name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub link: Option<String>,
    pub preferences_url: String,
}

pub fn render_notification(m: &NotificationMail<'_>) -> AppResult<(String, String)> {
    Letter {
        org_name: m.org_name.to_string(),
        greeting: format!("Hello {},", m.recipient_name),
        title: m.subject.to_string(),
        paragraphs: paragraphs(m.body),
        link: m
            .link
            .clone()
            .map(|url| ("Open in Logbook".to_string(), url)),
        footer: format!(
            "You get this email because of your notification settings: {}",
            m.preferences_url
        ),
    }
    .render()
}

pub fn paragraphs(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Settings.

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

async fn load_settings(conn: &mut Conn, org_id: OrgId) -> AppResult<Option<SettingsRow>> {
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

fn blank_to_none(v: Option<String>) -> Option<String> {
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

struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn transport(state: &AppState, s: &SettingsRow) -> anyhow::Result<Smtp> {
    let builder = match s.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
    };
    let mut builder = builder.port(s.port as u16).timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &s.username {
        let password = match &s.password_encrypted {
            Some(enc) => state.cipher.decrypt(enc)?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let from = Mailbox::new(s.from_name.clone(), s.from_address.parse()?);
    Ok(Smtp {
        transport: builder.build(),
        from,
    })
}

fn build_message(
    from: &Mailbox,
    id: Uuid,
    to_address: &str,
    to_name: Option<&str>,
    subject: &str,
    text: String,
    html: String,
) -> anyhow::Result<Message> {
    let to = Mailbox::new(to_name.map(str::to_string), to_address.parse()?);
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}@logbook>", id.simple())))
        .multipart(MultiPart::alternative_plain_html(text, html))?)
}

/// lettre's timeout covers connecting only: a server that stops answering mid-message would
/// hold the sender for ever. This bounds the whole hand-over.
async fn send(
    smtp: &Smtp,
    message: Message,
) -> Result<lettre::transport::smtp::response::Response, SendFailure> {
    match tokio::time::timeout(SEND_TIMEOUT, smtp.transport.send(message)).await {
        Ok(result) => result.map_err(SendFailure::Smtp),
        Err(_) => Err(SendFailure::TimedOut),
    }
}

enum SendFailure {
    Smtp(lettre::transport::smtp::Error),
    TimedOut,
}

impl SendFailure {
    /// The server refused for good (5xx): retrying will not help.
    fn is_permanent(&self) -> bool {
        matches!(self, SendFailure::Smtp(e) if e.is_permanent())
    }

    fn describe(&self) -> String {
        match self {
            SendFailure::Smtp(e) => describe_error(e),
            SendFailure::TimedOut => format!(
                "the mail server did not finish answering within {} seconds",
                SEND_TIMEOUT.as_secs()
            ),
        }
    }
}

/// The SMTP server's answer in one line: `250 2.0.0 Ok: queued`.
fn describe_error(err: &lettre::transport::smtp::Error) -> String {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// Where to send it; the caller's own address when absent.
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub delivered: bool,
    pub to: String,
    /// What the SMTP server answered, or why the message could not be handed over.
    pub answer: String,
}

/// Sends a test message now (not through the outbox) and reports the server's answer.
pub async fn send_test(state: &AppState, ctx: &Ctx, input: TestInput) -> AppResult<TestResult> {
    ctx.require(SETTINGS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let Some(s) = load_settings(&mut conn, ctx.org_id).await? else {
        return Err(AppError::Conflict(
            "save the email settings before sending a test message".into(),
        ));
    };
    let (own, org_name): (String, String) = sqlx::query_as(
        "SELECT u.email, o.name FROM users u JOIN organizations o ON o.id = u.organization_id
          WHERE u.id = ? AND u.organization_id = ?",
    )
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .fetch_one(&mut *conn)
    .await?;
    drop(conn);
    let to = blank_to_none(input.to).unwrap_or(own);
    let result = send_test_with(state, &s, &org_name, &ctx.username, &to).await?;
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("email_settings.tested", "organization", ctx.org_id).changes(
            serde_json::json!({"to": result.to, "delivered": result.delivered,
                                "answer": result.answer}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(result)
}

/// Sends the test message with settings `s` to `to` on behalf of `requested_by`; the answer of
/// the SMTP server (or why it could not be reached) comes back in the result, not as an error.
pub async fn send_test_with(
    state: &AppState,
    s: &SettingsRow,
    org_name: &str,
    requested_by: &str,
    to: &str,
) -> AppResult<TestResult> {
    let to = to.trim().to_string();
    if to.parse::<Address>().is_err() {
        return Err(AppError::field("to", "enter a valid email address"));
    }
    let letter = Letter {
        org_name: org_name.to_string(),
        greeting: "Hello,".into(),
        title: "Test message from Logbook".into(),
        paragraphs: vec![format!(
            "{requested_by} asked Logbook to send this message to check the email settings. If \
             you can read it, email works."
        )],
        link: None,
        footer: format!("Sent by Logbook for {org_name}."),
    };
    let (text, html) = letter.render()?;
    let smtp = match transport(state, s) {
        Ok(t) => t,
        Err(e) => {
            return Ok(TestResult {
                delivered: false,
                to,
                answer: e.to_string(),
            });
        }
    };
    let message = build_message(
        &smtp.from,
        db::new_id(),
        &to,
        None,
        &format!("[{org_name}] Test message from Logbook"),
        text,
        html,
    )
    .map_err(|e| AppError::field("to", e.to_string()))?;
    Ok(match send(&smtp, message).await {
        Ok(resp) => TestResult {
            delivered: true,
            to,
            answer: format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            ),
        },
        Err(e) => TestResult {
            delivered: false,
            to,
            answer: e.describe(),
        },
    })
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

// ---------------------------------------------------------------------------------------------
// The outbox.

pub struct Outgoing {
    pub notification_id: Option<Uuid>,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `email_outbox.subject` and `to_name` hold at most this many characters.
const OUTBOX_TEXT_MAX: usize = 200;

/// `s` cut to `max` characters (the last one an ellipsis) so that it fits its column: a
/// 200-character subject with "[Organization] " in front must not fail the caller's change.
pub fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// Queues emails in the caller's transaction; they are sent after it commits.
pub async fn enqueue(tx: &mut Tx<'_>, org_id: OrgId, mails: &[Outgoing]) -> AppResult<u64> {
    if mails.is_empty() {
        return Ok(0);
    }
    let hours: u32 =
        sqlx::query_scalar("SELECT give_up_hours FROM email_settings WHERE organization_id = ?")
            .bind(org_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(72);
    let now = db::now();
    let give_up = now + chrono::Duration::hours(i64::from(hours));
    for chunk in mails.chunks(200) {
        let mut q = QueryBuilder::new(
            "INSERT INTO email_outbox (id, organization_id, notification_id, to_address, to_name,
                subject, body_text, body_html, status, attempts, next_attempt_at, created_at,
                give_up_at) ",
        );
        q.push_values(chunk, |mut b, m| {
            b.push_bind(db::new_id())
                .push_bind(org_id)
                .push_bind(m.notification_id)
                .push_bind(&m.to_address)
                .push_bind(m.to_name.as_deref().map(|n| fit(n, OUTBOX_TEXT_MAX)))
                .push_bind(fit(&m.subject, OUTBOX_TEXT_MAX))
                .push_bind(&m.text)
                .push_bind(&m.html)
                .push_bind("pending")
                .push_bind(0u32)
                .push_bind(now)
                .push_bind(now)
                .push_bind(give_up);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(mails.len() as u64)
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Delivery {
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
    /// Another sender held the organization's mail lock.
    pub busy: bool,
    /// The last SMTP error met in this run.
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OutRow {
    id: Uuid,
    to_address: String,
    to_name: Option<String>,
    subject: String,
    body_text: String,
    body_html: String,
    attempts: u32,
    give_up_at: DateTime<Utc>,
}

fn lock_name(org_id: OrgId) -> String {
    format!("logbook:mail:{}", org_id.uuid().simple())
}

/// Sends the organization's due email. `force` also sends what is waiting for its next retry
/// (an administrator's "run now" after fixing the connection).
pub async fn deliver_due(state: &AppState, org_id: OrgId, force: bool) -> anyhow::Result<Delivery> {
    let mut out = Delivery::default();
    // An administrator's run waits a little for a sender that is busy, rather than reporting
    // that nothing was sent.
    let wait = if force { 10 } else { 0 };
    let Some(lock) = NamedLock::acquire(&state.db, &lock_name(org_id), wait).await? else {
        out.busy = true;
        return Ok(out);
    };
    let result = deliver_locked(state, org_id, force, &mut out).await;
    lock.release().await;
    result.map(|_| out)
}

async fn deliver_locked(
    state: &AppState,
    org_id: OrgId,
    force: bool,
    out: &mut Delivery,
) -> anyhow::Result<()> {
    let now = db::now();
    // Whoever held the lock before us is gone: what it left `sending` was not confirmed.
    sqlx::query(
        "UPDATE email_outbox SET status = 'pending'
          WHERE organization_id = ? AND status = 'sending'",
    )
    .bind(org_id)
    .execute(&state.db)
    .await?;
    out.failed += sqlx::query(
        "UPDATE email_outbox SET status = 'failed',
                last_error = CONCAT('gave up: not delivered within the retry period',
                                    COALESCE(CONCAT('; last error: ', last_error), ''))
          WHERE organization_id = ? AND status = 'pending' AND give_up_at <= ?",
    )
    .bind(org_id)
    .bind(now)
    .execute(&state.db)
    .await?
    .rows_affected();
    let mut conn = state.db.acquire().await?;
    let Some(settings) = load_settings(&mut conn, org_id).await? else {
        return Ok(());
    };
    drop(conn);
    if !settings.enabled {
        return Ok(());
    }
    let due = if force {
        ""
    } else {
        " AND next_attempt_at <= ?"
    };
    let mut q = sqlx::query_as::<_, OutRow>(AssertSqlSafe(format!(
        "SELECT id, to_address, to_name, subject, body_text, body_html, attempts, give_up_at
           FROM email_outbox
          WHERE organization_id = ? AND status = 'pending'{due}
          ORDER BY created_at, id LIMIT 2000"
    )))
    .bind(org_id);
    if !force {
        q = q.bind(now);
    }
    let rows = q.fetch_all(&state.db).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let smtp = match transport(state, &settings) {
        Ok(s) => s,
        Err(e) => {
            // Settings that cannot work (an undecryptable password): every row waits.
            let all: Vec<&OutRow> = rows.iter().collect();
            defer_rows(state, &all, &e.to_string()).await?;
            out.deferred += rows.len() as u64;
            out.last_error = Some(e.to_string());
            return Ok(());
        }
    };
    let smtp = Arc::new(smtp);
    let rows: Vec<Arc<OutRow>> = rows.into_iter().map(Arc::new).collect();
    let mut next = 0;
    while next < rows.len() {
        let batch = &rows[next..(next + PARALLEL_SENDS).min(rows.len())];
        next += batch.len();
        let mut sends = tokio::task::JoinSet::new();
        for row in batch {
            let (state, smtp, row) = (state.clone(), smtp.clone(), row.clone());
            sends.spawn(async move { send_row(&state, &smtp, &row).await });
        }
        let mut stopped: Option<String> = None;
        while let Some(done) = sends.join_next().await {
            match done.map_err(|e| anyhow::anyhow!("a send task failed: {e}"))?? {
                Sent::Delivered => out.sent += 1,
                Sent::Taken => {}
                Sent::Refused(error) => {
                    out.failed += 1;
                    out.last_error = Some(error);
                }
                Sent::Deferred { error, gave_up } => {
                    if gave_up {
                        out.failed += 1;
                    } else {
                        out.deferred += 1;
                    }
                    out.last_error = Some(error.clone());
                    stopped = Some(error);
                }
            }
        }
        // The server or the network is down: the rest wait for the next run rather than each
        // timing out now.
        if let Some(error) = stopped {
            let rest = &rows[next..];
            if !rest.is_empty() {
                let rest: Vec<&OutRow> = rest.iter().map(|r| r.as_ref()).collect();
                defer_rows(state, &rest, &error).await?;
                out.deferred += rest.len() as u64;
            }
            break;
        }
    }
    Ok(())
}

/// Messages handed over at once, each on its own pooled connection. lettre writes the end of
/// DATA separately from the message, so every message waits out the server's delayed ACK (about
/// 40 ms on Linux); sending several at a time keeps 500 notifications from taking 20 seconds.
const PARALLEL_SENDS: usize = 8;

enum Sent {
    Delivered,
    /// Another sender claimed the message first (it is no longer pending): nothing done.
    Taken,
    /// A permanent refusal (5xx) or a message that cannot be built: not retried.
    Refused(String),
    /// A transient failure: retried later, unless past its give-up time.
    Deferred {
        error: String,
        gave_up: bool,
    },
}

async fn send_row(state: &AppState, smtp: &Smtp, row: &OutRow) -> anyhow::Result<Sent> {
    // The claim is the transition: only the sender whose UPDATE matched sends the message.
    let claimed = sqlx::query(
        "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1
          WHERE id = ? AND status = 'pending'",
    )
    .bind(row.id)
    .execute(&state.db)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(Sent::Taken);
    }
    let message = build_message(
        &smtp.from,
        row.id,
        &row.to_address,
        row.to_name.as_deref(),
        &row.subject,
        row.body_text.clone(),
        row.body_html.clone(),
    );
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            let error = e.to_string();
            finish(state, row.id, "failed", None, Some(&error)).await?;
            return Ok(Sent::Refused(error));
        }
    };
    match send(smtp, message).await {
        Ok(_) => {
            finish(state, row.id, "sent", None, None).await?;
            Ok(Sent::Delivered)
        }
        Err(e) if e.is_permanent() => {
            let error = e.describe();
            finish(state, row.id, "failed", None, Some(&error)).await?;
            Ok(Sent::Refused(error))
        }
        Err(e) => {
            let error = e.describe();
            let attempts = row.attempts + 1;
            let next = db::now() + backoff(attempts);
            let gave_up = next >= row.give_up_at;
            if gave_up {
                let msg = format!("gave up after {attempts} attempts: {error}");
                finish(state, row.id, "failed", None, Some(&msg)).await?;
            } else {
                finish(state, row.id, "pending", Some(next), Some(&error)).await?;
            }
            Ok(Sent::Deferred { error, gave_up })
        }
    }
}

async fn finish(
    state: &AppState,
    id: Uuid,
    status: &str,
    next: Option<DateTime<Utc>>,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let now = db::now();
    sqlx::query(
        "UPDATE email_outbox SET status = ?, last_error = ?,
                next_attempt_at = COALESCE(?, next_attempt_at),
                sent_at = IF(? = 'sent', ?, sent_at)
          WHERE id = ?",
    )
    .bind(status)
    .bind(error)
    .bind(next)
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&state.db)
    .await?;
    Ok(())
}

/// Rows not tried in this run: keep them pending with the error that stopped the run.
async fn defer_rows(state: &AppState, rows: &[&OutRow], error: &str) -> anyhow::Result<()> {
    let next = db::now() + backoff(1);
    for chunk in rows.chunks(500) {
        let mut q = QueryBuilder::new("UPDATE email_outbox SET last_error = ");
        q.push_bind(error);
        q.push(", next_attempt_at = GREATEST(next_attempt_at, ");
        q.push_bind(next);
        q.push(") WHERE status = 'pending' AND id IN (");
        let mut sep = q.separated(", ");
        for r in chunk {
            sep.push_bind(r.id);
        }
        q.push(")");
        q.build().execute(&state.db).await?;
    }
    Ok(())
}

/// Wakes the sender so that newly queued email goes out at once instead of at the next run of
/// the outbox job.
#[derive(Clone, Default)]
pub struct Mailer {
    wake: Arc<tokio::sync::Notify>,
}

impl Mailer {
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Commits a change that may have queued email and wakes the sender: the one way such a
    /// change ends, on every face (API, page, job), so that no path leaves its email waiting for
    /// the outbox job's next round.
    pub async fn commit_and_kick(&self, tx: crate::db::Tx<'_>) -> crate::error::AppResult<()> {
        tx.commit().await?;
        self.kick();
        Ok(())
    }
}

/// The sender task `serve` starts: waits for a kick, sends every organization's due email.
pub async fn run_sender(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let wake = state.mailer.wake.clone();
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
        for _ in 0..10 {
            match deliver_all(&state).await {
                Ok(false) => break,
                // Another sender holds a lock: look again shortly for what it may have missed.
                Ok(true) => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "sending email failed");
                    break;
                }
            }
        }
    }
}

/// Returns whether some organization's sender was busy.
async fn deliver_all(state: &AppState) -> anyhow::Result<bool> {
    let orgs: Vec<OrgId> = sqlx::query_scalar(
        "SELECT DISTINCT organization_id FROM email_outbox
          WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?",
    )
    .bind(db::now())
    .fetch_all(&state.db)
    .await?;
    let mut busy = false;
    for org in orgs {
        let d = deliver_due(state, org, false).await?;
        busy |= d.busy;
    }
    Ok(busy)
}

// ---------------------------------------------------------------------------------------------
// What administrators see of the outbox.

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OutboxItem {
    pub id: Uuid,
    pub to_address: String,
    pub subject: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub give_up_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `pending`, `sending`, `sent` or `failed`.
    #[param(schema_with = outbox_status_schema)]
    pub status: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn outbox_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["pending", "sending", "sent", "failed"])
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outbox {
    #[serde(flatten)]
    pub page: Page<OutboxItem>,
    pub counts: OutboxCounts,
}

const OUTBOX_STATUSES: &[&str] = &["pending", "sending", "sent", "failed"];

pub async fn outbox(ctx: &Ctx, conn: &mut Conn, q: OutboxQuery) -> AppResult<Outbox> {
    ctx.require(SETTINGS_MANAGE)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let status = q.status.filter(|s| !s.is_empty());
    if let Some(s) = &status
        && !OUTBOX_STATUSES.contains(&s.as_str())
    {
        return Err(AppError::field(
            "status",
            "must be pending, sending, sent or failed",
        ));
    }
    let mut counts = OutboxCounts::default();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM email_outbox WHERE organization_id = ? GROUP BY status",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    for (s, n) in rows {
        let n = n as u64;
        match s.as_str() {
            "pending" => counts.pending = n,
            "sending" => counts.sending = n,
            "sent" => counts.sent = n,
            _ => counts.failed = n,
        }
    }
    let total = match status.as_deref() {
        Some("pending") => counts.pending,
        Some("sending") => counts.sending,
        Some("sent") => counts.sent,
        Some(_) => counts.failed,
        None => counts.pending + counts.sending + counts.sent + counts.failed,
    };
    let items = sqlx::query_as(
        "SELECT id, to_address, subject, status, attempts, last_error, created_at,
                next_attempt_at, sent_at, give_up_at
           FROM email_outbox
          WHERE organization_id = ? AND (? IS NULL OR status = ?)
          ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
    )
    .bind(ctx.org_id)
    .bind(&status)
    .bind(&status)
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Outbox {
        page: Page {
            items,
            page,
            per_page,
            total,
        },
        counts,
    })
}

/// Puts a failed email back in the queue for one more try with a fresh retry period.
pub async fn retry(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<OutboxItem> {
    ctx.require(SETTINGS_MANAGE)?;
    let status: Option<String> = sqlx::query_scalar(
        "SELECT status FROM email_outbox WHERE id = ? AND organization_id = ? FOR UPDATE",
    )
    .bind(id)
    .bind(ctx.org_id)
    .fetch_optional(&mut **tx)
    .await?;
    match status.as_deref() {
        None => return Err(AppError::NotFound),
        Some("failed") => {}
        Some(other) => {
            return Err(AppError::Conflict(format!(
                "only a failed email can be retried; this one is {other}"
            )));
        }
    }
    let hours: u32 =
        sqlx::query_scalar("SELECT give_up_hours FROM email_settings WHERE organization_id = ?")
            .bind(ctx.org_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(72);
    let now = db::now();
    sqlx::query(
        "UPDATE email_outbox SET status = 'pending', next_attempt_at = ?, give_up_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(now)
    .bind(now + chrono::Duration::hours(i64::from(hours)))
    .bind(id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("email.retried", "email", id)
            .changes(serde_json::json!({"status": {"from": "failed", "to": "pending"}})),
    )
    .await?;
    let item = sqlx::query_as(
        "SELECT id, to_address, subject, status, attempts, last_error, created_at,
                next_attempt_at, sent_at, give_up_at
           FROM email_outbox WHERE id = ? AND organization_id = ?",
    )
    .bind(id)
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(3).num_seconds(), 120);
        assert_eq!(backoff(20).num_seconds(), 3600);
    }

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

    #[test]
    fn letters_escape_html_but_not_text() {
        let (text, html) = render_notification(&NotificationMail {
            org_name: "Station <1>",
            recipient_name: "Pat",
            subject: "Drill & dinner",
            body: "First <b>line</b>.\n\nSecond.",
            link: Some("http://x/events/1".into()),
            preferences_url: "http://x/account/notifications".into(),
        })
        .unwrap();
        assert!(text.contains("Drill & dinner") && text.contains("First <b>line</b>."));
        assert!(!html.contains("<b>") && !html.contains("Drill & dinner"));
        assert!(html.contains("Drill &#38; dinner"), "{html}");
        assert!(html.contains("href=\"http://x/events/1\""));
        assert!(text.contains("Second."));
    }
}
