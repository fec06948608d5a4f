//! Shift completion reports (`reference/features.md` §1.3, "Shift reports"): an officer records
//! what a trainee did on a shift (hours, calls, skills observed, a rating and a narrative, which
//! is encrypted at rest). Saved as a draft or sent for review; another officer approves or flags
//! it. The first approval credits the trainee's program (one shift, the calls, the hours, each
//! skill item observed) through the credit ledger, so it counts once whatever happens after.
//! The trainee sees approved reports about them and acknowledges them.

use crate::auth::OrgId;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::service::{EnrollmentStatus, add_credit, refresh};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::crypto::FieldCipher;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageQuery};
use crate::input::{Checks, optional_paragraphs};
use crate::modules::training::service as training;
use crate::notify::{self, Notice, Notifier};

crate::words! {
    /// Where a report stands: written (`Draft`), sent for review, and reviewed.
    pub enum ReviewStatus {
        Draft = "draft",
        PendingReview = "pending_review",
        Approved = "approved",
        Flagged = "flagged",
    }
}

impl ReviewStatus {
    /// The officer who wrote it may still change it.
    pub fn editable(self) -> bool {
        matches!(self, ReviewStatus::Draft | ReviewStatus::Flagged)
    }

    /// In words, for a sentence ("the report is pending review").
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }
}

fn review_status_schema() -> utoipa::openapi::Object {
    ReviewStatus::schema_object()
}
const NARRATIVE_MAX: usize = 2000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShiftReport {
    pub id: Uuid,
    pub trainee_id: Uuid,
    pub trainee_name: String,
    pub officer_id: Uuid,
    pub officer_name: String,
    pub enrollment_id: Option<Uuid>,
    pub program_name: Option<String>,
    pub shift_date: NaiveDate,
    #[schema(value_type = f64)]
    pub hours_on_shift: Decimal,
    pub calls_responded: u16,
    pub call_types: Vec<String>,
    pub skills_observed: Vec<String>,
    pub performance_rating: Option<u8>,
    /// Decrypted for those who may read the report.
    pub narrative: Option<String>,
    /// draft, pending_review, approved or flagged.
    #[schema(schema_with = review_status_schema)]
    pub review_status: ReviewStatus,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    /// When the approval credited the trainee's program (once).
    pub credited_at: Option<DateTime<Utc>>,
    pub trainee_acknowledged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    trainee_id: Uuid,
    trainee_name: String,
    officer_id: Uuid,
    officer_name: String,
    enrollment_id: Option<Uuid>,
    program_name: Option<String>,
    shift_date: NaiveDate,
    hours_on_shift: Decimal,
    calls_responded: u16,
    call_types: String,
    skills_observed: String,
    performance_rating: Option<u8>,
    narrative: Option<Vec<u8>>,
    review_status: ReviewStatus,
    reviewed_by: Option<Uuid>,
    reviewed_at: Option<DateTime<Utc>>,
    credited_at: Option<DateTime<Utc>>,
    trainee_acknowledged_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "s.id, s.trainee_id, CONCAT(t.first_name, ' ', t.last_name) AS trainee_name, \
     s.officer_id, CONCAT(o.first_name, ' ', o.last_name) AS officer_name, s.enrollment_id, \
     p.name AS program_name, s.shift_date, s.hours_on_shift, s.calls_responded, s.call_types, \
     s.skills_observed, s.performance_rating, s.narrative, s.review_status, s.reviewed_by, \
     s.reviewed_at, s.credited_at, s.trainee_acknowledged_at, s.created_at";

const FROM: &str = "shift_completion_reports s
     JOIN users t ON t.id = s.trainee_id
     JOIN users o ON o.id = s.officer_id
     LEFT JOIN program_enrollments e ON e.id = s.enrollment_id
     LEFT JOIN training_programs p ON p.id = e.program_id";

fn report(cipher: &FieldCipher, r: Row) -> AppResult<ShiftReport> {
    let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
    let narrative = match &r.narrative {
        Some(bytes) => Some(cipher.decrypt(bytes)?),
        None => None,
    };
    Ok(ShiftReport {
        call_types: list(&r.call_types),
        skills_observed: list(&r.skills_observed),
        narrative,
        id: r.id,
        trainee_id: r.trainee_id,
        trainee_name: r.trainee_name,
        officer_id: r.officer_id,
        officer_name: r.officer_name,
        enrollment_id: r.enrollment_id,
        program_name: r.program_name,
        shift_date: r.shift_date,
        hours_on_shift: r.hours_on_shift,
        calls_responded: r.calls_responded,
        performance_rating: r.performance_rating,
        review_status: r.review_status,
        reviewed_by: r.reviewed_by,
        reviewed_at: r.reviewed_at,
        credited_at: r.credited_at,
        trainee_acknowledged_at: r.trainee_acknowledged_at,
        created_at: r.created_at,
    })
}

/// Who may read a report: the trainee their approved ones (an officer too, when the report is
/// about them); an officer any other report but another officer's draft.
fn visible(ctx: &Ctx, r: &Row) -> bool {
    if r.trainee_id == ctx.user_id {
        r.review_status == ReviewStatus::Approved
    } else if ctx.has(TRAINING_MANAGE) {
        r.review_status != ReviewStatus::Draft || r.officer_id == ctx.user_id
    } else {
        r.trainee_id == ctx.user_id && r.review_status == ReviewStatus::Approved
    }
}

async fn row(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Row> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE s.organization_id = ? AND s.id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn get_report(
    cipher: &FieldCipher,
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
) -> AppResult<ShiftReport> {
    ctx.require(TRAINING_VIEW)?;
    let r = row(conn, ctx.org_id, id).await?;
    if !visible(ctx, &r) {
        return Err(AppError::NotFound);
    }
    report(cipher, r)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub trainee_id: Option<Uuid>,
    /// draft, pending_review, approved or flagged.
    #[param(schema_with = review_status_schema)]
    pub status: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// Reports the caller may read, latest shift first.
pub async fn list(
    cipher: &FieldCipher,
    ctx: &Ctx,
    conn: &mut Conn,
    q: ListQuery,
) -> AppResult<Page<ShiftReport>> {
    ctx.require(TRAINING_VIEW)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let status = ReviewStatus::parse_filter("status", q.status.as_deref())?;
    let manage = ctx.has(TRAINING_MANAGE);
    if !manage && q.trainee_id.is_some_and(|t| t != ctx.user_id) {
        return Err(AppError::forbidden_permission(TRAINING_MANAGE));
    }
    let mut filter = String::from("s.organization_id = ?");
    filter.push_str(if manage {
        " AND (s.review_status <> ? OR s.officer_id = ?)
          AND (s.trainee_id <> ? OR s.review_status = ?)"
    } else {
        " AND s.trainee_id = ? AND s.review_status = ?"
    });
    if q.trainee_id.is_some() {
        filter.push_str(" AND s.trainee_id = ?");
    }
    if status.is_some() {
        filter.push_str(" AND s.review_status = ?");
    }
    macro_rules! bind_all {
        ($query:expr) => {{
            let mut query = $query.bind(ctx.org_id);
            if manage {
                query = query
                    .bind(ReviewStatus::Draft)
                    .bind(ctx.user_id)
                    .bind(ctx.user_id)
                    .bind(ReviewStatus::Approved);
            } else {
                query = query.bind(ctx.user_id).bind(ReviewStatus::Approved);
            }
            if let Some(t) = q.trainee_id {
                query = query.bind(t);
            }
            if let Some(s) = status {
                query = query.bind(s);
            }
            query
        }};
    }
    let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM shift_completion_reports s WHERE {filter}"
    ))))
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<Row> = bind_all!(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {filter}
          ORDER BY s.shift_date DESC, s.created_at DESC LIMIT ? OFFSET ?"
    ))))
    .bind(per_page)
    .bind(u64::from(page - 1) * u64::from(per_page))
    .fetch_all(&mut *conn)
    .await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|r| report(cipher, r))
            .collect::<AppResult<_>>()?,
        page,
        per_page,
        total: total as u64,
    })
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftReportInput {
    pub trainee_id: Uuid,
    /// The trainee's program enrollment to credit (default: each active one of theirs).
    pub enrollment_id: Option<Uuid>,
    pub shift_date: NaiveDate,
    #[schema(value_type = f64)]
    pub hours_on_shift: Decimal,
    #[serde(default)]
    pub calls_responded: u16,
    #[serde(default)]
    pub call_types: Vec<String>,
    #[serde(default)]
    pub skills_observed: Vec<String>,
    /// 1 (needs a lot of work) to 5 (excellent).
    #[schema(minimum = 1, maximum = 5)]
    pub performance_rating: Option<u8>,
    pub narrative: Option<String>,
    /// Save without sending for review.
    #[serde(default)]
    pub draft: bool,
}

struct Valid {
    enrollment_id: Option<Uuid>,
    call_types: String,
    skills: String,
    narrative: Option<Vec<u8>>,
    hours: Decimal,
}

fn short_list(c: &mut Checks, field: &str, items: &[String], max_items: usize) -> Vec<String> {
    let cleaned: Vec<String> = items
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if cleaned.len() > max_items {
        c.push(field, format!("must list at most {max_items}"));
    }
    if cleaned.iter().any(|s| s.chars().count() > 100) {
        c.push(field, "must each be at most 100 characters");
    }
    let mut unique: Vec<String> = Vec::new();
    for s in cleaned {
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&s)) {
            unique.push(s);
        }
    }
    unique
}

async fn validate(
    cipher: &FieldCipher,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: &ShiftReportInput,
) -> AppResult<Valid> {
    let today = training::today_for(ctx);
    let mut c = Checks::default();
    if input.trainee_id == ctx.user_id {
        c.push(
            "trainee_id",
            "cannot be yourself: another officer reports on your shifts",
        );
    }
    if input.shift_date.year() < 1900 {
        c.push("shift_date", "must be in 1900 or later");
    } else if input.shift_date > today {
        c.push(
            "shift_date",
            format!("must not be in the future (today is {today})"),
        );
    }
    let hours = input.hours_on_shift;
    if hours <= Decimal::ZERO {
        c.push("hours_on_shift", "must be more than 0");
    } else if hours > Decimal::from(72) {
        c.push("hours_on_shift", "must be at most 72");
    } else if hours.normalize().scale() > 2 {
        c.push("hours_on_shift", "must have at most two decimals");
    }
    if input.calls_responded > 100 {
        c.push("calls_responded", "must be at most 100");
    }
    if input
        .performance_rating
        .is_some_and(|r| !(1..=5).contains(&r))
    {
        c.push("performance_rating", "must be from 1 to 5");
    }
    let call_types = short_list(&mut c, "call_types", &input.call_types, 20);
    let skills = short_list(&mut c, "skills_observed", &input.skills_observed, 30);
    let narrative = c
        .take(optional_paragraphs(
            "narrative",
            input.narrative.clone(),
            NARRATIVE_MAX,
        ))
        .flatten();
    let trainee: Option<String> =
        sqlx::query_scalar("SELECT status FROM users WHERE organization_id = ? AND id = ?")
            .bind(ctx.org_id)
            .bind(input.trainee_id)
            .fetch_optional(&mut **tx)
            .await?;
    if trainee.is_none() {
        c.push("trainee_id", "is not a member of this department");
    }
    if let Some(e) = input.enrollment_id {
        let ok: Option<EnrollmentStatus> = sqlx::query_scalar(
            "SELECT status FROM program_enrollments
              WHERE organization_id = ? AND id = ? AND user_id = ?",
        )
        .bind(ctx.org_id)
        .bind(e)
        .bind(input.trainee_id)
        .fetch_optional(&mut **tx)
        .await?;
        match ok {
            None => c.push(
                "enrollment_id",
                "is not a program enrollment of this trainee",
            ),
            Some(EnrollmentStatus::Active) => {}
            Some(other) => c.push("enrollment_id", format!("is {}, not active", other.words())),
        }
    }
    c.finish()?;
    let narrative = match narrative {
        Some(text) => Some(cipher.encrypt(&text)?),
        None => None,
    };
    let json = |v: &Vec<String>| serde_json::to_string(v).map_err(anyhow::Error::new);
    Ok(Valid {
        enrollment_id: input.enrollment_id,
        call_types: json(&call_types)?,
        skills: json(&skills)?,
        narrative,
        hours: hours.round_dp(2),
    })
}

fn what(input: &ShiftReportInput) -> serde_json::Value {
    // The narrative stays out of the audit log (it is encrypted at rest); that it is there is
    // enough.
    serde_json::json!({
        "trainee": input.trainee_id, "enrollment": input.enrollment_id,
        "shift_date": input.shift_date, "hours_on_shift": input.hours_on_shift,
        "calls_responded": input.calls_responded, "call_types": input.call_types,
        "skills_observed": input.skills_observed, "performance_rating": input.performance_rating,
        "narrative": input.narrative.as_deref().is_some_and(|n| !n.trim().is_empty()),
        "draft": input.draft,
    })
}

async fn tell_reviewers(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    r: &ShiftReport,
) -> AppResult<()> {
    let reviewers: Vec<Uuid> = notify::holders_of(tx, ctx.org_id, TRAINING_MANAGE)
        .await?
        .into_iter()
        .filter(|u| *u != r.officer_id && *u != r.trainee_id)
        .collect();
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &reviewers,
        &Notice {
            category: "training",
            subject: format!(
                "Shift report to review: {} on {}",
                r.trainee_name,
                ctx.locale.day(r.shift_date)
            ),
            body: format!(
                "{} reported on {}'s shift of {}. Approve it or flag it.",
                r.officer_name,
                r.trainee_name,
                ctx.locale.day(r.shift_date)
            ),
            link: Some(format!("/training/shift-reports/{}", r.id)),
            dedupe_key: Some(format!("shift-report:{}:{}", r.id, r.review_status)),
        },
    )
    .await?;
    Ok(())
}

/// An officer (`training.manage`) reports on a trainee's shift.
pub async fn create(
    cipher: &FieldCipher,
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: ShiftReportInput,
) -> AppResult<ShiftReport> {
    ctx.require(TRAINING_MANAGE)?;
    let v = validate(cipher, ctx, tx, &input).await?;
    let id = db::new_id();
    let now = db::now();
    let status = if input.draft {
        ReviewStatus::Draft
    } else {
        ReviewStatus::PendingReview
    };
    sqlx::query(
        "INSERT INTO shift_completion_reports (id, organization_id, trainee_id, officer_id,
             enrollment_id, shift_date, hours_on_shift, calls_responded, call_types,
             skills_observed, performance_rating, narrative, review_status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(input.trainee_id)
    .bind(ctx.user_id)
    .bind(v.enrollment_id)
    .bind(input.shift_date)
    .bind(v.hours)
    .bind(input.calls_responded)
    .bind(&v.call_types)
    .bind(&v.skills)
    .bind(input.performance_rating)
    .bind(&v.narrative)
    .bind(status)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.shift_report_created",
            "shift_completion_report",
            id,
        )
        .changes(what(&input)),
    )
    .await?;
    let r = get_report(cipher, ctx, tx, id).await?;
    if status == ReviewStatus::PendingReview {
        tell_reviewers(notifier, ctx, tx, &r).await?;
    }
    Ok(r)
}

/// The author edits a draft or a flagged report; unless kept as a draft it goes for review
/// again.
pub async fn update(
    cipher: &FieldCipher,
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ShiftReportInput,
) -> AppResult<ShiftReport> {
    ctx.require(TRAINING_MANAGE)?;
    let before = lock(tx, ctx, id).await?;
    if before.officer_id != ctx.user_id {
        return Err(AppError::Forbidden(
            "only the officer who wrote the report may change it".into(),
        ));
    }
    if !before.review_status.editable() {
        return Err(AppError::Conflict(format!(
            "the report is {}; only a draft or a flagged report can be changed",
            before.review_status.words()
        )));
    }
    let v = validate(cipher, ctx, tx, &input).await?;
    let status = if input.draft {
        ReviewStatus::Draft
    } else {
        ReviewStatus::PendingReview
    };
    sqlx::query(
        "UPDATE shift_completion_reports SET trainee_id = ?, enrollment_id = ?, shift_date = ?,
             hours_on_shift = ?, calls_responded = ?, call_types = ?, skills_observed = ?,
             performance_rating = ?, narrative = ?, review_status = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(input.trainee_id)
    .bind(v.enrollment_id)
    .bind(input.shift_date)
    .bind(v.hours)
    .bind(input.calls_responded)
    .bind(&v.call_types)
    .bind(&v.skills)
    .bind(input.performance_rating)
    .bind(&v.narrative)
    .bind(status)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut changes = what(&input);
    changes["review_status"] = serde_json::json!([before.review_status, status]);
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.shift_report_updated",
            "shift_completion_report",
            id,
        )
        .changes(changes),
    )
    .await?;
    let r = get_report(cipher, ctx, tx, id).await?;
    if status == ReviewStatus::PendingReview {
        tell_reviewers(notifier, ctx, tx, &r).await?;
    }
    Ok(r)
}

async fn lock(tx: &mut Tx<'_>, ctx: &Ctx, id: Uuid) -> AppResult<Row> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM shift_completion_reports WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    // The lock is the transaction's first read (its callers lock before reading anything), so
    // the snapshot this plain read takes is after the wait and shows the latest report.
    let r = row(tx, ctx.org_id, id).await?;
    if !visible(ctx, &r) {
        return Err(AppError::NotFound);
    }
    Ok(r)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShiftReportReviewInput)]
pub struct ReviewInput {
    /// approved or flagged.
    pub decision: String,
    /// Told to the author (required to flag).
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
}

/// Another officer approves or flags a report sent for review. The first approval credits the
/// trainee's program.
pub async fn review(
    cipher: &FieldCipher,
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ReviewInput,
) -> AppResult<ShiftReport> {
    ctx.require(TRAINING_MANAGE)?;
    let r = lock(tx, ctx, id).await?;
    let notes = optional_paragraphs("notes", input.notes, 1000)?;
    let decision = match ReviewStatus::parse(&input.decision) {
        Some(d @ (ReviewStatus::Approved | ReviewStatus::Flagged)) => d,
        _ => return Err(AppError::field("decision", "must be approved or flagged")),
    };
    if decision == ReviewStatus::Flagged && notes.is_none() {
        return Err(AppError::field("notes", "say what needs changing"));
    }
    if r.officer_id == ctx.user_id || r.trainee_id == ctx.user_id {
        return Err(AppError::Forbidden(
            "another officer reviews this report: you wrote it or it is about you".into(),
        ));
    }
    if r.review_status != ReviewStatus::PendingReview {
        return Err(AppError::Conflict(format!(
            "the report is {}, not waiting for review",
            r.review_status.words()
        )));
    }
    let now = db::now();
    db::transition(
        tx,
        sqlx::query(
            "UPDATE shift_completion_reports SET review_status = ?, reviewed_by = ?,
                 reviewed_at = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND review_status = ?",
        )
        .bind(decision)
        .bind(ctx.user_id)
        .bind(now)
        .bind(now)
        .bind(ctx.org_id)
        .bind(id)
        .bind(ReviewStatus::PendingReview),
        "someone else has just reviewed this report; reload to see their decision",
    )
    .await?;
    let credited = if decision == ReviewStatus::Approved {
        credit(ctx, tx, &r).await?
    } else {
        Vec::new()
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.shift_report_reviewed",
            "shift_completion_report",
            id,
        )
        .changes(
            serde_json::json!({"trainee": r.trainee_id, "decision": decision,
                               "notes": notes, "credited_enrollments": credited}),
        ),
    )
    .await?;
    let (to, subject, body) = if decision == ReviewStatus::Approved {
        (
            r.trainee_id,
            format!("Shift report for {}", ctx.locale.day(r.shift_date)),
            format!(
                "{} reported on your shift of {}. Read it and acknowledge it on your training \
                 page.",
                r.officer_name,
                ctx.locale.day(r.shift_date)
            ),
        )
    } else {
        (
            r.officer_id,
            format!(
                "Shift report flagged: {} on {}",
                r.trainee_name,
                ctx.locale.day(r.shift_date)
            ),
            format!(
                "Your report on {}'s shift of {} was flagged: {}",
                r.trainee_name,
                ctx.locale.day(r.shift_date),
                notes.as_deref().unwrap_or_default()
            ),
        )
    };
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &[to],
        &Notice {
            category: "training",
            subject,
            body,
            link: Some(format!("/training/shift-reports/{id}")),
            dedupe_key: Some(format!("shift-report:{id}:{decision}")),
        },
    )
    .await?;
    get_report(cipher, ctx, tx, id).await
}

/// Credits the report to the trainee's program(s), once: a report is approved once (only from
/// pending review), `credited_at` is set when it credited something, and the ledger refuses a
/// second credit from the same report anyway.
async fn credit(ctx: &Ctx, tx: &mut Tx<'_>, r: &Row) -> AppResult<Vec<Uuid>> {
    if r.credited_at.is_some() {
        return Ok(Vec::new());
    }
    let enrollments: Vec<Uuid> = match r.enrollment_id {
        Some(e) => vec![e],
        None => {
            sqlx::query_scalar(
                "SELECT id FROM program_enrollments
                  WHERE organization_id = ? AND user_id = ? AND status = ?",
            )
            .bind(ctx.org_id)
            .bind(r.trainee_id)
            .bind(EnrollmentStatus::Active)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let skills: Vec<String> = serde_json::from_str(&r.skills_observed).unwrap_or_default();
    let mut credited = Vec::new();
    for e in &enrollments {
        let items: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT p.id, i.item_type, i.name FROM requirement_progress p
               JOIN program_requirements i ON i.id = p.program_requirement_id
               JOIN program_enrollments e ON e.id = p.enrollment_id
              WHERE p.organization_id = ? AND p.enrollment_id = ? AND e.status = ?",
        )
        .bind(ctx.org_id)
        .bind(e)
        .bind(EnrollmentStatus::Active)
        .fetch_all(&mut **tx)
        .await?;
        for (progress, kind, name) in items {
            let units = match kind.as_str() {
                "shifts" => Decimal::ONE,
                "calls" => Decimal::from(r.calls_responded),
                "hours" => r.hours_on_shift,
                "skill"
                    if skills
                        .iter()
                        .any(|s| s.trim().eq_ignore_ascii_case(name.trim())) =>
                {
                    Decimal::ONE
                }
                _ => Decimal::ZERO,
            };
            if units > Decimal::ZERO
                && add_credit(tx, ctx.org_id, progress, "shift_report", r.id, units).await?
                && !credited.contains(e)
            {
                credited.push(*e);
            }
        }
        refresh(ctx, tx, *e).await?;
    }
    // Marked credited only when something was: a report approved for a trainee with no
    // program going says so, and is not shown as counted.
    if !credited.is_empty() {
        sqlx::query(
            "UPDATE shift_completion_reports SET credited_at = ?
              WHERE organization_id = ? AND id = ? AND credited_at IS NULL",
        )
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(r.id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(credited)
}

/// The trainee confirms they have read an approved report about them.
pub async fn acknowledge(
    cipher: &FieldCipher,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
) -> AppResult<ShiftReport> {
    ctx.require(TRAINING_VIEW)?;
    let r = lock(tx, ctx, id).await?;
    if r.trainee_id != ctx.user_id {
        return Err(AppError::Forbidden(
            "only the trainee acknowledges a report about them".into(),
        ));
    }
    if r.review_status != ReviewStatus::Approved {
        return Err(AppError::Conflict("the report is not approved yet".into()));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE shift_completion_reports SET trainee_acknowledged_at = ?
              WHERE organization_id = ? AND id = ? AND trainee_acknowledged_at IS NULL",
        )
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id),
        "you have already acknowledged this report",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            "training.shift_report_acknowledged",
            "shift_completion_report",
            id,
        ),
    )
    .await?;
    get_report(cipher, ctx, tx, id).await
}

/// What a report's form offers: the active enrollments (id, member's first and last name,
/// program) and the skills the programs name.
pub async fn form_choices(
    conn: &mut Conn,
    org_id: OrgId,
) -> AppResult<(Vec<(Uuid, String, String, String)>, Vec<String>)> {
    let going = sqlx::query_as(
        "SELECT e.id, u.first_name, u.last_name, p.name FROM program_enrollments e
           JOIN users u ON u.id = e.user_id JOIN training_programs p ON p.id = e.program_id
          WHERE e.organization_id = ? AND e.status = ?
          ORDER BY u.last_name, u.first_name, p.name",
    )
    .bind(org_id)
    .bind(EnrollmentStatus::Active)
    .fetch_all(&mut *conn)
    .await?;
    let skills = sqlx::query_scalar(
        "SELECT DISTINCT name FROM program_requirements
          WHERE organization_id = ? AND item_type = 'skill' ORDER BY name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok((going, skills))
}

/// Approved reports about the caller that they have not acknowledged yet.
pub async fn to_acknowledge(ctx: &Ctx, conn: &mut Conn) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM shift_completion_reports
          WHERE organization_id = ? AND trainee_id = ? AND review_status = ?
            AND trainee_acknowledged_at IS NULL",
    )
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(ReviewStatus::Approved)
    .fetch_one(&mut *conn)
    .await?)
}

/// Reports waiting for a review the caller may give (not their own, not about them).
pub async fn to_review(ctx: &Ctx, conn: &mut Conn) -> AppResult<i64> {
    if !ctx.has(TRAINING_MANAGE) {
        return Ok(0);
    }
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM shift_completion_reports
          WHERE organization_id = ? AND review_status = ?
            AND officer_id <> ? AND trainee_id <> ?",
    )
    .bind(ctx.org_id)
    .bind(ReviewStatus::PendingReview)
    .bind(ctx.user_id)
    .bind(ctx.user_id)
    .fetch_one(&mut *conn)
    .await?)
}
