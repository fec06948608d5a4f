//! Backups: an archive holds every table as the database has it, stays consistent while the
//! server keeps writing, refuses damage, and one runs at a time. Real MariaDB, the real server.
//!
//! A backup holds the whole server, a restore replaces it: every test here has a database of
//! its own (`TestApp::spawn_private`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::json;
use sqlx::AssertSqlSafe;

use crate::harness::{TestApp, logbook_command, temp_dir};
use logbook::backup::archive::{self, Entry};
use logbook::backup::service;

/// Every row count of the test database, by table.
async fn counts(app: &TestApp) -> BTreeMap<String, u64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
          WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'
            AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM `{t}`")))
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        out.insert(t, n as u64);
    }
    out
}

/// The lines of `table` in the archive, parsed.
fn rows_of(path: &Path, table: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    archive::read_checked(path, None, |e| {
        if let Entry::Rows { table: t, bytes } = e
            && *t == table
        {
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                rows.push(serde_json::from_slice(line)?);
            }
        }
        Ok(())
    })
    .unwrap();
    rows
}

#[tokio::test]
async fn a_backup_holds_every_table_exactly_and_reads_back() {
    let app = TestApp::spawn_private().await;
    // Text that is not ASCII, NULLs, a long body, binary ids.
    let member = app.member(&app.a, "zoe", &[]).await;
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            &format!("/api/v1/members/{}", member.id),
            json!({"first_name": "Zoë 🚒", "last_name": "Ångström-Łukasz", "rank": null}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let long = "Hose testing ✓ ".repeat(650);
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/announcements",
            json!({"title": "Long one ✓", "body": long}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");

    let dir = temp_dir();
    let progress = std::sync::Arc::new(service::Progress::default());
    let options = service::CreateOptions {
        progress: Some(progress.clone()),
    };
    let info = service::create(&app.state.db, &app.data_dir, &dir, &options)
        .await
        .expect("backup");
    assert!(info.bytes > 0);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&info.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup holds secrets: owner only");
    }
    let seen = progress.view();
    assert_eq!(seen.stage, "done");
    assert_eq!(seen.tables_done as usize, info.tables);
    assert_eq!(seen.tables_total as usize, info.tables);
    assert_eq!(seen.rows, info.rows);
    let path = Path::new(&info.path);
    let checked = service::verify(path, None).await.expect("reads back");
    let m = checked.manifest;
    assert_eq!(m.app_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(m.schema_version, *m.migrations.last().unwrap());
    // Every table, with the database's row count.
    let expected = counts(&app).await;
    let got: BTreeMap<String, u64> = m.tables.iter().map(|t| (t.name.clone(), t.rows)).collect();
    assert_eq!(got, expected);
    assert!(got["users"] >= 3 && got["audit_logs"] > 0);
    // Values come back exactly: the member's name, the NULL, the binary id as hex.
    let users = rows_of(path, "users");
    let columns: Vec<&str> = m
        .tables
        .iter()
        .find(|t| t.name == "users")
        .unwrap()
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let col = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    let zoe = users
        .iter()
        .find(|r| r[col("username")].as_deref() == Some("zoe"))
        .expect("the member is in the archive");
    assert_eq!(zoe[col("first_name")].as_deref(), Some("Zoë 🚒"));
    assert_eq!(zoe[col("last_name")].as_deref(), Some("Ångström-Łukasz"));
    assert_eq!(zoe[col("rank")], None);
    assert_eq!(
        zoe[col("id")].as_deref(),
        Some(member.id.simple().to_string().to_uppercase().as_str())
    );
    let stored: String = sqlx::query_scalar("SELECT body FROM announcements")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(stored.chars().count() > 9000);
    let announcements = rows_of(path, "announcements");
    assert!(
        announcements
            .iter()
            .flatten()
            .any(|v| v.as_deref() == Some(stored.as_str()))
    );
    // The data directory's secrets are in it; the backups themselves are not.
    assert!(
        m.files.iter().any(|f| f.path == "secrets/jwt.key"),
        "{:?}",
        m.files
    );
    // Audit chain heads as checkpoints, one per organization.
    assert_eq!(m.audit_checkpoints.len(), 2);
    // Listed, newest first; a temporary file of a backup cut short is not.
    std::fs::write(dir.join(".logbook-cut-short.lbk.tmp"), b"half").unwrap();
    let second = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    let listed = service::list(&dir).unwrap();
    assert_eq!(
        listed.iter().map(|l| l.file.as_str()).collect::<Vec<_>>(),
        [second.file.as_str(), info.file.as_str()]
    );
}

#[tokio::test]
async fn writes_during_a_backup_never_give_an_archive_that_fails_its_manifest() {
    let app = TestApp::spawn_private().await;
    let dir = temp_dir();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Members created (each an insert, role grants and audit entries in one transaction) while
    // backups run.
    let writer = {
        let stop = stop.clone();
        let client = app.client.clone();
        let url = app.url("/api/v1/members");
        let token = app.a.admin.token.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"username": format!("busy{n}"),
                                  "email": format!("busy{n}@example.org"),
                                  "first_name": "Busy", "last_name": format!("{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), reqwest::StatusCode::CREATED);
            }
            n
        })
    };
    let mut archives = Vec::new();
    for _ in 0..4 {
        archives.push(
            service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
                .await
                .expect("backup while writing"),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    for info in archives {
        let path = Path::new(&info.path);
        let m = service::verify(path, None)
            .await
            .expect("consistent")
            .manifest;
        // One snapshot: each organization's audit rows end exactly at its chain head.
        let audit = rows_of(path, "audit_logs");
        let columns: Vec<String> = m
            .tables
            .iter()
            .find(|t| t.name == "audit_logs")
            .unwrap()
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let org_col = columns.iter().position(|c| c == "organization_id").unwrap();
        for cp in &m.audit_checkpoints {
            let hex = cp.organization_id.simple().to_string().to_uppercase();
            let n = audit
                .iter()
                .filter(|r| r[org_col].as_deref() == Some(hex.as_str()))
                .count() as u64;
            assert_eq!(
                n, cp.last_sequence,
                "audit rows of {hex} match the chain head"
            );
        }
        // Members and their audit entries were taken together.
        let users = m.tables.iter().find(|t| t.name == "users").unwrap().rows;
        let created = audit
            .iter()
            .filter(|r| r.iter().any(|v| v.as_deref() == Some("member.created")))
            .count() as u64;
        assert_eq!(
            users, created,
            "every member in the archive has its audit entry"
        );
    }
}

#[tokio::test]
async fn a_damaged_cut_short_or_foreign_file_is_refused() {
    let app = TestApp::spawn_private().await;
    let dir = temp_dir();
    let info = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    let good = std::fs::read(&info.path).unwrap();

    // One byte changed in the middle.
    let flipped = dir.join("flipped.lbk");
    std::fs::write(&flipped, &good).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&flipped)
        .unwrap();
    let middle = good.len() as u64 / 2;
    f.seek(SeekFrom::Start(middle)).unwrap();
    let mut byte = [0u8];
    f.read_exact(&mut byte).unwrap();
    f.seek(SeekFrom::Start(middle)).unwrap();
    f.write_all(&[byte[0] ^ 0x5a]).unwrap();
    drop(f);
    let err = service::verify(&flipped, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("damaged") || err.contains("does not match") || err.contains("incomplete"),
        "{err}"
    );

    // Cut short.
    let cut = dir.join("cut.lbk");
    std::fs::write(&cut, &good[..good.len() * 2 / 3]).unwrap();
    let err = service::verify(&cut, None).await.unwrap_err().to_string();
    assert!(
        err.contains("incomplete") || err.contains("damaged"),
        "{err}"
    );

    // The gzip trailer (CRC-32, then length; the last 8 bytes) cut off, or its CRC altered,
    // or something appended: everything before it reads fine, and still the file is refused.
    let trailer = good.len() - 8;
    let mut bad_crc = good.clone();
    bad_crc[trailer] ^= 0x01;
    let mut appended = good.clone();
    appended.extend_from_slice(b"extra");
    for (name, bytes) in [
        ("no-trailer.lbk", good[..trailer].to_vec()),
        ("half-trailer.lbk", good[..good.len() - 3].to_vec()),
        ("bad-crc.lbk", bad_crc),
        ("appended.lbk", appended),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = service::verify(&path, None)
            .await
            .expect_err(name)
            .to_string();
        assert!(
            err.contains("incomplete") || err.contains("damaged"),
            "{name}: {err}"
        );
    }

    // Not a backup at all.
    let foreign = dir.join("holiday-photo.lbk");
    std::fs::write(&foreign, b"\x89PNG\r\n\x1a\nnot a backup").unwrap();
    let err = service::verify(&foreign, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a Logbook backup"), "{err}");

    // The command says so and fails.
    let out = logbook_command(&dir)
        .args(["backup", "verify"])
        .arg(&cut)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let out = logbook_command(&dir)
        .args(["backup", "verify", &info.path])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok:"));
}

#[tokio::test]
async fn one_backup_at_a_time_and_the_command_makes_and_lists_them() {
    let app = TestApp::spawn_private().await;
    let dir = temp_dir();
    let held = service::lock(&app.state.db).await.expect("lock");
    let err = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already running"), "{err}");
    assert!(service::list(&dir).unwrap().is_empty());
    held.release().await;

    let config = cli_config(&app, &dir);
    let out = crate::harness::logbook_command_with_config(&config)
        .args(["backup", "create", "--dir"])
        .arg(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("checked"), "{said}");
    let out = crate::harness::logbook_command_with_config(&config)
        .args(["backup", "list", "--dir"])
        .arg(&dir)
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with("logbook-"), "{listed}");
}

/// The manifest of a new backup of the database as it is now (in a directory of its own).
async fn current(app: &TestApp) -> archive::Manifest {
    let made = service::create(
        &app.state.db,
        &app.data_dir,
        &temp_dir(),
        &Default::default(),
    )
    .await
    .unwrap();
    service::verify(Path::new(&made.path), None)
        .await
        .unwrap()
        .manifest
}

/// Each table's (rows, checksum) in a manifest.
fn tables_of(m: &archive::Manifest) -> BTreeMap<String, (u64, String)> {
    m.tables
        .iter()
        .map(|t| (t.name.clone(), (t.rows, t.sha256.clone())))
        .collect()
}

#[tokio::test]
async fn a_restore_puts_back_every_row_exactly_and_the_audit_chain_verifies() {
    let app = TestApp::spawn_private().await;
    let member = app.member(&app.a, "kept", &[]).await;
    let (status, _) = app
        .patch(
            &app.a.admin.token,
            &format!("/api/v1/members/{}", member.id),
            json!({"first_name": "Zoë 🚒", "rank": null}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    // A shift with the member in a seat: its table has generated columns, which a backup
    // leaves out (the database works them out again on restore).
    let (status, template) = app
        .post(
            &app.a.admin.token,
            "/api/v1/scheduling/templates",
            json!({"name": "Duty", "start_time": "07:00", "duration_minutes": 720,
                   "positions": [{"name": "Crew"}]}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{template}");
    let day = app.org_today(&app.a).await + chrono::Duration::days(3);
    let (status, shift) = app
        .post(
            &app.a.admin.token,
            "/api/v1/scheduling/shifts",
            json!({"template_id": template["id"], "shift_date": day}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{shift}");
    let (status, body) = app
        .post(
            &member.token,
            &format!(
                "/api/v1/scheduling/shifts/{}/signup",
                shift["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let dir = temp_dir();
    let before = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    let wanted = service::verify(Path::new(&before.path), None)
        .await
        .unwrap()
        .manifest;

    // Afterwards: more members, a renamed department, a changed secret file.
    for n in 0..5 {
        app.member(&app.a, &format!("later{n}"), &[]).await;
    }
    let (status, _) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"name": "Renamed FD"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let jwt = app.data_dir.join("secrets/jwt.key");
    let jwt_before = std::fs::read(&jwt).unwrap();
    std::fs::write(&jwt, b"changed after the backup, at least thirty-two bytes").unwrap();

    let restored = logbook::backup::restore::restore(
        &app.state.db,
        &app.db.url,
        &app.data_dir,
        Path::new(&before.path),
        &dir,
        &logbook::backup::service::RestoreOptions::default(),
    )
    .await
    .expect("restore");
    assert_eq!(
        restored.rows,
        wanted.tables.iter().map(|t| t.rows).sum::<u64>()
    );
    // Every table is what the backup held, to the byte.
    let now = current(&app).await;
    assert_eq!(tables_of(&now), tables_of(&wanted));
    assert_eq!(now.audit_checkpoints, wanted.audit_checkpoints);
    assert_eq!(
        std::fs::read(&jwt).unwrap(),
        jwt_before,
        "files come back too"
    );
    let name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(app.a.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_ne!(name, "Renamed FD");
    // The audit chains verify, through the API of the running server.
    let (status, verify) = app
        .get(&app.a.admin.token, "/api/v1/audit-logs/verify")
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{verify}");
    assert!(verify["first_broken"].is_null(), "{verify}");
    // The schema is whole: the append-only triggers, foreign keys inside this database, nothing
    // left from the swap.
    let triggers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.triggers
          WHERE trigger_schema = DATABASE() AND event_object_table = 'audit_logs'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(triggers, 2);
    let refused = sqlx::query("DELETE FROM audit_logs LIMIT 1")
        .execute(&app.db.pool)
        .await;
    assert!(refused.is_err(), "audit_logs is append-only again");
    let foreign: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.referential_constraints
          WHERE constraint_schema = DATABASE() AND unique_constraint_schema <> DATABASE()",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(foreign, 0, "no foreign key points into another database");
    let orphan = sqlx::query(
        "INSERT INTO user_roles (user_id, role_id, organization_id, assigned_at)
         VALUES (UNHEX(REPLACE(UUID(), '-', '')), UNHEX(REPLACE(UUID(), '-', '')), ?, NOW())",
    )
    .bind(app.a.id)
    .execute(&app.db.pool)
    .await;
    assert!(orphan.is_err(), "foreign keys are enforced");
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata
          WHERE schema_name = CONCAT(DATABASE(), '_old')",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(leftovers, 0);
    let scratch: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = CONCAT(DATABASE(), '_restore')",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(scratch, 0);
    // The data from before the restore was kept.
    let safety = restored.safety_backup.expect("a safety backup");
    let kept = service::verify(Path::new(&safety), None)
        .await
        .unwrap()
        .manifest;
    assert_eq!(
        kept.tables.iter().find(|t| t.name == "users").unwrap().rows,
        wanted
            .tables
            .iter()
            .find(|t| t.name == "users")
            .unwrap()
            .rows
            + 5
    );
}

/// `good` with its manifest changed by `change` (a well-formed archive that says something else).
fn rewritten(good: &Path, to: &Path, change: impl Fn(&mut archive::Manifest)) {
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let file = std::fs::File::open(good).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == archive::MANIFEST {
            let mut m: archive::Manifest = serde_json::from_slice(&data).unwrap();
            change(&mut m);
            data = serde_json::to_vec(&m).unwrap();
        }
        parts.push((name, data));
    }
    let out = std::fs::File::create(to).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        out,
        flate2::Compression::fast(),
    ));
    for (name, data) in parts {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        builder
            .append_data(&mut header, &name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn a_refused_restore_changes_nothing() {
    let app = TestApp::spawn_private().await;
    let dir = temp_dir();
    let info = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    let good = Path::new(&info.path);
    app.member(&app.a, "after", &[]).await;
    let before = counts(&app).await;
    let bad = temp_dir();

    let cut = bad.join("cut.lbk");
    let bytes = std::fs::read(good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let newer = bad.join("newer.lbk");
    rewritten(good, &newer, |m| {
        m.schema_version += 1;
        m.migrations.push(m.schema_version);
    });
    let lying = bad.join("lying.lbk");
    rewritten(good, &lying, |m| {
        let users = m.tables.iter_mut().find(|t| t.name == "users").unwrap();
        users.rows += 1;
    });
    for (path, says) in [
        (&cut, "incomplete"),
        (&newer, "newer Logbook"),
        (&lying, "does not match"),
    ] {
        let err = logbook::backup::restore::restore(
            &app.state.db,
            &app.db.url,
            &app.data_dir,
            path,
            &dir,
            &logbook::backup::service::RestoreOptions::default(),
        )
        .await
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(says), "{path:?}: {text}");
        assert!(text.contains("nothing was changed"), "{text}");
        assert_eq!(counts(&app).await, before, "{path:?} changed nothing");
    }
    assert_eq!(
        service::list(&dir).unwrap().len(),
        1,
        "no safety backup for a refused one"
    );
}

#[tokio::test]
async fn a_restore_cut_off_after_the_swap_is_finished_at_the_next_start() {
    let app = TestApp::spawn_private().await;
    // The moment after the swap: the triggers are gone and the journal holds them.
    let defs: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(trigger_name AS CHAR), CAST(action_timing AS CHAR),
                CAST(event_manipulation AS CHAR), CAST(event_object_table AS CHAR),
                CAST(action_statement AS CHAR)
           FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(defs.len(), 2);
    let journal: Vec<serde_json::Value> = defs
        .iter()
        .map(|(name, timing, event, table, statement)| {
            json!({"name": name, "timing": timing, "event": event, "table": table,
                   "statement": statement})
        })
        .collect();
    std::fs::write(
        app.data_dir.join("restore-journal.json"),
        serde_json::to_vec(&journal).unwrap(),
    )
    .unwrap();
    for (name, ..) in &defs {
        sqlx::query(AssertSqlSafe(format!("DROP TRIGGER `{name}`")))
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let config = crate::harness::test_config(&app.db.url, app.data_dir.clone());
    logbook::prepare(config).await.expect("a start finishes it");
    let back: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(back, 2);
    assert!(!app.data_dir.join("restore-journal.json").exists());
    assert!(
        sqlx::query("UPDATE audit_logs SET action = 'x' LIMIT 1")
            .execute(&app.db.pool)
            .await
            .is_err()
    );
}

/// Fills `notification_logs` with `n` generated rows for organization A's admin, so that a
/// backup or restore takes long enough to be interrupted.
async fn bulk(app: &TestApp, n: u32) {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO notification_logs (id, organization_id, recipient_id, category, subject,
            message, created_at)
         SELECT UNHEX(REPLACE(UUID(), '-', '')), ?, ?, 'system', CONCAT('Generated ', seq),
                REPEAT('Pump test results, engine 1, hydrant flow. ', 8), NOW(6)
           FROM seq_1_to_{n}"
    )))
    .bind(app.a.id)
    .bind(app.a.admin.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

fn cli_config(app: &TestApp, dir: &Path) -> std::path::PathBuf {
    let config = dir.join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\ndata_dir = {:?}\n",
            app.db.url,
            app.data_dir.display().to_string()
        ),
    )
    .unwrap();
    config
}

#[tokio::test]
async fn a_backup_killed_half_way_leaves_nothing_listed_as_good() {
    let app = TestApp::spawn_private().await;
    bulk(&app, 60_000).await;
    let dir = temp_dir();
    let work = temp_dir();
    let mut child = crate::harness::logbook_command_with_config(&cli_config(&app, &work))
        .args(["backup", "create", "--dir"])
        .arg(&dir)
        .spawn()
        .unwrap();
    // Killed (SIGKILL, as a power cut) as soon as the archive is being written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let writing = std::fs::read_dir(&dir)
            .map(|r| {
                r.filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .unwrap_or(false);
        if writing {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().await.unwrap();
    assert!(
        service::list(&dir).unwrap().is_empty(),
        "the half archive is not listed"
    );
    // The next backup is not blocked by the dead one and is good. (MariaDB frees the dead
    // connection's lock once it sees the connection closed: at once, or within moments on a
    // busy machine.)
    let info = crate::harness::eventually(
        "the dead backup's lock to be released",
        std::time::Duration::from_secs(10),
        || async {
            service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
                .await
                .ok()
        },
    )
    .await;
    assert_eq!(service::list(&dir).unwrap().len(), 1);
    service::verify(Path::new(&info.path), None).await.unwrap();
}

#[tokio::test]
async fn a_restore_killed_half_way_leaves_the_data_as_it_was() {
    let app = TestApp::spawn_private().await;
    bulk(&app, 60_000).await;
    let dir = temp_dir();
    let info = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    app.member(&app.a, "after", &[]).await;
    let wanted = current(&app).await;

    let work = temp_dir();
    let mut child = crate::harness::logbook_command_with_config(&cli_config(&app, &work))
        .args(["backup", "restore", &info.path, "--dir"])
        .arg(&dir)
        .spawn()
        .unwrap();
    // Killed while it loads the scratch database.
    let scratch = format!("{}_restore", app.db.name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let rows: Option<u64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT CAST(table_rows AS UNSIGNED) FROM information_schema.tables
              WHERE table_schema = '{scratch}' AND table_name = 'notification_logs'"
        )))
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
        .flatten();
        if rows.is_some_and(|r| r > 0) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    // The live data is exactly as before, and the next start is clean.
    let config = crate::harness::test_config(&app.db.url, app.data_dir.clone());
    logbook::prepare(config).await.unwrap();
    let now = current(&app).await;
    assert_eq!(tables_of(&now), tables_of(&wanted));
    let (status, verify) = app
        .get(&app.a.admin.token, "/api/v1/audit-logs/verify")
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(verify["first_broken"].is_null(), "{verify}");
    // And a restore after it works.
    logbook::backup::restore::restore(
        &app.state.db,
        &app.db.url,
        &app.data_dir,
        Path::new(&info.path),
        &dir,
        &logbook::backup::service::RestoreOptions::default(),
    )
    .await
    .expect("restore after the interrupted one");
}

/// `logbook backup restore` is a restore like the web's: a session signed out after the backup
/// does not come back to life, every session ends, and each department's log says so.
#[tokio::test]
async fn the_command_line_restore_ends_every_session_and_is_audited() {
    let app = TestApp::spawn_private().await;
    let member = app.member(&app.a, "signed-out-later", &[]).await;
    let dir = temp_dir();
    let info = service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
        .await
        .unwrap();
    // Signed out after the backup: in the backup, this session is still open.
    let (status, _) = app
        .post(&member.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert!(status.is_success(), "{status}");

    let work = temp_dir();
    let out = crate::harness::logbook_command_with_config(&cli_config(&app, &work))
        .args(["backup", "restore", &info.path, "--dir"])
        .arg(&dir)
        .env("SUDO_USER", "chief-on-the-box")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("session(s) ended"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Neither the signed-out session nor the admin's open one works any more.
    for (token, refresh) in [
        (&member.token, &member.refresh),
        (&app.a.admin.token, &app.a.admin.refresh),
    ] {
        let (status, _) = app.get(token, "/api/v1/auth/me").await;
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
        let res = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    // Both departments' logs have the entry, by the operator who ran it, and still verify.
    for org in [&app.a, &app.b] {
        let label: String = sqlx::query_scalar(
            "SELECT actor_label FROM audit_logs WHERE organization_id = ?
                AND action = 'backup.restored'",
        )
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        assert_eq!(label, "chief-on-the-box (command line)");
    }
    let admin = app.login("alpha-admin", crate::harness::PASSWORD).await;
    let (status, verify) = app.get(&admin.token, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(verify["valid"], true, "{verify}");
}
