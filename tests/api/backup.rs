//! Backups: an archive holds every table as the database has it, stays consistent while the
//! server keeps writing, refuses damage, and one runs at a time. Real MariaDB, the real server.

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
    archive::read_checked(path, |e| {
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
    let app = TestApp::spawn().await;
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
    let info = service::create(&app.state.db, &app.data_dir, &dir)
        .await
        .expect("backup");
    assert!(info.bytes > 0);
    let path = Path::new(&info.path);
    let checked = service::verify(path).await.expect("reads back");
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
    let second = service::create(&app.state.db, &app.data_dir, &dir)
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
    let app = TestApp::spawn().await;
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
            service::create(&app.state.db, &app.data_dir, &dir)
                .await
                .expect("backup while writing"),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
    for info in archives {
        let path = Path::new(&info.path);
        let m = service::verify(path).await.expect("consistent").manifest;
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
    let app = TestApp::spawn().await;
    let dir = temp_dir();
    let info = service::create(&app.state.db, &app.data_dir, &dir)
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
    let err = service::verify(&flipped).await.unwrap_err().to_string();
    assert!(
        err.contains("damaged") || err.contains("does not match") || err.contains("incomplete"),
        "{err}"
    );

    // Cut short.
    let cut = dir.join("cut.lbk");
    std::fs::write(&cut, &good[..good.len() * 2 / 3]).unwrap();
    let err = service::verify(&cut).await.unwrap_err().to_string();
    assert!(
        err.contains("incomplete") || err.contains("damaged"),
        "{err}"
    );

    // Not a backup at all.
    let foreign = dir.join("holiday-photo.lbk");
    std::fs::write(&foreign, b"\x89PNG\r\n\x1a\nnot a backup").unwrap();
    let err = service::verify(&foreign).await.unwrap_err().to_string();
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
    let app = TestApp::spawn().await;
    let dir = temp_dir();
    let held = logbook::db::NamedLock::try_acquire(&app.db.pool, service::LOCK)
        .await
        .unwrap()
        .expect("lock");
    let err = service::create(&app.state.db, &app.data_dir, &dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already running"), "{err}");
    assert!(service::list(&dir).unwrap().is_empty());
    held.release().await;

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
