//! Training requirements (hours, courses, a certification, shifts or calls in a period, for
//! everyone or some roles or tiers) with their courses, roles and tiers: listing them, and
//! creating and changing one (`training.manage`, audited).

use crate::auth::OrgId;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::modules::training::rules::{RequirementInput, ValidRequirement};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Requirement {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub requirement_type: String,
    pub category_id: Option<Uuid>,
    pub training_type: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub required_hours: Option<Decimal>,
    pub required_count: Option<u16>,
    pub course_ids: Vec<Uuid>,
    /// certification: the state or national registry code it stands for.
    pub registry_code: Option<String>,
    pub period: String,
    pub rolling_months: Option<u16>,
    /// annual: the one year it is for.
    pub year: Option<u16>,
    /// annual: the month and day its year starts and ends (a fiscal year).
    pub period_start_month: Option<u8>,
    pub period_start_day: Option<u8>,
    pub period_end_month: Option<u8>,
    pub period_end_day: Option<u8>,
    /// Only a record completed within this many days counts.
    pub recency_days: Option<u16>,
    pub include_current_month: Option<bool>,
    pub applies_to: String,
    pub role_ids: Vec<Uuid>,
    pub tier_ids: Vec<Uuid>,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct RequirementRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    requirement_type: String,
    category_id: Option<Uuid>,
    category_name: Option<String>,
    training_type: Option<String>,
    required_hours: Option<Decimal>,
    required_count: Option<u16>,
    registry_code: Option<String>,
    period: String,
    rolling_months: Option<u16>,
    year: Option<u16>,
    period_start_month: Option<u8>,
    period_start_day: Option<u8>,
    period_end_month: Option<u8>,
    period_end_day: Option<u8>,
    recency_days: Option<u16>,
    include_current_month: Option<bool>,
    applies_to: String,
    active: bool,
    course_hex: Option<String>,
    role_hex: Option<String>,
    tier_hex: Option<String>,
    /// The department's default for `include_current_month` (read with each requirement).
    org_current_month: Option<bool>,
}

/// Every requirement of the department with its courses, roles and tiers: two queries.
pub(super) async fn load_requirements(
    conn: &mut Conn,
    org_id: OrgId,
    only_active: bool,
) -> AppResult<Vec<(Requirement, Option<String>, Option<bool>)>> {
    // The courses, roles and tiers of each in the same statement, as hex ids.
    let linked = |table: &str, column: &str, alias: &str| {
        format!(
            "(SELECT GROUP_CONCAT(HEX(x.{column}) ORDER BY x.{column}) FROM {table} x
               WHERE x.organization_id = r.organization_id AND x.requirement_id = r.id)
               AS {alias}"
        )
    };
    let rows: Vec<RequirementRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT r.id, r.name, r.description, r.requirement_type, r.category_id,
                c.name AS category_name, r.training_type, r.required_hours, r.required_count,
                r.registry_code, r.period, r.rolling_months, r.year, r.period_start_month,
                r.period_start_day, r.period_end_month, r.period_end_day, r.recency_days,
                r.include_current_month, r.applies_to, r.active, {}, {}, {},
                (SELECT s.include_current_month FROM training_settings s
                  WHERE s.organization_id = r.organization_id) AS org_current_month
           FROM training_requirements r
           LEFT JOIN training_categories c ON c.id = r.category_id
          WHERE r.organization_id = ? {}
          ORDER BY r.name",
        linked("training_requirement_courses", "course_id", "course_hex"),
        linked("training_requirement_roles", "role_id", "role_hex"),
        linked("training_requirement_tiers", "tier_id", "tier_hex"),
        if only_active { "AND r.active" } else { "" }
    )))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let ids = |hex: &Option<String>| db::hex_ids(hex.as_deref());
            let (course_ids, role_ids, tier_ids) =
                (ids(&r.course_hex), ids(&r.role_hex), ids(&r.tier_hex));
            (
                Requirement {
                    course_ids,
                    role_ids,
                    tier_ids,
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    requirement_type: r.requirement_type,
                    category_id: r.category_id,
                    training_type: r.training_type,
                    required_hours: r.required_hours,
                    required_count: r.required_count,
                    registry_code: r.registry_code,
                    period: r.period,
                    rolling_months: r.rolling_months,
                    year: r.year,
                    period_start_month: r.period_start_month,
                    period_start_day: r.period_start_day,
                    period_end_month: r.period_end_month,
                    period_end_day: r.period_end_day,
                    recency_days: r.recency_days,
                    include_current_month: r.include_current_month,
                    applies_to: r.applies_to,
                    active: r.active,
                },
                r.category_name,
                r.org_current_month,
            )
        })
        .collect())
}

pub async fn requirements(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Requirement>> {
    ctx.require(TRAINING_VIEW)?;
    Ok(load_requirements(conn, ctx.org_id, false)
        .await?
        .into_iter()
        .map(|(r, _, _)| r)
        .collect())
}

async fn requirement(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Requirement> {
    load_requirements(conn, org_id, false)
        .await?
        .into_iter()
        .map(|(r, _, _)| r)
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

async fn check_requirement_refs(
    conn: &mut Conn,
    org_id: OrgId,
    r: &ValidRequirement,
) -> AppResult<()> {
    if let Some(cat) = r.category_id
        && !db::exists(conn, "training_categories", org_id, cat).await?
    {
        return Err(AppError::field(
            "category_id",
            "is not a training category of this department",
        ));
    }
    for (field, table, ids, what) in [
        ("course_ids", "training_courses", &r.course_ids, "course"),
        ("role_ids", "roles", &r.role_ids, "role"),
        (
            "tier_ids",
            "membership_tiers",
            &r.tier_ids,
            "membership tier",
        ),
    ] {
        for id in ids {
            if !db::exists(conn, table, org_id, *id).await? {
                return Err(AppError::field(
                    field,
                    format!("names a {what} that is not this department's"),
                ));
            }
        }
    }
    Ok(())
}

async fn write_links(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    id: Uuid,
    r: &ValidRequirement,
) -> AppResult<()> {
    for table in [
        "training_requirement_courses",
        "training_requirement_roles",
        "training_requirement_tiers",
    ] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE organization_id = ? AND requirement_id = ?"
        )))
        .bind(org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    for (table, column, ids) in [
        ("training_requirement_courses", "course_id", &r.course_ids),
        ("training_requirement_roles", "role_id", &r.role_ids),
        ("training_requirement_tiers", "tier_id", &r.tier_ids),
    ] {
        for link in ids {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {table} (requirement_id, {column}, organization_id) VALUES (?, ?, ?)"
            )))
            .bind(id)
            .bind(link)
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

const REQUIREMENT_KEYS: &[(&str, &str, &str)] = &[(
    "uq_training_requirements_org_name",
    "name",
    "is already the name of a requirement",
)];

pub async fn create_requirement(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: RequirementInput,
) -> AppResult<Requirement> {
    ctx.require(TRAINING_MANAGE)?;
    let r = input.validate()?;
    check_requirement_refs(tx, ctx.org_id, &r).await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO training_requirements (id, organization_id, name, description,
             requirement_type, category_id, training_type, required_hours, required_count, period,
             rolling_months, include_current_month, applies_to, active, created_at, updated_at,
             registry_code, year, period_start_month, period_start_day, period_end_month,
             period_end_day, recency_days)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(&r.requirement_type)
    .bind(r.category_id)
    .bind(&r.training_type)
    .bind(r.required_hours)
    .bind(r.required_count)
    .bind(&r.period)
    .bind(r.rolling_months)
    .bind(r.include_current_month)
    .bind(&r.applies_to)
    .bind(r.active)
    .bind(now)
    .bind(now)
    .bind(&r.registry_code)
    .bind(r.year)
    .bind(r.period_start.map(|p| p.0))
    .bind(r.period_start.map(|p| p.1))
    .bind(r.period_end.map(|p| p.0))
    .bind(r.period_end.map(|p| p.1))
    .bind(r.recency_days)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, REQUIREMENT_KEYS))?;
    write_links(tx, ctx.org_id, id, &r).await?;
    let created = requirement(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.requirement_created", "training_requirement", id)
            .changes(serde_json::to_value(&created).map_err(anyhow::Error::new)?),
    )
    .await?;
    Ok(created)
}

pub async fn update_requirement(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: RequirementInput,
) -> AppResult<Requirement> {
    ctx.require(TRAINING_MANAGE)?;
    let before = requirement(tx, ctx.org_id, id).await?;
    let r = input.validate()?;
    check_requirement_refs(tx, ctx.org_id, &r).await?;
    sqlx::query(
        "UPDATE training_requirements SET name = ?, description = ?, requirement_type = ?,
             category_id = ?, training_type = ?, required_hours = ?, required_count = ?,
             period = ?, rolling_months = ?, include_current_month = ?, applies_to = ?,
             active = ?, updated_at = ?, registry_code = ?, year = ?, period_start_month = ?,
             period_start_day = ?, period_end_month = ?, period_end_day = ?, recency_days = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&r.name)
    .bind(&r.description)
    .bind(&r.requirement_type)
    .bind(r.category_id)
    .bind(&r.training_type)
    .bind(r.required_hours)
    .bind(r.required_count)
    .bind(&r.period)
    .bind(r.rolling_months)
    .bind(r.include_current_month)
    .bind(&r.applies_to)
    .bind(r.active)
    .bind(db::now())
    .bind(&r.registry_code)
    .bind(r.year)
    .bind(r.period_start.map(|p| p.0))
    .bind(r.period_start.map(|p| p.1))
    .bind(r.period_end.map(|p| p.0))
    .bind(r.period_end.map(|p| p.1))
    .bind(r.recency_days)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, REQUIREMENT_KEYS))?;
    write_links(tx, ctx.org_id, id, &r).await?;
    let after = requirement(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.requirement_updated", "training_requirement", id)
            .changes(serde_json::json!({"before": before, "after": after})),
    )
    .await?;
    Ok(after)
}

/// The roles and membership tiers a requirement can be aimed at, for its form: (id, name) each,
/// roles by priority, tiers in their order.
pub async fn audience_choices(
    conn: &mut Conn,
    org_id: OrgId,
) -> AppResult<(Vec<(Uuid, String)>, Vec<(Uuid, String)>)> {
    let roles = sqlx::query_as(
        "SELECT id, name FROM roles WHERE organization_id = ? ORDER BY priority DESC, name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let tiers = sqlx::query_as(
        "SELECT id, name FROM membership_tiers WHERE organization_id = ? ORDER BY sort_order",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok((roles, tiers))
}
