//! Elections' lifecycle job, every five minutes: opens elections whose opening time has come
//! (telling the officers once when one cannot open, and why), closes those whose closing time
//! has passed, and reminds members on the roll who have not voted, once per election, when the
//! close is within the election's reminder hours. Opening and closing lock the election's row
//! and check its state, so a second run (a restart, another server) does nothing twice; the
//! reminder's dedupe key keeps it to once per member.

use uuid::Uuid;

use super::rules::ElectionStatus;
use super::service::{self, ELECTIONS_MANAGE, results};
use crate::audit::Actor;
use crate::error::AppError;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const LIFECYCLE_JOB: &str = "election_lifecycle";

pub async fn lifecycle(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let now = crate::db::now();
    let actor = Actor::system(org, "Elections");
    let mut conn = state.db.acquire().await?;
    let to_open: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, title FROM elections
          WHERE organization_id = ? AND status IN (?, ?)
            AND opens_at IS NOT NULL AND opens_at <= ?
          ORDER BY opens_at LIMIT 100",
    )
    .bind(org)
    .bind(ElectionStatus::Draft)
    .bind(ElectionStatus::Nominations)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let to_close: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM elections
          WHERE organization_id = ? AND status = ? AND closes_at IS NOT NULL
            AND closes_at <= ?
          ORDER BY closes_at LIMIT 100",
    )
    .bind(org)
    .bind(ElectionStatus::Open)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let to_remind: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, title FROM elections
          WHERE organization_id = ? AND status = ?
            AND reminder_hours_before_close IS NOT NULL AND closes_at > ?
            AND closes_at <= DATE_ADD(?, INTERVAL reminder_hours_before_close HOUR)
          LIMIT 100",
    )
    .bind(org)
    .bind(ElectionStatus::Open)
    .bind(now)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut done = 0;
    for (id, title) in to_open {
        let mut tx = state.db.begin().await?;
        match service::open_as(&mut tx, &state.notifier, org, &actor, id).await {
            Ok(_) => {
                tx.commit().await?;
                done += 1;
            }
            Err(AppError::Conflict(why)) => {
                tx.rollback().await?;
                // Told once: the officers fix it (or clear the opening time).
                let mut tx = state.db.begin().await?;
                let officers = notify::holders_of(&mut tx, org, ELECTIONS_MANAGE).await?;
                notify::notify(
                    &state.notifier,
                    &mut tx,
                    org,
                    &officers,
                    &Notice {
                        category: "elections",
                        subject: format!("Could not open: {title}"),
                        body: format!(
                            "“{title}” was due to open but did not: {why}. Fix it and open it \
                             by hand, or change its opening time."
                        ),
                        link: Some(format!("/elections/{id}")),
                        dedupe_key: Some(format!("election-open-failed:{id}")),
                    },
                )
                .await?;
                tx.commit().await?;
            }
            Err(other) => return Err(other.into()),
        }
    }
    for id in to_close {
        let mut tx = state.db.begin().await?;
        match results::close_as(&mut tx, &state.notifier, org, &actor, id).await {
            Ok(_) => {
                tx.commit().await?;
                done += 1;
            }
            // Closed meanwhile by an officer.
            Err(AppError::Conflict(_)) => tx.rollback().await?,
            Err(other) => return Err(other.into()),
        }
    }
    for (id, title) in to_remind {
        let mut tx = state.db.begin().await?;
        let waiting: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM election_voters
              WHERE organization_id = ? AND election_id = ? AND voted_by IS NULL",
        )
        .bind(org)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let sent = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &waiting,
            &Notice {
                category: "elections",
                subject: format!("Voting closes soon: {title}"),
                body: format!(
                    "Voting for “{title}” closes soon and you have not voted on every \
                     position yet."
                ),
                link: Some(format!("/elections/{id}/ballot")),
                dedupe_key: Some(format!("election-reminder:{id}")),
            },
        )
        .await?;
        tx.commit().await?;
        done += sent.notified;
    }
    state.mailer.kick();
    Ok(done)
}
