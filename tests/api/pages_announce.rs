//! The announcement pages and the dashboard's announcements over HTTP (posting needs
//! `announcements.manage`, role audiences, dismiss, withdraw asking first, other organizations'
//! ids), and the password reset pages from the request to signing in with the new password.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, COOKIE, LOCATION, ORIGIN};
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

async fn announcements_in(app: &TestApp, org: &Org) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM announcements WHERE organization_id = ?")
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// The id of the organization's announcement with this title.
async fn announcement_id(app: &TestApp, org: &Org, title: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM announcements WHERE organization_id = ? AND title = ?")
        .bind(org.id)
        .bind(title)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Posts through the form as `who`; returns the id of the new announcement.
async fn post_form(app: &TestApp, org: &Org, who: &str, form: &[(&str, &str)]) -> Uuid {
    let (status, location, html) = app.page_post("/announcements/new", who, form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    assert!(
        location.starts_with("/announcements?posted=1"),
        "{location:?}"
    );
    let title = form.iter().find(|(k, _)| *k == "title").unwrap().1;
    announcement_id(app, org, title).await
}

#[tokio::test]
async fn an_officer_posts_and_members_dismiss_it_from_their_own_dashboard() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let ann = app.member(&app.a, "ann", &[]).await;
    let bob = app.member(&app.a, "bob", &[]).await;

    let (status, _, html) = app.page_get("/announcements/new", &officer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="title""#), "{html}");
    assert!(html.contains(r#"name="body""#));
    assert!(html.contains(r#"type="date""#));
    assert!(
        html.contains(r#"id="notify" name="notify" value="1" checked"#),
        "notify is on by default: {html}"
    );
    let member_role = app.role_id(&app.a, "member").await;
    assert!(
        html.contains(&format!(r#"value="{member_role}""#)),
        "roles to choose"
    );

    let (status, location, _) = app
        .page_post(
            "/announcements/new",
            &officer,
            &[
                ("title", "Hose testing Saturday"),
                (
                    "body",
                    "All hands at 0800.\r\n\r\nBring gloves.\r\nCoffee provided.",
                ),
                ("audience", "all"),
                ("expires_on", ""),
                ("notify", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let notified: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE organization_id = ? AND category = 'announcements'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(notified, 3, "the admin, ann and bob");
    assert!(
        location.starts_with("/announcements?posted=1&notified=3"),
        "{location}"
    );
    let (status, _, html) = app.page_get(&location, &officer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("3 members were notified"), "{html}");
    assert!(html.contains("Hose testing Saturday"));
    assert!(
        html.contains("<p>Bring gloves.<br>Coffee provided.</p>"),
        "{html}"
    );
    assert!(html.contains("for Everyone"), "{html}");
    assert!(
        html.contains("CST") || html.contains("CDT"),
        "org time zone: {html}"
    );
    let id = announcement_id(&app, &app.a, "Hose testing Saturday").await;

    // On both dashboards, with a Dismiss button that works with and without htmx.
    for who in [&ann, &bob] {
        let (status, _, html) = app.page_get("/", &access_cookie(who)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Hose testing Saturday"), "{html}");
        assert!(html.contains(&format!(r#"action="/announcements/{id}/dismiss""#)));
        assert!(html.contains(&format!(r#"hx-post="/announcements/{id}/dismiss""#)));
        assert!(
            html.contains(r#"id="me-heading""#),
            "the existing panel stays"
        );
    }
    let (status, location, _) = app
        .page_post(
            &format!("/announcements/{id}/dismiss"),
            &access_cookie(&ann),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/");
    let (_, _, html) = app.page_get("/", &access_cookie(&ann)).await;
    assert!(!html.contains("Hose testing Saturday"), "{html}");
    let (_, _, html) = app.page_get("/", &access_cookie(&bob)).await;
    assert!(html.contains("Hose testing Saturday"), "still on bob's");
    // Ann still finds it in the list, marked as dismissed.
    let (_, _, html) = app.page_get("/announcements", &access_cookie(&ann)).await;
    assert!(html.contains("Hose testing Saturday"));
    assert!(html.contains("You dismissed this one"), "{html}");
    assert!(!html.contains("Post an announcement"));

    // htmx: an empty answer that replaces the card in place.
    let res = browser()
        .post(app.url(&format!("/announcements/{id}/dismiss")))
        .header(COOKIE, access_cookie(&bob))
        .header(ORIGIN, &app.base)
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "");
    let (_, _, html) = app.page_get("/", &access_cookie(&bob)).await;
    assert!(!html.contains("Hose testing Saturday"));
}

#[tokio::test]
async fn posting_needs_announcements_manage() {
    let app = TestApp::spawn().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let plain = access_cookie(&plain);
    let (status, _, html) = app.page_get("/announcements/new", &plain).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("<h1"), "an error page: {html}");
    let (status, _, _) = app
        .page_post(
            "/announcements/new",
            &plain,
            &[("title", "Hi"), ("body", "Hello"), ("audience", "all")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(announcements_in(&app, &app.a).await, 0);
    let (status, _, html) = app.page_get("/announcements", &plain).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("/announcements/new"), "{html}");

    // With the permission alone (and the member role every member holds), it works.
    let poster = app
        .member_with(&app.a, "poster", &["announcements.manage"])
        .await;
    let (status, _, _) = app
        .page_get("/announcements/new", &access_cookie(&poster))
        .await;
    assert_eq!(status, StatusCode::OK);
    post_form(
        &app,
        &app.a,
        &access_cookie(&poster),
        &[("title", "Hi"), ("body", "Hello"), ("audience", "all")],
    )
    .await;
    assert_eq!(announcements_in(&app, &app.a).await, 1);
    // Not signed in: to the sign-in page.
    let (status, location, _) = app.page_get("/announcements", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/login?next=/announcements");
}

#[tokio::test]
async fn a_role_announcement_reaches_only_holders_of_the_role() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let trainer = app.member(&app.a, "trainer", &["training_officer"]).await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let role = app.role_id(&app.a, "training_officer").await.to_string();
    let id = post_form(
        &app,
        &app.a,
        &officer,
        &[
            ("title", "Instructors meet Tuesday"),
            ("body", "Curriculum review."),
            ("audience", "roles"),
            ("role_ids", &role),
            ("notify", "1"),
        ],
    )
    .await;
    let (_, _, html) = app.page_get("/", &access_cookie(&trainer)).await;
    assert!(html.contains("Instructors meet Tuesday"), "{html}");
    assert!(html.contains("for Training Officer"), "{html}");
    let (_, _, html) = app.page_get("/", &access_cookie(&plain)).await;
    assert!(!html.contains("Instructors meet Tuesday"), "{html}");
    let (_, _, html) = app.page_get("/announcements", &access_cookie(&plain)).await;
    assert!(!html.contains("Instructors meet Tuesday"), "{html}");
    // Nor can the member dismiss what is not addressed to them.
    let (status, _, _) = app
        .page_post(
            &format!("/announcements/{id}/dismiss"),
            &access_cookie(&plain),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_organizations_announcement_answers_404() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post(
            &app.b.admin.token,
            "/api/v1/announcements",
            json!({"title": "Bravo only", "body": "Secret."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b_id = body["announcement"]["id"].as_str().unwrap().to_string();
    let member = app.member(&app.a, "alpha-member", &[]).await;
    let admin = access_cookie(&app.a.admin);

    let (status, _, html) = app
        .page_post(
            &format!("/announcements/{b_id}/dismiss"),
            &access_cookie(&member),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<h1"), "an error page: {html}");
    let (status, _, _) = app
        .page_post(&format!("/announcements/{b_id}/dismiss"), &admin, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .page_get(&format!("/announcements/{b_id}/withdraw"), &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .page_post(&format!("/announcements/{b_id}/withdraw"), &admin, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .page_post("/announcements/not-an-id/withdraw", &admin, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let withdrawn: Option<chrono::NaiveDateTime> = sqlx::query_scalar(
        "SELECT withdrawn_at FROM announcements WHERE organization_id = ? AND title = 'Bravo only'",
    )
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(withdrawn.is_none());
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
    let (_, _, html) = app.page_get("/announcements", &admin).await;
    assert!(!html.contains("Bravo only"));
}

#[tokio::test]
async fn bad_input_is_shown_beside_the_fields_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let (status, _, html) = app
        .page_post(
            "/announcements/new",
            &officer,
            &[
                ("title", "   "),
                ("body", "Kept as typed"),
                ("audience", "roles"),
                ("expires_on", "next week"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"<p class="field-error" id="title-error">Enter a title.</p>"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<p class="field-error" id="role_ids-error">Choose at least one role.</p>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"id="expires_on-error">Enter a date like 2026-12-31.</p>"#),
        "{html}"
    );
    assert!(
        html.contains(">Kept as typed</textarea>"),
        "the message is kept"
    );
    assert!(
        html.contains(r#"value="roles" checked"#),
        "the audience is kept"
    );
    assert!(!html.contains(r#"id="body-error""#));
    // Unticked "notify" stays unticked.
    assert!(!html.contains(r#"name="notify" value="1" checked"#));

    // A date in the past, and an empty message.
    let (status, _, html) = app
        .page_post(
            "/announcements/new",
            &officer,
            &[
                ("title", "Old news"),
                ("body", ""),
                ("audience", "all"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="expires_on-error">Must be in the future.</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="body-error">Enter the message.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"value="Old news""#));
    assert_eq!(announcements_in(&app, &app.a).await, 0);
    let notes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE organization_id IN (?, ?)",
    )
    .bind(app.a.id)
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(notes, 0);

    // A role of another organization is refused like an unknown one.
    let b_role = app.role_id(&app.b, "member").await.to_string();
    let (status, _, html) = app
        .page_post(
            "/announcements/new",
            &officer,
            &[
                ("title", "Cross"),
                ("body", "x"),
                ("audience", "roles"),
                ("role_ids", &b_role),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="role_ids-error">One of the roles does not exist.</p>"#),
        "{html}"
    );
    assert_eq!(announcements_in(&app, &app.a).await, 0);

    // An expiry date today is the end of today in the organization's zone; without "notify"
    // nobody is notified.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .date_naive();
    let (status, location, _) = app
        .page_post(
            "/announcements/new",
            &officer,
            &[
                ("title", "Today only"),
                ("body", "x"),
                ("audience", "all"),
                ("expires_on", &today.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/announcements?posted=1");
    let expires: chrono::NaiveDateTime = sqlx::query_scalar(
        "SELECT expires_at FROM announcements WHERE organization_id = ? AND title = 'Today only'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let local = expires
        .and_utc()
        .with_timezone(&chrono_tz::America::Chicago);
    assert_eq!(local.date_naive(), today);
    assert_eq!(local.format("%H:%M:%S").to_string(), "23:59:59");
    let notes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE organization_id IN (?, ?)",
    )
    .bind(app.a.id)
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(notes, 0);
    let (_, _, html) = app.page_get("/announcements?posted=1", &officer).await;
    assert!(html.contains("Nobody was notified"), "{html}");
}

#[tokio::test]
async fn withdraw_asks_first_then_takes_it_off_the_dashboards() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let member = app.member(&app.a, "member", &[]).await;
    let id = post_form(
        &app,
        &app.a,
        &officer,
        &[
            ("title", "Pancake breakfast"),
            ("body", "Sunday."),
            ("audience", "all"),
        ],
    )
    .await;
    let (_, _, html) = app.page_get("/announcements", &officer).await;
    assert!(
        html.contains(&format!(r#"href="/announcements/{id}/withdraw""#)),
        "{html}"
    );
    assert!(html.contains(">Current</span>"), "{html}");

    // A member may not, and gets no confirm page either.
    let (status, _, _) = app
        .page_get(
            &format!("/announcements/{id}/withdraw"),
            &access_cookie(&member),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_post(
            &format!("/announcements/{id}/withdraw"),
            &access_cookie(&member),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The question first; asking changes nothing.
    let (status, _, html) = app
        .page_get(&format!("/announcements/{id}/withdraw"), &officer)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Withdraw the announcement “Pancake breakfast”?"),
        "{html}"
    );
    assert!(html.contains(&format!(
        r#"<form method="post" action="/announcements/{id}/withdraw""#
    )));
    let (_, _, html) = app.page_get("/", &access_cookie(&member)).await;
    assert!(html.contains("Pancake breakfast"));

    let (status, location, _) = app
        .page_post(&format!("/announcements/{id}/withdraw"), &officer, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/announcements?withdrawn=1");
    let (_, _, html) = app.page_get("/", &access_cookie(&member)).await;
    assert!(!html.contains("Pancake breakfast"), "{html}");
    let (_, _, html) = app
        .page_get("/announcements", &access_cookie(&member))
        .await;
    assert!(!html.contains("Pancake breakfast"));
    let (_, _, html) = app.page_get("/announcements?withdrawn=1", &officer).await;
    assert!(html.contains("Announcement withdrawn"), "{html}");
    assert!(html.contains("Pancake breakfast"), "officers still see it");
    assert!(html.contains(">Withdrawn</span>"), "{html}");
    assert!(!html.contains(&format!(r#"href="/announcements/{id}/withdraw""#)));

    // Twice: refused with the reason, on the confirm page.
    let (status, _, html) = app
        .page_post(&format!("/announcements/{id}/withdraw"), &officer, &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already withdrawn"), "{html}");
    let audits = app.audit_actions(&app.a, "announcement.withdrawn").await;
    assert_eq!(audits, 1);
}

// ---------------------------------------------------------------------------------------------
// Password reset

const ANSWER: &str = "If that address belongs to an account, a link to choose a new password \
     is on its way. It works once, for 30 minutes.";

/// Email settings for `org` (an SMTP server that is not there: the mail waits in the outbox).
async fn configure_email(app: &TestApp, org: &Org) {
    email_to_sink(app, org, free_port()).await;
}

/// Submits the choose-a-new-password form.
async fn confirm_reset(app: &TestApp, token: &str, new: &str, repeat: &str) -> reqwest::Response {
    app.page_post_anonymous(
        "/password-reset/confirm",
        &[
            ("token", token),
            ("new_password", new),
            ("repeat_password", repeat),
        ],
    )
    .await
}

/// The token in the newest reset email to `address`.
async fn emailed_token(app: &TestApp, address: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM email_outbox
          WHERE to_address = ? AND body_text LIKE '%/password-reset/confirm?token=%'
          ORDER BY created_at DESC LIMIT 1",
    )
    .bind(address)
    .fetch_one(&app.state.db)
    .await
    .expect("a reset email in the outbox");
    let start = body.find("/password-reset/confirm?token=").expect(&body)
        + "/password-reset/confirm?token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn the_reset_request_answers_the_same_for_any_address() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email (and the reset throttle and the sign-in form are the host's).
    let app = TestApp::spawn_private().await;
    configure_email(&app, &app.a).await;
    let (status, _, html) = app.page_get("/login", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<a href="/password-reset">Forgot your password?</a>"#),
        "{html}"
    );

    let (status, _, html) = app.page_get("/password-reset", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="email""#), "{html}");
    assert!(
        html.contains(r#"name="organization""#),
        "two organizations here: {html}"
    );

    let mut answers = Vec::new();
    for email in ["alpha-admin@example.org", "nobody@example.org"] {
        let res = app
            .page_post_anonymous("/password-reset", &[("email", email)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email}");
        answers.push(res.headers()[LOCATION].to_str().unwrap().to_string());
    }
    assert_eq!(answers[0], answers[1]);
    let (status, _, html) = app.page_get(&answers[0], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(ANSWER), "{html}");
    let mails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_outbox")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(mails, 1, "only the known address got one");

    let res = app
        .page_post_anonymous("/password-reset", &[("email", "not-an-address")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"<p class="field-error" id="email-error">Enter your email address.</p>"#),
        "{html}"
    );
    assert!(html.contains(r#"value="not-an-address""#));
    assert!(!html.contains(ANSWER));

    // Throttled per client address: a clear message, 429.
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        last = app
            .page_post_anonymous("/password-reset", &[("email", "nobody@example.org")])
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let res = app
        .page_post_anonymous("/password-reset", &[("email", "nobody@example.org")])
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many reset requests"), "{html}");
}

#[tokio::test]
async fn a_bad_reset_link_says_so() {
    let app = TestApp::spawn().await;
    for path in [
        "/password-reset/confirm?token=nonsense",
        "/password-reset/confirm",
    ] {
        let (status, _, html) = app.page_get(path, "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(
            html.contains("This reset link is not valid or has expired; ask for a new one."),
            "{html}"
        );
        assert!(html.contains(r#"href="/password-reset""#));
        assert!(!html.contains(r#"name="new_password""#));
    }
    let res = confirm_reset(
        &app,
        "nonsense",
        "a brand new long passphrase",
        "a brand new long passphrase",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not valid or has expired")
    );
}

#[tokio::test]
async fn a_password_reset_end_to_end() {
    // Private: it sets up email, and every server's mail sender sends every department's due
    // email (and the reset throttle and the sign-in form are the host's).
    let app = TestApp::spawn_private().await;
    configure_email(&app, &app.a).await;
    app.member(&app.a, "forgetful", &[]).await;
    let res = app
        .page_post_anonymous(
            "/password-reset",
            &[("email", "forgetful@example.org"), ("organization", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let token = emailed_token(&app, "forgetful@example.org").await;
    assert!(token.len() >= 29, "{token}");

    let res = browser()
        .get(app.url(&format!("/password-reset/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!(
            r#"<input type="hidden" name="token" value="{token}">"#
        )),
        "{html}"
    );
    assert!(html.contains(r#"name="repeat_password""#));

    // The two do not match: said beside the second field.
    let new = "a brand new long passphrase";
    let res = confirm_reset(&app, &token, new, "something else entirely").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"id="repeat_password-error">The two passwords do not match.</p>"#),
        "{html}"
    );
    // Too short: the policy's message beside the new password.
    let res = confirm_reset(&app, &token, "short", "short").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="new_password-error">"#), "{html}");
    assert!(
        html.contains(&format!(r#"name="token" value="{token}""#)),
        "the link still works"
    );

    let res = confirm_reset(&app, &token, new, new).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?reset=1");
    let (_, _, html) = app.page_get("/login?reset=1", "").await;
    assert!(
        html.contains("Your password was changed; sign in with it."),
        "{html}"
    );
    let (_, _, html) = app.page_get("/login", "").await;
    assert!(!html.contains("Your password was changed"));

    assert_eq!(
        app.page_sign_in_form("forgetful", PASSWORD, "/")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.page_sign_in_form("forgetful", new, "/").await.status(),
        StatusCode::SEE_OTHER
    );

    // The link works once.
    let (status, _, html) = app
        .page_get(&format!("/password-reset/confirm?token={token}"), "")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("not valid or has expired"), "{html}");
    let res = confirm_reset(
        &app,
        &token,
        "yet another long passphrase",
        "yet another long passphrase",
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not valid or has expired")
    );
    assert_eq!(
        app.page_sign_in_form("forgetful", new, "/").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_account_page_links_to_notifications() {
    let app = TestApp::spawn().await;
    let (status, _, html) = app.page_get("/account", &access_cookie(&app.a.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"href="/account/notifications""#), "{html}");
    assert!(
        html.contains(r#"<a href="/notifications">Your notifications</a>"#),
        "{html}"
    );
}

#[tokio::test]
async fn without_email_the_reset_page_says_so_and_names_who_can_help() {
    // Private: whether email is set up is the host's fact.
    let app = TestApp::spawn_private().await;
    let (status, _, html) = app.page_get("/password-reset", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Email is not set up on this Logbook yet"),
        "{html}"
    );
    assert!(html.contains("set a temporary password"), "{html}");
    assert!(!html.contains(ANSWER), "no promise of a link: {html}");
    // One department with email: the form is back, and a request for the other (named) says
    // its truth, while one for the first gets the usual answer.
    configure_email(&app, &app.a).await;
    let (_, _, html) = app.page_get("/password-reset", "").await;
    assert!(html.contains(r#"name="email""#), "{html}");
    let res = app
        .page_post_anonymous(
            "/password-reset",
            &[
                ("email", "bravo-admin@example.org"),
                ("organization", &app.b.slug),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Email is not set up on this Logbook yet"),
        "{html}"
    );
    let res = app
        .page_post_anonymous(
            "/password-reset",
            &[
                ("email", "alpha-admin@example.org"),
                ("organization", &app.a.slug),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_officer_sets_a_temporary_password_on_the_profile_and_the_member_signs_in_with_it() {
    let app = TestApp::spawn().await;
    let officer = app.page_sign_in("alpha-admin", PASSWORD).await;
    // Imported or added without a password: never signed in.
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            serde_json::json!({"username": "no-email", "email": "no-email@example.org",
                               "first_name": "Nora", "last_name": "Mail"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("/members/{}", body["id"].as_str().unwrap());
    let (status, _, html) = app.page_get(&path, &officer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Last signed in: <strong>never</strong>"),
        "{html}"
    );
    // Too short: beside the field, nothing changes.
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            &format!("{path}/password"),
            &officer,
            &[("temporary_password", "short")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="temporary_password-error""#), "{html}");
    assert_eq!(before, app.snapshot(&app.a).await);
    // Set: the member signs in with it and must choose their own first.
    let temporary = "ladder truck tuesday night";
    let (status, location, _) = app
        .page_post(
            &format!("{path}/password"),
            &officer,
            &[("temporary_password", temporary)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{path}?done=password"));
    let (_, _, html) = app.page_get(&location, &officer).await;
    assert!(html.contains("Temporary password set."), "{html}");
    let (status, body) = app
        .post(
            "",
            "/api/v1/auth/login",
            serde_json::json!({"username": "no-email", "password": temporary}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["must_change_password"], true);
    // A plain member cannot, nor can anyone reach another department's member.
    let plain = app.member(&app.a, "plain", &[]).await;
    let plain_cookies = app.page_sign_in(&plain.username, PASSWORD).await;
    let (status, _, _) = app
        .page_post(
            &format!("{path}/password"),
            &plain_cookies,
            &[("temporary_password", temporary)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let theirs = app.member(&app.b, "bravo-member", &[]).await;
    let (status, _, _) = app
        .page_post(
            &format!("/members/{}/password", theirs.id),
            &officer,
            &[("temporary_password", temporary)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
