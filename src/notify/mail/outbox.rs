//! The outbox: queuing a notification's email in the caller's transaction, and sending what is
//! due under the department's named lock, with retries and backoff; the sender task and the
//! `Mailer` that wakes it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::*;
use crate::auth::OrgId;
use crate::db::{self, NamedLock, Tx};
use crate::error::AppResult;
use crate::state::AppState;

/// Backoff after the n-th failed attempt: 30 s, 1, 2, 4 … minutes, at most an hour.
fn backoff(attempts: u32) -> chrono::Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(7));
    chrono::Duration::seconds(secs.min(3600))
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
    sqlx::query("UPDATE email_outbox SET status = ? WHERE organization_id = ? AND status = ?")
        .bind(OutboxStatus::Pending)
        .bind(org_id)
        .bind(OutboxStatus::Sending)
        .execute(&state.db)
        .await?;
    out.failed += sqlx::query(
        "UPDATE email_outbox SET status = ?,
                last_error = CONCAT('gave up: not delivered within the retry period',
                                    COALESCE(CONCAT('; last error: ', last_error), ''))
          WHERE organization_id = ? AND status = ? AND give_up_at <= ?",
    )
    .bind(OutboxStatus::Failed)
    .bind(org_id)
    .bind(OutboxStatus::Pending)
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
          WHERE organization_id = ? AND status = ?{due}
          ORDER BY created_at, id LIMIT 2000"
    )))
    .bind(org_id)
    .bind(OutboxStatus::Pending);
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
        "UPDATE email_outbox SET status = ?, attempts = attempts + 1
          WHERE id = ? AND status = ?",
    )
    .bind(OutboxStatus::Sending)
    .bind(row.id)
    .bind(OutboxStatus::Pending)
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
            finish(state, row.id, OutboxStatus::Failed, None, Some(&error)).await?;
            return Ok(Sent::Refused(error));
        }
    };
    match send(smtp, message).await {
        Ok(_) => {
            finish(state, row.id, OutboxStatus::Sent, None, None).await?;
            Ok(Sent::Delivered)
        }
        Err(e) if e.is_permanent() => {
            let error = e.describe();
            finish(state, row.id, OutboxStatus::Failed, None, Some(&error)).await?;
            Ok(Sent::Refused(error))
        }
        Err(e) => {
            let error = e.describe();
            let attempts = row.attempts + 1;
            let next = db::now() + backoff(attempts);
            let gave_up = next >= row.give_up_at;
            if gave_up {
                let msg = format!("gave up after {attempts} attempts: {error}");
                finish(state, row.id, OutboxStatus::Failed, None, Some(&msg)).await?;
            } else {
                finish(
                    state,
                    row.id,
                    OutboxStatus::Pending,
                    Some(next),
                    Some(&error),
                )
                .await?;
            }
            Ok(Sent::Deferred { error, gave_up })
        }
    }
}

async fn finish(
    state: &AppState,
    id: Uuid,
    status: OutboxStatus,
    next: Option<DateTime<Utc>>,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let now = db::now();
    sqlx::query(
        "UPDATE email_outbox SET status = ?, last_error = ?,
                next_attempt_at = COALESCE(?, next_attempt_at),
                sent_at = IF(?, ?, sent_at)
          WHERE id = ?",
    )
    .bind(status)
    .bind(error)
    .bind(next)
    .bind(status == OutboxStatus::Sent)
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
        q.push(") WHERE status = ");
        q.push_bind(OutboxStatus::Pending);
        q.push(" AND id IN (");
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
          WHERE status IN (?, ?) AND next_attempt_at <= ?",
    )
    .bind(OutboxStatus::Pending)
    .bind(OutboxStatus::Sending)
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

/// Forgets delivered email after 30 days and failed email after 90 (the outbox is not an
/// archive); returns how many went.
pub async fn prune(db: &sqlx::MySqlPool, org_id: OrgId, now: DateTime<Utc>) -> AppResult<u64> {
    let mut removed = 0;
    for (status, days) in [(OutboxStatus::Sent, 30), (OutboxStatus::Failed, 90)] {
        removed += sqlx::query(
            "DELETE FROM email_outbox WHERE organization_id = ? AND status = ? AND created_at < ?",
        )
        .bind(org_id)
        .bind(status)
        .bind(now - chrono::Duration::days(days))
        .execute(db)
        .await?
        .rows_affected();
    }
    Ok(removed)
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
}
