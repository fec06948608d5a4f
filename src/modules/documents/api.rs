//! `/api/v1/documents`: thin JSON handlers over `service`. Reading needs `documents.view` and
//! sees only the folders the caller may see; folders and other people's documents need
//! `documents.manage`; a member adds and changes documents in their own folder. Uploads are the
//! request body itself (the file), streamed to disk; downloads are streamed back.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::rules::MAX_FILE_BYTES;
use super::service::files::{
    self, Document, DocumentInput, DocumentQuery, UploadQuery, Version,
};
use super::service::{self, Folder, FolderInput};
use crate::auth::Ctx;
use crate::error::AppResult;
use crate::http::{ApiJson, ApiQuery, Page};
use crate::state::AppState;
use crate::uploads::commit_or_remove;
use crate::web::{PathId, PathIds};

pub fn router() -> Router<AppState> {
    // Uploads stream past the server's usual body limit, up to the documents' own.
    let big = axum::extract::DefaultBodyLimit::max(MAX_FILE_BYTES as usize + 1);
    Router::new()
        .route("/api/v1/documents", get(documents))
        .route("/api/v1/documents/folders", get(folders).post(create_folder))
        .route("/api/v1/documents/my-folder", get(my_folder))
        .route(
            "/api/v1/documents/folders/{id}",
            get(folder).put(update_folder).delete(delete_folder),
        )
        .route(
            "/api/v1/documents/folders/{id}/documents",
            post(upload).layer(big),
        )
        .route(
            "/api/v1/documents/{id}",
            get(document).put(update_document).delete(delete_document),
        )
        .route("/api/v1/documents/{id}/archive", post(archive))
        .route("/api/v1/documents/{id}/restore", post(restore))
        .route(
            "/api/v1/documents/{id}/versions",
            get(versions).post(add_version).layer(big),
        )
        .route("/api/v1/documents/{id}/file", get(download))
        .route(
            "/api/v1/documents/{id}/versions/{version}/file",
            get(download_version),
        )
}

type Problem = crate::error::Problem;

/// The folders the caller sees, with their active documents' count.
#[utoipa::path(get, path = "/api/v1/documents/folders", tag = "documents",
    responses((status = 200, body = Vec<Folder>), (status = 403, body = Problem)))]
pub async fn folders(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Folder>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::folders(&ctx, &mut conn).await?))
}

/// Adds a folder.
#[utoipa::path(post, path = "/api/v1/documents/folders", tag = "documents",
    request_body = FolderInput,
    responses((status = 201, body = Folder), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_folder(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<FolderInput>,
) -> AppResult<(StatusCode, Json<Folder>)> {
    let mut tx = state.db.begin().await?;
    let out = service::create_folder(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// One folder.
#[utoipa::path(get, path = "/api/v1/documents/folders/{id}", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Folder), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn folder(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Folder>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::folder(&ctx, &mut conn, id).await?))
}

/// Changes a folder's name (not a system folder's), description and who sees it.
#[utoipa::path(put, path = "/api/v1/documents/folders/{id}", tag = "documents",
    params(("id" = Uuid, Path)), request_body = FolderInput,
    responses((status = 200, body = Folder), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_folder(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<FolderInput>,
) -> AppResult<Json<Folder>> {
    let mut tx = state.db.begin().await?;
    let out = service::update_folder(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Removes an empty folder officers added.
#[utoipa::path(delete, path = "/api/v1/documents/folders/{id}", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Folder), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_folder(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Folder>> {
    let mut tx = state.db.begin().await?;
    let out = service::delete_folder(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// The caller's own folder (seen by them and leadership), made on first use.
#[utoipa::path(get, path = "/api/v1/documents/my-folder", tag = "documents",
    responses((status = 200, body = Folder), (status = 403, body = Problem)))]
pub async fn my_folder(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Folder>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(service::my_folder(&ctx, &mut conn).await?))
}

/// Documents in the folders the caller sees, by name: one folder's, or a search.
#[utoipa::path(get, path = "/api/v1/documents", tag = "documents", params(DocumentQuery),
    responses((status = 200, body = Page<Document>), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn documents(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> AppResult<Json<Page<Document>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(files::documents(&ctx, &mut conn, q).await?))
}

/// The request body, streamed into the department's documents directory and checked.
async fn receive(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Body,
) -> AppResult<crate::uploads::Received> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    crate::uploads::receive(
        &files::dir_of(&state.config.data_dir, ctx.org_id),
        body,
        declared,
        MAX_FILE_BYTES,
    )
    .await
}

/// Commits an upload's rows; if that fails, the file already moved to `path` goes too.
/// Adds a document to a folder: the request body is the file itself (at most 256 MB; a PDF,
/// picture, Word, Excel, PowerPoint or OpenDocument file, or plain text, as its bytes show).
#[utoipa::path(post, path = "/api/v1/documents/folders/{id}/documents", tag = "documents",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Document), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<Document>)> {
    let data_dir = &state.config.data_dir;
    // Refused before a byte is read when the folder is not the caller's to add to.
    {
        let mut conn = state.db.acquire().await?;
        service::folder_to_change(&ctx, &mut conn, id).await?;
    }
    let received = receive(&state, &ctx, &headers, body).await?;
    let mut tx = state.db.begin().await?;
    let (out, path) = files::add(&ctx, &mut tx, data_dir, id, q, received).await?;
    commit_or_remove(tx, &path).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// One document with its current version.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Document), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Document>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(files::document(&ctx, &mut conn, id).await?))
}

/// Changes a document's name, description, tags or folder.
#[utoipa::path(put, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = Uuid, Path)), request_body = DocumentInput,
    responses((status = 200, body = Document), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<DocumentInput>,
) -> AppResult<Json<Document>> {
    let mut tx = state.db.begin().await?;
    let out = files::update(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Deletes a document with every version (documents Logbook made are archived instead).
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Document), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_document(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Document>> {
    let mut tx = state.db.begin().await?;
    let (out, paths) = files::delete(&ctx, &mut tx, &state.config.data_dir, id).await?;
    tx.commit().await?;
    for p in paths {
        crate::uploads::remove_quietly(&p);
    }
    Ok(Json(out))
}

/// Archives a document: kept, out of the library's lists.
#[utoipa::path(post, path = "/api/v1/documents/{id}/archive", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Document), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn archive(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Document>> {
    let mut tx = state.db.begin().await?;
    let out = files::set_archived(&ctx, &mut tx, id, true).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Puts an archived document back in the library.
#[utoipa::path(post, path = "/api/v1/documents/{id}/restore", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Document), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Document>> {
    let mut tx = state.db.begin().await?;
    let out = files::set_archived(&ctx, &mut tx, id, false).await?;
    tx.commit().await?;
    Ok(Json(out))
}

/// Every version of a document, the newest first.
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Version>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn versions(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Json<Vec<Version>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(files::versions(&ctx, &mut conn, id).await?))
}

/// Adds a new version of a document: the request body is the file itself.
#[utoipa::path(post, path = "/api/v1/documents/{id}/versions", tag = "documents",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Document), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_version(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<Document>)> {
    let data_dir = &state.config.data_dir;
    {
        let mut conn = state.db.acquire().await?;
        let d = files::document(&ctx, &mut conn, id).await?;
        if !d.may_change {
            return Err(crate::error::AppError::Forbidden(
                "only officers with `documents.manage` change documents; members do in their \
                 own folder"
                    .into(),
            ));
        }
    }
    let received = receive(&state, &ctx, &headers, body).await?;
    let mut tx = state.db.begin().await?;
    let (out, path) = files::add_version(&ctx, &mut tx, data_dir, id, q, received).await?;
    commit_or_remove(tx, &path).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The current version's file, as a download.
#[utoipa::path(get, path = "/api/v1/documents/{id}/file", tag = "documents",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The file, as the type its bytes showed",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                (Vec<u8> = "application/vnd.oasis.opendocument.text"),
                (Vec<u8> = "application/vnd.oasis.opendocument.spreadsheet"),
                (String = "text/plain"))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn download(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> AppResult<Response> {
    send(&state, &ctx, id, None).await
}

/// One version's file, as a download.
#[utoipa::path(get, path = "/api/v1/documents/{id}/versions/{version}/file", tag = "documents",
    params(("id" = Uuid, Path), ("version" = Uuid, Path)),
    responses((status = 200, description = "The file, as the type its bytes showed",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                (Vec<u8> = "application/vnd.oasis.opendocument.text"),
                (Vec<u8> = "application/vnd.oasis.opendocument.spreadsheet"),
                (String = "text/plain"))),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn download_version(
    State(state): State<AppState>,
    ctx: Ctx,
    PathIds(id, version): PathIds,
) -> AppResult<Response> {
    send(&state, &ctx, id, Some(version)).await
}

/// A document's file streamed from disk (the pages' download links use it too).
pub async fn send(
    state: &AppState,
    ctx: &Ctx,
    id: uuid::Uuid,
    version: Option<uuid::Uuid>,
) -> AppResult<Response> {
    let stored = {
        let mut conn = state.db.acquire().await?;
        files::stored(ctx, &mut conn, &state.config.data_dir, id, version).await?
    };
    stream(stored).await
}

/// A stored file as a download, checked against its fingerprint as it goes.
async fn stream(stored: files::Stored) -> AppResult<Response> {
    crate::uploads::download(
        &stored.path,
        &stored.file_name,
        &stored.content_type,
        stored.size_bytes,
        stored.sha256,
    )
    .await
}

/// The answers for documents another module attaches to its records (a training record's
/// certificate scans, an item's manuals), once that module has checked the record and the
/// caller and said where the papers are filed. Its handlers are thin calls to these.
pub mod attached {
    use axum::body::Body;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::Response;
    use axum::Json;

    use super::super::service::files::{self, Document, Filed, Source, UploadQuery};
    use crate::auth::Ctx;
    use crate::error::AppResult;
    use crate::state::AppState;

    /// What is attached to the record.
    pub async fn list(state: &AppState, ctx: &Ctx, source: Source) -> AppResult<Json<Vec<Document>>> {
        let mut conn = state.db.acquire().await?;
        Ok(Json(files::attached(ctx, &mut conn, source).await?))
    }

    /// Attaches the request body (the file, streamed to disk and typed by its bytes).
    pub async fn add(
        state: &AppState,
        ctx: &Ctx,
        (source, filed): (Source, Filed),
        q: UploadQuery,
        headers: &HeaderMap,
        body: Body,
    ) -> AppResult<(StatusCode, Json<Document>)> {
        let received = super::receive(state, ctx, headers, body).await?;
        let mut tx = state.db.begin().await?;
        let (out, path) =
            files::attach(ctx, &mut tx, &state.config.data_dir, source, filed, q, received).await?;
        crate::uploads::commit_or_remove(tx, &path).await?;
        Ok((StatusCode::CREATED, Json(out)))
    }

    /// An attached document's file, streamed.
    pub async fn file(
        state: &AppState,
        ctx: &Ctx,
        source: Source,
        id: uuid::Uuid,
    ) -> AppResult<Response> {
        let stored = {
            let mut conn = state.db.acquire().await?;
            files::attached_file(ctx, &mut conn, &state.config.data_dir, source, id).await?
        };
        super::stream(stored).await
    }

    /// Removes an attached document and its files.
    pub async fn remove(
        state: &AppState,
        ctx: &Ctx,
        source: Source,
        id: uuid::Uuid,
    ) -> AppResult<StatusCode> {
        let mut tx = state.db.begin().await?;
        let (_, paths) = files::detach(ctx, &mut tx, &state.config.data_dir, source, id).await?;
        tx.commit().await?;
        for p in paths {
            crate::uploads::remove_quietly(&p);
        }
        Ok(StatusCode::NO_CONTENT)
    }
}
