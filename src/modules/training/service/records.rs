//! Training records: the list (searched, filtered, a page at a time), one record, recording a
//! completion for one member or a crew, writing a checked record (also for submissions and
//! imports), and voiding one. A member with only `training.view` sees their own.

use crate::modules::documents::service::files::{Filed, Source};
use crate::auth::OrgId;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::courses::course;
use super::{today_for, whose};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};
use crate::modules::training::compliance;
use crate::modules::training::rules::RecordInput;

crate::words! {
    /// A record counts (`completed`) or was voided (`cancelled`: kept, counting for nothing).
    pub enum RecordStatus {
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

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
    #[schema(schema_with = RecordStatus::schema_object)]
    pub status: RecordStatus,
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
    #[param(schema_with = RecordStatus::schema_object)]
    pub status: Option<String>,
    pub category_id: Option<Uuid>,
    /// Course name, certification number or member name contains.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// A records query, checked, with the SQL condition it stands for (`r` the records, `u` their
/// members); `bind_filter!` binds its values in the same order.
struct Filter {
    sql: String,
    org_id: OrgId,
    user_id: Option<Uuid>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    status: Option<RecordStatus>,
    category_id: Option<Uuid>,
    pattern: Option<String>,
    page: u32,
    per_page: u32,
}

impl Filter {
    fn of(ctx: &Ctx, q: RecordQuery) -> AppResult<Filter> {
        let user_id = whose(ctx, q.user_id)?;
        let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
        let status = RecordStatus::parse_filter("status", q.status.as_deref())?;
        if let (Some(f), Some(t)) = (q.from, q.to)
            && f > t
        {
            return Err(AppError::field("to", "must not be before from"));
        }
        let term = crate::input::optional_text("q", q.q, 100)?;
        let mut sql = String::from("r.organization_id = ?");
        if user_id.is_some() {
            sql.push_str(" AND r.user_id = ?");
        }
        if q.from.is_some() {
            sql.push_str(" AND r.completion_date >= ?");
        }
        if q.to.is_some() {
            sql.push_str(" AND r.completion_date <= ?");
        }
        if status.is_some() {
            sql.push_str(" AND r.status = ?");
        }
        if q.category_id.is_some() {
            sql.push_str(" AND r.category_id = ?");
        }
        let pattern = term.as_deref().map(crate::http::like_pattern);
        if pattern.is_some() {
            sql.push_str(
                " AND CONCAT_WS(' ', r.course_name, r.certification_number, u.first_name, u.last_name) LIKE ?",
            );
        }
        Ok(Filter {
            sql,
            org_id: ctx.org_id,
            user_id,
            from: q.from,
            to: q.to,
            status,
            category_id: q.category_id,
            pattern,
            page,
            per_page,
        })
    }

    fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

macro_rules! bind_filter {
    ($query:expr, $f:expr) => {{
        let f = &$f;
        let mut query = $query.bind(f.org_id);
        if let Some(u) = f.user_id {
            query = query.bind(u);
        }
        if let Some(d) = f.from {
            query = query.bind(d);
        }
        if let Some(d) = f.to {
            query = query.bind(d);
        }
        if let Some(s) = f.status {
            query = query.bind(s);
        }
        if let Some(c) = f.category_id {
            query = query.bind(c);
        }
        if let Some(p) = &f.pattern {
            query = query.bind(p);
        }
        query
    }};
}

pub async fn list_records(
    ctx: &Ctx,
    conn: &mut Conn,
    q: RecordQuery,
) -> AppResult<Page<TrainingRecord>> {
    let f = Filter::of(ctx, q)?;
    let total: i64 = bind_filter!(
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM training_records r JOIN users u ON u.id = r.user_id WHERE {}",
            f.sql
        ))),
        f
    )
    .fetch_one(&mut *conn)
    .await?;
    let items: Vec<TrainingRecord> = bind_filter!(
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM training_records r JOIN users u ON u.id = r.user_id
              WHERE {} ORDER BY r.completion_date DESC, r.id DESC LIMIT ? OFFSET ?",
            f.sql
        ))),
        f
    )
    .bind(f.per_page)
    .bind(f.offset())
    .fetch_all(&mut *conn)
    .await?;
    Ok(Page {
        items,
        page: f.page,
        per_page: f.per_page,
        total: total as u64,
    })
}

/// A line of the department's list of records: one member's record, or a crew session (the
/// records of one entry for several members, sharing a session id) shown once.
#[derive(Debug, Clone)]
pub struct RecordEntry {
    /// The session, when the line is one (two records or more).
    pub session: Option<Uuid>,
    /// The record, or the session's records: every attendee's (not only those the search
    /// matched), by name.
    pub records: Vec<TrainingRecord>,
}

/// The list of `list_records`, with each crew session one line: the same filters, a page of
/// lines (a session counts once, shown when any of its records matches), newest first.
pub async fn list_entries(
    ctx: &Ctx,
    conn: &mut Conn,
    q: RecordQuery,
) -> AppResult<Page<RecordEntry>> {
    ctx.require(TRAINING_MANAGE)?;
    let f = Filter::of(ctx, q)?;
    let total: i64 = bind_filter!(
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT COALESCE(r.session_id, r.id))
               FROM training_records r JOIN users u ON u.id = r.user_id WHERE {}",
            f.sql
        ))),
        f
    )
    .fetch_one(&mut *conn)
    .await?;
    let keys: Vec<(Uuid, NaiveDate, Uuid)> = bind_filter!(
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT COALESCE(r.session_id, r.id) AS k, MAX(r.completion_date) AS d, MAX(r.id) AS m
               FROM training_records r JOIN users u ON u.id = r.user_id
              WHERE {} GROUP BY k ORDER BY d DESC, m DESC LIMIT ? OFFSET ?",
            f.sql
        ))),
        f
    )
    .bind(f.per_page)
    .bind(f.offset())
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(keys.len());
    if !keys.is_empty() {
        let marks = vec!["?"; keys.len()].join(",");
        let mut query = sqlx::query_as::<_, TrainingRecord>(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM training_records r JOIN users u ON u.id = r.user_id
              WHERE r.organization_id = ? AND (r.id IN ({marks}) OR r.session_id IN ({marks}))
              ORDER BY u.last_name, u.first_name, r.id"
        )))
        .bind(ctx.org_id);
        for _ in 0..2 {
            for (k, _, _) in &keys {
                query = query.bind(k);
            }
        }
        let mut by_key: std::collections::HashMap<Uuid, Vec<TrainingRecord>> =
            std::collections::HashMap::new();
        for r in query.fetch_all(&mut *conn).await? {
            by_key.entry(r.session_id.unwrap_or(r.id)).or_default().push(r);
        }
        for (k, _, _) in &keys {
            let records = by_key.remove(k).unwrap_or_default();
            if !records.is_empty() {
                items.push(RecordEntry {
                    session: (records.len() > 1).then_some(*k),
                    records,
                });
            }
        }
    }
    Ok(Page {
        items,
        page: f.page,
        per_page: f.per_page,
        total: total as u64,
    })
}

/// A crew session: the records of one entry for several members, by name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingSession {
    pub id: Uuid,
    pub records: Vec<TrainingRecord>,
}

async fn session_records(
    conn: &mut Conn,
    org_id: OrgId,
    id: Uuid,
    lock: bool,
) -> AppResult<Vec<TrainingRecord>> {
    let records: Vec<TrainingRecord> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM training_records r JOIN users u ON u.id = r.user_id
          WHERE r.organization_id = ? AND r.session_id = ?
          ORDER BY u.last_name, u.first_name, r.id{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    if records.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(records)
}

/// One crew session with every attendee's record (`training.manage`).
pub async fn get_session(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<TrainingSession> {
    ctx.require(TRAINING_MANAGE)?;
    Ok(TrainingSession {
        id,
        records: session_records(conn, ctx.org_id, id, false).await?,
    })
}

/// Voids every record of a crew session still counting, with one reason (each audited as a
/// voided record): for a drill entered that did not take place. Nothing left to void is a
/// conflict.
pub async fn void_session(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: VoidRecord,
) -> AppResult<TrainingSession> {
    ctx.require(TRAINING_MANAGE)?;
    crate::input::required_text("reason", &input.reason, 500)?;
    // Locked, so that two officers voiding at once do it once.
    let records = session_records(tx, ctx.org_id, id, true).await?;
    let counting: Vec<Uuid> = records
        .iter()
        .filter(|r| r.status == RecordStatus::Completed)
        .map(|r| r.id)
        .collect();
    if counting.is_empty() {
        return Err(AppError::Conflict(
            "every record of the session is void already".into(),
        ));
    }
    for record in counting {
        void_record(
            ctx,
            tx,
            record,
            VoidRecord {
                reason: input.reason.clone(),
            },
        )
        .await?;
    }
    Ok(TrainingSession {
        id,
        records: session_records(tx, ctx.org_id, id, false).await?,
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

/// Where a record's papers (certificate scans) are: whoever sees the record sees them and may
/// attach or remove them — the member their own, training officers anyone's. They are filed in
/// the member's own folder of the library.
pub async fn papers_of(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<(Source, Filed)> {
    let r = get_record(ctx, conn, id).await?;
    Ok((
        Source {
            kind: "training_record",
            id,
        },
        Filed::Member(r.user_id),
    ))
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
pub(in crate::modules::training) struct NewRecord<'a> {
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
pub(in crate::modules::training) async fn insert_record(
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
         SELECT ?, u.organization_id, u.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
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
    .bind(RecordStatus::Completed)
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
    crate::module::tell(ctx, tx, super::super::RECORDS_CHANGED, r.user_id).await?;
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
    void_one(ctx, tx, id, &reason).await
}

async fn void_one(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, reason: &str) -> AppResult<TrainingRecord> {
    let before = record_row(tx, ctx.org_id, id).await?;
    if before.status == RecordStatus::Cancelled {
        return Err(AppError::Conflict("the record is already void".into()));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE training_records SET status = ?, cancelled_at = ?, cancelled_by = ?,
                 cancel_reason = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(RecordStatus::Cancelled)
        .bind(db::now())
        .bind(ctx.user_id)
        .bind(reason)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .bind(RecordStatus::Completed),
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
    crate::module::tell(ctx, tx, super::super::RECORDS_CHANGED, before.user_id).await?;
    record_row(tx, ctx.org_id, id).await
}

/// Attendance at another module's training event, to credit: the caller (events, with
/// `events.manage`) has checked its own permission and who was present.
pub struct AttendanceCredit<'a> {
    pub course_id: Option<Uuid>,
    /// The event's title, used when there is no course.
    pub course_name: &'a str,
    /// The record's type when there is no course (default `drill`): a closed-out duty shift
    /// credits `shift` and `call`.
    pub training_type: Option<&'a str>,
    pub completion_date: NaiveDate,
    pub location_id: Option<Uuid>,
    pub notes: &'a str,
    /// Each member present and their hours.
    pub members: &'a [(Uuid, Decimal)],
}

/// Writes one completed record per member present (one session), the course's type, name and
/// expiry filled in; returns each member's record.
pub async fn credit_attendance(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    credit: AttendanceCredit<'_>,
) -> AppResult<Vec<(Uuid, Uuid)>> {
    if credit.members.is_empty() {
        return Ok(Vec::new());
    }
    let course = match credit.course_id {
        Some(id) => course(tx, ctx.org_id, id).await?,
        None => None,
    };
    let name = course
        .as_ref()
        .map_or(credit.course_name.to_string(), |c| c.name.clone());
    let training_type = course
        .as_ref()
        .map_or_else(
            || credit.training_type.unwrap_or("drill").to_string(),
            |c| c.training_type.clone(),
        );
    let expiration = compliance::expiry_from_course(
        credit.completion_date,
        course
            .as_ref()
            .and_then(|c| c.expiration_months)
            .map(u32::from),
    );
    let session = db::new_id();
    let mut made = Vec::with_capacity(credit.members.len());
    for (user, hours) in credit.members {
        let r = insert_record(
            tx,
            ctx,
            &NewRecord {
                user_id: *user,
                course_id: course.as_ref().map(|c| c.id),
                category_id: course.as_ref().and_then(|c| c.category_id),
                course_name: &name,
                training_type: &training_type,
                completion_date: credit.completion_date,
                expiration_date: expiration,
                hours: *hours,
                certification_number: None,
                issuing_agency: course.as_ref().and_then(|c| c.issuing_agency.as_deref()),
                instructor: None,
                location_id: credit.location_id,
                rank: None,
                station: None,
                notes: Some(credit.notes),
                session_id: Some(session),
                submission_id: None,
            },
        )
        .await?;
        made.push((*user, r.id));
    }
    Ok(made)
}

/// Voids records `credit_attendance` made (an event's attendance opened again); one already
/// void stays as it is.
pub async fn withdraw_credit(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    records: &[Uuid],
    reason: &str,
) -> AppResult<()> {
    for id in records {
        match void_one(ctx, tx, *id, reason).await {
            Ok(_) | Err(AppError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// A correction of a recorded completion: the new values (a field left out keeps its value;
/// an empty certification number clears it) and why, which is required. Voiding stays for a
/// record that should not exist at all.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCorrection {
    pub completion_date: Option<NaiveDate>,
    #[schema(value_type = Option<f64>)]
    pub hours: Option<Decimal>,
    pub expiration_date: Option<NaiveDate>,
    #[schema(max_length = 64)]
    pub certification_number: Option<String>,
    /// Why it is corrected (kept in the audit log); required.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Corrects a record in place: its date, hours, expiry or certificate number, with the reason
/// and the values before and after in the audit log. The row is locked, so two officers
/// correcting at once apply one after the other; a void record cannot be corrected.
pub async fn correct_record(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: RecordCorrection,
) -> AppResult<TrainingRecord> {
    ctx.require(TRAINING_MANAGE)?;
    sqlx::query("SELECT id FROM training_records WHERE organization_id = ? AND id = ? FOR UPDATE")
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = record_row(tx, ctx.org_id, id).await?;
    if before.status == RecordStatus::Cancelled {
        return Err(AppError::Conflict(
            "the record is void and cannot be corrected".into(),
        ));
    }
    let today = today_for(ctx);
    let mut c = crate::input::Checks::default();
    let reason = c.take(crate::input::required_text("reason", &input.reason, 500));
    let date = input.completion_date.unwrap_or(before.completion_date);
    if date > today {
        c.push(
            "completion_date",
            format!("must not be in the future (today is {})", ctx.locale.day(today)),
        );
    }
    let hours = match input.hours {
        Some(h) => c
            .take(crate::modules::training::rules::hours("hours", h, 1000))
            .unwrap_or(before.hours_completed),
        None => before.hours_completed,
    };
    let expires = input.expiration_date.or(before.expiration_date);
    if let Some(e) = expires
        && e < date
    {
        c.push("expiration_date", "must not be before the completion date");
    }
    let certificate = match input.certification_number {
        Some(n) => c
            .take(crate::input::optional_text("certification_number", Some(n), 64))
            .flatten(),
        None => before.certification_number.clone(),
    };
    let changes = audit::chain::diff(
        &serde_json::json!({
            "completion_date": before.completion_date, "hours": before.hours_completed,
            "expiration_date": before.expiration_date,
            "certification_number": before.certification_number,
        }),
        &serde_json::json!({
            "completion_date": date, "hours": hours, "expiration_date": expires,
            "certification_number": certificate,
        }),
    );
    if c.is_empty() && changes.as_object().is_some_and(|m| m.is_empty()) {
        c.push(
            "completion_date",
            "the correction changes nothing; give the right date, hours, expiry or number",
        );
    }
    c.finish()?;
    sqlx::query(
        "UPDATE training_records SET completion_date = ?, hours_completed = ?,
                expiration_date = ?, certification_number = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(date)
    .bind(hours)
    .bind(expires)
    .bind(&certificate)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut entry = changes;
    if let Some(map) = entry.as_object_mut() {
        map.insert("member".into(), serde_json::json!(before.user_id));
        map.insert("course_name".into(), serde_json::json!(before.course_name));
        map.insert("reason".into(), serde_json::json!(reason));
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.record_corrected", "training_record", id).changes(entry),
    )
    .await?;
    // Whatever counted the record (a program's credit, compliance) sees the new values.
    crate::module::tell(ctx, tx, super::super::RECORDS_CHANGED, before.user_id).await?;
    record_row(tx, ctx.org_id, id).await
}

/// A certification that runs out: the record, its member and its date.
#[derive(Debug, sqlx::FromRow)]
pub struct Expiring {
    pub id: Uuid,
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub course_name: String,
    pub expiration_date: NaiveDate,
}

/// Certifications of counted members that expire by `until` (or have expired) and were not
/// renewed since (no later record of the same course that lasts longer), soonest first.
pub async fn expiring(
    conn: &mut Conn,
    org_id: OrgId,
    until: NaiveDate,
) -> AppResult<Vec<Expiring>> {
    let statuses = vec!["?"; super::MATRIX_STATUSES.len()].join(",");
    let mut q = sqlx::query_as::<_, Expiring>(AssertSqlSafe(format!(
        "SELECT r.id, r.user_id, u.first_name, u.last_name, r.course_name, r.expiration_date
           FROM training_records r
           JOIN users u ON u.id = r.user_id
          WHERE r.organization_id = ? AND r.status = ?
            AND r.expiration_date IS NOT NULL AND r.expiration_date <= ?
            AND u.status IN ({statuses})
            AND NOT EXISTS (
                SELECT 1 FROM training_records n
                 WHERE n.organization_id = r.organization_id AND n.user_id = r.user_id
                   AND n.status = ? AND n.id <> r.id
                   AND (n.course_id = r.course_id
                        OR (r.course_id IS NULL AND n.course_id IS NULL
                            AND n.course_name = r.course_name))
                   AND (n.expiration_date IS NULL OR n.expiration_date > r.expiration_date))
          ORDER BY r.expiration_date, r.id"
    )))
    .bind(org_id)
    .bind(RecordStatus::Completed)
    .bind(until);
    for s in super::MATRIX_STATUSES {
        q = q.bind(*s);
    }
    Ok(q.bind(RecordStatus::Completed).fetch_all(&mut *conn).await?)
}
