//! Parts of Logbook a department turns on and off (`Module::feature`): only what is built is
//! offered; a feature turned off leaves the navigation and the dashboard, and its routes answer
//! 404 for that department only.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn only_built_parts_are_offered_in_roles_notifications_and_the_wizard() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let (status, perms) = app.get(&admin, "/api/v1/permissions").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = perms
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"training.view"), "{names:?}");
    assert!(names.contains(&"members.manage"), "{names:?}");
    assert!(names.contains(&"inventory.manage"), "{names:?}");
    assert!(names.contains(&"events.manage"), "{names:?}");
    assert!(names.contains(&"scheduling.manage"), "{names:?}");
    assert!(names.contains(&"elections.manage"), "{names:?}");
    assert!(names.contains(&"minutes.manage"), "{names:?}");
    for unbuilt in ["forms.manage", "forms.view", "facilities.view"] {
        assert!(!names.contains(&unbuilt), "{unbuilt} is offered: {names:?}");
    }
    let (status, prefs) = app.get(&admin, "/api/v1/notifications/preferences").await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    let keys: Vec<&str> = prefs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["category"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"training") && keys.contains(&"security"),
        "{keys:?}"
    );
    assert!(keys.contains(&"inventory"), "{keys:?}");
    assert!(keys.contains(&"events"), "{keys:?}");
    assert!(keys.contains(&"scheduling"), "{keys:?}");
    assert!(keys.contains(&"elections"), "{keys:?}");
    assert!(keys.contains(&"minutes"), "{keys:?}");
    // A role edited on its page keeps what it holds of a part still to come (the Member role
    // holds forms.view from the start).
    let member_role: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM roles WHERE organization_id = ? AND slug = 'member'")
            .bind(app.a.org_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let held = |app: &TestApp| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT permission FROM role_permissions WHERE role_id = ? ORDER BY permission",
            )
            .bind(member_role)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert!(held(&app).await.contains(&"forms.view".to_string()));
    let role = app
        .get(&admin, &format!("/api/v1/roles/{member_role}"))
        .await
        .1;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let mut form: Vec<(String, String)> = vec![
        ("name".into(), role["name"].as_str().unwrap().into()),
        (
            "description".into(),
            role["description"].as_str().unwrap_or("").into(),
        ),
    ];
    for p in role["permissions"].as_array().unwrap() {
        let p = p.as_str().unwrap();
        if !p.starts_with("forms.") && p != "training.view" {
            form.push(("permissions".into(), p.into()));
        }
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, _) = app
        .page_post(&format!("/roles/{member_role}"), &cookies, &form)
        .await;
    assert!(
        status.is_redirection() || status == StatusCode::OK,
        "{status}"
    );
    let now = held(&app).await;
    assert!(
        !now.contains(&"training.view".to_string()),
        "the page's change is saved"
    );
    assert!(
        now.contains(&"forms.view".to_string()),
        "the hidden one is kept: {now:?}"
    );
}

#[tokio::test]
async fn a_part_turned_off_leaves_the_navigation_and_answers_404_for_that_department_only() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"href="/training""#),
        "training is in the navigation: {html}"
    );
    assert!(
        html.contains("Training due"),
        "its dashboard panel is there"
    );

    let (status, body) = app
        .patch(
            &admin,
            "/api/v1/organization",
            json!({"settings": {"modules": {"training": false}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, html) = app.page_get("/", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains(r#"href="/training""#),
        "training left the navigation"
    );
    assert!(
        !html.contains("Training due"),
        "its dashboard panel is gone"
    );
    for path in ["/training", "/training/matrix", "/training/programs"] {
        let (status, _, html) = app.page_get(path, &cookies).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            html.contains(r#"aria-label="Main""#),
            "the navigation stays: {html}"
        );
    }
    // Any unknown page keeps the navigation of whoever is signed in, and shows none otherwise.
    let (status, _, html) = app.page_get("/no-such-page", &cookies).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains(r#"href="/members""#), "{html}");
    let (status, _, html) = app.page_get("/no-such-page", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains(r#"aria-label="Main""#), "{html}");
    for path in [
        "/api/v1/training/records",
        "/api/v1/training/programs",
        "/api/v1/training/shift-reports",
    ] {
        let (status, body) = app.get(&admin, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["status"], 404, "a problem document: {body}");
    }
    // The other department still has it.
    let (status, _) = app
        .get(&app.b.admin.token, "/api/v1/training/records")
        .await;
    assert_eq!(status, StatusCode::OK);
    // Signed out, the route asks for a sign-in as before (nothing is told about the setting).
    let (status, _) = app.get("", "/api/v1/training/records").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Turned on again, it is back, with its data.
    let (status, _) = app
        .patch(
            &admin,
            "/api/v1/organization",
            json!({"settings": {"modules": {"training": true}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&admin, "/api/v1/training/records").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app.page_get("/training", &cookies).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_part_turned_off_sends_no_reminders_until_it_is_back() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "certified", &[]).await;
    certification_expiring(&app, &app.a, member.id, 600, 20).await;
    let notices = |app: &TestApp| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND category = 'training'",
            )
            .bind(member.id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let switch = |on: bool| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let (status, body) = app
                .patch(
                    &admin,
                    "/api/v1/organization",
                    json!({"settings": {"modules": {"training": on}}}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    switch(false).await;
    let run = app.run_job(&app.a, "cert_expiry").await;
    assert_eq!(run["items"], 0, "skipped while training is off: {run}");
    assert_eq!(notices(&app).await, 0);
    switch(true).await;
    let run = app.run_job(&app.a, "cert_expiry").await;
    assert_eq!(run["items"], 1, "{run}");
    assert_eq!(notices(&app).await, 1);
}
