//! The officers' pages for waivers, leaves, the CSV import and membership tiers, and the tier
//! API: each rule works, only holders of the permission get in, another department's ids answer
//! 404 and change nothing, and bad input is shown beside its field with nothing written.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// Rows of `table` of this test's departments that meet `condition`.
async fn count(app: &TestApp, table: &str, condition: &str) -> i64 {
    app.count_rows_where(table, condition).await
}

fn error_beside(html: &str, field: &str, message: &str) -> bool {
    html.contains(&format!(r#"id="{field}-error">{message}"#))
}

// ---------------------------------------------------------------------------------------------
// Waivers

#[tokio::test]
async fn waivers_are_granted_by_hand_listed_and_deactivated_after_asking() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "waived-one", &[]).await;
    let bravo = app.member(&app.b, "bravo-waived", &[]).await;
    let (status, req) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Hazmat refresher", "requirement_type": "hours", "required_hours": 6,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    let req_id = req["id"].as_str().unwrap().to_string();

    // A plain member: no page, no grant.
    let plain = access_cookie(&member);
    let (status, _, _) = app.page_get("/training/waivers", &plain).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_post(
            "/training/waivers",
            &plain,
            &[
                ("user_id", &member.id.to_string()),
                ("waiver_type", "medical"),
                ("start_date", "2026-01-01"),
                ("scope", "all"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The officer's page, and mistakes beside their fields.
    let (status, _, html) = app.page_get("/training/waivers", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Grant a waiver"), "{html}");
    assert!(html.contains("waived-one, Test"), "{html}");
    assert!(
        !html.contains("bravo-waived"),
        "another department's member: {html}"
    );
    assert!(html.contains("Hazmat refresher"), "{html}");
    let mid = member.id.to_string();
    let bid = bravo.id.to_string();
    for (form, field, message) in [
        (
            vec![
                ("user_id", ""),
                ("waiver_type", "medical"),
                ("start_date", "2026-13-01"),
            ],
            "user_id",
            "Member is required.",
        ),
        (
            vec![
                ("user_id", ""),
                ("waiver_type", "medical"),
                ("start_date", "2026-13-01"),
            ],
            "start_date",
            "From is not a date (YYYY-MM-DD).",
        ),
        (
            vec![
                ("user_id", mid.as_str()),
                ("waiver_type", "medical"),
                ("start_date", "2026-03-01"),
                ("end_date", "2026-02-01"),
            ],
            "end_date",
            "Until must not be before the start date.",
        ),
        (
            vec![
                ("user_id", mid.as_str()),
                ("waiver_type", "holiday"),
                ("start_date", "2026-03-01"),
            ],
            "waiver_type",
            "Kind of waiver must be one of",
        ),
        (
            vec![
                ("user_id", mid.as_str()),
                ("waiver_type", "medical"),
                ("start_date", "2026-03-01"),
                ("scope", "chosen"),
            ],
            "requirement_ids",
            "Requirements must name at least one requirement, or choose all of them.",
        ),
        (
            vec![
                ("user_id", bid.as_str()),
                ("waiver_type", "medical"),
                ("start_date", "2026-03-01"),
            ],
            "user_id",
            "Member is not a member of this department.",
        ),
        (
            vec![
                ("user_id", mid.as_str()),
                ("waiver_type", "medical"),
                ("start_date", "2026-03-01"),
                ("scope", "chosen"),
                ("requirement_ids", "not-an-id"),
            ],
            "requirement_ids",
            "Requirements is not one of the choices.",
        ),
    ] {
        let (status, _, html) = app.page_post("/training/waivers", &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(error_beside(&html, field, message), "{form:?}: {html}");
    }
    assert_eq!(count(&app, "training_waivers", "TRUE").await, 0);
    assert_eq!(
        app.audit_actions(&app.a, "training.waiver_created").await,
        0
    );

    // Granted for one requirement: listed, and the member's standing shows it waived.
    let (status, location, _) = app
        .page_post(
            "/training/waivers",
            &cookies,
            &[
                ("user_id", &mid),
                ("waiver_type", "new_member"),
                ("start_date", "2026-01-01"),
                ("end_date", "2026-12-31"),
                ("reason", "Joined in January"),
                ("scope", "chosen"),
                ("requirement_ids", &req_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/waivers?done=granted");
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The waiver was granted."), "{html}");
    assert!(html.contains("Test waived-one"), "{html}");
    assert!(html.contains("01/01/2026 to 12/31/2026"), "{html}");
    assert!(html.contains("<td>Hazmat refresher</td>"), "{html}");
    let hand: Uuid = sqlx::query_scalar(
        "SELECT id FROM training_waivers WHERE organization_id = ? AND NOT all_requirements",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        app.audit_actions(&app.a, "training.waiver_created").await,
        1
    );
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{mid}?as_of=2026-06-30"),
        )
        .await;
    assert_eq!(c["requirements"][0]["outcome"], "waived", "{c}");

    // The filters: by member, by status.
    let (_, _, html) = app
        .page_get("/training/waivers?q=nobody-here", &cookies)
        .await;
    assert!(html.contains("0 waivers."), "{html}");
    let (_, _, html) = app
        .page_get("/training/waivers?q=waived-one", &cookies)
        .await;
    assert!(html.contains("1 waiver."), "{html}");
    let (_, _, html) = app
        .page_get("/training/waivers?status=inactive", &cookies)
        .await;
    assert!(html.contains("0 waivers."), "{html}");

    // A leave's waiver is changed with its leave: the page says so and changes nothing.
    let (status, leave) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": member.id, "leave_type": "military", "start_date": "2026-02-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{leave}");
    let leave_waiver = leave["linked_training_waiver_id"].as_str().unwrap();
    let path = format!("/training/waivers/{leave_waiver}/deactivate");
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("This waiver belongs to a leave"), "{html}");
    assert!(
        html.contains(&format!(r#"href="/members/{mid}/leaves""#)),
        "{html}"
    );
    assert!(!html.contains("Deactivate the waiver"), "{html}");
    let (status, _, html) = app.page_post(&path, &cookies, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("change or remove the leave instead"),
        "{html}"
    );
    assert_eq!(count(&app, "training_waivers", "active").await, 2);

    // Another department: not listed, not found, nothing changed.
    let bravo_admin = access_cookie(&app.b.admin);
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_get("/training/waivers?status=all", &bravo_admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("0 waivers."), "{html}");
    let path = format!("/training/waivers/{hand}/deactivate");
    let (status, _, _) = app.page_get(&path, &bravo_admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.page_post(&path, &bravo_admin, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app.page_post(&path, &plain, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await);

    // Deactivated after asking; a second click lands on the list.
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Deactivate this waiver?"), "{html}");
    let (status, location, _) = app.page_post(&path, &cookies, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/waivers?done=deactivated");
    let active: bool = sqlx::query_scalar("SELECT active FROM training_waivers WHERE id = ?")
        .bind(hand)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!active);
    assert_eq!(
        app.audit_actions(&app.a, "training.waiver_deactivated")
            .await,
        1
    );
    let (status, location, _) = app.page_post(&path, &cookies, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/waivers?status=inactive");
    let (_, _, html) = app
        .page_get("/training/waivers?status=inactive", &cookies)
        .await;
    assert!(html.contains("1 waiver."), "{html}");
    assert!(html.contains("Inactive"), "{html}");
}

#[tokio::test]
async fn the_waiver_list_is_paged() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "often-waived", &[]).await;
    for day in 1..=26 {
        let (status, body) = app
            .post(
                &app.a.admin.token,
                "/api/v1/training/waivers",
                json!({"user_id": member.id, "waiver_type": "personal",
                       "start_date": format!("2025-01-{day:02}"), "end_date": "2025-12-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, _, html) = app.page_get("/training/waivers", &cookies).await;
    assert!(html.contains("26 waivers."), "{html}");
    assert!(html.contains("Page 1 of 2"), "{html}");
    assert!(html.contains("01/26/2025 to"), "{html}");
    assert!(!html.contains("01/01/2025 to"), "{html}");
    assert!(
        html.contains(r#"href="/training/waivers?status=active&#38;page=2""#),
        "{html}"
    );
    let (_, _, html) = app
        .page_get("/training/waivers?status=active&page=2", &cookies)
        .await;
    assert!(html.contains("Page 2 of 2"), "{html}");
    assert!(html.contains("01/01/2025 to"), "{html}");
}

// ---------------------------------------------------------------------------------------------
// Leaves

async fn leave_row(app: &TestApp, id: &str) -> (String, String, Option<String>, bool) {
    sqlx::query_as(
        "SELECT leave_type, CAST(start_date AS CHAR), CAST(end_date AS CHAR),
                exempt_from_training_waiver
           FROM member_leaves_of_absence WHERE id = ?",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_leave_is_changed_from_its_page_and_its_waiver_follows() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "on-leave", &[]).await;
    let other = app.member(&app.a, "not-on-leave", &[]).await;
    let (status, leave) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": member.id, "leave_type": "medical", "start_date": "2026-03-01",
                   "end_date": "2026-04-30", "reason": "Knee"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{leave}");
    let id = leave["id"].as_str().unwrap().to_string();
    let waiver = leave["linked_training_waiver_id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = format!("/members/{}/leaves", member.id);
    let path = format!("{list}/{id}/edit");

    let (_, _, html) = app.page_get(&list, &cookies).await;
    assert!(html.contains(&format!(r#"href="{path}""#)), "{html}");
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="2026-03-01""#), "{html}");
    assert!(html.contains(r#"value="2026-04-30""#), "{html}");
    assert!(html.contains(r#"value="Knee""#), "{html}");
    assert!(
        html.contains(r#"<option value="medical" selected>"#),
        "{html}"
    );

    // Only members.manage.
    let plain = access_cookie(&member);
    let (status, _, _) = app.page_get(&path, &plain).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_post(
            &path,
            &plain,
            &[("leave_type", "medical"), ("start_date", "2026-01-01")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Mistakes beside their fields; nothing changes.
    let before = leave_row(&app, &id).await;
    for (form, field, message) in [
        (
            vec![
                ("leave_type", "medical"),
                ("start_date", "2026-03-01"),
                ("end_date", "2026-02-01"),
            ],
            "end_date",
            "Until must not be before the start date.",
        ),
        (
            vec![("leave_type", "medical"), ("start_date", "")],
            "start_date",
            "From is required.",
        ),
        (
            vec![
                ("leave_type", "medical"),
                ("start_date", "2026-03-01"),
                ("end_date", "soon"),
            ],
            "end_date",
            "Until is not a date (YYYY-MM-DD).",
        ),
        (
            vec![("leave_type", "vacation"), ("start_date", "2026-03-01")],
            "leave_type",
            "Kind of leave must be one of",
        ),
        (
            vec![
                ("leave_type", "medical"),
                ("start_date", "2026-03-01"),
                ("reason", "bell\u{0007}"),
            ],
            "reason",
            "Reason must not contain control characters.",
        ),
    ] {
        let (status, _, html) = app.page_post(&path, &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(error_beside(&html, field, message), "{form:?}: {html}");
    }
    assert_eq!(leave_row(&app, &id).await, before);
    assert_eq!(app.audit_actions(&app.a, "member.leave_updated").await, 0);

    // Another department's administrator, or this leave under another member: not found.
    let bravo = access_cookie(&app.b.admin);
    let snapshot = app.snapshot(&app.a).await;
    let wrong_member = format!("/members/{}/leaves/{id}/edit", other.id);
    let good = [
        ("leave_type", "personal"),
        ("start_date", "2026-01-01"),
        ("end_date", ""),
    ];
    for (who, p) in [(&bravo, &path), (&cookies, &wrong_member)] {
        let (status, _, _) = app.page_get(p, who).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        let (status, _, _) = app.page_post(p, who, &good).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    // Changed: the waiver's dates follow.
    let (status, location, _) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("leave_type", "medical"),
                ("start_date", "2026-03-15"),
                ("end_date", ""),
                ("reason", "Knee surgery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{list}?done=updated"));
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The leave was changed"), "{html}");
    assert!(
        html.contains("from 03/15/2026 until further notice"),
        "{html}"
    );
    let (start, end, active): (String, Option<String>, bool) = sqlx::query_as(
        "SELECT CAST(start_date AS CHAR), CAST(end_date AS CHAR), active
           FROM training_waivers WHERE id = ?",
    )
    .bind(waiver.parse::<Uuid>().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((start.as_str(), end, active), ("2026-03-15", None, true));
    assert_eq!(app.audit_actions(&app.a, "member.leave_updated").await, 1);

    // Marked as not waiving training: the waiver goes.
    let (status, _, _) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("leave_type", "medical"),
                ("start_date", "2026-03-15"),
                ("exempt", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(count(&app, "training_waivers", "active").await, 0);
    let (_, _, html) = app.page_get(&path, &cookies).await;
    assert!(
        html.contains(r#"name="exempt" value="1" checked"#),
        "{html}"
    );
}

// ---------------------------------------------------------------------------------------------
// CSV import

#[tokio::test]
async fn past_records_are_imported_from_the_page_after_a_preview() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "old-hand", &[]).await;
    app.member(&app.a, "new-hand", &[]).await;
    let (status, course) = app
        .post(
            &admin,
            "/api/v1/training/courses",
            json!({"name": "CPR", "code": "CPR-1", "training_type": "certification",
                   "duration_hours": 4, "expiration_months": 24}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    let records = || count(&app, "training_records", "TRUE");

    // Only training.manage.
    let plain = access_cookie(&member);
    for path in ["/training/import", "/training/import/template.csv"] {
        let (status, _, _) = app.page_get(path, &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let good = "username,course,course_name,completion_date,hours\n\
                old-hand,CPR-1,,2024-03-01,\n\
                new-hand,,Ladder drill,2019-05-05,2.5\n";
    let (status, _, _) = app
        .page_post(
            "/training/import",
            &plain,
            &[("csv", good), ("commit", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(records().await, 0);

    // The page, its column description and the template.
    let (status, _, html) = app.page_get("/training/import", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("completion_date"), "{html}");
    assert!(html.contains("/training/import/template.csv"), "{html}");
    let res = app
        .page_get_response("/training/import/template.csv", &cookies)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let template = res.text().await.unwrap();
    assert!(
        template.starts_with("username,course,course_name,category,training_type,completion_date"),
        "{template}"
    );

    // A file the reader cannot take: beside the box.
    let (status, _, html) = app
        .page_post("/training/import", &cookies, &[("csv", "user,date\nx,y\n")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="csv-error">The CSV has a column"#),
        "{html}"
    );

    // A bad row: errors by line and field, nothing imported, even when asked to import.
    let bad = "username,course_name,completion_date,hours\n\
               old-hand,Pump drill,2024-01-01,2\n\
               nobody,Pump drill,2024-01-01,two\n";
    for commit in [false, true] {
        let mut form = vec![("csv", bad)];
        if commit {
            form.push(("commit", "1"));
        }
        let (status, _, html) = app.page_post("/training/import", &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Nothing was imported"), "{html}");
        assert!(html.contains("<td>3</td><td>username</td>"), "{html}");
        assert!(html.contains("<td>3</td><td>hours</td>"), "{html}");
        assert!(
            html.contains("2 rows, 1 without errors, 2 errors to fix."),
            "{html}"
        );
        assert!(!html.contains(r#"name="commit""#), "{html}");
    }
    assert_eq!(records().await, 0);

    // Another department's administrator cannot import for Alpha's members.
    let snapshot = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            "/training/import",
            &access_cookie(&app.b.admin),
            &[("csv", good), ("commit", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("is not a member of this department"),
        "{html}"
    );
    assert_eq!(snapshot, app.snapshot(&app.a).await);
    assert_eq!(records().await, 0);

    // The good file: a preview that writes nothing, then the import.
    let (status, _, html) = app
        .page_post("/training/import", &cookies, &[("csv", good)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ready to import"), "{html}");
    assert!(html.contains("Ladder drill"), "{html}");
    assert!(html.contains("03/01/2026"), "the course's expiry: {html}");
    assert!(html.contains("Import 2 records"), "{html}");
    assert_eq!(records().await, 0);
    let (status, _, html) = app
        .page_post(
            "/training/import",
            &cookies,
            &[("csv", good), ("commit", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Imported 2 records."), "{html}");
    assert_eq!(records().await, 2);
    assert_eq!(
        app.audit_actions(&app.a, "training.records_imported").await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Membership tiers

async fn tier_id(app: &TestApp, org: &Org, slug: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM membership_tiers WHERE organization_id = ? AND slug = ?")
        .bind(org.id)
        .bind(slug)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

fn tier_body(name: &str, years: i64) -> Value {
    json!({"name": name, "years_required": years, "training_exempt": false,
           "voting_eligible": true, "can_hold_office": true, "active": true})
}

#[tokio::test]
async fn tiers_are_defined_through_the_api_with_their_rules() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let senior = tier_id(&app, &app.a, "senior").await;
    let put = format!("/api/v1/membership/tiers/{senior}");

    // Who may: members.manage only.
    let viewer = app.member(&app.a, "tier-viewer", &[]).await;
    let before = app.snapshot(&app.a).await;
    let (status, problem) = app
        .post(
            &viewer.token,
            "/api/v1/membership/tiers",
            tier_body("Honorary", 50),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &viewer.token,
            &put,
            Some(tier_body("Senior", 10)),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await);

    // Bad input: every problem at once, nothing written.
    for (body, fields) in [
        (
            json!({"name": " ", "years_required": 81, "sort_order": -1}),
            vec!["name", "years_required", "sort_order"],
        ),
        (tier_body(&"x".repeat(101), 10), vec!["name"]),
        (tier_body("life", 10), vec!["name"]),
        (
            json!({"name": "Senior", "slug": "Not a slug", "years_required": 10}),
            vec!["slug"],
        ),
        (
            json!({"name": "Senior", "slug": "life", "years_required": 10}),
            vec!["slug"],
        ),
    ] {
        let (status, problem) = app
            .call(reqwest::Method::PUT, &admin, &put, Some(body.clone()))
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &put,
            Some(json!({"name": "Senior", "years_required": 10, "colour": "gold"})),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/membership/tiers",
            tier_body("Probationary", 0),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["name"]);
    assert_eq!(before, app.snapshot(&app.a).await);

    // Changed: name, years and benefits; the slug stays; audited.
    let (status, t) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &put,
            Some(json!({"name": "Senior firefighter", "years_required": 15,
                        "training_exempt": true, "voting_eligible": true,
                        "can_hold_office": false, "active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["slug"], "senior");
    assert_eq!(t["name"], "Senior firefighter");
    assert_eq!(t["years_required"], 15);
    assert_eq!(t["training_exempt"], true);
    assert_eq!(t["can_hold_office"], false);
    assert_eq!(app.audit_actions(&app.a, "member.tier_updated").await, 1);

    // Added: a slug made from the name, last in order.
    let (status, t) = app
        .post(
            &admin,
            "/api/v1/membership/tiers",
            tier_body("Honorary member", 50),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["slug"], "honorary_member");
    let (_, list) = app.get(&admin, "/api/v1/membership/tiers").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[4]["slug"], "honorary_member");
    assert_eq!(app.audit_actions(&app.a, "member.tier_created").await, 1);
    // The same name under another case is refused.
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/membership/tiers",
            tier_body("HONORARY MEMBER", 40),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["name"]);

    // Another department: Alpha's tier is not found there, and names are per department.
    let bravo = app.b.admin.token.clone();
    let before = app.snapshot(&app.a).await;
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &bravo,
            &put,
            Some(tier_body("Taken over", 1)),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, t) = app
        .post(
            &bravo,
            "/api/v1/membership/tiers",
            tier_body("Honorary member", 50),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(before, app.snapshot(&app.a).await);
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &format!("/api/v1/membership/tiers/{}", Uuid::now_v7()),
            Some(tier_body("Nobody", 1)),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tiers_are_edited_from_their_page() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "tier-member", &[]).await;
    let life = tier_id(&app, &app.a, "life").await;
    let path = format!("/membership/tiers/{life}");

    let plain = access_cookie(&member);
    for p in ["/membership/tiers", "/membership/tiers/new", path.as_str()] {
        let (status, _, _) = app.page_get(p, &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    }
    let (status, _, _) = app
        .page_post(&path, &plain, &[("name", "Mine"), ("years_required", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, _, html) = app.page_get("/members", &cookies).await;
    assert!(html.contains(r#"href="/membership/tiers""#), "{html}");
    let (status, _, html) = app.page_get("/membership/tiers", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    for name in ["Probationary", "Active", "Senior", "Life"] {
        assert!(html.contains(name), "{name}: {html}");
    }
    assert!(html.contains(&format!(r#"href="{path}""#)), "{html}");
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="years_required" inputmode="numeric" value="#),
        "{html}"
    );

    // Mistakes beside their fields; nothing changes.
    let before = app.snapshot(&app.a).await;
    for (form, field, message) in [
        (
            vec![("name", ""), ("years_required", "eighty")],
            "name",
            "Name is required.",
        ),
        (
            vec![("name", ""), ("years_required", "eighty")],
            "years_required",
            "Years of service must be a whole number.",
        ),
        (
            vec![("name", "Life"), ("years_required", "99")],
            "years_required",
            "Years of service must be a whole number from 0 to 80.",
        ),
        (
            vec![("name", "Senior"), ("years_required", "25")],
            "name",
            "Name is already the name of a tier.",
        ),
        (
            vec![
                ("name", "Life"),
                ("years_required", "25"),
                ("sort_order", "first"),
            ],
            "sort_order",
            "Order must be a whole number.",
        ),
    ] {
        let (status, _, html) = app.page_post(&path, &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(error_beside(&html, field, message), "{form:?}: {html}");
    }
    assert_eq!(before, app.snapshot(&app.a).await);

    // Another department's administrator: not found, nothing changed.
    let bravo = access_cookie(&app.b.admin);
    let (status, _, _) = app.page_get(&path, &bravo).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .page_post(&path, &bravo, &[("name", "Taken"), ("years_required", "1")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(before, app.snapshot(&app.a).await);

    // Saved: life members vote but are no longer exempt; the tier is kept active.
    let (status, location, _) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("name", "Life member"),
                ("years_required", "30"),
                ("voting_eligible", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/membership/tiers?done=saved");
    let row: (String, u16, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT name, years_required, training_exempt, voting_eligible, can_hold_office, active
           FROM membership_tiers WHERE id = ?",
    )
    .bind(life)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(row, ("Life member".into(), 30, false, true, false, true));
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The tier was saved."), "{html}");
    assert!(html.contains("Life member"), "{html}");

    // A new tier from the page.
    let (status, location, _) = app
        .page_post(
            "/membership/tiers/new",
            &cookies,
            &[
                ("name", "Exempt veteran"),
                ("years_required", "40"),
                ("training_exempt", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let exempt: bool = sqlx::query_scalar(
        "SELECT training_exempt FROM membership_tiers WHERE organization_id = ? AND slug = 'exempt_veteran'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(exempt);
}

/// A tier's meeting attendance to vote: a percent from 1 to 100 (or none) over 1 to 60 months,
/// 12 when left out; bad values are field errors (API and page) with nothing written; a saved
/// minimum is audited and shown in the list beside the tier's benefits.
#[tokio::test]
async fn a_tiers_meeting_attendance_to_vote_is_checked_and_shown() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let senior = tier_id(&app, &app.a, "senior").await;
    let put = format!("/api/v1/membership/tiers/{senior}");
    let with = |extra: Value| {
        let mut body = tier_body("Senior", 10);
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    // Bad input through the API: field errors, nothing written.
    let before = app.snapshot(&app.a).await;
    for (body, fields) in [
        (
            with(json!({"voting_min_attendance_pct": 0})),
            vec!["voting_min_attendance_pct"],
        ),
        (
            with(json!({"voting_min_attendance_pct": 101})),
            vec!["voting_min_attendance_pct"],
        ),
        (
            with(json!({"voting_min_attendance_pct": 50, "voting_attendance_months": 0})),
            vec!["voting_attendance_months"],
        ),
        (
            with(json!({"voting_attendance_months": 61})),
            vec!["voting_attendance_months"],
        ),
        (
            with(json!({"voting_min_attendance_pct": -5, "voting_attendance_months": 0})),
            vec!["voting_min_attendance_pct", "voting_attendance_months"],
        ),
    ] {
        let (status, problem) = app
            .call(reqwest::Method::PUT, &admin, &put, Some(body.clone()))
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
        let (status, problem) = app
            .post(&admin, "/api/v1/membership/tiers", {
                let mut b = body.clone();
                b["name"] = json!("Attender");
                b
            })
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    assert_eq!(before, app.snapshot(&app.a).await);

    // Left out: no minimum, over 12 months.
    let (status, t) = app.get(&admin, "/api/v1/membership/tiers").await;
    assert_eq!(status, StatusCode::OK);
    let listed = t
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "senior")
        .unwrap();
    assert_eq!(listed["voting_min_attendance_pct"], Value::Null, "{listed}");
    assert_eq!(listed["voting_attendance_months"], 12, "{listed}");

    // Bad input from the page: beside the fields, nothing written.
    let path = format!("/membership/tiers/{senior}");
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="voting_min_attendance_pct" inputmode="numeric" value="""#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="voting_attendance_months" inputmode="numeric" value="12""#),
        "{html}"
    );
    for (pct, months, field, message) in [
        (
            "0",
            "12",
            "voting_min_attendance_pct",
            "Meeting attendance needed to vote must be a whole number from 1 to 100, or empty for none.",
        ),
        (
            "101",
            "12",
            "voting_min_attendance_pct",
            "Meeting attendance needed to vote must be a whole number from 1 to 100, or empty for none.",
        ),
        (
            "half",
            "12",
            "voting_min_attendance_pct",
            "Meeting attendance needed to vote must be a whole number.",
        ),
        (
            "50",
            "0",
            "voting_attendance_months",
            "Months of meetings counted must be a whole number from 1 to 60.",
        ),
    ] {
        let form = [
            ("name", "Senior"),
            ("years_required", "10"),
            ("voting_eligible", "1"),
            ("voting_min_attendance_pct", pct),
            ("voting_attendance_months", months),
            ("active", "1"),
        ];
        let (status, _, html) = app.page_post(&path, &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(error_beside(&html, field, message), "{form:?}: {html}");
        // What was typed stays in the field.
        assert!(
            html.contains(&format!(
                r#"name="{field}" inputmode="numeric" value="{}""#,
                if field == "voting_attendance_months" {
                    months
                } else {
                    pct
                }
            )),
            "{form:?}: {html}"
        );
    }
    assert_eq!(before, app.snapshot(&app.a).await);

    // Saved from the page: kept, audited with before and after, shown in the list.
    let (status, location, _) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("name", "Senior"),
                ("years_required", "10"),
                ("voting_eligible", "1"),
                ("voting_min_attendance_pct", "50"),
                ("voting_attendance_months", "12"),
                ("can_hold_office", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/membership/tiers?done=saved");
    let row: (Option<u8>, u8) = sqlx::query_as(
        "SELECT voting_min_attendance_pct, voting_attendance_months FROM membership_tiers
          WHERE id = ?",
    )
    .bind(senior)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(row, (Some(50), 12));
    let changes: String = sqlx::query_scalar(
        "SELECT CAST(changes AS CHAR) FROM audit_logs
          WHERE organization_id = ? AND action = 'member.tier_updated'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let changes: Value = serde_json::from_str(&changes).unwrap();
    assert_eq!(
        changes["before"]["voting_min_attendance_pct"],
        Value::Null,
        "{changes}"
    );
    assert_eq!(
        changes["after"]["voting_min_attendance_pct"], 50,
        "{changes}"
    );
    assert_eq!(
        changes["after"]["voting_attendance_months"], 12,
        "{changes}"
    );
    let (_, _, html) = app.page_get("/membership/tiers", &cookies).await;
    assert!(
        html.contains("May vote with 50 % of meetings attended over 12 months"),
        "{html}"
    );
    let (_, _, html) = app.page_get(&path, &cookies).await;
    assert!(
        html.contains(r#"name="voting_min_attendance_pct" inputmode="numeric" value="50""#),
        "{html}"
    );

    // Through the API: another window, then none again (null), audited each time.
    let (status, t) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &put,
            Some(with(
                json!({"voting_min_attendance_pct": 75, "voting_attendance_months": 6}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (
            &t["voting_min_attendance_pct"],
            &t["voting_attendance_months"]
        ),
        (&json!(75), &json!(6))
    );
    let (status, t) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &put,
            Some(with(json!({"voting_min_attendance_pct": null}))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["voting_min_attendance_pct"], Value::Null, "{t}");
    assert_eq!(t["voting_attendance_months"], 12, "{t}");
    assert_eq!(app.audit_actions(&app.a, "member.tier_updated").await, 3);
    let (status, t) = app
        .post(
            &admin,
            "/api/v1/membership/tiers",
            json!({"name": "Attender", "years_required": 2, "voting_eligible": true,
                   "voting_min_attendance_pct": 100, "voting_attendance_months": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["voting_min_attendance_pct"], 100);
    assert_eq!(t["voting_attendance_months"], 60);
}

/// A tier given by hand: a life member is exempt from training at once; the reason is required,
/// the tier must be the department's own and active; only `members.manage`, only the same
/// department; audited; none takes it off.
#[tokio::test]
async fn an_officer_gives_a_member_a_tier_by_hand() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "tier-by-hand", &[]).await;
    let tier_id = |org: &Org, slug: &'static str| {
        let (app, org_id) = (&app, org.id);
        async move {
            let id: uuid::Uuid = sqlx::query_scalar(
                "SELECT id FROM membership_tiers WHERE organization_id = ? AND slug = ?",
            )
            .bind(org_id)
            .bind(slug)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
            id
        }
    };
    let life = tier_id(&app.a, "life").await;
    let bravo_life = tier_id(&app.b, "life").await;
    let path = format!("/api/v1/members/{}/tier", member.id);
    let put = |token: &str, body: serde_json::Value| {
        let (app, path, token) = (&app, &path, token.to_string());
        async move {
            app.call(reqwest::Method::PUT, &token, path, Some(body))
                .await
        }
    };
    let snapshot = app.snapshot(&app.a).await;
    for (body, field) in [
        (json!({"tier_id": life}), "reason"),
        (json!({"tier_id": bravo_life, "reason": "x"}), "tier_id"),
    ] {
        let (status, problem) = put(&admin, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    let (status, _) = put(&member.token, json!({"tier_id": life, "reason": "me"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(
        &app.b.admin.token,
        json!({"tier_id": bravo_life, "reason": "b"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    let (status, now) = put(
        &admin,
        json!({"tier_id": life, "reason": "Voted life member"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!(now["tier_id"], life.to_string());
    assert_eq!(app.audit_actions(&app.a, "member.tier_set").await, 1);
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}", member.id),
        )
        .await;
    assert_eq!(c["exempt"], true, "{c}");
    // The same again changes nothing and is not audited twice.
    put(&admin, json!({"tier_id": life, "reason": "again"})).await;
    assert_eq!(app.audit_actions(&app.a, "member.tier_set").await, 1);
    let (status, now) = put(
        &admin,
        json!({"tier_id": null, "reason": "Entered by mistake"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!(now["tier_id"], serde_json::Value::Null);
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}", member.id),
        )
        .await;
    assert_eq!(c["exempt"], false, "{c}");
}

/// The tier by hand from a page: the reason is asked beside its field; saved, the page says
/// the tier now; a member without `members.manage` and another department cannot.
#[tokio::test]
async fn a_tier_is_given_from_the_members_tier_page() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "tier-page", &[]).await;
    let life: Uuid = sqlx::query_scalar(
        "SELECT id FROM membership_tiers WHERE organization_id = ? AND slug = 'life'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let page = format!("/members/{}/tier", member.id);
    let (status, _, html) = app.page_get(&page, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Membership tier: "), "{html}");
    let (status, _, html) = app
        .page_post(
            &page,
            &cookies,
            &[("tier_id", &life.to_string()), ("reason", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="reason-error">Reason is required."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            &page,
            &cookies,
            &[
                ("tier_id", &life.to_string()),
                ("reason", "Voted life member"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{page}?done=tier"));
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("Now: Life"), "{html}");
    let (status, _, _) = app.page_get(&page, &access_cookie(&member)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_get(&page, &app.page_sign_in("bravo-admin", PASSWORD).await)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
