//! The reminder job: each published event's reminder goes out once, `reminder_hours` before it
//! starts, to those going (or every active member), in-app and by email per preference. The
//! event's `reminder_sent_at` is set in the same transaction as the notices, by a conditional
//! update, so a second run (another server, a restart, a clock jump) sends nothing again.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rules::ReminderTarget;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const JOB: &str = "events_reminders";

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    title: String,
    starts_at: DateTime<Utc>,
    reminder_target: ReminderTarget,
    location: Option<String>,
}

pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let now = crate::db::now();
    let mut conn = state.db.acquire().await?;
    let due: Vec<Due> = sqlx::query_as(
        "SELECT e.id, e.title, e.starts_at, e.reminder_target,
                COALESCE(l.name, e.location_text) AS location
           FROM events e
           LEFT JOIN locations l ON l.organization_id = e.organization_id AND l.id = e.location_id
          WHERE e.organization_id = ? AND e.reminder_sent_at IS NULL AND NOT e.is_draft
            AND e.cancelled_at IS NULL AND e.reminder_target <> 'none'
            AND e.reminder_hours IS NOT NULL AND e.starts_at > ?
            AND e.starts_at <= DATE_ADD(?, INTERVAL e.reminder_hours HOUR)
          ORDER BY e.starts_at LIMIT 500",
    )
    .bind(org)
    .bind(now)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let tz: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
        .bind(org)
        .fetch_one(&mut *conn)
        .await?;
    let locale = crate::organization::service::locale_of(&mut conn, org).await?;
    drop(conn);
    let local = crate::time::Local::new(&tz, locale);
    let mut sent = 0;
    for e in &due {
        let mut tx = state.db.begin().await?;
        let claimed = sqlx::query(
            "UPDATE events SET reminder_sent_at = ?
              WHERE organization_id = ? AND id = ? AND reminder_sent_at IS NULL
                AND cancelled_at IS NULL AND NOT is_draft",
        )
        .bind(now)
        .bind(org)
        .bind(e.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        let recipients: Vec<Uuid> = match e.reminder_target {
            ReminderTarget::All => {
                sqlx::query_scalar(
                    "SELECT id FROM users WHERE organization_id = ?
                        AND status IN ('active', 'probationary')",
                )
                .bind(org)
                .fetch_all(&mut *tx)
                .await?
            }
            _ => {
                sqlx::query_scalar(
                    "SELECT user_id FROM event_attendees
                      WHERE organization_id = ? AND event_id = ? AND rsvp_status = 'going'",
                )
                .bind(org)
                .bind(e.id)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let at = local.moment(&e.starts_at);
        let place = e
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let done = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &recipients,
            &Notice {
                category: "events",
                subject: format!("Reminder: {} on {at}", e.title),
                body: format!("{} is on {at}{place}.", e.title),
                link: Some(format!("/events/{}", e.id)),
                dedupe_key: Some(format!(
                    "event-reminder:{}:{}",
                    e.id,
                    e.starts_at.timestamp()
                )),
            },
        )
        .await?;
        tx.commit().await?;
        sent += done.notified;
    }
    state.mailer.kick();
    Ok(sent)
}
