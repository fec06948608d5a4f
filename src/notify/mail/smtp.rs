//! Talking to the SMTP server: the transport from the settings, building a message, sending
//! it under a time limit, and the administrator's test message.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::{self};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Connecting, greeting, authenticating and handing over one message (under the 30 s request
/// timeout, so that "send a test message" can report a server that hangs).
const SEND_TIMEOUT: Duration = Duration::from_secs(25);

pub(super) struct Smtp {
    pub(super) transport: AsyncSmtpTransport<Tokio1Executor>,
    pub(super) from: Mailbox,
}

pub(super) fn transport(state: &AppState, s: &SettingsRow) -> anyhow::Result<Smtp> {
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

pub(super) fn build_message(
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
pub(super) async fn send(
    smtp: &Smtp,
    message: Message,
) -> Result<lettre::transport::smtp::response::Response, SendFailure> {
    match tokio::time::timeout(SEND_TIMEOUT, smtp.transport.send(message)).await {
        Ok(result) => result.map_err(SendFailure::Smtp),
        Err(_) => Err(SendFailure::TimedOut),
    }
}

pub(super) enum SendFailure {
    Smtp(lettre::transport::smtp::Error),
    TimedOut,
}

impl SendFailure {
    /// The server refused for good (5xx): retrying will not help.
    pub(super) fn is_permanent(&self) -> bool {
        matches!(self, SendFailure::Smtp(e) if e.is_permanent())
    }

    pub(super) fn describe(&self) -> String {
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
