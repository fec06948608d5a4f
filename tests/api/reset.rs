//! Password reset by email: the same answer for known and unknown addresses, the emailed link,
//! the new password ending every session, single use, expiry, throttles, organizations without
//! email, and the audit trail.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use crate::smtp_sink::Received;

const WAIT: Duration = Duration::from_secs(15);
const NEW_PASSWORD: &str = "a brand new ladder truck";
const LINK: &str = "http://logbook.test/password-reset/confirm?token=";

/// POSTs without a token; status and JSON body.
async fn post_open(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn request(app: &TestApp, email: &str) -> (StatusCode, Value) {
    post_open(app, "/api/v1/auth/password-reset", json!({"email": email})).await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> (StatusCode, Value) {
    post_open(
        app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": token, "new_password": password}),
    )
    .await
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    post_open(
        app,
        "/api/v1/auth/login",
        json!({"username": username, "password": password}),
    )
    .await
    .0
}

/// The token in a reset email's link (checked in both the text and the HTML part).
fn token_in(m: &Received) -> String {
    let text = m.text.as_deref().expect("no text part");
    let start = text
        .find(LINK)
        .unwrap_or_else(|| panic!("no link in {text}"))
        + LINK.len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 29, "short token {token:?} in {text}");
    let html = m.html.as_deref().expect("no html part");
    assert!(html.contains(&format!("href=\"{LINK}{token}\"")), "{html}");
    token
}

async fn tokens_of(app: &TestApp, user: &User) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM password_reset_tokens WHERE user_id = ?")
        .bind(user.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn audit_of(
    app: &TestApp,
    org: &Org,
    action: &str,
) -> Vec<(Option<uuid::Uuid>, String, String)> {
    sqlx::query_as(
        "SELECT actor_user_id, entity_id, changes FROM audit_logs
          WHERE organization_id = ? AND action = ? ORDER BY sequence",
    )
    .bind(org.id)
    .bind(action)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_reset_request_answers_the_same_for_known_and_unknown_addresses() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;

    let (known_status, known) = request(&app, "pat@example.org").await;
    let (unknown_status, unknown) = request(&app, "nobody@example.org").await;
    // Addresses match whatever their case.
    let (status, upper) = request(&app, "PAT@Example.ORG").await;
    assert_eq!((status, &upper), (StatusCode::ACCEPTED, &known));
    assert_eq!(known_status, StatusCode::ACCEPTED, "{known}");
    assert_eq!(unknown_status, StatusCode::ACCEPTED, "{unknown}");
    assert_eq!(known, unknown);
    assert!(
        known["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{known}"
    );

    for bad in ["not-an-email", "", "   "] {
        let (status, problem) = request(&app, bad).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), ["email"], "{bad:?}");
    }

    let messages = sink.wait_for(2, WAIT).await;
    assert_eq!(messages[0].rcpt_to, ["pat@example.org"]);
    assert_eq!(messages[1].rcpt_to, ["pat@example.org"]);
    assert!(
        messages[0]
            .subject
            .as_deref()
            .unwrap_or("")
            .contains("Reset your password"),
        "{:?}",
        messages[0].subject
    );
    token_in(&messages[0]);
    assert_eq!(tokens_of(&app, &pat).await, 2);
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM password_reset_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(all, 2);
    // Only the hash is stored.
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM password_reset_tokens")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    for m in &messages {
        let token = token_in(m);
        assert!(hashes.iter().all(|h| !h.contains(&token)));
    }
    mail_lock_free(&app.db.pool, app.a.id).await;
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn the_emailed_link_sets_a_new_password_and_ends_every_session() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let pat_again = app.login("pat", PASSWORD).await;

    let (status, _) = request(&app, "pat@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let messages = sink.wait_for(1, WAIT).await;
    let token = token_in(&messages[0]);

    // A weak password is refused and the link stays good.
    for weak in ["short", "pat-is-my-name-ok"] {
        let (status, problem) = confirm(&app, &token, weak).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&problem),
            ["new_password"],
            "{weak}: {problem}"
        );
    }
    assert_eq!(login_status(&app, "pat", PASSWORD).await, StatusCode::OK);

    let (status, body) = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        login_status(&app, "pat", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("pat", NEW_PASSWORD).await;
    let (status, _) = app.get(&fresh.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // Every session from before is over: access tokens and refresh tokens alike.
    for old in [&pat, &pat_again] {
        let (status, _) = app.get(&old.token, "/api/v1/auth/me").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "old access token still works"
        );
        let (status, problem) = post_open(
            &app,
            "/api/v1/auth/refresh",
            json!({"refresh_token": old.refresh}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "old refresh token: {problem}"
        );
    }

    // Single use.
    let (status, problem) = confirm(&app, &token, "yet another fine password").await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["token"]);
    assert_eq!(
        login_status(&app, "pat", NEW_PASSWORD).await,
        StatusCode::OK
    );

    // Pat is told, in the app and by email.
    let (_, inbox) = app.get(&fresh.token, "/api/v1/notifications").await;
    assert_eq!(
        inbox["items"][0]["subject"], "Your password was reset",
        "{inbox}"
    );
    let messages = sink.wait_for(2, WAIT).await;
    assert!(
        messages[1]
            .subject
            .as_deref()
            .unwrap_or("")
            .contains("Your password was reset")
    );

    // Audited, without the token.
    let requested = audit_of(&app, &app.a, "auth.password_reset_requested").await;
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0].1, pat.id.to_string());
    let done = audit_of(&app, &app.a, "auth.password_reset").await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].0, Some(pat.id));
    assert_eq!(done[0].1, pat.id.to_string());
    for (_, _, changes) in requested.iter().chain(&done) {
        assert!(!changes.contains(&token), "{changes}");
        assert!(!changes.contains(NEW_PASSWORD), "{changes}");
    }
}

#[tokio::test]
async fn expired_and_unknown_reset_links_are_refused() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let (status, _) = request(&app, "pat@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = token_in(&sink.wait_for(1, WAIT).await[0]);

    sqlx::query(
        "UPDATE password_reset_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE
          WHERE user_id = ?",
    )
    .bind(pat.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    for bad in [token.as_str(), "not-a-token", ""] {
        let (status, problem) = confirm(&app, bad, NEW_PASSWORD).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), ["token"], "{bad:?}");
    }
    assert_eq!(
        login_status(&app, "pat", NEW_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app.get(&pat.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "a refused reset ended the session");
    assert!(
        audit_of(&app, &app.a, "auth.password_reset")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn reset_requests_are_throttled_per_address_and_per_account() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let pat = app.member(&app.a, "pat", &[]).await;

    // Four requests for one account: three emails.
    for _ in 0..4 {
        let (status, body) = request(&app, "pat@example.org").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    sink.wait_for(3, WAIT).await;
    assert_eq!(tokens_of(&app, &pat).await, 3);
    mail_lock_free(&app.db.pool, app.a.id).await;
    assert_eq!(outbox_rows(&app.db.pool, app.a.id).await.len(), 3);
    assert_eq!(sink.messages().len(), 3);

    // Ten requests from this address in the hour; the eleventh is refused.
    for n in 0..6 {
        let (status, body) = request(&app, &format!("someone{n}@example.org")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "request {}: {body}", n + 5);
    }
    for email in ["someone@example.org", "pat@example.org"] {
        let (status, problem) = request(&app, email).await;
        assert_problem(status, &problem, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(tokens_of(&app, &pat).await, 3);
    // An hour later the address may ask again (and the account has room again).
    sqlx::query(
        "UPDATE password_reset_requests SET requested_at = requested_at - INTERVAL 61 MINUTE",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE password_reset_tokens SET created_at = created_at - INTERVAL 61 MINUTE")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = request(&app, "pat@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(tokens_of(&app, &pat).await, 4);
    sink.wait_for(4, WAIT).await;
}

#[tokio::test]
async fn no_reset_email_for_an_organization_without_email_settings() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let bob = app.member(&app.b, "bob", &[]).await;

    let (status, body) = request(&app, "bob@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(tokens_of(&app, &bob).await, 0);
    // Nor for a member who may not sign in.
    let gone = app.member(&app.a, "gone", &[]).await;
    sqlx::query("UPDATE users SET status = 'suspended' WHERE id = ?")
        .bind(gone.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = request(&app, "gone@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(tokens_of(&app, &gone).await, 0);
    assert!(outbox_rows(&app.db.pool, app.b.id).await.is_empty());
    assert!(
        audit_of(&app, &app.b, "auth.password_reset_requested")
            .await
            .is_empty()
    );

    // The same address in both organizations: only the one with email gets a link, and naming
    // the organization limits it to that one.
    let chris_a = app.member(&app.a, "chris", &[]).await;
    let chris_b = app.member(&app.b, "kris", &[]).await;
    sqlx::query("UPDATE users SET email = 'chris@example.org' WHERE id = ?")
        .bind(chris_b.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = request(&app, "chris@example.org").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(tokens_of(&app, &chris_a).await, 1);
    assert_eq!(tokens_of(&app, &chris_b).await, 0);
    let messages = sink.wait_for(1, WAIT).await;
    assert!(
        messages[0]
            .subject
            .as_deref()
            .unwrap_or("")
            .contains("Alpha Fire Department")
    );

    email_to_sink(&app, &app.b, sink.port()).await;
    let (status, _) = post_open(
        &app,
        "/api/v1/auth/password-reset",
        json!({"email": "chris@example.org", "organization": app.b.slug}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(tokens_of(&app, &chris_a).await, 1);
    assert_eq!(tokens_of(&app, &chris_b).await, 1);
    let messages = sink.wait_for(2, WAIT).await;
    assert!(
        messages[1]
            .subject
            .as_deref()
            .unwrap_or("")
            .contains("Bravo Fire Department")
    );
    // B's token resets B's chris only.
    let token = token_in(&messages[1]);
    let (status, body) = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get(&chris_a.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "A's chris lost the session");
    let (status, _) = app.get(&chris_b.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit_of(&app, &app.b, "auth.password_reset").await.len(), 1);
    assert!(
        audit_of(&app, &app.a, "auth.password_reset")
            .await
            .is_empty()
    );
}
