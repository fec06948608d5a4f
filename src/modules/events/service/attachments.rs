//! Files attached to an event: at most 10 MB each and 20 per event, of the kinds a department
//! hands out (PDF, pictures, Word/Excel/PowerPoint, plain text), the kind read from the file's
//! own bytes. Kept under `<data_dir>/attachments/events/<department>/<id>` (mode 0600, so
//! backups carry them), served with `Content-Disposition: attachment` and `nosniff`. Officers
//! (`events.manage`) add and remove; members who see the event download.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{EVENTS_MANAGE, EVENTS_VIEW, event_row};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};

pub const MAX_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_PER_EVENT: i64 = 20;

/// A file attached to an event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub file_name: String,
    /// Read from the file's bytes.
    pub content_type: String,
    pub size_bytes: u32,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, file_name, content_type, size_bytes, created_at";

pub use crate::uploads::{clean_name, sniff};

fn folder(data_dir: &Path, ctx: &Ctx) -> PathBuf {
    data_dir
        .join("attachments")
        .join("events")
        .join(ctx.org_id.uuid().simple().to_string())
}

/// Where an attachment's bytes are.
pub fn path_of(data_dir: &Path, ctx: &Ctx, id: Uuid) -> PathBuf {
    folder(data_dir, ctx).join(id.simple().to_string())
}

pub async fn attachments(ctx: &Ctx, conn: &mut Conn, event: Uuid) -> AppResult<Vec<Attachment>> {
    ctx.require(EVENTS_VIEW)?;
    event_row(ctx, conn, event).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_attachments
          WHERE organization_id = ? AND event_id = ? ORDER BY created_at, file_name"
    )))
    .bind(ctx.org_id)
    .bind(event)
    .fetch_all(conn)
    .await?)
}

async fn attachment(ctx: &Ctx, conn: &mut Conn, event: Uuid, id: Uuid) -> AppResult<Attachment> {
    event_row(ctx, conn, event).await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_attachments
          WHERE organization_id = ? AND event_id = ? AND id = ?"
    )))
    .bind(ctx.org_id)
    .bind(event)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// Checks and keeps a file, and records it (the caller commits; if the commit fails it removes
/// the file at `path_of`).
pub async fn add(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    data_dir: &Path,
    event: Uuid,
    name: &str,
    bytes: &[u8],
) -> AppResult<Attachment> {
    ctx.require(EVENTS_MANAGE)?;
    let name = clean_name(name)?;
    if bytes.is_empty() {
        return Err(AppError::field("file", "is empty"));
    }
    let Some(content_type) = sniff(bytes) else {
        return Err(AppError::field(
            "file",
            crate::uploads::KINDS_SENTENCE,
        ));
    };
    // The event row locked: two uploads at once count each other.
    let found: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM events WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_optional(&mut **tx)
    .await?;
    found.ok_or(AppError::NotFound)?;
    let e = event_row(ctx, tx, event).await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_attachments WHERE organization_id = ? AND event_id = ?",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_one(&mut **tx)
    .await?;
    if count >= MAX_PER_EVENT {
        return Err(AppError::Conflict(format!(
            "an event keeps at most {MAX_PER_EVENT} files: remove one first"
        )));
    }
    let id = db::new_id();
    let digest = Sha256::digest(bytes).to_vec();
    sqlx::query(
        "INSERT INTO event_attachments (id, organization_id, event_id, file_name, content_type,
                size_bytes, sha256, uploaded_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(event)
    .bind(&name)
    .bind(content_type)
    .bind(bytes.len() as u32)
    .bind(&digest)
    .bind(ctx.user_id)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.attachment_added", "event", event).changes(serde_json::json!({
            "title": e.title, "file_name": name, "content_type": content_type,
            "size_bytes": bytes.len(), "sha256": hex::encode(&digest),
        })),
    )
    .await?;
    let path = path_of(data_dir, ctx, id);
    let owned = bytes.to_vec();
    tokio::task::spawn_blocking(move || crate::files::write_private(&path, &owned))
        .await
        .map_err(anyhow::Error::new)??;
    attachment(ctx, tx, event, id).await
}

/// An attachment and its bytes, checked against the digest kept when it was added.
pub async fn open(
    ctx: &Ctx,
    conn: &mut Conn,
    data_dir: &Path,
    event: Uuid,
    id: Uuid,
) -> AppResult<(Attachment, Vec<u8>)> {
    ctx.require(EVENTS_VIEW)?;
    let a = attachment(ctx, conn, event, id).await?;
    let digest: Vec<u8> = sqlx::query_scalar(
        "SELECT sha256 FROM event_attachments WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let path = path_of(data_dir, ctx, id);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        AppError::Internal(anyhow::anyhow!("attachment {} unreadable: {e}", path.display()))
    })?;
    if Sha256::digest(&bytes).as_slice() != digest.as_slice() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "attachment {} does not match its digest",
            path.display()
        )));
    }
    Ok((a, bytes))
}

/// Removes an attachment's record (the caller removes the file after the commit).
pub async fn remove(ctx: &Ctx, tx: &mut Tx<'_>, event: Uuid, id: Uuid) -> AppResult<Attachment> {
    ctx.require(EVENTS_MANAGE)?;
    let e = event_row(ctx, tx, event).await?;
    let a = attachment(ctx, tx, event, id).await?;
    db::transition(
        tx,
        sqlx::query("DELETE FROM event_attachments WHERE organization_id = ? AND id = ?")
            .bind(ctx.org_id)
            .bind(id),
        "the file has just been removed by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.attachment_removed", "event", event).changes(serde_json::json!({
            "title": e.title, "file_name": a.file_name,
        })),
    )
    .await?;
    Ok(a)
}
