//! The scheduling pages over HTTP: bad input shown beside its field with nothing written, the
//! officer's pages refused to members, another department's shift a 404 page, and a sign-up
//! refused for a taken seat shown on the shift with why.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

#[tokio::test]
async fn the_pages_show_bad_input_beside_the_field_and_keep_officer_pages_to_officers() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let member = app.member(&app.a, "sch-page-ff", &[]).await;
    let member_cookie = access_cookie(&member);

    // A template without a name and with 60 hours: both beside their fields, nothing saved.
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            "/scheduling/templates",
            &officer,
            &[
                ("name", ""),
                ("start_time", "07:00"),
                ("hours", "60"),
                ("seats", "Officer*\nDriver*"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="name-error""#), "{html}");
    assert!(html.contains(r#"id="hours-error""#), "{html}");
    assert_eq!(before, app.snapshot(&app.a).await);
    let (status, location, _) = app
        .page_post(
            "/scheduling/templates",
            &officer,
            &[
                ("name", "Engine duty"),
                ("start_time", "07:00"),
                ("hours", "24"),
                ("seats", "Officer*\nDriver*\nFirefighter"),
                ("open_to_all_members", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/scheduling/templates?done=template");
    let template: Uuid =
        sqlx::query_scalar("SELECT id FROM shift_templates WHERE organization_id = ?")
            .bind(app.a.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();

    // Members may not reach the officer's pages.
    for path in [
        "/scheduling/templates",
        "/scheduling/patterns/new",
        "/scheduling/generate",
        "/scheduling/shifts/new",
    ] {
        let (status, _, _) = app.page_get(path, &member_cookie).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // A time off request with its last day first: beside the field.
    let day = app.org_today(&app.a).await + chrono::Duration::days(4);
    let (status, _, html) = app
        .page_post(
            "/scheduling/time-off",
            &member_cookie,
            &[
                ("start_date", &day.to_string()),
                ("end_date", &(day - chrono::Duration::days(2)).to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="end_date-error""#), "{html}");

    // A shift; the member takes the driver's seat; a second member asking for it is told why.
    let (status, shift) = app
        .post(
            &app.a.admin.token,
            "/api/v1/scheduling/shifts",
            json!({"template_id": template, "shift_date": day}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shift}");
    let shift = shift["id"].as_str().unwrap().to_string();
    let (status, location, _) = app
        .page_post(
            &format!("/scheduling/shifts/{shift}/signup"),
            &member_cookie,
            &[("seat", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location,
        format!("/scheduling/shifts/{shift}?done=signed-up")
    );
    let other = app.member(&app.a, "sch-page-ff2", &[]).await;
    let (status, _, html) = app
        .page_post(
            &format!("/scheduling/shifts/{shift}/signup"),
            &access_cookie(&other),
            &[("seat", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("The Driver seat is taken."), "{html}");
    // The board and the shift show it to the member.
    let (status, _, html) = app
        .page_get(&format!("/scheduling?show=mine&on={day}"), &member_cookie)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You: Confirmed"), "{html}");
    // Another department's officer gets the 404 page.
    let (status, _, _) = app
        .page_get(
            &format!("/scheduling/shifts/{shift}"),
            &access_cookie(&app.b.admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
