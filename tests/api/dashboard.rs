//! The dashboard tells each member what needs them: a settings manager what needs fixing in
//! Settings, a training officer who is in red and whose certification runs out, each one tap
//! from its page; a plain member none of that.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn an_officer_sees_what_needs_attention_and_a_member_does_not() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "certified", &[]).await;
    // Written as the department writes dates (US by default: month first).
    let expires = certification_expiring(&app, &app.a, member.id, 700, 20)
        .await
        .format("%m/%d/%Y")
        .to_string();

    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    // Settings: email and HTTPS are not set up here, each a tap from its page.
    assert!(html.contains("Needs attention"), "{html}");
    assert!(
        html.contains(r#"<a href="/settings/email">Email is not set up"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/settings/https">HTTPS is off"#),
        "{html}"
    );
    // Training: the certification running out, a tap from the member's training page.
    assert!(html.contains("Certifications expiring"), "{html}");
    assert!(
        html.contains(&format!(
            r#"<a href="/training/members/{}">Test certified: CPR expires on {expires}</a>"#,
            member.id
        )),
        "{html}"
    );
    let (status, _, _) = app
        .page_get(&format!("/training/members/{}", member.id), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Email set up: that line goes.
    email_to_sink(&app, &app.a, 9).await;
    let (_, _, html) = app.page_get("/", &cookies).await;
    assert!(!html.contains("Email is not set up"), "{html}");

    // A plain member sees their own training, none of the officers' panels.
    let plain = app.page_sign_in(&member.username, PASSWORD).await;
    let (status, _, html) = app.page_get("/", &plain).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Training due"), "{html}");
    for officers in [
        "Needs attention",
        "Certifications expiring",
        "Training officer",
    ] {
        assert!(!html.contains(officers), "{officers}: {html}");
    }
    // Another department's officer does not see this member's certification.
    let (_, _, html) = app
        .page_get("/", &app.page_sign_in("bravo-admin", PASSWORD).await)
        .await;
    assert!(!html.contains("Test certified"), "{html}");
}
