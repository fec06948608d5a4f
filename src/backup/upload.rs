//! Receiving a backup archive over HTTP (the backups page and the setup wizard). The body is
//! streamed to a temporary file in the backup directory (never held in memory: archives run to
//! hundreds of MB), read through and checked like any backup, then renamed to
//! `uploaded-YYYYMMDD-HHMMSS-xxxxxxxx.lbk`. That name is not one retention treats as a scheduled
//! backup (`retention::made_at`), so an uploaded archive is never deleted by it.
//!
//! An encrypted archive that the server's passphrase does not open is kept and listed as needing
//! its passphrase: the person restoring it types it on the confirmation page (and a mistyped one
//! is refused there, before anything changes).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::StatusCode;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::archive::{self, Refusal};
use super::service::{self, EXTENSION};
use crate::error::{AppError, AppResult};

/// Uploaded archives are named `uploaded-…`.
pub const PREFIX: &str = "uploaded-";
/// Room left free beside the upload.
const SPARE_BYTES: u64 = 64 * 1024 * 1024;

/// Whether `name` is an upload's temporary file (`.upload-<uuid>.tmp`): retention deletes one
/// left behind by an upload cut short (a power cut) once it is a day old.
pub fn is_temporary(name: &str) -> bool {
    name.strip_prefix(".upload-")
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An archive received and kept.
#[derive(Debug)]
pub struct Received {
    pub file: String,
    pub bytes: u64,
    /// What reading it through found; None when it is encrypted with a passphrase this server
    /// does not have.
    pub checked: Option<archive::Checked>,
}

/// The temporary file, removed unless the upload was kept.
struct Temporary(Option<PathBuf>);

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove an unfinished upload");
        }
    }
}

fn no_room(dir: &Path, free: u64, need: u64) -> AppError {
    AppError::Rejected(
        StatusCode::INSUFFICIENT_STORAGE,
        format!(
            "not enough free space in {}: {} free, the upload needs about {}; delete old \
             backups or free some space first",
            dir.display(),
            crate::system::status::bytes(free),
            crate::system::status::bytes(need)
        ),
    )
}

/// Streams `body` (of `declared` bytes, when the client said) into the backup directory `dir`,
/// checks it, and keeps it under an upload name. Anything but a Logbook backup (or one cut short
/// or damaged) is refused with 422 and nothing is kept.
pub async fn receive(
    dir: &Path,
    data_dir: &Path,
    body: Body,
    declared: Option<u64>,
) -> AppResult<Received> {
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let free = crate::system::status::storage(dir)
        .space
        .map(|s| s.free_bytes);
    if let Some(free) = free {
        let need = declared.unwrap_or(0) + SPARE_BYTES;
        if free < need {
            return Err(no_room(dir, free, need));
        }
    }
    // A client that did not say how much it sends may write up to the spare room.
    let limit = free.map(|f| f.saturating_sub(SPARE_BYTES));

    let id = uuid::Uuid::now_v7().simple().to_string();
    let tmp = dir.join(format!(".upload-{id}.tmp"));
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        // It holds every member's data and the server's secrets: the service's user only.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", tmp.display()))?
    };
    let mut guard = Temporary(Some(tmp.clone()));
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut stream = body.into_data_stream();
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("the upload stopped before the end: {e}")))?;
        bytes += chunk.len() as u64;
        if let (Some(limit), Some(free)) = (limit, free)
            && bytes > limit
        {
            return Err(no_room(dir, free, bytes + SPARE_BYTES));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    }
    out.flush()
        .await
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| anyhow::anyhow!("writing {} to disk: {e}", tmp.display()))?;
    if bytes == 0 {
        return Err(refused("the file is empty"));
    }
    if declared.is_some_and(|d| d != bytes) {
        return Err(refused(&Refusal::Truncated.to_string()));
    }

    let passphrase = super::key::stored(data_dir)?;
    let checked = match service::verify(&tmp, passphrase.as_deref()).await {
        Ok(c) => Some(c),
        Err(e) => match e.downcast_ref::<Refusal>() {
            // Kept: its passphrase is asked for when it is restored.
            Some(Refusal::NeedsPassphrase | Refusal::WrongPassphrase) => None,
            Some(r) => return Err(refused(&r.to_string())),
            None => return Err(AppError::Internal(e)),
        },
    };
    let made = crate::db::now();
    let file = format!(
        "{PREFIX}{}-{}.{EXTENSION}",
        made.format("%Y%m%d-%H%M%S"),
        &id[24..]
    );
    let path = dir.join(&file);
    std::fs::rename(&tmp, &path)
        .map_err(|e| anyhow::anyhow!("cannot rename to {}: {e}", path.display()))?;
    guard.0 = None;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    tracing::info!(file, bytes, "backup archive uploaded");
    Ok(Received {
        file,
        bytes,
        checked,
    })
}

fn refused(why: &str) -> AppError {
    AppError::Rejected(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "this file cannot be restored ({why}); nothing was kept. Upload a backup file made by \
             Logbook (logbook-….lbk)"
        ),
    )
}
