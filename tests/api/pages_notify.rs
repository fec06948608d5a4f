//! The inbox, notification preferences, and the settings pages (email, test message, outbox,
//! notification defaults, jobs): who sees them, that their forms go through the services' rules,
//! and that another organization's notifications and emails answer 404.

use std::time::Duration;

use reqwest::StatusCode;
use uuid::Uuid;

use logbook::notify::mail::{self, Outgoing};

use crate::harness::*;
use crate::smtp_sink::SmtpSink;

/// Notifies `users` of `org` through the same call the modules use.
async fn tell(app: &TestApp, org: &Org, users: &[Uuid], subject: &str, link: Option<&str>) {
    let sent = notify_now(
        &app.state,
        org.org_id,
        users,
        "announcements",
        subject,
        link,
        None,
    )
    .await;
    assert_eq!(sent.notified, users.len() as u64);
}

async fn is_read(app: &TestApp, id: Uuid) -> bool {
    let read: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT read_at FROM notification_logs WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    read.is_some()
}

async fn count(app: &TestApp, sql: &str, org: &Org) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Puts one email in `org`'s outbox with `status`; returns its id.
async fn outbox_row(app: &TestApp, org: &Org, to: &str, status: &str) -> Uuid {
    let mut tx = app.state.db.begin().await.unwrap();
    mail::enqueue(
        &mut tx,
        org.org_id,
        &[Outgoing {
            notification_id: None,
            to_address: to.into(),
            to_name: None,
            subject: format!("Mail for {to}"),
            text: "text".into(),
            html: "<p>html</p>".into(),
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let id: Uuid = sqlx::query_scalar(
        "SELECT id FROM email_outbox WHERE organization_id = ? AND to_address = ?",
    )
    .bind(org.id)
    .bind(to)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE email_outbox SET status = ?, attempts = 3, last_error = '550 mailbox unavailable'
          WHERE id = ?",
    )
    .bind(status)
    .bind(id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id
}

const SETTINGS_PAGES: &[&str] = &[
    "/settings/email",
    "/settings/email/outbox",
    "/settings/notifications",
    "/settings/jobs",
    "/settings/jobs/purge_sessions",
    "/settings/status",
];

#[tokio::test]
async fn admins_see_the_settings_pages_and_members_their_inbox_only() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    app.member(&app.a, "plain", &[]).await;
    let plain = app.page_sign_in("plain", PASSWORD).await;

    for path in ["/notifications", "/account/notifications"] {
        let (status, location, _) = app.page_get(path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location, format!("/login?next={path}"));
        for who in [&admin, &plain] {
            let (status, _, html) = app.page_get(path, who).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(html.contains("<h1"), "{html}");
        }
    }
    for path in SETTINGS_PAGES {
        let (status, _, html) = app.page_get(path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(
            html.contains(r#"aria-label="Settings""#),
            "sub-navigation on {path}"
        );
        let (status, _, html) = app.page_get(path, &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("<h1"), "an error page: {html}");
    }
    let (status, _, _) = app.page_get("/settings/jobs/no_such_job", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The settings forms refuse a plain member and change nothing.
    let before = app.audit_count(&app.a).await;
    for (path, form) in [
        (
            "/settings/email",
            vec![
                ("host", "smtp.example.org"),
                ("port", "587"),
                ("security", "starttls"),
                ("from_address", "logbook@example.org"),
                ("give_up_hours", "72"),
            ],
        ),
        ("/settings/email/test", vec![("to", "x@example.org")]),
        ("/settings/notifications", vec![("email", "account")]),
        ("/settings/jobs/purge_sessions/run", vec![]),
    ] {
        let (status, _, _) = app.page_post(path, &plain, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.audit_count(&app.a).await, before);
    let sql = "SELECT COUNT(*) FROM email_settings WHERE organization_id = ?";
    assert_eq!(count(&app, sql, &app.a).await, 0);
    let sql = "SELECT COUNT(*) FROM job_runs WHERE organization_id = ?";
    assert_eq!(count(&app, sql, &app.a).await, 0);

    // The header: "Settings" only for settings.manage; "Notifications" for everyone.
    let (_, _, html) = app.page_get("/", &admin).await;
    assert!(html.contains(r#"href="/settings/department""#));
    assert!(html.contains(r#"href="/notifications""#));
    let (_, _, html) = app.page_get("/", &plain).await;
    assert!(!html.contains(r#"href="/settings/department""#));
    assert!(html.contains(r#"href="/notifications""#));
}

#[tokio::test]
async fn the_inbox_lists_opens_and_marks_notifications_read() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "reader", &[]).await;
    let cookies = app.page_sign_in("reader", PASSWORD).await;

    let (_, _, html) = app.page_get("/notifications", &cookies).await;
    assert!(
        html.contains("No notifications yet."),
        "empty state: {html}"
    );
    assert!(!html.contains("count-badge"), "no badge without unread");

    tell(
        &app,
        &app.a,
        &[member.id],
        "Drill tonight",
        Some("/members"),
    )
    .await;
    tell(
        &app,
        &app.a,
        &[member.id],
        "Phishing link",
        Some("https://evil.example/x"),
    )
    .await;
    tell(&app, &app.a, &[member.id], "Hall rental", None).await;
    let drill = app.notification_id(member.id, "Drill tonight").await;
    let phishing = app.notification_id(member.id, "Phishing link").await;
    let hall = app.notification_id(member.id, "Hall rental").await;

    // The header counts them, with words for screen readers.
    let (_, _, html) = app.page_get("/", &cookies).await;
    assert!(
        html.contains(r#"<span class="visually-hidden">, </span><span class="count-badge" id="unread-count">3</span><span class="visually-hidden"> unread</span>"#),
        "{html}"
    );

    // Newest first, the message in paragraphs, the time in the organization's zone.
    let (status, _, html) = app.page_get("/notifications", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    let (h, p, d) = (
        html.find("Hall rental").unwrap(),
        html.find("Phishing link").unwrap(),
        html.find("Drill tonight").unwrap(),
    );
    assert!(h < p && p < d, "newest first");
    assert!(html.contains("<p class=\"inbox-message\">Second paragraph.</p>"));
    assert!(html.contains("America/Chicago"));
    assert!(
        html.contains(" CST</time>") || html.contains(" CDT</time>"),
        "{html}"
    );
    assert!(html.contains("Unread (3)"));
    assert!(html.contains("Mark all read"));
    // Only the local link gets an Open button.
    assert!(html.contains(&format!("/notifications/{drill}/open")));
    assert!(!html.contains(&format!("/notifications/{phishing}/open")));
    assert!(!html.contains(&format!("/notifications/{hall}/open")));
    assert!(!html.contains("evil.example"));

    // Opening follows a local link and marks the notification read.
    let (status, location, _) = app
        .page_post(&format!("/notifications/{drill}/open"), &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/members");
    assert!(is_read(&app, drill).await);
    // A link off the site is never followed, even when posted by hand.
    let (status, location, _) = app
        .page_post(&format!("/notifications/{phishing}/open"), &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/notifications");
    assert!(is_read(&app, phishing).await);

    // Mark read goes back to the inbox page it came from (and never anywhere else).
    let (status, location, _) = app
        .page_post(
            &format!("/notifications/{hall}/read"),
            &cookies,
            &[("back", "/notifications?show=unread")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/notifications?show=unread");
    assert!(is_read(&app, hall).await);
    let (_, _, html) = app.page_get("/notifications?show=unread", &cookies).await;
    assert!(html.contains("No unread notifications."), "{html}");
    assert!(!html.contains("count-badge"));

    // Mark all read.
    tell(&app, &app.a, &[member.id], "One", None).await;
    tell(&app, &app.a, &[member.id], "Two", None).await;
    let (_, _, html) = app.page_get("/", &cookies).await;
    assert!(html.contains(r#"id="unread-count">2<"#));
    let (status, location, _) = app
        .page_post(
            "/notifications/read-all",
            &cookies,
            &[("back", "https://evil.example/")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/notifications");
    let (_, _, html) = app.page_get("/notifications", &cookies).await;
    assert!(!html.contains("count-badge"));
    assert!(html.contains("Unread (0)"));
    assert!(!html.contains("Mark all read"));
}

#[tokio::test]
async fn another_organizations_notifications_and_emails_are_not_found() {
    let app = TestApp::spawn().await;
    let ours = app.member(&app.a, "alpha-one", &[]).await;
    let cookies = app.page_sign_in("alpha-one", PASSWORD).await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    tell(
        &app,
        &app.b,
        &[app.b.admin.id],
        "Bravo only",
        Some("/members"),
    )
    .await;
    let theirs = app.notification_id(app.b.admin.id, "Bravo only").await;
    // Org A's member id given to org B's notify() is ignored: nobody outside B is told.
    let sent = notify_now(
        &app.state,
        app.b.org_id,
        &[ours.id],
        "announcements",
        "Leak",
        None,
        None,
    )
    .await;
    assert_eq!(sent.notified, 0);
    let their_mail = outbox_row(&app, &app.b, "bravo@example.org", "failed").await;

    for path in [
        format!("/notifications/{theirs}/open"),
        format!("/notifications/{theirs}/read"),
        "/notifications/not-a-uuid/open".to_string(),
        format!("/notifications/{}/read", Uuid::now_v7()),
    ] {
        let (status, location, html) = app.page_post(&path, &cookies, &[("back", "")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(location.is_empty());
        assert!(html.contains("<html"), "an HTML page");
    }
    assert!(!is_read(&app, theirs).await);
    let (_, _, html) = app.page_get("/notifications", &cookies).await;
    assert!(!html.contains("Bravo only"));

    let (status, _, _) = app
        .page_post(
            &format!("/settings/email/outbox/{their_mail}/retry"),
            &admin,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, html) = app.page_get("/settings/email/outbox", &admin).await;
    assert!(!html.contains("bravo@example.org"));
    let status: String = sqlx::query_scalar("SELECT status FROM email_outbox WHERE id = ?")
        .bind(their_mail)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");
}

#[tokio::test]
async fn preferences_and_organization_defaults_are_saved_from_their_forms() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "chooser", &[]).await;
    let cookies = app.page_sign_in("chooser", PASSWORD).await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;

    let (_, _, html) = app.page_get("/account/notifications", &cookies).await;
    // Security email is always on: checked, disabled, and says why.
    assert!(
        html.contains(r#"id="email-security" name="email" value="security" checked disabled"#),
        "{html}"
    );
    assert!(html.contains("cannot be turned off"));
    assert!(html.contains("Following the department default (email on)."));
    assert!(html.contains("In Logbook: always"));

    // Everything on but announcements. Security is not in the form at all (it cannot be off).
    let on = [
        "account",
        "training",
        "events",
        "scheduling",
        "inventory",
        "elections",
        "minutes",
        "system",
    ];
    let form: Vec<(&str, &str)> = on.iter().map(|c| ("email", *c)).collect();
    let (status, location, _) = app
        .page_post("/account/notifications", &cookies, &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/account/notifications?saved=1");
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT category, email FROM notification_preferences WHERE user_id = ? ORDER BY category",
    )
    .bind(member.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![("announcements".to_string(), false)]);
    let (_, _, html) = app
        .page_get("/account/notifications?saved=1", &cookies)
        .await;
    assert!(html.contains("Your notification settings are saved."));
    assert!(html.contains("Your own choice. The department default is email on."));
    assert!(html.contains(r#"id="email-announcements" name="email" value="announcements""#));
    assert!(!html.contains(r#"value="announcements" checked"#));

    // "Use the department default" removes the member's own choice.
    let (status, _, _) = app
        .page_post(
            "/account/notifications",
            &cookies,
            &[("reset", "announcements")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notification_preferences WHERE user_id = ?")
            .bind(member.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, 0);

    // The organization turns training email off by default; the member follows it.
    let on = [
        "account",
        "announcements",
        "events",
        "scheduling",
        "inventory",
        "elections",
        "minutes",
        "system",
    ];
    let form: Vec<(&str, &str)> = on.iter().map(|c| ("email", *c)).collect();
    let (status, location, _) = app
        .page_post("/settings/notifications", &admin, &form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/notifications?saved=1");
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT category, email FROM notification_defaults WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![("training".to_string(), false)]);
    let (_, _, html) = app
        .page_get("/settings/notifications?saved=1", &admin)
        .await;
    assert!(html.contains("Notification defaults saved."));
    let (_, _, html) = app.page_get("/account/notifications", &cookies).await;
    assert!(html.contains("Following the department default (email off)."));
    assert!(!html.contains(r#"value="training" checked"#));
    // Org B is untouched.
    let sql = "SELECT COUNT(*) FROM notification_defaults WHERE organization_id = ?";
    assert_eq!(count(&app, sql, &app.b).await, 0);
}

#[tokio::test]
async fn a_bad_email_settings_form_shows_errors_beside_the_fields_and_saves_nothing() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email: on the shared database another test's server could send (or fail to send) this one's.
    let app = TestApp::spawn_private().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let before = app.audit_count(&app.a).await;
    let (status, _, html) = app
        .page_post(
            "/settings/email",
            &admin,
            &[
                ("host", "smtp.example.org"),
                ("port", "99999"),
                ("security", "starttls"),
                ("username", ""),
                ("password", "typed-but-refused-secret"),
                ("from_address", "not an address"),
                ("from_name", "Station 5"),
                ("give_up_hours", "72"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(
            r#"<p class="field-error" id="port-error">Port must be between 1 and 65535.</p>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"id="from_address-error">Enter the address emails come from"#));
    assert!(html.contains(r#"aria-describedby="port-hint port-error""#));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(!html.contains("host-error"));
    // What was typed comes back, except the password.
    assert!(html.contains(r#"value="smtp.example.org""#));
    assert!(html.contains(r#"value="99999""#));
    assert!(html.contains(r#"value="Station 5""#));
    assert!(!html.contains("typed-but-refused-secret"));
    let sql = "SELECT COUNT(*) FROM email_settings WHERE organization_id = ?";
    assert_eq!(count(&app, sql, &app.a).await, 0);
    assert_eq!(app.audit_count(&app.a).await, before);

    // A port that is not a number is refused the same way.
    let (status, _, html) = app
        .page_post(
            "/settings/email",
            &admin,
            &[
                ("host", "http://smtp.example.org/"),
                ("port", "five"),
                ("security", "starttls"),
                ("from_address", "logbook@example.org"),
                ("give_up_hours", "0"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["host", "port", "give_up_hours"] {
        assert!(html.contains(&format!(r#"id="{field}-error""#)), "{field}");
    }
    assert!(!html.contains("from_address-error"));
    assert_eq!(count(&app, sql, &app.a).await, 0);
}

#[tokio::test]
async fn the_stored_smtp_password_never_appears_in_the_page() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email: on the shared database another test's server could send (or fail to send) this one's.
    let app = TestApp::spawn_private().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let secret = "smtp-secret-4f1d9c";
    let form = |password: &'static str, remove: bool| {
        let mut f = vec![
            ("host", "smtp.example.org"),
            ("port", "587"),
            ("security", "starttls"),
            ("username", "station5"),
            ("password", password),
            ("from_address", "logbook@example.org"),
            ("from_name", ""),
            ("give_up_hours", "48"),
            ("enabled", "on"),
        ];
        if remove {
            f.push(("remove_password", "on"));
        }
        f
    };
    let (status, location, _) = app
        .page_post("/settings/email", &admin, &form(secret, false))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/email?saved=1");
    let stored: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT password_encrypted FROM email_settings WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let stored = stored.expect("a stored password");

    let (status, _, html) = app.page_get("/settings/email?saved=1", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Email settings saved."));
    assert!(!html.contains(secret), "the password is in the page");
    assert!(html.contains(r#"placeholder="stored — leave blank to keep""#));
    assert!(html.contains(r#"id="password" name="password" type="password" value="""#));
    assert!(html.contains("Remove the stored password"));
    assert!(html.contains(r#"value="48""#));
    // Nor in the audit log page.
    let (_, _, html) = app.page_get("/audit", &admin).await;
    assert!(html.contains("email_settings.updated"));
    assert!(!html.contains(secret));

    // Saving with the password left blank keeps it.
    let (status, _, _) = app
        .page_post("/settings/email", &admin, &form("", false))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let kept: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT password_encrypted FROM email_settings WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(kept, Some(stored));

    // Removing it while a user name is set is refused beside the password field.
    let (status, _, html) = app
        .page_post("/settings/email", &admin, &form("", true))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="password-error""#), "{html}");
    // Without the user name it goes.
    let mut f = form("", true);
    f.retain(|(k, _)| *k != "username");
    let (status, _, _) = app.page_post("/settings/email", &admin, &f).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let gone: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT password_encrypted FROM email_settings WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(gone, None);
    let (_, _, html) = app.page_get("/settings/email", &admin).await;
    assert!(!html.contains("stored — leave blank to keep"));
}

#[tokio::test]
async fn the_test_message_shows_the_mail_servers_answer() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email: on the shared database another test's server could send (or fail to send) this one's.
    let app = TestApp::spawn_private().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let sink = SmtpSink::start().await;

    // Nothing saved yet: the page says so.
    let (status, _, html) = app
        .page_post("/settings/email/test", &admin, &[("to", "")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("Save the email settings before sending a test message."),
        "{html}"
    );

    let port = sink.port().to_string();
    let (status, _, _) = app
        .page_post(
            "/settings/email",
            &admin,
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("security", "none"),
                ("from_address", "logbook@example.org"),
                ("give_up_hours", "72"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let (status, _, html) = app
        .page_post("/settings/email/test", &admin, &[("to", "nope")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="to-error">Enter a valid email address.<"#),
        "{html}"
    );

    let (status, _, html) = app
        .page_post(
            "/settings/email/test",
            &admin,
            &[("to", "chief@example.org")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Delivered to the mail server"), "{html}");
    assert!(html.contains("chief@example.org"));
    assert!(html.contains("<code class=\"test-answer\">250"), "{html}");
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].rcpt_to, vec!["chief@example.org".to_string()]);

    // The server down: the page says it was not delivered, and why.
    sink.stop().await;
    let (status, _, html) = app
        .page_post("/settings/email/test", &admin, &[("to", "")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Not delivered"), "{html}");
    assert!(
        html.contains("alpha-admin@example.org"),
        "to the admin's own address"
    );
}

#[tokio::test]
async fn the_outbox_lists_counts_and_retries_a_failed_email() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email: on the shared database another test's server could send (or fail to send) this one's.
    let app = TestApp::spawn_private().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let failed = outbox_row(&app, &app.a, "gone@example.org", "failed").await;
    let pending = outbox_row(&app, &app.a, "later@example.org", "pending").await;

    let (status, _, html) = app.page_get("/settings/email/outbox", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Pending: 1"));
    assert!(html.contains("Failed: 1"));
    assert!(html.contains("gone@example.org") && html.contains("later@example.org"));
    assert!(html.contains("550 mailbox unavailable"));
    assert!(html.contains(&format!("/settings/email/outbox/{failed}/retry")));
    assert!(!html.contains(&format!("/settings/email/outbox/{pending}/retry")));

    let (_, _, html) = app
        .page_get("/settings/email/outbox?status=failed", &admin)
        .await;
    assert!(html.contains("gone@example.org"));
    assert!(!html.contains("later@example.org"));

    let (status, location, _) = app
        .page_post(
            &format!("/settings/email/outbox/{failed}/retry"),
            &admin,
            &[("status", "failed"), ("page", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location,
        "/settings/email/outbox?status=failed&page=1&retried=1"
    );
    let (_, _, html) = app.page_get(&location, &admin).await;
    assert!(html.contains("back in the queue"));

    // Only a failed email can be retried: the refusal is shown on the page.
    let (status, _, html) = app
        .page_post(
            &format!("/settings/email/outbox/{pending}/retry"),
            &admin,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("Only a failed email can be retried"),
        "{html}"
    );
}

#[tokio::test]
async fn run_now_from_the_jobs_page_records_a_run() {
    // Private: purge_sessions also clears the host's sign-in and reset throttles.
    let app = TestApp::spawn_private().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;

    let (_, _, html) = app.page_get("/settings/jobs", &admin).await;
    for job in app.state.jobs.iter() {
        assert!(html.contains(job.title), "{}", job.title);
        assert!(html.contains(&format!(r#"action="/settings/jobs/{}/run""#, job.name)));
    }
    assert!(html.contains("(America/Chicago)"));
    assert!(html.contains("Never"), "no run yet");

    let (status, location, _) = app
        .page_post("/settings/jobs/purge_sessions/run", &admin, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("/settings/jobs?ran=purge_sessions&run="),
        "{location}"
    );
    let runs: Vec<(String, String, Option<Uuid>)> = sqlx::query_as(
        "SELECT outcome, trigger_kind, triggered_by FROM job_runs
          WHERE organization_id = ? AND job = 'purge_sessions'",
    )
    .bind(app.a.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        runs,
        vec![(
            "succeeded".to_string(),
            "manual".to_string(),
            Some(app.a.admin.id)
        )]
    );
    let (status, _, html) = app.page_get(&location, &admin).await;
    assert_eq!(status, StatusCode::OK);
    let title = app.state.jobs.get("purge_sessions").unwrap().title;
    assert!(
        html.contains(&format!("“{title}” ran: succeeded")),
        "{html}"
    );
    assert!(html.contains(r#"class="status outcome-succeeded">succeeded<"#));

    // From the history page, back to it; the history lists both runs and filters them.
    let (status, location, _) = app
        .page_post(
            "/settings/jobs/purge_sessions/run",
            &admin,
            &[("from", "history")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/settings/jobs/purge_sessions?run="));
    let (_, _, html) = app.page_get(&location, &admin).await;
    assert!(html.contains("2 runs"), "{html}");
    assert!(html.contains("ran: succeeded"));
    let (_, _, html) = app
        .page_get("/settings/jobs/purge_sessions?outcome=failed", &admin)
        .await;
    assert!(html.contains("0 runs") && html.contains("No runs with this outcome."));

    // An unknown job answers 404 and records nothing; org B sees none of A's runs.
    let (status, _, _) = app
        .page_post("/settings/jobs/no_such_job/run", &admin, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let sql = "SELECT COUNT(*) FROM job_runs WHERE organization_id = ?";
    assert_eq!(count(&app, sql, &app.a).await, 2);
    let bravo = app.page_sign_in("bravo-admin", PASSWORD).await;
    let (_, _, html) = app.page_get("/settings/jobs/purge_sessions", &bravo).await;
    assert!(html.contains("0 runs"), "{html}");
}
