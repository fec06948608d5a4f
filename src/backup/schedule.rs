//! The scheduled backup (the `backup` job): a backup into the backup directory, old ones deleted
//! by the retention policy, and a checked copy in the second directory (a USB drive) when one is
//! configured. A backup holds the whole server, so with several organizations only the oldest
//! active one's run makes it; the others are recorded as skipped. Any failure fails the run with
//! the reason in words and tells the organization's administrators, once a day.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{retention, service};
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::jobs::{JobCtx, Skip};
use crate::notify::{self, Notice, categories};

/// Room left free on the copy's drive beside the archive itself.
pub const COPY_SPARE_BYTES: u64 = 64 * 1024 * 1024;

/// Whether a drive with `free_bytes` free has room for a copy of `archive_bytes` (and some to
/// spare, so the drive is never filled to the last byte).
pub fn room_for_copy(archive_bytes: u64, free_bytes: u64) -> bool {
    archive_bytes
        .checked_add(COPY_SPARE_BYTES)
        .is_some_and(|need| free_bytes >= need)
}

/// The organization whose run makes the backup: the oldest active one.
pub async fn backing_up_org(
    db: &sqlx::MySqlPool,
) -> anyhow::Result<Option<(crate::auth::OrgId, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, name FROM organizations WHERE active ORDER BY created_at, id LIMIT 1",
    )
    .fetch_optional(db)
    .await?)
}

/// What a scheduled backup did.
#[derive(Debug, Clone)]
pub struct Done {
    pub file: String,
    pub bytes: u64,
    pub deleted: usize,
    /// Where the copy went, if a copy directory is configured.
    pub copy: Option<PathBuf>,
    pub copy_deleted: usize,
}

/// The `backup` job's body.
pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    match backing_up_org(&state.db).await? {
        Some((id, _)) if id == ctx.org_id => {}
        Some((_, name)) => {
            return Err(Skip(format!(
                "A backup holds the whole server, every organization on it; it is made by \
                 {name}'s run, once a day."
            ))
            .into());
        }
        None => return Err(Skip("This organization is not active.".into()).into()),
    }
    // "Run now" while an administrator's backup (or a restore) runs: nothing failed, and no
    // one is told that the nightly backup did.
    if service::busy(&state.db).await? {
        return Err(Skip(
            "Another backup or restore was running at that moment; this run made none. The \
             next scheduled run will."
                .into(),
        )
        .into());
    }
    let tz_name: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&state.db)
        .await?;
    let tz = crate::time::zone(&tz_name);
    let config = &state.config;
    let result = make(
        &state.db,
        &config.data_dir,
        &config.backup_dir,
        config.backup_copy_dir.as_deref(),
        tz,
        config.backup_keep_daily,
        config.backup_keep_weekly,
    )
    .await;
    match result {
        Ok(done) => Ok(1 + u64::from(done.copy.is_some())),
        Err(message) => {
            let today = Utc::now().with_timezone(&tz).date_naive();
            if let Err(e) = tell_admins(&ctx, &message, &today.to_string()).await {
                tracing::warn!(error = %format!("{e:#}"), "could not notify about a failed backup");
            }
            anyhow::bail!("{message}")
        }
    }
}

/// Makes the backup, applies retention, copies it. The error is the whole story in words.
pub async fn make(
    db: &sqlx::MySqlPool,
    data_dir: &Path,
    backup_dir: &Path,
    copy_dir: Option<&Path>,
    tz: chrono_tz::Tz,
    keep_daily: u32,
    keep_weekly: u32,
) -> Result<Done, String> {
    // Retention first too: on a nearly full disk, what the policy would delete after this
    // backup anyway makes room for it (it deletes nothing the policy keeps afterwards). Best
    // effort: if the folder cannot be read, making the backup says why in its own words.
    if let Err(e) = retention::apply(backup_dir, Utc::now(), tz, keep_daily, keep_weekly) {
        tracing::warn!(error = %format!("{e:#}"), "could not clean up old backups before a backup");
    }
    let info = service::create(db, data_dir, backup_dir, &service::CreateOptions::default())
        .await
        .map_err(|e| format!("The scheduled backup could not be made: {e:#}."))?;
    // It was read back and checked: the backups page shows it as checked.
    super::manage::record_made(backup_dir, &info);
    let now: DateTime<Utc> = Utc::now();
    let deleted = retention::apply(backup_dir, now, tz, keep_daily, keep_weekly)
        .map_err(|e| {
            format!(
                "The backup {} was made, but old backups could not be cleaned up: {e:#}.",
                info.file
            )
        })?
        .len();
    let mut done = Done {
        file: info.file.clone(),
        bytes: info.bytes,
        deleted,
        copy: None,
        copy_deleted: 0,
    };
    let Some(copy_dir) = copy_dir else {
        return Ok(done);
    };
    let source = PathBuf::from(&info.path);
    let target = copy_dir.to_path_buf();
    let copied = tokio::task::spawn_blocking(move || copy_archive(&source, &target))
        .await
        .map_err(|e| format!("The copy to the USB drive stopped: {e}"))?;
    let copy = copied.map_err(|e| {
        format!(
            "The backup {} was made in {}, but it could not be copied to the second backup \
             folder: {e}",
            info.file,
            backup_dir.display()
        )
    })?;
    done.copy_deleted = retention::apply(copy_dir, now, tz, keep_daily, keep_weekly)
        .map_err(|e| {
            format!(
                "The backup {} was made and copied to {}, but old backups there could not be \
                 cleaned up: {e:#}.",
                info.file,
                copy_dir.display()
            )
        })?
        .len();
    done.copy = Some(copy);
    Ok(done)
}

/// Copies the archive at `source` into `dir`: to a temporary name, fsynced, renamed, then read
/// back and compared (size and SHA-256) with the original. Nothing is left behind on failure.
pub fn copy_archive(source: &Path, dir: &Path) -> Result<PathBuf, String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "{shown} is not a folder. Check the backup_copy_dir setting."
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "the folder {shown} does not exist. Is the USB drive plugged in? Plug it in \
                 (and check that it is mounted and has that folder), then run the backup again."
            ));
        }
        Err(e) => return Err(format!("the folder {shown} cannot be opened ({e}).")),
    }
    let file = source
        .file_name()
        .ok_or_else(|| format!("{} is not a backup file.", source.display()))?;
    let bytes = std::fs::metadata(source)
        .map_err(|e| format!("the backup {} cannot be read ({e}).", source.display()))?
        .len();
    if let Some(space) = crate::system::status::storage(dir).space
        && !room_for_copy(bytes, space.free_bytes)
    {
        return Err(format!(
            "the drive holding {shown} is full: {} free, the copy needs {} and some to spare. \
             Delete old files from it or use a bigger drive.",
            crate::system::status::bytes(space.free_bytes),
            crate::system::status::bytes(bytes)
        ));
    }
    let target = dir.join(file);
    let tmp = dir.join(format!(".{}.tmp", file.to_string_lossy()));
    let written = write_copy(source, &tmp, &target, dir);
    let outcome = written.and_then(|original| {
        let copy =
            hash_file(&target).map_err(|e| format!("the copy cannot be read back ({e})."))?;
        if copy != original {
            return Err(format!(
                "the copy does not match the backup when read back ({} bytes against {}). The \
                 drive may be failing.",
                copy.0, original.0
            ));
        }
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(target),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&target);
            Err(e)
        }
    }
}

/// Writes `source` to `tmp`, fsyncs, renames to `target`. Returns the original's size and hash.
fn write_copy(
    source: &Path,
    tmp: &Path,
    target: &Path,
    dir: &Path,
) -> Result<(u64, [u8; 32]), String> {
    let fail = |what: &str, e: std::io::Error| {
        if e.raw_os_error() == Some(28) {
            format!("the drive holding {} is full ({what}).", dir.display())
        } else if matches!(e.raw_os_error(), Some(13 | 30)) {
            format!(
                "the server may not write to {} ({e}). If the drive is mounted read-only, \
                 remount it; for the packaged service, allow the folder with `sudo systemctl \
                 edit logbook` (ReadWritePaths=-{}).",
                dir.display(),
                dir.display()
            )
        } else {
            format!("{what} failed: {e}.")
        }
    };
    let mut input =
        std::fs::File::open(source).map_err(|e| fail("opening the backup to copy it", e))?;
    // Like the original: it holds every member's data and the server's secrets.
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| fail("writing to the drive", e))?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| fail("reading the backup", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .map_err(|e| fail("writing to the drive", e))?;
        total += n as u64;
    }
    output
        .sync_all()
        .map_err(|e| fail("saving the copy to the drive", e))?;
    drop(output);
    std::fs::rename(tmp, target).map_err(|e| fail("naming the copy", e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((total, hasher.finalize().into()))
}

fn hash_file(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hasher.finalize().into()))
}

/// Notifies the organization's administrators; once a day whatever the number of failed runs.
async fn tell_admins(ctx: &JobCtx, message: &str, day: &str) -> anyhow::Result<()> {
    let state = &ctx.state;
    let mut tx = state.db.begin().await?;
    let admins = notify::holders_of(&mut tx, ctx.org_id, SETTINGS_MANAGE)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    notify::notify(
        &state.notifier,
        &mut tx,
        ctx.org_id,
        &admins,
        &Notice {
            category: categories::SYSTEM,
            subject: "The nightly backup failed".into(),
            body: format!(
                "{message}\n\nUntil this is fixed, the latest data is not safe if the station's \
                 computer or its memory card fails. The backup job's page shows every run; \
                 \"Run now\" there tries again."
            ),
            link: Some(format!("/settings/jobs/{}", BACKUP_JOB)),
            dedupe_key: Some(format!("backup-failed:{day}")),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("notifying the administrators")?;
    state.mailer.commit_and_kick(tx).await?;
    Ok(())
}

/// The job's name.
pub const BACKUP_JOB: &str = "backup";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_copy_needs_the_archive_and_some_to_spare() {
        const MB: u64 = 1024 * 1024;
        // (archive, free, room?)
        for (archive, free, room) in [
            (100 * MB, 1000 * MB, true),
            (100 * MB, 100 * MB + COPY_SPARE_BYTES, true),
            (100 * MB, 100 * MB + COPY_SPARE_BYTES - 1, false),
            (100 * MB, 100 * MB, false),
            (0, COPY_SPARE_BYTES - 1, false),
            (0, 0, false),
            (u64::MAX, u64::MAX, false),
        ] {
            assert_eq!(
                room_for_copy(archive, free),
                room,
                "{archive} bytes with {free} free"
            );
        }
    }

    #[test]
    fn backup_copy_is_byte_identical_and_missing_folder_is_named() {
        let base = std::env::temp_dir().join(format!("logbook-copy-{}", uuid::Uuid::now_v7()));
        let from = base.join("from");
        let to = base.join("usb");
        std::fs::create_dir_all(&from).unwrap();
        let source = from.join("logbook-20261125-024500-000-0123abcd.lbk");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &data).unwrap();

        let err = copy_archive(&source, &to).unwrap_err();
        assert!(err.contains(&to.display().to_string()), "{err}");
        assert!(err.contains("does not exist"), "{err}");

        std::fs::create_dir_all(&to).unwrap();
        let copy = copy_archive(&source, &to).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), data);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the copy is readable by others: {mode:o}"
        );
        let names: Vec<String> = std::fs::read_dir(&to)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["logbook-20261125-024500-000-0123abcd.lbk"]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
