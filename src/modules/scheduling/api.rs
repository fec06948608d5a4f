//! `/api/v1/scheduling`: thin JSON handlers over `service`. Reading the schedule, signing up,
//! answering, swaps and time off need `scheduling.view`; templates, patterns, making shifts,
//! assigning and deciding requests `scheduling.manage`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::service::assignments::{self, AssignInput, CancelInput, RespondInput, SignUpInput};
use super::service::closeout::{self, CloseOutInput, ReopenInput};
use super::service::reports::{self, CoverageReport, HoursReport, ReportQuery};
use super::service::requests::{
    self, RequestQuery, ReviewInput, Swap, SwapInput, TimeOff, TimeOffInput, TimeOffReviewed,
};
use super::service::{
    self, ActiveInput, GenerateInput, Generated, Pattern, PatternInput, Shift, ShiftInput, ShiftQuery,
    Template, TemplateInput,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/scheduling/templates",
            get(templates).post(create_template),
        )
        .route(
            "/api/v1/scheduling/templates/{id}",
            get(template).put(update_template),
        )
        .route(
            "/api/v1/scheduling/patterns",
            get(patterns).post(create_pattern),
        )
        .route("/api/v1/scheduling/patterns/{id}", get(pattern))
        .route("/api/v1/scheduling/patterns/{id}/generate", post(generate))
        .route("/api/v1/scheduling/patterns/{id}/active", post(set_pattern_active))
        .route("/api/v1/scheduling/shifts", get(shifts).post(create_shift))
        .route("/api/v1/scheduling/shifts/{id}", get(shift))
        .route("/api/v1/scheduling/shifts/{id}/cancel", post(cancel_shift))
        .route("/api/v1/scheduling/shifts/{id}/assignments", post(assign))
        .route("/api/v1/scheduling/shifts/{id}/finalize", post(finalize))
        .route("/api/v1/scheduling/shifts/{id}/reopen", post(reopen))
        .route(
            "/api/v1/scheduling/shifts/{id}/signup",
            post(sign_up).delete(withdraw),
        )
        .route("/api/v1/scheduling/assignments/{id}/respond", post(respond))
        .route("/api/v1/scheduling/assignments/{id}", delete(remove))
        .route(
            "/api/v1/scheduling/time-off",
            get(time_off).post(request_time_off),
        )
        .route(
            "/api/v1/scheduling/time-off/{id}/review",
            post(review_time_off),
        )
        .route(
            "/api/v1/scheduling/time-off/{id}/cancel",
            post(cancel_time_off),
        )
        .route("/api/v1/scheduling/reports/hours", get(hours_report))
        .route("/api/v1/scheduling/reports/coverage", get(coverage_report))
        .route("/api/v1/scheduling/swaps", get(swaps).post(request_swap))
        .route("/api/v1/scheduling/swaps/{id}/review", post(review_swap))
        .route("/api/v1/scheduling/swaps/{id}/cancel", post(cancel_swap))
}

type Problem = crate::error::Problem;

/// Shift templates, active first.
#[utoipa::path(get, path = "/api/v1/scheduling/templates", tag = "scheduling",
    responses((status = 200, body = Vec<Template>), (status = 403, body = Problem)))]
pub async fn templates(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Template>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::templates(&ctx, &mut conn).await?))
}

/// Adds a shift template; without `positions` its vehicle's riding positions are the seats.
#[utoipa::path(post, path = "/api/v1/scheduling/templates", tag = "scheduling",
    request_body = TemplateInput,
    responses((status = 201, body = Template), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_template(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TemplateInput>,
) -> AppResult<(StatusCode, Json<Template>)> {
    let mut tx = state.db.begin().await?;
    let t = service::create_template(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[utoipa::path(get, path = "/api/v1/scheduling/templates/{id}", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Template), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn template(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Template>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::template(&ctx, &mut conn, id).await?))
}

/// Changes a template; shifts already made keep their shape.
#[utoipa::path(put, path = "/api/v1/scheduling/templates/{id}", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = TemplateInput,
    responses((status = 200, body = Template), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_template(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<TemplateInput>,
) -> AppResult<Json<Template>> {
    let mut tx = state.db.begin().await?;
    let t = service::update_template(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// Patterns that make shifts from a template, with their platoons' members.
#[utoipa::path(get, path = "/api/v1/scheduling/patterns", tag = "scheduling",
    responses((status = 200, body = Vec<Pattern>), (status = 403, body = Problem)))]
pub async fn patterns(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Pattern>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::patterns(&ctx, &mut conn).await?))
}

/// Adds a pattern: daily, weekly on chosen days, a platoon preset, or a custom sequence.
#[utoipa::path(post, path = "/api/v1/scheduling/patterns", tag = "scheduling",
    request_body = PatternInput,
    responses((status = 201, body = Pattern), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_pattern(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<PatternInput>,
) -> AppResult<(StatusCode, Json<Pattern>)> {
    let mut tx = state.db.begin().await?;
    let p = service::create_pattern(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/api/v1/scheduling/patterns/{id}", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Pattern), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn pattern(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Pattern>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::pattern(&ctx, &mut conn, id).await?))
}

/// Stops a pattern (no more shifts from it; those made stay) or takes it up again.
#[utoipa::path(post, path = "/api/v1/scheduling/patterns/{id}/active", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = ActiveInput,
    responses((status = 200, body = Pattern), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_pattern_active(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ActiveInput>,
) -> AppResult<Json<Pattern>> {
    let mut tx = state.db.begin().await?;
    let p = service::set_pattern_active(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Makes the pattern's shifts over a range (at most a year), or shows them (`preview`).
#[utoipa::path(post, path = "/api/v1/scheduling/patterns/{id}/generate", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = GenerateInput,
    responses((status = 200, body = Generated), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn generate(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<GenerateInput>,
) -> AppResult<Json<Generated>> {
    let mut tx = state.db.begin().await?;
    let g = service::generate(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(g))
}

/// The schedule in time order from a day (default today); `open` for shifts that need people.
#[utoipa::path(get, path = "/api/v1/scheduling/shifts", tag = "scheduling", params(ShiftQuery),
    responses((status = 200, body = Page<Shift>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn shifts(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ShiftQuery>,
) -> AppResult<Json<Page<Shift>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::shifts(&ctx, &mut conn, q).await?))
}

/// Makes one shift by hand, from a template or with its own times and seats.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts", tag = "scheduling",
    request_body = ShiftInput,
    responses((status = 201, body = Shift), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_shift(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<ShiftInput>,
) -> AppResult<(StatusCode, Json<Shift>)> {
    let mut tx = state.db.begin().await?;
    let s = service::create_shift(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/api/v1/scheduling/shifts/{id}", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn shift(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Shift>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::shift(&ctx, &mut conn, id).await?))
}

/// Cancels a shift (an officer, or its own officer); its members are told why.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts/{id}/cancel", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = CancelInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn cancel_shift(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CancelInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::cancel(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// An officer puts a member in a seat; the member is asked to confirm.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts/{id}/assignments", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = AssignInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AssignInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::assign(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// Closes out a shift that has started (its officer or a scheduling officer): who was there,
/// how many calls; each member present gets a `shift` training record and a `call` record per
/// call, once.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts/{id}/finalize", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = CloseOutInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn finalize(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CloseOutInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = closeout::finalize(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// Opens a closed-out shift again, voiding the training records it gave.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts/{id}/reopen", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = ReopenInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reopen(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReopenInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = closeout::reopen(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// The caller signs up for a free seat (default the first they may take). A second tap changes
/// nothing.
#[utoipa::path(post, path = "/api/v1/scheduling/shifts/{id}/signup", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = SignUpInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn sign_up(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SignUpInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::sign_up(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(s))
}

/// The caller gives up their seat before the shift starts.
#[utoipa::path(delete, path = "/api/v1/scheduling/shifts/{id}/signup", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::withdraw(&ctx, &mut tx, &state.notifier, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// The member confirms or declines their assignment.
#[utoipa::path(post, path = "/api/v1/scheduling/assignments/{id}/respond", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = RespondInput,
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn respond(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<RespondInput>,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::respond(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// An officer takes a member off a shift; the member is told.
#[utoipa::path(delete, path = "/api/v1/scheduling/assignments/{id}", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Shift), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Shift>> {
    let mut tx = state.db.begin().await?;
    let s = assignments::remove(&ctx, &mut tx, &state.notifier, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// A report as JSON, or as a CSV download named after it and its range.
fn report_answer<T: serde::Serialize>(
    format: Option<&str>,
    name: &str,
    report: T,
    csv: impl FnOnce(&T) -> AppResult<String>,
) -> AppResult<axum::response::Response> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    match format.unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "csv" => {
            let mut res = csv(&report)?.into_response();
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(res)
        }
        _ => Err(crate::error::AppError::field("format", "must be json or csv")),
    }
}

/// Hours on shift per member over a range (officers), as JSON or CSV.
#[utoipa::path(get, path = "/api/v1/scheduling/reports/hours", tag = "scheduling",
    params(ReportQuery),
    responses((status = 200, description = "The report: JSON, or with `format=csv` CSV",
            content((HoursReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn hours_report(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<axum::response::Response> {
    ctx.require(super::service::SCHEDULING_MANAGE)?;
    let (from, to) = reports::range(&ctx, &q)?;
    let mut conn = state.db.acquire().await?;
    let r = reports::hours(&ctx, &mut conn, from, to).await?;
    report_answer(q.format.as_deref(), &format!("shift-hours-{from}-{to}"), r, reports::hours_csv)
}

/// Each month's coverage over a range (officers): shifts, fully staffed, open, cancelled.
#[utoipa::path(get, path = "/api/v1/scheduling/reports/coverage", tag = "scheduling",
    params(ReportQuery),
    responses((status = 200, description = "The report: JSON, or with `format=csv` CSV",
            content((CoverageReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn coverage_report(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<axum::response::Response> {
    ctx.require(super::service::SCHEDULING_MANAGE)?;
    let (from, to) = reports::range(&ctx, &q)?;
    let mut conn = state.db.acquire().await?;
    let r = reports::coverage(&ctx, &mut conn, from, to).await?;
    report_answer(
        q.format.as_deref(),
        &format!("shift-coverage-{from}-{to}"),
        r,
        reports::coverage_csv,
    )
}

/// Time off: the caller's requests, or everyone's for officers.
#[utoipa::path(get, path = "/api/v1/scheduling/time-off", tag = "scheduling",
    params(RequestQuery),
    responses((status = 200, body = Vec<TimeOff>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn time_off(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> AppResult<Json<Vec<TimeOff>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(requests::time_off_list(&ctx, &mut conn, q).await?))
}

/// The caller asks for time off; the officers are told.
#[utoipa::path(post, path = "/api/v1/scheduling/time-off", tag = "scheduling",
    request_body = TimeOffInput,
    responses((status = 201, body = TimeOff), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn request_time_off(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TimeOffInput>,
) -> AppResult<(StatusCode, Json<TimeOff>)> {
    let mut tx = state.db.begin().await?;
    let t = requests::request_time_off(&ctx, &mut tx, &state.notifier, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// An officer (not the requester) decides; approving frees the member's seats in those days.
#[utoipa::path(post, path = "/api/v1/scheduling/time-off/{id}/review", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = ReviewInput,
    responses((status = 200, body = TimeOffReviewed), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn review_time_off(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReviewInput>,
) -> AppResult<Json<TimeOffReviewed>> {
    let mut tx = state.db.begin().await?;
    let r = requests::review_time_off(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(r))
}

/// The requester withdraws a request still waiting.
#[utoipa::path(post, path = "/api/v1/scheduling/time-off/{id}/cancel", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TimeOff), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_time_off(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<TimeOff>> {
    let mut tx = state.db.begin().await?;
    let t = requests::cancel_time_off(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(t))
}

/// Swaps the caller asked for or is named in, or everyone's for officers.
#[utoipa::path(get, path = "/api/v1/scheduling/swaps", tag = "scheduling",
    params(RequestQuery),
    responses((status = 200, body = Vec<Swap>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn swaps(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> AppResult<Json<Vec<Swap>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(requests::swaps(&ctx, &mut conn, q).await?))
}

/// The caller offers their seat: for another member's seat, or to a member who takes it.
#[utoipa::path(post, path = "/api/v1/scheduling/swaps", tag = "scheduling",
    request_body = SwapInput,
    responses((status = 201, body = Swap), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request_swap(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<SwapInput>,
) -> AppResult<(StatusCode, Json<Swap>)> {
    let mut tx = state.db.begin().await?;
    let s = requests::request_swap(&ctx, &mut tx, &state.notifier, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// An officer who is neither side decides; approving moves both seats at once.
#[utoipa::path(post, path = "/api/v1/scheduling/swaps/{id}/review", tag = "scheduling",
    params(("id" = Uuid, Path)), request_body = ReviewInput,
    responses((status = 200, body = Swap), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn review_swap(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReviewInput>,
) -> AppResult<Json<Swap>> {
    let mut tx = state.db.begin().await?;
    let s = requests::review_swap(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(s))
}

/// The requester withdraws a swap still waiting.
#[utoipa::path(post, path = "/api/v1/scheduling/swaps/{id}/cancel", tag = "scheduling",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Swap), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_swap(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Swap>> {
    let mut tx = state.db.begin().await?;
    let s = requests::cancel_swap(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(s))
}
