//! Programs, their phases and items, enrollments and progress: the rules and the SQL.
//!
//! Progress is kept as a ledger: every credit to an item names its source once
//! (`requirement_progress_credits`, keyed by item, source type and source id), so feeding the
//! same training record or shift report twice changes nothing, and voiding a record takes its
//! credit back. An item's value is the sum of its credits; `refresh` recomputes an enrollment
//! from the ledger (statuses, percentage, phase, completion) and audits what changed.

use crate::auth::OrgId;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::rules::{self as engine, ItemState, PhaseState};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_paragraphs, optional_text, required_text};
use crate::modules::training::service as training;
use crate::notify::{self, Notice, Notifier};

pub const STRUCTURES: &[&str] = &["phases", "sequential", "flexible"];
pub const ITEM_TYPES: &[&str] = &["course", "hours", "shifts", "calls", "skill"];

pub fn structure_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(STRUCTURES)
}
pub fn item_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(ITEM_TYPES)
}

// ---------------------------------------------------------------------------------------------
// Programs

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Program {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub target_position: Option<String>,
    /// phases (in order, sign-offs where a phase asks), sequential (the same), or flexible
    /// (any order).
    pub structure_type: String,
    pub time_limit_days: Option<u16>,
    pub active: bool,
    /// Members enrolled now (active or on hold).
    pub enrolled: i64,
    pub completed: i64,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Phase {
    pub id: Uuid,
    pub phase_number: u16,
    pub name: String,
    pub description: Option<String>,
    pub requires_manual_advancement: bool,
    pub time_limit_days: Option<u16>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Item {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub name: String,
    /// course, hours, shifts, calls or skill.
    pub item_type: String,
    pub course_id: Option<Uuid>,
    pub course_name: Option<String>,
    #[schema(value_type = f64)]
    pub target_value: Decimal,
    pub is_required: bool,
    pub sort_order: i16,
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    target_position: Option<String>,
    structure_type: String,
    time_limit_days: Option<u16>,
    active: bool,
    enrolled: i64,
    completed: i64,
}

#[derive(sqlx::FromRow)]
struct PhaseRow {
    id: Uuid,
    program_id: Uuid,
    phase_number: u16,
    name: String,
    description: Option<String>,
    requires_manual_advancement: bool,
    time_limit_days: Option<u16>,
}

const PROGRAM_COLUMNS: &str = "p.id, p.name, p.description, p.target_position, p.structure_type, \
     p.time_limit_days, p.active, \
     (SELECT COUNT(*) FROM program_enrollments e WHERE e.program_id = p.id \
        AND e.status IN ('active', 'on_hold')) AS enrolled, \
     (SELECT COUNT(*) FROM program_enrollments e WHERE e.program_id = p.id \
        AND e.status = 'completed') AS completed";

/// Programs with their phases and items, in three queries whatever their number.
async fn load_programs(
    conn: &mut Conn,
    org_id: OrgId,
    only: Option<Uuid>,
) -> AppResult<Vec<Program>> {
    let one = if only.is_some() { " AND p.id = ?" } else { "" };
    let mut q = sqlx::query_as::<_, ProgramRow>(AssertSqlSafe(format!(
        "SELECT {PROGRAM_COLUMNS} FROM training_programs p WHERE p.organization_id = ?{one}
          ORDER BY p.active DESC, p.name"
    )))
    .bind(org_id);
    if let Some(id) = only {
        q = q.bind(id);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let one = if only.is_some() {
        " AND program_id = ?"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, PhaseRow>(AssertSqlSafe(format!(
        "SELECT id, program_id, phase_number, name, description, requires_manual_advancement,
                time_limit_days
           FROM program_phases WHERE organization_id = ?{one} ORDER BY phase_number"
    )))
    .bind(org_id);
    if let Some(id) = only {
        q = q.bind(id);
    }
    let phases = q.fetch_all(&mut *conn).await?;
    let one = if only.is_some() {
        " AND i.program_id = ?"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, Item>(AssertSqlSafe(format!(
        "SELECT i.id, i.phase_id, i.name, i.item_type, i.course_id, c.name AS course_name,
                i.target_value, i.is_required, i.sort_order
           FROM program_requirements i LEFT JOIN training_courses c ON c.id = i.course_id
          WHERE i.organization_id = ?{one} ORDER BY i.sort_order, i.name"
    )))
    .bind(org_id);
    if let Some(id) = only {
        q = q.bind(id);
    }
    let items = q.fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| Program {
            phases: phases
                .iter()
                .filter(|ph| ph.program_id == r.id)
                .map(|ph| Phase {
                    id: ph.id,
                    phase_number: ph.phase_number,
                    name: ph.name.clone(),
                    description: ph.description.clone(),
                    requires_manual_advancement: ph.requires_manual_advancement,
                    time_limit_days: ph.time_limit_days,
                    items: items
                        .iter()
                        .filter(|i| i.phase_id == ph.id)
                        .cloned()
                        .collect(),
                })
                .collect(),
            id: r.id,
            name: r.name,
            description: r.description,
            target_position: r.target_position,
            structure_type: r.structure_type,
            time_limit_days: r.time_limit_days,
            active: r.active,
            enrolled: r.enrolled,
            completed: r.completed,
        })
        .collect())
}

/// Every program of the department (members see them too: what they may be enrolled in).
pub async fn programs(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Program>> {
    ctx.require(TRAINING_VIEW)?;
    load_programs(conn, ctx.org_id, None).await
}

pub async fn program(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Program> {
    ctx.require(TRAINING_VIEW)?;
    load_programs(conn, ctx.org_id, Some(id))
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(max_length = 64)]
    pub target_position: Option<String>,
    /// phases (default), sequential or flexible.
    #[schema(schema_with = crate::modules::programs::service::structure_type_schema)]
    pub structure_type: Option<String>,
    #[schema(minimum = 1, maximum = 3660)]
    pub time_limit_days: Option<u16>,
    /// Only on update; a program is created active.
    pub active: Option<bool>,
}

struct ValidProgram {
    name: String,
    description: Option<String>,
    target_position: Option<String>,
    structure_type: String,
    time_limit_days: Option<u16>,
}

fn validate_program(input: ProgramInput) -> AppResult<ValidProgram> {
    let mut c = Checks::default();
    let name = c.take(required_text("name", &input.name, 200));
    let description = c
        .take(optional_paragraphs("description", input.description, 5000))
        .flatten();
    let target_position = c
        .take(optional_text("target_position", input.target_position, 64))
        .flatten();
    let structure_type = input.structure_type.unwrap_or_else(|| "phases".into());
    if !STRUCTURES.contains(&structure_type.as_str()) {
        c.push("structure_type", "must be phases, sequential or flexible");
    }
    if input.time_limit_days.is_some_and(|d| d == 0 || d > 3660) {
        c.push("time_limit_days", "must be between 1 and 3660 days");
    }
    c.finish()?;
    Ok(ValidProgram {
        name: name.unwrap_or_default(),
        description,
        target_position,
        structure_type,
        time_limit_days: input.time_limit_days,
    })
}

fn name_taken(e: sqlx::Error) -> AppError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            AppError::field("name", "is already the name of a program")
        }
        _ => e.into(),
    }
}

pub async fn create_program(ctx: &Ctx, tx: &mut Tx<'_>, input: ProgramInput) -> AppResult<Program> {
    ctx.require(TRAINING_MANAGE)?;
    let v = validate_program(input)?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO training_programs (id, organization_id, name, description, target_position,
             structure_type, time_limit_days, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.target_position)
    .bind(&v.structure_type)
    .bind(v.time_limit_days)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(name_taken)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.program_created", "training_program", id).changes(serde_json::json!({
            "name": v.name, "structure_type": v.structure_type,
            "time_limit_days": v.time_limit_days,
        })),
    )
    .await?;
    program(ctx, tx, id).await
}

pub async fn update_program(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ProgramInput,
) -> AppResult<Program> {
    ctx.require(TRAINING_MANAGE)?;
    let before = program(ctx, tx, id).await?;
    let active = input.active.unwrap_or(before.active);
    let v = validate_program(input)?;
    sqlx::query(
        "UPDATE training_programs SET name = ?, description = ?, target_position = ?,
             structure_type = ?, time_limit_days = ?, active = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.target_position)
    .bind(&v.structure_type)
    .bind(v.time_limit_days)
    .bind(active)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(name_taken)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.program_updated", "training_program", id).changes(serde_json::json!({
            "name": [before.name, v.name], "structure_type": [before.structure_type, v.structure_type],
            "time_limit_days": [before.time_limit_days, v.time_limit_days],
            "active": [before.active, active],
        })),
    )
    .await?;
    // A change of structure can move members along (flexible has no sign-offs).
    refresh_program(ctx, tx, id).await?;
    program(ctx, tx, id).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[serde(default)]
    pub requires_manual_advancement: bool,
    #[schema(minimum = 1, maximum = 3660)]
    pub time_limit_days: Option<u16>,
}

/// Adds a phase after the last one.
pub async fn add_phase(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    program_id: Uuid,
    input: PhaseInput,
) -> AppResult<Program> {
    ctx.require(TRAINING_MANAGE)?;
    lock_program(tx, ctx.org_id, program_id).await?;
    let mut c = Checks::default();
    let name = c.take(required_text("name", &input.name, 200));
    let description = c
        .take(optional_paragraphs("description", input.description, 5000))
        .flatten();
    if input.time_limit_days.is_some_and(|d| d == 0 || d > 3660) {
        c.push("time_limit_days", "must be between 1 and 3660 days");
    }
    c.finish()?;
    let number: u16 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(phase_number), 0) + 1 AS UNSIGNED) FROM program_phases
          WHERE organization_id = ? AND program_id = ?",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .fetch_one(&mut **tx)
    .await
    .map(|n: u64| n.min(u64::from(u16::MAX)) as u16)?;
    if number > 50 {
        return Err(AppError::field("name", "a program has at most 50 phases"));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO program_phases (id, organization_id, program_id, phase_number, name,
             description, requires_manual_advancement, time_limit_days)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(number)
    .bind(&name)
    .bind(&description)
    .bind(input.requires_manual_advancement)
    .bind(input.time_limit_days)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.program_phase_added",
            "training_program",
            program_id,
        )
        .changes(
            serde_json::json!({"phase_id": id, "phase_number": number, "name": name,
                               "requires_manual_advancement": input.requires_manual_advancement}),
        ),
    )
    .await?;
    // A member who had finished every phase is in a program with one more to do.
    refresh_program(ctx, tx, program_id).await?;
    program(ctx, tx, program_id).await
}

async fn lock_program(tx: &mut Tx<'_>, org_id: OrgId, id: Uuid) -> AppResult<()> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM training_programs WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|_| ())
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub phase_id: Uuid,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// course, hours, shifts, calls or skill.
    #[schema(schema_with = crate::modules::programs::service::item_type_schema)]
    pub item_type: String,
    /// The course to complete (item_type course).
    pub course_id: Option<Uuid>,
    /// Hours, shifts or calls to log, or observations of a skill (default 1).
    #[schema(value_type = Option<f64>)]
    pub target_value: Option<Decimal>,
    #[serde(default = "yes")]
    pub is_required: bool,
}

fn yes() -> bool {
    true
}

/// Adds an item to a phase. Members enrolled now get it at once, with credit for what they
/// have done already (a course they completed); those who completed the program keep it as it
/// was when they did.
pub async fn add_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    program_id: Uuid,
    input: ItemInput,
) -> AppResult<Program> {
    ctx.require(TRAINING_MANAGE)?;
    lock_program(tx, ctx.org_id, program_id).await?;
    let mut c = Checks::default();
    let type_ok = ITEM_TYPES.contains(&input.item_type.as_str());
    if !type_ok {
        c.push("item_type", "must be course, hours, shifts, calls or skill");
    }
    let target = input.target_value.unwrap_or(Decimal::ONE);
    if target <= Decimal::ZERO {
        c.push("target_value", "must be more than 0");
    } else if target > Decimal::from(10_000) {
        c.push("target_value", "must be at most 10000");
    } else if target.normalize().scale() > 2 {
        c.push("target_value", "must have at most two decimals");
    }
    let course = match (input.item_type.as_str(), input.course_id) {
        ("course", None) => {
            c.push("course_id", "is required for a course item");
            None
        }
        ("course", Some(id)) => {
            let name: Option<String> = sqlx::query_scalar(
                "SELECT name FROM training_courses WHERE organization_id = ? AND id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
            if name.is_none() {
                c.push("course_id", "is not a course of this department");
            }
            name
        }
        (_, Some(_)) if type_ok => {
            c.push("course_id", "only a course item names a course");
            None
        }
        _ => None,
    };
    let name = match (input.name.as_deref().map(str::trim), &course) {
        (Some(n), _) if !n.is_empty() => c.take(required_text("name", n, 200)),
        (_, Some(course)) => Some(course.clone()),
        _ => {
            c.push("name", "is required");
            None
        }
    };
    let phase: Option<u16> = sqlx::query_scalar(
        "SELECT phase_number FROM program_phases
          WHERE organization_id = ? AND program_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.phase_id)
    .fetch_optional(&mut **tx)
    .await?;
    if phase.is_none() {
        c.push("phase_id", "is not a phase of this program");
    }
    c.finish()?;
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO program_requirements (id, organization_id, program_id, phase_id, name,
             item_type, course_id, target_value, is_required, sort_order)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(MAX(sort_order), 0) + 1
           FROM program_requirements WHERE organization_id = ? AND phase_id = ?",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.phase_id)
    .bind(&name)
    .bind(&input.item_type)
    .bind(input.course_id)
    .bind(target)
    .bind(input.is_required)
    .bind(ctx.org_id)
    .bind(input.phase_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.program_item_added",
            "training_program",
            program_id,
        )
        .changes(
            serde_json::json!({"item_id": id, "phase_id": input.phase_id, "name": name,
                               "item_type": input.item_type, "course_id": input.course_id,
                               "target_value": target, "is_required": input.is_required}),
        ),
    )
    .await?;
    sqlx::query(
        "INSERT INTO requirement_progress (id, organization_id, enrollment_id,
             program_requirement_id, status, progress_value, updated_at)
         SELECT UNHEX(REPLACE(UUID(), '-', '')), e.organization_id, e.id, ?, 'not_started', 0, ?
           FROM program_enrollments e
          WHERE e.organization_id = ? AND e.program_id = ?
            AND e.status IN ('active', 'on_hold')",
    )
    .bind(id)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(program_id)
    .execute(&mut **tx)
    .await?;
    refresh_program(ctx, tx, program_id).await?;
    program(ctx, tx, program_id).await
}

/// Removes an item nobody has made progress on (a mistake when building the program).
pub async fn remove_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    program_id: Uuid,
    item_id: Uuid,
) -> AppResult<Program> {
    ctx.require(TRAINING_MANAGE)?;
    lock_program(tx, ctx.org_id, program_id).await?;
    let name: String = sqlx::query_scalar(
        "SELECT name FROM program_requirements WHERE organization_id = ? AND program_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(item_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requirement_progress p
          WHERE p.organization_id = ? AND p.program_requirement_id = ?
            AND (p.status IN ('verified', 'waived')
                 OR EXISTS (SELECT 1 FROM requirement_progress_credits c WHERE c.progress_id = p.id))",
    )
    .bind(ctx.org_id)
    .bind(item_id)
    .fetch_one(&mut **tx)
    .await?;
    if used > 0 {
        return Err(AppError::Conflict(format!(
            "{used} enrolled member(s) have progress on \u{201c}{name}\u{201d}; it can no longer be removed"
        )));
    }
    sqlx::query(
        "DELETE FROM requirement_progress WHERE organization_id = ? AND program_requirement_id = ?",
    )
    .bind(ctx.org_id)
    .bind(item_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM program_requirements WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(item_id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.program_item_removed",
            "training_program",
            program_id,
        )
        .changes(serde_json::json!({"item_id": item_id, "name": name})),
    )
    .await?;
    refresh_program(ctx, tx, program_id).await?;
    program(ctx, tx, program_id).await
}

/// After the program changed: the enrollments going now are brought up to date (a completed
/// one is not reopened by a change to the program).
async fn refresh_program(ctx: &Ctx, tx: &mut Tx<'_>, program_id: Uuid) -> AppResult<()> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM program_enrollments WHERE organization_id = ? AND program_id = ?
            AND status = 'active'",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        refresh(ctx, tx, id).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Enrollments

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
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            EnrollmentStatus::parse(s)
                .ok_or_else(|| AppError::field("status", EnrollmentStatus::must_be()))?,
        ),
    };
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
          ORDER BY e.status = 'active' DESC, u.last_name, u.first_name, e.enrolled_at DESC"
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
    Ok(query.fetch_all(&mut *conn).await?)
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
    pub status: String,
    pub is_required: bool,
    pub verified_by: Option<Uuid>,
    pub verified_at: Option<DateTime<Utc>>,
}

impl ItemProgress {
    pub fn percent(&self) -> Decimal {
        engine::item_percent(&self.status, self.progress_value, self.target_value)
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

async fn progress_rows(
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

async fn phase_rows(conn: &mut Conn, org_id: OrgId, program: Uuid) -> AppResult<Vec<PhaseRow>> {
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

async fn signoffs(conn: &mut Conn, org_id: OrgId, enrollment: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT phase_id FROM program_phase_signoffs WHERE organization_id = ? AND enrollment_id = ?",
    )
    .bind(org_id)
    .bind(enrollment)
    .fetch_all(&mut *conn)
    .await?)
}

fn phase_states(phases: &[PhaseRow], items: &[ItemProgress]) -> Vec<PhaseState> {
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
                    status: i.status.clone(),
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
            AND status IN ('active', 'on_hold')
          LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.user_id)
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
         VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, 0, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(input.user_id)
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
         SELECT UNHEX(REPLACE(UUID(), '-', '')), i.organization_id, ?, i.id, 'not_started', 0, ?
           FROM program_requirements i WHERE i.organization_id = ? AND i.program_id = ?",
    )
    .bind(id)
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
async fn lock_enrollment(tx: &mut Tx<'_>, org_id: OrgId, id: Uuid) -> AppResult<Enrollment> {
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
            "UPDATE program_enrollments SET status = 'withdrawn', withdrawn_at = ?,
                 withdrawn_reason = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status IN ('active', 'on_hold')",
        )
        .bind(db::now())
        .bind(&reason)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id),
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
    let progress: Option<(Uuid, String, String)> = sqlx::query_as(
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
                "verify" => ("verified", Some(ctx.user_id)),
                "waive" => ("waived", Some(ctx.user_id)),
                // The next refresh puts the status the credits give.
                _ => ("in_progress", None),
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

/// Writes one credit; a source already credited to the item is left as it is.
pub(super) async fn add_credit(
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
pub(super) async fn refresh_member(ctx: &Ctx, tx: &mut Tx<'_>, user_id: Uuid) -> AppResult<()> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM program_enrollments WHERE organization_id = ? AND user_id = ?
            AND status IN ('active', 'completed')",
    )
    .bind(ctx.org_id)
    .bind(user_id)
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
pub(super) async fn refresh(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
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
          WHERE p.organization_id = ? AND p.enrollment_id = ? AND r.status = 'completed'
            AND ((i.item_type = 'course' AND r.course_id = i.course_id)
                 OR (i.item_type = 'hours' AND r.hours_completed > 0
                     AND r.completion_date >= ?))",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .bind(since)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE c FROM requirement_progress_credits c
           JOIN requirement_progress p ON p.id = c.progress_id
           JOIN training_records r ON r.organization_id = c.organization_id AND r.id = c.source_id
          WHERE c.organization_id = ? AND p.enrollment_id = ? AND c.source_type = 'training_record'
            AND r.status <> 'completed'",
    )
    .bind(ctx.org_id)
    .bind(id)
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
        let status = engine::item_status(&item.status, item.progress_value, item.target_value);
        if status != item.status {
            sqlx::query(
                "UPDATE requirement_progress SET status = ? WHERE organization_id = ? AND id = ?",
            )
            .bind(status)
            .bind(ctx.org_id)
            .bind(item.id)
            .execute(&mut **tx)
            .await?;
            item.status = status.to_string();
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
