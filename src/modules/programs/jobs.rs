//! The daily program deadline check (`reference/features.md` §1.3: past the time limit an
//! enrollment is expired): a member whose active enrollment is due within 30 days is reminded
//! once (the notice's dedupe key); one past its finish-by date is marked expired, audited, and
//! the member and the training officers are told. An expired enrollment keeps its progress.
//! A shift report approved more than 7 days ago and still not acknowledged by its trainee is
//! escalated once: the trainee is reminded and the report's author told.

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use super::service::EnrollmentStatus;
use super::shift_reports::ReviewStatus;
use crate::audit::{self, Actor, Entry};
use crate::auth::permissions::TRAINING_MANAGE;
use crate::jobs::JobCtx;
use crate::notify::{self, Notice};

pub const JOB: &str = "program_deadlines";

/// Days before the finish-by date at which the member is reminded.
const WARN_DAYS: i64 = 30;

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    user_id: Uuid,
    member: String,
    program: String,
    target: NaiveDate,
    progress: rust_decimal::Decimal,
}

pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut conn = state.db.acquire().await?;
    let today = crate::modules::training::service::today(&mut conn, org).await?;
    let due: Vec<Due> = sqlx::query_as(
        "SELECT e.id, e.user_id, CONCAT(u.first_name, ' ', u.last_name) AS member, p.name AS program,
                e.target_completion_date AS target, e.progress_percentage AS progress
           FROM program_enrollments e
           JOIN users u ON u.id = e.user_id
           JOIN training_programs p ON p.id = e.program_id
          WHERE e.organization_id = ? AND e.status = ?
            AND e.target_completion_date IS NOT NULL AND e.target_completion_date <= ?
          ORDER BY e.target_completion_date",
    )
    .bind(org)
    .bind(EnrollmentStatus::Active)
    .bind(today + Duration::days(WARN_DAYS))
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut done = 0;
    for d in due {
        let mut tx = state.db.begin().await?;
        let link = Some(format!("/training/enrollments/{}", d.id));
        if d.target < today {
            // Expire it only if it is still active now (an officer may have acted meanwhile).
            let changed = sqlx::query(
                "UPDATE program_enrollments SET status = ?, updated_at = ?
                  WHERE organization_id = ? AND id = ? AND status = ?",
            )
            .bind(EnrollmentStatus::Expired)
            .bind(crate::db::now())
            .bind(org)
            .bind(d.id)
            .bind(EnrollmentStatus::Active)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                continue;
            }
            audit::record(
                &mut tx,
                &Actor::system(org, "program deadlines"),
                Entry::new("training.enrollment_expired", "program_enrollment", d.id).changes(
                    serde_json::json!({"member": d.user_id, "program": d.program,
                                       "target_completion_date": d.target,
                                       "progress_percentage": d.progress,
                                       "status": [EnrollmentStatus::Active,
                                                  EnrollmentStatus::Expired]}),
                ),
            )
            .await?;
            let mut to = notify::holders_of(&mut tx, org, TRAINING_MANAGE).await?;
            to.push(d.user_id);
            notify::notify(
                &state.notifier,
                &mut tx,
                org,
                &to,
                &Notice {
                    category: "training",
                    subject: format!("{}: {} expired", d.member, d.program),
                    body: format!(
                        "{}'s enrollment in {} was due by {} and has expired at {} % done. Its \
                         progress is kept; an officer can enroll {} again.",
                        d.member,
                        d.program,
                        d.target,
                        d.progress.normalize(),
                        d.member
                    ),
                    link,
                    dedupe_key: Some(format!("program-expired:{}", d.id)),
                },
            )
            .await?;
        } else {
            notify::notify(
                &state.notifier,
                &mut tx,
                org,
                &[d.user_id],
                &Notice {
                    category: "training",
                    subject: format!("{} is due by {}", d.program, d.target),
                    body: format!(
                        "Your program {} is due by {} and is {} % done. Your training page shows \
                         what is left.",
                        d.program,
                        d.target,
                        d.progress.normalize()
                    ),
                    link,
                    dedupe_key: Some(format!("program-due:{}", d.id)),
                },
            )
            .await?;
        }
        tx.commit().await?;
        done += 1;
    }
    done += escalate_unread_reports(&ctx).await?;
    state.mailer.kick();
    Ok(done)
}

/// Days after approval before an unread shift report is escalated.
const ACKNOWLEDGE_DAYS: i64 = 7;

#[derive(sqlx::FromRow)]
struct Unread {
    id: Uuid,
    trainee_id: Uuid,
    officer_id: Uuid,
    trainee: String,
    shift_date: NaiveDate,
}

async fn escalate_unread_reports(ctx: &JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let unread: Vec<Unread> = sqlx::query_as(
        "SELECT s.id, s.trainee_id, s.officer_id,
                CONCAT(t.first_name, ' ', t.last_name) AS trainee, s.shift_date
           FROM shift_completion_reports s JOIN users t ON t.id = s.trainee_id
          WHERE s.organization_id = ? AND s.review_status = ?
            AND s.trainee_acknowledged_at IS NULL AND s.reviewed_at < ?",
    )
    .bind(org)
    .bind(ReviewStatus::Approved)
    .bind(crate::db::now() - Duration::days(ACKNOWLEDGE_DAYS))
    .fetch_all(&state.db)
    .await?;
    let locale = {
        let mut conn = state.db.acquire().await?;
        crate::organization::service::locale_of(&mut conn, org).await?
    };
    let mut done = 0;
    for r in unread {
        let mut tx = state.db.begin().await?;
        let link = Some(format!("/training/shift-reports/{}", r.id));
        let key = Some(format!("shift-report-unread:{}", r.id));
        let sent = notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[r.trainee_id],
            &Notice {
                category: "training",
                subject: format!(
                    "Please read the report on your shift of {}",
                    locale.day(r.shift_date)
                ),
                body: format!(
                    "The report on your shift of {} was approved more than {ACKNOWLEDGE_DAYS} days \
                     ago. Read it and acknowledge it.",
                    locale.day(r.shift_date)
                ),
                link: link.clone(),
                dedupe_key: key.clone(),
            },
        )
        .await?;
        notify::notify(
            &state.notifier,
            &mut tx,
            org,
            &[r.officer_id],
            &Notice {
                category: "training",
                subject: format!("{} has not read your shift report", r.trainee),
                body: format!(
                    "{} has not acknowledged your report on the shift of {} in \
                     {ACKNOWLEDGE_DAYS} days.",
                    r.trainee,
                    locale.day(r.shift_date)
                ),
                link,
                dedupe_key: key,
            },
        )
        .await?;
        tx.commit().await?;
        done += sent.notified;
    }
    Ok(done)
}
