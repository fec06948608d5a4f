//! A training record's papers (`/training/records/{id}/papers`): the certificate scans attached
//! to it, for the member whose record it is and for training officers, who attach and remove
//! them here. They are kept by the documents module, in the member's own folder.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use uuid::Uuid;

use super::super::service;
use super::chrome;
use super::standing::{RecordRow, record_row};
use crate::modules::documents::service::files;
use crate::state::AppState;
use crate::web::{self, Chrome, DoneQuery, PageResult, PathId, PathIds, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training/records/{id}/papers", get(papers_page))
        .route(
            "/training/records/{id}/papers/{document}/remove",
            post(remove),
        )
}

/// A paper in the list: (id, name, file and size).
type Paper = (Uuid, String, String);

#[derive(Template)]
#[template(path = "training/papers.html")]
struct PapersPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    manager: bool,
    r: RecordRow,
    papers: Vec<Paper>,
    upload_js: String,
    max_size: String,
}

async fn papers_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let record = service::get_record(&ctx, &mut conn, id).await?;
    let (source, _) = service::papers_of(&ctx, &mut conn, id).await?;
    let papers = files::attached(&ctx, &mut conn, source)
        .await?
        .into_iter()
        .map(|d| {
            let meta = format!(
                "{} · {}",
                d.file_name,
                crate::system::status::bytes(d.size_bytes)
            );
            (d.id, d.name, meta)
        })
        .collect();
    let notice = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("attached") => Some("Attached. It is kept in the member's own folder of the library."),
        Some("removed") => Some("Removed."),
        _ => None,
    };
    Ok(web::render(&PapersPage {
        chrome: chrome(&ctx),
        notice,
        manager: ctx.has(crate::auth::permissions::TRAINING_MANAGE),
        r: record_row(record, ctx.locale),
        papers,
        upload_js: web::asset_url("upload.js"),
        max_size: crate::system::status::bytes(crate::modules::documents::rules::MAX_FILE_BYTES),
    }))
}

async fn remove(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, document): PathIds,
) -> PageResult {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id).await?
    };
    crate::modules::documents::api::attached::remove(&state, &ctx, source, document).await?;
    Ok(Redirect::to(&format!("/training/records/{id}/papers?done=removed")).into_response())
}
