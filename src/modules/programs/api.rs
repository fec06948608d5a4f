//! `/api/v1/training/programs`, `/api/v1/training/enrollments` and
//! `/api/v1/training/shift-reports`: thin JSON handlers over `service` and `shift_reports`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::service::{
    self, AdvanceInput, EnrollInput, Enrollment, EnrollmentDetail, EnrollmentQuery, ItemAction,
    ItemInput, PhaseInput, Program, ProgramInput, WithdrawInput,
};
use super::shift_reports::{self, ListQuery, ReviewInput, ShiftReport, ShiftReportInput};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::PathId;
use crate::web::PathIds;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/training/programs",
            get(api_programs).post(api_create_program),
        )
        .route(
            "/api/v1/training/programs/{id}",
            get(api_program).put(api_update_program),
        )
        .route("/api/v1/training/programs/{id}/phases", post(api_add_phase))
        .route("/api/v1/training/programs/{id}/items", post(api_add_item))
        .route(
            "/api/v1/training/programs/{id}/items/{item}",
            delete(api_remove_item),
        )
        .route(
            "/api/v1/training/programs/{id}/enrollments",
            post(api_enroll),
        )
        .route("/api/v1/training/enrollments", get(api_enrollments))
        .route("/api/v1/training/enrollments/{id}", get(api_enrollment))
        .route(
            "/api/v1/training/enrollments/{id}/advance",
            post(api_advance),
        )
        .route(
            "/api/v1/training/enrollments/{id}/withdraw",
            post(api_withdraw),
        )
        .route(
            "/api/v1/training/enrollments/{id}/items/{item}",
            post(api_item),
        )
        .route(
            "/api/v1/training/shift-reports",
            get(api_list).post(api_create),
        )
        .route(
            "/api/v1/training/shift-reports/{id}",
            get(api_get).put(api_update),
        )
        .route(
            "/api/v1/training/shift-reports/{id}/review",
            post(api_review),
        )
        .route(
            "/api/v1/training/shift-reports/{id}/acknowledge",
            post(api_acknowledge),
        )
}

#[utoipa::path(get, path = "/api/v1/training/programs", tag = "training",
    responses((status = 200, body = Vec<Program>), (status = 403, body = crate::error::Problem)))]
pub async fn api_programs(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Program>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::programs(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/training/programs", tag = "training", request_body = ProgramInput,
    responses((status = 201, body = Program), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create_program(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<ProgramInput>,
) -> AppResult<(StatusCode, Json<Program>)> {
    let mut tx = state.db.begin().await?;
    let p = service::create_program(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/api/v1/training/programs/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Program), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn api_program(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Program>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::program(&ctx, &mut conn, id).await?))
}

#[utoipa::path(put, path = "/api/v1/training/programs/{id}", tag = "training",
    params(("id" = Uuid, Path)), request_body = ProgramInput,
    responses((status = 200, body = Program), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_update_program(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ProgramInput>,
) -> AppResult<Json<Program>> {
    let mut tx = state.db.begin().await?;
    let p = service::update_program(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Adds a phase after the last one.
#[utoipa::path(post, path = "/api/v1/training/programs/{id}/phases", tag = "training",
    params(("id" = Uuid, Path)), request_body = PhaseInput,
    responses((status = 201, body = Program), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_add_phase(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<PhaseInput>,
) -> AppResult<(StatusCode, Json<Program>)> {
    let mut tx = state.db.begin().await?;
    let p = service::add_phase(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Adds an item to a phase; members enrolled get it at once.
#[utoipa::path(post, path = "/api/v1/training/programs/{id}/items", tag = "training",
    params(("id" = Uuid, Path)), request_body = ItemInput,
    responses((status = 201, body = Program), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_add_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ItemInput>,
) -> AppResult<(StatusCode, Json<Program>)> {
    let mut tx = state.db.begin().await?;
    let p = service::add_item(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Removes an item nobody has progress on.
#[utoipa::path(delete, path = "/api/v1/training/programs/{id}/items/{item}", tag = "training",
    params(("id" = Uuid, Path), ("item" = Uuid, Path)),
    responses((status = 200, body = Program), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_remove_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, item): PathIds,
) -> AppResult<Json<Program>> {
    let mut tx = state.db.begin().await?;
    let p = service::remove_item(&ctx, &mut tx, id, item).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Enrolls a member (one enrollment at a time per program); credit for what they have done
/// already is applied at once.
#[utoipa::path(post, path = "/api/v1/training/programs/{id}/enrollments", tag = "training",
    params(("id" = Uuid, Path)), request_body = EnrollInput,
    responses((status = 201, body = EnrollmentDetail), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_enroll(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<EnrollInput>,
) -> AppResult<(StatusCode, Json<EnrollmentDetail>)> {
    let mut tx = state.db.begin().await?;
    let e = service::enroll(&state.notifier, &ctx, &mut tx, id, input).await?;
    // The member's notice goes out now, not at the sender's next round.
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// Enrollments: the caller's own, or (with `training.manage`) anyone's.
#[utoipa::path(get, path = "/api/v1/training/enrollments", tag = "training",
    params(EnrollmentQuery),
    responses((status = 200, body = Vec<Enrollment>), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_enrollments(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<EnrollmentQuery>,
) -> AppResult<Json<Vec<Enrollment>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::enrollments(&ctx, &mut conn, q).await?))
}

#[utoipa::path(get, path = "/api/v1/training/enrollments/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EnrollmentDetail), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn api_enrollment(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<EnrollmentDetail>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::enrollment(&ctx, &mut conn, id).await?))
}

/// An officer signs the current phase off (with `force`, even with items left to do).
#[utoipa::path(post, path = "/api/v1/training/enrollments/{id}/advance", tag = "training",
    params(("id" = Uuid, Path)), request_body = AdvanceInput,
    responses((status = 200, body = EnrollmentDetail), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_advance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AdvanceInput>,
) -> AppResult<Json<EnrollmentDetail>> {
    let mut tx = state.db.begin().await?;
    let e = service::advance(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Withdraws an enrollment: the member or an officer; it is kept with its progress.
#[utoipa::path(post, path = "/api/v1/training/enrollments/{id}/withdraw", tag = "training",
    params(("id" = Uuid, Path)), request_body = WithdrawInput,
    responses((status = 200, body = EnrollmentDetail), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_withdraw(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<WithdrawInput>,
) -> AppResult<Json<EnrollmentDetail>> {
    let mut tx = state.db.begin().await?;
    let e = service::withdraw(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// An officer verifies, waives, clears or credits one item of an enrollment.
#[utoipa::path(post, path = "/api/v1/training/enrollments/{id}/items/{item}", tag = "training",
    params(("id" = Uuid, Path), ("item" = Uuid, Path)), request_body = ItemAction,
    responses((status = 200, body = EnrollmentDetail), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, item): PathIds,
    ApiJson(input): ApiJson<ItemAction>,
) -> AppResult<Json<EnrollmentDetail>> {
    let mut tx = state.db.begin().await?;
    let e = service::act_on_item(&ctx, &mut tx, id, item, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

// ---------------------------------------------------------------------------------------------
// Shift reports

#[utoipa::path(get, path = "/api/v1/training/shift-reports", tag = "training", params(ListQuery),
    responses((status = 200, body = Page<ShiftReport>), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_list(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<ShiftReport>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        shift_reports::list(&state.cipher, &ctx, &mut conn, q).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/training/shift-reports", tag = "training",
    request_body = ShiftReportInput,
    responses((status = 201, body = ShiftReport), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<ShiftReportInput>,
) -> AppResult<(StatusCode, Json<ShiftReport>)> {
    let mut tx = state.db.begin().await?;
    let r = shift_reports::create(&state.cipher, &state.notifier, &ctx, &mut tx, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(get, path = "/api/v1/training/shift-reports/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ShiftReport), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn api_get(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<ShiftReport>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        shift_reports::get_report(&state.cipher, &ctx, &mut conn, id).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/training/shift-reports/{id}", tag = "training",
    params(("id" = Uuid, Path)), request_body = ShiftReportInput,
    responses((status = 200, body = ShiftReport), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ShiftReportInput>,
) -> AppResult<Json<ShiftReport>> {
    let mut tx = state.db.begin().await?;
    let r = shift_reports::update(&state.cipher, &state.notifier, &ctx, &mut tx, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(r))
}

#[utoipa::path(post, path = "/api/v1/training/shift-reports/{id}/review", tag = "training",
    params(("id" = Uuid, Path)), request_body = ReviewInput,
    responses((status = 200, body = ShiftReport), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_review(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReviewInput>,
) -> AppResult<Json<ShiftReport>> {
    let mut tx = state.db.begin().await?;
    let r = shift_reports::review(&state.cipher, &state.notifier, &ctx, &mut tx, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(r))
}

#[utoipa::path(post, path = "/api/v1/training/shift-reports/{id}/acknowledge", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ShiftReport), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<ShiftReport>> {
    let mut tx = state.db.begin().await?;
    let r = shift_reports::acknowledge(&state.cipher, &ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(r))
}
