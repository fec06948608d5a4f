//! Programs as the department builds them: a program with its phases and items, listed (members
//! see them too), created and changed, phases and items added, an unused item removed
//! (`training.manage`, audited); members enrolled now are brought up to date after each change.

use crate::auth::OrgId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::credit::refresh;
use super::{EnrollmentStatus, ITEM_TYPES, STRUCTURES};
use crate::modules::programs::rules::ItemStatus;
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_paragraphs, optional_text, required_text};

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
pub(super) struct PhaseRow {
    pub(super) id: Uuid,
    pub(super) program_id: Uuid,
    pub(super) phase_number: u16,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) requires_manual_advancement: bool,
    pub(super) time_limit_days: Option<u16>,
}

const PROGRAM_COLUMNS: &str = "p.id, p.name, p.description, p.target_position, p.structure_type, \
     p.time_limit_days, p.active, \
     (SELECT COUNT(*) FROM program_enrollments e WHERE e.program_id = p.id \
        AND e.status IN (?, ?)) AS enrolled, \
     (SELECT COUNT(*) FROM program_enrollments e WHERE e.program_id = p.id \
        AND e.status = ?) AS completed";

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
    // The counts' words come first: they are in the column list.
    .bind(EnrollmentStatus::Active)
    .bind(EnrollmentStatus::OnHold)
    .bind(EnrollmentStatus::Completed)
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
#[schema(as = ProgramItemInput)]
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
         SELECT UNHEX(REPLACE(UUID(), '-', '')), e.organization_id, e.id, ?, ?, 0, ?
           FROM program_enrollments e
          WHERE e.organization_id = ? AND e.program_id = ? AND e.status IN (?, ?)",
    )
    .bind(id)
    .bind(ItemStatus::NotStarted)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(EnrollmentStatus::Active)
    .bind(EnrollmentStatus::OnHold)
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
            AND (p.status IN (?, ?)
                 OR EXISTS (SELECT 1 FROM requirement_progress_credits c WHERE c.progress_id = p.id))",
    )
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(ItemStatus::Verified)
    .bind(ItemStatus::Waived)
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
            AND status = ?",
    )
    .bind(ctx.org_id)
    .bind(program_id)
    .bind(EnrollmentStatus::Active)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        refresh(ctx, tx, id).await?;
    }
    Ok(())
}
