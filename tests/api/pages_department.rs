//! The department's settings page (`/settings/department`): who may use it, the same rules as
//! the API (errors beside the fields, nothing written), an audited save that can turn a part of
//! Logbook off, and no reach into another department.

use reqwest::StatusCode;

use crate::harness::*;

const FORM: &[(&str, &str)] = &[
    ("name", "Maple Grove Volunteer Fire Department"),
    ("organization_type", "fire_department"),
    ("timezone", "America/Denver"),
    ("identifier_type", "fdid"),
    ("identifier", "27-041"),
    ("address_line1", "12 Station Road"),
    ("address_line2", ""),
    ("city", "Maple Grove"),
    ("state", "MN"),
    ("postal_code", "55311"),
    ("county", ""),
    ("phone", ""),
    ("email", ""),
];

async fn org_row(app: &TestApp, org: &Org) -> (String, String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT name, timezone, identifier, phone FROM organizations WHERE id = ?")
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_department_is_edited_from_its_page_and_the_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    // A phone number set before: emptying the field clears it.
    let (status, _) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            serde_json::json!({"phone": "555-0100"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, html) = app.page_get("/settings/department", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="555-0100""#), "{html}");
    assert!(html.contains(r#"id="feature_training" name="feature_training" value="on" checked"#));
    assert!(html.contains(r#"href="/settings/department" aria-current="page""#));

    let audits = app.audit_count(&app.a).await;
    let bravo = app.snapshot(&app.b).await;
    let (status, location, _) = app.page_post("/settings/department", &admin, FORM).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/department?done=saved");
    assert_eq!(
        org_row(&app, &app.a).await,
        (
            "Maple Grove Volunteer Fire Department".into(),
            "America/Denver".into(),
            Some("27-041".into()),
            None
        )
    );
    assert_eq!(app.audit_count(&app.a).await, audits + 1);
    let (action, changes): (String, String) = sqlx::query_as(
        "SELECT action, CAST(changes AS CHAR) FROM audit_logs WHERE organization_id = ?
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(action, "organization.updated");
    assert!(
        changes.contains("27-041") && changes.contains("America/Denver"),
        "{changes}"
    );
    // Training was not ticked: it is off now, and out of the menu.
    let (_, _, html) = app
        .page_get("/settings/department?done=saved", &admin)
        .await;
    assert!(
        html.contains("The department&#39;s settings are saved.")
            || html.contains("The department's settings are saved."),
        "{html}"
    );
    assert!(!html.contains(r#"href="/training""#));
    assert!(html.contains(r#"id="feature_training" name="feature_training" value="on" aria"#));
    // The same form again changes nothing and writes no audit entry.
    let mut again = FORM.to_vec();
    again.push(("feature_training", "on"));
    app.page_post("/settings/department", &admin, &again).await;
    let audits = app.audit_count(&app.a).await;
    let (status, _, _) = app.page_post("/settings/department", &admin, &again).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count(&app.a).await, audits);
    assert_eq!(
        bravo,
        app.snapshot(&app.b).await,
        "the other department is untouched"
    );
}

#[tokio::test]
async fn bad_input_is_shown_beside_the_fields_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let before = app.snapshot(&app.a).await;
    let mut form = FORM.to_vec();
    form[0] = ("name", "   ");
    form[2] = ("timezone", "Mars/Olympus");
    form.push(("email", "not an address"));
    form.push(("organization_type", "space_agency"));
    let (status, _, html) = app.page_post("/settings/department", &admin, &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    for id in ["name-error", "timezone-error", "organization_type-error"] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id}: {html}");
    }
    assert!(
        html.contains("Mars/Olympus"),
        "what was typed stays: {html}"
    );
    assert_eq!(before, app.snapshot(&app.a).await);
}

#[tokio::test]
async fn only_settings_managers_see_the_page() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "plain", &[]).await;
    let cookies = app.page_sign_in(&member.username, PASSWORD).await;
    let before = app.snapshot(&app.a).await;
    let (status, _, _) = app.page_get("/settings/department", &cookies).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app.page_post("/settings/department", &cookies, FORM).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await);
    // Signed out: the sign-in page.
    let (status, location, _) = app.page_get("/settings/department", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/login"), "{location}");
}

#[tokio::test]
async fn two_officers_saving_at_once_both_land_in_order() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let audits = app.audit_count(&app.a).await;
    let names = ["Station A Fire Company", "Station B Fire Company"];
    let form = |name: &'static str| {
        let mut form = FORM.to_vec();
        form[0] = ("name", name);
        form.push(("feature_training", "on"));
        form
    };
    let (one, two) = (form(names[0]), form(names[1]));
    let (a, b) = tokio::join!(
        app.page_post("/settings/department", &admin, &one),
        app.page_post("/settings/department", &admin, &two)
    );
    assert_eq!((a.0, b.0), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    let name = org_row(&app, &app.a).await.0;
    assert!(names.contains(&name.as_str()), "{name}");
    // Each save read what the other wrote (the row is locked): two audit entries, chain intact.
    assert_eq!(app.audit_count(&app.a).await, audits + 2);
    let (status, report) = app
        .get(&app.a.admin.token, "/api/v1/audit-logs/verify")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["valid"], true, "{report}");
}

#[tokio::test]
async fn dates_times_and_paper_are_the_departments_choice() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = create_member_with_hire_date(&app).await;

    // US defaults: month first, 12-hour clock, Letter.
    let (status, _, html) = app.page_get("/settings/department", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<option value="us" selected>"#), "{html}");
    assert!(html.contains(r#"<option value="12h" selected>"#), "{html}");
    assert!(
        html.contains(r#"<option value="letter" selected>"#),
        "{html}"
    );
    let (_, _, html) = app.page_get(&format!("/members/{member}"), &admin).await;
    assert!(
        html.contains("06/01/2025"),
        "the hire date, month first: {html}"
    );
    let (_, _, html) = app.page_get("/audit", &admin).await;
    assert!(
        html.contains(" AM ") || html.contains(" PM "),
        "12-hour times in the audit log: {html}"
    );

    // A word that is not a choice is refused beside its field, and nothing changes.
    let before = app.snapshot(&app.a).await;
    let mut form = FORM.to_vec();
    form.push(("date_format", "julian"));
    form.push(("clock", "24h"));
    let (status, _, html) = app.page_post("/settings/department", &admin, &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="date_format-error""#), "{html}");
    assert_eq!(before, app.snapshot(&app.a).await);

    // Year first and a 24-hour clock: pages follow at once.
    let mut form = FORM.to_vec();
    form.push(("feature_training", "on"));
    form.push(("date_format", "iso"));
    form.push(("clock", "24h"));
    form.push(("paper", "a4"));
    let (status, _, _) = app.page_post("/settings/department", &admin, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = app.get(&app.a.admin.token, "/api/v1/organization").await;
    assert_eq!(body["settings"]["date_format"], "iso", "{body}");
    assert_eq!(body["settings"]["clock"], "24h");
    assert_eq!(body["settings"]["paper"], "a4");
    let (_, _, html) = app.page_get(&format!("/members/{member}"), &admin).await;
    assert!(html.contains("2025-06-01"), "{html}");
    let (_, _, html) = app.page_get("/audit", &admin).await;
    assert!(!html.contains(" AM ") && !html.contains(" PM "), "{html}");

    // Another department keeps its own way of writing dates.
    let b_admin = access_cookie(&app.b.admin);
    let (_, _, html) = app.page_get("/settings/department", &b_admin).await;
    assert!(html.contains(r#"<option value="us" selected>"#), "{html}");
}

async fn create_member_with_hire_date(app: &TestApp) -> uuid::Uuid {
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            serde_json::json!({"username": "hired", "email": "hired@example.org",
                               "first_name": "Hired", "last_name": "Hand",
                               "hire_date": "2025-06-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}
