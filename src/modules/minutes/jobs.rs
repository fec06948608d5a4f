//! The daily action-item reminders: the assignee of an open item of approved minutes is told
//! three days before its
//! due date, the day before (or on the day), and once it is overdue. Each reminder goes once per
//! item and due date: the notice's dedupe key carries both, so a re-run, a restart or a second
//! server sends nothing twice, and moving the due date starts its reminders afresh.

use chrono::NaiveDate;
use uuid::Uuid;

use super::rules::{self, ItemStatus, MinutesStatus, Reminder};
use crate::jobs::{JobCtx, Skip};
use crate::notify::{self, Notice};

pub const REMINDERS_JOB: &str = "action_item_reminders";

pub async fn reminders(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut conn = state.db.acquire().await?;
    let today = crate::modules::training::service::today(&mut conn, org).await?;
    let locale = crate::organization::service::locale_of(&mut conn, org).await?;
    let due: Vec<(Uuid, Uuid, String, NaiveDate, String)> = sqlx::query_as(
        "SELECT i.id, i.assignee_id, i.description, i.due_date, m.title
           FROM minutes_action_items i
           JOIN meeting_minutes m ON m.organization_id = i.organization_id AND m.id = i.minutes_id
          WHERE i.organization_id = ? AND m.status = ? AND i.status IN (?, ?)
            AND i.due_date BETWEEN ? AND ?
          ORDER BY i.due_date, i.id LIMIT 5000",
    )
    .bind(org)
    .bind(MinutesStatus::Approved)
    .bind(ItemStatus::Pending)
    .bind(ItemStatus::InProgress)
    // Overdue a month or more: reminded when it fell due; it does not crowd out new ones.
    .bind(today - chrono::Days::new(31))
    .bind(today + chrono::Days::new(3))
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    if due.is_empty() {
        return Err(Skip("no open action item is due within three days or overdue".into()).into());
    }
    let mut sent = 0;
    for (id, assignee, text, due_date, minutes) in due {
        let Some(r) = rules::reminder(due_date, today) else {
            continue;
        };
        let day = locale.day(due_date);
        let (subject, body) = match r {
            Reminder::ThreeDays => (
                format!("Due {day}: {text}"),
                format!("Your action item from “{minutes}” is due on {day}: {text}"),
            ),
            Reminder::OneDay => (
                format!("Due {}: {text}", if due_date == today { "today".to_string() } else { day.clone() }),
                format!("Your action item from “{minutes}” is due on {day}: {text}"),
            ),
            Reminder::Overdue => (
                format!("Overdue: {text}"),
                format!(
                    "Your action item from “{minutes}” was due on {day}: {text}. Mark it done, \
                     or tell the secretary where it stands."
                ),
            ),
        };
        let mut tx = state.db.begin().await?;
        let out = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[assignee],
            &Notice {
                category: "minutes",
                subject,
                body,
                link: Some("/minutes/action-items".into()),
                dedupe_key: Some(format!("action-item:{id}:{due_date}:{}", r.key())),
            },
        )
        .await?;
        tx.commit().await?;
        sent += out.notified;
    }
    state.mailer.kick();
    Ok(sent)
}
