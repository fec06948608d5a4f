//! `/api/v1/roles`, `/api/v1/permissions` and `/api/v1/members/{id}/roles`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::service::{
    self, AssignRole, CloneRole, MemberRole, NewRole, PermissionInfo, Role, RolePatch,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::PathIds;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/permissions", get(permissions))
        .route("/api/v1/roles", get(list).post(create))
        .route("/api/v1/roles/{id}", get(read).patch(update).delete(remove))
        .route("/api/v1/roles/{id}/clone", post(clone))
        .route("/api/v1/members/{id}/roles", get(member_roles).post(assign))
        .route("/api/v1/members/{id}/roles/{role_id}", delete(unassign))
}

#[utoipa::path(get, path = "/api/v1/permissions", tag = "roles",
    responses((status = 200, body = Vec<PermissionInfo>)))]
pub async fn permissions(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<PermissionInfo>>> {
    let mut conn = state.db.acquire().await?;
    let list = service::catalogue(&ctx, &mut conn).await?;
    Ok(Json(list))
}

#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    responses((status = 200, body = Vec<Role>), (status = 403, body = crate::error::Problem)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Role>>> {
    let mut conn = state.db.acquire().await?;
    let roles = service::list(&ctx, &mut conn).await?;
    Ok(Json(roles))
}

#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, body = Role), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewRole>,
) -> AppResult<(StatusCode, Json<Role>)> {
    let mut tx = state.db.begin().await?;
    let role = service::create(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 200, body = Role), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Role>> {
    let mut conn = state.db.acquire().await?;
    let role = service::get(&ctx, &mut conn, id).await?;
    Ok(Json(role))
}

#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = Uuid, Path)),
    request_body = RolePatch,
    responses((status = 200, body = Role), (status = 409, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<RolePatch>,
) -> AppResult<Json<Role>> {
    let mut tx = state.db.begin().await?;
    let role = service::update(&ctx, &mut tx, id, patch).await?;
    tx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 409, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    service::delete(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/roles/{id}/clone", tag = "roles",
    params(("id" = Uuid, Path)), request_body = CloneRole,
    responses((status = 201, body = Role), (status = 404, body = crate::error::Problem)))]
pub async fn clone(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CloneRole>,
) -> AppResult<(StatusCode, Json<Role>)> {
    let mut tx = state.db.begin().await?;
    let role = service::clone(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(get, path = "/api/v1/members/{id}/roles", tag = "roles",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MemberRole>), (status = 404, body = crate::error::Problem)))]
pub async fn member_roles(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<MemberRole>>> {
    let mut conn = state.db.acquire().await?;
    let roles = service::member_roles(&ctx, &mut conn, id).await?;
    Ok(Json(roles))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/roles", tag = "roles",
    params(("id" = Uuid, Path)), request_body = AssignRole,
    responses((status = 200, body = Vec<MemberRole>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AssignRole>,
) -> AppResult<Json<Vec<MemberRole>>> {
    let mut tx = state.db.begin().await?;
    let roles = service::assign(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(roles))
}

#[utoipa::path(delete, path = "/api/v1/members/{id}/roles/{role_id}", tag = "roles",
    params(("id" = Uuid, Path), ("role_id" = Uuid, Path)),
    responses((status = 200, body = Vec<MemberRole>), (status = 409, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn unassign(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, role_id): PathIds,
) -> AppResult<Json<Vec<MemberRole>>> {
    let mut tx = state.db.begin().await?;
    let roles = service::unassign(&ctx, &mut tx, id, role_id).await?;
    tx.commit().await?;
    Ok(Json(roles))
}
