//! The credit ledger: writing one credit, and `refresh`, which brings an enrollment (or every
//! enrollment of a member) up to date from it and completes or reopens it.

use crate::auth::OrgId;
use chrono::Duration;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::enrollments::{
    Enrollment, EnrollmentStatus, lock_enrollment, phase_rows, phase_states, progress_rows,
    signoffs,
};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Tx};
use crate::error::AppResult;
use crate::modules::programs::rules as engine;
use crate::modules::training::service::{self as training, RecordStatus};

/// Writes one credit; a source already credited to the item is left as it is.
pub(in crate::modules::programs) async fn add_credit(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    progress_id: Uuid,
    source_type: &str,
    source_id: Uuid,
    units: Decimal,
) -> AppResult<bool> {
    let done = sqlx::query(
        "INSERT IGNORE INTO requirement_progress_credits (progress_id, source_type, source_id,
             organization_id, units, credited_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(progress_id)
    .bind(source_type)
    .bind(source_id)
    .bind(org_id)
    .bind(units)
    .bind(db::now())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// After a member's training records changed: every enrollment of theirs that is going or
/// done is brought up to date.
pub(in crate::modules::programs) async fn refresh_member(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    user_id: Uuid,
) -> AppResult<()> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM program_enrollments WHERE organization_id = ? AND user_id = ?
            AND status IN (?, ?)",
    )
    .bind(ctx.org_id)
    .bind(user_id)
    .bind(EnrollmentStatus::Active)
    .bind(EnrollmentStatus::Completed)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        refresh(ctx, tx, id).await?;
    }
    Ok(())
}

/// Brings one enrollment up to date from the ledger: credit from the member's training
/// records (a course item by a completed record of its course; an hours item by the hours of
/// records completed since enrolling), credit of voided records taken back, each item's value
/// and status, then the percentage, the phase and completion. Only an active or completed
/// enrollment changes; a completed one whose items fall short is reopened.
pub(in crate::modules::programs) async fn refresh(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
) -> AppResult<()> {
    // Locked: a withdrawal or a second refresh waits, and sees what this one decided.
    let e = lock_enrollment(tx, ctx.org_id, id).await?;
    if !e.status.counting() {
        return Ok(());
    }
    let now = db::now();
    // Hours count from the day of enrolling in the department's time zone (records carry the
    // department's dates).
    let since = crate::time::today_in(&ctx.timezone, e.enrolled_at);
    sqlx::query(
        "INSERT IGNORE INTO requirement_progress_credits (progress_id, source_type, source_id,
             organization_id, units, credited_at)
         SELECT p.id, 'training_record', r.id, p.organization_id,
                CASE WHEN i.item_type = 'course' THEN 1 ELSE r.hours_completed END, ?
           FROM requirement_progress p
           JOIN program_requirements i ON i.id = p.program_requirement_id
           JOIN program_enrollments e ON e.id = p.enrollment_id
           JOIN training_records r ON r.organization_id = e.organization_id AND r.user_id = e.user_id
          WHERE p.organization_id = ? AND p.enrollment_id = ? AND r.status = ?
            AND ((i.item_type = 'course' AND r.course_id = i.course_id)
                 OR (i.item_type = 'hours' AND r.hours_completed > 0
                     AND r.completion_date >= ?))",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .bind(RecordStatus::Completed)
    .bind(since)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE c FROM requirement_progress_credits c
           JOIN requirement_progress p ON p.id = c.progress_id
           JOIN training_records r ON r.organization_id = c.organization_id AND r.id = c.source_id
          WHERE c.organization_id = ? AND p.enrollment_id = ? AND c.source_type = 'training_record'
            AND r.status <> ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(RecordStatus::Completed)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE requirement_progress p
            SET p.progress_value = (SELECT COALESCE(SUM(c.units), 0) FROM requirement_progress_credits c
                                     WHERE c.progress_id = p.id),
                p.updated_at = ?
          WHERE p.organization_id = ? AND p.enrollment_id = ?",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut items = progress_rows(tx, ctx.org_id, id).await?;
    for item in &mut items {
        let status = engine::item_status(item.status, item.progress_value, item.target_value);
        if status != item.status {
            sqlx::query(
                "UPDATE requirement_progress SET status = ? WHERE organization_id = ? AND id = ?",
            )
            .bind(status)
            .bind(ctx.org_id)
            .bind(item.id)
            .execute(&mut **tx)
            .await?;
            item.status = status;
        }
    }
    let phases = phase_rows(tx, ctx.org_id, e.program_id).await?;
    let states = phase_states(&phases, &items);
    let signed = signoffs(tx, ctx.org_id, id).await?;
    let standing = engine::standing(&e.structure_type, &states, e.current_phase_id, &signed);
    match (e.status, standing.complete) {
        (EnrollmentStatus::Active, true) => {
            set_status(
                ctx,
                tx,
                &e,
                EnrollmentStatus::Completed,
                standing.current_phase,
                standing.percent,
            )
            .await?
        }
        (EnrollmentStatus::Completed, false) => {
            set_status(
                ctx,
                tx,
                &e,
                EnrollmentStatus::Active,
                standing.current_phase,
                standing.percent,
            )
            .await?
        }
        _ => {
            if standing.current_phase != e.current_phase_id {
                audit::record(
                    tx,
                    &ctx.actor(),
                    Entry::new("training.phase_advanced", "program_enrollment", id)
                        .changes(serde_json::json!({"member": e.user_id,
                                           "phase": [e.current_phase_id, standing.current_phase]})),
                )
                .await?;
            }
            sqlx::query(
                "UPDATE program_enrollments SET progress_percentage = ?, current_phase_id = ?,
                     updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(standing.percent)
            .bind(standing.current_phase)
            .bind(now)
            .bind(ctx.org_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn set_status(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    e: &Enrollment,
    status: EnrollmentStatus,
    phase: Option<Uuid>,
    percent: Decimal,
) -> AppResult<()> {
    let completed_at = (status == EnrollmentStatus::Completed).then(db::now);
    // Reopened after its finish-by date (credit taken back long after): 30 more days rather
    // than an expiry the next night.
    let today = training::today_for(ctx);
    let target = match e.target_completion_date {
        Some(t) if status == EnrollmentStatus::Active && t < today + Duration::days(30) => {
            Some(today + Duration::days(30))
        }
        other => other,
    };
    db::transition(
        tx,
        sqlx::query(
            "UPDATE program_enrollments SET status = ?, completed_at = ?, current_phase_id = ?,
                 progress_percentage = ?, target_completion_date = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(status)
        .bind(completed_at)
        .bind(phase)
        .bind(percent)
        .bind(target)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(e.id)
        .bind(e.status),
        "the enrollment changed meanwhile; try again",
    )
    .await?;
    let action = if status == EnrollmentStatus::Completed {
        "training.program_completed"
    } else {
        "training.program_reopened"
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(action, "program_enrollment", e.id).changes(serde_json::json!({
            "member": e.user_id, "program": e.program_id, "status": [e.status, status],
            "progress_percentage": percent,
            "target_completion_date": [e.target_completion_date, target],
        })),
    )
    .await
}
