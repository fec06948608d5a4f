//! The training pages: who may open which, forms that say what is wrong beside the field and
//! change nothing, recording a crew, submitting and reviewing, voiding after asking, the matrix
//! and the ISO report.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

async fn records(app: &TestApp) -> i64 {
    app.count_rows("training_records").await
}

#[tokio::test]
async fn members_see_their_own_page_and_only_officers_the_rest() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "page-member", &[]).await;
    let cookies = access_cookie(&member);
    let (status, _, html) = app.page_get("/training", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your training"), "{html}");
    assert!(html.contains("No training requirement applies"), "{html}");
    assert!(
        !html.contains("Record training"),
        "officer links for a member: {html}"
    );
    assert!(
        html.contains(r#"href="/training" aria-current="page""#),
        "{html}"
    );
    for path in [
        "/training/record",
        "/training/records",
        "/training/matrix",
        "/training/submissions",
        "/training/reports/iso",
        &format!("/training/members/{}", app.a.admin.id),
    ] {
        let (status, _, _) = app.page_get(path, &cookies).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = app
        .page_post(
            "/training/record",
            &cookies,
            &[
                ("user_ids", &member.id.to_string()),
                ("course_name", "Self"),
                ("hours", "9"),
                ("completion_date", "2026-01-01"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(records(&app).await, 0);
    // Not signed in: to the sign-in page.
    let (status, location, _) = app.page_get("/training", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/login"), "{location}");
    // The standing says the window it counted (rule 15).
    let (status, _) = app
        .post(
            &app.a.admin.token,
            "/api/v1/training/requirements",
            serde_json::json!({"name": "Annual hours", "requirement_type": "hours",
                               "required_hours": 12, "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let year = chrono::Datelike::year(&app.org_today(&app.a).await);
    let (_, _, html) = app.page_get("/training", &cookies).await;
    assert!(
        html.contains(&format!("Counted from 01/01/{year} to ")),
        "{html}"
    );
}

#[tokio::test]
async fn a_crew_is_recorded_from_the_form_and_mistakes_are_shown_beside_the_fields() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let one = app.member(&app.a, "crew-a", &[]).await;
    let two = app.member(&app.a, "crew-b", &[]).await;
    let bravo = app.member(&app.b, "crew-bravo", &[]).await;
    let (status, _, html) = app.page_get("/training/record", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("crew-a, Test"), "{html}");
    assert!(
        !html.contains("crew-bravo"),
        "another department's member: {html}"
    );

    for (form, field, message) in [
        (
            vec![
                ("course_name", "Drill"),
                ("hours", "-2"),
                ("completion_date", "2026-01-05"),
            ],
            "user_ids",
            "Members must name at least one member.",
        ),
        (
            vec![
                ("user_ids", one.id.to_string().leak() as &str),
                ("course_name", "Drill"),
                ("hours", "-2"),
                ("completion_date", "2026-01-05"),
            ],
            "hours",
            "Hours must not be negative.",
        ),
        (
            vec![
                ("user_ids", one.id.to_string().leak() as &str),
                ("course_name", "Drill"),
                ("hours", "2"),
                ("completion_date", "2099-01-05"),
            ],
            "completion_date",
            "Date must not be in the future",
        ),
        (
            vec![
                ("user_ids", bravo.id.to_string().leak() as &str),
                ("course_name", "Drill"),
                ("hours", "2"),
                ("completion_date", "2026-01-05"),
            ],
            "user_ids",
            "Members must name only members of this department.",
        ),
        (
            vec![
                ("user_ids", one.id.to_string().leak() as &str),
                ("course_name", "Drill"),
                ("hours", "two"),
                ("completion_date", "2026-01-05"),
            ],
            "hours",
            "Hours is not a number of hours.",
        ),
    ] {
        let (status, _, html) = app.page_post("/training/record", &cookies, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(
            html.contains(&format!(r#"id="{field}-error">{message}"#)),
            "{form:?}: {html}"
        );
    }
    assert_eq!(records(&app).await, 0);

    let (status, location, _) = app
        .page_post(
            "/training/record",
            &cookies,
            &[
                ("user_ids", &one.id.to_string()),
                ("user_ids", &two.id.to_string()),
                ("course_name", "Hose advancement"),
                ("hours", "2.5"),
                ("completion_date", "2026-01-05"),
                ("instructor", "Lt. Gómez"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/records?done=recorded&count=2");
    assert_eq!(records(&app).await, 2);
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(
        html.contains("The training was recorded for 2 members."),
        "{html}"
    );
    assert!(html.contains("Hose advancement"), "{html}");

    // Correcting: the form holds the record's values; a reason is required; saved, the list
    // says so and the record has the new hours.
    let two_id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM training_records WHERE user_id = ?")
            .bind(two.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    // The crew is one line of the list, opening on its attendees, each correctable alone.
    let session: uuid::Uuid =
        sqlx::query_scalar("SELECT session_id FROM training_records WHERE user_id = ?")
            .bind(two.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        html.contains(&format!(
            r#"<a href="/training/sessions/{session}">Crew of 2</a>"#
        )),
        "{html}"
    );
    assert!(html.contains("1 entry"), "{html}");
    let (status, _, html) = app
        .page_get(&format!("/training/sessions/{session}"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Lt. Gómez") && html.contains("crew-b"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"href="/training/records/{two_id}/correct""#)),
        "{html}"
    );
    let plain = app.member(&app.a, "plain-session", &[]).await;
    let (status, _, _) = app
        .page_get(
            &format!("/training/sessions/{session}"),
            &access_cookie(&plain),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_get(
            &format!("/training/sessions/{session}"),
            &app.page_sign_in("bravo-admin", PASSWORD).await,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, html) = app
        .page_get(&format!("/training/records/{two_id}/correct"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="2026-01-05""#), "{html}");
    assert!(html.contains(r#"value="2.5""#), "{html}");
    let correction = |reason: &'static str| {
        vec![
            ("completion_date", "2026-01-05"),
            ("hours", "3"),
            ("expiration_date", ""),
            ("certification_number", ""),
            ("reason", reason),
        ]
    };
    let (status, _, html) = app
        .page_post(
            &format!("/training/records/{two_id}/correct"),
            &cookies,
            &correction(""),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="reason-error">Reason is required."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            &format!("/training/records/{two_id}/correct"),
            &cookies,
            &correction("The drill ran three hours"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/records?done=corrected");
    let hours: String = sqlx::query_scalar(
        "SELECT CAST(hours_completed AS CHAR) FROM training_records WHERE id = ?",
    )
    .bind(two_id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(hours, "3.00");
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The record was corrected."), "{html}");
    let plain = app.member(&app.a, "plain-reader", &[]).await;
    let (status, _, _) = app
        .page_post(
            &format!("/training/records/{two_id}/correct"),
            &access_cookie(&plain),
            &correction("Not mine to fix"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Voiding asks first and needs a reason.
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM training_records WHERE user_id = ?")
        .bind(one.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let (status, _, html) = app
        .page_get(&format!("/training/records/{id}/void"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Void this record?"), "{html}");
    let (status, _, html) = app
        .page_post(
            &format!("/training/records/{id}/void"),
            &cookies,
            &[("reason", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="reason-error">Reason is required."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            &format!("/training/records/{id}/void"),
            &cookies,
            &[("reason", "Wrong member")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/records?done=voided");
    let status: String = sqlx::query_scalar("SELECT status FROM training_records WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");

    // Voiding the whole session asks too, for the record left, with a reason.
    let path = format!("/training/sessions/{session}/void");
    let (status, _, html) = app.page_get(&path, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Void this session?"), "{html}");
    assert!(html.contains("Void the last record"), "{html}");
    let (status, _, html) = app.page_post(&path, &cookies, &[("reason", " ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="reason-error">Reason is required."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(&path, &cookies, &[("reason", "Rained out")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/records?done=session_voided");
    let counting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM training_records WHERE session_id = ? AND status = 'completed'",
    )
    .bind(session)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(counting, 0);
    // A second tap lands on the session, all void.
    let (status, location, _) = app
        .page_post(&path, &cookies, &[("reason", "Rained out")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/training/sessions/{session}"));
}

#[tokio::test]
async fn outside_training_is_submitted_reviewed_and_shows_in_the_matrix() {
    let app = TestApp::spawn().await;
    let admin_cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "outside", &[]).await;
    let cookies = access_cookie(&member);
    let (status, _) = app
        .post(
            &app.a.admin.token,
            "/api/v1/training/requirements",
            json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 8,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, html) = app
        .page_post(
            "/training/submit",
            &cookies,
            &[
                ("course_name", ""),
                ("training_type", "refresher"),
                ("completion_date", "2026-02-30"),
                ("hours", "0"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="completion_date-error">Completed on is not a date (YYYY-MM-DD)."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            "/training/submit",
            &cookies,
            &[
                ("course_name", "County academy: pump operations"),
                ("training_type", "specialty"),
                ("completion_date", "2026-02-10"),
                ("hours", "8"),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, "/training?done=submitted");

    // The officer's queue: sending back needs a note, beside the field.
    let (status, _, html) = app.page_get("/training/submissions", &admin_cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("County academy: pump operations"), "{html}");
    let sid: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM training_submissions WHERE organization_id = ?")
            .bind(app.a.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (status, _, html) = app
        .page_post(
            "/training/submissions",
            &admin_cookies,
            &[
                ("id", &sid.to_string()),
                ("decision", "request_changes"),
                ("notes", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!(r#"id="notes-{sid}-error">Note is required"#)),
        "{html}"
    );
    let (_, _, matrix) = app.page_get("/training/matrix", &admin_cookies).await;
    assert!(matrix.contains("Not started"), "{matrix}");
    let (status, location, _) = app
        .page_post(
            "/training/submissions",
            &admin_cookies,
            &[
                ("id", &sid.to_string()),
                ("decision", "approve"),
                ("notes", ""),
                ("hours", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/submissions?done=approve");
    let (_, _, queue) = app.page_get(&location, &admin_cookies).await;
    assert!(
        queue.contains("Approved: the training is in the member"),
        "{queue}"
    );
    assert!(queue.contains("Nothing is waiting for review."), "{queue}");
    let (_, _, html) = app.page_get("/training", &cookies).await;
    assert!(html.contains("County academy: pump operations"), "{html}");
    assert!(html.contains("Approved"), "{html}");
    // The matrix and the ISO report show it.
    let (_, _, matrix) = app
        .page_get("/training/matrix?q=outside", &admin_cookies)
        .await;
    assert!(
        matrix.contains(r#"class="cell cell-completed""#),
        "{matrix}"
    );
    let (status, _, iso) = app
        .page_get(
            "/training/reports/iso?from=2026-01-01&to=2026-12-31",
            &admin_cookies,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(iso.contains("ISO figure"), "{iso}");
    assert!(iso.contains("format=pdf"), "{iso}");
    let (status, _, iso) = app
        .page_get(
            "/training/reports/iso?from=2026-13-01&to=2026-12-31",
            &admin_cookies,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        iso.contains(r#"id="from-error">From is not a date (YYYY-MM-DD)."#),
        "{iso}"
    );
    // The dashboard: the member's training panel, the officer's queue panel.
    let (_, _, dash) = app.page_get("/", &admin_cookies).await;
    assert!(dash.contains("Training officer"), "{dash}");
    assert!(
        dash.contains("No submitted training waiting for review"),
        "{dash}"
    );
}

#[tokio::test]
async fn officers_set_up_courses_and_requirements_from_forms() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "not-an-officer", &[]).await;
    for path in [
        "/training/setup",
        "/training/courses/new",
        "/training/requirements/new",
    ] {
        let (status, _, _) = app.page_get(path, &access_cookie(&member)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _, _) = app.page_get(path, &cookies).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, html) = app
        .page_post(
            "/training/courses/new",
            &cookies,
            &[
                ("name", ""),
                ("training_type", "certification"),
                ("duration_hours", "-1"),
                ("expiration_months", "soon"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="name-error">Name is required."#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"id="expiration_months-error">Valid for must be a whole number of months."#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"id="duration_hours-error">Hours must not be negative."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            "/training/courses/new",
            &cookies,
            &[
                ("name", "EMT-B"),
                ("training_type", "certification"),
                ("duration_hours", "120"),
                ("expiration_months", "24"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, "/training/setup?done=course");
    let course: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM training_courses WHERE organization_id = ? AND name = 'EMT-B'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let officer_role = app.role_id(&app.a, "training_officer").await;

    let (status, _, html) = app
        .page_post(
            "/training/requirements/new",
            &cookies,
            &[
                ("name", "Officer hours"),
                ("requirement_type", "hours"),
                ("period", "rolling"),
                ("applies_to", "roles"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="rolling_months-error""#), "{html}");
    assert!(html.contains(r#"id="required_hours-error""#), "{html}");
    assert!(html.contains(r#"id="role_ids-error""#), "{html}");
    // A fiscal year: 31 June is refused beside its field; 1 July is kept and listed.
    let fiscal = |day: &'static str| {
        vec![
            ("name", "Fiscal hours"),
            ("requirement_type", "hours"),
            ("required_hours", "12"),
            ("period", "annual"),
            ("period_start_month", if day == "31" { "6" } else { "7" }),
            ("period_start_day", day),
            ("recency_days", ""),
            ("applies_to", "all"),
            // Inactive: the matrix below is about the other requirement.
        ]
    };
    let (status, _, html) = app
        .page_post("/training/requirements/new", &cookies, &fiscal("31"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(
            r#"id="period_start_day-error">Year starts (day) is not a day of that month."#
        ),
        "{html}"
    );
    let (status, _, _) = app
        .page_post("/training/requirements/new", &cookies, &fiscal("1"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app.page_get("/training/setup", &cookies).await;
    assert!(html.contains("Annual from July 1"), "{html}");
    // How standings are counted: the current month, until an officer says finished months.
    assert!(
        html.contains(r#"id="months-current" name="months" value="current" checked"#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            "/training/setup/compliance",
            &cookies,
            &[("months", "finished")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/training/setup?done=compliance");
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(
        html.contains(r#"id="months-finished" name="months" value="finished" checked"#),
        "{html}"
    );
    let (status, _, _) = app
        .page_post(
            "/training/setup/compliance",
            &cookies,
            &[("months", "later")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let plain = app.member(&app.a, "plain-setup", &[]).await;
    let (status, _, _) = app
        .page_post(
            "/training/setup/compliance",
            &access_cookie(&plain),
            &[("months", "current")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, _) = app
        .page_post(
            "/training/requirements/new",
            &cookies,
            &[
                ("name", "EMT certification"),
                ("requirement_type", "certification"),
                ("course_ids", &course.to_string()),
                ("period", "one_time"),
                ("applies_to", "roles"),
                ("role_ids", &officer_role.to_string()),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, _, html) = app
        .page_get("/training/setup?done=requirement", &cookies)
        .await;
    assert!(html.contains("EMT certification"), "{html}");
    assert!(html.contains("A valid certification"), "{html}");
    assert!(html.contains("EMT-B"), "{html}");
    let (_, list) = app
        .get(&app.a.admin.token, "/api/v1/training/requirements")
        .await;
    assert_eq!(list[0]["role_ids"], serde_json::json!([officer_role]));
    assert_eq!(list[0]["course_ids"], serde_json::json!([course]));
    // Edited: deactivated, it leaves the matrix.
    let id = list[0]["id"].as_str().unwrap();
    let (status, _, html) = app
        .page_get(&format!("/training/requirements/{id}"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("checked"), "{html}");
    let (status, _, _) = app
        .page_post(
            &format!("/training/requirements/{id}"),
            &cookies,
            &[
                ("name", "EMT certification"),
                ("requirement_type", "certification"),
                ("course_ids", &course.to_string()),
                ("period", "one_time"),
                ("applies_to", "all"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, m) = app.get(&app.a.admin.token, "/api/v1/training/matrix").await;
    assert_eq!(m["requirements"], serde_json::json!([]));
}

#[tokio::test]
async fn leaves_are_granted_and_removed_from_the_members_page() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "leave-taker", &[]).await;
    let path = format!("/members/{}/leaves", member.id);
    let (status, _, html) = app
        .page_get(&format!("/members/{}", member.id), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"href="{path}""#)), "{html}");
    let (status, _, _) = app.page_get(&path, &access_cookie(&member)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bravo = app.member(&app.b, "bravo-leave", &[]).await;
    let (status, _, _) = app
        .page_get(&format!("/members/{}/leaves", bravo.id), &cookies)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, html) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("leave_type", "medical"),
                ("start_date", "2026-03-01"),
                ("end_date", "2026-02-01"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="end_date-error">Until must not be before the start date."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            &path,
            &cookies,
            &[
                ("leave_type", "medical"),
                ("start_date", "2026-03-01"),
                ("end_date", "2026-04-30"),
                ("reason", "Knee surgery"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("The leave was recorded."), "{html}");
    assert!(html.contains("Training waived for these dates"), "{html}");
    let leave: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM member_leaves_of_absence WHERE organization_id = ?")
            .bind(app.a.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let (status, _, html) = app
        .page_get(&format!("{path}/{leave}/remove"), &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Remove this leave?"), "{html}");
    let (status, location, _) = app
        .page_post(&format!("{path}/{leave}/remove"), &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{path}?done=removed"));
    let active: bool =
        sqlx::query_scalar("SELECT active FROM training_waivers WHERE organization_id = ?")
            .bind(app.a.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!active);
}

/// An officer exempts a member from the member's training page: the reason is asked beside its
/// field, the standing then says why; a member sees no such form.
#[tokio::test]
async fn an_officer_exempts_a_member_from_their_training_page() {
    let app = TestApp::spawn().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let member = app.member(&app.a, "page-exempt", &[]).await;
    let page = format!("/training/members/{}", member.id);
    let (status, _, html) = app.page_get(&page, &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Exemption from training requirements"),
        "{html}"
    );
    let post = format!("{page}/exemption");
    let (status, _, html) = app
        .page_post(&post, &cookies, &[("exempt", "1"), ("reason", " ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="reason-error">Reason is required."#),
        "{html}"
    );
    let (status, location, _) = app
        .page_post(
            &post,
            &cookies,
            &[("exempt", "1"), ("reason", "Fire police only")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{page}?done=exemption"));
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("Fire police only"), "{html}");
    assert!(
        html.contains(r#"id="exempt" name="exempt" value="1" checked"#),
        "{html}"
    );
    // The member's own page has no form, and they may not post it.
    let own = access_cookie(&member);
    let (_, _, html) = app.page_get("/training", &own).await;
    assert!(
        !html.contains("Exemption from training requirements"),
        "{html}"
    );
    let (status, _, _) = app.page_post(&post, &own, &[("reason", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
