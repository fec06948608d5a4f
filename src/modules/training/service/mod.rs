//! Training in the database: seeding a department, categories, courses, records (one member or
//! a crew), requirements, and the compliance of one member or the whole department. Every
//! query is scoped by the caller's organization; every change checks `training.manage` and is
//! audited in the same transaction. A member with only `training.view` sees their own records
//! and standing.

use crate::auth::OrgId;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::compliance::{self, Colour, Kind, MemberCompliance, Period};
use super::rules::{CourseInput, RecordInput, RequirementInput, ValidCourse, ValidRequirement};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::http::{Page, PageQuery};

/// The categories every department starts with: the seven ISO (FSRS item 580) ones, EMS and
/// other. Name, code, ISO category, colour.
pub const SEEDED_CATEGORIES: &[(&str, &str, Option<&str>, &str)] = &[
    ("Company training", "company", Some("company"), "#b71c1c"),
    ("Facility training", "facility", Some("facility"), "#e65100"),
    ("Officer training", "officer", Some("officer"), "#1a237e"),
    (
        "Driver/operator training",
        "driver",
        Some("driver"),
        "#004d40",
    ),
    ("Hazardous materials", "hazmat", Some("hazmat"), "#f9a825"),
    (
        "New driver training",
        "new_driver",
        Some("new_driver"),
        "#2e7d32",
    ),
    ("Recruit training", "recruit", Some("recruit"), "#6a1b9a"),
    ("EMS", "ems", None, "#0277bd"),
    ("Other", "other", None, "#546e7a"),
];

/// Default membership tiers: slug, name, years of service, training exempt, may vote, may hold
/// office.
pub const SEEDED_TIERS: &[(&str, &str, u16, bool, bool, bool)] = &[
    ("probationary", "Probationary", 0, false, false, false),
    ("active", "Active", 1, false, true, true),
    ("senior", "Senior", 10, false, true, true),
    ("life", "Life", 20, true, true, true),
];

/// The statuses of members the department matrix shows.
pub const MATRIX_STATUSES: &[&str] = &["active", "probationary", "leave"];

/// The members a form offers to choose (those the matrix counts), by last name.
pub async fn member_choices(
    conn: &mut Conn,
    org_id: OrgId,
) -> AppResult<Vec<(Uuid, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, first_name, last_name FROM users
          WHERE organization_id = ? AND FIND_IN_SET(status, ?)
          ORDER BY last_name, first_name, id",
    )
    .bind(org_id)
    .bind(MATRIX_STATUSES.join(","))
    .fetch_all(&mut *conn)
    .await?)
}

/// Categories, tiers and settings for a department just created.
pub async fn seed(tx: &mut Tx<'_>, org_id: OrgId) -> AppResult<()> {
    let now = db::now();
    for (name, code, iso, color) in SEEDED_CATEGORIES {
        sqlx::query(
            "INSERT INTO training_categories (id, organization_id, name, code, iso_category, color,
                                              created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(org_id)
        .bind(name)
        .bind(code)
        .bind(iso)
        .bind(color)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for (i, (slug, name, years, exempt, vote, office)) in SEEDED_TIERS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO membership_tiers (id, organization_id, slug, name, years_required,
                 sort_order, training_exempt, voting_eligible, can_hold_office, created_at,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(org_id)
        .bind(slug)
        .bind(name)
        .bind(years)
        .bind(i as i32 + 1)
        .bind(exempt)
        .bind(vote)
        .bind(office)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("INSERT INTO training_settings (organization_id, updated_at) VALUES (?, ?)")
        .bind(org_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The department's date today, for a request (its context carries the department's time zone).
pub fn today_for(ctx: &Ctx) -> NaiveDate {
    crate::time::today(&ctx.timezone)
}

/// The department's date today, for a job (which has no request context).
pub async fn today(conn: &mut Conn, org_id: OrgId) -> AppResult<NaiveDate> {
    let tz: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(crate::time::today(&tz))
}

// ---------------------------------------------------------------------------------------------
// Categories and courses

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

async fn course(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Option<Course>> {
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

// ---------------------------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TrainingRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub member_name: String,
    pub course_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub course_name: String,
    pub training_type: String,
    pub completion_date: NaiveDate,
    pub expiration_date: Option<NaiveDate>,
    #[schema(value_type = f64)]
    pub hours_completed: Decimal,
    pub certification_number: Option<String>,
    pub issuing_agency: Option<String>,
    pub instructor: Option<String>,
    pub location_id: Option<Uuid>,
    /// completed, or cancelled (voided: kept, but it counts for nothing).
    pub status: String,
    pub rank_at_completion: Option<String>,
    pub station_at_completion: Option<String>,
    pub notes: Option<String>,
    /// Shared by the records of one crew entry.
    pub session_id: Option<Uuid>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

const RECORD_COLUMNS: &str = "r.id, r.user_id, CONCAT(u.first_name, ' ', u.last_name) AS \
     member_name, r.course_id, r.category_id, r.course_name, r.training_type, r.completion_date, \
     r.expiration_date, r.hours_completed, r.certification_number, r.issuing_agency, \
     r.instructor, r.location_id, r.status, r.rank_at_completion, r.station_at_completion, \
     r.notes, r.session_id, r.cancelled_at, r.cancel_reason, r.created_at";

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// One member's records (members without `training.manage` see only their own).
    pub user_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// completed or cancelled (default: both).
    #[param(schema_with = record_status_schema)]
    pub status: Option<String>,
    pub category_id: Option<Uuid>,
    /// Course name, certification number or member name contains.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn record_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["completed", "cancelled"])
}

/// The member a training list is about: anyone (or everyone) with `training.manage`, otherwise
/// the caller (asking for someone else is refused).
pub fn whose(ctx: &Ctx, asked: Option<Uuid>) -> AppResult<Option<Uuid>> {
    ctx.require(TRAINING_VIEW)?;
    if ctx.has(TRAINING_MANAGE) {
        return Ok(asked);
    }
    match asked {
        Some(u) if u != ctx.user_id => Err(AppError::forbidden_permission(TRAINING_MANAGE)),
        _ => Ok(Some(ctx.user_id)),
    }
}

pub async fn list_records(
    ctx: &Ctx,
    conn: &mut Conn,
    q: RecordQuery,
) -> AppResult<Page<TrainingRecord>> {
    let user_id = whose(ctx, q.user_id)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    if let Some(s) = &q.status
        && !["completed", "cancelled"].contains(&s.as_str())
    {
        return Err(AppError::field("status", "must be completed or cancelled"));
    }
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f > t
    {
        return Err(AppError::field("to", "must not be before from"));
    }
    let term = crate::input::optional_text("q", q.q, 100)?;
    let mut filter = String::from("r.organization_id = ?");
    if user_id.is_some() {
        filter.push_str(" AND r.user_id = ?");
    }
    if q.from.is_some() {
        filter.push_str(" AND r.completion_date >= ?");
    }
    if q.to.is_some() {
        filter.push_str(" AND r.completion_date <= ?");
    }
    if q.status.is_some() {
        filter.push_str(" AND r.status = ?");
    }
    if q.category_id.is_some() {
        filter.push_str(" AND r.category_id = ?");
    }
    let pattern = term.as_deref().map(crate::http::like_pattern);
    if pattern.is_some() {
        filter.push_str(
            " AND CONCAT_WS(' ', r.course_name, r.certification_number, u.first_name, u.last_name) LIKE ?",
        );
    }
    macro_rules! bind_all {
        ($query:expr) => {{
            let mut query = $query.bind(ctx.org_id);
            if let Some(u) = user_id {
                query = query.bind(u);
            }
            if let Some(f) = q.from {
                query = query.bind(f);
            }
            if let Some(t) = q.to {
                query = query.bind(t);
            }
            if let Some(s) = &q.status {
                query = query.bind(s);
            }
            if let Some(c) = q.category_id {
                query = query.bind(c);
            }
            if let Some(p) = &pattern {
                query = query.bind(p);
            }
            query
        }};
    }
    let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM training_records r JOIN users u ON u.id = r.user_id WHERE {filter}"
    ))))
    .fetch_one(&mut *conn)
    .await?;
    let items: Vec<TrainingRecord> = bind_all!(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM training_records r JOIN users u ON u.id = r.user_id
          WHERE {filter} ORDER BY r.completion_date DESC, r.id DESC LIMIT ? OFFSET ?"
    ))))
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

async fn record_row(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<TrainingRecord> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM training_records r JOIN users u ON u.id = r.user_id
          WHERE r.organization_id = ? AND r.id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// One record: the member's own, or any with `training.manage` (another's is not found).
pub async fn get_record(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<TrainingRecord> {
    ctx.require(TRAINING_VIEW)?;
    let r = record_row(conn, ctx.org_id, id).await?;
    if r.user_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::NotFound);
    }
    Ok(r)
}

/// Records a completion for each member named (a crew: one session id for all), filling from
/// the course what is not given and copying rank and station from the member.
pub async fn create_records(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: RecordInput,
) -> AppResult<Vec<TrainingRecord>> {
    ctx.require(TRAINING_MANAGE)?;
    let today = today_for(ctx);
    let v = input.validate(today)?;
    let course =
        match v.course_id {
            Some(id) => Some(course(tx, ctx.org_id, id).await?.ok_or_else(|| {
                AppError::field("course_id", "is not a course of this department")
            })?),
            None => None,
        };
    let category_id = v
        .category_id
        .or(course.as_ref().and_then(|c| c.category_id));
    if let Some(cat) = v.category_id
        && !db::exists(tx, "training_categories", ctx.org_id, cat).await?
    {
        return Err(AppError::field(
            "category_id",
            "is not a training category of this department",
        ));
    }
    if let Some(loc) = v.location_id
        && !db::exists(tx, "locations", ctx.org_id, loc).await?
    {
        return Err(AppError::field(
            "location_id",
            "is not a location of this department",
        ));
    }
    let placeholders = vec!["?"; v.user_ids.len()].join(",");
    let mut query = sqlx::query_scalar::<_, Uuid>(AssertSqlSafe(format!(
        "SELECT id FROM users WHERE organization_id = ? AND id IN ({placeholders})"
    )))
    .bind(ctx.org_id);
    for u in &v.user_ids {
        query = query.bind(u);
    }
    let found: std::collections::HashSet<Uuid> =
        query.fetch_all(&mut **tx).await?.into_iter().collect();
    if v.user_ids.iter().any(|u| !found.contains(u)) {
        return Err(AppError::field(
            "user_ids",
            "must name only members of this department",
        ));
    }
    let course_name = v
        .course_name
        .clone()
        .or(course.as_ref().map(|c| c.name.clone()))
        .unwrap_or_default();
    let training_type = v
        .training_type
        .clone()
        .or(course.as_ref().map(|c| c.training_type.clone()))
        .unwrap_or_else(|| "continuing_education".into());
    let hours = v
        .hours
        .or(course.as_ref().map(|c| c.duration_hours))
        .unwrap_or_default();
    let expiration = v.expiration_date.or_else(|| {
        compliance::expiry_from_course(
            v.completion_date,
            course
                .as_ref()
                .and_then(|c| c.expiration_months)
                .map(u32::from),
        )
    });
    let issuing_agency = v
        .issuing_agency
        .clone()
        .or(course.as_ref().and_then(|c| c.issuing_agency.clone()));
    let session = (v.user_ids.len() > 1).then(db::new_id);
    let mut created = Vec::with_capacity(v.user_ids.len());
    for user in &v.user_ids {
        created.push(
            insert_record(
                tx,
                ctx,
                &NewRecord {
                    user_id: *user,
                    course_id: v.course_id,
                    category_id,
                    course_name: &course_name,
                    training_type: &training_type,
                    completion_date: v.completion_date,
                    expiration_date: expiration,
                    hours,
                    certification_number: v.certification_number.as_deref(),
                    issuing_agency: issuing_agency.as_deref(),
                    instructor: v.instructor.as_deref(),
                    location_id: v.location_id,
                    rank: v.rank_at_completion.as_deref(),
                    station: v.station_at_completion.as_deref(),
                    notes: v.notes.as_deref(),
                    session_id: session,
                    submission_id: None,
                },
            )
            .await?,
        );
    }
    Ok(created)
}

/// A record to write, checked already.
pub(super) struct NewRecord<'a> {
    pub user_id: Uuid,
    pub course_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub course_name: &'a str,
    pub training_type: &'a str,
    pub completion_date: NaiveDate,
    pub expiration_date: Option<NaiveDate>,
    pub hours: Decimal,
    pub certification_number: Option<&'a str>,
    pub issuing_agency: Option<&'a str>,
    pub instructor: Option<&'a str>,
    pub location_id: Option<Uuid>,
    /// None: the member's rank (station) now.
    pub rank: Option<&'a str>,
    pub station: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub session_id: Option<Uuid>,
    pub submission_id: Option<Uuid>,
}

/// Writes a completed record (rank and station copied from the member when not given) and
/// audits it.
pub(super) async fn insert_record(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    r: &NewRecord<'_>,
) -> AppResult<TrainingRecord> {
    let id = db::new_id();
    let now = db::now();
    let inserted = sqlx::query(
        "INSERT INTO training_records (id, organization_id, user_id, course_id, category_id,
             course_name, training_type, completion_date, expiration_date, hours_completed,
             certification_number, issuing_agency, instructor, location_id, status,
             rank_at_completion, station_at_completion, notes, session_id, submission_id,
             created_by, created_at, updated_at)
         SELECT ?, u.organization_id, u.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed',
                COALESCE(?, u.`rank`), COALESCE(?, u.station), ?, ?, ?, ?, ?, ?
           FROM users u WHERE u.organization_id = ? AND u.id = ?",
    )
    .bind(id)
    .bind(r.course_id)
    .bind(r.category_id)
    .bind(r.course_name)
    .bind(r.training_type)
    .bind(r.completion_date)
    .bind(r.expiration_date)
    .bind(r.hours)
    .bind(r.certification_number)
    .bind(r.issuing_agency)
    .bind(r.instructor)
    .bind(r.location_id)
    .bind(r.rank)
    .bind(r.station)
    .bind(r.notes)
    .bind(r.session_id)
    .bind(r.submission_id)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .bind(ctx.org_id)
    .bind(r.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::field(
            "user_ids",
            "must name only members of this department",
        ));
    }
    let record = record_row(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.record_created", "training_record", id)
            .changes(serde_json::to_value(&record).map_err(anyhow::Error::new)?),
    )
    .await?;
    crate::module::tell(ctx, tx, super::RECORDS_CHANGED, r.user_id).await?;
    Ok(record)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRecord {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Voids a record: kept and shown, marked cancelled, counting for nothing; audited.
pub async fn void_record(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: VoidRecord,
) -> AppResult<TrainingRecord> {
    ctx.require(TRAINING_MANAGE)?;
    let reason = crate::input::required_text("reason", &input.reason, 500)?;
    let before = record_row(tx, ctx.org_id, id).await?;
    if before.status == "cancelled" {
        return Err(AppError::Conflict("the record is already void".into()));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE training_records SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?,
                 cancel_reason = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status = 'completed'",
        )
        .bind(db::now())
        .bind(ctx.user_id)
        .bind(&reason)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id),
        "the record has just been voided by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.record_voided", "training_record", id).changes(serde_json::json!({
            "member": before.user_id, "course_name": before.course_name,
            "completion_date": before.completion_date, "reason": reason,
        })),
    )
    .await?;
    // Whatever counted the record (a program's credit) takes it back.
    crate::module::tell(ctx, tx, super::RECORDS_CHANGED, before.user_id).await?;
    record_row(tx, ctx.org_id, id).await
}

// ---------------------------------------------------------------------------------------------
// Requirements

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
    pub period: String,
    pub rolling_months: Option<u16>,
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
    period: String,
    rolling_months: Option<u16>,
    include_current_month: Option<bool>,
    applies_to: String,
    active: bool,
}

/// Every requirement of the department with its courses, roles and tiers: two queries.
async fn load_requirements(
    conn: &mut Conn,
    org_id: OrgId,
    only_active: bool,
) -> AppResult<Vec<(Requirement, Option<String>)>> {
    let rows: Vec<RequirementRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT r.id, r.name, r.description, r.requirement_type, r.category_id,
                c.name AS category_name, r.training_type, r.required_hours, r.required_count,
                r.period, r.rolling_months, r.include_current_month, r.applies_to, r.active
           FROM training_requirements r
           LEFT JOIN training_categories c ON c.id = r.category_id
          WHERE r.organization_id = ? {}
          ORDER BY r.name",
        if only_active { "AND r.active" } else { "" }
    )))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let links: Vec<(String, Uuid, Uuid)> = sqlx::query_as(
        "SELECT 'course', requirement_id, course_id FROM training_requirement_courses
          WHERE organization_id = ?
         UNION ALL
         SELECT 'role', requirement_id, role_id FROM training_requirement_roles
          WHERE organization_id = ?
         UNION ALL
         SELECT 'tier', requirement_id, tier_id FROM training_requirement_tiers
          WHERE organization_id = ?",
    )
    .bind(org_id)
    .bind(org_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let of = |kind: &str| {
                links
                    .iter()
                    .filter(|(k, req, _)| k == kind && *req == r.id)
                    .map(|(_, _, id)| *id)
                    .collect::<Vec<_>>()
            };
            (
                Requirement {
                    course_ids: of("course"),
                    role_ids: of("role"),
                    tier_ids: of("tier"),
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    requirement_type: r.requirement_type,
                    category_id: r.category_id,
                    training_type: r.training_type,
                    required_hours: r.required_hours,
                    required_count: r.required_count,
                    period: r.period,
                    rolling_months: r.rolling_months,
                    include_current_month: r.include_current_month,
                    applies_to: r.applies_to,
                    active: r.active,
                },
                r.category_name,
            )
        })
        .collect())
}

pub async fn requirements(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Requirement>> {
    ctx.require(TRAINING_VIEW)?;
    Ok(load_requirements(conn, ctx.org_id, false)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

async fn requirement(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Requirement> {
    load_requirements(conn, org_id, false)
        .await?
        .into_iter()
        .map(|(r, _)| r)
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
             rolling_months, include_current_month, applies_to, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
             active = ?, updated_at = ?
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

// ---------------------------------------------------------------------------------------------
// Compliance

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Uuid,
    first_name: String,
    last_name: String,
    status: String,
    tier_id: Option<Uuid>,
    tier_name: Option<String>,
    training_exempt: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Option<Uuid>,
    category_id: Option<Uuid>,
    course_name: String,
    training_type: String,
    completion_date: NaiveDate,
    expiration_date: Option<NaiveDate>,
    hours_completed: Decimal,
}

#[derive(sqlx::FromRow)]
struct WaiverRow {
    id: Uuid,
    user_id: Uuid,
    waiver_type: String,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    all_requirements: bool,
}

/// Everything the engine needs for the members asked (one, or all the matrix shows), in a fixed
/// number of queries whatever their number.
struct Inputs {
    requirements: Vec<(Requirement, compliance::Requirement)>,
    members: Vec<MemberRow>,
    roles: HashMap<Uuid, Vec<Uuid>>,
    records: HashMap<Uuid, Vec<compliance::Record>>,
    waivers: HashMap<Uuid, Vec<compliance::Waiver>>,
}

async fn inputs(
    conn: &mut Conn,
    org_id: OrgId,
    member: Option<Uuid>,
    as_of: NaiveDate,
) -> AppResult<Inputs> {
    let default_current: bool = sqlx::query_scalar(
        "SELECT include_current_month FROM training_settings WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(true);
    let requirements = load_requirements(conn, org_id, true)
        .await?
        .into_iter()
        .filter_map(|(r, category_name)| {
            let kind = Kind::parse(&r.requirement_type)?;
            let period = Period::parse(&r.period, r.rolling_months.map(u32::from))?;
            let engine = compliance::Requirement {
                id: r.id,
                name: r.name.clone(),
                kind,
                category_id: r.category_id,
                category_name,
                training_type: r.training_type.clone(),
                required_hours: r.required_hours.unwrap_or_default(),
                required_count: r.required_count.map(u32::from).unwrap_or(0),
                course_ids: r.course_ids.clone(),
                period,
                include_current_month: r.include_current_month.unwrap_or(default_current),
            };
            Some((r, engine))
        })
        .collect();
    let one = if member.is_some() {
        " AND u.id = ?"
    } else {
        ""
    };
    let statuses = if member.is_some() {
        String::new()
    } else {
        format!(
            " AND u.status IN ({})",
            MATRIX_STATUSES
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let mut q = sqlx::query_as::<_, MemberRow>(AssertSqlSafe(format!(
        "SELECT u.id, u.first_name, u.last_name, u.status, t.id AS tier_id, t.name AS tier_name,
                t.training_exempt
           FROM users u LEFT JOIN membership_tiers t ON t.id = u.membership_tier_id
          WHERE u.organization_id = ?{one}{statuses}
          ORDER BY u.last_name, u.first_name, u.id"
    )))
    .bind(org_id);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let members = q.fetch_all(&mut *conn).await?;
    let user_filter = if member.is_some() {
        " AND user_id = ?"
    } else {
        ""
    };
    let mut q = sqlx::query_as::<_, (Uuid, Uuid)>(AssertSqlSafe(format!(
        "SELECT user_id, role_id FROM user_roles WHERE organization_id = ?{user_filter}"
    )))
    .bind(org_id);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let mut roles: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (u, r) in q.fetch_all(&mut *conn).await? {
        roles.entry(u).or_default().push(r);
    }
    let mut q = sqlx::query_as::<_, RecordRow>(AssertSqlSafe(format!(
        "SELECT id, user_id, course_id, category_id, course_name, training_type, completion_date,
                expiration_date, hours_completed
           FROM training_records
          WHERE organization_id = ? AND status = 'completed' AND completion_date <= ?{user_filter}"
    )))
    .bind(org_id)
    .bind(as_of);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let mut records: HashMap<Uuid, Vec<compliance::Record>> = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        records
            .entry(r.user_id)
            .or_default()
            .push(compliance::Record {
                id: r.id,
                course_id: r.course_id,
                category_id: r.category_id,
                course_name: r.course_name,
                training_type: r.training_type,
                completion_date: r.completion_date,
                expiration_date: r.expiration_date,
                hours: r.hours_completed,
            });
    }
    let mut q = sqlx::query_as::<_, WaiverRow>(AssertSqlSafe(format!(
        "SELECT id, user_id, waiver_type, start_date, end_date, all_requirements
           FROM training_waivers WHERE organization_id = ? AND active{user_filter}"
    )))
    .bind(org_id);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let waiver_rows = q.fetch_all(&mut *conn).await?;
    let targeted: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT waiver_id, requirement_id FROM training_waiver_requirements
          WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut waivers: HashMap<Uuid, Vec<compliance::Waiver>> = HashMap::new();
    for w in waiver_rows {
        waivers
            .entry(w.user_id)
            .or_default()
            .push(compliance::Waiver {
                id: w.id,
                start: w.start_date,
                end: w.end_date,
                requirement_ids: (!w.all_requirements).then(|| {
                    targeted
                        .iter()
                        .filter(|(wid, _)| *wid == w.id)
                        .map(|(_, r)| *r)
                        .collect()
                }),
                kind: w.waiver_type.replace('_', " "),
            });
    }
    Ok(Inputs {
        requirements,
        members,
        roles,
        records,
        waivers,
    })
}

impl Inputs {
    fn evaluate(&self, m: &MemberRow, as_of: NaiveDate) -> MemberCompliance {
        let no_roles = Vec::new();
        let member_roles = self.roles.get(&m.id).unwrap_or(&no_roles);
        let applicable: Vec<compliance::Requirement> = self
            .requirements
            .iter()
            .filter(|(r, _)| {
                compliance::applies(
                    &r.applies_to,
                    &r.role_ids,
                    &r.tier_ids,
                    member_roles,
                    m.tier_id,
                )
            })
            .map(|(_, e)| e.clone())
            .collect();
        let exempt = m.training_exempt.unwrap_or(false).then(|| {
            format!(
                "{} member",
                m.tier_name.as_deref().unwrap_or("exempt").to_lowercase()
            )
        });
        compliance::member(
            &applicable,
            self.records.get(&m.id).map(Vec::as_slice).unwrap_or(&[]),
            self.waivers.get(&m.id).map(Vec::as_slice).unwrap_or(&[]),
            as_of,
            exempt.as_deref(),
        )
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    pub member_id: Uuid,
    pub member_name: String,
    #[serde(flatten)]
    pub compliance: MemberCompliance,
}

/// One member's standing at `as_of` (default: the department's today): their own, or anyone's
/// with `training.manage`.
pub async fn member_compliance(
    ctx: &Ctx,
    conn: &mut Conn,
    member_id: Uuid,
    as_of: Option<NaiveDate>,
) -> AppResult<ComplianceReport> {
    ctx.require(TRAINING_VIEW)?;
    if member_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::forbidden_permission(TRAINING_MANAGE));
    }
    let as_of = match as_of {
        Some(d) => d,
        None => today_for(ctx),
    };
    let inputs = inputs(conn, ctx.org_id, Some(member_id), as_of).await?;
    let m = inputs.members.first().ok_or(AppError::NotFound)?;
    Ok(ComplianceReport {
        member_id: m.id,
        member_name: format!("{} {}", m.first_name, m.last_name),
        compliance: inputs.evaluate(m, as_of),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MatrixQuery {
    pub as_of: Option<NaiveDate>,
    /// green, yellow or red: only members of that colour.
    #[param(schema_with = matrix_status_schema)]
    pub status: Option<String>,
    /// Only members whose name contains this.
    pub q: Option<String>,
    /// Only this requirement's column.
    pub requirement_id: Option<Uuid>,
}

fn matrix_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["green", "yellow", "red"])
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixColumn {
    pub id: Uuid,
    pub name: String,
    pub requirement_type: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixCell {
    pub requirement_id: Uuid,
    /// completed, in_progress, not_started, expired; none when it does not apply.
    pub cell: String,
    pub percent: Option<f64>,
    pub explanation: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixRow {
    pub member_id: Uuid,
    pub member_name: String,
    pub member_status: String,
    pub status: Colour,
    pub reason: String,
    pub requirements_met: usize,
    pub requirements_total: usize,
    pub cells: Vec<MatrixCell>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Matrix {
    pub as_of: NaiveDate,
    pub requirements: Vec<MatrixColumn>,
    pub members: Vec<MatrixRow>,
    pub green: usize,
    pub yellow: usize,
    pub red: usize,
}

/// Members (active, probationary, on leave) × active requirements (`training.manage`).
pub async fn matrix(ctx: &Ctx, conn: &mut Conn, q: MatrixQuery) -> AppResult<Matrix> {
    ctx.require(TRAINING_MANAGE)?;
    let wanted = match q.status.as_deref() {
        None | Some("") => None,
        Some("green") => Some(Colour::Green),
        Some("yellow") => Some(Colour::Yellow),
        Some("red") => Some(Colour::Red),
        Some(_) => return Err(AppError::field("status", "must be green, yellow or red")),
    };
    let term = crate::input::optional_text("q", q.q, 100)?.map(|t| t.to_lowercase());
    let as_of = match q.as_of {
        Some(d) => d,
        None => today_for(ctx),
    };
    let inputs = inputs(conn, ctx.org_id, None, as_of).await?;
    if let Some(r) = q.requirement_id
        && !inputs.requirements.iter().any(|(x, _)| x.id == r)
    {
        return Err(AppError::field(
            "requirement_id",
            "is not an active requirement of this department",
        ));
    }
    let columns: Vec<MatrixColumn> = inputs
        .requirements
        .iter()
        .filter(|(r, _)| q.requirement_id.is_none_or(|id| id == r.id))
        .map(|(r, _)| MatrixColumn {
            id: r.id,
            name: r.name.clone(),
            requirement_type: r.requirement_type.clone(),
        })
        .collect();
    let mut rows = Vec::new();
    let (mut green, mut yellow, mut red) = (0, 0, 0);
    for m in &inputs.members {
        let name = format!("{} {}", m.first_name, m.last_name);
        if let Some(t) = &term
            && !name.to_lowercase().contains(t)
        {
            continue;
        }
        let c = inputs.evaluate(m, as_of);
        match c.status {
            Colour::Green => green += 1,
            Colour::Yellow => yellow += 1,
            Colour::Red => red += 1,
        }
        if wanted.is_some_and(|w| w != c.status) {
            continue;
        }
        let cells = columns
            .iter()
            .map(
                |col| match c.requirements.iter().find(|r| r.requirement_id == col.id) {
                    Some(r) => MatrixCell {
                        requirement_id: col.id,
                        cell: if r.outcome == compliance::Outcome::Waived {
                            "waived".into()
                        } else {
                            r.outcome.cell().into()
                        },
                        percent: Some(r.percent),
                        explanation: Some(r.explanation.clone()),
                    },
                    None => MatrixCell {
                        requirement_id: col.id,
                        cell: if c.exempt { "exempt" } else { "none" }.into(),
                        percent: None,
                        explanation: None,
                    },
                },
            )
            .collect();
        rows.push(MatrixRow {
            member_id: m.id,
            member_name: name,
            member_status: m.status.clone(),
            status: c.status,
            reason: c.reason,
            requirements_met: c.requirements_met,
            requirements_total: c.requirements_total,
            cells,
        });
    }
    Ok(Matrix {
        as_of,
        requirements: columns,
        members: rows,
        green,
        yellow,
        red,
    })
}
