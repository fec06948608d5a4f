//! Training waivers (`reference/features.md` §1.4), granted by hand (`training.manage`, routes
//! `/api/v1/training/waivers`) or kept in step with a leave of absence: membership owns the
//! leaves and calls the three functions under "Waivers that follow a leave" (make, follow, end);
//! training never imports membership. A leave's waiver can only be changed through its leave.

use crate::auth::OrgId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{ApiJson, ApiQuery};
use crate::input::{Checks, optional_text};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/training/waivers",
            get(api_waivers).post(api_create_waiver),
        )
        .route(
            "/api/v1/training/waivers/{id}/deactivate",
            post(api_deactivate_waiver),
        )
}

pub const WAIVER_TYPES: &[&str] = &[
    "leave_of_absence",
    "medical",
    "military",
    "personal",
    "administrative",
    "parental",
    "new_member",
    "other",
];

pub fn waiver_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(WAIVER_TYPES)
}

// ---------------------------------------------------------------------------------------------
// Waivers

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TrainingWaiver {
    pub id: Uuid,
    pub user_id: Uuid,
    pub waiver_type: String,
    pub reason: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    /// False: only `requirement_ids`.
    pub all_requirements: bool,
    #[sqlx(skip)]
    pub requirement_ids: Vec<Uuid>,
    /// The leave of absence it belongs to (change that leave to change it).
    pub leave_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const WAIVER_COLUMNS: &str = "id, user_id, waiver_type, reason, start_date, end_date, \
     all_requirements, leave_id, active, created_at";

async fn waiver(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<TrainingWaiver> {
    let mut w: TrainingWaiver = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WAIVER_COLUMNS} FROM training_waivers WHERE organization_id = ? AND id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    w.requirement_ids = sqlx::query_scalar(
        "SELECT requirement_id FROM training_waiver_requirements
          WHERE organization_id = ? AND waiver_id = ?",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(w)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WaiverQuery {
    /// One member's (members without `training.manage`: their own only).
    pub user_id: Option<Uuid>,
    /// Include deactivated ones.
    #[serde(default)]
    pub all: bool,
}

pub async fn waivers(ctx: &Ctx, conn: &mut Conn, q: WaiverQuery) -> AppResult<Vec<TrainingWaiver>> {
    let user = super::service::whose(ctx, q.user_id)?;
    let mut query = sqlx::query_as::<_, TrainingWaiver>(sqlx::AssertSqlSafe(format!(
        "SELECT {WAIVER_COLUMNS} FROM training_waivers WHERE organization_id = ? {} {}
          ORDER BY start_date DESC, id",
        if user.is_some() {
            "AND user_id = ?"
        } else {
            ""
        },
        if q.all { "" } else { "AND active" }
    )))
    .bind(ctx.org_id);
    if let Some(u) = user {
        query = query.bind(u);
    }
    let mut out = query.fetch_all(&mut *conn).await?;
    // The targeted requirements of all of them in one query.
    let links: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT waiver_id, requirement_id FROM training_waiver_requirements
          WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    for w in &mut out {
        w.requirement_ids = links
            .iter()
            .filter(|(waiver, _)| *waiver == w.id)
            .map(|(_, r)| *r)
            .collect();
    }
    Ok(out)
}

/// A waiver as the officers' list shows it: with the member's name and the names of the
/// requirements it waives (empty: all of them).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedWaiver {
    pub id: Uuid,
    pub user_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub waiver_type: String,
    pub reason: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub all_requirements: bool,
    pub leave_id: Option<Uuid>,
    pub active: bool,
    #[sqlx(skip)]
    pub requirements: Vec<String>,
}

#[derive(Debug, Default)]
pub struct WaiverListQuery {
    /// Part of the member's name or username.
    pub q: Option<String>,
    /// None: active and inactive.
    pub active: Option<bool>,
    pub page: u32,
    pub per_page: u32,
}

/// The department's waivers, newest start first, a page at a time (`training.manage`).
pub async fn list_waivers(
    ctx: &Ctx,
    conn: &mut Conn,
    q: WaiverListQuery,
) -> AppResult<crate::http::Page<ListedWaiver>> {
    ctx.require(TRAINING_MANAGE)?;
    let term =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(crate::http::like_pattern);
    let mut filter = String::from("w.organization_id = ?");
    if let Some(active) = q.active {
        filter.push_str(if active {
            " AND w.active"
        } else {
            " AND NOT w.active"
        });
    }
    if term.is_some() {
        filter.push_str(" AND CONCAT_WS(' ', u.first_name, u.last_name, u.username) LIKE ?");
    }
    let from = "training_waivers w JOIN users u
                ON u.organization_id = w.organization_id AND u.id = w.user_id";
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {from} WHERE {filter}"
    )))
    .bind(ctx.org_id);
    if let Some(t) = &term {
        count = count.bind(t);
    }
    let total = count.fetch_one(&mut *conn).await?;
    let per_page = q.per_page.clamp(1, crate::http::MAX_PER_PAGE);
    let page = q.page.max(1);
    let mut list = sqlx::query_as::<_, ListedWaiver>(sqlx::AssertSqlSafe(format!(
        "SELECT w.id, w.user_id, u.first_name, u.last_name, w.waiver_type, w.reason,
                w.start_date, w.end_date, w.all_requirements, w.leave_id, w.active
           FROM {from} WHERE {filter}
          ORDER BY w.active DESC, w.start_date DESC, w.id DESC LIMIT ? OFFSET ?"
    )))
    .bind(ctx.org_id);
    if let Some(t) = &term {
        list = list.bind(t);
    }
    let mut items = list
        .bind(per_page)
        .bind(u64::from(page - 1) * u64::from(per_page))
        .fetch_all(&mut *conn)
        .await?;
    // The requirement names of the page's targeted waivers in one query.
    let targeted: Vec<Uuid> = items
        .iter()
        .filter(|w| !w.all_requirements)
        .map(|w| w.id)
        .collect();
    if !targeted.is_empty() {
        let marks = vec!["?"; targeted.len()].join(", ");
        let mut query = sqlx::query_as::<_, (Uuid, String)>(sqlx::AssertSqlSafe(format!(
            "SELECT l.waiver_id, r.name FROM training_waiver_requirements l
               JOIN training_requirements r
                 ON r.organization_id = l.organization_id AND r.id = l.requirement_id
              WHERE l.organization_id = ? AND l.waiver_id IN ({marks})
              ORDER BY r.name"
        )))
        .bind(ctx.org_id);
        for id in &targeted {
            query = query.bind(id);
        }
        let names = query.fetch_all(&mut *conn).await?;
        for w in &mut items {
            w.requirements = names
                .iter()
                .filter(|(id, _)| *id == w.id)
                .map(|(_, n)| n.clone())
                .collect();
        }
    }
    Ok(crate::http::Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

/// One waiver as the list shows it (another department's: not found).
pub async fn listed_waiver(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<ListedWaiver> {
    ctx.require(TRAINING_MANAGE)?;
    let w = waiver(conn, ctx.org_id, id).await?;
    let (first_name, last_name): (String, String) = sqlx::query_as(
        "SELECT first_name, last_name FROM users WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(w.user_id)
    .fetch_one(&mut *conn)
    .await?;
    let requirements: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM training_waiver_requirements l
           JOIN training_requirements r
             ON r.organization_id = l.organization_id AND r.id = l.requirement_id
          WHERE l.organization_id = ? AND l.waiver_id = ?
          ORDER BY r.name",
    )
    .bind(ctx.org_id)
    .bind(w.id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ListedWaiver {
        id: w.id,
        user_id: w.user_id,
        first_name,
        last_name,
        waiver_type: w.waiver_type,
        reason: w.reason,
        start_date: w.start_date,
        end_date: w.end_date,
        all_requirements: w.all_requirements,
        leave_id: w.leave_id,
        active: w.active,
        requirements,
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWaiver {
    pub user_id: Uuid,
    #[schema(schema_with = crate::modules::training::waivers::waiver_type_schema)]
    pub waiver_type: String,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    pub start_date: NaiveDate,
    /// None: until further notice.
    pub end_date: Option<NaiveDate>,
    /// None or empty: every requirement.
    #[serde(default)]
    pub requirement_ids: Vec<Uuid>,
}

pub fn check_dates(c: &mut Checks, start: NaiveDate, end: Option<NaiveDate>) {
    if end.is_some_and(|e| e < start) {
        c.push("end_date", "must not be before the start date");
    }
}

/// Inserts a waiver (checked already) and audits it.
#[allow(clippy::too_many_arguments)]
async fn insert_waiver(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    user: Uuid,
    waiver_type: &str,
    reason: Option<&str>,
    start: NaiveDate,
    end: Option<NaiveDate>,
    requirement_ids: &[Uuid],
    leave: Option<Uuid>,
) -> AppResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO training_waivers (id, organization_id, user_id, waiver_type, reason,
             start_date, end_date, all_requirements, leave_id, granted_by, active, created_at,
             updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(user)
    .bind(waiver_type)
    .bind(reason)
    .bind(start)
    .bind(end)
    .bind(requirement_ids.is_empty())
    .bind(leave)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for r in requirement_ids {
        sqlx::query(
            "INSERT INTO training_waiver_requirements (waiver_id, requirement_id, organization_id)
             VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(r)
        .bind(ctx.org_id)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.waiver_created", "training_waiver", id).changes(serde_json::json!({
            "member": user, "waiver_type": waiver_type, "reason": reason,
            "start_date": start, "end_date": end, "requirement_ids": requirement_ids,
            "leave_id": leave,
        })),
    )
    .await?;
    Ok(id)
}

pub async fn create_waiver(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: NewWaiver,
) -> AppResult<TrainingWaiver> {
    ctx.require(TRAINING_MANAGE)?;
    let mut c = Checks::default();
    if !WAIVER_TYPES.contains(&input.waiver_type.as_str()) {
        c.push(
            "waiver_type",
            format!("must be one of {}", WAIVER_TYPES.join(", ")),
        );
    }
    let reason = c.take(optional_text("reason", input.reason, 500)).flatten();
    check_dates(&mut c, input.start_date, input.end_date);
    if !c.is_empty() {
        return Err(AppError::Validation(c.into_errors()));
    }
    if !db::exists(tx, "users", ctx.org_id, input.user_id).await? {
        return Err(AppError::field(
            "user_id",
            "is not a member of this department",
        ));
    }
    for r in &input.requirement_ids {
        if !db::exists(tx, "training_requirements", ctx.org_id, *r).await? {
            return Err(AppError::field(
                "requirement_ids",
                "names a requirement that is not this department's",
            ));
        }
    }
    let id = insert_waiver(
        tx,
        ctx,
        input.user_id,
        &input.waiver_type,
        reason.as_deref(),
        input.start_date,
        input.end_date,
        &input.requirement_ids,
        None,
    )
    .await?;
    waiver(tx, ctx.org_id, id).await
}

async fn set_waiver_active(tx: &mut Tx<'_>, ctx: &Ctx, id: Uuid, why: &str) -> AppResult<()> {
    db::transition(
        tx,
        sqlx::query(
            "UPDATE training_waivers SET active = FALSE, updated_at = ?
              WHERE organization_id = ? AND id = ? AND active",
        )
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id),
        "the waiver has just been deactivated by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.waiver_deactivated", "training_waiver", id)
            .changes(serde_json::json!({"reason": why})),
    )
    .await
}

/// Deactivates a waiver made by hand (a leave's waiver follows its leave: change the leave).
pub async fn deactivate_waiver(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<TrainingWaiver> {
    ctx.require(TRAINING_MANAGE)?;
    let w = waiver(tx, ctx.org_id, id).await?;
    if w.leave_id.is_some() {
        return Err(AppError::Conflict(
            "this waiver belongs to a leave of absence: change or remove the leave instead".into(),
        ));
    }
    if !w.active {
        return Err(AppError::Conflict("the waiver is already inactive".into()));
    }
    set_waiver_active(tx, ctx, id, "deactivated").await?;
    waiver(tx, ctx.org_id, id).await
}

// ---------------------------------------------------------------------------------------------
// Waivers that follow a leave (membership's leaves call these in their own transaction)

/// What a leave of absence gives its waiver: the same member, type, reason and dates.
pub struct LeaveTerms<'a> {
    pub leave_id: Uuid,
    pub user_id: Uuid,
    pub leave_type: &'a str,
    pub reason: Option<&'a str>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

/// The waiver's reason: the leave's, after a prefix, cut to the 500 characters a waiver's reason
/// holds (a leave's own reason may use all 500).
fn waiver_reason(reason: Option<&str>) -> String {
    const PREFIX: &str = "Auto-created from leave of absence";
    match reason {
        Some(r) => {
            let full = format!("{PREFIX}: {r}");
            if full.chars().count() <= 500 {
                full
            } else {
                let mut cut: String = full.chars().take(499).collect();
                cut.push('…');
                cut
            }
        }
        None => PREFIX.into(),
    }
}

/// Makes the waiver for a leave (waiving every requirement) and returns its id.
pub async fn waive_for_leave(tx: &mut Tx<'_>, ctx: &Ctx, l: &LeaveTerms<'_>) -> AppResult<Uuid> {
    insert_waiver(
        tx,
        ctx,
        l.user_id,
        l.leave_type,
        Some(&waiver_reason(l.reason)),
        l.start_date,
        l.end_date,
        &[],
        Some(l.leave_id),
    )
    .await
}

/// Moves a leave's waiver to the leave's type, reason and dates.
pub async fn follow_leave(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    waiver_id: Uuid,
    l: &LeaveTerms<'_>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE training_waivers SET waiver_type = ?, reason = ?, start_date = ?,
             end_date = ?, updated_at = ?
          WHERE organization_id = ? AND id = ? AND leave_id = ?",
    )
    .bind(l.leave_type)
    .bind(waiver_reason(l.reason))
    .bind(l.start_date)
    .bind(l.end_date)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(waiver_id)
    .bind(l.leave_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("training.waiver_updated", "training_waiver", waiver_id).changes(
            serde_json::json!({"start_date": l.start_date, "end_date": l.end_date,
                               "waiver_type": l.leave_type, "leave_id": l.leave_id}),
        ),
    )
    .await
}

/// Deactivates a leave's waiver (the leave was removed or marked exempt: `why` says which).
pub async fn end_leave_waiver(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    waiver_id: Uuid,
    why: &str,
) -> AppResult<()> {
    set_waiver_active(tx, ctx, waiver_id, why).await
}

#[cfg(test)]
mod tests {
    use super::waiver_reason;

    #[test]
    fn a_leaves_longest_reason_still_fits_its_waiver() {
        let long = "x".repeat(500);
        let reason = waiver_reason(Some(&long));
        assert_eq!(reason.chars().count(), 500);
        assert!(reason.starts_with("Auto-created from leave of absence: xxx"));
        assert!(reason.ends_with('…'));
        assert_eq!(
            waiver_reason(Some("Deployment")),
            "Auto-created from leave of absence: Deployment"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// API

#[utoipa::path(get, path = "/api/v1/training/waivers", tag = "training", params(WaiverQuery),
    responses((status = 200, body = Vec<TrainingWaiver>), (status = 403, body = crate::error::Problem)))]
pub async fn api_waivers(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<WaiverQuery>,
) -> AppResult<Json<Vec<TrainingWaiver>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(waivers(&ctx, &mut conn, q).await?))
}

#[utoipa::path(post, path = "/api/v1/training/waivers", tag = "training", request_body = NewWaiver,
    responses((status = 201, body = TrainingWaiver), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create_waiver(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewWaiver>,
) -> AppResult<(StatusCode, Json<TrainingWaiver>)> {
    let mut tx = state.db.begin().await?;
    let w = create_waiver(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(w)))
}

#[utoipa::path(post, path = "/api/v1/training/waivers/{id}/deactivate", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TrainingWaiver), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_deactivate_waiver(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<TrainingWaiver>> {
    let mut tx = state.db.begin().await?;
    let w = deactivate_waiver(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(w))
}
