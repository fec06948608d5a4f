//! Self-reported training (`reference/features.md` §1.3, "Self-report"): a member submits
//! training taken elsewhere; officers with `training.manage` approve it (which creates the
//! record), reject it, or ask for changes (the member edits it and it is pending again). The
//! department's settings may approve small submissions at once, but never one that would credit
//! a certification (type certification, or with a certificate number, agency, expiry or
//! category). Officers are told of new submissions; members of the decision. No one reviews
//! their own.

use crate::auth::OrgId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rules::{TRAINING_TYPES, hours};
use super::service::{self, NewRecord, TrainingRecord};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{ApiJson, ApiQuery, Page, PageQuery};
use crate::input::{Checks, optional_paragraphs, optional_text, required_text};
use crate::notify::{self, Notice, Notifier};

crate::words! {
    /// Where a submission stands: waiting for an officer, decided, or sent back to the member.
    pub enum SubmissionStatus {
        PendingReview = "pending_review",
        Approved = "approved",
        Rejected = "rejected",
        RevisionRequested = "revision_requested",
    }
}

crate::words! {
    /// An officer's decision on a waiting submission.
    pub enum Decision {
        Approve = "approve",
        Reject = "reject",
        RequestChanges = "request_changes",
    }
}
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/training/submissions",
            get(api_list).post(api_submit),
        )
        .route(
            "/api/v1/training/submissions/pending-count",
            get(api_pending_count),
        )
        .route(
            "/api/v1/training/submissions/{id}",
            get(api_get).put(api_edit),
        )
        .route("/api/v1/training/submissions/{id}/review", post(api_review))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Submission {
    pub id: Uuid,
    pub user_id: Uuid,
    pub member_name: String,
    pub course_id: Option<Uuid>,
    pub course_name: String,
    pub category_id: Option<Uuid>,
    pub training_type: String,
    pub completion_date: NaiveDate,
    #[schema(value_type = f64)]
    pub hours_completed: Decimal,
    pub certification_number: Option<String>,
    pub issuing_agency: Option<String>,
    pub expiration_date: Option<NaiveDate>,
    pub description: Option<String>,
    /// pending_review, approved, rejected or revision_requested.
    #[schema(schema_with = SubmissionStatus::schema_object)]
    pub status: SubmissionStatus,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewer_notes: Option<String>,
    /// The record made when it was approved.
    pub training_record_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "s.id, s.user_id, CONCAT(u.first_name, ' ', u.last_name) AS member_name, \
     s.course_id, s.course_name, s.category_id, s.training_type, s.completion_date, \
     s.hours_completed, s.certification_number, s.issuing_agency, s.expiration_date, \
     s.description, s.status, s.reviewed_by, s.reviewed_at, s.reviewer_notes, \
     s.training_record_id, s.created_at";

async fn load(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Submission> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM training_submissions s JOIN users u ON u.id = s.user_id
          WHERE s.organization_id = ? AND s.id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionInput {
    pub course_id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub course_name: String,
    pub category_id: Option<Uuid>,
    #[schema(schema_with = crate::modules::training::rules::training_type_schema)]
    pub training_type: String,
    pub completion_date: NaiveDate,
    #[schema(value_type = f64)]
    pub hours: Decimal,
    #[schema(max_length = 64)]
    pub certification_number: Option<String>,
    #[schema(max_length = 200)]
    pub issuing_agency: Option<String>,
    pub expiration_date: Option<NaiveDate>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
}

struct Valid {
    course_id: Option<Uuid>,
    course_name: String,
    category_id: Option<Uuid>,
    training_type: String,
    completion_date: NaiveDate,
    hours: Decimal,
    certification_number: Option<String>,
    issuing_agency: Option<String>,
    expiration_date: Option<NaiveDate>,
    description: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Settings {
    require_approval: bool,
    auto_approve_under_hours: Option<Decimal>,
    max_hours_per_submission: Decimal,
}

async fn settings(conn: &mut Conn, org_id: OrgId) -> AppResult<Settings> {
    Ok(sqlx::query_as(
        "SELECT require_approval, auto_approve_under_hours, max_hours_per_submission
           FROM training_settings WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(Settings {
        require_approval: true,
        auto_approve_under_hours: None,
        max_hours_per_submission: Decimal::from(40),
    }))
}

async fn validate(
    conn: &mut Conn,
    ctx: &Ctx,
    input: SubmissionInput,
    max_hours: Decimal,
) -> AppResult<Valid> {
    let org_id = ctx.org_id;
    let today = service::today_for(ctx);
    let mut c = Checks::default();
    let course_name = c.take(required_text("course_name", &input.course_name, 200));
    if !TRAINING_TYPES.contains(&input.training_type.as_str()) {
        c.push(
            "training_type",
            format!("must be one of {}", TRAINING_TYPES.join(", ")),
        );
    }
    if input.completion_date > today {
        c.push(
            "completion_date",
            format!("must not be in the future (today is {today})"),
        );
    }
    let max = max_hours.trunc().to_u32().unwrap_or(40);
    let h = c.take(hours("hours", input.hours, max));
    if h.is_some_and(|h| h.is_zero()) {
        c.push("hours", "must be more than 0");
    }
    if input
        .expiration_date
        .is_some_and(|e| e < input.completion_date)
    {
        c.push("expiration_date", "must not be before the completion date");
    }
    let certification_number = c
        .take(optional_text(
            "certification_number",
            input.certification_number,
            64,
        ))
        .flatten();
    let issuing_agency = c
        .take(optional_text("issuing_agency", input.issuing_agency, 200))
        .flatten();
    let description = c
        .take(optional_paragraphs("description", input.description, 5000))
        .flatten();
    if !c.is_empty() {
        return Err(AppError::Validation(c.into_errors()));
    }
    for (field, table, id) in [
        ("course_id", "training_courses", input.course_id),
        ("category_id", "training_categories", input.category_id),
    ] {
        if let Some(id) = id
            && !db::exists(conn, table, org_id, id).await?
        {
            return Err(AppError::field(field, "is not one of this department's"));
        }
    }
    Ok(Valid {
        course_id: input.course_id,
        course_name: course_name.unwrap_or_default(),
        category_id: input.category_id,
        training_type: input.training_type,
        completion_date: input.completion_date,
        hours: h.unwrap_or_default(),
        certification_number,
        issuing_agency,
        expiration_date: input.expiration_date,
        description,
    })
}

/// Whether the settings approve this submission at once: never one that would credit a
/// certification.
fn auto_approves(s: &Settings, v: &Valid) -> bool {
    let credits_certification = v.training_type == "certification"
        || v.certification_number.is_some()
        || v.issuing_agency.is_some()
        || v.expiration_date.is_some()
        || v.category_id.is_some();
    if credits_certification {
        return false;
    }
    !s.require_approval || s.auto_approve_under_hours.is_some_and(|max| v.hours <= max)
}

async fn make_record(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    s: &Submission,
    hours: Decimal,
) -> AppResult<TrainingRecord> {
    service::insert_record(
        tx,
        ctx,
        &NewRecord {
            user_id: s.user_id,
            course_id: s.course_id,
            category_id: s.category_id,
            course_name: &s.course_name,
            training_type: &s.training_type,
            completion_date: s.completion_date,
            expiration_date: s.expiration_date,
            hours,
            certification_number: s.certification_number.as_deref(),
            issuing_agency: s.issuing_agency.as_deref(),
            instructor: None,
            location_id: None,
            rank: None,
            station: None,
            notes: s.description.as_deref(),
            session_id: None,
            submission_id: Some(s.id),
        },
    )
    .await
}

/// A member submits training taken elsewhere (their own).
pub async fn submit(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: SubmissionInput,
) -> AppResult<Submission> {
    ctx.require(TRAINING_VIEW)?;
    let settings = settings(tx, ctx.org_id).await?;
    let v = validate(tx, ctx, input, settings.max_hours_per_submission).await?;
    let auto = auto_approves(&settings, &v);
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO training_submissions (id, organization_id, user_id, course_id, course_name,
             category_id, training_type, completion_date, hours_completed, certification_number,
             issuing_agency, expiration_date, description, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(v.course_id)
    .bind(&v.course_name)
    .bind(v.category_id)
    .bind(&v.training_type)
    .bind(v.completion_date)
    .bind(v.hours)
    .bind(&v.certification_number)
    .bind(&v.issuing_agency)
    .bind(v.expiration_date)
    .bind(&v.description)
    .bind(SubmissionStatus::PendingReview)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.submitted", "training_submission", id).changes(serde_json::json!({
            "course_name": v.course_name, "hours": v.hours, "completion_date": v.completion_date,
            "training_type": v.training_type,
        })),
    )
    .await?;
    let s = load(tx, ctx.org_id, id).await?;
    if auto {
        let notes = Some("Approved automatically");
        decide(tx, ctx, &s, SubmissionStatus::Approved, notes).await?;
        let record = make_record(tx, ctx, &s, s.hours_completed).await?;
        record_decision(tx, ctx, &s, SubmissionStatus::Approved, notes, Some(record.id)).await?;
    } else {
        let officers = notify::holders_of(tx, ctx.org_id, TRAINING_MANAGE).await?;
        let officers: Vec<Uuid> = officers.into_iter().filter(|o| *o != ctx.user_id).collect();
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &officers,
            &Notice {
                category: "training",
                subject: format!("Training to review: {} ({})", s.course_name, s.member_name),
                body: format!(
                    "{} submitted {} hours of {} completed on {}. Approve it, reject it or ask \
                     for changes.",
                    s.member_name,
                    s.hours_completed.normalize(),
                    s.course_name,
                    ctx.locale.day(s.completion_date)
                ),
                link: Some("/training/submissions".into()),
                dedupe_key: Some(format!("submission:{id}")),
            },
        )
        .await?;
    }
    load(tx, ctx.org_id, id).await
}

/// The one way a submission leaves `pending_review`: the UPDATE expects that state, so of two
/// officers deciding at once one wins and the other gets 409 before anything else is written.
/// The training record an approval makes is attached afterwards by [`record_decision`].
async fn decide(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    s: &Submission,
    status: SubmissionStatus,
    notes: Option<&str>,
) -> AppResult<()> {
    db::transition(
        tx,
        sqlx::query(
            "UPDATE training_submissions SET status = ?, reviewed_by = ?, reviewed_at = ?,
                 reviewer_notes = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(status)
        .bind(ctx.user_id)
        .bind(db::now())
        .bind(notes)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(s.id)
        .bind(SubmissionStatus::PendingReview),
        "someone else has just reviewed this submission; reload to see their decision",
    )
    .await
}

/// Links the record an approval made and writes the decision's audit entry.
async fn record_decision(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    s: &Submission,
    status: SubmissionStatus,
    notes: Option<&str>,
    record: Option<Uuid>,
) -> AppResult<()> {
    if let Some(record) = record {
        sqlx::query(
            "UPDATE training_submissions SET training_record_id = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(record)
        .bind(ctx.org_id)
        .bind(s.id)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.submission_reviewed", "training_submission", s.id).changes(
            serde_json::json!({"member": s.user_id, "status": status, "notes": notes,
                               "training_record_id": record}),
        ),
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// pending_review, approved, rejected or revision_requested.
    #[param(schema_with = SubmissionStatus::schema_object)]
    pub status: Option<String>,
    /// Only the caller's own (officers see everyone's otherwise).
    #[serde(default)]
    pub mine: bool,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

pub async fn list(ctx: &Ctx, conn: &mut Conn, q: ListQuery) -> AppResult<Page<Submission>> {
    ctx.require(TRAINING_VIEW)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let status = SubmissionStatus::parse_filter("status", q.status.as_deref())?;
    let own = q.mine || !ctx.has(TRAINING_MANAGE);
    let filter = format!(
        "s.organization_id = ?{}{}",
        if own { " AND s.user_id = ?" } else { "" },
        if status.is_some() {
            " AND s.status = ?"
        } else {
            ""
        }
    );
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM training_submissions s WHERE {filter}"
    )))
    .bind(ctx.org_id);
    let mut rows = sqlx::query_as::<_, Submission>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM training_submissions s JOIN users u ON u.id = s.user_id
          WHERE {filter} ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.org_id);
    if own {
        count = count.bind(ctx.user_id);
        rows = rows.bind(ctx.user_id);
    }
    if let Some(s) = status {
        count = count.bind(s);
        rows = rows.bind(s);
    }
    let total = count.fetch_one(&mut *conn).await?;
    let items = rows
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

/// Submissions waiting for an officer (`training.manage`).
pub async fn pending_count(ctx: &Ctx, conn: &mut Conn) -> AppResult<u64> {
    ctx.require(TRAINING_MANAGE)?;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM training_submissions
          WHERE organization_id = ? AND status = ?",
    )
    .bind(ctx.org_id)
    .bind(SubmissionStatus::PendingReview)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n as u64)
}

pub async fn find(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Submission> {
    ctx.require(TRAINING_VIEW)?;
    let s = load(conn, ctx.org_id, id).await?;
    if s.user_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::NotFound);
    }
    Ok(s)
}

/// The member changes their submission while it waits or was sent back; it is pending again.
pub async fn edit(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: SubmissionInput,
) -> AppResult<Submission> {
    ctx.require(TRAINING_VIEW)?;
    let before = load(tx, ctx.org_id, id).await?;
    if before.user_id != ctx.user_id {
        return Err(AppError::NotFound);
    }
    if !matches!(
        before.status,
        SubmissionStatus::PendingReview | SubmissionStatus::RevisionRequested
    ) {
        return Err(AppError::Conflict(format!(
            "the submission is {} and can no longer be changed",
            before.status.as_str().replace('_', " ")
        )));
    }
    let settings = settings(tx, ctx.org_id).await?;
    let v = validate(tx, ctx, input, settings.max_hours_per_submission).await?;
    // An officer may be deciding at this moment: the change holds only while the submission
    // still waits (or was sent back), never over a decision.
    db::transition(
        tx,
        sqlx::query(
            "UPDATE training_submissions SET course_id = ?, course_name = ?, category_id = ?,
             training_type = ?, completion_date = ?, hours_completed = ?,
             certification_number = ?, issuing_agency = ?, expiration_date = ?, description = ?,
             status = ?, updated_at = ?
          WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(v.course_id)
        .bind(&v.course_name)
        .bind(v.category_id)
        .bind(&v.training_type)
        .bind(v.completion_date)
        .bind(v.hours)
        .bind(&v.certification_number)
        .bind(&v.issuing_agency)
        .bind(v.expiration_date)
        .bind(&v.description)
        .bind(SubmissionStatus::PendingReview)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .bind(before.status),
        "the submission has just been reviewed; reload to see the decision",
    )
    .await?;
    let after = load(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.submission_edited", "training_submission", id)
            .changes(serde_json::json!({"before": before, "after": after})),
    )
    .await?;
    if before.status == SubmissionStatus::RevisionRequested
        && let Some(reviewer) = before.reviewed_by
    {
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &[reviewer],
            &Notice {
                category: "training",
                subject: format!(
                    "Training changed and back for review: {}",
                    after.course_name
                ),
                body: format!(
                    "{} changed the submission you sent back.",
                    after.member_name
                ),
                link: Some("/training/submissions".into()),
                dedupe_key: None,
            },
        )
        .await?;
    }
    Ok(after)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// approve, reject or request_changes.
    pub decision: String,
    /// Required to reject or ask for changes.
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
    /// Approve with these hours instead of the submitted ones.
    #[schema(value_type = Option<f64>)]
    pub hours: Option<Decimal>,
}

pub async fn review(
    notifier: &Notifier,
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: Review,
) -> AppResult<Submission> {
    ctx.require(TRAINING_MANAGE)?;
    let s = load(tx, ctx.org_id, id).await?;
    let mut c = Checks::default();
    let notes = c
        .take(optional_paragraphs("notes", input.notes, 1000))
        .flatten();
    let decision = Decision::parse(&input.decision);
    match decision {
        None => c.push("decision", Decision::must_be()),
        Some(Decision::Reject | Decision::RequestChanges) if notes.is_none() => {
            c.push("notes", "is required: say why, for the member")
        }
        Some(_) => {}
    }
    let hours_override = match input.hours {
        Some(h) => c.take(hours("hours", h, 1000)),
        None => None,
    };
    if !c.is_empty() {
        return Err(AppError::Validation(c.into_errors()));
    }
    if s.user_id == ctx.user_id {
        return Err(AppError::Forbidden(
            "another officer must review your own submission".into(),
        ));
    }
    if s.status != SubmissionStatus::PendingReview {
        return Err(AppError::Conflict(format!(
            "the submission is {}, not waiting for review",
            s.status.as_str().replace('_', " ")
        )));
    }
    let (status, subject) = match decision {
        Some(Decision::Approve) => (
            SubmissionStatus::Approved,
            format!("Training approved: {}", s.course_name),
        ),
        Some(Decision::Reject) => (
            SubmissionStatus::Rejected,
            format!("Training not approved: {}", s.course_name),
        ),
        _ => (
            SubmissionStatus::RevisionRequested,
            format!("Changes asked for: {}", s.course_name),
        ),
    };
    // The decision is claimed first: only its winner makes a record.
    decide(tx, ctx, &s, status, notes.as_deref()).await?;
    let record = match status {
        SubmissionStatus::Approved => Some(
            make_record(tx, ctx, &s, hours_override.unwrap_or(s.hours_completed))
                .await?
                .id,
        ),
        _ => None,
    };
    record_decision(tx, ctx, &s, status, notes.as_deref(), record).await?;
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &[s.user_id],
        &Notice {
            category: "training",
            subject,
            body: match &notes {
                Some(n) => format!("The training officer wrote: {n}"),
                None => "It is now in your training record.".into(),
            },
            link: Some("/training/me".into()),
            dedupe_key: None,
        },
    )
    .await?;
    load(tx, ctx.org_id, id).await
}

// ---------------------------------------------------------------------------------------------
// API

#[utoipa::path(get, path = "/api/v1/training/submissions", tag = "training", params(ListQuery),
    responses((status = 200, body = Page<Submission>), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Submission>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(list(&ctx, &mut conn, q).await?))
}

/// Submits training taken elsewhere, for review (or approved at once when the department's
/// settings say so and it credits no certification).
#[utoipa::path(post, path = "/api/v1/training/submissions", tag = "training",
    request_body = SubmissionInput,
    responses((status = 201, body = Submission), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<SubmissionInput>,
) -> AppResult<(StatusCode, Json<Submission>)> {
    let mut tx = state.db.begin().await?;
    let s = submit(&state.notifier, &ctx, &mut tx, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingCount {
    pub pending: u64,
}

#[utoipa::path(get, path = "/api/v1/training/submissions/pending-count", tag = "training",
    responses((status = 200, body = PendingCount), (status = 403, body = crate::error::Problem)))]
pub async fn api_pending_count(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<PendingCount>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(PendingCount {
        pending: pending_count(&ctx, &mut conn).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/training/submissions/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Submission), (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Submission>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(find(&ctx, &mut conn, id).await?))
}

#[utoipa::path(put, path = "/api/v1/training/submissions/{id}", tag = "training",
    params(("id" = Uuid, Path)), request_body = SubmissionInput,
    responses((status = 200, body = Submission), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_edit(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SubmissionInput>,
) -> AppResult<Json<Submission>> {
    let mut tx = state.db.begin().await?;
    let s = edit(&state.notifier, &ctx, &mut tx, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// Approve (creating the record), reject, or ask for changes.
#[utoipa::path(post, path = "/api/v1/training/submissions/{id}/review", tag = "training",
    params(("id" = Uuid, Path)), request_body = Review,
    responses((status = 200, body = Submission), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_review(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<Review>,
) -> AppResult<Json<Submission>> {
    let mut tx = state.db.begin().await?;
    let s = review(&state.notifier, &ctx, &mut tx, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}
