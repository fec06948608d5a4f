//! Enrollments: listing them, one with each phase and item, enrolling a member, withdrawing,
//! an officer's sign-off of a phase and decision on an item. A member with only
//! `training.view` sees their own.

use crate::auth::OrgId;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::credit::{add_credit, refresh};
use super::programs::{PhaseRow, program};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{optional_text, required_text};
use crate::modules::programs::rules::{self as engine, ItemState, ItemStatus, PhaseState};
use crate::modules::training::service as training;
use crate::notify::{self, Notice, Notifier};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Enrollment {
    pub id: Uuid,
    pub program_id: Uuid,
    pub program_name: String,
    pub structure_type: String,
    pub user_id: Uuid,
    pub member_name: String,
    /// active, completed, expired, on_hold, withdrawn or failed.
    #[schema(schema_with = enrollment_status_schema)]
    pub status: EnrollmentStatus,
    pub enrolled_at: DateTime<Utc>,
    pub target_completion_date: Option<NaiveDate>,
    pub current_phase_id: Option<Uuid>,
    pub current_phase_name: Option<String>,
    #[schema(value_type = f64)]
    pub progress_percentage: Decimal,
    pub completed_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
}

const ENROLLMENT_COLUMNS: &str = "e.id, e.program_id, p.name AS program_name, p.structure_type, \
     e.user_id, CONCAT(u.first_name, ' ', u.last_name) AS member_name, e.status, e.enrolled_at, \
     e.target_completion_date, e.current_phase_id, ph.name AS current_phase_name, \
     e.progress_percentage, e.completed_at, e.withdrawn_at, e.withdrawn_reason";

const ENROLLMENT_FROM: &str = "program_enrollments e
     JOIN training_programs p ON p.id = e.program_id
     JOIN users u ON u.id = e.user_id
     LEFT JOIN program_phases ph ON ph.id = e.current_phase_id";

async fn enrollment_row(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Enrollment> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM {ENROLLMENT_FROM} WHERE e.organization_id = ? AND e.id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentQuery {
    /// One member's (members without `training.manage` see only their own).
    pub user_id: Option<Uuid>,
    pub program_id: Option<Uuid>,
    /// active, completed, expired, on_hold, withdrawn or failed.
    #[param(schema_with = enrollment_status_schema)]
    pub status: Option<String>,
}

fn enrollment_status_schema() -> utoipa::openapi::Object {
    EnrollmentStatus::schema_object()
}

crate::words! {
    /// Where an enrollment stands.
    pub enum EnrollmentStatus {
        Active = "active",
        Completed = "completed",
        Expired = "expired",
        OnHold = "on_hold",
        Withdrawn = "withdrawn",
        Failed = "failed",
    }
}

impl EnrollmentStatus {
    /// Still going: the member may withdraw, and nobody may enrol them in the program again.
    pub fn going(self) -> bool {
        matches!(self, EnrollmentStatus::Active | EnrollmentStatus::OnHold)
    }

    /// Its items still change with the member's credit (a completed one reopens if they fall
    /// short).
    pub fn counting(self) -> bool {
        matches!(self, EnrollmentStatus::Active | EnrollmentStatus::Completed)
    }

    /// In words, for a sentence ("the enrollment is on hold").
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }
}

pub async fn enrollments(
    ctx: &Ctx,
    conn: &mut Conn,
    q: EnrollmentQuery,
) -> AppResult<Vec<Enrollment>> {
    let user = training::whose(ctx, q.user_id)?;
    let status = EnrollmentStatus::parse_filter("status", q.status.as_deref())?;
    let mut filter = String::from("e.organization_id = ?");
    if user.is_some() {
        filter.push_str(" AND e.user_id = ?");
    }
    if q.program_id.is_some() {
        filter.push_str(" AND e.program_id = ?");
    }
    if status.is_some() {
        filter.push_str(" AND e.status = ?");
    }
    let mut query = sqlx::query_as::<_, Enrollment>(AssertSqlSafe(format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM {ENROLLMENT_FROM} WHERE {filter}
          ORDER BY e.status = ? DESC, u.last_name, u.first_name, e.enrolled_at DESC"
    )))
    .bind(ctx.org_id);
    if let Some(u) = user {
        query = query.bind(u);
    }
    if let Some(p) = q.program_id {
        query = query.bind(p);
    }
    if let Some(s) = status {
        query = query.bind(s);
    }
    Ok(query
        .bind(EnrollmentStatus::Active)
        .fetch_all(&mut *conn)
        .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ItemProgress {
    /// The progress row (`PATCH`-like actions name the item instead).
    pub id: Uuid,
    pub item_id: Uuid,
    pub phase_id: Uuid,
    pub name: String,
    pub item_type: String,
    #[schema(value_type = f64)]
    pub target_value: Decimal,
    #[schema(value_type = f64)]
    pub progress_value: Decimal,
    /// not_started, in_progress, completed, verified or waived.
    #[schema(schema_with = ItemStatus::schema_object)]
    pub status: ItemStatus,
    pub is_required: bool,
    pub verified_by: Option<Uuid>,
    pub verified_at: Option<DateTime<Utc>>,
}

impl ItemProgress {
    pub fn percent(&self) -> Decimal {
        engine::item_percent(self.status, self.progress_value, self.target_value)
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhaseProgress {
    pub id: Uuid,
    pub phase_number: u16,
    pub name: String,
    pub requires_manual_advancement: bool,
    /// Every required item done.
    pub complete: bool,
    /// An officer signed the phase off.
    pub signed_off: bool,
    pub current: bool,
    pub items: Vec<ItemProgress>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrollmentDetail {
    #[serde(flatten)]
    pub enrollment: Enrollment,
    /// The current phase is done and waits for an officer's sign-off.
    pub awaiting_sign_off: bool,
    pub phases: Vec<PhaseProgress>,
}

pub(super) async fn progress_rows(
    conn: &mut Conn,
    org_id: OrgId,
    enrollment: Uuid,
) -> AppResult<Vec<ItemProgress>> {
    Ok(sqlx::query_as(
        "SELECT p.id, i.id AS item_id, i.phase_id, i.name, i.item_type, i.target_value,
                p.progress_value, p.status, i.is_required, p.verified_by, p.verified_at
           FROM requirement_progress p
           JOIN program_requirements i ON i.id = p.program_requirement_id
          WHERE p.organization_id = ? AND p.enrollment_id = ?
          ORDER BY i.sort_order, i.name",
    )
    .bind(org_id)
    .bind(enrollment)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) async fn phase_rows(
    conn: &mut Conn,
    org_id: OrgId,
    program: Uuid,
) -> AppResult<Vec<PhaseRow>> {
    Ok(sqlx::query_as(
        "SELECT id, program_id, phase_number, name, description, requires_manual_advancement,
                time_limit_days
           FROM program_phases WHERE organization_id = ? AND program_id = ? ORDER BY phase_number",
    )
    .bind(org_id)
    .bind(program)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) async fn signoffs(
    conn: &mut Conn,
    org_id: OrgId,
    enrollment: Uuid,
) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT phase_id FROM program_phase_signoffs WHERE organization_id = ? AND enrollment_id = ?",
    )
    .bind(org_id)
    .bind(enrollment)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) fn phase_states(phases: &[PhaseRow], items: &[ItemProgress]) -> Vec<PhaseState> {
    phases
        .iter()
        .map(|ph| PhaseState {
            id: ph.id,
            manual: ph.requires_manual_advancement,
            items: items
                .iter()
                .filter(|i| i.phase_id == ph.id)
                .map(|i| ItemState {
                    required: i.is_required,
                    status: i.status,
                    percent: i.percent(),
                })
                .collect(),
        })
        .collect()
}

/// An enrollment with each phase and item: the member's own, or anyone's with
/// `training.manage`.
pub async fn enrollment(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<EnrollmentDetail> {
    ctx.require(TRAINING_VIEW)?;
    let e = enrollment_row(conn, ctx.org_id, id).await?;
    if e.user_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::NotFound);
    }
    let items = progress_rows(conn, ctx.org_id, id).await?;
    let phases = phase_rows(conn, ctx.org_id, e.program_id).await?;
    let states = phase_states(&phases, &items);
    let signed = signoffs(conn, ctx.org_id, id).await?;
    let standing = engine::standing(&e.structure_type, &states, e.current_phase_id, &signed);
    let awaiting = e.status == EnrollmentStatus::Active && standing.awaiting_sign_off;
    Ok(EnrollmentDetail {
        phases: phases
            .iter()
            .zip(states.iter())
            .map(|(ph, st)| PhaseProgress {
                id: ph.id,
                phase_number: ph.phase_number,
                name: ph.name.clone(),
                requires_manual_advancement: ph.requires_manual_advancement,
                complete: st.complete(),
                signed_off: signed.contains(&ph.id),
                current: e.current_phase_id == Some(ph.id),
                items: items
                    .iter()
                    .filter(|i| i.phase_id == ph.id)
                    .cloned()
                    .collect(),
            })
            .collect(),
        awaiting_sign_off: awaiting,
        enrollment: e,
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    pub user_id: Uuid,
    /// Default: today plus the program's time limit, if it has one.
    pub target_completion_date: Option<NaiveDate>,
}

/// Enrolls a member: blocked only by an enrollment in the same program that is still going
/// (active or on hold). Credit for what the member has done already is applied at once.
pub async fn enroll(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    program_id: Uuid,
    input: EnrollInput,
) -> AppResult<EnrollmentDetail> {
    ctx.require(TRAINING_MANAGE)?;
    let p = program(ctx, tx, program_id).await?;
    // One enrollment at a time per member: the member's row serialises two officers.
    let member: Option<String> = sqlx::query_scalar(
        "SELECT CONCAT(first_name, ' ', last_name) FROM users
          WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(input.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(member) = member else {
        return Err(AppError::field(
            "user_id",
            "is not a member of this department",
        ));
    };
    if !p.active {
        return Err(AppError::field(
            "program",
            "is no longer offered (inactive)",
        ));
    }
    let first = p.phases.first().map(|ph| ph.id);
    if p.phases.iter().all(|ph| ph.items.is_empty()) {
        return Err(AppError::field(
            "program",
            "has no items yet: add phases and items before enrolling anyone",
        ));
    }
    let today = training::today_for(ctx);
    if let Some(t) = input.target_completion_date {
        if t < today {
            return Err(AppError::field(
                "target_completion_date",
                format!("must not be in the past (today is {today})"),
            ));
        }
        if t > today + Duration::days(3660) {
            return Err(AppError::field(
                "target_completion_date",
                "must be within ten years",
            ));
        }
    }
    // A locking read: it sees what the officer we waited for committed. (A plain read would
    // see this transaction's snapshot, taken by the program read above, before the wait.)
    let going: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM program_enrollments
          WHERE organization_id = ? AND program_id = ? AND user_id = ?
            AND status IN (?, ?)
          LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.user_id)
    .bind(EnrollmentStatus::Active)
    .bind(EnrollmentStatus::OnHold)
    .fetch_one(&mut **tx)
    .await?;
    if going > 0 {
        return Err(AppError::field(
            "user_id",
            format!("{member} is already enrolled in this program"),
        ));
    }
    let target = input.target_completion_date.or_else(|| {
        p.time_limit_days
            .map(|d| today + Duration::days(i64::from(d)))
    });
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO program_enrollments (id, organization_id, program_id, user_id, status,
             enrolled_at, enrolled_by, target_completion_date, current_phase_id,
             progress_percentage, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.user_id)
    .bind(EnrollmentStatus::Active)
    .bind(now)
    .bind(ctx.user_id)
    .bind(target)
    .bind(first)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO requirement_progress (id, organization_id, enrollment_id,
             program_requirement_id, status, progress_value, updated_at)
         SELECT UNHEX(REPLACE(UUID(), '-', '')), i.organization_id, ?, i.id, ?, 0, ?
           FROM program_requirements i WHERE i.organization_id = ? AND i.program_id = ?",
    )
    .bind(id)
    .bind(ItemStatus::NotStarted)
    .bind(now)
    .bind(ctx.org_id)
    .bind(program_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.enrolled", "program_enrollment", id).changes(serde_json::json!({
            "member": input.user_id, "program": program_id, "program_name": p.name,
            "target_completion_date": target,
        })),
    )
    .await?;
    refresh(ctx, tx, id).await?;
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &[input.user_id],
        &Notice {
            category: "training",
            subject: format!("You are enrolled in {}", p.name),
            body: format!(
                "You are enrolled in the training program {}{}. Your progress is on your training \
                 page.",
                p.name,
                target
                    .map(|t| format!(", to finish by {t}"))
                    .unwrap_or_default()
            ),
            link: Some(format!("/training/enrollments/{id}")),
            dedupe_key: Some(format!("enrollment:{id}")),
        },
    )
    .await?;
    enrollment(ctx, tx, id).await
}

/// The enrollment row locked for a change, checked to be of this department.
///
/// Read by the locking read itself: a plain read after the lock would show this transaction's
/// snapshot, which an earlier read may have taken before the change we waited for. The names
/// come from subqueries, which the lock does not reach (only the enrollment row is locked).
pub(super) async fn lock_enrollment(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    id: Uuid,
) -> AppResult<Enrollment> {
    sqlx::query_as(
        "SELECT e.id, e.program_id,
                (SELECT p.name FROM training_programs p WHERE p.id = e.program_id) AS program_name,
                (SELECT p.structure_type FROM training_programs p WHERE p.id = e.program_id)
                    AS structure_type,
                e.user_id,
                (SELECT CONCAT(u.first_name, ' ', u.last_name) FROM users u WHERE u.id = e.user_id)
                    AS member_name,
                e.status, e.enrolled_at, e.target_completion_date, e.current_phase_id,
                (SELECT ph.name FROM program_phases ph WHERE ph.id = e.current_phase_id)
                    AS current_phase_name,
                e.progress_percentage, e.completed_at, e.withdrawn_at, e.withdrawn_reason
           FROM program_enrollments e
          WHERE e.organization_id = ? AND e.id = ? FOR UPDATE",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Withdraws an enrollment (kept, with its progress): the member themself or an officer.
pub async fn withdraw(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: WithdrawInput,
) -> AppResult<EnrollmentDetail> {
    ctx.require(TRAINING_VIEW)?;
    let e = lock_enrollment(tx, ctx.org_id, id).await?;
    if e.user_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::NotFound);
    }
    let reason = required_text("reason", &input.reason, 500)?;
    if !e.status.going() {
        return Err(AppError::Conflict(format!(
            "the enrollment is {}, not active",
            e.status.words()
        )));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE program_enrollments SET status = ?, withdrawn_at = ?,
                 withdrawn_reason = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status IN (?, ?)",
        )
        .bind(EnrollmentStatus::Withdrawn)
        .bind(db::now())
        .bind(&reason)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .bind(EnrollmentStatus::Active)
        .bind(EnrollmentStatus::OnHold),
        "the enrollment has just been withdrawn by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.enrollment_withdrawn", "program_enrollment", id).changes(
            serde_json::json!({"member": e.user_id, "program": e.program_id,
                               "status": [e.status, EnrollmentStatus::Withdrawn], "reason": reason}),
        ),
    )
    .await?;
    enrollment(ctx, tx, id).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceInput {
    /// Move on even though required items of the phase are not done.
    #[serde(default)]
    pub force: bool,
}

/// An officer signs the current phase off: the member moves to the next phase (or, from the
/// last one, completes the program). Without `force`, only a phase whose required items are
/// done.
pub async fn advance(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: AdvanceInput,
) -> AppResult<EnrollmentDetail> {
    ctx.require(TRAINING_MANAGE)?;
    let e = lock_enrollment(tx, ctx.org_id, id).await?;
    if e.user_id == ctx.user_id {
        return Err(AppError::Forbidden(
            "another officer decides on your own program".into(),
        ));
    }
    if e.status != EnrollmentStatus::Active {
        return Err(AppError::Conflict(format!(
            "the enrollment is {}, not active",
            e.status.words()
        )));
    }
    if e.structure_type == "flexible" {
        return Err(AppError::Conflict(
            "a flexible program has no phase order: it completes when its items are done".into(),
        ));
    }
    let items = progress_rows(tx, ctx.org_id, id).await?;
    let phases = phase_rows(tx, ctx.org_id, e.program_id).await?;
    let states = phase_states(&phases, &items);
    let at = e
        .current_phase_id
        .and_then(|c| phases.iter().position(|p| p.id == c))
        .unwrap_or(0);
    let Some(current) = states.get(at) else {
        return Err(AppError::Conflict("the program has no phases".into()));
    };
    if !current.complete() && !input.force {
        return Err(AppError::Conflict(format!(
            "{} still has {} required item(s) to do; sign it off anyway with force",
            phases[at].name,
            current.to_do()
        )));
    }
    let signed = signoffs(tx, ctx.org_id, id).await?;
    if signed.contains(&phases[at].id) {
        return Err(AppError::Conflict(format!(
            "{} is signed off already",
            phases[at].name
        )));
    }
    let forced = !current.complete();
    sqlx::query(
        "INSERT INTO program_phase_signoffs (enrollment_id, phase_id, organization_id, signed_by,
             signed_at, forced)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(phases[at].id)
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(db::now())
    .bind(forced)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.phase_signed_off", "program_enrollment", id).changes(
            serde_json::json!({"member": e.user_id, "phase": phases[at].id,
                               "phase_name": phases[at].name, "forced": forced,
                               "to_do": current.to_do()}),
        ),
    )
    .await?;
    refresh(ctx, tx, id).await?;
    enrollment(ctx, tx, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemAction {
    /// verify (an officer signs the item off), waive, clear (back to what the credits say),
    /// or credit (add `units` by hand).
    pub action: String,
    #[schema(value_type = Option<f64>)]
    pub units: Option<Decimal>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// An officer's decision on one item of an enrollment.
pub async fn act_on_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    item_id: Uuid,
    input: ItemAction,
) -> AppResult<EnrollmentDetail> {
    ctx.require(TRAINING_MANAGE)?;
    let e = lock_enrollment(tx, ctx.org_id, id).await?;
    if e.user_id == ctx.user_id {
        return Err(AppError::Forbidden(
            "another officer decides on your own program".into(),
        ));
    }
    let note = optional_text("note", input.note, 500)?;
    let progress: Option<(Uuid, ItemStatus, String)> = sqlx::query_as(
        "SELECT p.id, p.status, i.name FROM requirement_progress p
           JOIN program_requirements i ON i.id = p.program_requirement_id
          WHERE p.organization_id = ? AND p.enrollment_id = ? AND i.id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(item_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((progress_id, before, name)) = progress else {
        return Err(AppError::NotFound);
    };
    if !e.status.counting() {
        return Err(AppError::Conflict(format!(
            "the enrollment is {}; its items can no longer change",
            e.status.words()
        )));
    }
    match input.action.as_str() {
        "verify" | "waive" | "clear" => {
            if input.units.is_some() {
                return Err(AppError::field("units", "goes only with the action credit"));
            }
            let (status, by) = match input.action.as_str() {
                "verify" => (ItemStatus::Verified, Some(ctx.user_id)),
                "waive" => (ItemStatus::Waived, Some(ctx.user_id)),
                // The next refresh puts the status the credits give.
                _ => (ItemStatus::InProgress, None),
            };
            // The enrollment is locked, so a second officer signing off the same item at
            // the same moment reads the first one's decision here.
            if by.is_some() && before == status {
                return Err(AppError::Conflict(format!("“{name}” is already {status}")));
            }
            sqlx::query(
                "UPDATE requirement_progress SET status = ?, verified_by = ?, verified_at = ?,
                     updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(status)
            .bind(by)
            .bind(by.map(|_| db::now()))
            .bind(db::now())
            .bind(ctx.org_id)
            .bind(progress_id)
            .execute(&mut **tx)
            .await?;
        }
        "credit" => {
            let units = match input.units {
                None => return Err(AppError::field("units", "is required to credit an item")),
                Some(u) if u <= Decimal::ZERO => {
                    return Err(AppError::field("units", "must be more than 0"));
                }
                Some(u) if u > Decimal::from(1000) => {
                    return Err(AppError::field("units", "must be at most 1000"));
                }
                Some(u) if u.normalize().scale() > 2 => {
                    return Err(AppError::field("units", "must have at most two decimals"));
                }
                Some(u) => u,
            };
            add_credit(
                tx,
                ctx.org_id,
                progress_id,
                "officer_apply",
                db::new_id(),
                units,
            )
            .await?;
        }
        _ => {
            return Err(AppError::field(
                "action",
                "must be verify, waive, clear or credit",
            ));
        }
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.program_item_updated", "program_enrollment", id).changes(
            serde_json::json!({"member": e.user_id, "item": item_id, "item_name": name,
                               "action": input.action, "units": input.units,
                               "status_before": before, "note": note}),
        ),
    )
    .await?;
    refresh(ctx, tx, id).await?;
    enrollment(ctx, tx, id).await
}
