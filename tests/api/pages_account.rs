//! The account page: the member's own details and live sessions; signing out one session or
//! all of them.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use uuid::Uuid;

use crate::harness::*;

/// What a sign-out button posts.
const SIGN_OUT: &[(&str, &str)] = &[("x", "")];

/// Signs out the session (refresh-token family) `family` from the account page.
async fn revoke(app: &TestApp, family: impl std::fmt::Display, cookies: &str) -> reqwest::Response {
    app.page_post_response(
        &format!("/account/sessions/{family}/revoke"),
        cookies,
        SIGN_OUT,
    )
    .await
}

/// The session (refresh-token family) ids of a member, oldest first.
async fn families(app: &TestApp, user: Uuid) -> Vec<Uuid> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT family_id FROM refresh_tokens WHERE user_id = ?
          GROUP BY family_id ORDER BY MIN(created_at)",
    )
    .bind(user)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(f,)| f).collect()
}

async fn revocation_entries(app: &TestApp, org: &Org) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT changes FROM audit_logs WHERE organization_id = ? AND action = 'auth.sessions_revoked'
          ORDER BY sequence",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let res = app.page_get_response("/account", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?next=/account");
    let res = app
        .page_post_response("/account/sessions/revoke-all", "", SIGN_OUT)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login"),
        "{:?}",
        res.headers()[LOCATION]
    );
}

#[tokio::test]
async fn the_page_shows_the_member_and_their_sessions_and_marks_this_one() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "firefighter", &[]).await; // one API session, no user agent
    let phone = app
        .page_sign_in_with_agent(
            "firefighter",
            PASSWORD,
            "Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile",
        )
        .await;
    let pc = app
        .page_sign_in_with_agent(
            "firefighter",
            PASSWORD,
            "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0",
        )
        .await;
    let _other = app
        .page_sign_in_with_agent(
            "alpha-admin",
            PASSWORD,
            "Mozilla/5.0 (X11; Linux) Firefox/1.0",
        )
        .await;

    let res = app.page_get_response("/account", &pc).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("firefighter@example.org") || html.contains("firefighter"),
        "{html}"
    );
    assert!(html.contains(r#"href="/account/password""#), "{html}");
    assert!(html.contains("Active sessions"));
    assert!(html.contains("Chrome on Android"), "{html}");
    assert!(html.contains("Firefox on Windows"), "{html}");
    assert!(html.contains(&app.client_ip()), "{html}");
    // Three sessions of this member, none of the admin's.
    let fams = families(&app, m.id).await;
    assert_eq!(fams.len(), 3);
    for f in &fams {
        assert!(
            html.contains(&format!("/account/sessions/{f}/revoke")),
            "{f} missing"
        );
    }
    assert!(
        !html.contains("Firefox/1.0"),
        "another member's session is listed"
    );
    // Exactly one is marked current: the PC's (the newest family) seen from the PC...
    assert_eq!(html.matches("This session").count(), 1, "{html}");
    assert_eq!(current_family(&html), fams[2].to_string());
    // ...and the phone's seen from the phone.
    let html = app
        .page_get_response("/account", &phone)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(current_family(&html), fams[1].to_string());
}

/// The family id in the session entry marked "This session".
fn current_family(html: &str) -> String {
    let entry = html
        .split(r#"<li class="session"#)
        .skip(1)
        .find(|e| e.contains("This session"))
        .expect("no current session marked");
    let from = entry.find("/account/sessions/").unwrap() + "/account/sessions/".len();
    entry[from..from + 36].to_string()
}

#[tokio::test]
async fn signing_out_one_session_ends_only_that_one() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "firefighter", &[]).await;
    let phone = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "phone")
        .await;
    let pc = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "pc")
        .await;
    let fams = families(&app, m.id).await;
    let (api, phone_fam) = (fams[0], fams[1]);
    let before = app.audit_count(&app.a).await;

    let res = revoke(&app, phone_fam, &pc).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account");
    assert!(cookies_from(&res).is_empty(), "the PC keeps its cookies");

    // The phone's cookies no longer work; the PC's and the API session's still do.
    let res = app.page_get_response("/account", &phone).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let res = app.page_get_response("/account", &pc).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(!html.contains(&phone_fam.to_string()));
    assert!(html.contains(&api.to_string()));
    let (status, _) = app.get(&m.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // Audited, once, in the member's organization.
    assert_eq!(app.audit_count(&app.a).await, before + 1);
    let entries = revocation_entries(&app, &app.a).await;
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0].contains(&phone_fam.to_string()),
        "{}",
        entries[0]
    );
    assert!(entries[0].contains("one"));

    // A second click on an ended session changes and audits nothing.
    let res = revoke(&app, phone_fam, &pc).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count(&app.a).await, before + 1);
}

#[tokio::test]
async fn signing_out_this_session_clears_the_cookies() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "firefighter", &[]).await;
    let pc = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "pc")
        .await;
    let pc_fam = *families(&app, m.id).await.last().unwrap();
    let res = revoke(&app, pc_fam, &pc).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login");
    assert!(
        cookies_from(&res)
            .iter()
            .any(|(k, v)| k == "logbook_access" && v.is_empty())
    );
    let res = app.page_get_response("/account", &pc).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _) = app.get(&m.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "the other session lives on");
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "firefighter", &[]).await;
    let phone = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "phone")
        .await;
    let pc = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "pc")
        .await;
    let admin = app
        .page_sign_in_with_agent("alpha-admin", PASSWORD, "admin pc")
        .await;
    let before = app.audit_count(&app.a).await;

    let res = app
        .page_post_response("/account/sessions/revoke-all", &pc, SIGN_OUT)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login");
    assert!(
        cookies_from(&res)
            .iter()
            .any(|(k, v)| k == "logbook_access" && v.is_empty())
    );
    for jar in [&phone, &pc] {
        let res = app.page_get_response("/account", jar).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(
            res.headers()[LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login")
        );
    }
    let (status, _) = app.get(&m.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The refresh token is dead too.
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": m.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Other members are untouched.
    assert_eq!(
        app.page_get_response("/account", &admin).await.status(),
        StatusCode::OK
    );

    assert_eq!(app.audit_count(&app.a).await, before + 1);
    let entries = revocation_entries(&app, &app.a).await;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].contains("all"));
    for f in families(&app, m.id).await {
        assert!(
            entries[0].contains(&f.to_string()),
            "{f} not in {}",
            entries[0]
        );
    }
}

#[tokio::test]
async fn another_members_session_cannot_be_ended() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "firefighter", &[]).await;
    let pc = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "pc")
        .await;
    let admin = app
        .page_sign_in_with_agent("alpha-admin", PASSWORD, "admin pc")
        .await;
    let admin_fam = *families(&app, app.a.admin.id).await.last().unwrap();
    let bravo_fam = families(&app, app.b.admin.id).await[0];
    let before_a = app.audit_count(&app.a).await;

    for fam in [admin_fam, bravo_fam, Uuid::now_v7()] {
        let res = revoke(&app, fam, &pc).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{fam}");
    }
    let res = revoke(&app, "not-a-uuid", &pc).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        app.page_get_response("/account", &admin).await.status(),
        StatusCode::OK
    );
    let (status, _) = app.get(&app.b.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.audit_count(&app.a).await, before_a);
    let _ = m;
}

#[tokio::test]
async fn a_post_without_our_origin_is_refused() {
    let app = TestApp::spawn().await;
    let _m = app.member(&app.a, "firefighter", &[]).await;
    let pc = app
        .page_sign_in_with_agent("firefighter", PASSWORD, "pc")
        .await;
    let res = app
        .browser()
        .post(app.url("/account/sessions/revoke-all"))
        .header(COOKIE, &pc)
        .header(ORIGIN, "http://evil.example")
        .form(SIGN_OUT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.page_get_response("/account", &pc).await.status(),
        StatusCode::OK
    );
}
