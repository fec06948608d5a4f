//! Closing out a shift: who was there and how many calls, then finalized (locked). Each member
//! present gets a training record of type `shift` (the shift's hours) and one of type `call` for
//! each call, once, so that shift and call requirements count them (rule 12 of
//! `reference/features.md` §1.3); reopening voids them. The shift's officer or a scheduling
//! officer closes out, with the shift's row locked: two at once close it once.

use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::assignments::lock_shift;
use super::{SCHEDULING_MANAGE, SCHEDULING_VIEW, Shift, shift};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Tx};
use crate::error::{AppError, AppResult};
use crate::input::Checks;
use crate::modules::scheduling::rules::{AssignmentStatus, ShiftStatus};

/// At most this many calls on one shift.
pub const MAX_CALLS: u16 = 50;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceLine {
    pub assignment_id: Uuid,
    pub present: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseOutInput {
    /// Every seat held on the shift, present or not.
    pub attendance: Vec<AttendanceLine>,
    /// Calls answered during the shift (at most 50).
    #[schema(maximum = 50)]
    pub call_count: u16,
}

fn may_close(ctx: &Ctx, officer: Option<Uuid>) -> AppResult<()> {
    ctx.require(SCHEDULING_VIEW)?;
    if ctx.has(SCHEDULING_MANAGE) || officer == Some(ctx.user_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the shift's officer or a scheduling officer closes out a shift".into(),
        ))
    }
}

pub async fn finalize(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, input: CloseOutInput) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let s = lock_shift(ctx, tx, id).await?;
    may_close(ctx, s.shift_officer_id)?;
    if s.status == ShiftStatus::Cancelled {
        return Err(AppError::Conflict("the shift is cancelled".into()));
    }
    if s.finalized {
        return Err(AppError::Conflict("the shift is already closed out".into()));
    }
    if s.starts_at > db::now() {
        return Err(AppError::Conflict("the shift has not started yet".into()));
    }
    let live: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT sa.id, sa.user_id, CONCAT(u.first_name, ' ', u.last_name)
           FROM shift_assignments sa
           JOIN users u ON u.organization_id = sa.organization_id AND u.id = sa.user_id
          WHERE sa.organization_id = ? AND sa.shift_id = ?
            AND sa.status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .fetch_all(&mut **tx)
    .await?;
    let mut c = Checks::default();
    if input.call_count > MAX_CALLS {
        c.push("call_count", format!("must be at most {MAX_CALLS}"));
    }
    let mut seen = Vec::new();
    for (i, line) in input.attendance.iter().enumerate() {
        if !live.iter().any(|(a, _, _)| *a == line.assignment_id) {
            c.push(
                &format!("attendance[{i}].assignment_id"),
                "is not a seat held on this shift",
            );
        } else if seen.contains(&line.assignment_id) {
            c.push(&format!("attendance[{i}].assignment_id"), "is listed twice");
        }
        seen.push(line.assignment_id);
    }
    let missing: Vec<&str> = live
        .iter()
        .filter(|(a, _, _)| !seen.contains(a))
        .map(|(_, _, name)| name.as_str())
        .collect();
    if !missing.is_empty() {
        c.push(
            "attendance",
            format!("must say whether each member was there (missing: {})", missing.join(", ")),
        );
    }
    c.finish()?;
    let now = db::now();
    let mut present = Vec::new();
    for line in &input.attendance {
        let user = live
            .iter()
            .find(|(a, _, _)| *a == line.assignment_id)
            .map(|(_, u, _)| *u)
            .ok_or(AppError::NotFound)?;
        if line.present {
            present.push(user);
            sqlx::query(
                "UPDATE shift_assignments SET attended = TRUE, updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(now)
            .bind(ctx.org_id)
            .bind(line.assignment_id)
            .execute(&mut **tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE shift_assignments SET attended = FALSE, status = ?, updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(AssignmentStatus::NoShow)
            .bind(now)
            .bind(ctx.org_id)
            .bind(line.assignment_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    // The shift's hours, to the quarter hour.
    let minutes = (s.ends_at - s.starts_at).num_minutes().max(0);
    let hours = Decimal::from((minutes + 7) / 15) / Decimal::from(4);
    let mut records = Vec::new();
    let shift_hours: Vec<(Uuid, Decimal)> = present.iter().map(|u| (*u, hours)).collect();
    let note = format!("Shift closed out: {}", s.title);
    records.extend(
        crate::modules::training::service::credit_attendance(
            ctx,
            tx,
            crate::modules::training::service::AttendanceCredit {
                course_id: None,
                course_name: &s.title,
                training_type: Some("shift"),
                completion_date: s.shift_date,
                location_id: None,
                notes: &note,
                members: &shift_hours,
            },
        )
        .await?,
    );
    let call_credit: Vec<(Uuid, Decimal)> = present.iter().map(|u| (*u, Decimal::ZERO)).collect();
    for n in 1..=input.call_count {
        let name = format!("{}: call {n}", s.title);
        records.extend(
            crate::modules::training::service::credit_attendance(
                ctx,
                tx,
                crate::modules::training::service::AttendanceCredit {
                    course_id: None,
                    course_name: &name,
                    training_type: Some("call"),
                    completion_date: s.shift_date,
                    location_id: None,
                    notes: &note,
                    members: &call_credit,
                },
            )
            .await?,
        );
    }
    for (user, record) in &records {
        sqlx::query(
            "INSERT INTO shift_credits (organization_id, shift_id, user_id, training_record_id)
             VALUES (?, ?, ?, ?)",
        )
        .bind(ctx.org_id)
        .bind(s.id)
        .bind(user)
        .bind(record)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "UPDATE shifts SET call_count = ?, finalized_at = ?, finalized_by = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(input.call_count)
    .bind(now)
    .bind(ctx.user_id)
    .bind(now)
    .bind(ctx.org_id)
    .bind(s.id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.finalized", "shift", s.id).changes(serde_json::json!({
            "shift": s.title, "present": present.len(),
            "absent": input.attendance.len() - present.len(), "call_count": input.call_count,
            "training_records": records.len(),
        })),
    )
    .await?;
    shift(ctx, tx, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenInput {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Opens a closed-out shift again: its training records are voided (with the reason), and its
/// no-shows hold their seats again, for the close-out to be done anew.
pub async fn reopen(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, input: ReopenInput) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let s = lock_shift(ctx, tx, id).await?;
    may_close(ctx, s.shift_officer_id)?;
    let reason = crate::input::required_text("reason", &input.reason, 500)?;
    if !s.finalized {
        return Err(AppError::Conflict("the shift is not closed out".into()));
    }
    let records: Vec<Uuid> = sqlx::query_scalar(
        "SELECT training_record_id FROM shift_credits WHERE organization_id = ? AND shift_id = ?",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .fetch_all(&mut **tx)
    .await?;
    crate::modules::training::service::withdraw_credit(
        ctx,
        tx,
        &records,
        &format!("Shift reopened: {reason}"),
    )
    .await?;
    sqlx::query("DELETE FROM shift_credits WHERE organization_id = ? AND shift_id = ?")
        .bind(ctx.org_id)
        .bind(s.id)
        .execute(&mut **tx)
        .await?;
    let now = db::now();
    sqlx::query(
        "UPDATE shift_assignments SET status = IF(status = 'no_show', 'assigned', status),
                attended = NULL, updated_at = ?
          WHERE organization_id = ? AND shift_id = ? AND attended IS NOT NULL",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(s.id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE shifts SET finalized_at = NULL, finalized_by = NULL, call_count = NULL,
                updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(s.id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.reopened", "shift", s.id).changes(serde_json::json!({
            "shift": s.title, "reason": reason, "training_records_voided": records.len(),
        })),
    )
    .await?;
    shift(ctx, tx, id).await
}
