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

/// The kinds accepted: the type the bytes show, and the extension a saved copy gets.
const KINDS: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
];

/// The file's type from its bytes: one of `KINDS`, or plain text (valid UTF-8 without NUL or
/// other control bytes but tab and line ends); None for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if let Some(kind) = infer::get(bytes) {
        return KINDS
            .iter()
            .find(|(mime, _)| *mime == kind.mime_type())
            .map(|(mime, _)| *mime);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.is_empty() && !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')))
        .then_some("text/plain")
}

/// A file name fit to keep and to send back: the last part of any path, control characters,
/// quotes and separators dropped, at most 150 characters; empty is refused.
pub fn clean_name(raw: &str) -> AppResult<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';' | '<' | '>' | '|' | '*' | '?' | ':'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(150)
        .collect();
    if cleaned.is_empty() {
        return Err(AppError::field("name", "must be the file's name"));
    }
    Ok(cleaned)
}

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
            "must be a PDF, a picture (PNG, JPEG, GIF, WebP), a Word, Excel or PowerPoint file, \
             or plain text",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"Bring gloves.\nMeet in the bay.\n"), Some("text/plain"));
        // A program is refused whatever it is called.
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0"), None);
        assert_eq!(sniff(b"text with a \0 NUL"), None);
        assert_eq!(sniff(b"\xff\xfe\xfd"), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\chief\\Map.pdf").unwrap(), "Map.pdf");
        assert_eq!(clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_name("a\"b;c\r\n.pdf").unwrap(), "abc.pdf");
        assert_eq!(clean_name(".hidden").unwrap(), "hidden");
        assert!(clean_name("  ").is_err());
        assert!(clean_name("dir/").is_err());
        assert_eq!(clean_name(&"x".repeat(400)).unwrap().len(), 150);
    }
}
