//! Documents and their versions. A version's bytes live at
//! `<data_dir>/documents/<department>/<version id>` (mode 0600, so backups carry them); the
//! upload is streamed there by `crate::uploads` before the row is written, and moved into place
//! only when the row is: the caller commits, and removes the file if the commit fails.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{DOCUMENTS_MANAGE, DOCUMENTS_VIEW, Folder, Named, folder, folder_to_change, visible};
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::Page;
use crate::input::{self, Checks};
use crate::modules::documents::rules::{self, DocumentStatus, DocumentType};
use crate::uploads::{self, Received};

/// A document as the caller sees it, with its current version's file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Document {
    pub id: Uuid,
    pub folder: Named,
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    #[schema(schema_with = DocumentStatus::schema_object)]
    pub status: DocumentStatus,
    #[schema(schema_with = DocumentType::schema_object)]
    pub document_type: DocumentType,
    /// The current version's number (1 for the first upload).
    pub version: u32,
    pub file_name: String,
    /// Read from the file's bytes.
    pub content_type: String,
    pub size_bytes: u64,
    pub created_by: Option<Named>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the caller may change, archive or delete it.
    pub may_change: bool,
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: Uuid,
    folder_id: Uuid,
    folder_name: String,
    folder_owner: Option<Uuid>,
    folder_owner_name: Option<String>,
    name: String,
    description: Option<String>,
    tags: String,
    status: DocumentStatus,
    document_type: DocumentType,
    current_version: u32,
    file_name: String,
    content_type: String,
    size_bytes: u64,
    created_by: Option<Uuid>,
    creator_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const DOCUMENT_SELECT: &str = "SELECT d.id, d.folder_id, f.name AS folder_name,
        f.owner_user_id AS folder_owner,
        CONCAT(fu.first_name, ' ', fu.last_name) AS folder_owner_name, d.name, d.description, d.tags, d.status,
        d.document_type, d.current_version, v.file_name, v.content_type, v.size_bytes,
        d.created_by, CONCAT(u.first_name, ' ', u.last_name) AS creator_name,
        d.created_at, d.updated_at
   FROM documents d
   JOIN document_folders f ON f.organization_id = d.organization_id AND f.id = d.folder_id
   JOIN document_versions v ON v.organization_id = d.organization_id AND v.document_id = d.id
                           AND v.version = d.current_version
   LEFT JOIN users u ON u.organization_id = d.organization_id AND u.id = d.created_by
   LEFT JOIN users fu ON fu.organization_id = f.organization_id AND fu.id = f.owner_user_id";

fn document_of(ctx: &Ctx, r: DocumentRow) -> Document {
    let mine = r.folder_owner == Some(ctx.user_id);
    Document {
        id: r.id,
        folder: Named {
            id: r.folder_id,
            name: match (mine, r.folder_owner_name) {
                (true, _) => "My files".into(),
                (false, Some(owner)) => format!("Files of {owner}"),
                (false, None) => r.folder_name,
            },
        },
        name: r.name,
        description: r.description,
        tags: rules::read_tags(&r.tags),
        status: r.status,
        document_type: r.document_type,
        version: r.current_version,
        file_name: r.file_name,
        content_type: r.content_type,
        size_bytes: r.size_bytes,
        created_by: r
            .created_by
            .zip(r.creator_name)
            .map(|(id, name)| Named { id, name }),
        created_at: r.created_at,
        updated_at: r.updated_at,
        may_change: rules::may_change(ctx.has(DOCUMENTS_MANAGE), mine),
    }
}

/// Where a version's bytes are.
pub fn path_of(data_dir: &Path, org: OrgId, version: Uuid) -> PathBuf {
    dir_of(data_dir, org).join(version.simple().to_string())
}

/// The department's documents directory (uploads arrive there under a temporary name).
pub fn dir_of(data_dir: &Path, org: OrgId) -> PathBuf {
    data_dir
        .join("documents")
        .join(org.uuid().simple().to_string())
}

/// What the library lists: a folder's documents or a search across every folder the caller
/// sees.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// Only this folder's documents.
    pub folder: Option<Uuid>,
    /// Words in the name, the file's name or the tags.
    pub q: Option<String>,
    /// Only documents with this tag.
    pub tag: Option<String>,
    /// `active` (the default) or `archived`.
    pub status: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// Documents in the folders the caller sees, by name.
pub async fn documents(ctx: &Ctx, conn: &mut Conn, q: DocumentQuery) -> AppResult<Page<Document>> {
    ctx.require(DOCUMENTS_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let status = DocumentStatus::parse_filter("status", q.status.as_deref())?
        .unwrap_or(DocumentStatus::Active);
    let term = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if term.is_some_and(|t| t.chars().count() > 100) {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
    let tag = match q.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => rules::parse_tags("tag", t)?.into_iter().next(),
    };
    let filter = |b: &mut QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE d.organization_id = ")
            .push_bind(ctx.org_id)
            .push(" AND d.status = ")
            .push_bind(status);
        if let Some(folder) = q.folder {
            b.push(" AND d.folder_id = ").push_bind(folder);
        }
        if let Some(t) = term {
            let like = crate::http::like_pattern(t);
            b.push(" AND (d.name LIKE ")
                .push_bind(like.clone())
                .push(" OR d.tags LIKE ")
                .push_bind(like.clone())
                .push(" OR v.file_name LIKE ")
                .push_bind(like)
                .push(")");
        }
        if let Some(t) = &tag {
            b.push(" AND FIND_IN_SET(").push_bind(t.clone()).push(", d.tags) > 0");
        }
        visible(b, ctx);
    };
    let mut count = QueryBuilder::new(
        "SELECT COUNT(*) FROM documents d
           JOIN document_folders f ON f.organization_id = d.organization_id AND f.id = d.folder_id
           JOIN document_versions v ON v.organization_id = d.organization_id
                                   AND v.document_id = d.id AND v.version = d.current_version",
    );
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = QueryBuilder::new(DOCUMENT_SELECT);
    filter(&mut b);
    b.push(" ORDER BY d.name, d.id LIMIT ")
        .push_bind(per_page)
        .push(" OFFSET ")
        .push_bind(u64::from(page - 1) * u64::from(per_page));
    let rows: Vec<DocumentRow> = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page {
        items: rows.into_iter().map(|r| document_of(ctx, r)).collect(),
        page,
        per_page,
        total: total as u64,
    })
}

/// One document the caller sees (404 for one in a folder they do not).
pub async fn document(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Document> {
    ctx.require(DOCUMENTS_VIEW)?;
    let mut b = QueryBuilder::new(DOCUMENT_SELECT);
    b.push(" WHERE d.organization_id = ")
        .push_bind(ctx.org_id)
        .push(" AND d.id = ")
        .push_bind(id);
    visible(&mut b, ctx);
    let row: DocumentRow = b
        .build_query_as()
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(document_of(ctx, row))
}

/// A document the caller sees and may change, its row locked for the change.
async fn document_to_change(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Document> {
    let d = document(ctx, tx, id).await?;
    if !d.may_change {
        return Err(AppError::Forbidden(
            "only officers with `documents.manage` change documents; members do in their own \
             folder"
                .into(),
        ));
    }
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM documents WHERE organization_id = ? AND id = ? FOR UPDATE")
            .bind(ctx.org_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    locked.ok_or(AppError::NotFound)?;
    // Read again under the lock: a change that committed while this one waited shows.
    document(ctx, tx, id).await
}

/// One version of a document.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Version {
    pub id: Uuid,
    pub version: u32,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub note: Option<String>,
    #[sqlx(skip)]
    pub uploaded_by: Option<Named>,
    #[serde(skip)]
    #[schema(ignore)]
    pub uploader_id: Option<Uuid>,
    #[serde(skip)]
    #[schema(ignore)]
    pub uploader_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The file's SHA-256, in hex.
    #[sqlx(skip)]
    pub sha256: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub digest: Vec<u8>,
}

/// Every version of a document the caller sees, the newest first.
pub async fn versions(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Vec<Version>> {
    document(ctx, conn, id).await?;
    let mut list: Vec<Version> = sqlx::query_as(
        "SELECT v.id, v.version, v.file_name, v.content_type, v.size_bytes, v.note,
                v.uploaded_by AS uploader_id,
                CONCAT(u.first_name, ' ', u.last_name) AS uploader_name,
                v.created_at, v.sha256 AS digest
           FROM document_versions v
           LEFT JOIN users u ON u.organization_id = v.organization_id AND u.id = v.uploaded_by
          WHERE v.organization_id = ? AND v.document_id = ?
          ORDER BY v.version DESC",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(conn)
    .await?;
    for v in &mut list {
        v.uploaded_by = v
            .uploader_id
            .zip(v.uploader_name.clone())
            .map(|(id, name)| Named { id, name });
        v.sha256 = hex::encode(&v.digest);
    }
    Ok(list)
}

/// A stored file to send: where it is and what it is.
pub struct Stored {
    pub path: PathBuf,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: Vec<u8>,
}

/// The file of a document's version (the current one when `version` is None).
pub async fn stored(
    ctx: &Ctx,
    conn: &mut Conn,
    data_dir: &Path,
    id: Uuid,
    version: Option<Uuid>,
) -> AppResult<Stored> {
    let d = document(ctx, conn, id).await?;
    let all = versions(ctx, conn, id).await?;
    let v = match version {
        None => all.into_iter().find(|v| v.version == d.version),
        Some(vid) => all.into_iter().find(|v| v.id == vid),
    }
    .ok_or(AppError::NotFound)?;
    Ok(Stored {
        path: path_of(data_dir, ctx.org_id, v.id),
        file_name: v.file_name,
        content_type: v.content_type,
        size_bytes: v.size_bytes,
        sha256: v.digest,
    })
}

/// What goes with an upload: the file's name, and for a new document its name and tags.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as chosen (cleaned before it is kept).
    pub name: Option<String>,
    /// The document's name; default: the file's name without its extension.
    pub title: Option<String>,
    /// Tags, separated by commas.
    pub tags: Option<String>,
    /// A note on this version ("2027 revision").
    pub note: Option<String>,
}

/// What an upload's query names, checked: the file's name (cleaned), the document's name
/// (default: the file's, without its extension), tags and a note.
struct UploadNames {
    file_name: String,
    title: String,
    tags: Vec<String>,
    note: Option<String>,
}

fn named_upload(q: UploadQuery) -> AppResult<UploadNames> {
    let mut c = Checks::default();
    let file_name = c.take(uploads::clean_name(q.name.as_deref().unwrap_or("document")));
    let title = match q.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => c.take(input::required_text("title", t, 200)),
        None => file_name
            .as_deref()
            .map(|n| rules::name_from_file(n).chars().take(200).collect()),
    };
    let tags = c.take(rules::parse_tags("tags", q.tags.as_deref().unwrap_or_default()));
    let note = c.take(input::optional_text("note", q.note, 300));
    c.finish()?;
    Ok(UploadNames {
        file_name: file_name.unwrap_or_default(),
        title: title.unwrap_or_default(),
        tags: tags.unwrap_or_default(),
        note: note.flatten(),
    })
}

/// Adds a document with its first version to a folder the caller may change. The file is moved
/// into place here; the caller commits and removes it (`path_of`) if the commit fails.
pub async fn add(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    folder_id: Uuid,
    q: UploadQuery,
    file: Received,
) -> AppResult<(Document, PathBuf)> {
    let f = folder_to_change(ctx, tx, folder_id).await?;
    let UploadNames {
        file_name,
        title,
        tags,
        note,
    } = named_upload(q)?;
    // The folder locked: a folder deleted at this moment is not left with a document in it.
    let locked: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM document_folders WHERE organization_id = ? AND id = ? LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(folder_id)
    .fetch_optional(&mut **tx)
    .await?;
    locked.ok_or(AppError::NotFound)?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO documents (id, organization_id, folder_id, name, tags, status, document_type,
                current_version, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(folder_id)
    .bind(&title)
    .bind(rules::stored_tags(&tags))
    .bind(DocumentStatus::Active)
    .bind(DocumentType::Uploaded)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let version = insert_version(ctx, tx, id, 1, &file_name, note.as_deref(), &file).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.added", "document", id).changes(serde_json::json!({
            "name": title, "folder": f.name, "file_name": file_name,
            "content_type": file.content_type, "size_bytes": file.size,
            "sha256": hex::encode(&file.sha256), "tags": tags,
        })),
    )
    .await?;
    let path = path_of(data_dir, ctx.org_id, version);
    keep(file, &path).await?;
    Ok((document(ctx, tx, id).await?, path))
}

/// A document Logbook made for another module (published minutes): a file, its readable
/// content, and what it came from.
pub struct Generated {
    /// The system folder it goes in (`minutes`).
    pub folder_key: &'static str,
    pub name: String,
    pub file_name: String,
    pub tags: Vec<String>,
    pub content_html: String,
    pub source_type: &'static str,
    pub source_id: Uuid,
    pub bytes: Vec<u8>,
}

/// Files a generated document in a system folder. The calling module has checked its own
/// permission (publishing minutes needs `minutes.manage`); the folder's rules on who may upload
/// do not apply to what Logbook files itself. The caller commits, and removes the returned
/// file if the commit fails.
pub async fn add_generated(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    g: Generated,
) -> AppResult<(Uuid, PathBuf)> {
    super::ensure_system_folders(tx, ctx.org_id).await?;
    let folder: Uuid = sqlx::query_scalar(
        "SELECT id FROM document_folders WHERE organization_id = ? AND system_key = ?
          LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(g.folder_key)
    .fetch_one(&mut **tx)
    .await?;
    let file_name = uploads::clean_name(&g.file_name)?;
    let size = g.bytes.len() as u64;
    let file = uploads::receive(
        &dir_of(data_dir, ctx.org_id),
        axum::body::Body::from(g.bytes),
        Some(size),
        rules::MAX_FILE_BYTES,
    )
    .await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO documents (id, organization_id, folder_id, name, tags, status, document_type,
                source_type, source_id, content_html, current_version, created_by, created_at,
                updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(folder)
    .bind(&g.name)
    .bind(rules::stored_tags(&g.tags))
    .bind(DocumentStatus::Active)
    .bind(DocumentType::Generated)
    .bind(g.source_type)
    .bind(g.source_id)
    .bind(&g.content_html)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let version = insert_version(ctx, tx, id, 1, &file_name, None, &file).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.generated", "document", id).changes(serde_json::json!({
            "name": g.name, "folder": g.folder_key, "file_name": file_name,
            "source_type": g.source_type, "source_id": g.source_id,
            "size_bytes": file.size, "sha256": hex::encode(&file.sha256),
        })),
    )
    .await?;
    let path = path_of(data_dir, ctx.org_id, version);
    keep(file, &path).await?;
    Ok((id, path))
}

/// The readable content of a generated document the caller sees (published minutes).
pub async fn content_html(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Option<String>> {
    document(ctx, conn, id).await?;
    Ok(sqlx::query_scalar(
        "SELECT content_html FROM documents WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?)
}

async fn insert_version(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    document: Uuid,
    number: u32,
    file_name: &str,
    note: Option<&str>,
    file: &Received,
) -> AppResult<Uuid> {
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO document_versions (id, organization_id, document_id, version, file_name,
                content_type, size_bytes, sha256, note, uploaded_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(document)
    .bind(number)
    .bind(file_name)
    .bind(file.content_type)
    .bind(file.size)
    .bind(&file.sha256)
    .bind(note)
    .bind(ctx.user_id)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

async fn keep(file: Received, path: &Path) -> AppResult<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || file.keep(&path))
        .await
        .map_err(anyhow::Error::new)?
}

/// Adds a new version of an active document; it becomes the current one.
pub async fn add_version(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    id: Uuid,
    q: UploadQuery,
    file: Received,
) -> AppResult<(Document, PathBuf)> {
    let d = document_to_change(ctx, tx, id).await?;
    if d.status != DocumentStatus::Active {
        return Err(AppError::Conflict(
            "the document is archived: restore it before adding a version".into(),
        ));
    }
    if d.document_type == DocumentType::Generated {
        return Err(AppError::Conflict(
            "Logbook made this document; it is not replaced by an upload".into(),
        ));
    }
    let mut c = Checks::default();
    let file_name = c.take(uploads::clean_name(q.name.as_deref().unwrap_or(&d.file_name)));
    let note = c.take(input::optional_text("note", q.note, 300));
    c.finish()?;
    let (file_name, note) = (file_name.unwrap_or_default(), note.flatten());
    let number = d.version + 1;
    let version = insert_version(ctx, tx, id, number, &file_name, note.as_deref(), &file).await?;
    sqlx::query(
        "UPDATE documents SET current_version = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(number)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.version_added", "document", id).changes(serde_json::json!({
            "name": d.name, "version": number, "file_name": file_name,
            "content_type": file.content_type, "size_bytes": file.size,
            "sha256": hex::encode(&file.sha256), "note": note,
        })),
    )
    .await?;
    let path = path_of(data_dir, ctx.org_id, version);
    keep(file, &path).await?;
    Ok((document(ctx, tx, id).await?, path))
}

/// A document's name, description, tags and folder, as changed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Tags, separated by commas.
    #[serde(default)]
    pub tags: String,
    /// Moves it to this folder (one the caller may change too).
    pub folder_id: Option<Uuid>,
}

/// Changes a document's name, description, tags or folder.
pub async fn update(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: DocumentInput,
) -> AppResult<Document> {
    let before = document_to_change(ctx, tx, id).await?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &input.name, 200));
    let description = c.take(input::optional_text("description", input.description, 1000));
    let tags = c.take(rules::parse_tags("tags", &input.tags));
    c.finish()?;
    let (name, description, tags) = (
        name.unwrap_or_default(),
        description.flatten(),
        tags.unwrap_or_default(),
    );
    let mut moved: Option<Folder> = None;
    if let Some(to) = input.folder_id.filter(|to| *to != before.folder.id) {
        let target = folder(ctx, tx, to)
            .await
            .map_err(|_| AppError::field("folder_id", "must be a folder you can see"))?;
        if !target.may_change {
            return Err(AppError::field("folder_id", "must be a folder you may add documents to"));
        }
        if before.document_type == DocumentType::Generated {
            return Err(AppError::field(
                "folder_id",
                "cannot change: Logbook keeps the documents it made in their folder",
            ));
        }
        moved = Some(target);
    }
    sqlx::query(
        "UPDATE documents SET name = ?, description = ?, tags = ?, folder_id = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&name)
    .bind(&description)
    .bind(rules::stored_tags(&tags))
    .bind(moved.as_ref().map_or(before.folder.id, |f| f.id))
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut changes = serde_json::json!({
        "name": {"from": before.name, "to": name},
        "tags": {"from": before.tags, "to": tags},
    });
    if let Some(f) = &moved {
        changes["folder"] = serde_json::json!({"from": before.folder.name, "to": f.name});
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.updated", "document", id).changes(changes),
    )
    .await?;
    document(ctx, tx, id).await
}

/// Archives an active document, or restores an archived one.
pub async fn set_archived(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, archive: bool) -> AppResult<Document> {
    let d = document_to_change(ctx, tx, id).await?;
    let (from, to) = if archive {
        (DocumentStatus::Active, DocumentStatus::Archived)
    } else {
        (DocumentStatus::Archived, DocumentStatus::Active)
    };
    let now = db::now();
    db::transition(
        tx,
        sqlx::query(
            "UPDATE documents SET status = ?, archived_at = ?, archived_by = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND status = ?",
        )
        .bind(to)
        .bind(archive.then_some(now))
        .bind(archive.then_some(ctx.user_id))
        .bind(now)
        .bind(ctx.org_id)
        .bind(id)
        .bind(from),
        if archive {
            "the document is already archived"
        } else {
            "the document is not archived"
        },
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            if archive {
                "documents.archived"
            } else {
                "documents.restored"
            },
            "document",
            id,
        )
        .changes(serde_json::json!({ "name": d.name, "folder": d.folder.name })),
    )
    .await?;
    document(ctx, tx, id).await
}

/// Deletes a document and every version's record; the caller removes the returned files after
/// the commit. Minutes Logbook published are archived, never deleted.
pub async fn delete(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    id: Uuid,
) -> AppResult<(Document, Vec<PathBuf>)> {
    let d = document_to_change(ctx, tx, id).await?;
    if d.document_type == DocumentType::Generated {
        return Err(AppError::Conflict(
            "Logbook made this document as a record: archive it instead".into(),
        ));
    }
    remove(ctx, tx, data_dir, d).await
}

/// Deletes a document's rows (its versions first), audited; returns its files, for the caller
/// to remove once the change is committed.
async fn remove(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    d: Document,
) -> AppResult<(Document, Vec<PathBuf>)> {
    let id = d.id;
    let versions: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
        "SELECT id, sha256 FROM document_versions WHERE organization_id = ? AND document_id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM document_versions WHERE organization_id = ? AND document_id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    db::transition(
        tx,
        sqlx::query("DELETE FROM documents WHERE organization_id = ? AND id = ?")
            .bind(ctx.org_id)
            .bind(id),
        "the document has just been deleted by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.deleted", "document", id).changes(serde_json::json!({
            "name": d.name, "folder": d.folder.name, "versions": versions.len(),
            "sha256": versions.iter().map(|(_, s)| hex::encode(s)).collect::<Vec<_>>(),
        })),
    )
    .await?;
    let paths = versions
        .iter()
        .map(|(v, _)| path_of(data_dir, ctx.org_id, *v))
        .collect();
    Ok((d, paths))
}

// ---------------------------------------------------------------------------------------------
// Documents attached to another module's records

/// A record of another module that documents are attached to (a certificate scan on a training
/// record, a manual on an equipment item). The owning module checks who may see and change the
/// record; this module files, lists and serves what is attached to it.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// `training_record`, `inventory_item`.
    pub kind: &'static str,
    pub id: Uuid,
}

/// Where an attached document is filed in the library.
#[derive(Debug, Clone, Copy)]
pub enum Filed {
    /// The member's own folder: personal papers, seen by the member and leadership.
    Member(Uuid),
    /// A system folder, by key: papers for everyone (a manual, in General Documents).
    System(&'static str),
}

/// Attaches an uploaded file to `source`, filed as `filed` says. The caller has checked that
/// the caller may change the record; commits, and removes the returned file if that fails.
pub async fn attach(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    source: Source,
    filed: Filed,
    q: UploadQuery,
    file: Received,
) -> AppResult<(Document, PathBuf)> {
    let UploadNames {
        file_name,
        title,
        tags,
        ..
    } = named_upload(q)?;
    let folder = match filed {
        Filed::Member(member) => super::own_folder(tx, ctx.org_id, member, ctx.user_id).await?,
        Filed::System(key) => {
            super::ensure_system_folders(tx, ctx.org_id).await?;
            sqlx::query_scalar(
                "SELECT id FROM document_folders WHERE organization_id = ? AND system_key = ?
                  LOCK IN SHARE MODE",
            )
            .bind(ctx.org_id)
            .bind(key)
            .fetch_one(&mut **tx)
            .await?
        }
    };
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO documents (id, organization_id, folder_id, name, tags, status, document_type,
                source_type, source_id, current_version, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(folder)
    .bind(&title)
    .bind(rules::stored_tags(&tags))
    .bind(DocumentStatus::Active)
    .bind(DocumentType::Uploaded)
    .bind(source.kind)
    .bind(source.id)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let version = insert_version(ctx, tx, id, 1, &file_name, None, &file).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.attached", "document", id).changes(serde_json::json!({
            "name": title, "file_name": file_name, "source_type": source.kind,
            "source_id": source.id, "content_type": file.content_type,
            "size_bytes": file.size, "sha256": hex::encode(&file.sha256),
        })),
    )
    .await?;
    let out = attached_one(ctx, tx, source, id).await?;
    let path = path_of(data_dir, ctx.org_id, version);
    keep(file, &path).await?;
    Ok((out, path))
}

/// The active documents attached to `source`, oldest first (the caller checked the record).
pub async fn attached(ctx: &Ctx, conn: &mut Conn, source: Source) -> AppResult<Vec<Document>> {
    let rows: Vec<DocumentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DOCUMENT_SELECT} WHERE d.organization_id = ? AND d.source_type = ? AND d.source_id = ?
            AND d.status = ? ORDER BY d.created_at, d.id"
    )))
    .bind(ctx.org_id)
    .bind(source.kind)
    .bind(source.id)
    .bind(DocumentStatus::Active)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| document_of(ctx, r)).collect())
}

/// One document attached to `source` (404 for any other).
pub async fn attached_one(
    ctx: &Ctx,
    conn: &mut Conn,
    source: Source,
    id: Uuid,
) -> AppResult<Document> {
    let row: Option<DocumentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{DOCUMENT_SELECT} WHERE d.organization_id = ? AND d.source_type = ? AND d.source_id = ?
            AND d.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(source.kind)
    .bind(source.id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(document_of(ctx, row.ok_or(AppError::NotFound)?))
}

/// The current file of a document attached to `source`, for its download.
pub async fn attached_file(
    ctx: &Ctx,
    conn: &mut Conn,
    data_dir: &Path,
    source: Source,
    id: Uuid,
) -> AppResult<Stored> {
    let d = attached_one(ctx, conn, source, id).await?;
    // An archived paper is out of the record's list, and does not download from it either.
    if d.status != DocumentStatus::Active {
        return Err(AppError::NotFound);
    }
    let v: (Uuid, Vec<u8>) = sqlx::query_as(
        "SELECT id, sha256 FROM document_versions
          WHERE organization_id = ? AND document_id = ? AND version = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(d.version)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Stored {
        path: path_of(data_dir, ctx.org_id, v.0),
        file_name: d.file_name,
        content_type: d.content_type,
        size_bytes: d.size_bytes,
        sha256: v.1,
    })
}

/// Removes a document attached to `source` (the caller checked that the caller may change the
/// record); returns its files, to remove once committed.
pub async fn detach(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    source: Source,
    id: Uuid,
) -> AppResult<(Document, Vec<PathBuf>)> {
    let locked: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM documents
          WHERE organization_id = ? AND id = ? AND source_type = ? AND source_id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(source.kind)
    .bind(source.id)
    .fetch_optional(&mut **tx)
    .await?;
    locked.ok_or(AppError::NotFound)?;
    let d = attached_one(ctx, tx, source, id).await?;
    remove(ctx, tx, data_dir, d).await
}
