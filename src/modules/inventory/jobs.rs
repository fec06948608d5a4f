//! The daily equipment job: every checkout past due tells its member and the quartermasters
//! (holders of `inventory.manage`), once per checkout per day — the day is in the notice's
//! dedupe key, so a re-run or a restart the same day sends nothing twice; and every pool at or
//! below its reorder point tells the quartermasters once a day; a departure clearance with
//! equipment still out 30 and 90 days after it began reminds the member and the quartermasters
//! (once each).

use uuid::Uuid;

use super::service::INVENTORY_MANAGE;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const JOB: &str = "inventory_daily";

#[derive(sqlx::FromRow)]
struct Overdue {
    id: Uuid,
    item_name: String,
    barcode: String,
    user_id: Uuid,
    member_name: String,
    expected_return_at: chrono::DateTime<chrono::Utc>,
}

#[derive(sqlx::FromRow)]
struct Low {
    id: Uuid,
    name: String,
    on_shelf: i64,
    reorder_point: u32,
}

/// The department's time zone, whose date "today" is.
async fn timezone(conn: &mut crate::db::Conn, org: crate::auth::OrgId) -> anyhow::Result<String> {
    Ok(
        sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
            .bind(org)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut conn = state.db.acquire().await?;
    let tz = timezone(&mut conn, org).await?;
    let today = crate::time::today(&tz);
    let locale = crate::organization::service::locale_of(&mut conn, org).await?;
    let overdue: Vec<Overdue> = sqlx::query_as(
        "SELECT ck.id, i.name AS item_name, i.barcode, ck.user_id,
                CONCAT(u.first_name, ' ', u.last_name) AS member_name, ck.expected_return_at
           FROM inventory_checkouts ck
           JOIN inventory_items i ON i.organization_id = ck.organization_id AND i.id = ck.item_id
           JOIN users u ON u.organization_id = ck.organization_id AND u.id = ck.user_id
          WHERE ck.organization_id = ? AND ck.checked_in_at IS NULL
            AND ck.expected_return_at <= ?
          ORDER BY ck.expected_return_at",
    )
    .bind(org)
    .bind(crate::db::now())
    .fetch_all(&mut *conn)
    .await?;
    let low: Vec<Low> = sqlx::query_as(
        "SELECT id, name, CAST(quantity AS SIGNED) - CAST(quantity_issued AS SIGNED) AS on_shelf,
                reorder_point
           FROM inventory_items
          WHERE organization_id = ? AND tracking_type = 'pool' AND reorder_point IS NOT NULL
            AND status NOT IN ('retired', 'lost', 'stolen')
            AND quantity - quantity_issued <= reorder_point
          ORDER BY name",
    )
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    let officers = notify::holders_of(&mut conn, org, INVENTORY_MANAGE).await?;
    let clearances =
        super::service::clearance::overdue_for_reminders(&mut conn, org).await?;
    drop(conn);
    if overdue.is_empty() && low.is_empty() && clearances.is_empty() {
        return Ok(0);
    }
    let zone = crate::time::zone(&tz);
    let mut sent = 0;
    for o in &overdue {
        let due_day = o.expected_return_at.with_timezone(&zone).date_naive();
        // Due back by the end of the day before the moment it fell due.
        let due_day = due_day.pred_opt().unwrap_or(due_day);
        let days = (today - due_day).num_days().max(1);
        let late = format!(
            "was due back on {} ({days} day{} ago)",
            locale.day(due_day),
            if days == 1 { "" } else { "s" }
        );
        let mut tx = state.db.begin().await?;
        let member = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[o.user_id],
            &Notice {
                category: "inventory",
                subject: format!("{} is overdue", o.item_name),
                body: format!(
                    "{} ({}) {late}. Please bring it back to the station, or ask the \
                     quartermaster for more time.",
                    o.item_name, o.barcode
                ),
                link: Some("/inventory/mine".into()),
                dedupe_key: Some(format!("inventory-overdue:{}:{today}", o.id)),
            },
        )
        .await?;
        let copy: Vec<Uuid> = officers
            .iter()
            .copied()
            .filter(|u| *u != o.user_id)
            .collect();
        notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &copy,
            &Notice {
                category: "inventory",
                subject: format!("{} has {} overdue", o.member_name, o.item_name),
                body: format!(
                    "{} checked out to {} {late}. You receive this as a quartermaster.",
                    o.item_name, o.member_name
                ),
                link: Some("/inventory/overdue".into()),
                dedupe_key: Some(format!("inventory-overdue-officer:{}:{today}", o.id)),
            },
        )
        .await?;
        tx.commit().await?;
        if member.notified > 0 {
            sent += 1;
        }
    }
    if !low.is_empty() {
        let lines: Vec<String> = low
            .iter()
            .map(|l| {
                format!(
                    "{}: {} on the shelf (reorder at {})",
                    l.name, l.on_shelf, l.reorder_point
                )
            })
            .collect();
        let mut tx = state.db.begin().await?;
        let told = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &officers,
            &Notice {
                category: "inventory",
                subject: format!(
                    "{} stock item{} at the reorder point",
                    low.len(),
                    if low.len() == 1 { "" } else { "s" }
                ),
                body: format!("Low on stock:\n\n{}", lines.join("\n")),
                link: Some("/inventory?status=available".into()),
                dedupe_key: Some(format!(
                    "inventory-low:{today}:{}",
                    low.first().map(|l| l.id).unwrap_or_default()
                )),
            },
        )
        .await?;
        tx.commit().await?;
        sent += told.notified.min(1);
    }
    // A clearance with equipment still out 30 and 90 days after it began: the member (who may
    // no longer sign in, but reads email) and the quartermasters, once each.
    for (id, member, name, began, pending) in &clearances {
        let days = (crate::db::now() - *began).num_days();
        let tier = if days >= 90 { "90" } else { "30" };
        let things = if *pending == 1 {
            "1 item".to_string()
        } else {
            format!("{pending} items")
        };
        let mut tx = state.db.begin().await?;
        let told = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[*member],
            &Notice {
                category: "inventory",
                subject: "Department equipment to return".into(),
                body: format!(
                    "You still hold {things} of the department's equipment. Please bring it back \
                     to the station, or call the quartermaster."
                ),
                link: None,
                dedupe_key: Some(format!("inventory-clearance:{id}:{tier}")),
            },
        )
        .await?;
        notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &officers,
            &Notice {
                category: "inventory",
                subject: format!("{name} still holds {things} ({tier} days)"),
                body: format!(
                    "{name}'s departure clearance began {days} days ago and {things} are still \
                     out. You receive this as a quartermaster."
                ),
                link: Some(format!("/inventory/clearances/{id}")),
                dedupe_key: Some(format!("inventory-clearance-officer:{id}:{tier}")),
            },
        )
        .await?;
        tx.commit().await?;
        sent += told.notified.min(1);
    }
    state.mailer.kick();
    Ok(sent)
}

pub const MONTHLY_JOB: &str = "inventory_due_monthly";

/// The first of the month: the quartermasters get the month's due-list (inspections and tests
/// by each item's cycle, service lives that end), overdue ones first; once per month.
pub async fn run_monthly(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut conn = state.db.acquire().await?;
    let today = crate::time::today(&timezone(&mut conn, org).await?);
    let locale = crate::organization::service::locale_of(&mut conn, org).await?;
    let through = super::rules::month_end(today);
    let due = super::service::maintenance::due_items(&mut conn, org, today, through).await?;
    let officers = notify::holders_of(&mut conn, org, INVENTORY_MANAGE).await?;
    drop(conn);
    if due.is_empty() {
        return Ok(0);
    }
    let lines: Vec<String> = due
        .iter()
        .map(|d| {
            format!(
                "{}{}: {} ({}){}",
                locale.day(d.due),
                if d.overdue { ", overdue" } else { "" },
                d.name,
                d.barcode,
                if d.reason == "retirement" {
                    ", service life ends"
                } else {
                    ""
                }
            )
        })
        .collect();
    let overdue = due.iter().filter(|d| d.overdue).count();
    let mut tx = state.db.begin().await?;
    let told = notify::notify(
        &state.notifier,
        &mut tx,
        org,
        &officers,
        &Notice {
            category: "inventory",
            subject: format!(
                "Equipment due through {}: {}{}",
                locale.day(through),
                due.len(),
                if overdue > 0 {
                    format!(" ({overdue} overdue)")
                } else {
                    String::new()
                }
            ),
            body: format!(
                "Inspections, tests and service lives due by the end of the month:\n\n{}",
                lines.join("\n")
            ),
            link: Some("/inventory/due".into()),
            dedupe_key: Some(format!("inventory-due:{}", through.format("%Y-%m"))),
        },
    )
    .await?;
    tx.commit().await?;
    state.mailer.kick();
    Ok(told.notified)
}
