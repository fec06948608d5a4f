//! `/api/v1/backups` (`settings.manage`, one organization on the host): the list, "back up now"
//! and its progress, checking, downloading and deleting a backup, uploading an archive, and
//! restoring one with its progress.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use serde::Deserialize;

use super::manage::{self, BackupEntry, BackupList, BackupRun};
use super::restoring::{self, RestoreRun};
use crate::auth::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/backups", get(list).post(start))
        .route("/api/v1/backups/progress", get(progress))
        .route("/api/v1/backups/{file}", axum::routing::delete(delete))
        .route("/api/v1/backups/{file}/download", get(download))
        .route("/api/v1/backups/{file}/verify", post(verify))
        .route(UPLOAD_PATH, post(upload))
        .route("/api/v1/backups/{file}/restore", post(restore))
        .route("/api/v1/backups/restore/progress", get(restore_progress))
}

/// Uploads take longer than other requests (see `app::unbounded`).
pub const UPLOAD_PATH: &str = "/api/v1/backups/upload";

/// A backup archive as a request body: the file's bytes (`logbook-….lbk`).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Archive(#[allow(dead_code)] Vec<u8>);

/// The declared length of a request body.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The run secret a caller presented (`X-Restore-Run`, or the pages' cookie).
pub fn run_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get(restoring::RUN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            axum_extra::extract::CookieJar::from_headers(headers)
                .get(restoring::RUN_COOKIE)
                .map(|c| c.value().to_string())
        })
}

/// Uploads an archive: the request body is the file itself (`application/octet-stream`, any
/// size the disk has room for). It is read through and checked before it is listed; an
/// encrypted one that the server's passphrase does not open is listed as needing its
/// passphrase. 422: not a Logbook backup, damaged or cut short (nothing kept); 507: not enough
/// free space.
#[utoipa::path(post, path = "/api/v1/backups/upload", tag = "backups",
    request_body(content = Archive, content_type = "application/octet-stream",
        description = "the archive (`logbook-….lbk`)"),
    responses((status = 201, body = BackupEntry), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 507, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<BackupEntry>)> {
    let entry = manage::upload(&state, &ctx, body, content_length(&headers)).await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// The passphrase of an encrypted archive; without one, the server's backup passphrase is
    /// tried.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Restores the backup in the background: 202, then poll `/api/v1/backups/restore/progress`
/// with the answer's `run_token` in `X-Restore-Run` (the restore ends every session, yours
/// too). First a safety backup of the current data is made; all current data is then replaced
/// by the backup's. 409 while a backup or restore runs; 422 on `passphrase` when it is missing
/// or wrong (nothing changed).
#[utoipa::path(post, path = "/api/v1/backups/{file}/restore", tag = "backups",
    params(("file" = String, Path)), request_body = RestoreInput,
    responses((status = 202, body = RestoreRun), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
    ApiJson(input): ApiJson<RestoreInput>,
) -> AppResult<Response> {
    let run = manage::restore(&state, &ctx, &file, input.passphrase).await?;
    let mut res = (StatusCode::ACCEPTED, Json(run)).into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_static("/api/v1/backups/restore/progress"),
    );
    Ok(res)
}

/// How the running restore is going, or how the last one ended (`result` or `error`): for the
/// run's secret in `X-Restore-Run`, or for an administrator.
#[utoipa::path(get, path = "/api/v1/backups/restore/progress", tag = "backups",
    params(("X-Restore-Run" = Option<String>, Header, description = "the run's `run_token`")),
    responses((status = 200, body = RestoreRun), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn restore_progress(
    State(state): State<AppState>,
    ctx: Result<Ctx, AppError>,
    headers: HeaderMap,
) -> AppResult<Json<RestoreRun>> {
    let secret = run_secret(&headers);
    let run = manage::restore_progress(&state, ctx.as_ref().ok(), secret.as_deref()).await;
    match (run, ctx) {
        // Neither the run's secret nor a session: say why the session was refused.
        (Err(AppError::Unauthorized(_)), Err(refused)) => Err(refused),
        (run, _) => run.map(Json),
    }
}

/// The backups, newest first, with what each holds once it has been read through. 409 when the
/// host serves several organizations (backups are then made from the command line).
#[utoipa::path(get, path = "/api/v1/backups", tag = "backups",
    responses((status = 200, body = BackupList), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<BackupList>> {
    Ok(Json(manage::list(&state, &ctx).await?))
}

/// Starts a backup in the background: 202, then poll `/api/v1/backups/progress`. 409 while a
/// backup or restore runs.
#[utoipa::path(post, path = "/api/v1/backups", tag = "backups",
    responses((status = 202, body = BackupRun), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn start(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let run = manage::start(&state, &ctx).await?;
    let mut res = (StatusCode::ACCEPTED, Json(run)).into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_static("/api/v1/backups/progress"),
    );
    Ok(res)
}

/// How the running backup is going, or how the last one ended (`result` or `error`).
#[utoipa::path(get, path = "/api/v1/backups/progress", tag = "backups",
    responses((status = 200, body = BackupRun), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn progress(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<BackupRun>> {
    Ok(Json(manage::progress(&state, &ctx).await?))
}

/// Reads the backup through and checks it against its manifest; 422 says why it does not check
/// out.
#[utoipa::path(post, path = "/api/v1/backups/{file}/verify", tag = "backups",
    params(("file" = String, Path)),
    responses((status = 200, body = BackupEntry), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> AppResult<Json<BackupEntry>> {
    Ok(Json(manage::check(&state, &ctx, &file).await?))
}

/// The archive itself, as an attachment.
#[utoipa::path(get, path = "/api/v1/backups/{file}/download", tag = "backups",
    params(("file" = String, Path)),
    responses((status = 200, description = "the archive", content_type = "application/octet-stream"),
        (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> AppResult<Response> {
    let (path, bytes) = manage::download(&state, &ctx, &file).await?;
    let opened = tokio::fs::File::open(&path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AppError::NotFound,
            _ => AppError::Internal(anyhow::anyhow!("cannot open {}: {e}", path.display())),
        })?;
    let stream = futures_util::stream::unfold(opened, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    // The name is one from the list; anything odd in it (a name copied in by hand) is replaced
    // for the header.
    let name: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|_| AppError::BadRequest("a backup is named by its file name alone".into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, HeaderValue::from(bytes)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Deletes the backup (and what the list knew of it). Audited.
#[utoipa::path(delete, path = "/api/v1/backups/{file}", tag = "backups",
    params(("file" = String, Path)),
    responses((status = 204), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(file): Path<String>,
) -> AppResult<StatusCode> {
    manage::delete(&state, &ctx, &file).await?;
    Ok(StatusCode::NO_CONTENT)
}
