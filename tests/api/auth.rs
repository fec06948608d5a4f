//! Sessions: sign-in, lockout and the per-address block, refresh rotation and reuse, cookies and
//! CSRF, logout, password change, forced password change, status changes, forged tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

const NEW_PASSWORD: &str = "a brand new passphrase for me";

/// POST without any credentials (no Bearer, no cookie); status, headers and JSON body.
async fn post_anon(app: &TestApp, path: &str, body: Value) -> (StatusCode, HeaderMap, Value) {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

async fn try_login(app: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    let (status, _, body) = post_anon(
        app,
        "/api/v1/auth/login",
        json!({"username": username, "password": password}),
    )
    .await;
    (status, body)
}

/// A sign-in naming the department of this test that has `username` (the harness's way on the
/// shared database); status and JSON body.
async fn try_login_named(app: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    let res = app.login_response(username, password, None).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn try_refresh(app: &TestApp, refresh: &str) -> (StatusCode, Value) {
    let (status, _, body) = post_anon(
        app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh}),
    )
    .await;
    (status, body)
}

/// A browser-like client that keeps cookies.
fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn alert_count(app: &TestApp, org: &Org, alert_type: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM security_alerts WHERE organization_id = ? AND alert_type = ?",
    )
    .bind(org.id)
    .bind(alert_type)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// failed_login_attempts and whether locked_until lies in the future.
async fn lock_state(app: &TestApp, user: Uuid) -> (i32, bool) {
    sqlx::query_as(
        "SELECT failed_login_attempts,
                COALESCE(locked_until > UTC_TIMESTAMP(6), FALSE) AS locked
           FROM users WHERE id = ?",
    )
    .bind(user)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The key the test server signs with (generated into its data directory).
fn server_jwt_key(app: &TestApp) -> Vec<u8> {
    std::fs::read_to_string(app.data_dir.join("secrets").join("jwt.key"))
        .unwrap()
        .trim()
        .as_bytes()
        .to_vec()
}

fn sign(claims: &Value, alg: jsonwebtoken::Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn login_with_username_or_email_returns_tokens_and_cookies() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    for identifier in ["alpha-admin", "alpha-admin@example.org"] {
        let (status, headers, body) = post_anon(
            &app,
            "/api/v1/auth/login",
            json!({"username": identifier, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "login as {identifier}: {body}");
        let access = body["access_token"].as_str().expect("access_token");
        let refresh = body["refresh_token"].as_str().expect("refresh_token");
        assert!(!access.is_empty() && !refresh.is_empty());
        assert_ne!(access, refresh);
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["must_change_password"], false);
        let claims = jwt_payload(access);
        assert_eq!(claims["sub"], app.a.admin.id.to_string());
        assert_eq!(claims["org"], app.a.id.to_string());
        let exp = claims["exp"].as_i64().unwrap();
        let iat = claims["iat"].as_i64().unwrap();
        assert_eq!(exp - iat, 900);

        let cookies = set_cookies(&headers);
        let access_cookie = cookies
            .iter()
            .find(|c| c.starts_with("logbook_access="))
            .unwrap_or_else(|| panic!("no logbook_access cookie in {cookies:?}"));
        assert!(access_cookie.starts_with(&format!("logbook_access={access};")));
        assert!(access_cookie.contains("HttpOnly"), "{access_cookie}");
        assert!(access_cookie.contains("SameSite=Strict"), "{access_cookie}");
        let refresh_cookie = cookies
            .iter()
            .find(|c| c.starts_with("logbook_refresh="))
            .unwrap_or_else(|| panic!("no logbook_refresh cookie in {cookies:?}"));
        assert!(refresh_cookie.starts_with(&format!("logbook_refresh={refresh};")));
        assert!(refresh_cookie.contains("HttpOnly"), "{refresh_cookie}");
        assert!(
            refresh_cookie.contains("SameSite=Strict"),
            "{refresh_cookie}"
        );

        let (status, me) = app.get(access, "/api/v1/auth/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["username"], "alpha-admin");
        assert_eq!(me["organization"]["id"], app.a.id.to_string());
    }
    // The stored refresh token is a hash, never the token itself.
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ? AND LENGTH(token_hash) = 64",
    )
    .bind(app.a.admin.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(stored >= 3, "three sign-ins, {stored} stored tokens");
    assert!(app.audit_actions(&app.a, "auth.login").await >= 3);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_answer_identically() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let (s1, wrong_password) = try_login(&app, "alpha-admin", "not the right password").await;
    let (s2, unknown_user) = try_login(&app, "nobody-here", "not the right password").await;
    let (s3, unknown_email) = try_login(&app, "nobody@example.org", PASSWORD).await;
    assert_problem(s1, &wrong_password, StatusCode::UNAUTHORIZED);
    assert_problem(s2, &unknown_user, StatusCode::UNAUTHORIZED);
    assert_problem(s3, &unknown_email, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password, unknown_email);
    // The wrong password counted against the account; the unknown names against nobody.
    assert_eq!(lock_state(&app, app.a.admin.id).await, (1, false));
    assert_eq!(lock_state(&app, app.b.admin.id).await, (0, false));
    // A success resets the count.
    app.login("alpha-admin", PASSWORD).await;
    assert_eq!(lock_state(&app, app.a.admin.id).await, (0, false));
}

#[tokio::test]
async fn five_failures_lock_the_account_until_the_lock_expires() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let m = app.member(&app.a, "lockme", &[]).await;
    let (_, generic) = try_login(&app, "nobody-here", "whatever it is").await;
    for attempt in 1..=5 {
        let (status, body) = try_login(&app, "lockme", "wrong password guess").await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
        assert_eq!(body, generic, "attempt {attempt} answered differently");
        let (count, locked) = lock_state(&app, m.id).await;
        if attempt < 5 {
            assert_eq!((count, locked), (attempt, false), "after attempt {attempt}");
        } else {
            assert!(locked, "not locked after 5 failures");
        }
    }
    // Locked: even the right password is refused, with the same answer.
    let (status, body) = try_login(&app, "lockme", PASSWORD).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(body, generic);
    let (status, body) = try_login(&app, "lockme@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // An alert for org A (and none for org B), visible to the administrator.
    let alert_user: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM security_alerts WHERE organization_id = ? AND alert_type = ?",
    )
    .bind(app.a.id)
    .bind("account_locked")
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(alert_user, Some(m.id));
    assert_eq!(alert_count(&app, &app.b, "account_locked").await, 0);
    let (status, alerts) = app.get(&app.a.admin.token, "/api/v1/security-alerts").await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    let items = alerts["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|a| a["alert_type"] == "account_locked" && a["user_id"] == m.id.to_string()),
        "{alerts}"
    );
    let (_, alerts_b) = app.get(&app.b.admin.token, "/api/v1/security-alerts").await;
    assert!(
        !alerts_b["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert_type"] == "account_locked"),
        "org B sees org A's alert: {alerts_b}"
    );
    assert!(app.audit_actions(&app.a, "auth.login_failed").await >= 5);

    // The lock runs out: the right password works again and the count starts from zero.
    sqlx::query(
        "UPDATE users SET locked_until = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE WHERE id = ?",
    )
    .bind(m.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    app.login("lockme", PASSWORD).await;
    let (count, until): (i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT failed_login_attempts, locked_until FROM users WHERE id = ?")
            .bind(m.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((count, until), (0, None));
    for _ in 0..4 {
        let (status, _) = try_login(&app, "lockme", "wrong password guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(lock_state(&app, m.id).await, (4, false));
    app.login("lockme", PASSWORD).await;
    assert_eq!(lock_state(&app, m.id).await, (0, false));
    assert_eq!(alert_count(&app, &app.a, "account_locked").await, 1);
}

#[tokio::test]
async fn fifty_failures_from_one_address_block_it() {
    // Private: the per-address block is the host's (and raises an alert in every department).
    let app = TestApp::spawn_private().await;
    for attempt in 1..=50 {
        let (status, body) = try_login(&app, &format!("nobody-{attempt}"), "some password").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {body}"
        );
    }
    let (status, body) = try_login(&app, "nobody-51", "some password").await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);
    // The right password does not get through the block either.
    let (status, body) = try_login(&app, "alpha-admin", PASSWORD).await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);
    let blocked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ip_blocks WHERE ip_address = '127.0.0.1'
            AND blocked_until > UTC_TIMESTAMP(6)",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(blocked, 1);
    // Every organization on the host hears of it, once.
    assert_eq!(alert_count(&app, &app.a, "ip_blocked").await, 1);
    assert_eq!(alert_count(&app, &app.b, "ip_blocked").await, 1);
    // Sessions already open keep working.
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // When the block runs out (fifteen minutes after the failures), the right password works
    // again.
    sqlx::query("UPDATE ip_blocks SET blocked_until = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE login_failures SET attempted_at = attempted_at - INTERVAL 16 MINUTE")
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.login("alpha-admin", PASSWORD).await;
}

/// Moves a used refresh token's use a minute into the past, beyond the grace window for racing
/// tabs, so that presenting it again counts as a replay.
async fn age_used_token(app: &TestApp, token: &str) {
    let hash = logbook::auth::tokens::hash_token(token);
    let changed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = used_at - INTERVAL 60 SECOND
          WHERE token_hash = ? AND used_at IS NOT NULL",
    )
    .bind(hash)
    .execute(&app.db.pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(changed, 1, "the token should have been used");
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let session = app.login("alpha-admin", PASSWORD).await;

    let (status, first) = try_refresh(&app, &session.refresh).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let access1 = first["access_token"].as_str().unwrap().to_string();
    let refresh1 = first["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, session.refresh);
    assert_ne!(access1, session.token);
    assert_eq!(first["expires_in"], 900);
    assert_eq!(
        jwt_payload(&access1)["sid"],
        jwt_payload(&session.token)["sid"]
    );
    let (status, _) = app.get(&access1, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    let (status, second) = try_refresh(&app, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let access2 = second["access_token"].as_str().unwrap().to_string();
    let refresh2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 0);

    // Within the grace window a replay is two tabs racing: refused, but the session lives on.
    let (status, body) = try_refresh(&app, &refresh1).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get(&access2, "/api/v1/auth/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a racing tab must not end the session"
    );
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 0);

    // Replaying the first (used) token later: refused, the whole family ends, an alert is raised.
    age_used_token(&app, &session.refresh).await;
    let (status, body) = try_refresh(&app, &session.refresh).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let (status, body) = try_refresh(&app, &refresh2).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    for token in [&session.token, &access1, &access2] {
        let (status, body) = app.get(token, "/api/v1/auth/me").await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    let family: Uuid = jwt_payload(&session.token)["sid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL",
    )
    .bind(family)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 1);
    assert_eq!(alert_count(&app, &app.b, "refresh_token_reuse").await, 0);
    assert_eq!(app.audit_actions(&app.a, "auth.refresh_reuse").await, 1);
    // Only that session: the administrator's other session goes on.
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // Garbage and a missing token are refused too, without an alert.
    let (status, body) = try_refresh(&app, "not-a-token").await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let (status, _, body) = post_anon(&app, "/api/v1/auth/refresh", json!({})).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 1);
}

#[tokio::test]
async fn refresh_works_from_the_cookie() {
    let app = TestApp::spawn().await;
    let browser = cookie_client();
    let res = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "alpha-admin", "password": PASSWORD,
                      "organization": app.a.slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let login: Value = res.json().await.unwrap();
    let login_refresh = login["refresh_token"].as_str().unwrap().to_string();

    // Without X-Requested-With the cookie is not enough (CSRF), and nothing rotates.
    let res = browser
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = browser
        .post(app.url("/api/v1/auth/refresh"))
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(res.headers());
    assert!(
        cookies.iter().any(|c| c.starts_with("logbook_access=")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("logbook_refresh=")),
        "{cookies:?}"
    );
    let rotated: Value = res.json().await.unwrap();
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, login_refresh);

    // The rotated cookies are in use: /me by cookie alone, and a second cookie refresh.
    let res = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = browser
        .post(app.url("/api/v1/auth/refresh"))
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // The cookie refresh really consumed the login's token: replaying it (after the grace
    // window for racing tabs) is a reuse.
    age_used_token(&app, &login_refresh).await;
    let (status, _) = try_refresh(&app, &login_refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 1);
    let res = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_sessions_need_the_header_and_the_same_origin() {
    let app = TestApp::spawn().await;
    let browser = cookie_client();
    let res = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "alpha-admin", "password": PASSWORD,
                      "organization": app.a.slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // GET by cookie alone works.
    let res = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = browser
        .get(app.url("/api/v1/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let before = app.snapshot(&app.a).await;
    // A state change by cookie without X-Requested-With.
    let res = browser
        .post(app.url("/api/v1/members"))
        .json(
            &json!({"username": "csrf-victim", "email": "csrf@example.org",
                      "first_name": "C", "last_name": "Srf"}),
        )
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let res = browser
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // With the header but from a foreign origin.
    for origin in [
        "http://evil.example",
        "null",
        "https://127.0.0.1.evil.example",
    ] {
        let res = browser
            .post(app.url("/api/v1/auth/logout"))
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "origin {origin}");
    }
    // A foreign origin is refused for Bearer callers too.
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&app.a.admin.token)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.snapshot(&app.a).await,
        before,
        "a refused request changed data"
    );
    let res = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the session was ended");

    // Same origin with the header: allowed, and the cookies are cleared.
    let res = browser
        .post(app.url("/api/v1/auth/logout"))
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Origin", app.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(res.headers());
    for name in ["logbook_access=", "logbook_refresh="] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{name} not cleared: {cleared:?}"
        );
    }
    let res = browser
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_ends_access_at_once() {
    let app = TestApp::spawn().await;
    let session = app.login("alpha-admin", PASSWORD).await;
    let (status, body) = app
        .post(&session.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app.get(&session.token, "/api/v1/auth/me").await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get(&session.token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = try_refresh(&app, &session.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Logging out twice is refused (the session is gone), and no reuse alert comes of it.
    let (status, _) = app
        .post(&session.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(alert_count(&app, &app.a, "refresh_token_reuse").await, 0);
    assert_eq!(app.audit_actions(&app.a, "auth.logout").await, 1);
    // Other sessions of the same member continue.
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn change_password_checks_both_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "changer", &[]).await;
    let other = app.login("changer", PASSWORD).await;
    let hash_before: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
        .bind(m.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();

    let (status, body) = app
        .post(
            &m.token,
            "/api/v1/auth/change-password",
            json!({"current_password": "not my password at all", "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["current_password"]);
    for weak in ["short", "password1234", "changer-is-my-name"] {
        let (status, body) = app
            .post(
                &m.token,
                "/api/v1/auth/change-password",
                json!({"current_password": PASSWORD, "new_password": weak}),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&body), vec!["new_password"], "{weak}: {body}");
    }
    let (status, body) = app
        .post(
            &m.token,
            "/api/v1/auth/change-password",
            json!({"current_password": PASSWORD, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), vec!["new_password"]);
    let hash_now: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
        .bind(m.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        hash_now, hash_before,
        "a refused change changed the password"
    );
    let (status, _) = app.get(&other.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "a refused change ended a session");

    let (status, body) = app
        .post(
            &m.token,
            "/api/v1/auth/change-password",
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(body["must_change_password"], false);

    // Every earlier session ended at once, this device's old token included.
    for token in [&m.token, &other.token] {
        let (status, body) = app.get(token, "/api/v1/auth/me").await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = try_refresh(&app, &other.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The new tokens work.
    let (status, me) = app.get(access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, body) = try_refresh(&app, refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _) = try_login_named(&app, "changer", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("changer", NEW_PASSWORD).await;

    // Audited, without the password.
    assert_eq!(app.audit_actions(&app.a, "auth.password_changed").await, 1);
    let leaked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_logs WHERE changes LIKE ? OR changes LIKE ?",
    )
    .bind(format!("%{NEW_PASSWORD}%"))
    .bind(format!("%{PASSWORD}%"))
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0, "a password reached the audit log");
}

#[tokio::test]
async fn reset_password_confines_the_member_to_changing_it() {
    let app = TestApp::spawn().await;
    let m = app
        .member_with(&app.a, "forgetful", &["members.view"])
        .await;
    let temporary = "temporary passphrase 42";
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/password-reset", m.id),
            json!({"temporary_password": temporary}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The reset ends the member's sessions and the old password.
    let (status, _) = app.get(&m.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = try_login_named(&app, "forgetful", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, login) = try_login_named(&app, "forgetful", temporary).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["must_change_password"], true);
    let token = login["access_token"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/members".to_string(),
        format!("/api/v1/members/{}", m.id),
        "/api/v1/roles".to_string(),
        "/api/v1/organization".to_string(),
    ] {
        let (status, body) = app.get(&token, &path).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
        assert!(
            body["type"]
                .as_str()
                .unwrap()
                .ends_with("password-change-required"),
            "{path}: {body}"
        );
    }
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/v1/members/{}", m.id),
            json!({"phone": "555-0100"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, me) = app.get(&token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["must_change_password"], true);
    // A refresh does not lift the confinement.
    let (status, refreshed) = try_refresh(&app, login["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["must_change_password"], true);
    let token = refreshed["access_token"].as_str().unwrap().to_string();
    let (status, _) = app.get(&token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, changed) = app
        .post(
            &token,
            "/api/v1/auth/change-password",
            json!({"current_password": temporary, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let token = changed["access_token"].as_str().unwrap();
    let (status, body) = app.get(token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = app.get(token, "/api/v1/auth/me").await;
    assert_eq!(me["must_change_password"], false);
    let flag: bool = sqlx::query_scalar("SELECT must_change_password FROM users WHERE id = ?")
        .bind(m.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!flag);
}

#[tokio::test]
async fn suspending_a_member_ends_their_sessions_and_sign_in() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "suspect", &[]).await;
    let other = app.login("suspect", PASSWORD).await;
    let (_, generic) = try_login_named(&app, "nobody-here", "whatever it is").await;

    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/status", m.id),
            json!({"status": "suspended", "reason": "pending a conduct review"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "suspended");
    for token in [&m.token, &other.token] {
        let (status, body) = app.get(token, "/api/v1/auth/me").await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = try_refresh(&app, &m.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL",
    )
    .bind(m.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    let (status, body) = try_login_named(&app, "suspect", PASSWORD).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(body, generic, "the answer reveals the suspension");

    // A member on leave keeps signing in.
    let l = app.member(&app.a, "traveller", &[]).await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/status", l.id),
            json!({"status": "leave", "reason": "deployed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get(&l.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forged_and_mangled_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.login("alpha-admin", PASSWORD).await;
    let claims = jwt_payload(&session.token);
    let parts: Vec<&str> = session.token.split('.').collect();

    // A token made here with the server's own key works (so the refusals below are real).
    let key = server_jwt_key(&app);
    let now = chrono::Utc::now().timestamp();
    let mut fresh = claims.clone();
    fresh["iat"] = json!(now);
    fresh["exp"] = json!(now + 600);
    let good = sign(&fresh, jsonwebtoken::Algorithm::HS256, &key);
    let (status, body) = app.get(&good, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The signature with one character changed (mid-way, so real bits change).
    let sig = parts[2];
    let mid = sig.len() / 2;
    let flipped = if &sig[mid..mid + 1] == "A" { "B" } else { "A" };
    let tampered = format!(
        "{}.{}.{}{}{}",
        parts[0],
        parts[1],
        &sig[..mid],
        flipped,
        &sig[mid + 1..]
    );
    // The payload changed under the original signature (another organization).
    let mut other_org = claims.clone();
    other_org["org"] = json!(app.b.id.to_string());
    let swapped_payload = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(other_org.to_string()),
        parts[2]
    );
    let other_key = sign(
        &fresh,
        jsonwebtoken::Algorithm::HS256,
        b"another key that is long enough to be accepted",
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let alg_none_sig = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    let hs512 = sign(&fresh, jsonwebtoken::Algorithm::HS512, &key);
    let mut expired = fresh.clone();
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 1800);
    let mut wrong_aud = fresh.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = fresh.clone();
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_type = fresh.clone();
    wrong_type["typ"] = json!("refresh");
    let mut unknown_session = fresh.clone();
    unknown_session["sid"] = json!(Uuid::now_v7().to_string());
    let mut cross_org = fresh.clone();
    cross_org["org"] = json!(app.b.id.to_string());

    let cases: Vec<(&str, String)> = vec![
        ("tampered signature", tampered),
        ("payload swapped", swapped_payload),
        ("another key", other_key),
        ("alg none", alg_none),
        ("alg none with signature", alg_none_sig),
        ("HS512", hs512),
        (
            "expired",
            sign(&expired, jsonwebtoken::Algorithm::HS256, &key),
        ),
        (
            "wrong audience",
            sign(&wrong_aud, jsonwebtoken::Algorithm::HS256, &key),
        ),
        (
            "wrong issuer",
            sign(&wrong_iss, jsonwebtoken::Algorithm::HS256, &key),
        ),
        (
            "wrong type",
            sign(&wrong_type, jsonwebtoken::Algorithm::HS256, &key),
        ),
        (
            "unknown session",
            sign(&unknown_session, jsonwebtoken::Algorithm::HS256, &key),
        ),
        (
            "another organization",
            sign(&cross_org, jsonwebtoken::Algorithm::HS256, &key),
        ),
        ("refresh token as access token", session.refresh.clone()),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (name, token) in cases {
        let (status, body) = app.get(&token, "/api/v1/auth/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
        // ...and as a cookie.
        let res = app
            .client
            .get(app.url("/api/v1/members"))
            .header("Cookie", format!("logbook_access={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name} as cookie");
    }
    // No token at all.
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The real session is untouched.
    let (status, _) = app.get(&session.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_organization_field_picks_the_department_on_a_shared_host() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    // The same person volunteers in both departments, with one username and one password.
    app.member(&app.a, "casey", &[]).await;
    app.member(&app.b, "casey", &[]).await;
    let id_in = |org: Uuid| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM users WHERE organization_id = ? AND username = 'casey'",
        )
        .bind(org)
        .fetch_one(&app.db.pool)
    };
    let (in_a, in_b) = (
        id_in(app.a.id).await.unwrap(),
        id_in(app.b.id).await.unwrap(),
    );
    let login = |org: Option<&str>, password: &str| {
        let mut body = json!({"username": "casey", "password": password});
        if let Some(slug) = org {
            body["organization"] = json!(slug);
        }
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&body)
            .send()
    };
    let me_org = |res: reqwest::Response| async move {
        let body: Value = res.json().await.unwrap();
        jwt_payload(body["access_token"].as_str().unwrap())["org"].clone()
    };
    // Without the field the older organization wins; with it, the named one.
    let res = login(None, PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(me_org(res).await, json!(app.a.id));
    let res = login(Some(&app.b.slug), PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(me_org(res).await, json!(app.b.id));
    // A wrong password aimed at B counts against B's account only.
    let res = login(Some(&app.b.slug), "not the password at all")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let failures = |id: Uuid| {
        sqlx::query_scalar::<_, i32>("SELECT failed_login_attempts FROM users WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db.pool)
    };
    assert_eq!(failures(in_b).await.unwrap(), 1);
    assert_eq!(failures(in_a).await.unwrap(), 0);
    // An unknown organization is just a failed sign-in.
    let res = login(Some("no-such-department"), PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// `n` sign-ins sent together (a barrier releases them), each on its own connection.
async fn sign_ins_at_once(app: &TestApp, bodies: Vec<Value>) -> Vec<StatusCode> {
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let mut sends = tokio::task::JoinSet::new();
    for body in bodies {
        let (gate, url) = (gate.clone(), app.url("/api/v1/auth/login"));
        sends.spawn(async move {
            let client = reqwest::Client::new();
            gate.wait().await;
            let res = client.post(url).json(&body).send().await.unwrap();
            res.status()
        });
    }
    sends.join_all().await
}

async fn failures_audited(app: &TestApp, org: &Org, user: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_logs WHERE organization_id = ? AND action = 'auth.login_failed'
            AND entity_id = ?",
    )
    .bind(org.id)
    .bind(user.to_string())
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn parallel_guesses_meet_the_account_limit() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let m = app.member(&app.a, "guessed", &[]).await;
    // Thirty wrong guesses at once: five are checked and lock the account; the rest are
    // refused unchecked, exactly like guesses sent after the lock.
    let wrong = json!({"username": "guessed", "password": "not the password"});
    let answers = sign_ins_at_once(&app, vec![wrong.clone(); 30]).await;
    assert!(
        answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    assert_eq!(failures_audited(&app, &app.a, m.id).await, 5);
    assert!(lock_state(&app, m.id).await.1, "locked");
    assert_eq!(alert_count(&app, &app.a, "account_locked").await, 1);
    let (status, _) = try_login(&app, "guessed", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the lock holds");

    // Twenty-nine wrong and the right one together: at most five passwords are checked in all,
    // so the right one gets in only if it was among them.
    let m = app.member(&app.a, "guessed-too", &[]).await;
    let mut bodies = vec![json!({"username": "guessed-too", "password": "nope, wrong"}); 29];
    bodies.push(json!({"username": "guessed-too", "password": PASSWORD}));
    let answers = sign_ins_at_once(&app, bodies).await;
    let signed_in = answers.iter().filter(|s| **s == StatusCode::OK).count() as i64;
    let checked_wrong = failures_audited(&app, &app.a, m.id).await;
    assert!(
        signed_in + checked_wrong <= 5,
        "{signed_in} + {checked_wrong}: {answers:?}"
    );
}

#[tokio::test]
async fn parallel_guesses_meet_the_address_limit() {
    // Private: the per-address block is the host's (and raises an alert in every department).
    let app = TestApp::spawn_private().await;
    let bodies = (0..120)
        .map(|i| json!({"username": format!("nobody-{i}"), "password": "some password"}))
        .collect();
    let answers = sign_ins_at_once(&app, bodies).await;
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((checked, refused), (50, 70), "{answers:?}");
    // The address is blocked, and each department told once.
    let (status, body) = try_login(&app, "alpha-admin", PASSWORD).await;
    assert_problem(status, &body, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(alert_count(&app, &app.a, "ip_blocked").await, 1);
    assert_eq!(alert_count(&app, &app.b, "ip_blocked").await, 1);
}

#[tokio::test]
async fn typos_in_one_department_never_lock_another_departments_account() {
    // Private: a sign-in that names no department looks the name up across the whole host;
    // this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    app.member(&app.a, "sam", &[]).await;
    app.member(&app.b, "sam", &[]).await;
    // (The harness signs each in without a department, so their ids come from the database.)
    let sam_in = |org: Uuid| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM users WHERE organization_id = ? AND username = 'sam'",
        )
        .bind(org)
        .fetch_one(&app.db.pool)
    };
    let (a, b) = (
        sam_in(app.a.id).await.unwrap(),
        sam_in(app.b.id).await.unwrap(),
    );
    // Five typos from the sign-in form (no department named): the name is used in two
    // departments, so neither account counts them; both still sign in.
    for _ in 0..5 {
        let (status, _) = try_login(&app, "sam", "a typo of the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(lock_state(&app, a).await, (0, false));
    assert_eq!(lock_state(&app, b).await, (0, false));
    // Each department's log still shows the attempts.
    assert_eq!(failures_audited(&app, &app.b, b).await, 5);
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "sam", "password": PASSWORD, "organization": app.b.slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Naming the department counts against that department's account only.
    for _ in 0..5 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "sam", "password": "wrong", "organization": app.a.slug}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(lock_state(&app, a).await.1, "A's sam is locked");
    assert_eq!(lock_state(&app, b).await, (0, false));
}

/// `/auth/me` reads the account in the session's own statement: the same roles (ids, order,
/// times) as the member's roles list, and none for a member without any.
#[tokio::test]
async fn me_lists_the_same_roles_as_the_members_roles() {
    let app = TestApp::spawn().await;
    let officer = app
        .member(&app.a, "me-officer", &["training_officer", "secretary"])
        .await;
    let plain = app.member(&app.a, "me-plain", &[]).await;
    let (status, me) = app.get(&officer.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, roles) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/roles", officer.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{roles}");
    // The two given and every member's own.
    assert_eq!(roles.as_array().unwrap().len(), 3, "{roles}");
    assert_eq!(me["roles"], roles);
    assert_eq!(me["username"], "me-officer");
    assert_eq!(me["organization"]["id"], app.a.id.to_string());
    sqlx::query("DELETE FROM user_roles WHERE user_id = ?")
        .bind(plain.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, me) = app.get(&plain.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["roles"], serde_json::json!([]));
    assert_eq!(me["permissions"].as_array().map(Vec::len), Some(0), "{me}");
}
