//! Every state change under fire: fifty identical requests released at the same instant (two
//! officers pressing one button, a member tapping twice) make exactly one change and one audit
//! entry; every other request gets 409 with a problem document and writes nothing.

use std::sync::Arc;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

const AT_ONCE: usize = 50;

/// Sends `AT_ONCE` copies of one request, released together by a barrier, each on its own
/// connection, taking turns through `tokens`; returns every answer.
async fn at_once(
    app: &TestApp,
    tokens: &[&str],
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Vec<(StatusCode, String, Value)> {
    let gate = Arc::new(tokio::sync::Barrier::new(AT_ONCE));
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..AT_ONCE {
        // A client per request: no request waits for another's connection.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let (gate, method, url) = (gate.clone(), method.clone(), app.url(path));
        let (token, body) = (tokens[i % tokens.len()].to_string(), body.clone());
        sends.spawn(async move {
            let mut req = client.request(method, url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            gate.wait().await;
            let res = req.send().await.expect("the server answers");
            let status = res.status();
            let kind = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = res.text().await.unwrap();
            (
                status,
                kind,
                serde_json::from_str(&text).unwrap_or(Value::Null),
            )
        });
    }
    sends.join_all().await
}

/// One success; every other answer a 409 problem with a message for a person.
fn one_wins(what: &str, answers: &[(StatusCode, String, Value)]) -> Value {
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(s, _, _)| s.is_success())
        .map(|(_, _, v)| v)
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| s.as_u16()).collect();
    assert_eq!(won.len(), 1, "{what}: {statuses:?}");
    for (status, kind, body) in answers.iter().filter(|(s, _, _)| !s.is_success()) {
        assert_eq!(*status, StatusCode::CONFLICT, "{what}: {body}");
        assert_eq!(kind, "application/problem+json", "{what}");
        assert_eq!(body["status"], 409, "{what}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{what}: {body}"
        );
    }
    won[0].clone()
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, v) = app.post(token, path, body).await;
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id.parse::<Uuid>().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_approvals_of_one_submission_make_one_record() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "submitter", &[]).await;
    let one = app
        .member(&app.a, "officer-one", &["training_officer"])
        .await;
    let two = app
        .member(&app.a, "officer-two", &["training_officer"])
        .await;
    let s = created(
        &app,
        &member.token,
        "/api/v1/training/submissions",
        json!({"course_name": "Pump operations", "training_type": "specialty",
               "completion_date": "2026-03-14", "hours": 24}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let before = app.audit_count(&app.a).await;
    let answers = at_once(
        &app,
        &[&one.token, &two.token],
        Method::POST,
        &format!("/api/v1/training/submissions/{id}/review"),
        Some(json!({"decision": "approve"})),
    )
    .await;
    let won = one_wins("approve", &answers);
    assert_eq!(won["status"], "approved");
    let records = count(
        &app,
        "SELECT COUNT(*) FROM training_records WHERE user_id = ?",
        &member.id.to_string(),
    )
    .await;
    assert_eq!(records, 1);
    let hours: f64 = sqlx::query_scalar(
        "SELECT CAST(SUM(hours_completed) AS DOUBLE) FROM training_records WHERE user_id = ?",
    )
    .bind(member.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(hours, 24.0);
    assert_eq!(
        app.audit_actions(&app.a, "training.submission_reviewed")
            .await,
        1
    );
    // One decision's entry and the record's: nothing from the losers.
    assert_eq!(app.audit_count(&app.a).await - before, 2);

    // Approve against reject against "ask for changes": still one decision.
    let s = created(
        &app,
        &member.token,
        "/api/v1/training/submissions",
        json!({"course_name": "Ropes", "training_type": "specialty",
               "completion_date": "2026-03-15", "hours": 4}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let path = format!("/api/v1/training/submissions/{id}/review");
    let decisions = [
        json!({"decision": "approve"}),
        json!({"decision": "reject", "notes": "Not a department course"}),
        json!({"decision": "request_changes", "notes": "Add the certificate number"}),
    ];
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..AT_ONCE {
        let (client, url) = (reqwest::Client::new(), app.url(&path));
        let token = [&one.token, &two.token][i % 2].clone();
        let body = decisions[i % 3].clone();
        sends.spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let kind = res.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_string();
            (status, kind, res.json::<Value>().await.unwrap())
        });
    }
    let answers = sends.join_all().await;
    let won = one_wins("mixed decisions", &answers);
    let records = count(
        &app,
        "SELECT COUNT(*) FROM training_records WHERE user_id = ?",
        &member.id.to_string(),
    )
    .await;
    assert_eq!(records, if won["status"] == "approved" { 2 } else { 1 });
    assert_eq!(
        app.audit_actions(&app.a, "training.submission_reviewed")
            .await,
        2
    );
}

#[tokio::test]
async fn fifty_voids_of_one_record_write_one_entry() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "voided", &[]).await;
    let officer = app.member(&app.a, "voider", &["training_officer"]).await;
    let made = created(
        &app,
        &app.a.admin.token,
        "/api/v1/training/records",
        json!({"user_ids": [member.id], "course_name": "Drill", "hours": 3,
               "completion_date": "2026-02-02"}),
    )
    .await;
    let id = made[0]["id"].as_str().unwrap();
    let answers = at_once(
        &app,
        &[&officer.token, &app.a.admin.token],
        Method::POST,
        &format!("/api/v1/training/records/{id}/void"),
        Some(json!({"reason": "Entered twice"})),
    )
    .await;
    let won = one_wins("void", &answers);
    assert_eq!(won["status"], "cancelled");
    assert_eq!(app.audit_actions(&app.a, "training.record_voided").await, 1);
}

#[tokio::test]
async fn waivers_and_leaves_end_once() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "waived", &[]).await;
    let w = created(
        &app,
        &admin,
        "/api/v1/training/waivers",
        json!({"user_id": member.id, "waiver_type": "medical", "start_date": "2026-01-01",
               "end_date": "2026-12-31"}),
    )
    .await;
    let answers = at_once(
        &app,
        &[&admin],
        Method::POST,
        &format!(
            "/api/v1/training/waivers/{}/deactivate",
            w["id"].as_str().unwrap()
        ),
        Some(json!({})),
    )
    .await;
    one_wins("deactivate a waiver", &answers);
    assert_eq!(
        app.audit_actions(&app.a, "training.waiver_deactivated")
            .await,
        1
    );

    let leave = created(
        &app,
        &admin,
        "/api/v1/leaves",
        json!({"user_id": member.id, "leave_type": "military", "reason": "Deployment",
               "start_date": "2026-03-01", "end_date": "2026-05-31"}),
    )
    .await;
    let answers = at_once(
        &app,
        &[&admin],
        Method::DELETE,
        &format!("/api/v1/leaves/{}", leave["id"].as_str().unwrap()),
        None,
    )
    .await;
    one_wins("remove a leave", &answers);
    assert_eq!(app.audit_actions(&app.a, "member.leave_removed").await, 1);
    // Its waiver went with it, once.
    assert_eq!(
        app.audit_actions(&app.a, "training.waiver_deactivated")
            .await,
        2
    );
}

#[tokio::test]
async fn program_withdrawals_sign_offs_and_shift_reports_happen_once() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let trainee = app.member(&app.a, "trainee", &[]).await;
    let writer = app.member(&app.a, "writer", &["training_officer"]).await;
    let reviewer = app.member(&app.a, "reviewer", &["training_officer"]).await;
    let p = created(
        &app,
        &admin,
        "/api/v1/training/programs",
        json!({"name": "Driver", "structure_type": "phases", "time_limit_days": 365}),
    )
    .await;
    let pid = p["id"].as_str().unwrap();
    let p = created(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/phases"),
        json!({"name": "Driving"}),
    )
    .await;
    let phase = p["phases"][0]["id"].clone();
    let p = created(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/items"),
        json!({"phase_id": phase, "item_type": "skill", "name": "Backing up"}),
    )
    .await;
    // A second item keeps the enrollment going after the first is signed off.
    created(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/items"),
        json!({"phase_id": phase, "item_type": "hours", "name": "Hours", "target_value": 500}),
    )
    .await;
    let item_id = p["phases"][0]["items"][0]["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no item: {p}"));
    // Two officers enrolling the trainee at once make one enrollment; the others are told the
    // trainee is already enrolled, beside the field (the member's row serialises them).
    let answers = at_once(
        &app,
        &[&writer.token, &reviewer.token],
        Method::POST,
        &format!("/api/v1/training/programs/{pid}/enrollments"),
        Some(json!({"user_id": trainee.id})),
    )
    .await;
    let made: Vec<&Value> = answers
        .iter()
        .filter(|(s, _, _)| s.is_success())
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(made.len(), 1, "enroll");
    for (status, _, body) in answers.iter().filter(|(s, _, _)| !s.is_success()) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains("already enrolled"), "{body}");
    }
    let e = made[0].clone();
    let eid = e["id"].as_str().unwrap();

    // Two officers sign off one item at once.
    let answers = at_once(
        &app,
        &[&writer.token, &reviewer.token],
        Method::POST,
        &format!("/api/v1/training/enrollments/{eid}/items/{item_id}"),
        Some(json!({"action": "verify"})),
    )
    .await;
    one_wins("sign off an item", &answers);
    assert_eq!(
        app.audit_actions(&app.a, "training.program_item_updated")
            .await,
        1
    );

    // A shift report reviewed by two officers at once, then acknowledged by a double tap.
    let today = app.org_today(&app.a).await;
    let report = created(
        &app,
        &writer.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": trainee.id, "shift_date": today, "hours_on_shift": 12,
               "skills_observed": ["Backing up"]}),
    )
    .await;
    let rid = report["id"].as_str().unwrap();
    let answers = at_once(
        &app,
        &[&reviewer.token, &admin],
        Method::POST,
        &format!("/api/v1/training/shift-reports/{rid}/review"),
        Some(json!({"decision": "approved"})),
    )
    .await;
    one_wins("review a shift report", &answers);
    assert_eq!(
        app.audit_actions(&app.a, "training.shift_report_reviewed")
            .await,
        1
    );
    let answers = at_once(
        &app,
        &[&trainee.token],
        Method::POST,
        &format!("/api/v1/training/shift-reports/{rid}/acknowledge"),
        Some(json!({})),
    )
    .await;
    one_wins("acknowledge a shift report", &answers);
    assert_eq!(
        app.audit_actions(&app.a, "training.shift_report_acknowledged")
            .await,
        1
    );

    // The trainee and an officer withdraw the enrollment at once.
    let answers = at_once(
        &app,
        &[&trainee.token, &writer.token],
        Method::POST,
        &format!("/api/v1/training/enrollments/{eid}/withdraw"),
        Some(json!({"reason": "Moved away"})),
    )
    .await;
    let won = one_wins("withdraw", &answers);
    assert_eq!(won["status"], "withdrawn");
    assert_eq!(
        app.audit_actions(&app.a, "training.enrollment_withdrawn")
            .await,
        1
    );
}

#[tokio::test]
async fn member_status_alerts_and_announcements_change_once() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let secretary = app.member(&app.a, "secretary", &["chief"]).await;
    let member = app.member(&app.a, "leaving", &[]).await;
    let answers = at_once(
        &app,
        &[&admin, &secretary.token],
        Method::POST,
        &format!("/api/v1/members/{}/status", member.id),
        Some(json!({"status": "leave", "reason": "Deployment"})),
    )
    .await;
    let won = one_wins("status change", &answers);
    assert_eq!(won["status"], "leave");
    assert_eq!(app.audit_actions(&app.a, "member.status_changed").await, 1);

    // A lockout raises an alert; acknowledged, then resolved, by two admins at once.
    let locked = app.member(&app.a, "locked", &[]).await;
    for _ in 0..5 {
        app.login_response(&locked.username, "not the right password", None)
            .await;
    }
    let alert: Uuid = sqlx::query_scalar(
        "SELECT id FROM security_alerts WHERE organization_id = ? AND user_id = ?",
    )
    .bind(app.a.id)
    .bind(locked.id)
    .fetch_one(&app.db.pool)
    .await
    .expect("a lockout alert");
    for (step, action) in [
        ("acknowledge", "security_alert.acknowledged"),
        ("resolve", "security_alert.resolved"),
    ] {
        let answers = at_once(
            &app,
            &[&admin, &secretary.token],
            Method::POST,
            &format!("/api/v1/security-alerts/{alert}/{step}"),
            Some(json!({})),
        )
        .await;
        one_wins(step, &answers);
        assert_eq!(app.audit_actions(&app.a, action).await, 1, "{step}");
    }

    let a = created(
        &app,
        &admin,
        "/api/v1/announcements",
        json!({"title": "Pancake breakfast", "body": "Saturday at eight."}),
    )
    .await;
    let answers = at_once(
        &app,
        &[&admin, &secretary.token],
        Method::POST,
        &format!(
            "/api/v1/announcements/{}/withdraw",
            a["announcement"]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    one_wins("withdraw an announcement", &answers);
    assert_eq!(app.audit_actions(&app.a, "announcement.withdrawn").await, 1);
}

/// The pairs the review saw deadlock: changes that lock the department row first (status
/// changes, role edits, assignments) against audited edits that take the chain head first.
/// Four writers at a time, each on its own records, so every request should succeed.
#[tokio::test]
async fn department_locks_and_audited_edits_never_deadlock_into_an_error() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let flipper = app.member(&app.a, "flipper", &[]).await;
    let assignee = app.member(&app.a, "assignee", &[]).await;
    let edited: Vec<User> = [
        app.member(&app.a, "edited-1", &[]).await,
        app.member(&app.a, "edited-2", &[]).await,
    ]
    .into();
    let role = created(
        &app,
        &admin,
        "/api/v1/roles",
        json!({"name": "Pump crew", "permissions": ["training.view"]}),
    )
    .await;
    let role_id = role["id"].as_str().unwrap().to_string();
    let mut statuses = Vec::new();
    for round in 0..30 {
        let (to, role_perms) = if round % 2 == 0 {
            ("leave", json!(["training.view", "members.view"]))
        } else {
            ("active", json!(["training.view"]))
        };
        let requests: Vec<(Method, String, Value)> = vec![
            (
                Method::POST,
                format!("/api/v1/members/{}/status", flipper.id),
                json!({"status": to, "reason": format!("round {round}")}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/roles/{role_id}"),
                json!({"permissions": role_perms}),
            ),
            if round % 2 == 0 {
                (
                    Method::POST,
                    format!("/api/v1/members/{}/roles", assignee.id),
                    json!({"role_id": role_id}),
                )
            } else {
                (
                    Method::DELETE,
                    format!("/api/v1/members/{}/roles/{role_id}", assignee.id),
                    Value::Null,
                )
            },
            (
                Method::PATCH,
                format!("/api/v1/members/{}", edited[0].id),
                json!({"first_name": format!("Round{round}")}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/members/{}", edited[1].id),
                json!({"last_name": format!("Round{round}")}),
            ),
        ];
        let gate = Arc::new(tokio::sync::Barrier::new(requests.len()));
        let mut sends = tokio::task::JoinSet::new();
        for (method, path, body) in requests {
            let (gate, client, url, token) = (
                gate.clone(),
                reqwest::Client::new(),
                app.url(&path),
                admin.clone(),
            );
            sends.spawn(async move {
                let mut req = client.request(method.clone(), url).bearer_auth(token);
                if !body.is_null() {
                    req = req.json(&body);
                }
                gate.wait().await;
                let res = req.send().await.unwrap();
                (
                    format!("{method} {path}"),
                    res.status(),
                    res.text().await.unwrap(),
                )
            });
        }
        statuses.extend(sends.join_all().await);
    }
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(_, s, _)| !s.is_success())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {}: {failed:?}",
        failed.len(),
        statuses.len()
    );
    // Every change is in the chain, and the chain still verifies.
    let (status, verified) = app.get(&admin, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["valid"], true, "{verified}");
}
