//! `/api/v1/inventory`: thin JSON handlers over `service`. Reads need `inventory.view`, changes
//! `inventory.manage` (a member may extend their own checkout and see what they hold).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::rules::{CategoryInput, ItemInput};
use super::service::maintenance::{self, DueItem, DueQuery, MaintenanceInput, MaintenanceRecord};
use super::service::moves::{
    self, AssignInput, Assignment, Checkout, CheckoutInput, ExtendInput, HistoryQuery, Holding,
    IssuanceReturn, Issuance, IssueInput, ReturnInput,
};
use super::service::{self, Allowance, AllowanceInput, Category, Item, ItemQuery, MemberRef};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::{PathId, PathIds};
use crate::modules::documents::api::attached;
use crate::modules::documents::service::files::{Document, UploadQuery};
use axum::body::Body;
use axum::http::HeaderMap;
use super::service::clearance::{self, Clearance, CloseClearance, Resolve, StartClearance};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/inventory/categories",
            get(categories).post(create_category),
        )
        .route("/api/v1/inventory/categories/{id}", put(update_category))
        .route(
            "/api/v1/inventory/categories/{id}/allowance",
            get(allowance).put(set_allowance),
        )
        .route("/api/v1/inventory/items", get(items).post(create_item))
        .route("/api/v1/inventory/items/{id}", get(item).put(update_item))
        .route(
            "/api/v1/inventory/items/{id}/documents",
            get(item_documents).post(attach_item_document).layer(
                axum::extract::DefaultBodyLimit::max(
                    crate::modules::documents::rules::MAX_FILE_BYTES as usize + 1,
                ),
            ),
        )
        .route(
            "/api/v1/inventory/items/{id}/documents/{document}",
            axum::routing::delete(detach_item_document),
        )
        .route(
            "/api/v1/inventory/items/{id}/documents/{document}/file",
            get(item_document_file),
        )
        .route("/api/v1/inventory/items/{id}/history", get(history))
        .route("/api/v1/inventory/items/{id}/checkout", post(check_out))
        .route("/api/v1/inventory/items/{id}/checkin", post(check_in))
        .route("/api/v1/inventory/items/{id}/extend", post(extend))
        .route("/api/v1/inventory/items/{id}/assign", post(assign))
        .route("/api/v1/inventory/items/{id}/unassign", post(unassign))
        .route("/api/v1/inventory/items/{id}/issue", post(issue))
        .route(
            "/api/v1/inventory/items/{id}/maintenance",
            get(maintenance_records).post(record_maintenance),
        )
        .route("/api/v1/inventory/issuances/{id}/return", post(return_issuance))
        .route("/api/v1/inventory/checkouts", get(checkouts))
        .route("/api/v1/inventory/lookup", get(lookup))
        .route("/api/v1/inventory/due", get(due))
        .route("/api/v1/inventory/members/{id}/holdings", get(holdings))
        .route(
            "/api/v1/inventory/clearances",
            get(clearances).post(start_clearance),
        )
        .route("/api/v1/inventory/clearances/{id}", get(clearance))
        .route(
            "/api/v1/inventory/clearances/{id}/lines/{line}/resolve",
            post(resolve_line),
        )
        .route("/api/v1/inventory/clearances/{id}/close", post(close_clearance))
}

type Problem = crate::error::Problem;

#[utoipa::path(get, path = "/api/v1/inventory/categories", tag = "inventory",
    responses((status = 200, body = Vec<Category>), (status = 403, body = Problem)))]
pub async fn categories(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Category>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::categories(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/inventory/categories", tag = "inventory",
    request_body = CategoryInput,
    responses((status = 201, body = Category), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_category(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<CategoryInput>,
) -> AppResult<(StatusCode, Json<Category>)> {
    let mut tx = state.db.begin().await?;
    let saved = service::save_category(&ctx, &mut tx, None, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(put, path = "/api/v1/inventory/categories/{id}", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = CategoryInput,
    responses((status = 200, body = Category), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_category(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CategoryInput>,
) -> AppResult<Json<Category>> {
    let mut tx = state.db.begin().await?;
    let saved = service::save_category(&ctx, &mut tx, Some(id), input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

#[utoipa::path(get, path = "/api/v1/inventory/categories/{id}/allowance", tag = "inventory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Allowance), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn allowance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Allowance>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::allowance_of(&ctx, &mut conn, id).await?))
}

/// How many units of the category's pool items one member may hold (per year or in all);
/// `max_quantity` null removes the limit.
#[utoipa::path(put, path = "/api/v1/inventory/categories/{id}/allowance", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = AllowanceInput,
    responses((status = 200, body = Allowance), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_allowance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AllowanceInput>,
) -> AppResult<Json<Allowance>> {
    let mut tx = state.db.begin().await?;
    let saved = service::set_allowance(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Items by name, searched and filtered.
#[utoipa::path(get, path = "/api/v1/inventory/items", tag = "inventory", params(ItemQuery),
    responses((status = 200, body = Page<Item>), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn items(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> AppResult<Json<Page<Item>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::items(&ctx, &mut conn, q).await?))
}

/// A new item; without a barcode it gets the department's next number (`INV-000042`).
#[utoipa::path(post, path = "/api/v1/inventory/items", tag = "inventory",
    request_body = ItemInput,
    responses((status = 201, body = Item), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_item(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<ItemInput>,
) -> AppResult<(StatusCode, Json<Item>)> {
    let mut tx = state.db.begin().await?;
    let saved = service::create_item(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(get, path = "/api/v1/inventory/items/{id}", tag = "inventory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Item), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Item>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::item(&ctx, &mut conn, id).await?))
}

#[utoipa::path(put, path = "/api/v1/inventory/items/{id}", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = ItemInput,
    responses((status = 200, body = Item), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_item(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ItemInput>,
) -> AppResult<Json<Item>> {
    let mut tx = state.db.begin().await?;
    let saved = service::update_item(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Who held the item (checkouts, assignments, issuances), newest first; `on` narrows to one day.
#[utoipa::path(get, path = "/api/v1/inventory/items/{id}/history", tag = "inventory",
    params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = Vec<Holding>), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> AppResult<Json<Vec<Holding>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(moves::item_history(&ctx, &mut conn, id, q).await?))
}

/// Checks an available item out to a member until `expected_return_at`. An item someone
/// already has answers 409, naming who.
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/checkout", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = CheckoutInput,
    responses((status = 201, body = Checkout), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn check_out(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CheckoutInput>,
) -> AppResult<(StatusCode, Json<Checkout>)> {
    let mut tx = state.db.begin().await?;
    let saved = moves::check_out(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Checks the item's open checkout in, with the condition it came back in.
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/checkin", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = ReturnInput,
    responses((status = 200, body = Checkout), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn check_in(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReturnInput>,
) -> AppResult<Json<Checkout>> {
    let mut tx = state.db.begin().await?;
    let saved = moves::check_in(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// A later due-back moment: the member who has the item, or an officer.
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/extend", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = ExtendInput,
    responses((status = 200, body = Checkout), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn extend(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ExtendInput>,
) -> AppResult<Json<Checkout>> {
    let mut tx = state.db.begin().await?;
    let saved = moves::extend(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/assign", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = AssignInput,
    responses((status = 201, body = Assignment), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AssignInput>,
) -> AppResult<(StatusCode, Json<Assignment>)> {
    let mut tx = state.db.begin().await?;
    let saved = moves::assign(&ctx, &mut tx, &state.notifier, id, input).await?;
    state.mailer.commit_and_kick(tx).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/unassign", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = ReturnInput,
    responses((status = 200, body = Assignment), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn unassign(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ReturnInput>,
) -> AppResult<Json<Assignment>> {
    let mut tx = state.db.begin().await?;
    let saved = moves::unassign(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Issues units of a pool item, within the member's allowance for its category (past it only
/// with `override_reason`).
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/issue", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = IssueInput,
    responses((status = 201, body = Issuance), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn issue(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<IssueInput>,
) -> AppResult<(StatusCode, Json<Issuance>)> {
    let mut tx = state.db.begin().await?;
    let saved = moves::issue(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(post, path = "/api/v1/inventory/issuances/{id}/return", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = IssuanceReturn,
    responses((status = 200, body = Issuance), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn return_issuance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<IssuanceReturn>,
) -> AppResult<Json<Issuance>> {
    let mut tx = state.db.begin().await?;
    let saved = moves::return_issuance(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckoutQuery {
    /// Only those past due.
    #[serde(default)]
    pub overdue: bool,
}

/// Items out now, soonest due first.
#[utoipa::path(get, path = "/api/v1/inventory/checkouts", tag = "inventory", params(CheckoutQuery),
    responses((status = 200, body = Vec<Checkout>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn checkouts(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<CheckoutQuery>,
) -> AppResult<Json<Vec<Checkout>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(moves::open_checkouts(&ctx, &mut conn, q.overdue).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    /// A barcode, serial number or asset tag, as a label or a scanner gives it.
    pub code: String,
}

/// The item a label's code names (barcode, serial number or asset tag).
#[utoipa::path(get, path = "/api/v1/inventory/lookup", tag = "inventory", params(LookupQuery),
    responses((status = 200, body = Item), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn lookup(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<LookupQuery>,
) -> AppResult<Json<Item>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::lookup(&ctx, &mut conn, &q.code).await?))
}

#[utoipa::path(get, path = "/api/v1/inventory/items/{id}/maintenance", tag = "inventory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MaintenanceRecord>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn maintenance_records(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<MaintenanceRecord>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(maintenance::records(&ctx, &mut conn, id).await?))
}

/// Records an inspection, test or repair; an inspection or test sets the next due date from
/// the item's cycle unless `next_due_date` is given.
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/maintenance", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = MaintenanceInput,
    responses((status = 201, body = MaintenanceRecord), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_maintenance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MaintenanceInput>,
) -> AppResult<(StatusCode, Json<MaintenanceRecord>)> {
    let mut tx = state.db.begin().await?;
    let saved = maintenance::record(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DueList {
    pub through: NaiveDate,
    pub items: Vec<DueItem>,
}

/// Inspections due and service lives ending by `through` (default: the end of this month),
/// overdue ones included.
#[utoipa::path(get, path = "/api/v1/inventory/due", tag = "inventory", params(DueQuery),
    responses((status = 200, body = DueList), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn due(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<DueQuery>,
) -> AppResult<Json<DueList>> {
    let mut conn = state.db.acquire().await?;
    let (through, items) = maintenance::due_list(&ctx, &mut conn, q).await?;
    Ok(Json(DueList { through, items }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoldingsQuery {
    /// Also what they held before.
    #[serde(default)]
    pub past: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Holdings {
    pub member: MemberRef,
    pub holdings: Vec<Holding>,
}

/// What a member holds: the member themselves, or an officer (`inventory.manage`).
#[utoipa::path(get, path = "/api/v1/inventory/members/{id}/holdings", tag = "inventory",
    params(("id" = Uuid, Path), HoldingsQuery),
    responses((status = 200, body = Holdings), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn holdings(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<HoldingsQuery>,
) -> AppResult<Json<Holdings>> {
    let mut conn = state.db.acquire().await?;
    let (member, holdings) = moves::holdings(&ctx, &mut conn, id, q.past).await?;
    Ok(Json(Holdings { member, holdings }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClearanceQuery {
    /// Only those still open.
    #[serde(default)]
    pub open: bool,
}

/// Departure clearances, newest first.
#[utoipa::path(get, path = "/api/v1/inventory/clearances", tag = "inventory",
    params(ClearanceQuery),
    responses((status = 200, body = Vec<Clearance>), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn clearances(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ClearanceQuery>,
) -> AppResult<Json<Vec<Clearance>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(clearance::clearances(&ctx, &mut conn, q.open).await?))
}

/// Starts a clearance by hand: everything the member holds becomes a line to resolve.
#[utoipa::path(post, path = "/api/v1/inventory/clearances", tag = "inventory",
    request_body = StartClearance,
    responses((status = 201, body = Clearance), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn start_clearance(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<StartClearance>,
) -> AppResult<(StatusCode, Json<Clearance>)> {
    let mut tx = state.db.begin().await?;
    let saved = clearance::start(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(get, path = "/api/v1/inventory/clearances/{id}", tag = "inventory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Clearance), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn clearance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Clearance>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(clearance::clearance(&ctx, &mut conn, id).await?))
}

/// Resolves one line: returned (or returned damaged) runs the real return; written off marks
/// the item lost; waived lets the member keep it. The last line completes the clearance.
#[utoipa::path(post, path = "/api/v1/inventory/clearances/{id}/lines/{line}/resolve",
    tag = "inventory", params(("id" = Uuid, Path), ("line" = Uuid, Path)), request_body = Resolve,
    responses((status = 200, body = Clearance), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn resolve_line(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, line): PathIds,
    ApiJson(input): ApiJson<Resolve>,
) -> AppResult<Json<Clearance>> {
    let mut tx = state.db.begin().await?;
    let saved = clearance::resolve(&ctx, &mut tx, id, line, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Closes a clearance with lines still pending, saying why.
#[utoipa::path(post, path = "/api/v1/inventory/clearances/{id}/close", tag = "inventory",
    params(("id" = Uuid, Path)), request_body = CloseClearance,
    responses((status = 200, body = Clearance), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn close_clearance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CloseClearance>,
) -> AppResult<Json<Clearance>> {
    let mut tx = state.db.begin().await?;
    let saved = clearance::close(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

// ---------------------------------------------------------------------------------------------
// Papers attached (through the documents module)

/// Manuals and other papers attached to an item.
#[utoipa::path(get, path = "/api/v1/inventory/items/{id}/documents", tag = "inventory",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Document>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn item_documents(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Document>>> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id, false).await?
    };
    attached::list(&state, &ctx, source).await
}

/// Attaches a manual or other paper to an item (`inventory.manage`); it is filed in the library's General Documents. The request body is the file itself (at most 256 MB; a PDF, picture, office
/// document or plain text, as its bytes show).
#[utoipa::path(post, path = "/api/v1/inventory/items/{id}/documents", tag = "inventory",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Document), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn attach_item_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<Document>)> {
    // Refused before a byte is read when the item is not the caller's to change.
    let papers = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id, true).await?
    };
    attached::add(&state, &ctx, papers, q, &headers, body).await
}

/// An attached document's file.
#[utoipa::path(get, path = "/api/v1/inventory/items/{id}/documents/{document}/file", tag = "inventory",
    params(("id" = Uuid, Path), ("document" = Uuid, Path)),
    responses((status = 200, description = "The file, as the type its bytes showed",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"), (String = "text/plain"))),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn item_document_file(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, document): PathIds,
) -> AppResult<axum::response::Response> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id, false).await?
    };
    attached::file(&state, &ctx, source, document).await
}

/// Removes an attached document (its file too).
#[utoipa::path(delete, path = "/api/v1/inventory/items/{id}/documents/{document}", tag = "inventory",
    params(("id" = Uuid, Path), ("document" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn detach_item_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, document): PathIds,
) -> AppResult<StatusCode> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id, true).await?
    };
    attached::remove(&state, &ctx, source, document).await
}
