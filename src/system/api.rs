//! `/api/v1/system` (`settings.manage`): the status page's data, and the HTTPS certificate
//! (read, upload, back to the generated one).

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::certificate::{self, CertificateUpload, HttpsSettings, UploadedCertificate};
use super::status::{self, SystemStatus};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/system/status", get(read))
        .route(
            "/api/v1/system/tls",
            get(tls_settings).put(upload_certificate),
        )
        .route(
            "/api/v1/system/tls/uploaded",
            delete(remove_uploaded_certificate),
        )
}

/// It takes no parameters; a misspelt one is refused rather than ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Host, server process, disks, database, certificate and this organization's recent job runs.
#[utoipa::path(get, path = "/api/v1/system/status", tag = "system",
    responses((status = 200, body = SystemStatus), (status = 403, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> AppResult<Json<SystemStatus>> {
    Ok(Json(status::collect(&state, &ctx).await?))
}

/// The HTTPS mode, the certificate served and the uploaded one stored, if any.
#[utoipa::path(get, path = "/api/v1/system/tls", tag = "system",
    responses((status = 200, body = HttpsSettings), (status = 403, body = crate::error::Problem)))]
pub async fn tls_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> AppResult<Json<HttpsSettings>> {
    Ok(Json(certificate::read(&state, &ctx).await?))
}

/// Checks the certificate and key, stores them and serves them to new connections at once (with
/// HTTPS off: stores them for when it is on). 422 names the field and what is wrong with it (a
/// key that does not match, an expired certificate…); 409 when the configuration names the
/// certificate files.
#[utoipa::path(put, path = "/api/v1/system/tls", tag = "system",
    request_body = CertificateUpload,
    responses((status = 200, body = UploadedCertificate), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<CertificateUpload>,
) -> AppResult<Json<UploadedCertificate>> {
    Ok(Json(certificate::upload(&state, &ctx, input).await?))
}

/// Deletes the uploaded certificate and goes back to the one the server makes itself. 404 when
/// none is stored.
#[utoipa::path(delete, path = "/api/v1/system/tls/uploaded", tag = "system",
    responses((status = 200, body = HttpsSettings), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn remove_uploaded_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<HttpsSettings>> {
    Ok(Json(certificate::remove(&state, &ctx).await?))
}
