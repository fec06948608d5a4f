//! `/api/v1/elections`: thin JSON handlers over `service`. Reading, nominating, answering a
//! nomination, voting and checking a receipt need `elections.view`; everything else
//! (elections, positions, candidates, the lifecycle, the roll, paper ballots, the chair's
//! decision) `elections.manage`. No route answers with a member's choice.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::service::results::{self, DecideInput, Results, Turnout};
use super::service::voting::{
    self, Batch, BatchInput, Cast, CastInput, MyBallot, ReceiptCheck, ReceiptInput, RollChange,
    RollLine,
};
use super::service::{
    self, AnswerInput, CancelInput, Candidate, CandidateInput, Election, ElectionInput,
    ElectionQuery, ElectionSummary, PositionInput,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::PathId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/elections", get(elections).post(create_election))
        .route("/api/v1/elections/{id}", get(election).put(update_election))
        .route("/api/v1/elections/{id}/positions", post(add_position))
        .route("/api/v1/elections/positions/{id}", delete(remove_position))
        .route("/api/v1/elections/positions/{id}/decide", post(decide_tie))
        .route("/api/v1/elections/{id}/candidates", post(nominate))
        .route("/api/v1/elections/candidates/{id}/answer", post(answer_nomination))
        .route("/api/v1/elections/candidates/{id}", delete(remove_candidate))
        .route("/api/v1/elections/{id}/nominations", post(start_nominations))
        .route("/api/v1/elections/{id}/open", post(open))
        .route("/api/v1/elections/{id}/close", post(close))
        .route("/api/v1/elections/{id}/cancel", post(cancel))
        .route("/api/v1/elections/{id}/ballot", get(my_ballot))
        .route("/api/v1/elections/{id}/vote", post(vote))
        .route("/api/v1/elections/{id}/receipts/check", post(check_receipt))
        .route("/api/v1/elections/{id}/turnout", get(turnout))
        .route("/api/v1/elections/{id}/results", get(results))
        .route("/api/v1/elections/{id}/certificate", get(certificate))
        .route("/api/v1/elections/{id}/roll", get(roll).post(change_roll))
        .route(
            "/api/v1/elections/{id}/paper-batches",
            get(batches).post(record_batch),
        )
        .route("/api/v1/elections/paper-batches/{id}/attest", post(attest_batch))
        .route("/api/v1/elections/paper-batches/{id}/void", post(void_batch))
}

type Problem = crate::error::Problem;

/// Elections, open ones first; drafts only for officers.
#[utoipa::path(get, path = "/api/v1/elections", tag = "elections", params(ElectionQuery),
    responses((status = 200, body = Page<ElectionSummary>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn elections(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ElectionQuery>,
) -> AppResult<Json<Page<ElectionSummary>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::elections(&ctx, &mut conn, q).await?))
}


/// Adds an election (a draft).
#[utoipa::path(post, path = "/api/v1/elections", tag = "elections", request_body = ElectionInput,
    responses((status = 201, body = Election), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_election(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<ElectionInput>,
) -> AppResult<(StatusCode, Json<Election>)> {
    let mut tx = state.db.begin().await?;
    let out = service::create_election(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// An election with its positions and candidates.
#[utoipa::path(get, path = "/api/v1/elections/{id}", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn election(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::election(&ctx, &mut conn, id).await?))
}

/// Changes an election before voting opens.
#[utoipa::path(put, path = "/api/v1/elections/{id}", tag = "elections",
    params(("id" = Uuid, Path)), request_body = ElectionInput,
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_election(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ElectionInput>,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::update_election(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Adds a position (an office or a question) to the ballot.
#[utoipa::path(post, path = "/api/v1/elections/{id}/positions", tag = "elections",
    params(("id" = Uuid, Path)), request_body = PositionInput,
    responses((status = 201, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_position(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<PositionInput>,
) -> AppResult<(StatusCode, Json<Election>)> {
    let mut tx = state.db.begin().await?;
    let out = service::add_position(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Takes a position and its candidates off the ballot before voting opens.
#[utoipa::path(delete, path = "/api/v1/elections/positions/{id}", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_position(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::remove_position(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// The chair breaks a tie after the close (tie policy `chair_decides`).
#[utoipa::path(post, path = "/api/v1/elections/positions/{id}/decide", tag = "elections",
    params(("id" = Uuid, Path)), request_body = DecideInput,
    responses((status = 200, body = Results), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decide_tie(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<DecideInput>,
) -> AppResult<Json<Results>> {
    let mut tx = state.db.begin().await?;
    let out = results::decide_tie(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Nominates a member (members, while nominations are open) or adds a candidate or named option (officers, before voting).
#[utoipa::path(post, path = "/api/v1/elections/{id}/candidates", tag = "elections",
    params(("id" = Uuid, Path)), request_body = CandidateInput,
    responses((status = 201, body = Candidate), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn nominate(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CandidateInput>,
) -> AppResult<(StatusCode, Json<Candidate>)> {
    let mut tx = state.db.begin().await?;
    let out = service::nominate(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The nominee accepts or declines before voting opens.
#[utoipa::path(post, path = "/api/v1/elections/candidates/{id}/answer", tag = "elections",
    params(("id" = Uuid, Path)), request_body = AnswerInput,
    responses((status = 200, body = Candidate), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn answer_nomination(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AnswerInput>,
) -> AppResult<Json<Candidate>> {
    let mut tx = state.db.begin().await?;
    let out = service::answer_nomination(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Takes a candidate off the ballot before voting opens.
#[utoipa::path(delete, path = "/api/v1/elections/candidates/{id}", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_candidate(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::remove_candidate(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Opens nominations on a draft.
#[utoipa::path(post, path = "/api/v1/elections/{id}/nominations", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn start_nominations(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::start_nominations(&ctx, &mut tx, &state.notifier, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Opens voting: the roll is frozen and every member on it is told.
#[utoipa::path(post, path = "/api/v1/elections/{id}/open", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn open(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::open(&ctx, &mut tx, &state.notifier, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Closes voting: the count stands and runoffs are made where needed.
#[utoipa::path(post, path = "/api/v1/elections/{id}/close", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = results::close(&ctx, &mut tx, &state.notifier, id).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// Cancels an election that has not closed; its ballots are never counted.
#[utoipa::path(post, path = "/api/v1/elections/{id}/cancel", tag = "elections",
    params(("id" = Uuid, Path)), request_body = CancelInput,
    responses((status = 200, body = Election), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CancelInput>,
) -> AppResult<Json<Election>> {
    let mut tx = state.db.begin().await?;
    let out = service::cancel(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(Json(out))
}

/// The caller's ballot: the positions they may vote on and whether they have.
#[utoipa::path(get, path = "/api/v1/elections/{id}/ballot", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MyBallot), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn my_ballot(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<MyBallot>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(voting::my_ballot(&ctx, &mut conn, id).await?))
}

/// Casts the caller's ballots, one per position, all or nothing; answers one receipt per ballot.
#[utoipa::path(post, path = "/api/v1/elections/{id}/vote", tag = "elections",
    params(("id" = Uuid, Path)), request_body = CastInput,
    responses((status = 201, body = Cast), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn vote(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CastInput>,
) -> AppResult<(StatusCode, Json<Cast>)> {
    let mut tx = state.db.begin().await?;
    let out = voting::cast(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Whether the ballot of a receipt is counted (never what it says).
#[utoipa::path(post, path = "/api/v1/elections/{id}/receipts/check", tag = "elections",
    params(("id" = Uuid, Path)), request_body = ReceiptInput,
    responses((status = 200, body = ReceiptCheck), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn check_receipt(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReceiptInput>,
) -> AppResult<Json<ReceiptCheck>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(voting::check_receipt(&ctx, &mut conn, id, input).await?))
}

/// How many on the roll have voted, per position.
#[utoipa::path(get, path = "/api/v1/elections/{id}/turnout", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Turnout), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn turnout(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Turnout>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(results::turnout(&ctx, &mut conn, id).await?))
}

/// The count, from the verified ballot chain: after the close, or while open when the election shows results at once.
#[utoipa::path(get, path = "/api/v1/elections/{id}/results", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Results), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn results(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Results>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(results::results(&ctx, &mut conn, id).await?))
}

/// The roll: who may vote on what, and who has (never how).
#[utoipa::path(get, path = "/api/v1/elections/{id}/roll", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RollLine>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn roll(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<RollLine>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(voting::roll(&ctx, &mut conn, id).await?))
}

/// A secretary's override of the frozen roll while voting is open, with its reason.
#[utoipa::path(post, path = "/api/v1/elections/{id}/roll", tag = "elections",
    params(("id" = Uuid, Path)), request_body = RollChange,
    responses((status = 200, body = Vec<RollLine>), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn change_roll(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<RollChange>,
) -> AppResult<Json<Vec<RollLine>>> {
    let mut tx = state.db.begin().await?;
    let out = voting::change_roll(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Batches of paper ballots and how each stands.
#[utoipa::path(get, path = "/api/v1/elections/{id}/paper-batches", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Batch>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn batches(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Batch>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(voting::batches(&ctx, &mut conn, id).await?))
}

/// Enters a batch of paper ballots; it counts once a second officer attests it.
#[utoipa::path(post, path = "/api/v1/elections/{id}/paper-batches", tag = "elections",
    params(("id" = Uuid, Path)), request_body = BatchInput,
    responses((status = 201, body = Batch), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<BatchInput>,
) -> AppResult<(StatusCode, Json<Batch>)> {
    let mut tx = state.db.begin().await?;
    let out = voting::record_batch(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A second officer attests a batch: its ballots join the chain.
#[utoipa::path(post, path = "/api/v1/elections/paper-batches/{id}/attest", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Batch), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn attest_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Batch>> {
    let mut tx = state.db.begin().await?;
    let out = voting::attest_batch(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Voids a pending batch; its voters may vote again.
#[utoipa::path(post, path = "/api/v1/elections/paper-batches/{id}/void", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Batch), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn void_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Batch>> {
    let mut tx = state.db.begin().await?;
    let out = voting::void_batch(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// The certified result of a closed election as a PDF, from the verified chain.
#[utoipa::path(get, path = "/api/v1/elections/{id}/certificate", tag = "elections",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The certified result", content((Vec<u8> = "application/pdf"))),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<axum::response::Response> {
    let mut conn = state.db.acquire().await?;
    let bytes = results::certificate(&ctx, &mut conn, id).await?;
    Ok(pdf_response(bytes, &format!("election-result-{id}.pdf")))
}

/// A PDF answer, as a download with its name.
pub fn pdf_response(bytes: Vec<u8>, name: &str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
