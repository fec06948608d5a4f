//! Email: the SMTP settings (password encrypted, never shown), the test message, notifications
//! delivered through the outbox to a real SMTP sink, retries with backoff, giving up and retrying
//! by hand, exactly-once delivery across a server killed mid-send, and isolation by organization.
//!
//! Every server's mail sender sends every organization's due email, so every test here has a
//! database of its own (`TestApp::spawn_private`): on the shared one, another test's server could
//! send, or fail to send, this test's mail.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::smtp_sink::SmtpSink;

const WAIT: Duration = Duration::from_secs(15);
const SECRET: &str = "relay-s3cret pass";
const SECRET2: &str = "another relay s3cret";

async fn put_settings(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, token, "/api/v1/settings/email", Some(body))
        .await
}

/// The settings form with credentials, for a sink on `port`.
fn with_credentials(port: u16, password: Option<&str>) -> Value {
    let mut body = json!({
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "relay-user",
        "from_address": "logbook@example.org",
        "from_name": "Alpha Logbook",
        "give_up_hours": 48,
    });
    if let Some(p) = password {
        body["password"] = json!(p);
    }
    body
}

async fn stored_password(app: &TestApp, org: &Org) -> Option<Vec<u8>> {
    sqlx::query_scalar("SELECT password_encrypted FROM email_settings WHERE organization_id = ?")
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// The `changes` of `org`'s audit entries with `action`, oldest first.
async fn audit_changes(app: &TestApp, org: &Org, action: &str) -> Vec<Value> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT changes FROM audit_logs WHERE organization_id = ? AND action = ?
          ORDER BY sequence",
    )
    .bind(org.id)
    .bind(action)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    rows.iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect()
}

async fn all_audit_text(app: &TestApp) -> String {
    let rows: Vec<String> = sqlx::query_scalar("SELECT changes FROM audit_logs")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    rows.join("\n")
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The single row of `org`'s outbox once it has `status` and the sender has let go of it.
async fn only_row_when(app: &TestApp, org: &Org, status: &str) -> OutboxRow {
    eventually(&format!("the outbox row to be {status}"), WAIT, || async {
        let rows = outbox_rows(&app.db.pool, org.id).await;
        assert!(rows.len() <= 1, "more than one outbox row: {rows:?}");
        rows.into_iter().find(|r| r.status == status)
    })
    .await;
    mail_lock_free(&app.db.pool, org.id).await;
    let mut rows = outbox_rows(&app.db.pool, org.id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0].status, status,
        "changed after the wait: {:?}",
        rows[0]
    );
    rows.remove(0)
}

fn count_with_id(sink: &SmtpSink, id: uuid::Uuid) -> usize {
    let want = format!("{}@logbook", id.simple());
    sink.messages()
        .iter()
        .filter(|m| m.message_id.as_deref() == Some(want.as_str()))
        .count()
}

#[tokio::test]
async fn settings_start_unconfigured_and_never_show_the_password() {
    let app = TestApp::spawn_private().await;
    let admin = &app.a.admin.token;

    let (status, body) = app.get(admin, "/api/v1/settings/email").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["configured"], false);
    assert_eq!(body["enabled"], false);
    assert_eq!(body["password_set"], false);
    assert_eq!(body["host"], "");
    assert!(body.get("password").is_none(), "{body}");

    // Saving with a password: the answer says one is set, never what it is.
    let (status, body) = put_settings(&app, admin, with_credentials(2525, Some(SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["configured"], true);
    assert_eq!(body["enabled"], true);
    assert_eq!(body["password_set"], true);
    assert_eq!(body["username"], "relay-user");
    assert_eq!(body["give_up_hours"], 48);
    assert!(body.get("password").is_none(), "{body}");
    assert!(!body.to_string().contains(SECRET));
    let (status, shown) = app.get(admin, "/api/v1/settings/email").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, body);

    // Stored encrypted with the server's key, not as the plaintext.
    let first = stored_password(&app, &app.a)
        .await
        .expect("no password stored");
    assert_ne!(first, SECRET.as_bytes());
    assert!(!contains_bytes(&first, SECRET.as_bytes()));
    assert!(first.len() > SECRET.len(), "not sealed: {first:?}");
    assert_eq!(app.state.cipher.decrypt(&first).unwrap(), SECRET);

    // Replaced: another ciphertext; absent: kept as it is.
    let (status, body) = put_settings(&app, admin, with_credentials(2525, Some(SECRET2))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = stored_password(&app, &app.a).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(app.state.cipher.decrypt(&second).unwrap(), SECRET2);
    // Sending the stored password somewhere else needs it typed again (or anyone who may
    // edit the settings could collect it with a server of their own).
    let (status, body) = put_settings(&app, admin, with_credentials(2526, None)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["password"]);
    let mut moved = with_credentials(2525, None);
    moved["host"] = json!("mail.example.org");
    let (status, body) = put_settings(&app, admin, moved).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let mut secured = with_credentials(2525, None);
    secured["security"] = json!("tls");
    let (status, body) = put_settings(&app, admin, secured).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored_password(&app, &app.a).await.unwrap(), second);
    // Same server, same user: the password is kept without being typed again.
    let mut same = with_credentials(2525, None);
    same["give_up_hours"] = json!(24);
    let (status, body) = put_settings(&app, admin, same).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["password_set"], true);
    assert_eq!(body["give_up_hours"], 24);
    assert_eq!(stored_password(&app, &app.a).await.unwrap(), second);

    // The audit trail says "set" then "replaced" and never holds the password.
    let changes = audit_changes(&app, &app.a, "email_settings.updated").await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[0]["password"], "set", "{}", changes[0]);
    assert_eq!(changes[0]["host"]["to"], "127.0.0.1", "{}", changes[0]);
    assert_eq!(changes[1]["password"], "replaced", "{}", changes[1]);
    assert!(changes[2].get("password").is_none(), "{}", changes[2]);
    assert_eq!(changes[2]["give_up_hours"]["to"], 24, "{}", changes[2]);
    let audit = all_audit_text(&app).await;
    assert!(
        !audit.contains(SECRET) && !audit.contains(SECRET2),
        "{audit}"
    );

    // `null` removes it (and a user name without a password is refused).
    let mut body = with_credentials(2526, None);
    body["password"] = Value::Null;
    let (status, problem) = put_settings(&app, admin, body.clone()).await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["password"]);
    body["username"] = Value::Null;
    let (status, saved) = put_settings(&app, admin, body).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["password_set"], false);
    assert_eq!(stored_password(&app, &app.a).await, None);
    let changes = audit_changes(&app, &app.a, "email_settings.updated").await;
    assert_eq!(changes.last().unwrap()["password"], "removed");
}

#[tokio::test]
async fn invalid_settings_are_refused_field_by_field_and_change_nothing() {
    let app = TestApp::spawn_private().await;
    let admin = &app.a.admin.token;
    let (status, _) = put_settings(&app, admin, with_credentials(2525, Some(SECRET))).await;
    assert_eq!(status, StatusCode::OK);
    let before = app.get(admin, "/api/v1/settings/email").await.1;
    let stored = stored_password(&app, &app.a).await;
    let audit = app.audit_count(&app.a).await;

    let (status, problem) = put_settings(
        &app,
        admin,
        json!({
            "host": "http://mail.example.org/x",
            "port": 70000,
            "security": "ssl",
            "username": "relay-user",
            "password": "p".repeat(201),
            "from_address": "not an address",
            "from_name": "n".repeat(201),
            "give_up_hours": 0,
        }),
    )
    .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = error_fields(&problem);
    for field in [
        "host",
        "port",
        "security",
        "password",
        "from_address",
        "from_name",
        "give_up_hours",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not named: {problem}"
        );
    }
    for body in [
        json!({"host": " ", "port": 0, "security": "none", "from_address": "a@b.org"}),
        json!({"host": "mail example", "port": 25, "security": "none", "from_address": "",
               "give_up_hours": 721}),
    ] {
        let (status, problem) = put_settings(&app, admin, body).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error_fields(&problem).contains(&"host".to_string()),
            "{problem}"
        );
    }
    // Unknown fields are refused rather than ignored.
    let mut unknown = with_credentials(2525, None);
    unknown["smtp_password"] = json!("x");
    let (status, problem) = put_settings(&app, admin, unknown).await;
    assert!(status.is_client_error(), "{status} {problem}");

    assert_eq!(app.get(admin, "/api/v1/settings/email").await.1, before);
    assert_eq!(stored_password(&app, &app.a).await, stored);
    assert_eq!(app.audit_count(&app.a).await, audit);

    // A user name needs a password: org B has none stored, so nothing is saved.
    let (status, problem) = put_settings(
        &app,
        &app.b.admin.token,
        json!({"host": "127.0.0.1", "port": 25, "security": "none", "username": "u",
               "from_address": "logbook@example.org"}),
    )
    .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["password"]);
    let (_, b) = app.get(&app.b.admin.token, "/api/v1/settings/email").await;
    assert_eq!(b["configured"], false);
}

#[tokio::test]
async fn plain_members_cannot_see_or_use_email_settings() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Hello",
        None,
        None,
    )
    .await;
    let row = only_row_when(&app, &app.a, "sent").await;
    sink.wait_for(1, WAIT).await;
    let settings = app
        .get(&app.a.admin.token, "/api/v1/settings/email")
        .await
        .1;

    let plain = app.member(&app.a, "plain", &[]).await;
    let audit = app.audit_count(&app.a).await;
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/settings/email".into(), None),
        (
            Method::PUT,
            "/api/v1/settings/email".into(),
            Some(
                json!({"host": "evil.example.org", "port": 25, "security": "none",
                        "from_address": "x@example.org"}),
            ),
        ),
        (
            Method::POST,
            "/api/v1/settings/email/test".into(),
            Some(json!({})),
        ),
        (Method::GET, "/api/v1/settings/email/outbox".into(), None),
        (
            Method::POST,
            format!("/api/v1/settings/email/outbox/{}/retry", row.id),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/jobs/email_outbox/run".into(),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app.call(method.clone(), &plain.token, &path, body).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN);
        assert!(
            !problem.to_string().contains("relay"),
            "{method} {path}: {problem}"
        );
    }
    assert_eq!(
        app.get(&app.a.admin.token, "/api/v1/settings/email")
            .await
            .1,
        settings
    );
    assert_eq!(sink.messages().len(), 1, "a member's test message went out");
    let rows = outbox_rows(&app.db.pool, app.a.id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "sent");
    assert_eq!(
        app.audit_count(&app.a).await,
        audit,
        "a refused call was audited as done"
    );
}

#[tokio::test]
async fn another_organizations_settings_and_outbox_stay_hidden() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let mut a_settings = with_credentials(sink.port(), Some(SECRET));
    a_settings["from_name"] = json!("Alpha only");
    let (status, body) = put_settings(&app, &app.a.admin.token, a_settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "For Alpha",
        None,
        None,
    )
    .await;
    let row = only_row_when(&app, &app.a, "sent").await;
    sink.wait_for(1, WAIT).await;
    let b = &app.b.admin.token;

    // B sees its own (empty) settings and outbox.
    let (status, settings) = app.get(b, "/api/v1/settings/email").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["configured"], false);
    assert!(!settings.to_string().contains("relay-user"), "{settings}");
    let (status, outbox) = app.get(b, "/api/v1/settings/email/outbox").await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    assert_eq!(outbox["total"], 0, "{outbox}");
    assert_eq!(outbox["items"], json!([]));
    assert_eq!(outbox["counts"]["sent"], 0);
    let (status, problem) = app.post(b, "/api/v1/settings/email/test", json!({})).await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (_, a_outbox) = app
        .get(&app.a.admin.token, "/api/v1/settings/email/outbox")
        .await;
    assert_eq!(a_outbox["total"], 1, "{a_outbox}");
    assert_eq!(a_outbox["items"][0]["id"], json!(row.id));

    // A's failed email is not B's to retry: 404, and it stays failed.
    sqlx::query("UPDATE email_outbox SET status = 'failed', last_error = 'x' WHERE id = ?")
        .bind(row.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, problem) = app
        .post(
            b,
            &format!("/api/v1/settings/email/outbox/{}/retry", row.id),
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    assert_eq!(
        outbox_rows(&app.db.pool, app.a.id).await[0].status,
        "failed"
    );

    // B's settings and B's outbox run leave A's waiting email alone.
    email_to_sink(&app, &app.b, sink.port()).await;
    sqlx::query(
        "UPDATE email_outbox SET status = 'pending', next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR
          WHERE id = ?",
    )
    .bind(row.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let run = run_email_job(&app, &app.b).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["items"], 0, "{run}");
    assert_eq!(
        outbox_rows(&app.db.pool, app.a.id).await[0].status,
        "pending"
    );
    assert_eq!(sink.messages().len(), 1);
    let (_, a_view) = app.get(&app.a.admin.token, "/api/v1/settings/email").await;
    assert_eq!(
        a_view["from_name"], "Alpha only",
        "B's save touched A: {a_view}"
    );
    assert_eq!(a_view["password_set"], true);
    // A's own run sends it (with A's settings).
    let run = run_email_job(&app, &app.a).await;
    assert_eq!(run["items"], 1, "{run}");
    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(
        messages[1].from_header.as_deref().unwrap_or(""),
        "Alpha only <logbook@example.org>"
    );
    assert_eq!(messages[1].auth, Some(("relay-user".into(), SECRET.into())));
}

#[tokio::test]
async fn test_message_reaches_the_sink_with_the_saved_credentials() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let admin = &app.a.admin.token;
    let (status, body) =
        put_settings(&app, admin, with_credentials(sink.port(), Some(SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, result) = app
        .post(admin, "/api/v1/settings/email/test", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["delivered"], true, "{result}");
    assert_eq!(result["to"], "alpha-admin@example.org");
    let answer = result["answer"].as_str().unwrap();
    assert!(answer.starts_with("250"), "{answer}");

    let messages = sink.wait_for(1, WAIT).await;
    let m = &messages[0];
    assert_eq!(m.rcpt_to, ["alpha-admin@example.org"]);
    assert_eq!(m.mail_from, "logbook@example.org");
    assert!(
        m.subject
            .as_deref()
            .unwrap_or("")
            .contains("Alpha Fire Department"),
        "{:?}",
        m.subject
    );
    assert!(
        m.from_header
            .as_deref()
            .unwrap_or("")
            .contains("Alpha Logbook")
    );
    let text = m.text.as_deref().expect("no text part");
    let html = m.html.as_deref().expect("no html part");
    assert!(text.contains("Test message from Logbook"), "{text}");
    assert!(
        html.contains("Test message from Logbook") && html.contains("<html"),
        "{html}"
    );
    // The sink saw the decrypted password: what was saved is what is used.
    assert_eq!(m.auth, Some(("relay-user".to_string(), SECRET.to_string())));

    // To another address; a bad one is refused.
    let (status, result) = app
        .post(
            admin,
            "/api/v1/settings/email/test",
            json!({"to": "chief@example.net"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["delivered"], true, "{result}");
    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(messages[1].rcpt_to, ["chief@example.net"]);
    let (status, problem) = app
        .post(admin, "/api/v1/settings/email/test", json!({"to": "nope"}))
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["to"]);

    let tested = audit_changes(&app, &app.a, "email_settings.tested").await;
    assert_eq!(tested.len(), 2, "{tested:?}");
    assert_eq!(tested[0]["delivered"], true, "{}", tested[0]);
    assert!(!all_audit_text(&app).await.contains(SECRET));
    // Tests do not go through the outbox.
    assert!(outbox_rows(&app.db.pool, app.a.id).await.is_empty());
}

#[tokio::test]
async fn test_message_failures_are_reported_not_raised() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let admin = &app.a.admin.token;

    // STARTTLS required, but the sink does not offer it.
    let mut settings = with_credentials(sink.port(), Some(SECRET));
    settings["security"] = json!("starttls");
    let (status, body) = put_settings(&app, admin, settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let started = Instant::now();
    let (status, result) = app
        .post(admin, "/api/v1/settings/email/test", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["delivered"], false, "{result}");
    let answer = result["answer"].as_str().unwrap();
    assert!(!answer.trim().is_empty() && answer.len() < 2000, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(sink.messages().is_empty());
    assert!(!answer.contains(SECRET));

    // Nothing listening.
    email_to_sink(&app, &app.a, sink.port()).await;
    sink.stop().await;
    let (status, result) = app
        .post(admin, "/api/v1/settings/email/test", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["delivered"], false, "{result}");
    assert!(!result["answer"].as_str().unwrap().is_empty(), "{result}");
    let tested = audit_changes(&app, &app.a, "email_settings.tested").await;
    assert_eq!(tested.len(), 2);
    assert_eq!(tested[1]["delivered"], false);
}

#[tokio::test]
async fn a_notification_is_emailed_with_text_html_and_an_absolute_link() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let link = format!("/members/{}", pat.id);

    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id],
        "account",
        "Your roles changed",
        Some(&link),
        None,
    )
    .await;
    assert_eq!((sent.notified, sent.emails_queued), (1, 1));

    let messages = sink.wait_for(1, WAIT).await;
    let m = &messages[0];
    assert_eq!(m.rcpt_to, ["pat@example.org"]);
    assert_eq!(
        m.subject.as_deref(),
        Some("[Alpha Fire Department] Your roles changed")
    );
    assert!(
        m.to_header
            .as_deref()
            .unwrap_or("")
            .contains("pat@example.org")
    );
    let absolute = format!("http://logbook.test{link}");
    let text = m.text.as_deref().expect("no text part");
    let html = m.html.as_deref().expect("no html part");
    assert!(text.contains(&absolute), "{text}");
    assert!(text.contains("Second paragraph."), "{text}");
    assert!(html.contains(&format!("href=\"{absolute}\"")), "{html}");
    assert!(html.contains("Second paragraph."), "{html}");
    assert!(
        text.contains("http://logbook.test/account/notifications"),
        "{text}"
    );

    // In the inbox too, marked as emailed; the outbox row is sent and names the notification.
    let (status, inbox) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["total"], 1, "{inbox}");
    let item = &inbox["items"][0];
    assert_eq!(item["subject"], "Your roles changed");
    assert_eq!(item["action_url"], link);
    assert_eq!(item["emailed"], true);
    let row = only_row_when(&app, &app.a, "sent").await;
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_some() && row.last_error.is_none(), "{row:?}");
    assert_eq!(
        row.notification_id.map(|i| i.to_string()),
        item["id"].as_str().map(String::from)
    );
    assert_eq!(m.message_id, Some(format!("{}@logbook", row.id.simple())));

    // A further run finds nothing to send: still one message.
    let run = run_email_job(&app, &app.a).await;
    assert_eq!(run["items"], 0, "{run}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn disabled_email_queues_nothing_until_enabled() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let mut settings = json!({"host": "127.0.0.1", "port": sink.port(), "security": "none",
                              "from_address": "logbook@example.org", "enabled": false});
    let (status, body) = put_settings(&app, &app.a.admin.token, settings.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["configured"].as_bool(), body["enabled"].as_bool()),
        (Some(true), Some(false))
    );

    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Quiet",
        None,
        None,
    )
    .await;
    assert_eq!((sent.notified, sent.emails_queued), (1, 0));
    assert!(outbox_rows(&app.db.pool, app.a.id).await.is_empty());

    settings["enabled"] = json!(true);
    let (status, _) = put_settings(&app, &app.a.admin.token, settings).await;
    assert_eq!(status, StatusCode::OK);
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Loud",
        None,
        None,
    )
    .await;
    assert_eq!(sent.emails_queued, 1);
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(
        messages[0].subject.as_deref(),
        Some("[Alpha Fire Department] Loud")
    );
    mail_lock_free(&app.db.pool, app.a.id).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn the_longest_subjects_and_names_are_still_emailed() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    // Names as long as a member's record allows.
    sqlx::query("UPDATE users SET first_name = ?, last_name = ? WHERE id = ?")
        .bind("F".repeat(100))
        .bind("L".repeat(100))
        .bind(pat.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // A subject as long as a notification allows (an announcement's title may be 200).
    let subject = "S".repeat(200);

    let mut tx = app.state.db.begin().await.unwrap();
    let sent = logbook::notify::notify(
        &app.state.notifier,
        &mut tx,
        app.a.org_id,
        &[pat.id],
        &logbook::notify::Notice {
            category: "account",
            subject: subject.clone(),
            body: "Long.".into(),
            link: None,
            dedupe_key: None,
        },
    )
    .await;
    let sent = sent.expect("notify failed on a long subject or name");
    tx.commit().await.unwrap();
    app.state.mailer.kick();
    assert_eq!((sent.notified, sent.emails_queued), (1, 1));

    let messages = sink.wait_for(1, WAIT).await;
    let got = messages[0].subject.clone().unwrap_or_default();
    assert!(got.starts_with("[Alpha Fire Department] SSS"), "{got}");
    assert!(
        got.chars().count() <= 200,
        "{} characters",
        got.chars().count()
    );
    let row = only_row_when(&app, &app.a, "sent").await;
    assert_eq!(row.subject, got);
}

#[tokio::test]
async fn unreachable_smtp_is_retried_with_backoff_and_delivered_once() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let port = sink.port();
    sink.stop().await;
    email_to_sink(&app, &app.a, port).await;

    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Retry me",
        None,
        None,
    )
    .await;
    assert_eq!(sent.emails_queued, 1);
    let row = eventually("the first attempt to fail", WAIT, || async {
        let rows = outbox_rows(&app.db.pool, app.a.id).await;
        rows.into_iter()
            .find(|r| r.attempts == 1 && r.status == "pending")
    })
    .await;
    mail_lock_free(&app.db.pool, app.a.id).await;
    let now = Utc::now();
    assert!(
        row.last_error.as_deref().is_some_and(|e| !e.is_empty()),
        "{row:?}"
    );
    assert!(
        row.next_attempt_at > now + chrono::Duration::seconds(15)
            && row.next_attempt_at <= now + chrono::Duration::seconds(31),
        "next attempt at {} (now {now})",
        row.next_attempt_at
    );
    let (_, listed) = app
        .get(
            &app.a.admin.token,
            "/api/v1/settings/email/outbox?status=pending",
        )
        .await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["attempts"], 1);
    assert!(listed["items"][0]["last_error"].is_string(), "{listed}");

    // Back up: a manual run sends what is waiting for its backoff, exactly once.
    let sink = SmtpSink::start_on(port).await;
    let run = run_email_job(&app, &app.a).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["items"], 1, "{run}");
    sink.wait_for(1, WAIT).await;
    let row = only_row_when(&app, &app.a, "sent").await;
    assert_eq!(row.attempts, 2);
    assert!(row.last_error.is_none(), "{row:?}");
    let run = run_email_job(&app, &app.a).await;
    assert_eq!(run["items"], 0, "{run}");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(count_with_id(&sink, row.id), 1);
}

#[tokio::test]
async fn a_deferred_message_goes_out_on_the_next_run() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    sink.fail_next(1);

    notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Try again",
        None,
        None,
    )
    .await;
    let row = eventually("the 451 to be recorded", WAIT, || async {
        let rows = outbox_rows(&app.db.pool, app.a.id).await;
        rows.into_iter()
            .find(|r| r.attempts == 1 && r.status == "pending")
    })
    .await;
    assert!(
        row.last_error.as_deref().unwrap_or("").contains("451"),
        "{row:?}"
    );
    assert!(sink.messages().is_empty());

    let run = run_email_job(&app, &app.a).await;
    assert_eq!(run["items"], 1, "{run}");
    sink.wait_for(1, WAIT).await;
    let row = only_row_when(&app, &app.a, "sent").await;
    assert_eq!(row.attempts, 2);
    assert_eq!(count_with_id(&sink, row.id), 1);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn undeliverable_email_is_given_up_listed_and_retried_by_hand() {
    let app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let port = sink.port();
    sink.stop().await;
    email_to_sink(&app, &app.a, port).await;
    let admin = &app.a.admin.token;

    notify_now(
        &app.state,
        app.a.org_id,
        &[app.a.admin.id],
        "account",
        "Doomed",
        None,
        None,
    )
    .await;
    let row = eventually("the first attempt to fail", WAIT, || async {
        let rows = outbox_rows(&app.db.pool, app.a.id).await;
        rows.into_iter()
            .find(|r| r.attempts == 1 && r.status == "pending")
    })
    .await;
    let retry_path = format!("/api/v1/settings/email/outbox/{}/retry", row.id);
    // Only a failed email can be retried.
    let (status, problem) = app.post(admin, &retry_path, json!({})).await;
    assert_problem(status, &problem, StatusCode::CONFLICT);

    // Past its retry period: the next run gives up.
    sqlx::query(
        "UPDATE email_outbox SET give_up_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE WHERE id = ?",
    )
    .bind(row.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    run_email_job(&app, &app.a).await;
    let row = only_row_when(&app, &app.a, "failed").await;
    let error = row.last_error.clone().unwrap_or_default();
    assert!(error.contains("gave up"), "{row:?}");

    let (status, failed) = app
        .get(admin, "/api/v1/settings/email/outbox?status=failed")
        .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["total"], 1, "{failed}");
    assert_eq!(failed["counts"]["failed"], 1);
    assert_eq!(failed["items"][0]["id"], json!(row.id));
    assert_eq!(failed["items"][0]["last_error"], json!(error));
    let (status, none) = app
        .get(admin, "/api/v1/settings/email/outbox?status=sent")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["total"], 0, "{none}");
    let (status, problem) = app
        .get(admin, "/api/v1/settings/email/outbox?status=lost")
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);

    // The server is back; retrying by hand queues it with a fresh period and sends it.
    let sink = SmtpSink::start_on(port).await;
    let (status, item) = app.post(admin, &retry_path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["status"], "pending");
    let give_up: chrono::DateTime<Utc> = item["give_up_at"].as_str().unwrap().parse().unwrap();
    assert!(give_up > Utc::now() + chrono::Duration::hours(71), "{item}");
    sink.wait_for(1, WAIT).await;
    let row = only_row_when(&app, &app.a, "sent").await;
    assert_eq!(count_with_id(&sink, row.id), 1);
    assert_eq!(audit_changes(&app, &app.a, "email.retried").await.len(), 1);

    let (status, problem) = app.post(admin, &retry_path, json!({})).await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (status, problem) = app
        .post(
            admin,
            "/api/v1/settings/email/outbox/not-an-id/retry",
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    assert_eq!(sink.messages().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// A server killed mid-send: the real binary, SIGKILLed while the SMTP server has the message.

/// `logbook serve` on `port` against `app`'s database and data directory (so the same
/// encryption and signing keys), with nothing from the test's environment.
fn serve_binary(app: &TestApp, dir: &Path, port: u16) -> tokio::process::Child {
    let mut cmd = logbook_command(dir);
    cmd.arg("serve")
        .env("LOGBOOK_DATABASE_URL", &app.db.url)
        .env("LOGBOOK_DATA_DIR", &app.data_dir)
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOGBOOK_PUBLIC_URL", "http://logbook.test")
        .env("LOGBOOK_SCHEDULER", "false")
        .env("LOGBOOK_DB_WAIT_SECS", "20");
    cmd.spawn().expect("start logbook serve")
}

#[tokio::test]
async fn a_server_killed_mid_send_delivers_exactly_once_after_restart() {
    let mut app = TestApp::spawn_private().await;
    let sink = SmtpSink::start().await;
    let (status, body) = put_settings(
        &app,
        &app.a.admin.token,
        with_credentials(sink.port(), Some(SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // From here on the binary is the server, with the same database and data directory.
    app.stop().await;
    let dir = temp_dir();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = serve_binary(&app, &dir, port);
    wait_until_healthy(&mut first, &base, Duration::from_secs(60)).await;

    // The SMTP server takes the whole message and then never answers.
    sink.hold_data(true);
    let res = client
        .post(format!("{base}/api/v1/announcements"))
        .bearer_auth(&app.a.admin.token)
        .json(&json!({"title": "Kill test", "body": "Sent once."}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let posted: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["notified"]["emails_queued"], 1, "{posted}");
    let row = eventually("the send to start", WAIT, || async {
        let rows = outbox_rows(&app.db.pool, app.a.id).await;
        rows.into_iter()
            .find(|r| r.status == "sending")
            .filter(|_| sink.connections() >= 1)
    })
    .await;
    // EHLO, AUTH, MAIL, RCPT and the message go out in a few milliseconds on loopback.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty());

    first.start_kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    let killed = tokio::time::timeout(Duration::from_secs(10), first.wait())
        .await
        .expect("not dead within 10 s")
        .unwrap();
    assert!(!killed.success());
    // Its mail lock went with its database connection.
    mail_lock_free(&app.db.pool, app.a.id).await;
    let left = outbox_rows(&app.db.pool, app.a.id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, "sending", "{left:?}");
    assert_eq!(left[0].attempts, 1);
    sink.hold_data(false);

    // Started again on the same database: the unconfirmed email goes out, once.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut second = serve_binary(&app, &dir, port);
    wait_until_healthy(&mut second, &base, Duration::from_secs(60)).await;
    let messages = sink.wait_for(1, Duration::from_secs(30)).await;
    let row = eventually("the row to be sent", WAIT, || async {
        let rows = outbox_rows(&app.db.pool, app.a.id).await;
        rows.into_iter()
            .find(|r| r.id == row.id && r.status == "sent")
    })
    .await;
    assert_eq!(row.attempts, 2);
    assert_eq!(messages[0].auth, Some(("relay-user".into(), SECRET.into())));
    // A manual run on the restarted server finds nothing more to send.
    mail_lock_free(&app.db.pool, app.a.id).await;
    let res = client
        .post(format!("{base}/api/v1/jobs/email_outbox/run"))
        .bearer_auth(&app.a.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let run: Value = res.json().await.unwrap();
    assert_eq!(run["items"], 0, "{run}");
    assert_eq!(count_with_id(&sink, row.id), 1, "{:?}", sink.messages());
    assert_eq!(sink.messages().len(), 1);

    second.start_kill().unwrap();
    let _ = second.wait().await;
    let _ = std::fs::remove_dir_all(&dir);
}
