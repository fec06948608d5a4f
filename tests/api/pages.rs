//! The HTML face: sign-in, sign-out, forced password change, dashboard, static assets.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};

use crate::harness::*;

#[tokio::test]
async fn a_visitor_is_sent_to_sign_in_and_back() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let res = app.page_get_response("/?tab=x", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?next=/%3Ftab%3Dx");

    let res = app.page_get_response("/login?next=/%3Ftab%3Dx", "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<label for="username">"#), "{html}");
    assert!(html.contains(r#"<label for="password">"#));
    assert!(html.contains(r#"name="next" value="/?tab=x""#), "{html}");

    let res = app
        .page_sign_in_form("alpha-admin", PASSWORD, "/?tab=x")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/?tab=x");
    let jar = cookies_from(&res);
    assert!(jar.iter().any(|(k, _)| k == "logbook_access"));
    let res = app.page_get_response("/", &cookie_header(&jar)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Alpha Fire Department"), "{html}");
    assert!(html.contains("IT Administrator"));
    assert!(!html.contains("Bravo Fire Department"));
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = app.page_sign_in_form("alpha-admin", PASSWORD, evil).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/", "next={evil}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_shown_beside_the_form_and_keeps_the_username() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let res = app
        .page_sign_in_form("alpha-admin", "not the password", "/")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(cookies_from(&res).is_empty());
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#), "{html}");
    assert!(html.contains("The username or password is wrong"), "{html}");
    assert!(html.contains(r#"value="alpha-admin""#));
    assert!(html.contains(r#"aria-describedby="signin-error""#));
    // HTML in the username is escaped, never echoed raw.
    let res = app
        .page_sign_in_form("<script>x</script>", "whatever", "/")
        .await;
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>x</script>"));
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "{html}"
    );
}

#[tokio::test]
async fn a_temporary_password_must_be_changed_first() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let m = app.member(&app.a, "newbie", &[]).await;
    let (status, _) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/password-reset", m.id),
            serde_json::json!({"temporary_password": "temporary station words"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let res = app
        .page_sign_in_form("newbie", "temporary station words", "/")
        .await;
    assert_eq!(res.headers()[LOCATION], "/account/password");
    let jar = cookie_header(&cookies_from(&res));
    let res = app.page_get_response("/", &jar).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account/password");
    let html = app
        .page_get_response("/account/password", &jar)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("temporary password"), "{html}");

    let post = async |current: &str, new: &str| {
        let form = [("current_password", current), ("new_password", new)];
        app.page_post_response("/account/password", &jar, &form)
            .await
    };
    let res = post("wrong words entirely", "my own long passphrase").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="current_password-error""#), "{html}");
    let res = post("temporary station words", "short").await;
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="new_password-error""#), "{html}");
    assert!(html.contains("at least 12 characters"), "{html}");

    let res = post("temporary station words", "my own long passphrase").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let jar = cookie_header(&cookies_from(&res));
    let res = app.page_get_response("/", &jar).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn signing_out_needs_the_same_origin_and_ends_the_session() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let res = app.page_sign_in_form("alpha-admin", PASSWORD, "/").await;
    let jar = cookie_header(&cookies_from(&res));
    // A cookie-borne POST with neither Origin nor X-Requested-With is refused.
    let res = browser()
        .post(app.url("/logout"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser()
        .post(app.url("/logout"))
        .header(COOKIE, &jar)
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.page_get_response("/", &jar).await.status(),
        StatusCode::OK
    );

    let res = browser()
        .post(app.url("/logout"))
        .header(COOKIE, &jar)
        .header(ORIGIN, &app.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login");
    let cleared = cookies_from(&res);
    assert!(cleared.iter().all(|(_, v)| v.is_empty()), "{cleared:?}");
    // The old cookies no longer open anything, and cannot be refreshed either.
    let res = app.page_get_response("/", &jar).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_expired_access_cookie_is_refreshed_transparently() {
    // Private: the sign-in form names no department, so it looks the username up across the
    // whole host; this test needs its names to be the only ones there.
    let app = TestApp::spawn_private().await;
    let res = app.page_sign_in_form("alpha-admin", PASSWORD, "/").await;
    let jar = cookies_from(&res);
    let refresh_only: Vec<(String, String)> = jar
        .iter()
        .filter(|(k, _)| k == "logbook_refresh")
        .cloned()
        .chain([(
            "logbook_access".to_string(),
            "expired.or.garbage".to_string(),
        )])
        .collect();
    let res = app
        .page_get_response("/", &cookie_header(&refresh_only))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let renewed = cookies_from(&res);
    assert!(
        renewed
            .iter()
            .any(|(k, v)| k == "logbook_access" && !v.is_empty())
    );
    let new_refresh = renewed
        .iter()
        .find(|(k, _)| k == "logbook_refresh")
        .map(|(_, v)| v.clone())
        .expect("a rotated refresh cookie");
    let old_refresh = &jar.iter().find(|(k, _)| k == "logbook_refresh").unwrap().1;
    assert_ne!(&new_refresh, old_refresh);
    // The renewed cookies work on their own.
    let res = app.page_get_response("/", &cookie_header(&renewed)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn assets_and_unknown_pages() {
    let app = TestApp::spawn().await;
    let res = app.page_get_response("/static/app.css", "").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let res = app.page_get_response("/static/nope.js", "").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.page_get_response("/no/such/page", "").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // The API keeps answering problems.
    let res = app.page_get_response("/api/v1/nope", "").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("problem+json")
    );
}

/// A page path with two ids (`/members/{id}/leaves/{leave}/edit`) answers the 404 page when
/// either is not an id, like a missing row; a role page with a malformed id too.
#[tokio::test]
async fn malformed_ids_in_page_paths_answer_the_404_page() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.a.admin.id;
    for path in [
        format!("/members/{member}/leaves/not-a-uuid/edit"),
        format!("/members/not-a-uuid/leaves/{member}/edit"),
        format!("/members/{member}/leaves/1/remove"),
        format!("/training/programs/{member}/items/%3Cscript%3E/remove"),
        "/roles/not-a-uuid".to_string(),
        "/announcements/not-a-uuid/withdraw".to_string(),
    ] {
        let res = app.page_get_response(&path, &cookies).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let kind = res.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
    }
}
