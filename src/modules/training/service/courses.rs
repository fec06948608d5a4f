//! Training categories (seeded with the department) and courses: listing them, and creating and
//! changing a course (`training.manage`, audited).

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
use crate::modules::training::rules::{CourseInput, ValidCourse};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    /// company, facility, officer, driver, hazmat, new_driver or recruit.
    pub iso_category: Option<String>,
    pub color: Option<String>,
    pub active: bool,
}

pub async fn categories(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Category>> {
    ctx.require(TRAINING_VIEW)?;
    Ok(sqlx::query_as(
        "SELECT id, name, code, iso_category, color, active FROM training_categories
          WHERE organization_id = ? ORDER BY name",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Course {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub category_id: Option<Uuid>,
    pub training_type: String,
    pub description: Option<String>,
    #[schema(value_type = f64)]
    pub duration_hours: Decimal,
    pub expiration_months: Option<u16>,
    pub issuing_agency: Option<String>,
    pub active: bool,
}

const COURSE_COLUMNS: &str = "id, name, code, category_id, training_type, description, \
     duration_hours, expiration_months, issuing_agency, active";

pub async fn courses(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Course>> {
    ctx.require(TRAINING_VIEW)?;
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COURSE_COLUMNS} FROM training_courses WHERE organization_id = ?
          ORDER BY active DESC, name"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub(super) async fn course(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Option<Course>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COURSE_COLUMNS} FROM training_courses WHERE organization_id = ? AND id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

const COURSE_KEYS: &[(&str, &str, &str)] = &[
    (
        "uq_training_courses_org_name",
        "name",
        "is already the name of a course",
    ),
    (
        "uq_training_courses_org_code",
        "code",
        "is already the code of a course",
    ),
];

async fn check_course_refs(conn: &mut Conn, org_id: OrgId, c: &ValidCourse) -> AppResult<()> {
    if let Some(cat) = c.category_id
        && !db::exists(conn, "training_categories", org_id, cat).await?
    {
        return Err(AppError::field(
            "category_id",
            "is not a training category of this department",
        ));
    }
    Ok(())
}

pub async fn create_course(ctx: &Ctx, tx: &mut Tx<'_>, input: CourseInput) -> AppResult<Course> {
    ctx.require(TRAINING_MANAGE)?;
    let c = input.validate()?;
    check_course_refs(tx, ctx.org_id, &c).await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO training_courses (id, organization_id, name, code, category_id, training_type,
             description, duration_hours, expiration_months, issuing_agency, active, created_at,
             updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&c.name)
    .bind(&c.code)
    .bind(c.category_id)
    .bind(&c.training_type)
    .bind(&c.description)
    .bind(c.duration_hours)
    .bind(c.expiration_months)
    .bind(&c.issuing_agency)
    .bind(c.active)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, COURSE_KEYS))?;
    let created = course(tx, ctx.org_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.course_created", "training_course", id)
            .changes(serde_json::to_value(&created).map_err(anyhow::Error::new)?),
    )
    .await?;
    Ok(created)
}

pub async fn update_course(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: CourseInput,
) -> AppResult<Course> {
    ctx.require(TRAINING_MANAGE)?;
    let before = course(tx, ctx.org_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let c = input.validate()?;
    check_course_refs(tx, ctx.org_id, &c).await?;
    sqlx::query(
        "UPDATE training_courses SET name = ?, code = ?, category_id = ?, training_type = ?,
             description = ?, duration_hours = ?, expiration_months = ?, issuing_agency = ?,
             active = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&c.name)
    .bind(&c.code)
    .bind(c.category_id)
    .bind(&c.training_type)
    .bind(&c.description)
    .bind(c.duration_hours)
    .bind(c.expiration_months)
    .bind(&c.issuing_agency)
    .bind(c.active)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, COURSE_KEYS))?;
    let after = course(tx, ctx.org_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.course_updated", "training_course", id)
            .changes(serde_json::json!({"before": before, "after": after})),
    )
    .await?;
    Ok(after)
}
