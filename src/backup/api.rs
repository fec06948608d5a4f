//! `/api/v1/backups` (`settings.manage`, one organization on the host): the list, "back up now"
//! and its progress, checking, downloading and deleting a backup.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::manage::{self, BackupEntry, BackupList, BackupRun};
use crate::app::AppState;
use crate::auth::Ctx;
use crate::error::{AppError, AppResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/backups", get(list).post(start))
        .route("/api/v1/backups/progress", get(progress))
        .route("/api/v1/backups/{file}", axum::routing::delete(delete))
        .route("/api/v1/backups/{file}/download", get(download))
        .route("/api/v1/backups/{file}/verify", post(verify))
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
