//! `/api/v1/members`: thin JSON handlers over `service`.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::invitations::{self, CodesRequest, InvitationSent, PrintedCode, Waiting};
use super::service::{
    self, ListQuery, Member, MemberPatch, NewMember, PasswordReset, StatusChange,
};
use crate::auth::Ctx;
use crate::csv::ImportQuery;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, ApiText, Page};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/members", get(list).post(create))
        .route("/api/v1/members/export", get(export))
        .route(
            "/api/v1/members/import",
            post(import).layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        .route("/api/v1/members/{id}", get(read).patch(update))
        .route("/api/v1/members/{id}/status", post(change_status))
        .route("/api/v1/members/{id}/password-reset", post(reset_password))
        .route(
            "/api/v1/members/{id}/invitation",
            get(read_invitation).post(invite).delete(revoke_invitation),
        )
        .route("/api/v1/members/invitation-codes", post(print_codes))
}

#[utoipa::path(get, path = "/api/v1/members/{id}/invitation", tag = "members",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Waiting, description = "The invitation waiting to be used, if any"),
        (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn read_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Waiting>> {
    ctx.require(crate::auth::permissions::MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    service::get(&ctx, &mut conn, id).await?;
    let waiting = invitations::outstanding(&mut conn, ctx.org_id, id).await?;
    Ok(Json(Waiting { waiting }))
}

/// Emails the member a link to choose a password (valid 7 days, single use); any earlier
/// invitation of theirs stops working.
#[utoipa::path(post, path = "/api/v1/members/{id}/invitation", tag = "members",
    params(("id" = Uuid, Path)),
    responses((status = 201, body = InvitationSent), (status = 409, body = crate::error::Problem,
            description = "Email is not set up, or the member cannot sign in"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn invite(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<(StatusCode, Json<InvitationSent>)> {
    let mut tx = state.db.begin().await?;
    let sent = invitations::send(&ctx, &mut tx, &state.config.public_url, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

#[utoipa::path(delete, path = "/api/v1/members/{id}/invitation", tag = "members",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The invitation's code no longer works"),
        (status = 409, body = crate::error::Problem, description = "No invitation waiting"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    invitations::revoke(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One-time sign-in codes for a printed sheet, for members without email. The codes are in
/// this answer only (they are stored hashed); each replaces the member's earlier invitation.
#[utoipa::path(post, path = "/api/v1/members/invitation-codes", tag = "members",
    request_body = CodesRequest,
    responses((status = 201, body = Vec<PrintedCode>), (status = 422, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "A member cannot sign in"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn print_codes(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<CodesRequest>,
) -> AppResult<Response> {
    let mut tx = state.db.begin().await?;
    let sheet = invitations::print(&ctx, &mut tx, &input.member_ids).await?;
    tx.commit().await?;
    let mut res = (StatusCode::CREATED, Json(sheet)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(ListQuery),
    responses((status = 200, body = Page<Member>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Member>>> {
    let mut conn = state.db.acquire().await?;
    let page = service::list(&ctx, &mut conn, q).await?;
    Ok(Json(page))
}

#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = NewMember,
    responses((status = 201, body = Member), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<NewMember>,
) -> AppResult<(StatusCode, Json<Member>)> {
    let mut tx = state.db.begin().await?;
    let member = service::create(&ctx, &mut tx, &state.hasher, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Member>> {
    let mut conn = state.db.acquire().await?;
    let member = service::get(&ctx, &mut conn, id).await?;
    Ok(Json(member))
}

#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", params(("id" = Uuid, Path)),
    request_body = MemberPatch,
    responses((status = 200, body = Member), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<MemberPatch>,
) -> AppResult<Json<Member>> {
    let mut tx = state.db.begin().await?;
    let member = service::update(&ctx, &mut tx, id, patch).await?;
    tx.commit().await?;
    Ok(Json(member))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/status", tag = "members",
    params(("id" = Uuid, Path)), request_body = StatusChange,
    responses((status = 200, body = Member), (status = 422, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn change_status(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<StatusChange>,
) -> AppResult<Json<Member>> {
    let mut tx = state.db.begin().await?;
    let member = service::change_status(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(member))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/password-reset", tag = "members",
    params(("id" = Uuid, Path)), request_body = PasswordReset,
    responses((status = 204), (status = 422, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<PasswordReset>,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    service::reset_password(&ctx, &mut tx, &state.hasher, id, input).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/members/import", tag = "members", params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "Header line with columns from: username, email, first_name, last_name, membership_number, rank, station, phone, hire_date, status, emergency_contact_name, emergency_contact_phone, emergency_contact_relationship"),
    responses((status = 200, body = crate::csv::ImportReport<service::ImportPreviewRow>,
        description = "Dry run, or import done. With dry_run=false and any row error, the answer is 422 with the same report and nothing is imported."),
        (status = 422, body = crate::csv::ImportReport<service::ImportPreviewRow>)))]
pub async fn import(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiText(body): ApiText,
) -> AppResult<Response> {
    let dry_run = q.dry_run.unwrap_or(true);
    let mut tx = state.db.begin().await?;
    let report = service::import_csv(&ctx, &mut tx, &body, dry_run).await?;
    report.settle(tx).await?;
    Ok((report.api_status(), Json(report)).into_response())
}

#[utoipa::path(get, path = "/api/v1/members/export", tag = "members",
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 403, body = crate::error::Problem)))]
pub async fn export(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let mut tx = state.db.begin().await?;
    let csv = service::export_csv(&ctx, &mut tx).await?;
    tx.commit().await?;
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"members.csv\""),
    );
    Ok(response)
}
