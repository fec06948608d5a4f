//! Scheduling's jobs. Staffing: a shift that is still open (below its minimum, or a required
//! seat empty) when it comes within its warning hours is reported once to its officer and the
//! `scheduling.manage` holders. Reminders: each member with a seat is reminded once, the day
//! before the shift. Each sets its stamp by a conditional update in the transaction of its
//! notices, so a second run (a restart, another server) sends nothing again.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rules::{self, Seat};
use super::service::SCHEDULING_MANAGE;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const STAFFING_JOB: &str = "scheduling_staffing";
pub const REMINDER_JOB: &str = "scheduling_reminders";

/// How long before a shift its members are reminded.
pub const REMIND_HOURS: i64 = 24;

#[derive(sqlx::FromRow)]
struct Upcoming {
    id: Uuid,
    title: String,
    starts_at: DateTime<Utc>,
    positions: String,
    min_staffing: u8,
    shift_officer_id: Option<Uuid>,
}

async fn local_of(ctx: &JobCtx, conn: &mut crate::db::Conn) -> anyhow::Result<crate::time::Local> {
    let tz: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&mut *conn)
        .await?;
    let locale = crate::organization::service::locale_of(conn, ctx.org_id).await?;
    Ok(crate::time::Local::new(&tz, locale))
}

pub async fn staffing(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let now = crate::db::now();
    let mut conn = state.db.acquire().await?;
    let due: Vec<Upcoming> = sqlx::query_as(
        "SELECT id, title, starts_at, positions, min_staffing, shift_officer_id FROM shifts
          WHERE organization_id = ? AND status = 'scheduled' AND staffing_warned_at IS NULL
            AND finalized_at IS NULL AND starts_at > ?
            AND starts_at <= DATE_ADD(?, INTERVAL staffing_warning_hours HOUR)
          ORDER BY starts_at LIMIT 500",
    )
    .bind(org)
    .bind(now)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let local = local_of(&ctx, &mut conn).await?;
    let officers = notify::holders_of(&mut conn, org, SCHEDULING_MANAGE).await?;
    drop(conn);
    let mut sent = 0;
    for s in &due {
        let mut tx = state.db.begin().await?;
        // The shift's row, locked, and its seats as they stand now.
        let still: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM shifts WHERE organization_id = ? AND id = ?
                AND staffing_warned_at IS NULL AND status = 'scheduled' FOR UPDATE",
        )
        .bind(org)
        .bind(s.id)
        .fetch_optional(&mut *tx)
        .await?;
        if still.is_none() {
            continue;
        }
        let held: Vec<u8> = sqlx::query_scalar(
            "SELECT seat FROM shift_assignments WHERE organization_id = ? AND shift_id = ?
                AND status IN ('assigned', 'pending', 'confirmed')",
        )
        .bind(org)
        .bind(s.id)
        .fetch_all(&mut *tx)
        .await?;
        let seats: Vec<Seat> = serde_json::from_str(&s.positions).unwrap_or_default();
        let staffing = rules::staffing(&seats, &held, u32::from(s.min_staffing));
        if !staffing.open {
            // Staffed now; if it opens again before the start, a later run reports it.
            continue;
        }
        sqlx::query("UPDATE shifts SET staffing_warned_at = ? WHERE organization_id = ? AND id = ?")
            .bind(now)
            .bind(org)
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
        let mut to = officers.clone();
        to.extend(s.shift_officer_id);
        to.sort_unstable();
        to.dedup();
        let at = local.moment(&s.starts_at);
        let mut short = Vec::new();
        if staffing.filled < staffing.min_staffing {
            short.push(format!(
                "{} of {} seats filled",
                staffing.filled, staffing.min_staffing
            ));
        }
        if !staffing.missing.is_empty() {
            short.push(format!("no {}", staffing.missing.join(", no ")));
        }
        let done = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &to,
            &Notice {
                category: "scheduling",
                subject: format!("Short-staffed: {} ({at})", s.title),
                body: format!("{} starting {at} is short: {}.", s.title, short.join("; ")),
                link: Some(format!("/scheduling/shifts/{}", s.id)),
                dedupe_key: Some(format!("shift-staffing:{}", s.id)),
            },
        )
        .await?;
        tx.commit().await?;
        sent += done.notified;
    }
    state.mailer.kick();
    Ok(sent)
}

#[derive(sqlx::FromRow)]
struct Seated {
    id: Uuid,
    user_id: Uuid,
    position: String,
    shift_id: Uuid,
    title: String,
    starts_at: DateTime<Utc>,
}

pub async fn reminders(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let now = crate::db::now();
    let mut conn = state.db.acquire().await?;
    let due: Vec<Seated> = sqlx::query_as(
        "SELECT sa.id, sa.user_id, sa.position, s.id AS shift_id, s.title, s.starts_at
           FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
          WHERE sa.organization_id = ? AND sa.reminder_sent_at IS NULL
            AND sa.status IN ('assigned', 'pending', 'confirmed') AND s.status = 'scheduled'
            AND s.starts_at > ? AND s.starts_at <= DATE_ADD(?, INTERVAL ? HOUR)
          ORDER BY s.starts_at LIMIT 1000",
    )
    .bind(org)
    .bind(now)
    .bind(now)
    .bind(REMIND_HOURS)
    .fetch_all(&mut *conn)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let local = local_of(&ctx, &mut conn).await?;
    drop(conn);
    let mut sent = 0;
    for a in &due {
        let mut tx = state.db.begin().await?;
        let claimed = sqlx::query(
            "UPDATE shift_assignments SET reminder_sent_at = ?
              WHERE organization_id = ? AND id = ? AND reminder_sent_at IS NULL
                AND user_id = ? AND status IN ('assigned', 'pending', 'confirmed')",
        )
        .bind(now)
        .bind(org)
        .bind(a.id)
        .bind(a.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        let at = local.moment(&a.starts_at);
        let done = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[a.user_id],
            &Notice {
                category: "scheduling",
                subject: format!("Reminder: {} on {at}", a.title),
                body: format!("You have the {} seat on {} starting {at}.", a.position, a.title),
                link: Some(format!("/scheduling/shifts/{}", a.shift_id)),
                dedupe_key: Some(format!("shift-reminder:{}:{}", a.id, a.user_id)),
            },
        )
        .await?;
        tx.commit().await?;
        sent += done.notified;
    }
    state.mailer.kick();
    Ok(sent)
}
