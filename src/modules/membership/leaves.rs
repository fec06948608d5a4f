//! Leaves of absence (`reference/features.md` §1.4, `members.manage`, routes `/api/v1/leaves`),
//! kept in step with training waivers: granting a leave (unless it is exempt from the training
//! waiver) makes a waiver with the same type and dates, linked both ways; editing the leave moves
//! the waiver; marking it exempt deactivates the waiver and clears the link, unmarking it makes a
//! new one; removing the leave deactivates its waiver. A leave that simply ends keeps its waiver,
//! with the same dates, so the months it covered stay waived. The waiver side is training's
//! (`training::waivers`, "Waivers that follow a leave"), called in the leave's transaction.

use crate::auth::OrgId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{ApiJson, ApiQuery, double_option};
use crate::input::{Checks, optional_text};
use crate::modules::training::waivers::{self, LeaveTerms};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leaves", get(api_leaves).post(api_create_leave))
        .route(
            "/api/v1/leaves/{id}",
            get(api_leave)
                .patch(api_update_leave)
                .delete(api_remove_leave),
        )
}

/// A leave's kinds: each is also a waiver type, so its waiver can carry it.
pub const LEAVE_TYPES: &[&str] = &[
    "leave_of_absence",
    "medical",
    "military",
    "personal",
    "administrative",
    "parental",
    "other",
];

pub fn leave_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(LEAVE_TYPES)
}

// ---------------------------------------------------------------------------------------------
// Leaves

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Leave {
    pub id: Uuid,
    pub user_id: Uuid,
    pub leave_type: String,
    pub reason: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTime<Utc>,
    /// False once removed.
    pub active: bool,
    /// The leave does not waive training (nothing is pro-rated for it).
    pub exempt_from_training_waiver: bool,
    pub linked_training_waiver_id: Option<Uuid>,
}

const LEAVE_COLUMNS: &str = "id, user_id, leave_type, reason, start_date, end_date, granted_by, \
     granted_at, active, exempt_from_training_waiver, linked_training_waiver_id";

async fn lock_leave(tx: &mut Tx<'_>, org_id: OrgId, id: Uuid) -> AppResult<()> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM member_leaves_of_absence WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(())
}

async fn leave(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Leave> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LEAVE_COLUMNS} FROM member_leaves_of_absence WHERE organization_id = ? AND id = ?"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LeaveQuery {
    pub user_id: Option<Uuid>,
    /// Include removed ones.
    #[serde(default)]
    pub all: bool,
}

pub async fn leaves(ctx: &Ctx, conn: &mut Conn, q: LeaveQuery) -> AppResult<Vec<Leave>> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LEAVE_COLUMNS} FROM member_leaves_of_absence WHERE organization_id = ? {} {}
          ORDER BY start_date DESC, id",
        if q.user_id.is_some() {
            "AND user_id = ?"
        } else {
            ""
        },
        if q.all { "" } else { "AND active" }
    )))
    .bind(ctx.org_id);
    if let Some(u) = q.user_id {
        query = query.bind(u);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

pub async fn get_leave(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Leave> {
    ctx.require(MEMBERS_MANAGE)?;
    leave(conn, ctx.org_id, id).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLeave {
    pub user_id: Uuid,
    #[schema(schema_with = crate::modules::membership::leaves::leave_type_schema)]
    pub leave_type: String,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    pub start_date: NaiveDate,
    /// None: until further notice.
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub exempt_from_training_waiver: bool,
}

fn leave_type(c: &mut Checks, t: &str) {
    if !LEAVE_TYPES.contains(&t) {
        c.push(
            "leave_type",
            format!("must be one of {}", LEAVE_TYPES.join(", ")),
        );
    }
}

fn terms(l: &Leave) -> LeaveTerms<'_> {
    LeaveTerms {
        leave_id: l.id,
        user_id: l.user_id,
        leave_type: &l.leave_type,
        reason: l.reason.as_deref(),
        start_date: l.start_date,
        end_date: l.end_date,
    }
}

/// Makes the leave's waiver and links it.
async fn link_new_waiver(tx: &mut Tx<'_>, ctx: &Ctx, l: &Leave) -> AppResult<()> {
    let waiver_id = waivers::waive_for_leave(tx, ctx, &terms(l)).await?;
    sqlx::query(
        "UPDATE member_leaves_of_absence SET linked_training_waiver_id = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(waiver_id)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(l.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn create_leave(ctx: &Ctx, tx: &mut Tx<'_>, input: NewLeave) -> AppResult<Leave> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut c = Checks::default();
    leave_type(&mut c, &input.leave_type);
    let reason = c.take(optional_text("reason", input.reason, 500)).flatten();
    waivers::check_dates(&mut c, input.start_date, input.end_date);
    if !c.is_empty() {
        return Err(AppError::Validation(c.into_errors()));
    }
    if !db::exists(tx, "users", ctx.org_id, input.user_id).await? {
        return Err(AppError::field(
            "user_id",
            "is not a member of this department",
        ));
    }
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO member_leaves_of_absence (id, organization_id, user_id, leave_type, reason,
             start_date, end_date, granted_by, granted_at, active, exempt_from_training_waiver,
             created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(input.user_id)
    .bind(&input.leave_type)
    .bind(&reason)
    .bind(input.start_date)
    .bind(input.end_date)
    .bind(ctx.user_id)
    .bind(now)
    .bind(input.exempt_from_training_waiver)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let l = leave(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.leave_created", "leave", id)
            .changes(serde_json::to_value(&l).map_err(anyhow::Error::new)?),
    )
    .await?;
    if !l.exempt_from_training_waiver {
        link_new_waiver(tx, ctx, &l).await?;
    }
    leave(tx, ctx.org_id, id).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeavePatch {
    #[schema(schema_with = crate::modules::membership::leaves::leave_type_schema)]
    pub leave_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<Option<String>>,
    pub start_date: Option<NaiveDate>,
    /// null: until further notice.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub end_date: Option<Option<NaiveDate>>,
    pub exempt_from_training_waiver: Option<bool>,
}

/// Changes a leave and keeps its waiver in step.
pub async fn update_leave(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    patch: LeavePatch,
) -> AppResult<Leave> {
    ctx.require(MEMBERS_MANAGE)?;
    // Two officers editing one leave at once would each add or drop its waiver: one at a time.
    lock_leave(tx, ctx.org_id, id).await?;
    let before = leave(tx, ctx.org_id, id).await?;
    if !before.active {
        return Err(AppError::Conflict("the leave has been removed".into()));
    }
    let mut c = Checks::default();
    let leave_type_new = patch.leave_type.unwrap_or(before.leave_type.clone());
    leave_type(&mut c, &leave_type_new);
    let reason = match patch.reason {
        Some(r) => c.take(optional_text("reason", r, 500)).flatten(),
        None => before.reason.clone(),
    };
    let start = patch.start_date.unwrap_or(before.start_date);
    let end = patch.end_date.unwrap_or(before.end_date);
    waivers::check_dates(&mut c, start, end);
    if !c.is_empty() {
        return Err(AppError::Validation(c.into_errors()));
    }
    let exempt = patch
        .exempt_from_training_waiver
        .unwrap_or(before.exempt_from_training_waiver);
    sqlx::query(
        "UPDATE member_leaves_of_absence SET leave_type = ?, reason = ?, start_date = ?,
             end_date = ?, exempt_from_training_waiver = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&leave_type_new)
    .bind(&reason)
    .bind(start)
    .bind(end)
    .bind(exempt)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let after = leave(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.leave_updated", "leave", id)
            .changes(serde_json::json!({"before": before, "after": after})),
    )
    .await?;
    match (before.linked_training_waiver_id, exempt) {
        // Exempt now: the waiver goes, the link is cleared.
        (Some(w), true) => {
            waivers::end_leave_waiver(tx, ctx, w, "the leave was marked exempt").await?;
            sqlx::query(
                "UPDATE member_leaves_of_absence SET linked_training_waiver_id = NULL
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(ctx.org_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        // Not exempt any more: a new waiver.
        (None, false) => link_new_waiver(tx, ctx, &after).await?,
        // The waiver follows the leave's type, reason and dates.
        (Some(w), false) => waivers::follow_leave(tx, ctx, w, &terms(&after)).await?,
        (None, true) => {}
    }
    leave(tx, ctx.org_id, id).await
}

/// Removes a leave (kept, inactive) and deactivates its waiver.
pub async fn remove_leave(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
    ctx.require(MEMBERS_MANAGE)?;
    let before = leave(tx, ctx.org_id, id).await?;
    if !before.active {
        return Err(AppError::Conflict(
            "the leave has already been removed".into(),
        ));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE member_leaves_of_absence SET active = FALSE, updated_at = ?
              WHERE organization_id = ? AND id = ? AND active",
        )
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id),
        "the leave has just been removed by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.leave_removed", "leave", id)
            .changes(serde_json::to_value(&before).map_err(anyhow::Error::new)?),
    )
    .await?;
    if let Some(w) = before.linked_training_waiver_id {
        waivers::end_leave_waiver(tx, ctx, w, "the leave was removed").await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// API

#[utoipa::path(get, path = "/api/v1/leaves", tag = "members", params(LeaveQuery),
    responses((status = 200, body = Vec<Leave>), (status = 403, body = crate::error::Problem)))]
pub async fn api_leaves(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<LeaveQuery>,
) -> AppResult<Json<Vec<Leave>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(leaves(&ctx, &mut conn, q).await?))
}

/// Grants a leave of absence; unless it is exempt, a training waiver with the same dates is
/// made and linked.
#[utoipa::path(post, path = "/api/v1/leaves", tag = "members", request_body = NewLeave,
    responses((status = 201, body = Leave), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create_leave(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewLeave>,
) -> AppResult<(StatusCode, Json<Leave>)> {
    let mut tx = state.db.begin().await?;
    let l = create_leave(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(l)))
}

#[utoipa::path(get, path = "/api/v1/leaves/{id}", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, body = Leave), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn api_leave(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Leave>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(get_leave(&ctx, &mut conn, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/leaves/{id}", tag = "members", params(("id" = Uuid, Path)),
    request_body = LeavePatch,
    responses((status = 200, body = Leave), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_update_leave(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<LeavePatch>,
) -> AppResult<Json<Leave>> {
    let mut tx = state.db.begin().await?;
    let l = update_leave(&ctx, &mut tx, id, patch).await?;
    tx.commit().await?;
    Ok(Json(l))
}

#[utoipa::path(delete, path = "/api/v1/leaves/{id}", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_remove_leave(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    remove_leave(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_leave_type_is_a_waiver_type() {
        for t in super::LEAVE_TYPES {
            assert!(
                crate::modules::training::waivers::WAIVER_TYPES.contains(t),
                "{t} is not a waiver type"
            );
        }
    }
}
