//! Documents' SQL: folders here (the system folders, officers' folders, each member's own), the
//! documents and their versions in `files`. Every statement is scoped by the caller's
//! organization and, for reading, by the folders the caller sees (`visible`): a document in a
//! folder the caller does not see answers 404, exactly like a missing one. Every change checks
//! `documents.manage` (or is a member's change in their own folder) and is audited in its
//! transaction.

pub mod files;

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::rules::{self, DocumentStatus, SYSTEM_FOLDERS, Visibility};
use crate::audit::{self, Entry};
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::input::{self, Checks};

pub const DOCUMENTS_VIEW: &str = "documents.view";
pub const DOCUMENTS_MANAGE: &str = "documents.manage";

pub use crate::http::Named;

/// Leadership sees every folder: holders of `documents.manage` or `members.manage`.
pub fn leadership(ctx: &Ctx) -> bool {
    ctx.has(DOCUMENTS_MANAGE) || ctx.has(MEMBERS_MANAGE)
}

/// Narrows a query over `document_folders f` to the folders the caller sees (`rules::sees`, in
/// SQL).
pub fn visible(b: &mut QueryBuilder<sqlx::MySql>, ctx: &Ctx) {
    if leadership(ctx) {
        return;
    }
    b.push(" AND (f.visibility = ")
        .push_bind(Visibility::Everyone)
        .push(" OR (f.visibility = ")
        .push_bind(Visibility::Owner)
        .push(" AND f.owner_user_id = ")
        .push_bind(ctx.user_id)
        .push(") OR (f.visibility = ")
        .push_bind(Visibility::Roles)
        .push(
            " AND EXISTS (SELECT 1 FROM document_folder_roles fr
                            JOIN user_roles ur ON ur.role_id = fr.role_id
                           WHERE fr.folder_id = f.id AND ur.user_id = ",
        )
        .push_bind(ctx.user_id)
        .push(")))");
}

// ---------------------------------------------------------------------------------------------
// Folders

/// A folder as the caller sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Folder {
    pub id: Uuid,
    /// "My files" for the caller's own folder; "Files of …" for another member's.
    pub name: String,
    pub description: Option<String>,
    /// One of the system folders every department has (`sops`, `policies`, `forms`,
    /// `training`, `minutes`, `reports`, `general`); null for the others.
    pub system_key: Option<String>,
    #[schema(schema_with = Visibility::schema_object)]
    pub visibility: Visibility,
    /// The member whose own folder it is.
    pub owner: Option<Named>,
    /// Who sees it, when its visibility is `roles`.
    pub roles: Vec<Named>,
    /// Its active documents.
    pub documents: i64,
    /// Whether the caller may add and change documents in it.
    pub may_change: bool,
}

#[derive(sqlx::FromRow)]
struct FolderRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    system_key: Option<String>,
    visibility: Visibility,
    owner_user_id: Option<Uuid>,
    owner_name: Option<String>,
    documents: i64,
    role_ids: Option<String>,
}

/// The folder query up to its WHERE: each folder with its owner's name, its active documents
/// and its roles.
fn folder_query() -> QueryBuilder<sqlx::MySql> {
    let mut b = QueryBuilder::new(
        "SELECT f.id, f.name, f.description, f.system_key, f.visibility,
                f.owner_user_id, CONCAT(u.first_name, ' ', u.last_name) AS owner_name,
                (SELECT COUNT(*) FROM documents d
                  WHERE d.organization_id = f.organization_id AND d.folder_id = f.id
                    AND d.status = ",
    );
    b.push_bind(DocumentStatus::Active).push(
        ") AS documents,
                (SELECT GROUP_CONCAT(HEX(fr.role_id)) FROM document_folder_roles fr
                  WHERE fr.folder_id = f.id) AS role_ids
           FROM document_folders f
           LEFT JOIN users u ON u.organization_id = f.organization_id AND u.id = f.owner_user_id",
    );
    b
}

/// The department's role names, for the folders that name roles.
async fn role_names(conn: &mut Conn, org: OrgId) -> AppResult<Vec<(Uuid, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM roles WHERE organization_id = ? ORDER BY name")
            .bind(org)
            .fetch_all(conn)
            .await?,
    )
}

fn folder_of(ctx: &Ctx, r: FolderRow, roles: &[(Uuid, String)]) -> Folder {
    let mine = r.owner_user_id == Some(ctx.user_id);
    let name = match (&r.owner_user_id, &r.owner_name) {
        (Some(_), _) if mine => "My files".to_string(),
        (Some(_), Some(n)) => format!("Files of {n}"),
        _ => r.name,
    };
    let ids = db::hex_ids(r.role_ids.as_deref());
    Folder {
        id: r.id,
        name,
        description: r.description,
        system_key: r.system_key,
        visibility: r.visibility,
        owner: r
            .owner_user_id
            .zip(r.owner_name)
            .map(|(id, name)| Named { id, name }),
        roles: roles
            .iter()
            .filter(|(id, _)| ids.contains(id))
            .map(|(id, name)| Named {
                id: *id,
                name: name.clone(),
            })
            .collect(),
        documents: r.documents,
        may_change: rules::may_change(ctx.has(DOCUMENTS_MANAGE), mine),
    }
}

/// Makes the system folders a department is missing (a department made before documents
/// existed gets them on first use); a no-op when they are there.
pub async fn ensure_system_folders(conn: &mut Conn, org: OrgId) -> AppResult<()> {
    let have: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM document_folders
          WHERE organization_id = ? AND system_key IS NOT NULL",
    )
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    if have as usize >= SYSTEM_FOLDERS.len() {
        return Ok(());
    }
    let now = db::now();
    for f in SYSTEM_FOLDERS {
        // Two first visits at once: the unique key keeps one of each.
        sqlx::query(
            "INSERT IGNORE INTO document_folders (id, organization_id, name, description,
                    system_key, visibility, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(org)
        .bind(f.name)
        .bind(f.description)
        .bind(f.key)
        .bind(f.visibility)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The folders the caller sees: the system folders, then the others by name, then members' own
/// (the caller's first).
pub async fn folders(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Folder>> {
    ctx.require(DOCUMENTS_VIEW)?;
    ensure_system_folders(conn, ctx.org_id).await?;
    let mut b = folder_query();
    b.push(" WHERE f.organization_id = ").push_bind(ctx.org_id);
    visible(&mut b, ctx);
    b.push(" ORDER BY f.owner_user_id IS NOT NULL, f.owner_user_id = ")
        .push_bind(ctx.user_id)
        .push(" DESC, f.system_key IS NULL, f.name, u.last_name, u.first_name");
    let rows: Vec<FolderRow> = b.build_query_as().fetch_all(&mut *conn).await?;
    let roles = role_names(conn, ctx.org_id).await?;
    Ok(rows.into_iter().map(|r| folder_of(ctx, r, &roles)).collect())
}

/// One folder the caller sees (404 for one they do not).
pub async fn folder(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Folder> {
    ctx.require(DOCUMENTS_VIEW)?;
    let mut b = folder_query();
    b.push(" WHERE f.organization_id = ")
        .push_bind(ctx.org_id)
        .push(" AND f.id = ")
        .push_bind(id);
    visible(&mut b, ctx);
    let row: FolderRow = b
        .build_query_as()
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let roles = role_names(conn, ctx.org_id).await?;
    Ok(folder_of(ctx, row, &roles))
}

/// A folder the caller sees and may change documents in (403 when they see it but may not).
pub async fn folder_to_change(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Folder> {
    let f = folder(ctx, conn, id).await?;
    if !f.may_change {
        return Err(AppError::Forbidden(
            "only officers with `documents.manage` add or change documents here; members do \
             in their own folder"
                .into(),
        ));
    }
    Ok(f)
}

/// The caller's own folder, made on first use.
pub async fn my_folder(ctx: &Ctx, conn: &mut Conn) -> AppResult<Folder> {
    ctx.require(DOCUMENTS_VIEW)?;
    let id = own_folder(conn, ctx.org_id, ctx.user_id, ctx.user_id).await?;
    folder(ctx, conn, id).await
}

/// A member's own folder, made on first use (`INSERT IGNORE`: two requests at once make one).
pub(super) async fn own_folder(
    conn: &mut Conn,
    org: OrgId,
    member: Uuid,
    by: Uuid,
) -> AppResult<Uuid> {
    let now = db::now();
    sqlx::query(
        "INSERT IGNORE INTO document_folders (id, organization_id, name, visibility,
                owner_user_id, created_by, created_at, updated_at)
         VALUES (?, ?, 'Member files', ?, ?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(org)
    .bind(Visibility::Owner)
    .bind(member)
    .bind(by)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT id FROM document_folders WHERE organization_id = ? AND owner_user_id = ?",
    )
    .bind(org)
    .bind(member)
    .fetch_one(&mut *conn)
    .await?)
}

/// A folder officers add or change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderInput {
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// everyone | leadership | roles (a member's own folder is made for them).
    pub visibility: String,
    /// Who sees it, when `visibility` is `roles`.
    #[serde(default)]
    pub role_ids: Vec<Uuid>,
}

struct ValidFolder {
    name: String,
    description: Option<String>,
    visibility: Visibility,
    role_ids: Vec<Uuid>,
}

async fn check_folder(ctx: &Ctx, conn: &mut Conn, input: FolderInput) -> AppResult<ValidFolder> {
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &input.name, 120));
    let description = c.take(input::optional_text("description", input.description, 500));
    let visibility = match Visibility::parse(input.visibility.trim()) {
        Some(Visibility::Owner) | None => {
            c.push("visibility", "must be one of everyone, leadership, roles");
            None
        }
        Some(v) => Some(v),
    };
    let mut role_ids = input.role_ids;
    role_ids.sort();
    role_ids.dedup();
    if visibility == Some(Visibility::Roles) && role_ids.is_empty() {
        c.push("role_ids", "must name at least one role");
    }
    if visibility != Some(Visibility::Roles) {
        role_ids.clear();
    }
    if role_ids.len() > 50 {
        c.push("role_ids", "must be at most 50 roles");
    }
    for id in &role_ids {
        if !db::exists(conn, "roles", ctx.org_id, *id).await? {
            c.push("role_ids", "must be roles of the department");
            break;
        }
    }
    c.finish()?;
    Ok(ValidFolder {
        name: name.unwrap_or_default(),
        description: description.flatten(),
        visibility: visibility.unwrap_or(Visibility::Everyone),
        role_ids,
    })
}

const FOLDER_KEYS: &[(&str, &str, &str)] = &[(
    "uq_document_folders_name",
    "name",
    "is already the name of another folder",
)];

async fn set_roles(ctx: &Ctx, tx: &mut Tx<'_>, folder: Uuid, roles: &[Uuid]) -> AppResult<()> {
    sqlx::query("DELETE FROM document_folder_roles WHERE organization_id = ? AND folder_id = ?")
        .bind(ctx.org_id)
        .bind(folder)
        .execute(&mut **tx)
        .await?;
    for role in roles {
        sqlx::query(
            "INSERT INTO document_folder_roles (folder_id, role_id, organization_id)
             VALUES (?, ?, ?)",
        )
        .bind(folder)
        .bind(role)
        .bind(ctx.org_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Adds a folder.
pub async fn create_folder(ctx: &Ctx, tx: &mut Tx<'_>, input: FolderInput) -> AppResult<Folder> {
    ctx.require(DOCUMENTS_MANAGE)?;
    let v = check_folder(ctx, tx, input).await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO document_folders (id, organization_id, name, description, visibility,
                created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.visibility)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, FOLDER_KEYS))?;
    set_roles(ctx, tx, id, &v.role_ids).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.folder_created", "document_folder", id).changes(
            serde_json::json!({
                "name": v.name, "visibility": v.visibility.as_str(), "roles": v.role_ids,
            }),
        ),
    )
    .await?;
    folder(ctx, tx, id).await
}

/// Changes a folder: its name (not a system folder's), description and who sees it. A member's
/// own folder is not changed.
pub async fn update_folder(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: FolderInput,
) -> AppResult<Folder> {
    ctx.require(DOCUMENTS_MANAGE)?;
    let before = folder(ctx, tx, id).await?;
    if before.owner.is_some() {
        return Err(AppError::Conflict(
            "a member's own folder is seen by the member and leadership only; it cannot be \
             changed"
                .into(),
        ));
    }
    let v = check_folder(ctx, tx, input).await?;
    if before.system_key.is_some() && v.name != before.name {
        return Err(AppError::field(
            "name",
            "cannot be changed: this is one of the department's system folders",
        ));
    }
    sqlx::query(
        "UPDATE document_folders SET name = ?, description = ?, visibility = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&v.name)
    .bind(&v.description)
    .bind(v.visibility)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, FOLDER_KEYS))?;
    set_roles(ctx, tx, id, &v.role_ids).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.folder_updated", "document_folder", id).changes(
            serde_json::json!({
                "name": {"from": before.name, "to": v.name},
                "visibility": {"from": before.visibility.as_str(), "to": v.visibility.as_str()},
                "roles": v.role_ids,
            }),
        ),
    )
    .await?;
    folder(ctx, tx, id).await
}

/// Removes an empty folder officers added (not a system folder, not a member's own).
pub async fn delete_folder(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Folder> {
    ctx.require(DOCUMENTS_MANAGE)?;
    // Locked: a document added at the same moment waits, then finds the folder gone.
    let locked: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM document_folders WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    locked.ok_or(AppError::NotFound)?;
    let f = folder(ctx, tx, id).await?;
    if f.system_key.is_some() || f.owner.is_some() {
        return Err(AppError::Conflict(
            "the system folders and members' own folders stay".into(),
        ));
    }
    let any: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM documents WHERE organization_id = ? AND folder_id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if any > 0 {
        return Err(AppError::Conflict(format!(
            "the folder holds {any} document{} (archived ones too): move or delete them first",
            if any == 1 { "" } else { "s" }
        )));
    }
    set_roles(ctx, tx, id, &[]).await?;
    sqlx::query("DELETE FROM document_folders WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("documents.folder_deleted", "document_folder", id)
            .changes(serde_json::json!({ "name": f.name })),
    )
    .await?;
    Ok(f)
}
