//! Backups from the web: `/api/v1/backups` and `/settings/backups`. Back up now over HTTP and
//! watch it finish, the list with what each archive holds, download, check, delete; nothing
//! outside the backup directory can be named; only administrators of a host that serves one
//! organization may use them.
//!
//! Backups are the whole host's: every test here has a database of its own.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

fn backup_dir(app: &TestApp) -> PathBuf {
    app.data_dir.join("backups")
}

/// Starts "back up now" and waits until it has ended; the finished run.
async fn back_up_now(app: &TestApp, token: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/backups"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.headers()["location"], "/api/v1/backups/progress");
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["running"], true, "{started}");
    wait_for_run(app, token).await
}

async fn wait_for_run(app: &TestApp, token: &str) -> Value {
    eventually("the backup to finish", Duration::from_secs(60), || async {
        let (status, run) = app.get(token, "/api/v1/backups/progress").await;
        assert_eq!(status, StatusCode::OK, "{run}");
        (run["running"] == false).then_some(run)
    })
    .await
}

#[tokio::test]
async fn back_up_now_then_list_download_check_and_delete() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let (status, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["backups"], json!([]));
    let (_, run) = app.get(&admin, "/api/v1/backups/progress").await;
    assert_eq!(run["running"], false);
    assert!(run["started_at"].is_null());

    let run = back_up_now(&app, &admin).await;
    assert!(run["error"].is_null(), "{run}");
    let file = run["result"]["file"].as_str().unwrap().to_string();
    assert_eq!(run["progress"]["stage"], "done");
    assert!(run["progress"]["tables_total"].as_u64().unwrap() > 10);
    assert_eq!(app.audit_actions(&app.a, "backup.created").await, 1);
    let changes: String =
        sqlx::query_scalar("SELECT changes FROM audit_logs WHERE action = 'backup.created'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(changes.contains(&file), "{changes}");
    // A run of the backup job, for the jobs and status pages: "last run" is not "never".
    assert_eq!(
        app.count_rows_where(
            "job_runs",
            "job = 'backup' AND trigger_kind = 'manual' AND outcome = 'succeeded' AND items = 1"
        )
        .await,
        1
    );
    let (status, jobs) = app.get(&admin, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    let backup_job = jobs
        .as_array()
        .and_then(|all| all.iter().find(|j| j["name"] == "backup"))
        .unwrap_or_else(|| panic!("the backup job is listed: {jobs}"));
    let last = &backup_job["last_run"];
    assert_eq!(last["trigger_kind"], "manual", "{backup_job}");
    assert_eq!(last["outcome"], "succeeded", "{backup_job}");
    assert_eq!(last["items"], 1, "{backup_job}");

    // Listed, with what it holds, checked and restorable; the sidecar is not a backup.
    let path = backup_dir(&app).join(&file);
    let sidecar = backup_dir(&app).join(format!("{file}.json"));
    assert!(sidecar.exists());
    let (status, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list}");
    let b = &backups[0];
    assert_eq!(b["file"], file.as_str());
    assert_eq!(b["bytes"], std::fs::metadata(&path).unwrap().len());
    assert_eq!(b["checked"], true);
    assert_eq!(b["verified"], true);
    assert_eq!(b["restorable"], true);
    assert_eq!(b["app_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(b["schema_version"], list["schema_version"]);
    assert_eq!(b["rows"], run["result"]["rows"]);
    assert!(b["tables"].as_u64().unwrap() > 10);

    // The download is the file, as an attachment.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/backups/{file}/download")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"{file}\"").as_str()
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(body.as_ref(), std::fs::read(&path).unwrap().as_slice());

    // Without its sidecar it is "not checked yet" until checked again.
    std::fs::remove_file(&sidecar).unwrap();
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    let b = &list["backups"][0];
    assert_eq!(b["checked"], false, "{list}");
    assert_eq!(b["verified"], false);
    assert!(b["schema_version"].is_null());
    let (status, checked) = app
        .post(&admin, &format!("/api/v1/backups/{file}/verify"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["verified"], true);
    assert_eq!(checked["restorable"], true);
    assert!(sidecar.exists());

    // Delete: the file and its sidecar go, and the log says who.
    let (status, body) = app.delete(&admin, &format!("/api/v1/backups/{file}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!path.exists());
    assert!(!sidecar.exists());
    assert_eq!(app.audit_actions(&app.a, "backup.deleted").await, 1);
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(list["backups"], json!([]));
    let (status, body) = app.delete(&admin, &format!("/api/v1/backups/{file}")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_damaged_backup_is_shown_with_the_reason() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let dir = backup_dir(&app);
    std::fs::create_dir_all(&dir).unwrap();
    let file = "logbook-20260101-000000-000-abcdef.lbk";
    std::fs::write(dir.join(file), b"not a backup at all").unwrap();
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(list["backups"][0]["checked"], false, "{list}");
    let (status, body) = app
        .post(&admin, &format!("/api/v1/backups/{file}/verify"), json!({}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains(file), "{body}");
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    let b = &list["backups"][0];
    assert_eq!(b["checked"], true, "{list}");
    assert_eq!(b["verified"], false);
    assert_eq!(b["restorable"], false);
    assert!(b["problem"].as_str().unwrap().contains("damaged"), "{b}");
    let cookies = access_cookie(&app.a.admin);
    let (status, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Damaged"), "{html}");
}

#[tokio::test]
async fn nothing_outside_the_backup_list_can_be_named() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let run = back_up_now(&app, &admin).await;
    let file = run["result"]["file"].as_str().unwrap().to_string();
    // A file beside the backup directory that looks like a backup, and the sidecar.
    let outside = app.data_dir.join("outside.lbk");
    std::fs::write(&outside, b"secret").unwrap();
    let names = [
        "..%2Foutside.lbk".to_string(),
        "..%2F..%2F..%2Fetc%2Fpasswd".to_string(),
        "%2E%2E%2Foutside.lbk".to_string(),
        "..%5Coutside.lbk".to_string(),
        "..".to_string(),
        "%2Fetc%2Fpasswd".to_string(),
        format!("{file}.json"),
        "missing.lbk".to_string(),
        format!(".{file}.tmp"),
    ];
    for name in &names {
        for (method, path) in [
            (Method::GET, format!("/api/v1/backups/{name}/download")),
            (Method::POST, format!("/api/v1/backups/{name}/verify")),
            (Method::DELETE, format!("/api/v1/backups/{name}")),
        ] {
            let (status, body) = app.call(method.clone(), &admin, &path, None).await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
                "{method} {path}: {status} {body}"
            );
            assert!(!body.to_string().contains("secret"), "{path}: {body}");
        }
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
    assert!(!app.data_dir.join("outside.lbk.json").exists());
    assert!(backup_dir(&app).join(&file).exists());
    assert!(backup_dir(&app).join(format!("{file}.json")).exists());
    assert_eq!(app.audit_actions(&app.a, "backup.deleted").await, 0);
    let cookies = access_cookie(&app.a.admin);
    let (status, _, _) = app
        .page_get("/settings/backups/..%2Foutside.lbk/delete", &cookies)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .page_post("/settings/backups/..%2Foutside.lbk/delete", &cookies, &[])
        .await;
    assert!(
        status == StatusCode::NOT_FOUND
            || status == StatusCode::BAD_REQUEST
            || status == StatusCode::SEE_OTHER,
        "{status}"
    );
    assert!(outside.exists());
}

/// Every backup route, API and page.
fn routes(file: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/api/v1/backups".into()),
        (Method::POST, "/api/v1/backups".into()),
        (Method::GET, "/api/v1/backups/progress".into()),
        (Method::POST, format!("/api/v1/backups/{file}/verify")),
        (Method::GET, format!("/api/v1/backups/{file}/download")),
        (Method::DELETE, format!("/api/v1/backups/{file}")),
    ]
}

fn pages(file: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/settings/backups".into()),
        (Method::POST, "/settings/backups".into()),
        (Method::GET, "/settings/backups/progress".into()),
        (Method::POST, format!("/settings/backups/{file}/verify")),
        (Method::GET, format!("/settings/backups/{file}/delete")),
        (Method::POST, format!("/settings/backups/{file}/delete")),
    ]
}

async fn page_call(app: &TestApp, method: &Method, path: &str, cookies: &str) -> StatusCode {
    if *method == Method::GET {
        app.page_get(path, cookies).await.0
    } else {
        app.page_post(path, cookies, &[]).await.0
    }
}

#[tokio::test]
async fn only_administrators_signed_in_may_use_backups() {
    let app = TestApp::spawn_one_organization().await;
    let run = back_up_now(&app, &app.a.admin.token).await;
    let file = run["result"]["file"].as_str().unwrap().to_string();
    let plain = app.member(&app.a, "plain", &[]).await;
    let manager = app
        .member_with(&app.a, "records", &["members.manage"])
        .await;
    for user in [&plain, &manager] {
        for (method, path) in routes(&file) {
            let (status, body) = app.call(method.clone(), &user.token, &path, None).await;
            assert_problem(status, &body, StatusCode::FORBIDDEN);
        }
        let cookies = access_cookie(user);
        for (method, path) in pages(&file) {
            let status = page_call(&app, &method, &path, &cookies).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    for (method, path) in routes(&file) {
        let res = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, location, _) = app.page_get("/settings/backups", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/login"), "{location}");
    // Nothing was made, read or deleted for them.
    assert!(backup_dir(&app).join(&file).exists());
    assert_eq!(service_list_len(&app), 1);
    assert_eq!(app.audit_actions(&app.a, "backup.created").await, 1);
    assert_eq!(app.audit_actions(&app.a, "backup.deleted").await, 0);
}

fn service_list_len(app: &TestApp) -> usize {
    logbook::backup::service::list(&backup_dir(app))
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_host_with_several_departments_backs_up_from_the_command_line() {
    let app = TestApp::spawn_private().await;
    // A backup made on the command line (as the host's operator does) is not offered either.
    let dir = backup_dir(&app);
    let info =
        logbook::backup::service::create(&app.state.db, &app.data_dir, &dir, &Default::default())
            .await
            .unwrap();
    for org in [&app.a, &app.b] {
        for (method, path) in routes(&info.file) {
            let (status, body) = app
                .call(method.clone(), &org.admin.token, &path, None)
                .await;
            assert_problem(status, &body, StatusCode::CONFLICT);
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("several departments"),
                "{path}: {body}"
            );
        }
        let cookies = access_cookie(&org.admin);
        for (method, path) in pages(&info.file) {
            let status = page_call(&app, &method, &path, &cookies).await;
            assert_eq!(status, StatusCode::CONFLICT, "{method} {path}");
        }
        let (_, _, html) = app.page_get("/settings/backups", &cookies).await;
        assert!(html.contains("logbook backup"), "{html}");
    }
    assert_eq!(service_list_len(&app), 1);
    assert!(dir.join(&info.file).exists());
}

#[tokio::test]
async fn a_second_back_up_now_while_one_runs_is_refused() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    // Another backup or restore holds the lock (the command line, say).
    let lock = logbook::backup::service::lock(&app.state.db).await.unwrap();
    let (status, body) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("already running"),
        "{body}"
    );
    let cookies = access_cookie(&app.a.admin);
    let (status, _, html) = app.page_post("/settings/backups", &cookies, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already running"), "{html}");
    assert_eq!(service_list_len(&app), 0);
    lock.release().await;

    // Two at once over HTTP: the one that did not start is refused.
    let first = app
        .client
        .post(app.url("/api/v1/backups"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let (status, second) = app.post(&admin, "/api/v1/backups", json!({})).await;
    let run = wait_for_run(&app, &admin).await;
    assert!(run["error"].is_null(), "{run}");
    if status == StatusCode::ACCEPTED {
        // The first had already finished: two backups.
        assert_eq!(service_list_len(&app), 2);
    } else {
        assert_problem(status, &second, StatusCode::CONFLICT);
        assert_eq!(service_list_len(&app), 1);
    }
}

#[tokio::test]
async fn the_page_backs_up_lists_and_deletes_after_asking() {
    let app = TestApp::spawn_one_organization().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No backups yet"), "{html}");
    assert!(html.contains(r#"href="/settings/backups" aria-current="page""#));
    let (status, _, fragment) = app.page_get("/settings/backups/progress", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fragment.contains("backup-progress"));

    let (status, location, _) = app.page_post("/settings/backups", &cookies, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/backups?done=started");
    let (status, _, html) = app.page_get(&location, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("The backup has started"), "{html}");
    let run = wait_for_run(&app, &app.a.admin.token).await;
    let file = run["result"]["file"].as_str().unwrap().to_string();
    // The poll after the end asks htmx for the whole page again.
    let res = app
        .browser()
        .get(app.url("/settings/backups/progress"))
        .header("cookie", &cookies)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-refresh"], "true");

    let (_, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert!(html.contains(&file), "{html}");
    assert!(html.contains("Checks out"), "{html}");
    // The page's download link works with the page's session.
    let res = app
        .page_get_response(&format!("/api/v1/backups/{file}/download"), &cookies)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        std::fs::read(backup_dir(&app).join(&file))
            .unwrap()
            .as_slice()
    );
    assert!(html.contains(&format!("/api/v1/backups/{file}/download")));
    assert!(html.contains("The last backup is done"), "{html}");

    // Check from the page.
    std::fs::remove_file(backup_dir(&app).join(format!("{file}.json"))).unwrap();
    let (_, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert!(html.contains("Not checked yet"), "{html}");
    let (status, location, _) = app
        .page_post(&format!("/settings/backups/{file}/verify"), &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("checks out"), "{html}");

    // Delete asks first.
    let (status, _, html) = app
        .page_get(&format!("/settings/backups/{file}/delete"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Delete this backup?"), "{html}");
    assert!(html.contains(&file));
    assert!(backup_dir(&app).join(&file).exists());
    let (status, location, _) = app
        .page_post(&format!("/settings/backups/{file}/delete"), &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/backups?done=deleted");
    assert!(!backup_dir(&app).join(&file).exists());
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The backup was deleted"), "{html}");
    assert!(html.contains("No backups yet"), "{html}");
    assert_eq!(app.audit_actions(&app.a, "backup.deleted").await, 1);
}

#[tokio::test]
async fn a_backup_that_fails_says_why_and_is_audited() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    // The backup directory cannot be made: a file has its name.
    let dir = backup_dir(&app);
    std::fs::write(&dir, b"in the way").unwrap();
    let run = back_up_now(&app, &admin).await;
    assert!(run["result"].is_null(), "{run}");
    assert!(!run["error"].as_str().unwrap().is_empty(), "{run}");
    assert_eq!(app.audit_actions(&app.a, "backup.failed").await, 1);
    assert_eq!(app.audit_actions(&app.a, "backup.created").await, 0);
    let cookies = access_cookie(&app.a.admin);
    std::fs::remove_file(&dir).unwrap();
    let (status, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("The last backup failed"), "{html}");
    // The next one works.
    let run = back_up_now(&app, &admin).await;
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(app.audit_actions(&app.a, "backup.created").await, 1);
}
