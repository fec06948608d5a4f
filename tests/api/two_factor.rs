//! Two-factor sign-in: enrolment with a code computed from the secret the server gave (the way
//! an authenticator app does), the code step of signing in, codes that work once, recovery
//! codes, lockout after five wrong codes, parallel double taps, turning it off, the
//! department's rule for administrators, who may reset whose, and bad input.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// The code an authenticator app shows for `secret`, `steps` time steps from now.
fn code(secret: &str, steps: i64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = chrono::Utc::now().timestamp() + steps * 30;
    totp.generate(u64::try_from(now).unwrap()).to_string()
}

async fn anon_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Turns two-factor sign-in on for `user`; the secret and the recovery codes.
async fn enrol(app: &TestApp, user: &User) -> (String, Vec<String>) {
    let (status, setup) = app
        .post(&user.token, "/api/v1/auth/two-factor/setup", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(
        setup["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/"),
        "{setup}"
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let (status, codes) = app
        .post(
            &user.token,
            "/api/v1/auth/two-factor/confirm",
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

/// The password step (naming the member's department); status and body.
async fn password_step(app: &TestApp, username: &str) -> (StatusCode, Value) {
    let res = app.login_response(username, PASSWORD, None).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The password step; the challenge it answers with.
async fn challenge(app: &TestApp, username: &str) -> String {
    let (status, body) = password_step(app, username).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["two_factor_required"], true, "{body}");
    assert!(body.get("access_token").is_none(), "no tokens yet: {body}");
    body["challenge"].as_str().unwrap().to_string()
}

async fn complete(app: &TestApp, challenge: &str, code: &str) -> (StatusCode, Value) {
    anon_post(
        app,
        "/api/v1/auth/login/two-factor",
        json!({"challenge": challenge, "code": code}),
    )
    .await
}

async fn sessions_of(app: &TestApp, user: Uuid) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?")
        .bind(user)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn locked(app: &TestApp, user: Uuid) -> bool {
    sqlx::query_scalar(
        "SELECT COALESCE(locked_until > UTC_TIMESTAMP(6), FALSE) FROM users WHERE id = ?",
    )
    .bind(user)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn enrolment_then_every_sign_in_needs_a_code_that_works_once() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "two-step", &[]).await;
    let (_, status) = app.get(&member.token, "/api/v1/auth/two-factor").await;
    assert_eq!(status["enabled"], false, "{status}");

    // A wrong first code does not turn it on; the right one does, with ten recovery codes.
    let (_, setup) = app
        .post(&member.token, "/api/v1/auth/two-factor/setup", json!({}))
        .await;
    let secret = setup["secret"].as_str().unwrap().to_string();
    let (status, body) = app
        .post(
            &member.token,
            "/api/v1/auth/two-factor/confirm",
            json!({"code": code(&secret, -20)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["code".to_string()]);
    let (status, codes) = app
        .post(
            &member.token,
            "/api/v1/auth/two-factor/confirm",
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let recovery: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        app.audit_actions(&app.a, "auth.two_factor_enabled").await,
        1
    );
    // The secret is not stored in the clear.
    let raw: Vec<u8> =
        sqlx::query_scalar("SELECT secret_encrypted FROM two_factor_secrets WHERE user_id = ?")
            .bind(member.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains(&secret));

    // The password alone starts no session.
    let before = sessions_of(&app, member.id).await;
    let ch = challenge(&app, "two-step").await;
    assert_eq!(sessions_of(&app, member.id).await, before);
    // Bad input: a code that is no code, a challenge that is no challenge.
    let (status, body) = complete(&app, &ch, "12ab56").await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = complete(&app, "not-a-challenge", &code(&secret, 1)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    let (status, body) = complete(&app, &"x".repeat(5000), &code(&secret, 1)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    // The code confirming the set-up was used: the next one signs in.
    let next = code(&secret, 1);
    let (status, tokens) = complete(&app, &ch, &next).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let (status, me) = app.get(token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    // The same code again, even with a new challenge: refused (a code works once).
    let ch = challenge(&app, "two-step").await;
    let (status, body) = complete(&app, &ch, &next).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    // A recovery code works once (its dash and case do not matter).
    let (status, _) = complete(&app, &ch, &recovery[0].to_uppercase()).await;
    assert_eq!(status, StatusCode::OK);
    let ch = challenge(&app, "two-step").await;
    let (status, body) = complete(&app, &ch, &recovery[0]).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.audit_actions(&app.a, "auth.recovery_code_used").await,
        1
    );
    // A used challenge cannot be used again.
    let (status, _) = complete(&app, &ch, &recovery[1]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = complete(&app, &ch, &recovery[2]).await;
    assert!(
        status == StatusCode::CONFLICT || status == StatusCode::UNAUTHORIZED,
        "{status} {body}"
    );
    let (_, status) = app.get(token, "/api/v1/auth/two-factor").await;
    assert_eq!(status["recovery_codes_left"], 8, "{status}");
}

#[tokio::test]
async fn five_wrong_codes_lock_the_account_like_five_wrong_passwords() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "guessed-code", &[]).await;
    let (secret, _) = enrol(&app, &member).await;
    // Knowing the password does not buy more guesses: each new challenge keeps the count.
    for _ in 0..5 {
        let ch = challenge(&app, "guessed-code").await;
        let (status, body) = complete(&app, &ch, "000000").await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED);
    }
    assert!(locked(&app, member.id).await);
    assert_eq!(app.audit_actions(&app.a, "auth.two_factor_failed").await, 5);
    // Locked: neither the password nor the right code gets in.
    let (status, _) = password_step(&app, "guessed-code").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sqlx::query("UPDATE users SET locked_until = NULL WHERE id = ?")
        .bind(member.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let ch = challenge(&app, "guessed-code").await;
    let (status, _) = complete(&app, &ch, &code(&secret, 1)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn twenty_taps_of_one_code_make_one_session() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "double-tap", &[]).await;
    let (secret, _) = enrol(&app, &member).await;
    let ch = challenge(&app, "double-tap").await;
    let before = sessions_of(&app, member.id).await;
    let good = code(&secret, 1);
    let gate = Arc::new(tokio::sync::Barrier::new(20));
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (gate, url) = (gate.clone(), app.url("/api/v1/auth/login/two-factor"));
        let body = json!({"challenge": ch, "code": good});
        sends.spawn(async move {
            let client = reqwest::Client::new();
            gate.wait().await;
            client.post(url).json(&body).send().await.unwrap().status()
        });
    }
    let answers = sends.join_all().await;
    let ok = answers.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(
        answers.iter().all(|s| s.is_success()
            || *s == StatusCode::CONFLICT
            || *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    assert_eq!(sessions_of(&app, member.id).await, before + 1);
    assert!(!locked(&app, member.id).await, "a double tap never locks");
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_the_department_can_require_it() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.clone();
    let plain = app.member(&app.a, "plain-member", &[]).await;
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &plain.token,
            "/api/v1/settings/two-factor",
            Some(json!({"required": true})),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, policy) = app
        .call(
            reqwest::Method::PUT,
            &admin.token,
            "/api/v1/settings/two-factor",
            Some(json!({"required": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["required"], true);
    assert!(
        policy["not_enrolled"].to_string().contains("alpha-admin")
            || !policy["not_enrolled"].as_array().unwrap().is_empty(),
        "{policy}"
    );
    assert_eq!(
        app.audit_actions(&app.a, "organization.two_factor_policy_changed")
            .await,
        1
    );
    // The admin, without two-factor, can now only enrol; a plain member is not concerned.
    let (status, body) = app.get(&admin.token, "/api/v1/members").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(body["type"], "/problems/two-factor-required", "{body}");
    let (status, _) = app.get(&plain.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&plain.token, "/api/v1/training/records").await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .page_get_response("/members", &access_cookie(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/account/two-factor");
    enrol(&app, &admin).await;
    let (status, _) = app.get(&admin.token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::OK);
    // Required of the admin: turning it off is refused; for the plain member it is theirs.
    let (status, body) = app
        .post(
            &admin.token,
            "/api/v1/auth/two-factor/disable",
            json!({"password": PASSWORD}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    enrol(&app, &plain).await;
    let (status, body) = app
        .post(
            &plain.token,
            "/api/v1/auth/two-factor/disable",
            json!({"password": "not my password"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["password".to_string()]);
    let (status, _) = app
        .post(
            &plain.token,
            "/api/v1/auth/two-factor/disable",
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.login("plain-member", PASSWORD).await;
    assert_eq!(
        app.audit_actions(&app.a, "auth.two_factor_disabled").await,
        1
    );
}

#[tokio::test]
async fn only_an_administrator_of_the_department_resets_a_members_two_factor() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "lost-phone", &[]).await;
    let other = app.member(&app.a, "bystander", &[]).await;
    enrol(&app, &member).await;
    let path = format!("/api/v1/members/{}/two-factor/reset", member.id);
    let (status, body) = app.post(&other.token, &path, json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app.post(&app.b.admin.token, &path, json!({})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    // Another department's member cannot sign in with this department's challenge either.
    let (status, _) = app.post(&app.a.admin.token, &path, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.audit_actions(&app.a, "auth.two_factor_reset").await, 1);
    assert_eq!(app.audit_actions(&app.b, "auth.two_factor_reset").await, 0);
    // The member signs in with the password alone again.
    app.login("lost-phone", PASSWORD).await;
    let (status, body) = app.post(&app.a.admin.token, &path, json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_code_step_works_from_the_sign_in_page() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let member = app.member(&app.a, "page-two-step", &[]).await;
    let (secret, _) = enrol(&app, &member).await;
    let res = app
        .page_post_anonymous(
            "/login",
            &[("username", "page-two-step"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none(), "no session yet");
    let html = res.text().await.unwrap();
    assert!(html.contains("autocomplete=\"one-time-code\""), "{html}");
    let challenge = html
        .split("name=\"challenge\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let wrong = app
        .page_post_anonymous(
            "/login/two-factor",
            &[("challenge", &challenge), ("code", "000000"), ("next", "/")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("code-error"));
    let right = app
        .page_post_anonymous(
            "/login/two-factor",
            &[
                ("challenge", &challenge),
                ("code", &code(&secret, 1)),
                ("next", "/training/me"),
            ],
        )
        .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()["location"], "/training/me");
    assert!(right.headers().get("set-cookie").is_some());
}
