//! The server itself: health, OpenAPI, configuration, losing and regaining the database, start-up
//! waiting for the database, and the `logbook` binary (config errors, secrets, SIGTERM, init).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use logbook::organization::service::{self as organizations, NewAdmin, OrgProfile};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use crate::proxy::{Link, Proxy, host_port};

#[tokio::test]
async fn health_passes_with_database() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["database"]["status"], "pass");
}

#[tokio::test]
async fn security_headers_and_problem_answers_for_unrouted_requests() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (reqwest::Method::GET, "/health"),
        (reqwest::Method::GET, "/api/v1/nothing-here"),
        (reqwest::Method::PUT, "/api/v1/members"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.a.admin.token)
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{method} {path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{method} {path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            h.get("strict-transport-security").is_none(),
            "HSTS over plain HTTP"
        );
    }
    // An unknown path and a known path with the wrong method answer problem documents.
    let (status, body) = app.get(&app.a.admin.token, "/api/v1/nothing-here").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let res = app
        .client
        .put(app.url("/api/v1/members"))
        .bearer_auth(&app.a.admin.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let allow = res
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("405 body is not a problem document: {text:?}"));
    assert_problem(status, &body, StatusCode::METHOD_NOT_ALLOWED);
    let allow = allow.expect("405 without Allow");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// Every route the router serves, with its methods.
fn served_routes() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let routes: &[(&str, &[&str])] = &[
        ("/health", &["get"]),
        ("/api/v1/setup/status", &["get"]),
        ("/api/v1/setup", &["get"]),
        ("/api/v1/setup/check", &["get", "post"]),
        ("/api/v1/setup/organization", &["put"]),
        ("/api/v1/setup/administrator", &["put"]),
        ("/api/v1/setup/stations", &["put"]),
        ("/api/v1/setup/email", &["put"]),
        ("/api/v1/setup/email/test", &["post"]),
        ("/api/v1/setup/https", &["get", "put"]),
        ("/api/v1/setup/modules", &["put"]),
        ("/api/v1/setup/finish", &["post"]),
        ("/api/v1/setup/restore/upload", &["post"]),
        ("/api/v1/setup/restore", &["get", "post"]),
        ("/api/v1/auth/login", &["post"]),
        ("/api/v1/auth/login/two-factor", &["post"]),
        ("/api/v1/auth/two-factor", &["get"]),
        ("/api/v1/auth/two-factor/setup", &["post"]),
        ("/api/v1/auth/two-factor/confirm", &["post"]),
        ("/api/v1/auth/two-factor/disable", &["post"]),
        ("/api/v1/auth/two-factor/recovery-codes", &["post"]),
        ("/api/v1/settings/two-factor", &["get", "put"]),
        ("/api/v1/members/{id}/two-factor/reset", &["post"]),
        ("/api/v1/auth/refresh", &["post"]),
        ("/api/v1/auth/logout", &["post"]),
        ("/api/v1/auth/me", &["get"]),
        ("/api/v1/auth/change-password", &["post"]),
        ("/api/v1/auth/password-reset", &["post"]),
        ("/api/v1/auth/password-reset/confirm", &["post"]),
        ("/api/v1/members", &["get", "post"]),
        ("/api/v1/members/{id}", &["get", "patch"]),
        ("/api/v1/members/{id}/status", &["post"]),
        ("/api/v1/members/{id}/password-reset", &["post"]),
        (
            "/api/v1/members/{id}/invitation",
            &["get", "post", "delete"],
        ),
        ("/api/v1/members/invitation-codes", &["post"]),
        ("/api/v1/stations", &["get", "post"]),
        ("/api/v1/stations/{id}", &["get", "put"]),
        ("/api/v1/stations/{id}/retire", &["post"]),
        ("/api/v1/stations/{id}/reactivate", &["post"]),
        ("/api/v1/apparatus", &["get", "post"]),
        ("/api/v1/apparatus/{id}", &["get", "put"]),
        ("/api/v1/apparatus/{id}/retire", &["post"]),
        ("/api/v1/apparatus/{id}/reactivate", &["post"]),
        ("/api/v1/members/import", &["post"]),
        ("/api/v1/members/export", &["get"]),
        ("/api/v1/members/{id}/roles", &["get", "post"]),
        ("/api/v1/members/{id}/roles/{role_id}", &["delete"]),
        ("/api/v1/roles", &["get", "post"]),
        ("/api/v1/roles/{id}", &["get", "patch", "delete"]),
        ("/api/v1/roles/{id}/clone", &["post"]),
        ("/api/v1/permissions", &["get"]),
        ("/api/v1/organization", &["get", "patch"]),
        ("/api/v1/audit-logs", &["get"]),
        ("/api/v1/audit-logs/verify", &["get"]),
        ("/api/v1/security-alerts", &["get"]),
        ("/api/v1/security-alerts/{id}/acknowledge", &["post"]),
        ("/api/v1/security-alerts/{id}/resolve", &["post"]),
        ("/api/v1/notifications", &["get"]),
        ("/api/v1/notifications/unread-count", &["get"]),
        ("/api/v1/notifications/read-all", &["post"]),
        ("/api/v1/notifications/{id}/read", &["post"]),
        ("/api/v1/notifications/preferences", &["get", "put"]),
        ("/api/v1/settings/notification-defaults", &["get", "put"]),
        ("/api/v1/settings/email", &["get", "put"]),
        ("/api/v1/settings/email/test", &["post"]),
        ("/api/v1/settings/email/outbox", &["get"]),
        ("/api/v1/settings/email/outbox/{id}/retry", &["post"]),
        ("/api/v1/jobs", &["get"]),
        ("/api/v1/jobs/{name}/runs", &["get"]),
        ("/api/v1/jobs/{name}/run", &["post"]),
        ("/api/v1/system/status", &["get"]),
        ("/api/v1/system/tls", &["get", "put"]),
        ("/api/v1/system/tls/uploaded", &["delete"]),
        ("/api/v1/backups", &["get", "post"]),
        ("/api/v1/backups/progress", &["get"]),
        ("/api/v1/backups/encryption", &["get", "put", "delete"]),
        ("/api/v1/backups/encryption/kit", &["get", "post"]),
        ("/api/v1/export", &["get"]),
        ("/api/v1/inventory/categories", &["get", "post"]),
        ("/api/v1/inventory/categories/{id}", &["put"]),
        (
            "/api/v1/inventory/categories/{id}/allowance",
            &["get", "put"],
        ),
        ("/api/v1/inventory/items", &["get", "post"]),
        ("/api/v1/inventory/items/import", &["post"]),
        ("/api/v1/inventory/items/{id}", &["get", "put"]),
        ("/api/v1/inventory/items/{id}/history", &["get"]),
        ("/api/v1/inventory/items/{id}/checkout", &["post"]),
        ("/api/v1/inventory/items/{id}/checkin", &["post"]),
        ("/api/v1/inventory/items/{id}/extend", &["post"]),
        ("/api/v1/inventory/items/{id}/assign", &["post"]),
        ("/api/v1/inventory/items/{id}/unassign", &["post"]),
        ("/api/v1/inventory/items/{id}/issue", &["post"]),
        ("/api/v1/inventory/items/{id}/maintenance", &["get", "post"]),
        ("/api/v1/inventory/issuances/{id}/return", &["post"]),
        ("/api/v1/inventory/checkouts", &["get"]),
        ("/api/v1/inventory/lookup", &["get"]),
        ("/api/v1/inventory/due", &["get"]),
        ("/api/v1/inventory/members/{id}/holdings", &["get"]),
        ("/api/v1/inventory/clearances", &["get", "post"]),
        ("/api/v1/inventory/clearances/{id}", &["get"]),
        (
            "/api/v1/inventory/clearances/{id}/lines/{line}/resolve",
            &["post"],
        ),
        ("/api/v1/inventory/clearances/{id}/close", &["post"]),
        ("/api/v1/events", &["get", "post"]),
        ("/api/v1/events/locations", &["get"]),
        ("/api/v1/events/templates", &["get", "post"]),
        ("/api/v1/events/{id}/save-as-template", &["post"]),
        ("/api/v1/events/feed", &["get", "post", "delete"]),
        ("/api/v1/events/{id}", &["get", "put"]),
        ("/api/v1/events/{id}/publish", &["post"]),
        ("/api/v1/events/{id}/cancel", &["post"]),
        ("/api/v1/events/{id}/ics", &["get"]),
        ("/api/v1/events/{id}/rsvp", &["post"]),
        ("/api/v1/events/{id}/self-check-in", &["post"]),
        ("/api/v1/events/{id}/attendees", &["get"]),
        ("/api/v1/events/{id}/check-in", &["post"]),
        ("/api/v1/events/{id}/check-out", &["post"]),
        ("/api/v1/events/{id}/attendance", &["post"]),
        ("/api/v1/events/{id}/finalize", &["post"]),
        ("/api/v1/events/{id}/unfinalize", &["post"]),
        ("/api/v1/events/{id}/attachments", &["get", "post"]),
        (
            "/api/v1/events/{id}/attachments/{attachment}",
            &["get", "delete"],
        ),
        ("/api/v1/elections", &["get", "post"]),
        ("/api/v1/elections/{id}", &["get", "put"]),
        ("/api/v1/elections/{id}/positions", &["post"]),
        ("/api/v1/elections/positions/{id}", &["delete"]),
        ("/api/v1/elections/positions/{id}/decide", &["post"]),
        ("/api/v1/elections/{id}/candidates", &["post"]),
        ("/api/v1/elections/candidates/{id}/answer", &["post"]),
        ("/api/v1/elections/candidates/{id}", &["delete"]),
        ("/api/v1/elections/{id}/nominations", &["post"]),
        ("/api/v1/elections/{id}/open", &["post"]),
        ("/api/v1/elections/{id}/close", &["post"]),
        ("/api/v1/elections/{id}/cancel", &["post"]),
        ("/api/v1/elections/{id}/ballot", &["get"]),
        ("/api/v1/elections/{id}/vote", &["post"]),
        ("/api/v1/elections/{id}/receipts/check", &["post"]),
        ("/api/v1/elections/{id}/turnout", &["get"]),
        ("/api/v1/elections/{id}/results", &["get"]),
        ("/api/v1/elections/{id}/certificate", &["get"]),
        ("/api/v1/elections/{id}/roll", &["get", "post"]),
        ("/api/v1/elections/{id}/paper-batches", &["get", "post"]),
        ("/api/v1/elections/paper-batches/{id}/attest", &["post"]),
        ("/api/v1/elections/paper-batches/{id}/void", &["post"]),
        ("/api/v1/documents", &["get"]),
        ("/api/v1/documents/folders", &["get", "post"]),
        ("/api/v1/documents/my-folder", &["get"]),
        ("/api/v1/documents/folders/{id}", &["get", "put", "delete"]),
        ("/api/v1/documents/folders/{id}/documents", &["post"]),
        ("/api/v1/documents/{id}", &["get", "put", "delete"]),
        ("/api/v1/documents/{id}/archive", &["post"]),
        ("/api/v1/documents/{id}/restore", &["post"]),
        ("/api/v1/documents/{id}/versions", &["get", "post"]),
        ("/api/v1/documents/{id}/file", &["get"]),
        ("/api/v1/documents/{id}/versions/{version}/file", &["get"]),
        ("/api/v1/training/records/{id}/documents", &["get", "post"]),
        (
            "/api/v1/training/records/{id}/documents/{document}",
            &["delete"],
        ),
        (
            "/api/v1/training/records/{id}/documents/{document}/file",
            &["get"],
        ),
        ("/api/v1/inventory/items/{id}/documents", &["get", "post"]),
        (
            "/api/v1/inventory/items/{id}/documents/{document}",
            &["delete"],
        ),
        (
            "/api/v1/inventory/items/{id}/documents/{document}/file",
            &["get"],
        ),
        ("/api/v1/minutes", &["get", "post"]),
        ("/api/v1/minutes/templates", &["get", "post"]),
        ("/api/v1/minutes/action-items", &["get"]),
        ("/api/v1/minutes/action-items/{id}", &["patch"]),
        ("/api/v1/minutes/attendance", &["get"]),
        ("/api/v1/minutes/attendance/{id}", &["get"]),
        ("/api/v1/minutes/{id}", &["get", "put", "delete"]),
        ("/api/v1/minutes/{id}/submit", &["post"]),
        ("/api/v1/minutes/{id}/approve", &["post"]),
        ("/api/v1/minutes/{id}/reject", &["post"]),
        ("/api/v1/minutes/{id}/publish", &["post"]),
        ("/api/v1/minutes/{id}/motions", &["post"]),
        ("/api/v1/minutes/{id}/motions/{motion}", &["delete"]),
        ("/api/v1/minutes/{id}/action-items", &["post"]),
        ("/api/v1/minutes/{id}/action-items/{item}", &["delete"]),
        ("/api/v1/minutes/{id}/attendance", &["put"]),
        ("/api/v1/scheduling/templates", &["get", "post"]),
        ("/api/v1/scheduling/templates/{id}", &["get", "put"]),
        ("/api/v1/scheduling/patterns", &["get", "post"]),
        ("/api/v1/scheduling/patterns/{id}", &["get"]),
        ("/api/v1/scheduling/patterns/{id}/generate", &["post"]),
        ("/api/v1/scheduling/patterns/{id}/active", &["post"]),
        ("/api/v1/scheduling/shifts", &["get", "post"]),
        ("/api/v1/scheduling/shifts/{id}", &["get"]),
        ("/api/v1/scheduling/shifts/{id}/cancel", &["post"]),
        ("/api/v1/scheduling/shifts/{id}/assignments", &["post"]),
        ("/api/v1/scheduling/shifts/{id}/finalize", &["post"]),
        ("/api/v1/scheduling/shifts/{id}/reopen", &["post"]),
        ("/api/v1/scheduling/shifts/{id}/signup", &["post", "delete"]),
        ("/api/v1/scheduling/assignments/{id}/respond", &["post"]),
        ("/api/v1/scheduling/assignments/{id}", &["delete"]),
        ("/api/v1/scheduling/time-off", &["get", "post"]),
        ("/api/v1/scheduling/time-off/{id}/review", &["post"]),
        ("/api/v1/scheduling/time-off/{id}/cancel", &["post"]),
        ("/api/v1/scheduling/reports/hours", &["get"]),
        ("/api/v1/scheduling/reports/coverage", &["get"]),
        ("/api/v1/scheduling/swaps", &["get", "post"]),
        ("/api/v1/scheduling/swaps/{id}/review", &["post"]),
        ("/api/v1/scheduling/swaps/{id}/cancel", &["post"]),
        ("/api/v1/training/categories", &["get"]),
        ("/api/v1/training/courses", &["get", "post"]),
        ("/api/v1/training/courses/{id}", &["put"]),
        ("/api/v1/training/records", &["get", "post"]),
        ("/api/v1/training/records/{id}", &["get"]),
        ("/api/v1/training/records/import", &["post"]),
        ("/api/v1/training/records/{id}/void", &["post"]),
        ("/api/v1/training/records/{id}/correct", &["post"]),
        ("/api/v1/training/sessions/{id}", &["get"]),
        ("/api/v1/training/sessions/{id}/void", &["post"]),
        ("/api/v1/training/requirements", &["get", "post"]),
        ("/api/v1/training/requirements/{id}", &["put"]),
        ("/api/v1/training/compliance/config", &["get", "put"]),
        ("/api/v1/training/members/{id}/exemption", &["get", "put"]),
        ("/api/v1/members/{id}/tier", &["put"]),
        ("/api/v1/training/compliance/{member_id}", &["get"]),
        ("/api/v1/training/matrix", &["get"]),
        ("/api/v1/training/reports/iso", &["get"]),
        ("/api/v1/training/waivers", &["get", "post"]),
        ("/api/v1/training/waivers/{id}/deactivate", &["post"]),
        ("/api/v1/leaves", &["get", "post"]),
        ("/api/v1/membership/tiers", &["get", "post"]),
        ("/api/v1/membership/tiers/{id}", &["put"]),
        ("/api/v1/training/submissions", &["get", "post"]),
        ("/api/v1/training/submissions/pending-count", &["get"]),
        ("/api/v1/training/submissions/{id}", &["get", "put"]),
        ("/api/v1/training/submissions/{id}/review", &["post"]),
        ("/api/v1/training/programs", &["get", "post"]),
        ("/api/v1/training/programs/{id}", &["get", "put"]),
        ("/api/v1/training/programs/{id}/phases", &["post"]),
        ("/api/v1/training/programs/{id}/items", &["post"]),
        ("/api/v1/training/programs/{id}/items/{item}", &["delete"]),
        ("/api/v1/training/programs/{id}/enrollments", &["post"]),
        ("/api/v1/training/enrollments", &["get"]),
        ("/api/v1/training/enrollments/{id}", &["get"]),
        ("/api/v1/training/enrollments/{id}/advance", &["post"]),
        ("/api/v1/training/enrollments/{id}/withdraw", &["post"]),
        ("/api/v1/training/enrollments/{id}/items/{item}", &["post"]),
        ("/api/v1/training/shift-reports", &["get", "post"]),
        ("/api/v1/training/shift-reports/{id}", &["get", "put"]),
        ("/api/v1/training/shift-reports/{id}/review", &["post"]),
        ("/api/v1/training/shift-reports/{id}/acknowledge", &["post"]),
        ("/api/v1/leaves/{id}", &["get", "patch", "delete"]),
        ("/api/v1/backups/{file}", &["delete"]),
        ("/api/v1/backups/{file}/download", &["get"]),
        ("/api/v1/backups/{file}/verify", &["post"]),
        ("/api/v1/backups/upload", &["post"]),
        ("/api/v1/backups/{file}/restore", &["post"]),
        ("/api/v1/backups/restore/progress", &["get"]),
        ("/api/v1/announcements", &["get", "post"]),
        ("/api/v1/announcements/current", &["get"]),
        ("/api/v1/announcements/{id}", &["get"]),
        ("/api/v1/announcements/{id}/dismiss", &["post"]),
        ("/api/v1/announcements/{id}/withdraw", &["post"]),
    ];
    routes
        .iter()
        .map(|(p, m)| (*p, m.iter().copied().collect()))
        .collect()
}

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Resolves a `{"$ref": "#/components/schemas/X"}` to the schema object.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn openapi_documents_every_route_and_refuses_unknown_fields() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = serde_json::from_str(&res.text().await.unwrap()).expect("valid JSON");
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "openapi version: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());

    // The documented paths and methods are exactly the served ones.
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeMap<&str, BTreeSet<&str>> = paths
        .iter()
        .map(|(p, item)| {
            let methods = HTTP_METHODS
                .iter()
                .copied()
                .filter(|m| item.get(*m).is_some())
                .collect();
            (p.as_str(), methods)
        })
        .collect();
    let expected = served_routes();
    for (path, methods) in &expected {
        assert_eq!(
            documented.get(path),
            Some(methods),
            "{path}: documented methods differ"
        );
    }
    for path in documented.keys() {
        assert!(
            expected.contains_key(path),
            "{path} is documented but not in this test's route list"
        );
    }

    // ...and the router really answers each documented operation (never 404/405).
    let id = uuid::Uuid::now_v7();
    for (path, methods) in &documented {
        let concrete = path
            .replace("{id}", &id.to_string())
            .replace("{role_id}", &uuid::Uuid::now_v7().to_string());
        for method in methods {
            let res = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            assert!(
                res.status() != StatusCode::NOT_FOUND
                    && res.status() != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} answered {}",
                res.status()
            );
        }
    }
    // An undocumented path is not served.
    let res = app
        .client
        .get(app.url("/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Request bodies that refuse unknown fields say so.
    let schemas = &doc["components"]["schemas"];
    for name in [
        "LoginInput",
        "RefreshInput",
        "ChangePassword",
        "NewMember",
        "MemberPatch",
        "StatusChange",
        "PasswordReset",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "schema {name}: {}",
            schemas[name]
        );
    }
    let login_body = resolve(
        &doc,
        &doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(login_body["additionalProperties"], json!(false));
    let required: Vec<&str> = login_body["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"username") && required.contains(&"password"));
    // Every JSON request body in the document.
    let mut open = Vec::new();
    for (path, item) in paths {
        for method in HTTP_METHODS {
            let schema = &item[*method]["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                continue;
            }
            let schema = resolve(&doc, schema);
            if schema["additionalProperties"] != json!(false) {
                open.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        open.is_empty(),
        "request bodies that do not declare additionalProperties=false: {open:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The database going away and coming back

async fn get_json(client: &reqwest::Client, url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The real server reaching its database through a `Proxy`, with one organization and a
/// signed-in administrator.
struct Proxied {
    db: TestDb,
    proxy: Proxy,
    state: logbook::AppState,
    base: String,
    client: reqwest::Client,
    token: String,
    data_dir: std::path::PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Proxied {
    async fn start() -> Proxied {
        let db = TestDb::create().await;
        let proxy = Proxy::start(host_port(&db.url), Link::Up).await;
        let data_dir = temp_dir();
        let (state, addr, shutdown, server) =
            start_server(test_config(&proxy.url_for(&db.url), data_dir.clone())).await;
        organizations::provision(
            &state.db,
            &state.hasher,
            OrgProfile {
                name: Some("Outage Fire Department".into()),
                timezone: Some("America/Chicago".into()),
                ..Default::default()
            },
            NewAdmin {
                username: "outage-admin".into(),
                email: "outage-admin@example.org".into(),
                password: PASSWORD.into(),
                ..Default::default()
            },
            "test",
        )
        .await
        .expect("provision");
        let base = format!("http://{addr}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let res = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "outage-admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let token = res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let p = Proxied {
            db,
            proxy,
            state,
            base,
            client,
            token,
            data_dir,
            shutdown: Some(shutdown),
            server: Some(server),
        };
        let (status, body) = p.members().await.0;
        assert_eq!(status, StatusCode::OK, "{body}");
        p
    }

    /// GET /api/v1/members as the administrator: (status, body), Retry-After present, time.
    async fn members(&self) -> ((StatusCode, Value), bool, Duration) {
        let started = Instant::now();
        let res = self
            .client
            .get(format!("{}/api/v1/members", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let retry_after = res.headers().contains_key("retry-after");
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        ((status, body), retry_after, started.elapsed())
    }

    async fn health(&self) -> (StatusCode, Value, Duration) {
        let started = Instant::now();
        let (status, body) = get_json(&self.client, &format!("{}/health", self.base), None).await;
        (status, body, started.elapsed())
    }

    /// Asserts that the server answers 503 problems to a read, a sign-in and a write, and that
    /// /health fails: the first request that finds the database gone within `limit`, every one
    /// after it within 100 ms (from the health flag, not a connect timeout each).
    async fn assert_unavailable(&self, first: Duration) {
        let ((status, body), retry_after, elapsed) = self.members().await;
        assert_problem(status, &body, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after, "no Retry-After");
        assert!(elapsed < first, "the first request took {elapsed:?}");
        let limit = Duration::from_millis(100);
        let mut slowest = Duration::ZERO;
        for attempt in 0..20 {
            let ((status, body), retry_after, elapsed) = self.members().await;
            slowest = slowest.max(elapsed);
            assert_problem(status, &body, StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                body["type"]
                    .as_str()
                    .unwrap()
                    .ends_with("service-unavailable"),
                "{body}"
            );
            assert!(retry_after, "no Retry-After");
            assert!(elapsed < limit, "attempt {attempt} took {elapsed:?}");
        }
        eprintln!("database down: the slowest of 20 answers took {slowest:?}");
        // A page says it in words, with the same Retry-After.
        let started = Instant::now();
        let res = self
            .client
            .get(format!("{}/members", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            started.elapsed() < limit,
            "page took {:?}",
            started.elapsed()
        );
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("database is not reachable")
        );
        let (status, health, elapsed) = self.health().await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
        assert_eq!(health["status"], "fail");
        assert_eq!(health["checks"]["database"]["status"], "fail");
        assert!(elapsed < limit, "/health took {elapsed:?}");
        // A sign-in is not mistaken for a wrong password; a write is refused, not half done.
        let started = Instant::now();
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": "outage-admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < limit,
            "sign-in took {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let res = self
            .client
            .post(format!("{}/api/v1/members", self.base))
            .bearer_auth(&self.token)
            .json(
                &json!({"username": "during-outage", "email": "o@example.org",
                          "first_name": "O", "last_name": "Utage"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < limit,
            "write took {:?}",
            started.elapsed()
        );
    }

    /// Polls until the members list answers 200 again (503 meanwhile, never anything else).
    async fn assert_recovers(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ((status, body), _, _) = self.members().await;
            if status == StatusCode::OK {
                break;
            }
            assert_eq!(
                status,
                StatusCode::SERVICE_UNAVAILABLE,
                "while recovering: {body}"
            );
            assert!(Instant::now() < deadline, "no recovery within {within:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let (status, health, _) = self.health().await;
        assert_eq!(status, StatusCode::OK, "{health}");
        let created: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind("during-outage")
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        assert_eq!(created, 0, "a write during the outage was stored");
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        self.state.db.close().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[tokio::test]
async fn database_outage_answers_503_quickly_and_recovers() {
    let p = Proxied::start().await;
    p.proxy.set(Link::Down);
    p.assert_unavailable(Duration::from_secs(10)).await;
    p.proxy.set(Link::Up);
    p.assert_recovers(Duration::from_secs(20)).await;
    p.stop().await;
}

#[tokio::test]
async fn database_that_stops_answering_gives_503_not_a_hang() {
    let p = Proxied::start().await;
    p.proxy.set(Link::Stalled);
    p.assert_unavailable(Duration::from_secs(10)).await;
    p.proxy.set(Link::Up);
    p.assert_recovers(Duration::from_secs(30)).await;
    p.stop().await;
}

#[tokio::test]
async fn startup_waits_for_the_database() {
    let db = TestDb::create().await;
    let proxy = Proxy::start(host_port(&db.url), Link::Down).await;
    let data_dir = temp_dir();
    let mut config = test_config(&proxy.url_for(&db.url), data_dir.clone());
    config.db_wait = Duration::from_secs(20);
    let switch = proxy.switch();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        switch.send_replace(Link::Up);
    });
    let started = Instant::now();
    let state = tokio::time::timeout(Duration::from_secs(30), logbook::prepare(config))
        .await
        .expect("prepare did not finish within 30 s")
        .expect("prepare failed although the database came up");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "prepare finished before the database was reachable"
    );
    // Migrations were applied through the proxy.
    let orgs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&state.db)
        .await
        .unwrap();
    assert_eq!(orgs, 0);
    state.db.close().await;
    drop(proxy);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test]
async fn startup_gives_up_when_the_database_never_comes() {
    let data_dir = temp_dir();
    let url = format!(
        "mysql://logbook:logbook@127.0.0.1:{}/logbook_never",
        free_port()
    );
    let mut config = test_config(&url, data_dir.clone());
    config.db_wait = Duration::from_secs(1);
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), logbook::prepare(config))
        .await
        .expect("prepare did not give up within 30 s");
    let err = match result {
        Ok(_) => panic!("prepare succeeded with no database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("gave up"), "{err}");
    assert!(
        !err.contains("logbook:logbook@"),
        "password in message: {err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&data_dir);
}

// ---------------------------------------------------------------------------------------------
// The binary

/// Runs to completion (at most 60 s): exit status, stdout, stderr.
async fn run(mut cmd: tokio::process::Command) -> (std::process::ExitStatus, String, String) {
    cmd.stdout(Stdio::piped());
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("logbook did not finish within 60 s")
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn binary_refuses_an_unknown_config_key() {
    let dir = temp_dir();
    let file = dir.join("logbook.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisten_port = 8080\n").unwrap();
    let mut cmd = logbook_command_with_config(&file);
    cmd.arg("check");
    let (status, _, stderr) = run(cmd).await;
    assert!(!status.success(), "exited {status}");
    assert!(stderr.contains("listen_port"), "stderr: {stderr}");
    // A named file that does not exist is an error too.
    let mut cmd = logbook_command_with_config(&dir.join("missing.toml"));
    cmd.arg("check");
    let (status, _, stderr) = run(cmd).await;
    assert!(!status.success());
    assert!(stderr.contains("missing.toml"), "stderr: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn binary_refuses_a_short_secret() {
    let dir = temp_dir();
    let dead_db = format!("mysql://logbook:logbook@127.0.0.1:{}/x", free_port());
    for (var, name) in [
        ("LOGBOOK_JWT_SECRET", "jwt_secret"),
        ("LOGBOOK_ENCRYPTION_KEY", "encryption_key"),
    ] {
        let mut cmd = logbook_command(&dir);
        cmd.env(var, "only-31-bytes-long-xxxxxxxxxxxx")
            .env("LOGBOOK_DATABASE_URL", &dead_db)
            .env("LOGBOOK_DB_WAIT_SECS", "1")
            .env("LOGBOOK_DATA_DIR", dir.join("data"))
            .arg("check");
        let (status, _, stderr) = run(cmd).await;
        assert!(!status.success(), "{var}: exited {status}");
        assert!(stderr.contains(name), "{var}: stderr: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends SIGTERM by pid.
fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn binary_serves_generates_secrets_and_stops_on_sigterm() {
    let db = TestDb::create().await;
    // Through a proxy, so that a request can be kept in flight while SIGTERM arrives.
    let proxy = Proxy::start(host_port(&db.url), Link::Up).await;
    let dir = temp_dir();
    let data = dir.join("data");
    let port = free_port();
    let mut cmd = logbook_command(&dir);
    cmd.env("LOGBOOK_DATABASE_URL", proxy.url_for(&db.url))
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOGBOOK_DATA_DIR", &data)
        .env("LOGBOOK_DB_WAIT_SECS", "20")
        .arg("serve");
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    wait_until_healthy(
        &mut child,
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(60),
    )
    .await;

    let secrets = data.join("secrets");
    for name in ["jwt.key", "encryption.key"] {
        let path = secrets.join(name);
        assert_eq!(mode_of(&path), 0o600, "{name}");
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.trim().len() >= 64, "{name} is short");
    }
    assert_ne!(
        std::fs::read(secrets.join("jwt.key")).unwrap(),
        std::fs::read(secrets.join("encryption.key")).unwrap()
    );
    // Migrations ran against the test database.
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables
          WHERE table_schema = DATABASE() AND table_name = 'audit_logs'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(tables, 1);

    // A request in flight when SIGTERM arrives still gets its answer: with the database
    // stalled, /health takes its 3 s database timeout and then answers 503.
    proxy.set(Link::Stalled);
    let in_flight = tokio::spawn({
        let client = client.clone();
        let health = health.clone();
        async move {
            let started = Instant::now();
            let res = client.get(&health).send().await;
            (res.map(|r| r.status()), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    sigterm(pid);
    let (answer, took) = in_flight.await.unwrap();
    assert_eq!(
        answer.expect("the in-flight request was cut off"),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // It waited out the database timeout, so it was in flight when SIGTERM came.
    assert!(took >= Duration::from_secs(2), "answered after {took:?}");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("logbook serve did not stop within 10 s of SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(client.get(&health).send().await.is_err(), "still serving");

    // A second start reuses the generated secrets rather than replacing them.
    proxy.set(Link::Up);
    let before: Vec<Vec<u8>> = ["jwt.key", "encryption.key"]
        .iter()
        .map(|n| std::fs::read(secrets.join(n)).unwrap())
        .collect();
    let mut cmd = logbook_command(&dir);
    cmd.env("LOGBOOK_DATABASE_URL", &db.url)
        .env("LOGBOOK_DATA_DIR", &data)
        .env("LOGBOOK_DB_WAIT_SECS", "10")
        .arg("check");
    let (status, stdout, stderr) = run(cmd).await;
    assert!(status.success(), "check failed: {stderr}");
    assert!(stdout.contains("database: ok"), "{stdout}");
    let after: Vec<Vec<u8>> = ["jwt.key", "encryption.key"]
        .iter()
        .map(|n| std::fs::read(secrets.join(n)).unwrap())
        .collect();
    assert_eq!(before, after, "secrets were regenerated");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn org_count(pool: &sqlx::MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn binary_init_refuses_a_second_time() {
    let db = TestDb::create().await;
    let dir = temp_dir();
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let init = |org: &str, admin: &str, sub: &[&str]| {
        let mut cmd = logbook_command(&dir);
        cmd.env("LOGBOOK_DATABASE_URL", &db.url)
            .env("LOGBOOK_DATA_DIR", dir.join("data"))
            .env("LOGBOOK_DB_WAIT_SECS", "10")
            .args(sub)
            .args(["--org-name", org, "--admin-username", admin])
            .arg("--admin-email")
            .arg(format!("{admin}@example.org"))
            .arg("--admin-password-file")
            .arg(&password_file);
        cmd
    };

    let (status, stdout, stderr) = run(init("First Fire Department", "chief", &["init"])).await;
    assert!(status.success(), "first init failed: {stderr}");
    assert!(stdout.contains("created organization"), "stdout: {stdout}");
    assert_eq!(org_count(&db.pool).await, 1);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = ?")
        .bind("chief")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    let (status, _, stderr) = run(init("Second Fire Department", "chief2", &["init"])).await;
    assert!(!status.success(), "second init succeeded");
    assert!(stderr.contains("already exists"), "stderr: {stderr}");
    assert_eq!(
        org_count(&db.pool).await,
        1,
        "the refused init changed something"
    );

    // `org add` is the way to a second organization.
    let (status, _, stderr) = run(init("Second Fire Department", "chief2", &["org", "add"])).await;
    assert!(status.success(), "org add failed: {stderr}");
    assert_eq!(org_count(&db.pool).await, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn startup_fails_at_once_on_wrong_credentials_or_database() {
    // Waiting cannot cure a wrong password or a missing database: fail fast with a clear word.
    let base = server_url();
    let rest = base.trim_start_matches("mysql://");
    let host = rest.rsplit('@').next().unwrap();
    for url in [
        format!("mysql://logbook:wrong-password@{host}/mysql"),
        format!("{base}/logbook_no_such_database_here"),
    ] {
        let data_dir = temp_dir();
        let mut config = test_config(&url, data_dir.clone());
        config.db_wait = Duration::from_secs(60);
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(30), logbook::prepare(config))
            .await
            .expect("prepare kept retrying a permanent error");
        let err = match result {
            Ok(_) => panic!("prepare succeeded against {url}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("cannot use the database"), "{err}");
        assert!(
            !err.contains("wrong-password"),
            "password in message: {err}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{err}");
        let _ = std::fs::remove_dir_all(&data_dir);
    }
}

#[tokio::test]
async fn binary_resets_a_password_from_the_shell() {
    let app = TestApp::spawn().await;
    let dir = temp_dir();
    // Lock the admin out first: the break-glass reset must also unlock.
    sqlx::query("UPDATE users SET locked_until = UTC_TIMESTAMP() + INTERVAL 1 HOUR WHERE id = ?")
        .bind(app.a.admin.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let temporary = "brand new temporary words";
    let file = dir.join("pw");
    std::fs::write(&file, format!("{temporary}\n")).unwrap();
    let reset = |org: &str, user: &str, file: &Path| {
        let mut cmd = logbook_command(&dir);
        cmd.env("LOGBOOK_DATABASE_URL", &app.db.url)
            .env("LOGBOOK_DATA_DIR", dir.join("data"))
            .args(["user", "reset-password", "--org", org, "--username", user])
            .arg("--password-file")
            .arg(file);
        cmd
    };
    // Wrong organization or member: refused, nothing changes.
    let before = app.snapshot(&app.a).await;
    let (status, _, stderr) = run(reset(&app.b.slug, "alpha-admin", &file)).await;
    assert!(!status.success());
    assert!(stderr.contains("no member"), "{stderr}");
    let short = dir.join("short");
    std::fs::write(&short, "short").unwrap();
    let (status, _, stderr) = run(reset(&app.a.slug, "alpha-admin", &short)).await;
    assert!(!status.success());
    assert!(stderr.contains("password"), "{stderr}");
    assert_eq!(app.snapshot(&app.a).await, before);

    let (status, stdout, stderr) = run(reset(&app.a.slug, "alpha-admin", &file)).await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("reset"), "{stdout}");
    // The old session is over; the temporary password signs in and must be changed.
    let (code, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let user = app.login("alpha-admin", temporary).await;
    let (code, body) = app.get(&user.token, "/api/v1/members").await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let via: String = sqlx::query_scalar(
        "SELECT changes FROM audit_logs WHERE organization_id = ? AND action = 'member.password_reset'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(via.contains("shell"), "{via}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kibibytes of `field` (VmRSS, VmHWM) in /proc/`pid`/status.
fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"))
}

/// A hundred sign-ins at once (a room after a meeting): every one answers, and the server's
/// memory peak stays within a bound that only per-sign-in growth would cross. Each hash needs
/// 19 MiB; the server hashes on two long-lived workers that reuse theirs, so the peak is the
/// start plus about two hashes (it was 400 MiB and more when every hash had a thread and an
/// allocator arena of its own). The figures are measured by `scripts/bench`; this bound is
/// deliberately generous.
#[tokio::test]
async fn a_hundred_sign_ins_at_once_keep_memory_bounded() {
    let db = TestDb::create().await;
    let dir = temp_dir();
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mut init = logbook_command(&dir);
    init.env("LOGBOOK_DATABASE_URL", &db.url)
        .env("LOGBOOK_DATA_DIR", dir.join("data"))
        .env("LOGBOOK_DB_WAIT_SECS", "10")
        .args(["init", "--org-name", "Memory Fire Department"])
        .args(["--admin-username", "memory-chief"])
        .args(["--admin-email", "memory-chief@example.org"])
        .arg("--admin-password-file")
        .arg(&password_file);
    let (status, _, stderr) = run(init).await;
    assert!(status.success(), "init failed: {stderr}");
    // A hundred members with the chief's password (copied, not hashed a hundred times).
    {
        let mut conn = db.pool.acquire().await.unwrap();
        sqlx::query(
            "CREATE TEMPORARY TABLE twin AS SELECT * FROM users WHERE username = 'memory-chief'",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        for n in 0..100 {
            sqlx::query("UPDATE twin SET id = ?, username = ?, email = ?")
                .bind(uuid::Uuid::now_v7())
                .bind(format!("memory-{n}"))
                .bind(format!("memory-{n}@example.org"))
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query("INSERT INTO users SELECT * FROM twin")
                .execute(&mut *conn)
                .await
                .unwrap();
        }
    }

    let port = free_port();
    let mut cmd = logbook_command(&dir);
    cmd.env("LOGBOOK_DATABASE_URL", &db.url)
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOGBOOK_DATA_DIR", dir.join("data"))
        .env("LOGBOOK_DB_WAIT_SECS", "10")
        .arg("serve");
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&mut child, &base, Duration::from_secs(60)).await;
    // Phones of their own: each member from one of ten addresses (127.0.0.2–11), so that the
    // per-address limit on sign-ins in flight is not what this measures.
    let clients: Vec<reqwest::Client> = (2..12)
        .map(|last| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .local_address(std::net::IpAddr::from([127, 0, 0, last]))
                .build()
                .unwrap()
        })
        .collect();
    let sign_in = |n: usize, username: String| {
        let (client, url) = (clients[n % 10].clone(), format!("{base}/api/v1/auth/login"));
        async move {
            client
                .post(url)
                .json(&serde_json::json!({"username": username, "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status())
        }
    };
    // One sign-in first, so that the start figure includes what any sign-in needs once.
    assert_eq!(
        sign_in(0, "memory-chief".into()).await.unwrap(),
        StatusCode::OK
    );
    let start = memory_kib(pid, "VmRSS");
    let mut all = tokio::task::JoinSet::new();
    for n in 0..100 {
        all.spawn(sign_in(n, format!("memory-{n}")));
    }
    let mut answers = std::collections::BTreeMap::new();
    while let Some(done) = all.join_next().await {
        *answers.entry(done.unwrap().unwrap().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(
        answers,
        [(200, 100)].into(),
        "every sign-in answered 200 (status: how many)"
    );
    let peak = memory_kib(pid, "VmHWM");
    let grown_mib = peak.saturating_sub(start) / 1024;
    eprintln!(
        "100 sign-ins at once: RSS {} MiB before, peak {} MiB (+{grown_mib} MiB)",
        start / 1024,
        peak / 1024
    );
    assert!(
        grown_mib < 150,
        "the peak grew by {grown_mib} MiB over {} MiB",
        start / 1024
    );
    // And given back: idle a few seconds, the password workers free their blocks (the start
    // figure holds one of them, from the first sign-in), so the server ends below it.
    let mut now = memory_kib(pid, "VmRSS");
    for _ in 0..60 {
        if now < start {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = memory_kib(pid, "VmRSS");
    }
    eprintln!("30 s later at most: RSS {} MiB", now / 1024);
    assert!(
        now < start,
        "RSS {} MiB after the storm did not come back below {} MiB",
        now / 1024,
        start / 1024
    );
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    let _ = std::fs::remove_dir_all(&dir);
}
