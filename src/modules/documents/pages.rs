//! `/documents` pages, phone first: the library (search, then the folders), a folder (its
//! documents, page by page, and the upload with progress), a document (download, versions, its
//! details, archive, delete after asking), and the officers' folder form. Plain forms,
//! post-redirect-get; the rules live in `service`.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{DocumentStatus, DocumentType, MAX_FILE_BYTES, Visibility};
use super::service::files::{self, Document, DocumentInput, DocumentQuery};
use super::service::{self, DOCUMENTS_MANAGE, Folder, FolderInput};
use crate::auth::Ctx;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::system::status::bytes;
use crate::web::{self, Chrome, DoneQuery, FieldErrors, PageResult, Pager, PathId, PathIds, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/documents", get(library))
        .route("/documents/mine", get(mine))
        .route("/documents/folders/new", get(new_folder).post(create_folder))
        .route("/documents/folders/{id}", get(folder_page))
        .route("/documents/folders/{id}/edit", get(edit_folder).post(update_folder))
        .route("/documents/folders/{id}/delete", get(delete_folder_confirm).post(delete_folder))
        .route("/documents/{id}", get(document_page))
        .route("/documents/{id}/edit", post(update_document))
        .route("/documents/{id}/archive", post(archive))
        .route("/documents/{id}/restore", post(restore))
        .route("/documents/{id}/delete", get(delete_confirm).post(delete))
        .route("/documents/{id}/download", get(download))
        .route("/documents/{id}/versions/{version}/download", get(download_version))
}

const SECTION: &str = "/documents";

fn done_notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "uploaded" => "Uploaded. Add tags below so others find it.",
            "version" => "New version uploaded: it is now the one members download.",
            "saved" => "Changes saved.",
            "archived" => "Archived: it no longer shows in the folder. Restore it any time.",
            "restored" => "Restored to the folder.",
            "deleted" => "Document deleted.",
            "folder" => "Folder saved.",
            "folder-deleted" => "Folder deleted.",
            _ => return None,
        }
        .to_string(),
    )
}

fn visibility_label(f: &Folder) -> String {
    match f.visibility {
        Visibility::Everyone => "Everyone".into(),
        Visibility::Leadership => "Leadership only".into(),
        Visibility::Owner => "Private".into(),
        Visibility::Roles => f
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A document as a line of a list.
struct Line {
    id: Uuid,
    name: String,
    meta: String,
    folder: String,
    tags: Vec<String>,
}

fn line(ctx: &Ctx, d: &Document, with_folder: bool) -> Line {
    let kind = kind_label(&d.content_type);
    Line {
        id: d.id,
        name: d.name.clone(),
        meta: format!(
            "{kind} · {} · {}{}",
            bytes(d.size_bytes),
            crate::time::day_in_words(d.updated_at.with_timezone(&ctx.local().tz).date_naive()),
            if d.version > 1 {
                format!(" · version {}", d.version)
            } else {
                String::new()
            }
        ),
        folder: if with_folder {
            d.folder.name.clone()
        } else {
            String::new()
        },
        tags: d.tags.clone(),
    }
}

fn kind_label(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "PDF",
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" => "Picture",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.oasis.opendocument.text" => "Document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.oasis.opendocument.spreadsheet" => "Spreadsheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "Slides",
        "text/plain" => "Text",
        _ => "File",
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    tag: Option<String>,
    page: Option<String>,
    archived: Option<String>,
    done: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The library

#[derive(Template)]
#[template(path = "documents/library.html")]
struct LibraryPage {
    chrome: Chrome,
    notice: Option<String>,
    can_manage: bool,
    q: String,
    tag: String,
    searching: bool,
    folders: Vec<FolderCard>,
    members: Vec<FolderCard>,
    results: Vec<Line>,
    total: u64,
    pager: Pager,
    refusal: Option<String>,
}

struct FolderCard {
    id: Uuid,
    name: String,
    description: String,
    documents: i64,
    visibility: String,
    private: bool,
}

fn card(f: &Folder) -> FolderCard {
    FolderCard {
        id: f.id,
        name: f.name.clone(),
        description: f.description.clone().unwrap_or_default(),
        documents: f.documents,
        visibility: visibility_label(f),
        private: f.visibility != Visibility::Everyone,
    }
}

async fn library(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let q = p.q.clone().unwrap_or_default().trim().to_string();
    let tag = p.tag.clone().unwrap_or_default().trim().to_string();
    let searching = !q.is_empty() || !tag.is_empty();
    let page = web::page_number(p.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let all = service::folders(&ctx, &mut conn).await?;
    // A member sees their own folder first (made on their first upload).
    let (members, shared): (Vec<&Folder>, Vec<&Folder>) =
        all.iter().partition(|f| f.owner.is_some());
    let mut refusal = None;
    let (results, total, per_page, page) = if searching {
        let found = files::documents(
            &ctx,
            &mut conn,
            DocumentQuery {
                q: Some(q.clone()),
                tag: Some(tag.clone()),
                page: Some(page),
                ..Default::default()
            },
        )
        .await;
        match found {
            Ok(f) => (
                f.items.iter().map(|d| line(&ctx, d, true)).collect(),
                f.total,
                f.per_page,
                f.page,
            ),
            Err(e @ AppError::Validation(_)) => {
                refusal = Some(web::refusal(&e));
                (Vec::new(), 0, 50, 1)
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        (Vec::new(), 0, 50, 1)
    };
    let (lq, ltag) = (q.clone(), tag.clone());
    Ok(web::render(&LibraryPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        notice: done_notice(p.done.as_deref()),
        can_manage: ctx.has(DOCUMENTS_MANAGE),
        searching,
        folders: shared.into_iter().map(card).collect(),
        members: members
            .into_iter()
            .filter(|f| f.owner.as_ref().is_some_and(|o| o.id != ctx.user_id))
            .map(card)
            .collect(),
        results,
        total,
        pager: Pager::new(page, total, per_page, move |n| {
            web::link(
                "/documents",
                &[("q", &lq), ("tag", &ltag), ("page", &n.to_string())],
            )
        }),
        q,
        tag,
        refusal,
    }))
}

/// The member's own folder (made on first visit).
async fn mine(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let f = service::my_folder(&ctx, &mut conn).await?;
    Ok(Redirect::to(&format!("/documents/folders/{}", f.id)).into_response())
}

// ---------------------------------------------------------------------------------------------
// A folder

#[derive(Template)]
#[template(path = "documents/folder.html")]
struct FolderPage {
    chrome: Chrome,
    notice: Option<String>,
    f: FolderCard,
    may_change: bool,
    editable: bool,
    archived: bool,
    q: String,
    lines: Vec<Line>,
    total: u64,
    pager: Pager,
    max_size: String,
    upload_js: String,
}

async fn folder_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let q = p.q.clone().unwrap_or_default().trim().to_string();
    let archived = p.archived.is_some();
    let mut conn = state.db.acquire().await?;
    let f = service::folder(&ctx, &mut conn, id).await?;
    let found = files::documents(
        &ctx,
        &mut conn,
        DocumentQuery {
            folder: Some(id),
            q: (!q.is_empty()).then(|| q.chars().take(100).collect()),
            status: archived.then(|| DocumentStatus::Archived.as_str().to_string()),
            page: Some(web::page_number(p.page.as_deref())),
            ..Default::default()
        },
    )
    .await?;
    let (lq, path) = (q.clone(), format!("/documents/folders/{id}"));
    Ok(web::render(&FolderPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        notice: done_notice(p.done.as_deref()),
        may_change: f.may_change,
        editable: ctx.has(DOCUMENTS_MANAGE) && f.owner.is_none(),
        f: card(&f),
        archived,
        lines: found.items.iter().map(|d| line(&ctx, d, false)).collect(),
        total: found.total,
        pager: Pager::new(found.page, found.total, found.per_page, move |n| {
            let archived = if archived { "1" } else { "" };
            web::link(&path, &[("q", &lq), ("archived", archived), ("page", &n.to_string())])
        }),
        q,
        max_size: bytes(MAX_FILE_BYTES),
        upload_js: web::asset_url("upload.js"),
    }))
}

// ---------------------------------------------------------------------------------------------
// The folder form

#[derive(Template)]
#[template(path = "documents/folder_form.html")]
struct FolderFormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    system: bool,
    form: FolderForm,
    roles: Vec<(String, String, bool)>,
    visibilities: Vec<(&'static str, &'static str)>,
    errors: FieldErrors,
}

#[derive(Debug, Default, Clone)]
struct FolderForm {
    name: String,
    description: String,
    visibility: String,
    role_ids: Vec<String>,
}

impl FolderForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut f = FolderForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "description" => f.description = v,
                "visibility" => f.visibility = v,
                "role_ids" => f.role_ids.push(v),
                _ => {}
            }
        }
        f
    }

    fn input(&self, errors: &mut Vec<FieldError>) -> FolderInput {
        let mut role_ids = Vec::new();
        for r in &self.role_ids {
            if let Some(id) = web::parse_optional_id("role_ids", r, errors) {
                role_ids.push(id);
            }
        }
        FolderInput {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            visibility: self.visibility.clone(),
            role_ids,
        }
    }
}

const FOLDER_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("description", "About"),
    ("visibility", "Who sees it"),
    ("role_ids", "Roles"),
];

async fn folder_form_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    system: bool,
    form: FolderForm,
    errors: &[FieldError],
) -> Result<FolderFormPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let roles = crate::roles::service::list(ctx, &mut conn).await?;
    Ok(FolderFormPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        id,
        system,
        roles: roles
            .into_iter()
            .map(|r| {
                let id = r.id.to_string();
                let on = form.role_ids.contains(&id);
                (id, r.name, on)
            })
            .collect(),
        visibilities: vec![
            ("everyone", "Everyone who sees documents"),
            ("leadership", "Leadership only"),
            ("roles", "Members with one of these roles"),
        ],
        form,
        errors: FieldErrors::new(errors, FOLDER_LABELS),
    })
}

async fn new_folder(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(DOCUMENTS_MANAGE)?;
    let form = FolderForm {
        visibility: "everyone".into(),
        ..Default::default()
    };
    Ok(web::render(&folder_form_page(&state, &ctx, None, false, form, &[]).await?))
}

async fn create_folder(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(DOCUMENTS_MANAGE)?;
    let form = FolderForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let mut tx = state.db.begin().await?;
    let saved = service::create_folder(&ctx, &mut tx, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(f) => Ok(Redirect::to(&format!("/documents/folders/{}?done=folder", f.id)).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&folder_form_page(&state, &ctx, None, false, form, &errors).await?),
        )
            .into_response()),
    }
}

async fn edit_folder(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(DOCUMENTS_MANAGE)?;
    let f = {
        let mut conn = state.db.acquire().await?;
        service::folder(&ctx, &mut conn, id).await?
    };
    if f.owner.is_some() {
        return Err(AppError::NotFound.into());
    }
    let form = FolderForm {
        name: f.name.clone(),
        description: f.description.clone().unwrap_or_default(),
        visibility: f.visibility.as_str().into(),
        role_ids: f.roles.iter().map(|r| r.id.to_string()).collect(),
    };
    let system = f.system_key.is_some();
    Ok(web::render(&folder_form_page(&state, &ctx, Some(id), system, form, &[]).await?))
}

async fn update_folder(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(DOCUMENTS_MANAGE)?;
    let form = FolderForm::from_pairs(pairs);
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let mut tx = state.db.begin().await?;
    let system = service::folder(&ctx, &mut tx, id).await?.system_key.is_some();
    let saved = service::update_folder(&ctx, &mut tx, id, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(f) => Ok(Redirect::to(&format!("/documents/folders/{}?done=folder", f.id)).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&folder_form_page(&state, &ctx, Some(id), system, form, &errors).await?),
        )
            .into_response()),
    }
}

#[derive(Template)]
#[template(path = "documents/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    what: &'static str,
    name: String,
    back: String,
    action: String,
    refusal: Option<String>,
}

async fn delete_folder_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(DOCUMENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let f = service::folder(&ctx, &mut conn, id).await?;
    Ok(web::render(&ConfirmPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        what: "folder",
        name: f.name,
        back: format!("/documents/folders/{id}"),
        action: format!("/documents/folders/{id}/delete"),
        refusal: None,
    }))
}

async fn delete_folder(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match service::delete_folder(&ctx, &mut tx, id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/documents?done=folder-deleted").into_response())
        }
        Err(e @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let f = service::folder(&ctx, &mut conn, id).await?;
            Ok((
                StatusCode::CONFLICT,
                web::render(&ConfirmPage {
                    chrome: Chrome::for_viewer(&ctx, SECTION),
                    what: "folder",
                    name: f.name,
                    back: format!("/documents/folders/{id}"),
                    action: format!("/documents/folders/{id}/delete"),
                    refusal: Some(web::refusal(&e)),
                }),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A document

struct VersionLine {
    id: Uuid,
    version: u32,
    file_name: String,
    meta: String,
    note: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "documents/document.html")]
struct DocumentPage {
    chrome: Chrome,
    notice: Option<String>,
    refusal: Option<String>,
    d: Document,
    kind: &'static str,
    size: String,
    updated: String,
    archived: bool,
    generated: bool,
    /// A generated document's readable content (published minutes), made by Logbook from
    /// escaped text.
    content: Option<String>,
    versions: Vec<VersionLine>,
    folders: Vec<(String, String)>,
    form: DocForm,
    errors: FieldErrors,
    max_size: String,
    upload_js: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct DocForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    folder_id: String,
}

const DOC_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("description", "About"),
    ("tags", "Tags"),
    ("folder_id", "Folder"),
];

async fn document_view(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    form: Option<DocForm>,
    errors: &[FieldError],
    notice: Option<String>,
    refusal: Option<String>,
) -> Result<DocumentPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let d = files::document(ctx, &mut conn, id).await?;
    let versions = files::versions(ctx, &mut conn, id).await?;
    let content = if d.document_type == DocumentType::Generated {
        files::content_html(ctx, &mut conn, id).await?
    } else {
        None
    };
    let folders = if d.may_change {
        service::folders(ctx, &mut conn)
            .await?
            .into_iter()
            .filter(|f| f.may_change)
            .map(|f| (f.id.to_string(), f.name))
            .collect()
    } else {
        Vec::new()
    };
    let tz = ctx.local();
    let form = form.unwrap_or_else(|| DocForm {
        name: d.name.clone(),
        description: d.description.clone().unwrap_or_default(),
        tags: d.tags.join(", "),
        folder_id: d.folder.id.to_string(),
    });
    Ok(DocumentPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        notice,
        refusal,
        kind: kind_label(&d.content_type),
        size: bytes(d.size_bytes),
        updated: tz.moment(&d.updated_at),
        archived: d.status == DocumentStatus::Archived,
        generated: d.document_type == DocumentType::Generated,
        content,
        versions: versions
            .iter()
            .map(|v| VersionLine {
                id: v.id,
                version: v.version,
                file_name: v.file_name.clone(),
                meta: format!(
                    "{} · {}{}",
                    bytes(v.size_bytes),
                    tz.moment(&v.created_at),
                    v.uploaded_by
                        .as_ref()
                        .map(|u| format!(" · {}", u.name))
                        .unwrap_or_default()
                ),
                note: v.note.clone().unwrap_or_default(),
                current: v.version == d.version,
            })
            .collect(),
        folders,
        form,
        errors: FieldErrors::new(errors, DOC_LABELS),
        max_size: bytes(MAX_FILE_BYTES),
        upload_js: web::asset_url("upload.js"),
        d,
    })
}

async fn document_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    let notice = done_notice(done.done.as_deref());
    Ok(web::render(&document_view(&state, &ctx, id, None, &[], notice, None).await?))
}

async fn update_document(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<DocForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let folder_id = web::parse_optional_id("folder_id", &form.folder_id, &mut errors);
    let input = DocumentInput {
        name: form.name.clone(),
        description: Some(form.description.clone()),
        tags: form.tags.clone(),
        folder_id,
    };
    let mut tx = state.db.begin().await?;
    let saved = files::update(&ctx, &mut tx, id, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to(&format!("/documents/{id}?done=saved")).into_response()),
        None => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            web::render(&document_view(&state, &ctx, id, Some(form), &errors, None, None).await?),
        )
            .into_response()),
    }
}

async fn set_archived(state: &AppState, ctx: &Ctx, id: Uuid, archive: bool) -> PageResult {
    let mut tx = state.db.begin().await?;
    match files::set_archived(ctx, &mut tx, id, archive).await {
        Ok(d) => {
            tx.commit().await?;
            let to = if archive {
                format!("/documents/folders/{}?done=archived", d.folder.id)
            } else {
                format!("/documents/{id}?done=restored")
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let page = document_view(state, ctx, id, None, &[], None, Some(web::refusal(&e))).await?;
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn archive(State(state): State<AppState>, Viewer(ctx): Viewer, PathId(id): PathId) -> PageResult {
    set_archived(&state, &ctx, id, true).await
}

async fn restore(State(state): State<AppState>, Viewer(ctx): Viewer, PathId(id): PathId) -> PageResult {
    set_archived(&state, &ctx, id, false).await
}

async fn delete_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let d = files::document(&ctx, &mut conn, id).await?;
    if !d.may_change {
        return Err(AppError::Forbidden("only officers with `documents.manage` delete documents; members do in their own folder".into()).into());
    }
    Ok(web::render(&ConfirmPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        what: "document",
        name: d.name,
        back: format!("/documents/{id}"),
        action: format!("/documents/{id}/delete"),
        refusal: None,
    }))
}

async fn delete(State(state): State<AppState>, Viewer(ctx): Viewer, PathId(id): PathId) -> PageResult {
    let mut tx = state.db.begin().await?;
    match files::delete(&ctx, &mut tx, &state.config.data_dir, id).await {
        Ok((d, paths)) => {
            tx.commit().await?;
            for p in paths {
                crate::uploads::remove_quietly(&p);
            }
            Ok(Redirect::to(&format!("/documents/folders/{}?done=deleted", d.folder.id)).into_response())
        }
        Err(e @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let page = document_view(&state, &ctx, id, None, &[], None, Some(web::refusal(&e))).await?;
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn download(State(state): State<AppState>, Viewer(ctx): Viewer, PathId(id): PathId) -> PageResult {
    Ok(super::api::send(&state, &ctx, id, None).await?)
}

async fn download_version(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathIds(id, version): PathIds,
) -> PageResult {
    Ok(super::api::send(&state, &ctx, id, Some(version)).await?)
}
