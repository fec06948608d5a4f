//! Restoring from the web: uploading an archive (`/api/v1/backups/upload`), restoring one in the
//! background (`/api/v1/backups/{file}/restore`, its progress for the run's secret), the
//! restored secrets taking effect without a restart, the confirmation page, and "restore from a
//! backup" in the setup wizard.
//!
//! A restore replaces the whole host's data: every test here has a database of its own.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;
use crate::smtp_sink::SmtpSink;

const PASSPHRASE: &str = "ladder truck ninety one";

fn backup_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("backups")
}

/// "Back up now" as `token`, waited for; the file made.
async fn back_up_now(app: &TestApp, token: &str) -> String {
    let (status, body) = app.post(token, "/api/v1/backups", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = eventually("the backup to finish", Duration::from_secs(60), || async {
        let (_, run) = app.get(token, "/api/v1/backups/progress").await;
        (run["running"] == false).then_some(run)
    })
    .await;
    assert!(run["error"].is_null(), "{run}");
    run["result"]["file"].as_str().unwrap().to_string()
}

/// Uploads `bytes` to `path` with `auth` (a bearer token, or a setup token for the wizard).
async fn upload(
    client: &reqwest::Client,
    url: String,
    auth: Auth<'_>,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let req = client
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(bytes);
    let req = match auth {
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Setup(t) => req.header("x-setup-token", t),
        Auth::None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Setup(&'a str),
    None,
}

/// Polls the restore's progress with its secret until it has ended.
async fn wait_for_restore(client: &reqwest::Client, url: String, secret: &str) -> Value {
    eventually(
        "the restore to finish",
        Duration::from_secs(120),
        || async {
            let res = client
                .get(&url)
                .header("x-restore-run", secret)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let run: Value = res.json().await.unwrap();
            (run["running"] == false).then_some(run)
        },
    )
    .await
}

/// Starts restoring `file` as `token` and waits for the end; the finished run.
async fn restore(app: &TestApp, token: &str, file: &str, passphrase: Option<&str>) -> Value {
    let body = match passphrase {
        Some(p) => json!({"passphrase": p}),
        None => json!({}),
    };
    let res = app
        .client
        .post(app.url(&format!("/api/v1/backups/{file}/restore")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        res.headers()["location"],
        "/api/v1/backups/restore/progress"
    );
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["running"], true, "{started}");
    assert_eq!(started["file"], file);
    let secret = started["run_token"]
        .as_str()
        .expect("run_token")
        .to_string();
    wait_for_restore(
        &app.client,
        app.url("/api/v1/backups/restore/progress"),
        &secret,
    )
    .await
}

async fn usernames(pool: &sqlx::MySqlPool) -> Vec<String> {
    sqlx::query_scalar("SELECT username FROM users ORDER BY username")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn restored_entries(pool: &sqlx::MySqlPool) -> Vec<(Uuid, String, String)> {
    sqlx::query_as(
        "SELECT organization_id, actor_label, changes FROM audit_logs
          WHERE action = 'backup.restored' ORDER BY sequence",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Files in the backup directory whose names begin with `.upload-` (an upload's temporary file).
fn upload_leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".upload-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_backup_made_and_changed_since_is_restored_through_the_api() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    app.member(&app.a, "kept-member", &[]).await;
    let file = back_up_now(&app, &admin).await;
    // Changed after the backup: gone once it is restored.
    app.member(&app.a, "added-later", &[]).await;
    assert!(
        usernames(&app.db.pool)
            .await
            .contains(&"added-later".into())
    );

    let run = restore(&app, &admin, &file, None).await;
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(run["progress"]["stage"], "done", "{run}");
    let result = &run["result"];
    assert_eq!(result["file"], file.as_str());
    assert!(result["rows"].as_u64().unwrap() > 10, "{result}");
    assert_eq!(result["from_schema"], result["to_schema"]);
    assert!(result["warning"].is_null(), "{result}");
    assert!(result["sessions_ended"].as_u64().unwrap() >= 1, "{result}");
    let safety = result["safety_backup"].as_str().unwrap().to_string();

    let names = usernames(&app.db.pool).await;
    assert!(names.contains(&"kept-member".into()), "{names:?}");
    assert!(!names.contains(&"added-later".into()), "{names:?}");

    // Everyone signs in again: the administrator's session ended with the restore.
    let (status, body) = app.get(&admin, "/api/v1/backups").await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let admin = app.login("alpha-admin", PASSWORD).await.token;

    // In the restored log, by who restored it, and the chain verifies.
    let entries = restored_entries(&app.db.pool).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (org, actor, changes) = &entries[0];
    assert_eq!(*org, app.a.id);
    assert_eq!(actor, "alpha-admin");
    let changes: Value = serde_json::from_str(changes).unwrap();
    assert_eq!(changes["file"], file.as_str());
    assert_eq!(changes["safety_backup"], safety.as_str());
    assert_eq!(changes["rows"], result["rows"]);
    assert_eq!(changes["from_schema"], result["from_schema"]);
    assert_eq!(changes["to_schema"], result["to_schema"]);
    let (status, report) = app.get(&admin, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["valid"], true, "{report}");

    // The safety backup is listed, checked, and holds the data from before.
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    let listed = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["file"] == safety.as_str())
        .unwrap_or_else(|| panic!("safety backup not listed: {list}"))
        .clone();
    assert_eq!(listed["verified"], true, "{listed}");
    assert_eq!(listed["restorable"], true, "{listed}");

    // The progress for an administrator (no secret) is the same run.
    let (status, again) = app.get(&admin, "/api/v1/backups/restore/progress").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["result"]["safety_backup"], safety.as_str());
    assert!(again.get("run_token").is_none(), "{again}");
}

#[tokio::test]
async fn an_archive_from_another_server_is_uploaded_and_its_secrets_take_effect() {
    // The server the backup comes from: its own secrets, a member and an SMTP password.
    let old = TestApp::spawn_one_organization().await;
    let sink = SmtpSink::start().await;
    let (status, body) = old
        .call(
            Method::PUT,
            &old.a.admin.token,
            "/api/v1/settings/email",
            Some(json!({
                "host": "127.0.0.1",
                "port": sink.port(),
                "security": "none",
                "username": "relay-user",
                "password": "relay-secret-7",
                "from_address": "logbook@example.org",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    old.member(&old.a, "from-old-box", &[]).await;
    let file = back_up_now(&old, &old.a.admin.token).await;
    let bytes = std::fs::read(backup_dir(&old.data_dir).join(&file)).unwrap();
    let old_jwt = std::fs::read(old.data_dir.join("secrets/jwt.key")).unwrap();

    // A new server with secrets of its own.
    let new = TestApp::spawn_one_organization().await;
    assert_ne!(
        std::fs::read(new.data_dir.join("secrets/jwt.key")).unwrap(),
        old_jwt
    );
    let key_file =
        |app: &TestApp| std::fs::read(app.data_dir.join("secrets/encryption.key")).unwrap();
    assert_ne!(key_file(&new), key_file(&old));
    let admin = new.a.admin.token.clone();
    let (status, entry) = upload(
        &new.client,
        new.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let uploaded = entry["file"].as_str().unwrap().to_string();
    assert!(uploaded.starts_with("uploaded-"), "{uploaded}");
    assert!(uploaded.ends_with(".lbk"), "{uploaded}");
    // Retention keeps only names it gave itself: an upload is never its to delete.
    assert_eq!(logbook::backup::retention::made_at(&uploaded), None);
    assert_eq!(entry["bytes"], bytes.len());
    assert_eq!(entry["verified"], true, "{entry}");
    assert_eq!(entry["restorable"], true, "{entry}");
    assert_eq!(entry["uploaded"], true, "{entry}");
    assert_eq!(entry["needs_passphrase"], false, "{entry}");
    let stored = backup_dir(&new.data_dir).join(&uploaded);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    assert!(upload_leftovers(&backup_dir(&new.data_dir)).is_empty());
    assert_eq!(new.audit_actions(&new.a, "backup.uploaded").await, 1);
    let (_, list) = new.get(&admin, "/api/v1/backups").await;
    assert_eq!(list["backups"][0]["file"], uploaded.as_str(), "{list}");

    let run = restore(&new, &admin, &uploaded, None).await;
    assert!(run["error"].is_null(), "{run}");
    assert!(run["result"]["warning"].is_null(), "{run}");

    // The old server's people sign in on the new one.
    let member = new.login("from-old-box", PASSWORD).await;
    let (status, me) = new.get(&member.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    // Tokens are signed with the restored key, read from the restored file.
    let restored_jwt = std::fs::read(new.data_dir.join("secrets/jwt.key")).unwrap();
    assert_eq!(restored_jwt, old_jwt);
    let from_file = logbook::auth::tokens::TokenKeys::new(
        String::from_utf8(old_jwt).unwrap().trim().as_bytes(),
    );
    assert!(from_file.verify_access(&member.token).is_some());

    // The SMTP password encrypted with the old server's key decrypts: the test message goes out
    // with it.
    let admin = new.login("alpha-admin", PASSWORD).await.token;
    let (status, settings) = new.get(&admin, "/api/v1/settings/email").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["password_set"], true, "{settings}");
    let (status, sent) = new
        .post(&admin, "/api/v1/settings/email/test", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["delivered"], true, "{sent}");
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        messages[0].auth,
        Some(("relay-user".to_string(), "relay-secret-7".to_string()))
    );

    // The restored log says so, in the restored organization (the new one's is gone).
    let entries = restored_entries(&new.db.pool).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, old.a.id);
    assert_eq!(entries[0].1, "alpha-admin (restore)");
    let (_, report) = new.get(&admin, "/api/v1/audit-logs/verify").await;
    assert_eq!(report["valid"], true, "{report}");
}

#[tokio::test]
async fn refused_uploads_and_restores_change_nothing() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let file = back_up_now(&app, &admin).await;
    let dir = backup_dir(&app.data_dir);
    let good = std::fs::read(dir.join(&file)).unwrap();
    let before = app.snapshot(&app.a).await;

    // Not an archive.
    let (status, body) = upload(
        &app.client,
        app.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        b"just some text, not a backup".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("cannot be restored"), "{detail}");
    // Cut short.
    let (status, body) = upload(
        &app.client,
        app.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        good[..good.len() / 2].to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("incomplete"), "{detail}");
    // Empty.
    let (status, body) = upload(
        &app.client,
        app.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        Vec::new(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(list["backups"].as_array().unwrap().len(), 1, "{list}");
    assert!(upload_leftovers(&dir).is_empty());

    // Unknown files and names outside the list.
    for (name, expected) in [
        (
            "logbook-20990101-000000-000-abcdef12.lbk",
            StatusCode::NOT_FOUND,
        ),
        ("..%2Fsecrets%2Fjwt.key", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = app
            .post(
                &admin,
                &format!("/api/v1/backups/{name}/restore"),
                json!({}),
            )
            .await;
        assert_problem(status, &body, expected);
    }
    assert_eq!(before, app.snapshot(&app.a).await);
    assert_eq!(app.audit_actions(&app.a, "backup.restored").await, 0);
}

#[tokio::test]
async fn an_encrypted_archive_is_restored_with_its_passphrase_only() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    logbook::backup::key::store(&app.data_dir, PASSPHRASE).unwrap();
    app.member(&app.a, "in-the-backup", &[]).await;
    let made = back_up_now(&app, &admin).await;
    let dir = backup_dir(&app.data_dir);
    assert!(logbook::backup::archive::is_encrypted(&dir.join(&made)).unwrap());
    // The server forgets its passphrase (another box, a reinstall); the archive comes back by
    // upload.
    logbook::backup::key::remove(&app.data_dir).unwrap();
    let bytes = std::fs::read(dir.join(&made)).unwrap();
    let (status, entry) = upload(
        &app.client,
        app.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        bytes,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["needs_passphrase"], true, "{entry}");
    assert_eq!(entry["verified"], false, "{entry}");
    assert!(entry["problem"].is_null(), "{entry}");
    let file = entry["file"].as_str().unwrap().to_string();
    app.member(&app.a, "after-the-backup", &[]).await;
    let before = app.snapshot(&app.a).await;

    // Without the passphrase, and with a wrong one: refused beside the field, nothing changed.
    for (body, says) in [
        (json!({}), "enter its passphrase"),
        (json!({"passphrase": ""}), "enter its passphrase"),
        (
            json!({"passphrase": "not the right one at all"}),
            "does not open",
        ),
    ] {
        let (status, problem) = app
            .post(&admin, &format!("/api/v1/backups/{file}/restore"), body)
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), ["passphrase"], "{problem}");
        assert!(problem.to_string().contains(says), "{problem}");
    }
    assert_eq!(before, app.snapshot(&app.a).await);
    let (_, run) = app.get(&admin, "/api/v1/backups/restore/progress").await;
    assert!(run["started_at"].is_null(), "nothing started: {run}");

    let run = restore(&app, &admin, &file, Some(PASSPHRASE)).await;
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(run["result"]["encrypted"], true, "{run}");
    let names = usernames(&app.db.pool).await;
    assert!(names.contains(&"in-the-backup".into()), "{names:?}");
    assert!(!names.contains(&"after-the-backup".into()), "{names:?}");
    // The server goes on with the passphrase that opened it.
    assert_eq!(
        logbook::backup::key::stored(&app.data_dir)
            .unwrap()
            .as_deref(),
        Some(PASSPHRASE)
    );
}

#[tokio::test]
async fn only_administrators_of_a_one_department_host_upload_and_restore() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let file = back_up_now(&app, &admin).await;
    let bytes = std::fs::read(backup_dir(&app.data_dir).join(&file)).unwrap();
    let member = app.member(&app.a, "firefighter", &[]).await;
    let before = app.snapshot(&app.a).await;
    for (auth, expected) in [
        (Auth::Bearer(&member.token), StatusCode::FORBIDDEN),
        (Auth::None, StatusCode::UNAUTHORIZED),
    ] {
        let (status, body) = upload(
            &app.client,
            app.url("/api/v1/backups/upload"),
            auth,
            bytes.clone(),
        )
        .await;
        assert_problem(status, &body, expected);
        let mut req = app
            .client
            .post(app.url(&format!("/api/v1/backups/{file}/restore")))
            .json(&json!({}));
        let mut progress = app.client.get(app.url("/api/v1/backups/restore/progress"));
        if let Auth::Bearer(t) = auth {
            req = req.bearer_auth(t);
            progress = progress.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), expected);
        let res = progress.send().await.unwrap();
        assert_eq!(res.status(), expected);
        // A made-up run secret opens nothing.
        let res = app
            .client
            .get(app.url("/api/v1/backups/restore/progress"))
            .header("x-restore-run", "0123456789abcdef")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(before, app.snapshot(&app.a).await);
    assert_eq!(backup_dir(&app.data_dir).read_dir().unwrap().count(), 2);

    // One restore at a time: a second one while the first runs is refused.
    let (status, first) = app
        .post(
            &admin,
            &format!("/api/v1/backups/{file}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/backups/{file}/restore"),
            json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let run = wait_for_restore(
        &app.client,
        app.url("/api/v1/backups/restore/progress"),
        first["run_token"].as_str().unwrap(),
    )
    .await;
    assert!(run["error"].is_null(), "{run}");
}

#[tokio::test]
async fn a_host_with_several_departments_restores_from_the_command_line() {
    let app = TestApp::spawn_private().await;
    let admin = app.a.admin.token.clone();
    let (status, body) = upload(
        &app.client,
        app.url("/api/v1/backups/upload"),
        Auth::Bearer(&admin),
        b"anything".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app
        .post(&admin, "/api/v1/backups/missing.lbk/restore", json!({}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app.get(&admin, "/api/v1/backups/restore/progress").await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(!backup_dir(&app.data_dir).exists());
}

#[tokio::test]
async fn the_page_asks_before_restoring_and_shows_a_wrong_passphrase_beside_its_field() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    logbook::backup::key::store(&app.data_dir, PASSPHRASE).unwrap();
    let file = back_up_now(&app, &admin).await;
    let cookies = access_cookie(&app.a.admin);

    let (status, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-upload="/api/v1/backups/upload""#),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"href="/settings/backups/{file}/restore""#)),
        "{html}"
    );
    assert!(html.contains("/static/upload.js"), "{html}");

    // The server's passphrase opens it: no passphrase field.
    let (status, _, html) = app
        .page_get(&format!("/settings/backups/{file}/restore"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("All current data is replaced"), "{html}");
    assert!(html.contains("safety backup"), "{html}");
    assert!(html.contains("Everyone has to sign in again"), "{html}");
    assert!(!html.contains(r#"name="passphrase""#), "{html}");

    // Without it, the page asks; a wrong one is refused beside the field.
    logbook::backup::key::remove(&app.data_dir).unwrap();
    let (_, _, html) = app
        .page_get(&format!("/settings/backups/{file}/restore"), &cookies)
        .await;
    assert!(html.contains(r#"name="passphrase""#), "{html}");
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            &format!("/settings/backups/{file}/restore"),
            &cookies,
            &[("passphrase", "wrong wrong wrong")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"<p class="field-error" id="passphrase-error">The passphrase does not open this backup.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    assert_eq!(before, app.snapshot(&app.a).await);

    // The right one: to the progress page, which follows the run by its cookie once the
    // session has ended.
    let res = app
        .page_post_response(
            &format!("/settings/backups/{file}/restore"),
            &cookies,
            &[("passphrase", PASSPHRASE)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/settings/backups/restore");
    let run_cookie = cookies_from(&res)
        .into_iter()
        .find(|(n, _)| n == "logbook_restore")
        .expect("run cookie");
    let run_cookie = cookie_header(&[run_cookie]);
    let html = eventually(
        "the restore page to say done",
        Duration::from_secs(120),
        || async {
            let (status, _, html) = app.page_get("/settings/backups/restore", &run_cookie).await;
            assert_eq!(status, StatusCode::OK, "{html}");
            (!html.contains("hx-get")).then_some(html)
        },
    )
    .await;
    assert!(html.contains("was restored"), "{html}");
    assert!(html.contains(r#"href="/login?restored=1""#), "{html}");
    // Without the cookie or a session: to sign in.
    let res = app.page_get_response("/settings/backups/restore", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, _, login) = app.page_get("/login?restored=1", "").await;
    assert!(login.contains("The backup was restored"), "{login}");
}

// ---------------------------------------------------------------------------------------------
// The setup wizard

/// A server on an empty database (setup mode); its setup token.
async fn fresh() -> (
    TestDb,
    PathBuf,
    String,
    tokio::sync::oneshot::Sender<()>,
    String,
) {
    let db = TestDb::create().await;
    let data_dir = temp_dir();
    let config = test_config(&db.url, data_dir.clone());
    let (_state, addr, shutdown, _server) = start_server(config).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    eventually("the server to start", Duration::from_secs(10), || async {
        let res = client.get(format!("{base}/health")).send().await.ok()?;
        (res.status() == StatusCode::OK).then_some(())
    })
    .await;
    let token = std::fs::read_to_string(data_dir.join("setup-token"))
        .unwrap()
        .trim()
        .to_string();
    (db, data_dir, base, shutdown, token)
}

#[tokio::test]
async fn the_setup_wizard_restores_a_backup_and_setup_is_over() {
    let source = TestApp::spawn_one_organization().await;
    source.member(&source.a, "restored-chief", &[]).await;
    let made = back_up_now(&source, &source.a.admin.token).await;
    let bytes = std::fs::read(backup_dir(&source.data_dir).join(&made)).unwrap();

    let (db, data_dir, base, _shutdown, token) = fresh().await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");

    // Without the token, or a wrong one: nothing kept.
    for auth in [Auth::None, Auth::Setup("0000-1111-2222")] {
        let (status, body) = upload(
            &client,
            url("/api/v1/setup/restore/upload"),
            auth,
            bytes.clone(),
        )
        .await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    let res = client
        .post(url("/api/v1/setup/restore"))
        .json(&json!({"file": "x.lbk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = client
        .get(url("/api/v1/setup/restore"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(upload_leftovers(&backup_dir(&data_dir)).is_empty());
    assert!(
        !backup_dir(&data_dir).exists()
            || backup_dir(&data_dir).read_dir().unwrap().next().is_none()
    );

    // Not an archive: refused.
    let (status, body) = upload(
        &client,
        url("/api/v1/setup/restore/upload"),
        Auth::Setup(&token),
        b"hello".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, entry) = upload(
        &client,
        url("/api/v1/setup/restore/upload"),
        Auth::Setup(&token),
        bytes,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["restorable"], true, "{entry}");
    let file = entry["file"].as_str().unwrap().to_string();

    let res = client
        .post(url("/api/v1/setup/restore"))
        .header("x-setup-token", &token)
        .json(&json!({"file": file}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let started: Value = res.json().await.unwrap();
    let secret = started["run_token"].as_str().unwrap().to_string();
    let run = wait_for_restore(&client, url("/api/v1/setup/restore"), &secret).await;
    assert!(run["error"].is_null(), "{run}");
    assert!(run["result"]["warning"].is_null(), "{run}");

    // Setup is over: the token is gone, the wizard refuses, the backup's people sign in.
    let res = client
        .get(url("/api/v1/setup/status"))
        .send()
        .await
        .unwrap();
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["pending"], false, "{status}");
    assert!(!data_dir.join("setup-token").exists());
    let (status, body) = upload(
        &client,
        url("/api/v1/setup/restore/upload"),
        Auth::Setup(&token),
        b"again".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let res = client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "restored-chief", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let entries = restored_entries(&db.pool).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].0, source.a.id);
    assert_eq!(entries[0].1, "setup wizard");
    // The run is still there for its secret.
    let run = wait_for_restore(&client, url("/api/v1/setup/restore"), &secret).await;
    assert_eq!(run["progress"]["stage"], "done");
}

#[tokio::test]
async fn a_large_upload_may_take_longer_than_the_request_timeout() {
    use rand::RngCore;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    // A stored file that does not compress makes the archive far bigger than a JSON body may be.
    let mut noise = vec![0u8; 2 * 1024 * 1024];
    rand::rngs::OsRng.fill_bytes(&mut noise);
    std::fs::create_dir_all(app.data_dir.join("documents")).unwrap();
    std::fs::write(app.data_dir.join("documents/scan.bin"), &noise).unwrap();
    let file = back_up_now(&app, &admin).await;
    let bytes = std::fs::read(backup_dir(&app.data_dir).join(&file)).unwrap();
    assert!(bytes.len() > 2 * 1024 * 1024);

    // Sent slowly over a station's Wi-Fi: 34 s, past the 30 s every other request gets.
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/backups/upload HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        bytes.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let pieces = 17;
    for piece in bytes.chunks(bytes.len().div_ceil(pieces)) {
        conn.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains(r#""verified":true"#), "{answer}");
}

#[tokio::test]
async fn restored_certificate_material_is_served_without_a_restart() {
    let app = TestApp::spawn_tls(|_| {}).await;
    let ours = app.state.tls.as_ref().unwrap().ca_pem().unwrap();
    let before = crate::tls::presented(&ours, &app.url("/health"))
        .await
        .unwrap();
    // Another server's CA and certificate, as a restore writes them back into `tls/`.
    let other_dir = temp_dir();
    let mut config = test_config(&app.db.url, other_dir.clone());
    config.tls = logbook::config::TlsMode::SelfSigned;
    let theirs = logbook::system::tls::load(&config).unwrap().unwrap();
    let (their_ca, their_cert) = (theirs.ca_pem().unwrap(), theirs.info().fingerprint);
    assert_ne!(before, their_cert);
    for entry in std::fs::read_dir(other_dir.join("tls")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            app.data_dir.join("tls").join(entry.file_name()),
        )
        .unwrap();
    }
    app.state.reload_secrets().unwrap();
    assert_eq!(
        crate::tls::presented(&their_ca, &app.url("/health")).await,
        Ok(their_cert)
    );
    assert!(
        crate::tls::presented(&ours, &app.url("/health"))
            .await
            .is_err()
    );
    // The CA offered to phones is the restored one.
    let res = app.client.get(app.url("/tls/ca.crt")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), their_ca);
}

#[tokio::test]
async fn the_api_document_describes_uploads_as_the_file_itself() {
    let app = TestApp::spawn_one_organization().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/api/v1/backups/upload", "/api/v1/setup/restore/upload"] {
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/octet-stream"];
        let schema = match body["schema"].get("$ref").and_then(Value::as_str) {
            Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => body["schema"].clone(),
        };
        assert_eq!(schema["type"], "string", "{path}: {body}");
        assert_eq!(schema["format"], "binary", "{path}: {schema}");
    }
}
