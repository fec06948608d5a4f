//! In-app notifications (the inbox), email preferences per member and per organization,
//! dedupe keys across a restart, and announcements (posting, audiences, dismissing,
//! withdrawing, validation, isolation by organization).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

const WAIT: Duration = Duration::from_secs(15);

async fn unread(app: &TestApp, user: &User) -> u64 {
    unread_for(app, &user.token).await
}

async fn unread_for(app: &TestApp, token: &str) -> u64 {
    let (status, body) = app.get(token, "/api/v1/notifications/unread-count").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["unread"].as_u64().unwrap()
}

fn subjects(inbox: &Value) -> Vec<String> {
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["subject"].as_str().unwrap().to_string())
        .collect()
}

/// (notification subject, emailed) of `user`, oldest first.
async fn emailed(app: &TestApp, user: Uuid) -> Vec<(String, bool)> {
    sqlx::query_as("SELECT subject, emailed FROM notification_logs WHERE recipient_id = ? ORDER BY created_at, id")
        .bind(user)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

async fn outbox_to(app: &TestApp, org: &Org) -> Vec<String> {
    outbox_rows(&app.db.pool, org.id)
        .await
        .into_iter()
        .map(|r| r.to_address)
        .collect()
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, token, path, Some(body)).await
}

fn pref<'a>(prefs: &'a Value, category: &str) -> &'a Value {
    prefs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["category"] == category)
        .unwrap_or_else(|| panic!("no {category} in {prefs}"))
}

// ---------------------------------------------------------------------------------------------
// The inbox

#[tokio::test]
async fn the_inbox_lists_pages_filters_and_marks_read() {
    let app = TestApp::spawn().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    for n in 1..=5 {
        let sent = notify_now(
            &app.state,
            app.a.org_id,
            &[pat.id],
            "account",
            &format!("N{n}"),
            Some("/account"),
            None,
        )
        .await;
        assert_eq!(
            (sent.notified, sent.emails_queued),
            (1, 0),
            "no email settings yet"
        );
    }

    let (status, inbox) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert_eq!(inbox["total"], 5);
    assert_eq!(inbox["unread"], 5);
    assert_eq!(subjects(&inbox), ["N5", "N4", "N3", "N2", "N1"]);
    assert_eq!(inbox["items"][0]["category"], "account");
    assert_eq!(
        inbox["items"][0]["message"],
        "About N5.\n\nSecond paragraph."
    );
    assert_eq!(inbox["items"][0]["read_at"], Value::Null);
    assert_eq!(unread(&app, &pat).await, 5);

    let (_, page1) = app
        .get(&pat.token, "/api/v1/notifications?per_page=2")
        .await;
    assert_eq!(subjects(&page1), ["N5", "N4"]);
    assert_eq!(
        (page1["total"].as_u64(), page1["per_page"].as_u64()),
        (Some(5), Some(2))
    );
    let (_, page3) = app
        .get(&pat.token, "/api/v1/notifications?per_page=2&page=3")
        .await;
    assert_eq!(subjects(&page3), ["N1"]);
    let (_, page4) = app
        .get(&pat.token, "/api/v1/notifications?per_page=2&page=4")
        .await;
    assert_eq!(subjects(&page4), Vec::<String>::new());

    // Read one: it leaves the unread list, and reading it again changes nothing.
    let n3 = app.notification_id(pat.id, "N3").await;
    let (status, read) = app
        .post(
            &pat.token,
            &format!("/api/v1/notifications/{n3}/read"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["subject"], "N3");
    assert!(read["read_at"].is_string(), "{read}");
    let (_, again) = app
        .post(
            &pat.token,
            &format!("/api/v1/notifications/{n3}/read"),
            json!({}),
        )
        .await;
    assert_eq!(again["read_at"], read["read_at"]);
    assert_eq!(unread(&app, &pat).await, 4);
    let (status, only) = app
        .get(&pat.token, "/api/v1/notifications?unread=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{only}");
    assert_eq!(only["total"], 4);
    assert_eq!(only["unread"], 4);
    assert_eq!(subjects(&only), ["N5", "N4", "N2", "N1"]);
    let (_, all) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(
        (all["total"].as_u64(), all["unread"].as_u64()),
        (Some(5), Some(4))
    );

    let (status, marked) = app
        .post(&pat.token, "/api/v1/notifications/read-all", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    assert_eq!(marked["marked"], 4);
    assert_eq!(unread(&app, &pat).await, 0);
    let (_, only) = app
        .get(&pat.token, "/api/v1/notifications?unread=true")
        .await;
    assert_eq!(only["total"], 0);
    assert_eq!(only["items"], json!([]));
    let (_, marked) = app
        .post(&pat.token, "/api/v1/notifications/read-all", json!({}))
        .await;
    assert_eq!(marked["marked"], 0);

    let (status, problem) = app
        .get(&pat.token, "/api/v1/notifications?per_page=0")
        .await;
    assert!(status.is_client_error(), "{status} {problem}");
}

#[tokio::test]
async fn nobody_sees_or_marks_another_members_notifications() {
    let app = TestApp::spawn().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member(&app.a, "sam", &[]).await;
    notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id],
        "account",
        "For pat only",
        None,
        None,
    )
    .await;
    notify_now(
        &app.state,
        app.b.org_id,
        &[app.b.admin.id],
        "account",
        "For bravo",
        None,
        None,
    )
    .await;
    // A recipient from another organization is ignored, not notified.
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[app.b.admin.id],
        "account",
        "Leak",
        None,
        None,
    )
    .await;
    assert_eq!(sent.notified, 0);
    let pats = app.notification_id(pat.id, "For pat only").await;

    for (who, token) in [("sam", &sam.token), ("alpha admin", &app.a.admin.token)] {
        let (_, inbox) = app.get(token, "/api/v1/notifications").await;
        assert_eq!(inbox["total"], 0, "{who}: {inbox}");
        assert_eq!(unread_for(&app, token).await, 0, "{who}");
    }
    let (_, inbox) = app.get(&app.b.admin.token, "/api/v1/notifications").await;
    assert_eq!(subjects(&inbox), ["For bravo"]);

    // Someone else's id, same organization or another: 404, and it stays unread.
    for token in [&sam.token, &app.a.admin.token, &app.b.admin.token] {
        let (status, problem) = app
            .post(
                token,
                &format!("/api/v1/notifications/{pats}/read"),
                json!({}),
            )
            .await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND);
        let (_, marked) = app
            .post(token, "/api/v1/notifications/read-all", json!({}))
            .await;
        assert!(marked["marked"].as_u64().unwrap() <= 1, "{marked}");
    }
    let (status, problem) = app
        .post(
            &pat.token,
            &format!("/api/v1/notifications/{}/read", Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    assert_eq!(unread(&app, &pat).await, 1);
    let (_, inbox) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(subjects(&inbox), ["For pat only"]);
    assert_eq!(inbox["items"][0]["read_at"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Preferences

#[tokio::test]
async fn preferences_list_every_category_and_decide_who_gets_email() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member(&app.a, "sam", &[]).await;
    let path = "/api/v1/notifications/preferences";

    let (status, prefs) = app.get(&pat.token, path).await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    let keys: Vec<&str> = prefs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["category"].as_str().unwrap())
        .collect();
    // Every category of what is built (the others come with their modules).
    let expected: Vec<&str> = logbook::notify::categories::offered()
        .map(|c| c.key)
        .collect();
    assert!(expected.contains(&"scheduling") && expected.contains(&"elections"));
    assert_eq!(keys, expected);
    for p in prefs.as_array().unwrap() {
        assert_eq!(p["in_app"], true, "{p}");
        assert_eq!(p["email"], true, "{p}");
        assert_eq!(p["customised"], false, "{p}");
    }
    assert_eq!(pref(&prefs, "security")["email_required"], true);

    // Pat turns announcement emails off: still notified in the app, but no email.
    let (status, prefs) = put(
        &app,
        &pat.token,
        path,
        json!({"email": {"announcements": false}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(pref(&prefs, "announcements")["email"], false);
    assert_eq!(pref(&prefs, "announcements")["customised"], true);
    assert_eq!(pref(&prefs, "announcements")["email_default"], true);
    assert_eq!(pref(&prefs, "training")["email"], true);
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id, sam.id],
        "announcements",
        "Muster",
        None,
        None,
    )
    .await;
    assert_eq!((sent.notified, sent.emails_queued), (2, 1));
    assert_eq!(emailed(&app, pat.id).await, [("Muster".to_string(), false)]);
    assert_eq!(emailed(&app, sam.id).await, [("Muster".to_string(), true)]);
    assert_eq!(outbox_to(&app, &app.a).await, ["sam@example.org"]);
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages[0].rcpt_to, ["sam@example.org"]);
    // Another category still emails pat.
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id],
        "training",
        "Cert",
        None,
        None,
    )
    .await;
    assert_eq!(sent.emails_queued, 1);

    // Security email cannot be turned off; unknown categories are refused; nothing changes.
    let audit = app.audit_count(&app.a).await;
    for (body, field) in [
        (json!({"email": {"security": false}}), "email.security"),
        (json!({"email": {"nope": true}}), "email.nope"),
        (
            json!({"email": {"training": false, "nope": null}}),
            "email.nope",
        ),
    ] {
        let (status, problem) = put(&app, &pat.token, path, body).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    let (_, now) = app.get(&pat.token, path).await;
    assert_eq!(now, prefs);
    assert_eq!(app.audit_count(&app.a).await, audit);
    // Turning security on is allowed (it is on anyway).
    let (status, _) = put(&app, &pat.token, path, json!({"email": {"security": true}})).await;
    assert_eq!(status, StatusCode::OK);

    // null goes back to the default: emailed again.
    let (status, prefs) = put(
        &app,
        &pat.token,
        path,
        json!({"email": {"announcements": null}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(pref(&prefs, "announcements")["email"], true);
    assert_eq!(pref(&prefs, "announcements")["customised"], false);
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id],
        "announcements",
        "Muster 2",
        None,
        None,
    )
    .await;
    assert_eq!(sent.emails_queued, 1);
    // Sam's choices are sam's own: pat's change did not touch them.
    let (_, sams) = app.get(&sam.token, path).await;
    assert_eq!(pref(&sams, "announcements")["customised"], false);
    let changes = app
        .audit_actions(&app.a, "notification_preferences.updated")
        .await;
    assert!(changes >= 2, "{changes}");
}

#[tokio::test]
async fn organization_defaults_apply_unless_the_member_chose() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member(&app.a, "sam", &[]).await;
    let admin = &app.a.admin.token;
    let defaults = "/api/v1/settings/notification-defaults";
    let prefs = "/api/v1/notifications/preferences";

    let (status, list) = app.get(admin, defaults).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list.as_array().unwrap().len(),
        logbook::notify::categories::offered().count()
    );
    assert_eq!(pref(&list, "training")["email"], true);

    // A plain member may neither see nor change the defaults.
    let (status, problem) = app.get(&pat.token, defaults).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = put(
        &app,
        &pat.token,
        defaults,
        json!({"email": {"training": false}}),
    )
    .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(
        pref(&app.get(admin, defaults).await.1, "training")["email"],
        true
    );

    let (status, list) = put(&app, admin, defaults, json!({"email": {"training": false}})).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(pref(&list, "training")["email"], false);
    let (status, _) = put(
        &app,
        &sam.token,
        prefs,
        json!({"email": {"training": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, pats) = app.get(&pat.token, prefs).await;
    assert_eq!(pref(&pats, "training")["email"], false);
    assert_eq!(pref(&pats, "training")["email_default"], false);
    assert_eq!(pref(&pats, "training")["customised"], false);
    let (_, sams) = app.get(&sam.token, prefs).await;
    assert_eq!(pref(&sams, "training")["email"], true);
    assert_eq!(pref(&sams, "training")["customised"], true);

    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id, sam.id],
        "training",
        "Lapsing",
        None,
        None,
    )
    .await;
    assert_eq!((sent.notified, sent.emails_queued), (2, 1));
    assert_eq!(outbox_to(&app, &app.a).await, ["sam@example.org"]);

    // The other organization keeps its own defaults.
    let (_, b_list) = app.get(&app.b.admin.token, defaults).await;
    assert_eq!(pref(&b_list, "training")["email"], true, "{b_list}");

    // Security cannot be defaulted off; unknown categories are refused.
    for (body, field) in [
        (json!({"email": {"security": false}}), "email.security"),
        (json!({"email": {"nope": false}}), "email.nope"),
    ] {
        let (status, problem) = put(&app, admin, defaults, body).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }

    // null: back to the built-in default, so pat is emailed again.
    let (status, list) = put(&app, admin, defaults, json!({"email": {"training": null}})).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(pref(&list, "training")["email"], true);
    let sent = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id, sam.id],
        "training",
        "Lapsing 2",
        None,
        None,
    )
    .await;
    assert_eq!(sent.emails_queued, 2);
    sink.wait_for(3, WAIT).await;
    let audited = app
        .audit_actions(&app.a, "notification_defaults.updated")
        .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn a_dedupe_key_notifies_once_even_after_a_restart() {
    let (mut app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member(&app.a, "sam", &[]).await;
    let key = Some("cert-expiry:42:30d");

    let first = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id],
        "training",
        "Expiring",
        None,
        key,
    )
    .await;
    assert_eq!(
        (first.notified, first.emails_queued, first.already_sent),
        (1, 1, 0)
    );
    let again = notify_now(
        &app.state,
        app.a.org_id,
        &[pat.id, sam.id],
        "training",
        "Expiring",
        None,
        key,
    )
    .await;
    assert_eq!(
        (again.notified, again.emails_queued, again.already_sent),
        (1, 1, 1)
    );
    sink.wait_for(2, WAIT).await;

    // The same key on a server started afresh on the same database.
    app.stop().await;
    let (state, _addr, shutdown, server) =
        start_server(test_config(&app.db.url, app.data_dir.clone())).await;
    let third = notify_now(
        &state,
        app.a.org_id,
        &[pat.id, sam.id],
        "training",
        "Expiring",
        None,
        key,
    )
    .await;
    assert_eq!(
        (third.notified, third.emails_queued, third.already_sent),
        (0, 0, 2)
    );
    // A different key is a different reminder.
    let other = notify_now(
        &state,
        app.a.org_id,
        &[pat.id],
        "training",
        "Expiring",
        None,
        Some("cert-expiry:42:7d"),
    )
    .await;
    assert_eq!(other.notified, 1);

    let count = |user: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND dedupe_key = ?",
            )
            .bind(user)
            .bind("cert-expiry:42:30d")
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(count(pat.id).await, 1);
    assert_eq!(count(sam.id).await, 1);
    sink.wait_for(3, WAIT).await;
    mail_lock_free(&app.db.pool, app.a.id).await;
    let rows = outbox_rows(&app.db.pool, app.a.id).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(sink.messages().len(), 3);
    let to_pat = sink
        .messages()
        .iter()
        .filter(|m| m.rcpt_to == ["pat@example.org"])
        .count();
    assert_eq!(to_pat, 2, "one per key");

    let _ = shutdown.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    state.db.close().await;
}

// ---------------------------------------------------------------------------------------------
// Announcements

async fn post_announcement(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post(token, "/api/v1/announcements", body).await
}

async fn current_titles(app: &TestApp, user: &User) -> Vec<String> {
    let (status, list) = app.get(&user.token, "/api/v1/announcements/current").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

async fn count_rows(app: &TestApp, table: &str, org: &Org) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE organization_id = ?"
    )))
    .bind(org.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_announcement_notifies_everyone_and_shows_until_dismissed() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member(&app.a, "sam", &[]).await;
    let admin = app.a.admin.clone();

    let (status, posted) = post_announcement(
        &app,
        &admin.token,
        json!({"title": "Drill moved", "body": "Thursday at 7.\n\nBring your gear."}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["notified"]["notified"], 3, "{posted}");
    assert_eq!(posted["notified"]["emails_queued"], 3, "{posted}");
    let a = &posted["announcement"];
    assert_eq!(a["audience"], "all");
    assert_eq!(a["title"], "Drill moved");
    assert_eq!(a["author_id"], json!(admin.id));
    let id = a["id"].as_str().unwrap().to_string();

    let messages = sink.wait_for(3, WAIT).await;
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "alpha-admin@example.org",
            "pat@example.org",
            "sam@example.org"
        ]
    );
    assert!(messages.iter().all(|m| {
        m.text
            .as_deref()
            .unwrap_or("")
            .contains("http://logbook.test/announcements")
    }));
    let (_, inbox) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(subjects(&inbox), ["Drill moved"]);
    assert_eq!(inbox["items"][0]["category"], "announcements");
    // The other organization hears nothing.
    let (_, b_inbox) = app.get(&app.b.admin.token, "/api/v1/notifications").await;
    assert_eq!(b_inbox["total"], 0);
    assert!(current_titles(&app, &app.b.admin).await.is_empty());

    for who in [&pat, &sam, &admin] {
        assert_eq!(current_titles(&app, who).await, ["Drill moved"]);
    }
    let (status, _) = app
        .post(
            &pat.token,
            &format!("/api/v1/announcements/{id}/dismiss"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(current_titles(&app, &pat).await.is_empty());
    assert_eq!(current_titles(&app, &sam).await, ["Drill moved"]);
    // Dismissed, it is still in pat's list, marked so.
    let (_, list) = app.get(&pat.token, "/api/v1/announcements").await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["dismissed"], true);

    // An announcement past its expiry leaves the dashboard.
    sqlx::query(
        "UPDATE announcements SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE WHERE id = ?",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .execute(&app.db.pool)
    .await
    .unwrap();
    assert!(current_titles(&app, &sam).await.is_empty());
    let posted = app.audit_actions(&app.a, "announcement.posted").await;
    assert_eq!(posted, 1);
}

#[tokio::test]
async fn an_announcement_with_the_longest_title_is_posted_and_emailed() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let title = "T".repeat(200);
    let (status, posted) = post_announcement(
        &app,
        &app.a.admin.token,
        json!({"title": title, "body": "The longest title there may be."}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["notified"]["emails_queued"], 1, "{posted}");
    let messages = sink.wait_for(1, WAIT).await;
    assert!(
        messages[0]
            .subject
            .as_deref()
            .unwrap_or("")
            .starts_with("[Alpha Fire Department] TTT"),
        "{:?}",
        messages[0].subject
    );
    assert_eq!(current_titles(&app, &app.a.admin).await, [title]);
}

#[tokio::test]
async fn an_announcement_for_roles_reaches_only_their_holders() {
    let app = TestApp::spawn().await;
    let qm = app.member(&app.a, "qmaster", &["quartermaster"]).await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let role = app.role_id(&app.a, "quartermaster").await;

    let (status, posted) = post_announcement(
        &app,
        &app.a.admin.token,
        json!({"title": "Inventory count", "body": "Saturday.", "audience": "roles",
               "role_ids": [role, role], "notify": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["notified"]["notified"], 1, "{posted}");
    let a = &posted["announcement"];
    assert_eq!(a["audience"], "roles");
    assert_eq!(a["roles"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["roles"][0]["id"], json!(role));
    let id = a["id"].as_str().unwrap();

    assert_eq!(current_titles(&app, &qm).await, ["Inventory count"]);
    assert!(current_titles(&app, &pat).await.is_empty());
    let (_, inbox) = app.get(&qm.token, "/api/v1/notifications").await;
    assert_eq!(subjects(&inbox), ["Inventory count"]);
    let (_, inbox) = app.get(&pat.token, "/api/v1/notifications").await;
    assert_eq!(inbox["total"], 0);
    let (status, problem) = app
        .get(&pat.token, &format!("/api/v1/announcements/{id}"))
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .post(
            &pat.token,
            &format!("/api/v1/announcements/{id}/dismiss"),
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&pat.token, "/api/v1/announcements").await;
    assert_eq!(list["total"], 0, "{list}");
    // Officers see it in the list.
    let (_, list) = app.get(&app.a.admin.token, "/api/v1/announcements").await;
    assert_eq!(list["total"], 1, "{list}");

    // notify: false posts without notifying anyone.
    let (status, posted) = post_announcement(
        &app,
        &app.a.admin.token,
        json!({"title": "Quiet", "body": "No ping.", "notify": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    assert_eq!(posted["notified"]["notified"], 0);
    assert_eq!(current_titles(&app, &pat).await, ["Quiet"]);
}

#[tokio::test]
async fn members_cannot_post_and_bad_announcements_are_refused() {
    let app = TestApp::spawn().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let admin = &app.a.admin.token;
    let b_role = app.role_id(&app.b, "quartermaster").await;
    let audit = app.audit_count(&app.a).await;

    let (status, problem) =
        post_announcement(&app, &pat.token, json!({"title": "Hi", "body": "All"})).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);

    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let cases = [
        (json!({"title": "  ", "body": ""}), vec!["title", "body"]),
        (
            json!({"title": "t".repeat(201), "body": "b"}),
            vec!["title"],
        ),
        (
            json!({"title": "T", "body": "B", "audience": "roles", "role_ids": []}),
            vec!["role_ids"],
        ),
        (
            json!({"title": "T", "body": "B", "audience": "roles"}),
            vec!["role_ids"],
        ),
        (
            json!({"title": "T", "body": "B", "audience": "roles", "role_ids": [b_role]}),
            vec!["role_ids"],
        ),
        (
            json!({"title": "T", "body": "B", "audience": "roles", "role_ids": [Uuid::now_v7()]}),
            vec!["role_ids"],
        ),
        (
            json!({"title": "T", "body": "B", "role_ids": [app.role_id(&app.a, "quartermaster").await]}),
            vec!["role_ids"],
        ),
        (
            json!({"title": "T", "body": "B", "audience": "everyone"}),
            vec!["audience"],
        ),
        (
            json!({"title": "T", "body": "B", "expires_at": past}),
            vec!["expires_at"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = post_announcement(&app, admin, body.clone()).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    assert_eq!(count_rows(&app, "announcements", &app.a).await, 0);
    assert_eq!(count_rows(&app, "notification_logs", &app.a).await, 0);
    assert_eq!(app.audit_count(&app.a).await, audit);
}

#[tokio::test]
async fn withdrawing_takes_an_announcement_down_once() {
    let app = TestApp::spawn().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let admin = &app.a.admin.token;
    let (status, posted) =
        post_announcement(&app, admin, json!({"title": "Oops", "body": "Wrong date"})).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let id = posted["announcement"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/announcements/{id}/withdraw");
    assert_eq!(current_titles(&app, &pat).await, ["Oops"]);

    let (status, problem) = app.post(&pat.token, &path, json!({})).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(current_titles(&app, &pat).await, ["Oops"]);

    let (status, withdrawn) = app.post(admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert!(withdrawn["withdrawn_at"].is_string(), "{withdrawn}");
    assert!(current_titles(&app, &pat).await.is_empty());
    assert!(current_titles(&app, &app.a.admin).await.is_empty());
    let (_, list) = app.get(&pat.token, "/api/v1/announcements").await;
    assert_eq!(list["total"], 0, "{list}");
    let (_, list) = app.get(admin, "/api/v1/announcements").await;
    assert_eq!(list["items"][0]["withdrawn_at"], withdrawn["withdrawn_at"]);

    let (status, problem) = app.post(admin, &path, json!({})).await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let withdrawals = app.audit_actions(&app.a, "announcement.withdrawn").await;
    assert_eq!(withdrawals, 1);
}

#[tokio::test]
async fn another_organizations_announcements_answer_404() {
    let app = TestApp::spawn().await;
    let (status, posted) = post_announcement(
        &app,
        &app.a.admin.token,
        json!({"title": "Alpha only", "body": "Internal"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let id = posted["announcement"]["id"].as_str().unwrap().to_string();
    let b = &app.b.admin.token;
    let bob = app.member(&app.b, "bob", &[]).await;

    let (status, problem) = app.get(b, &format!("/api/v1/announcements/{id}")).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    for action in ["dismiss", "withdraw"] {
        for token in [b, &bob.token] {
            let (status, problem) = app
                .post(
                    token,
                    &format!("/api/v1/announcements/{id}/{action}"),
                    json!({}),
                )
                .await;
            assert!(
                status == StatusCode::NOT_FOUND
                    || (token == &bob.token
                        && action == "withdraw"
                        && status == StatusCode::FORBIDDEN),
                "{action}: {status} {problem}"
            );
        }
    }
    let (_, list) = app.get(b, "/api/v1/announcements").await;
    assert_eq!(list["total"], 0, "{list}");
    assert!(current_titles(&app, &bob).await.is_empty());
    let (_, a_view) = app
        .get(&app.a.admin.token, &format!("/api/v1/announcements/{id}"))
        .await;
    assert_eq!(a_view["withdrawn_at"], Value::Null);
    let dismissals: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM announcement_dismissals d
           JOIN announcements a ON a.id = d.announcement_id
          WHERE a.organization_id IN (?, ?)",
    )
    .bind(app.a.id)
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(dismissals, 0);
    // B's audience roles cannot name A's roles either (covered above for the reverse), and B's
    // announcement does not reach A.
    let (status, _) = post_announcement(&app, b, json!({"title": "Bravo news", "body": "x"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(current_titles(&app, &app.a.admin).await, ["Alpha only"]);
}
