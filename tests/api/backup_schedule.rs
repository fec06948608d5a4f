//! The scheduled backup (`backup` job), run by hand the way an administrator's "Run now" does:
//! a verified archive in the backup folder and a byte-identical copy in the second (USB) folder;
//! retention in both; a missing USB folder or a backup that cannot be made fails the run with
//! the reason and tells the administrators once a day; with two organizations only the oldest
//! one's run backs up. A full drive is not simulated here: the free-space decision is a pure
//! function with its own unit test (`backup::schedule::tests`), as is the retention policy's
//! table of cases (`backup::retention::tests`).
//!
//! Backups are the whole host's: every test here has a database of its own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use logbook::backup::{retention, service};

use crate::harness::*;

/// Runs the backup job now as `user` and waits for it to finish; the finished run.
async fn run_backup(app: &TestApp, user: &User) -> Value {
    let (status, body) = app
        .call(Method::POST, &user.token, "/api/v1/jobs/backup/run", None)
        .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::ACCEPTED,
        "run the backup now: {status} {body}"
    );
    let id = body["id"].as_str().unwrap().to_string();
    eventually("the backup run to finish", Duration::from_secs(60), || {
        let id = id.clone();
        async move {
            let (status, page) = app
                .get(&user.token, "/api/v1/jobs/backup/runs?per_page=100")
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id.as_str() && r["outcome"] != "running")
                .cloned()
        }
    })
    .await
}

/// Every name in `dir` (hidden ones too), sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(r) => r
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

async fn system_notices(app: &TestApp, user: Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT subject, message FROM notification_logs
          WHERE recipient_id = ? AND category = 'system' ORDER BY id",
    )
    .bind(user)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

/// An archive name (not an archive: retention goes by names) for `days_ago` days ago. Counted
/// from one instant per test (each test is its own process), so the same age always gives the
/// same name, however many seconds the test takes between writing and checking.
fn old_name(days_ago: i64) -> String {
    static START: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let at = *START.get_or_init(Utc::now) - chrono::Duration::days(days_ago);
    format!("logbook-{}-000-0123abcd.lbk", at.format("%Y%m%d-%H%M%S"))
}

#[tokio::test]
async fn a_backup_run_makes_a_verified_archive_and_a_byte_identical_copy() {
    let usb = temp_dir().join("logbook");
    std::fs::create_dir_all(&usb).unwrap();
    let usb2 = usb.clone();
    let app = TestApp::spawn_with(move |c| c.backup_copy_dir = Some(usb2), None).await;
    let backup_dir = app.state.config.backup_dir.clone();
    assert_eq!(backup_dir, app.data_dir.join("backups"));

    // The job is listed with the others, at 02:45 in the organization's time zone.
    let (status, list) = app.get(&app.a.admin.token, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let job = list
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "backup")
        .unwrap_or_else(|| panic!("no backup job in {list}"))
        .clone();
    assert_eq!(job["schedule"], "0 45 2 * * *", "{job}");
    assert_eq!(job["timezone"], "America/Chicago", "{job}");

    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["items"], 2, "one archive and one copy: {run}");

    let made = service::list(&backup_dir).unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    let file = &made[0].file;
    assert!(retention::made_at(file).is_some(), "{file}");
    let checked = service::verify(&backup_dir.join(file), None).await.unwrap();
    assert!(!checked.manifest.tables.is_empty());
    // Nothing else in either folder: no temporary file left behind; beside the archive only its
    // summary for the backups page, which shows it as checked.
    assert_eq!(
        names_in(&backup_dir),
        vec![file.clone(), format!("{file}.json")]
    );
    assert_eq!(names_in(&usb), vec![file.clone()]);
    assert_eq!(
        std::fs::read(usb.join(file)).unwrap(),
        std::fs::read(backup_dir.join(file)).unwrap(),
        "the copy is not byte-identical"
    );
    service::verify(&usb.join(file), None).await.unwrap();
    // No one was told anything.
    assert!(system_notices(&app, app.a.admin.id).await.is_empty());
}

#[tokio::test]
async fn retention_keeps_exactly_what_the_policy_says_in_a_folder() {
    let dir = temp_dir();
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    // Today, then 1, 2, 3, 9, 10, 16, 30 and 60 days ago; an archive has a sidecar.
    let ages = [0, 1, 2, 3, 9, 10, 16, 30, 60];
    for days in ages {
        std::fs::write(dir.join(old_name(days)), b"archive").unwrap();
    }
    std::fs::write(dir.join(format!("{}.json", old_name(60))), b"{}").unwrap();
    for foreign in ["notes.txt", "family-photos.lbk", ".logbook-partial.lbk.tmp"] {
        std::fs::write(dir.join(foreign), b"not ours").unwrap();
    }
    // Keep 3 days (today, 1 and 2 days ago) and, before them, 2 weeks: the newest week before
    // the days kept holds 3 (and perhaps 9) days ago, the next the rest in turn; the weeks are
    // counted in Chicago's calendar, so which old ones stay is worked out the same way here.
    let deleted = retention::apply(&dir, Utc::now(), tz, 3, 2).unwrap();
    let kept: Vec<String> = ages
        .iter()
        .map(|d| old_name(*d))
        .filter(|n| !deleted.contains(n))
        .collect();
    assert_eq!(kept.len(), 5, "3 days and 2 weeks: {kept:?}");
    for days in [0, 1, 2, 3] {
        assert!(kept.contains(&old_name(days)), "{days} days ago: {kept:?}");
    }
    for days in [30, 60] {
        assert!(
            deleted.contains(&old_name(days)),
            "{days} days ago: {deleted:?}"
        );
    }
    let mut want: Vec<String> = kept.clone();
    want.extend(
        ["notes.txt", "family-photos.lbk", ".logbook-partial.lbk.tmp"]
            .iter()
            .map(|s| s.to_string()),
    );
    want.sort();
    // The sidecar went with its archive; files not ours stayed.
    assert_eq!(names_in(&dir), want);
    // Run again: nothing more to delete.
    assert!(
        retention::apply(&dir, Utc::now(), tz, 3, 2)
            .unwrap()
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_backup_run_applies_retention_in_both_folders() {
    let usb = temp_dir();
    let usb2 = usb.clone();
    let app = TestApp::spawn_with(
        move |c| {
            c.backup_copy_dir = Some(usb2);
            c.backup_keep_daily = 1;
            c.backup_keep_weekly = 1;
        },
        None,
    )
    .await;
    let backup_dir = app.state.config.backup_dir.clone();
    std::fs::create_dir_all(&backup_dir).unwrap();
    // Named once: a name is the time now, less the days, to the second, and the clock moves on.
    let old: Vec<String> = [3, 10, 20].into_iter().map(old_name).collect();
    for dir in [&backup_dir, &usb] {
        for name in &old {
            std::fs::write(dir.join(name), b"an old backup").unwrap();
        }
        std::fs::write(dir.join("keep-me.txt"), b"mine").unwrap();
    }
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let new = service::list(&backup_dir).unwrap()[0].file.clone();
    // Today's (the new one) and, before today, the newest of one week (3 days ago).
    let mut want = vec![new.clone(), old[0].clone(), "keep-me.txt".to_string()];
    want.sort();
    assert_eq!(names_in(&usb), want);
    // The backup folder also holds the new archive's summary for the backups page.
    want.push(format!("{new}.json"));
    want.sort();
    assert_eq!(names_in(&backup_dir), want);
}

#[tokio::test]
async fn a_missing_usb_folder_fails_the_run_and_tells_the_admins_once_a_day() {
    let usb: PathBuf = temp_dir().join("usb-drive-not-plugged-in");
    let usb2 = usb.clone();
    let app = TestApp::spawn_with(move |c| c.backup_copy_dir = Some(usb2), None).await;
    let backup_dir = app.state.config.backup_dir.clone();
    let member = app.member(&app.a, "firefighter", &[]).await;

    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains(&usb.display().to_string()) && error.contains("does not exist"),
        "the error names the folder: {error}"
    );
    assert!(error.contains("USB drive"), "{error}");
    // The main backup was still made, and nothing was written where the drive should be.
    let first = service::list(&backup_dir).unwrap();
    assert_eq!(first.len(), 1);
    assert!(!usb.exists());

    let notices = system_notices(&app, app.a.admin.id).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, "The nightly backup failed");
    assert!(
        notices[0].1.contains(&usb.display().to_string()),
        "{notices:?}"
    );
    assert!(system_notices(&app, member.id).await.is_empty());
    assert!(system_notices(&app, app.b.admin.id).await.is_empty());

    // Failing again the same day makes another backup (which takes the day's place: the newest
    // of each day is kept) but tells no one twice.
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    let second = service::list(&backup_dir).unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].file, first[0].file);
    assert_eq!(system_notices(&app, app.a.admin.id).await.len(), 1);

    // The drive is plugged in: the next run succeeds and copies.
    std::fs::create_dir_all(&usb).unwrap();
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(service::list(&usb).unwrap().len(), 1);
}

#[tokio::test]
async fn a_backup_that_cannot_be_made_fails_the_run_and_tells_the_admins() {
    // The backup folder cannot be created: a file stands where its parent should be.
    let blocker = temp_dir().join("not-a-folder");
    std::fs::write(&blocker, b"a file").unwrap();
    let backup_dir = blocker.join("backups");
    let dir2 = backup_dir.clone();
    let app = TestApp::spawn_with(move |c| c.backup_dir = dir2, None).await;
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("could not be made") && error.contains(&backup_dir.display().to_string()),
        "{error}"
    );
    let notices = system_notices(&app, app.a.admin.id).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(std::fs::read(&blocker).unwrap(), b"a file");
}

#[tokio::test]
async fn with_two_organizations_only_the_oldest_makes_the_backup() {
    let app = TestApp::spawn_private().await;
    let backup_dir = app.state.config.backup_dir.clone();

    let run = run_backup(&app, &app.b.admin).await;
    assert_eq!(run["outcome"], "skipped", "{run}");
    let reason = run["error"].as_str().unwrap();
    assert!(
        reason.contains("Alpha Fire Department") && reason.contains("whole server"),
        "the reason is given in words: {reason}"
    );
    assert!(service::list(&backup_dir).unwrap().is_empty());
    assert!(system_notices(&app, app.b.admin.id).await.is_empty());

    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(service::list(&backup_dir).unwrap().len(), 1);

    // Each organization's list shows its own last run.
    let (_, list) = app.get(&app.b.admin.token, "/api/v1/jobs").await;
    let job = list
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "backup")
        .unwrap()
        .clone();
    assert_eq!(job["last_run"]["outcome"], "skipped", "{job}");
    assert!(
        job["last_failure"].is_null(),
        "a skip is not a failure: {job}"
    );
}

#[tokio::test]
async fn run_now_while_another_backup_runs_is_a_skip_not_a_failure() {
    let app = TestApp::spawn_private().await;
    let backup_dir = app.state.config.backup_dir.clone();
    // An administrator's backup (or a restore) holds the backup lock.
    let held = service::lock(&app.state.db).await.expect("lock");
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "skipped", "{run}");
    assert!(
        run["error"]
            .as_str()
            .is_some_and(|e| e.contains("Another backup or restore was running")),
        "{run}"
    );
    assert!(
        system_notices(&app, app.a.admin.id).await.is_empty(),
        "no one is told the nightly backup failed"
    );
    let (_, list) = app.get(&app.a.admin.token, "/api/v1/jobs").await;
    let job = list
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "backup")
        .unwrap()
        .clone();
    assert!(job["last_failure"].is_null(), "{job}");
    held.release().await;
    let run = run_backup(&app, &app.a.admin).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(service::list(&backup_dir).unwrap().len(), 1);
}
