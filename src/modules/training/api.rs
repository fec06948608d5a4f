//! `/api/v1/training`: thin JSON handlers over `service`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::rules::{CourseInput, RecordInput, RequirementInput};
use super::service::{
    self, Category, ComplianceReport, Course, Matrix, MatrixQuery, RecordQuery, Requirement,
    TrainingRecord, VoidRecord,
};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::web::{PathId, PathIds};
use crate::modules::documents::api::attached;
use crate::modules::documents::service::files::{Document, UploadQuery};
use axum::body::Body;
use axum::http::HeaderMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/training/categories", get(categories))
        .route("/api/v1/training/courses", get(courses).post(create_course))
        .route("/api/v1/training/courses/{id}", put(update_course))
        .route(
            "/api/v1/training/records",
            get(records).post(create_records),
        )
        .route("/api/v1/training/records/{id}", get(record))
        .route("/api/v1/training/records/{id}/void", post(void_record))
        .route("/api/v1/training/records/{id}/correct", post(correct_record))
        .route(
            "/api/v1/training/records/{id}/documents",
            get(record_documents).post(attach_record_document).layer(
                axum::extract::DefaultBodyLimit::max(
                    crate::modules::documents::rules::MAX_FILE_BYTES as usize + 1,
                ),
            ),
        )
        .route(
            "/api/v1/training/records/{id}/documents/{document}",
            axum::routing::delete(detach_record_document),
        )
        .route(
            "/api/v1/training/records/{id}/documents/{document}/file",
            get(record_document_file),
        )
        .route("/api/v1/training/sessions/{id}", get(session))
        .route("/api/v1/training/sessions/{id}/void", post(void_session))
        .route(
            "/api/v1/training/requirements",
            get(requirements).post(create_requirement),
        )
        .route(
            "/api/v1/training/requirements/{id}",
            put(update_requirement),
        )
        .route(
            "/api/v1/training/compliance/config",
            get(compliance_config).put(set_compliance_config),
        )
        .route("/api/v1/training/compliance/{member_id}", get(compliance))
        .route(
            "/api/v1/training/members/{id}/exemption",
            get(exemption).put(set_exemption),
        )
        .route("/api/v1/training/matrix", get(matrix))
        .route("/api/v1/training/reports/iso", get(iso_report))
}

/// Training categories (the ISO ones are seeded).
#[utoipa::path(get, path = "/api/v1/training/categories", tag = "training",
    responses((status = 200, body = Vec<Category>), (status = 403, body = crate::error::Problem)))]
pub async fn categories(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Category>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::categories(&ctx, &mut conn).await?))
}

#[utoipa::path(get, path = "/api/v1/training/courses", tag = "training",
    responses((status = 200, body = Vec<Course>), (status = 403, body = crate::error::Problem)))]
pub async fn courses(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Course>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::courses(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/training/courses", tag = "training", request_body = CourseInput,
    responses((status = 201, body = Course), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create_course(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<CourseInput>,
) -> AppResult<(StatusCode, Json<Course>)> {
    let mut tx = state.db.begin().await?;
    let course = service::create_course(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(course)))
}

#[utoipa::path(put, path = "/api/v1/training/courses/{id}", tag = "training",
    params(("id" = Uuid, Path)), request_body = CourseInput,
    responses((status = 200, body = Course), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update_course(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<CourseInput>,
) -> AppResult<Json<Course>> {
    let mut tx = state.db.begin().await?;
    let course = service::update_course(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(course))
}

/// Training records, newest first. Without `training.manage`, only the caller's own.
#[utoipa::path(get, path = "/api/v1/training/records", tag = "training", params(RecordQuery),
    responses((status = 200, body = Page<TrainingRecord>), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn records(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> AppResult<Json<Page<TrainingRecord>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::list_records(&ctx, &mut conn, q).await?))
}

/// Records a completion for one member or a whole crew (`user_ids`): one record each.
#[utoipa::path(post, path = "/api/v1/training/records", tag = "training", request_body = RecordInput,
    responses((status = 201, body = Vec<TrainingRecord>), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create_records(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<RecordInput>,
) -> AppResult<(StatusCode, Json<Vec<TrainingRecord>>)> {
    let mut tx = state.db.begin().await?;
    let created = service::create_records(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/training/records/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TrainingRecord), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn record(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<TrainingRecord>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::get_record(&ctx, &mut conn, id).await?))
}

/// Corrects a record's date, hours, expiry or certificate number, with a reason (audited).
#[utoipa::path(post, path = "/api/v1/training/records/{id}/correct", tag = "training",
    params(("id" = Uuid, Path)), request_body = service::RecordCorrection,
    responses((status = 200, body = TrainingRecord), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn correct_record(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<service::RecordCorrection>,
) -> AppResult<Json<TrainingRecord>> {
    let mut tx = state.db.begin().await?;
    let r = service::correct_record(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Voids a record: it stays, marked cancelled, and counts for nothing.
#[utoipa::path(post, path = "/api/v1/training/records/{id}/void", tag = "training",
    params(("id" = Uuid, Path)), request_body = VoidRecord,
    responses((status = 200, body = TrainingRecord), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn void_record(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<VoidRecord>,
) -> AppResult<Json<TrainingRecord>> {
    let mut tx = state.db.begin().await?;
    let r = service::void_record(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// A crew session: the records of one entry for several members (their shared `session_id`).
#[utoipa::path(get, path = "/api/v1/training/sessions/{id}", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = service::TrainingSession),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn session(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<service::TrainingSession>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::get_session(&ctx, &mut conn, id).await?))
}

/// Voids every record of a crew session still counting, with one reason.
#[utoipa::path(post, path = "/api/v1/training/sessions/{id}/void", tag = "training",
    params(("id" = Uuid, Path)), request_body = VoidRecord,
    responses((status = 200, body = service::TrainingSession),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn void_session(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<VoidRecord>,
) -> AppResult<Json<service::TrainingSession>> {
    let mut tx = state.db.begin().await?;
    let s = service::void_session(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(s))
}

#[utoipa::path(get, path = "/api/v1/training/requirements", tag = "training",
    responses((status = 200, body = Vec<Requirement>), (status = 403, body = crate::error::Problem)))]
pub async fn requirements(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<Vec<Requirement>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::requirements(&ctx, &mut conn).await?))
}

#[utoipa::path(post, path = "/api/v1/training/requirements", tag = "training",
    request_body = RequirementInput,
    responses((status = 201, body = Requirement), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create_requirement(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<RequirementInput>,
) -> AppResult<(StatusCode, Json<Requirement>)> {
    let mut tx = state.db.begin().await?;
    let r = service::create_requirement(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(put, path = "/api/v1/training/requirements/{id}", tag = "training",
    params(("id" = Uuid, Path)), request_body = RequirementInput,
    responses((status = 200, body = Requirement), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update_requirement(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<RequirementInput>,
) -> AppResult<Json<Requirement>> {
    let mut tx = state.db.begin().await?;
    let r = service::update_requirement(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    /// The date to judge at (default: the department's today).
    pub as_of: Option<NaiveDate>,
}

/// A member's exemption from training requirements, given by an officer.
#[utoipa::path(get, path = "/api/v1/training/members/{id}/exemption", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = service::Exemption),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn exemption(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<service::Exemption>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::exemption(&ctx, &mut conn, id).await?))
}

/// Exempts a member from training requirements with a reason, or ends it (audited).
#[utoipa::path(put, path = "/api/v1/training/members/{id}/exemption", tag = "training",
    params(("id" = Uuid, Path)), request_body = service::Exemption,
    responses((status = 200, body = service::Exemption),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn set_exemption(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<service::Exemption>,
) -> AppResult<Json<service::Exemption>> {
    let mut tx = state.db.begin().await?;
    let e = service::set_exemption(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// How the department judges compliance (whether the current month counts).
#[utoipa::path(get, path = "/api/v1/training/compliance/config", tag = "training",
    responses((status = 200, body = service::ComplianceConfig),
        (status = 403, body = crate::error::Problem)))]
pub async fn compliance_config(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<service::ComplianceConfig>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::compliance_config(&ctx, &mut conn).await?))
}

/// Changes how the department judges compliance (`training.manage`; audited).
#[utoipa::path(put, path = "/api/v1/training/compliance/config", tag = "training",
    request_body = service::ComplianceConfig,
    responses((status = 200, body = service::ComplianceConfig),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_compliance_config(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<service::ComplianceConfig>,
) -> AppResult<Json<service::ComplianceConfig>> {
    let mut tx = state.db.begin().await?;
    let config = service::set_compliance_config(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok(Json(config))
}

/// A member's standing: each applicable requirement with what it asks, what is done, the
/// records that counted, what waivers and leaves took off, and the overall colour with its
/// reason. The member's own, or anyone's with `training.manage`.
#[utoipa::path(get, path = "/api/v1/training/compliance/{member_id}", tag = "training",
    params(("member_id" = Uuid, Path), AsOf),
    responses((status = 200, body = ComplianceReport), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn compliance(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(member_id): PathId,
    ApiQuery(q): ApiQuery<AsOf>,
) -> AppResult<Json<ComplianceReport>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        service::member_compliance(&ctx, &mut conn, member_id, q.as_of).await?,
    ))
}

/// The department matrix: members (active, probationary, on leave) × active requirements.
#[utoipa::path(get, path = "/api/v1/training/matrix", tag = "training", params(MatrixQuery),
    responses((status = 200, body = Matrix), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn matrix(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<MatrixQuery>,
) -> AppResult<Json<Matrix>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::matrix(&ctx, &mut conn, q).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IsoQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// json (default), csv or pdf.
    #[param(pattern = "^(json|csv|pdf)$")]
    pub format: Option<String>,
}

/// The ISO training report for a date range: each member's hours per ISO category against the
/// figures, as JSON, CSV or PDF.
#[utoipa::path(get, path = "/api/v1/training/reports/iso", tag = "training", params(IsoQuery),
    responses((status = 200, description = "The report: JSON, or with `format` CSV or PDF",
            content((super::iso::IsoReport = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/pdf"))),
        (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn iso_report(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<IsoQuery>,
) -> AppResult<axum::response::Response> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "pdf"].contains(&format) {
        return Err(crate::error::AppError::field(
            "format",
            "must be json, csv or pdf",
        ));
    }
    let mut conn = state.db.acquire().await?;
    let report = super::iso::report(&ctx, &mut conn, q.from, q.to).await?;
    let name = format!("iso-training-{}-{}", report.from, report.to);
    let (body, kind) = match format {
        "csv" => (
            super::iso::csv(&report)?.into_bytes(),
            "text/csv; charset=utf-8",
        ),
        "pdf" => (super::iso::pdf(&report, ctx.locale), "application/pdf"),
        _ => return Ok(Json(report).into_response()),
    };
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{format}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// Papers attached (through the documents module)

/// Certificate scans and other papers attached to a training record (the member's own, or any with `training.manage`).
#[utoipa::path(get, path = "/api/v1/training/records/{id}/documents", tag = "training",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Document>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn record_documents(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Document>>> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id).await?
    };
    attached::list(&state, &ctx, source).await
}

/// Attaches a certificate scan to a training record (the member to their own; training officers to anyone's); it is filed in the member's own folder. The request body is the file itself (at most 256 MB; a PDF, picture, office
/// document or plain text, as its bytes show).
#[utoipa::path(post, path = "/api/v1/training/records/{id}/documents", tag = "training",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Document), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn attach_record_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<Document>)> {
    // Refused before a byte is read when the record is not the caller's to change.
    let papers = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id).await?
    };
    attached::add(&state, &ctx, papers, q, &headers, body).await
}

/// An attached document's file.
#[utoipa::path(get, path = "/api/v1/training/records/{id}/documents/{document}/file", tag = "training",
    params(("id" = Uuid, Path), ("document" = Uuid, Path)),
    responses((status = 200, description = "The file, as the type its bytes showed",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"), (String = "text/plain"))),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn record_document_file(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, document): PathIds,
) -> AppResult<axum::response::Response> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id).await?
    };
    attached::file(&state, &ctx, source, document).await
}

/// Removes an attached document (its file too).
#[utoipa::path(delete, path = "/api/v1/training/records/{id}/documents/{document}", tag = "training",
    params(("id" = Uuid, Path), ("document" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn detach_record_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, document): PathIds,
) -> AppResult<StatusCode> {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id).await?
    };
    attached::remove(&state, &ctx, source, document).await
}
