//! The status page (`GET /api/v1/system/status`, `/settings/status`): what an administrator sees
//! of the host, the server, the disk, the database and the job runs; who may see it; job runs
//! of the caller's organization only.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

async fn status_of(app: &TestApp, user: &User) -> Value {
    let (status, body) = app.get(&user.token, "/api/v1/system/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn u64_of(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is not a whole number: {v}"))
}

#[tokio::test]
async fn an_administrator_sees_every_part_with_sane_values() {
    let app = TestApp::spawn().await;
    let s = status_of(&app, &app.a.admin).await;

    assert_eq!(s["app_version"], env!("CARGO_PKG_VERSION"));
    assert!(s["collected_at"].is_string(), "{s}");

    let host = &s["host"];
    assert!(
        host["host_name"].as_str().is_some_and(|h| !h.is_empty()),
        "{host}"
    );
    for a in host["addresses"].as_array().expect("addresses") {
        let ip: std::net::IpAddr = a["address"].as_str().unwrap().parse().unwrap();
        assert!(!ip.is_loopback(), "{a}");
        assert!(a["interface"].is_string() && a["prefix"].is_u64(), "{a}");
    }
    assert!(u64_of(&host["uptime_seconds"], "uptime") > 0);
    assert!(u64_of(&host["cpu_count"], "cpu_count") >= 1);
    let load = &host["load_average"];
    for k in ["one", "five", "fifteen"] {
        assert!(load[k].as_f64().is_some_and(|l| l >= 0.0), "{load}");
    }
    // A sensor may not exist (this machine, a VM); when it does, it reads like a CPU.
    match host["cpu_temperature_celsius"].as_f64() {
        Some(t) => {
            assert!((-40.0..150.0).contains(&t), "{t}");
            assert!(host["temperature_sensor"].is_string());
        }
        None => assert!(host["cpu_temperature_celsius"].is_null(), "{host}"),
    }
    let mem = &host["memory"];
    let total = u64_of(&mem["total_bytes"], "memory total");
    let used = u64_of(&mem["used_bytes"], "memory used");
    let available = u64_of(&mem["available_bytes"], "memory available");
    assert!(total > 64 << 20, "{mem}");
    assert!(
        used <= total && available <= total && available > 0,
        "{mem}"
    );

    let server = &s["server"];
    assert_eq!(u64_of(&server["pid"], "pid"), u64::from(std::process::id()));
    let rss = u64_of(&server["rss_bytes"], "rss");
    assert!(rss > 1 << 20 && rss < total, "{server}");
    assert!(server["uptime_seconds"].is_u64(), "{server}");

    // The disk holding the data directory.
    let data_dir = &s["data_dir"];
    assert_eq!(data_dir["path"], app.data_dir.display().to_string());
    let space = &data_dir["space"];
    let disk_total = u64_of(&space["total_bytes"], "disk total");
    let disk_free = u64_of(&space["free_bytes"], "disk free");
    assert!(disk_total > 0 && disk_free <= disk_total, "{space}");
    let mount = space["mount_point"].as_str().unwrap();
    assert!(app.data_dir.canonicalize().unwrap().starts_with(mount));

    // Backups and HTTPS come later: present, and saying so.
    assert_eq!(s["backup_target"]["configured"], true);
    assert!(
        s["backup_target"]["storage"]["space"]["free_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        s["backup_target"]["last_backup_at"].is_null(),
        "no backup yet"
    );
    assert_eq!(s["certificate"]["configured"], false);
    assert!(s["certificate"]["not_after"].is_null());

    let db = &s["database"];
    assert!(db["version"].as_str().unwrap().contains("MariaDB"), "{db}");
    assert!(u64_of(&db["size_bytes"], "database size") > 0);
    let known = logbook::db::MIGRATOR
        .migrations
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count() as u64;
    assert!(known > 0);
    assert_eq!(u64_of(&db["migrations_applied"], "applied"), known);
    assert_eq!(u64_of(&db["migrations_known"], "known"), known);

    assert_eq!(s["recent_job_runs"], serde_json::json!([]));
    // Every warning names what it is about; migrations are complete, so none about them.
    for w in s["warnings"].as_array().expect("warnings") {
        assert!(w["subject"].is_string() && w["message"].is_string(), "{w}");
        assert_ne!(w["subject"], "migrations");
    }
    // A department without email on a server without HTTPS is told so (not "all is well").
    let subjects: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["subject"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&"email"), "{subjects:?}");
    assert!(subjects.contains(&"https"), "{subjects:?}");
    email_to_sink(&app, &app.a, 9).await;
    let s = status_of(&app, &app.a.admin).await;
    let warned_email = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["subject"] == "email");
    assert!(!warned_email, "email is set up now: {s}");
}

#[tokio::test]
async fn the_permission_decides_who_sees_it() {
    let app = TestApp::spawn().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, body) = app.get(&plain.token, "/api/v1/system/status").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let res = app
        .client
        .get(app.url("/api/v1/system/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // settings.manage alone is enough.
    let manager = app
        .member_with(&app.a, "settings-manager", &["settings.manage"])
        .await;
    status_of(&app, &manager).await;

    let cookies = app.page_sign_in("plain", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/status", &cookies).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("<h1"), "an error page: {html}");
    let (status, location, _) = app.page_get("/settings/status", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/login?next=/settings/status");
}

#[tokio::test]
async fn job_runs_are_the_callers_organizations_only() {
    // Private: purge_sessions also clears the host's sign-in and reset throttles.
    let app = TestApp::spawn_private().await;
    let (status, run) = app
        .post(
            &app.a.admin.token,
            "/api/v1/jobs/purge_sessions/run",
            serde_json::json!({}),
        )
        .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::ACCEPTED,
        "{run}"
    );

    let a = status_of(&app, &app.a.admin).await;
    let runs = a["recent_job_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{a}");
    assert_eq!(runs[0]["id"], run["id"]);
    assert_eq!(runs[0]["job"], "purge_sessions");
    assert!(runs[0]["started_at"].is_string() && runs[0]["outcome"].is_string());

    let b = status_of(&app, &app.b.admin).await;
    assert_eq!(b["recent_job_runs"], serde_json::json!([]), "{b}");
    let cookies = app.page_sign_in("bravo-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/status", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No runs yet."), "{html}");
    assert!(!html.contains("/settings/jobs/purge_sessions"), "{html}");
}

#[tokio::test]
async fn unknown_query_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .get(&app.a.admin.token, "/api/v1/system/status?verbose=1")
        .await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_page_shows_the_status_in_the_organizations_time_zone() {
    // Private: purge_sessions also clears the host's sign-in and reset throttles.
    let app = TestApp::spawn_private().await;
    let (status, _) = app
        .post(
            &app.a.admin.token,
            "/api/v1/jobs/purge_sessions/run",
            serde_json::json!({}),
        )
        .await;
    assert!(status.is_success());
    let api = status_of(&app, &app.a.admin).await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/status", &cookies).await;
    assert_eq!(status, StatusCode::OK, "{html}");

    assert!(html.contains("<h1>Status</h1>"), "{html}");
    assert!(
        html.contains(r#"<a href="/settings/status" aria-current="page">Status</a>"#),
        "the settings sub-navigation marks this page: {html}"
    );
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    let version = api["database"]["version"].as_str().unwrap();
    assert!(html.contains(version), "database version: {html}");
    assert!(html.contains(api["host"]["host_name"].as_str().unwrap()));
    assert!(html.contains("America/Chicago"), "{html}");
    // The harness's organizations are in Chicago: times read CST or CDT.
    assert!(html.contains(" CST") || html.contains(" CDT"), "{html}");
    assert_eq!(
        html.matches("Not configured yet").count(),
        1,
        "the certificate (HTTPS is off here): {html}"
    );
    let migrations = format!(
        "{0} of {0} applied",
        api["database"]["migrations_known"].as_u64().unwrap()
    );
    assert!(html.contains(&migrations), "{html}");
    // The run just made, linked to its job.
    assert!(
        html.contains(r#"<a href="/settings/jobs/purge_sessions">"#),
        "{html}"
    );
    // Warnings are listed exactly when the API has some.
    let warned = !api["warnings"].as_array().unwrap().is_empty();
    assert_eq!(html.contains("Needs attention"), warned, "{html}");
    assert_eq!(html.contains("Nothing needs attention."), !warned, "{html}");
}
