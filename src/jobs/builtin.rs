//! The platform's own jobs. Modules bring theirs in their `Module::jobs`.

use anyhow::Context;
use uuid::Uuid;

use super::{JobCtx, JobDef, Registry};
use crate::audit::alerts::{self, NewAlert};
use crate::audit::{Severity, chain};
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db;
use crate::notify::{self, Notice, categories};

pub const PURGE_SESSIONS: &str = "purge_sessions";
pub const AUDIT_VERIFY: &str = "audit_verify";
pub const EMAIL_OUTBOX: &str = "email_outbox";
pub const BACKUP: &str = crate::backup::schedule::BACKUP_JOB;

pub fn register(registry: Registry) -> Registry {
    registry
        .with(JobDef::new(
            PURGE_SESSIONS,
            "Clean up expired sessions and old records",
            "Deletes expired sign-in sessions and password-reset links, old sign-in failure \
             records, job runs older than 30 days, delivered email older than 30 days, failed \
             email older than 90 days and read notifications older than 180 days.",
            "0 10 3 * * *",
            purge_sessions,
        ))
        .with(JobDef::new(
            AUDIT_VERIFY,
            "Verify the audit log",
            "Checks every entry of the audit log's hash chain. A break raises a security alert \
             and emails the administrators.",
            "0 30 2 * * *",
            audit_verify,
        ))
        .with(JobDef::new(
            EMAIL_OUTBOX,
            "Send queued email",
            "Retries email that could not be sent (SMTP server or internet down) and gives up \
             on what is past its retry period. Run now to retry at once.",
            "0 * * * * *",
            email_outbox,
        ))
        .with(JobDef::new(
            BACKUP,
            "Back up everything",
            "Makes a backup of the whole server (every organization's data and files) into the \
             backup folder, deletes old backups the retention setting does not keep, and copies \
             the new one to the second backup folder (a USB drive) when one is set. With several \
             organizations on one server, only the first one's run makes it. A failure notifies \
             the administrators, once a day.",
            // A quiet hour, after the audit check and before the clean-up.
            "0 45 2 * * *",
            crate::backup::schedule::run,
        ))
}

async fn purge_sessions(ctx: JobCtx) -> anyhow::Result<u64> {
    let db = &ctx.state.db;
    let now = db::now();
    let day_ago = now - chrono::Duration::days(1);
    let mut removed = 0;
    // Revoked tokens are kept until they expire: a replay of one must still be recognised.
    removed +=
        sqlx::query("DELETE FROM refresh_tokens WHERE organization_id = ? AND expires_at < ?")
            .bind(ctx.org_id)
            .bind(day_ago)
            .execute(db)
            .await?
            .rows_affected();
    removed += sqlx::query(
        "DELETE FROM password_reset_tokens WHERE organization_id = ? AND expires_at < ?",
    )
    .bind(ctx.org_id)
    .bind(day_ago)
    .execute(db)
    .await?
    .rows_affected();
    // Records that would otherwise grow for ever (the outbox job alone runs every minute).
    for (sql, days) in [
        (
            "DELETE FROM job_runs WHERE organization_id = ? AND started_at < ? \
          AND outcome <> 'running'",
            30,
        ),
        (
            "DELETE FROM notification_logs WHERE organization_id = ? AND read_at IS NOT NULL \
          AND created_at < ?",
            180,
        ),
        // Two-factor challenges live five minutes; a day later they are only clutter.
        (
            "DELETE FROM two_factor_challenges WHERE organization_id = ? AND expires_at < ?",
            1,
        ),
    ] {
        removed += sqlx::query(sql)
            .bind(ctx.org_id)
            .bind(now - chrono::Duration::days(days))
            .execute(db)
            .await?
            .rows_affected();
    }
    removed += notify::mail::prune(db, ctx.org_id, now).await?;
    // Host-level throttling records, not tied to an organization.
    for sql in [
        "DELETE FROM login_failures WHERE attempted_at < ?",
        "DELETE FROM password_reset_requests WHERE requested_at < ?",
    ] {
        removed += sqlx::query(sql)
            .bind(day_ago)
            .execute(db)
            .await?
            .rows_affected();
    }
    // A block that ran out is kept for the hour its failures count: sign-in counts only the
    // failures after it.
    removed += sqlx::query("DELETE FROM ip_blocks WHERE blocked_until < ?")
        .bind(now - chrono::Duration::hours(1))
        .execute(db)
        .await?
        .rows_affected();
    Ok(removed)
}

const CHAIN_BROKEN: &str = "audit_chain_broken";

async fn audit_verify(ctx: JobCtx) -> anyhow::Result<u64> {
    let report = chain::verify(&ctx.state.db, ctx.org_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(broken) = report.first_broken else {
        return Ok(report.entries_checked);
    };
    let message = format!("{} {}", break_at(broken.sequence), broken.reason);
    raise_break(&ctx, &message, broken.sequence, broken.id)
        .await
        .context("could not raise the alert for a broken audit chain")?;
    anyhow::bail!("{message}")
}

/// How an alert names the entry where the chain breaks. A break is known by that entry alone:
/// the reason given for the same break can change as entries are appended after it (a removed
/// last entry is first "the head records entry N", then "entry N is missing").
fn break_at(sequence: u64) -> String {
    format!("The audit log's hash chain is broken at entry {sequence}:")
}

/// One open alert and one email per break, however many nights it is found again.
async fn raise_break(
    ctx: &JobCtx,
    message: &str,
    sequence: u64,
    id: Option<Uuid>,
) -> anyhow::Result<()> {
    let state = &ctx.state;
    let mut tx = state.db.begin().await?;
    let prefix = break_at(sequence);
    let open: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM security_alerts
          WHERE organization_id = ? AND alert_type = ? AND status <> ?
            AND LEFT(message, CHAR_LENGTH(?)) = ?
          ORDER BY id LIMIT 1",
    )
    .bind(ctx.org_id)
    .bind(CHAIN_BROKEN)
    .bind(crate::audit::alerts::AlertStatus::Resolved)
    .bind(&prefix)
    .bind(&prefix)
    .fetch_optional(&mut *tx)
    .await?;
    let alert_id = match open {
        Some(id) => id,
        None => alerts::raise(
            &mut tx,
            ctx.org_id,
            NewAlert {
                alert_type: CHAIN_BROKEN,
                severity: Severity::Critical,
                message: message.to_string(),
                user_id: None,
                ip: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let admins = notify::holders_of(&mut tx, ctx.org_id, SETTINGS_MANAGE)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let entry = id.map(|i| format!(" (id {i})")).unwrap_or_default();
    notify::notify(
        &state.notifier,
        &mut tx,
        ctx.org_id,
        &admins,
        &Notice {
            category: categories::SECURITY,
            subject: "The audit log has been altered".into(),
            body: format!(
                "{message}{entry}.\n\nSomeone may have changed the database directly. Compare \
                 with your latest backup and check the security alerts."
            ),
            link: Some("/security-alerts".into()),
            // Per alert: a break found again while its alert is open tells no one twice; a
            // break still there after its alert was resolved raises a new alert, and says so.
            dedupe_key: Some(format!("audit-break:{alert_id}")),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(())
}

async fn email_outbox(ctx: JobCtx) -> anyhow::Result<u64> {
    let d = notify::mail::deliver_due(&ctx.state, ctx.org_id, ctx.manual).await?;
    if let Some(error) = d.last_error
        && d.sent == 0
    {
        anyhow::bail!(
            "{} email(s) could not be sent and will be retried: {error}",
            d.deferred + d.failed
        );
    }
    Ok(d.sent)
}
