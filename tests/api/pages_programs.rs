//! The program and shift report pages: building a program and enrolling from forms whose
//! mistakes are shown beside the field and change nothing; an officer's decisions and the
//! phase sign-off; withdrawing after asking; writing, reviewing and acknowledging a shift
//! report; who may open which page.

use reqwest::StatusCode;

use crate::harness::*;

async fn count(app: &TestApp, table: &str) -> i64 {
    app.count_rows(table).await
}

fn id_in(location: &str, prefix: &str) -> String {
    location
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}"))
        .split(['?', '/', '#'])
        .next()
        .unwrap()
        .to_string()
}

fn has_error(html: &str, field: &str, message: &str) -> bool {
    html.contains(&format!(r#"id="{field}-error">{message}"#))
}

#[tokio::test]
async fn a_program_is_built_and_a_member_enrolled_signed_off_and_withdrawn_from_the_pages() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let recruit = app.member(&app.a, "recruit", &[]).await;
    let second = app.member(&app.a, "second-recruit", &[]).await;
    let member_cookies = access_cookie(&second);

    let (status, _, html) = app.page_get("/training/programs", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No program yet"), "{html}");
    // Mistakes beside the fields, nothing written.
    let (status, _, html) = app
        .page_post(
            "/training/programs/new",
            &admin,
            &[
                ("name", " "),
                ("structure_type", "phases"),
                ("time_limit_days", "a year"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(has_error(&html, "name", "Name is required."), "{html}");
    assert!(
        has_error(
            &html,
            "time_limit_days",
            "Time limit must be a whole number of days."
        ),
        "{html}"
    );
    assert_eq!(count(&app, "training_programs").await, 0);
    let (status, location, _) = app
        .page_post(
            "/training/programs/new",
            &admin,
            &[
                ("name", "Recruit academy"),
                ("structure_type", "phases"),
                ("time_limit_days", "180"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let pid = id_in(&location, "/training/programs/");
    let base = format!("/training/programs/{pid}");

    let (status, _, html) = app
        .page_post(&format!("{base}/phases"), &admin, &[("phase_name", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "phase_name", "Phase name is required."),
        "{html}"
    );
    let (status, _, _) = app
        .page_post(
            &format!("{base}/phases"),
            &admin,
            &[("phase_name", "Classroom"), ("manual", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, program) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/training/programs/{pid}"),
        )
        .await;
    let phase = program["phases"][0]["id"].as_str().unwrap().to_string();
    let (status, _, html) = app
        .page_post(
            &format!("{base}/items"),
            &admin,
            &[
                ("phase_id", &phase),
                ("item_type", "course"),
                ("course_id", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "course_id", "Course is required for a course item."),
        "{html}"
    );
    let (status, _, html) = app
        .page_post(
            &format!("{base}/items"),
            &admin,
            &[
                ("phase_id", &phase),
                ("item_type", "hours"),
                ("name", "Hours"),
                ("target_value", "-2"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "target_value", "How many must be more than 0."),
        "{html}"
    );
    assert_eq!(count(&app, "program_requirements").await, 0);
    for (name, target) in [("Hours", "10"), ("Knots", "")] {
        let kind = if name == "Hours" { "hours" } else { "skill" };
        let (status, _, _) = app
            .page_post(
                &format!("{base}/items"),
                &admin,
                &[
                    ("phase_id", &phase),
                    ("item_type", kind),
                    ("name", name),
                    ("target_value", target),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    }

    // Enrolling: a member must be chosen; twice is refused beside the field.
    let (status, _, html) = app
        .page_post(&format!("{base}/enroll"), &admin, &[("user_id", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "user_id", "Choose the member to enroll."),
        "{html}"
    );
    for who in [&recruit, &second] {
        let (status, _, _) = app
            .page_post(
                &format!("{base}/enroll"),
                &admin,
                &[("user_id", &who.id.to_string())],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, _, html) = app
        .page_post(
            &format!("{base}/enroll"),
            &admin,
            &[("user_id", &recruit.id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("is already enrolled in this program"),
        "{html}"
    );
    assert_eq!(count(&app, "program_enrollments").await, 2);

    let (_, list) = app
        .get(&app.a.admin.token, "/api/v1/training/enrollments")
        .await;
    let of = |u: &User| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["user_id"] == u.id.to_string())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (mine, theirs) = (of(&recruit), of(&second));
    let hours_item = program_item(&app, &pid, "Hours").await;
    let knots_item = program_item(&app, &pid, "Knots").await;
    let page = format!("/training/enrollments/{mine}");
    // The officer credits hours (a bad number is shown beside that item), verifies the skill,
    // then signs the phase off and the program is complete.
    let (status, _, html) = app
        .page_post(
            &format!("{page}/items/{hours_item}"),
            &admin,
            &[("action", "credit"), ("units", "ten")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!(
            r#"id="item-error-{hours_item}">Units: not a number."#
        )),
        "{html}"
    );
    for (item, action, units) in [(&hours_item, "credit", "10"), (&knots_item, "verify", "")] {
        let (status, _, _) = app
            .page_post(
                &format!("{page}/items/{item}"),
                &admin,
                &[("action", action), ("units", units)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}");
    }
    let (_, _, html) = app.page_get(&page, &admin).await;
    assert!(html.contains("waits for an officer's sign-off"), "{html}");
    let (status, _, _) = app.page_post(&format!("{page}/advance"), &admin, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app.page_get(&page, &admin).await;
    assert!(
        html.contains(r#"<span class="status">Completed</span>"#),
        "{html}"
    );

    // The member's dashboard shows the program; they see their own enrollment, not another's,
    // and no officer controls.
    let (_, _, html) = app.page_get("/", &member_cookies).await;
    assert!(
        html.contains("Recruit academy: 0 % done, now in Classroom"),
        "{html}"
    );
    let (status, _, html) = app
        .page_get(&format!("/training/enrollments/{theirs}"), &member_cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Sign off the phase"), "{html}");
    let (status, _, _) = app.page_get(&page, &member_cookies).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in [
        base.clone(),
        "/training/programs/new".into(),
        "/training/shift-reports/new".into(),
    ] {
        let (status, _, _) = app.page_get(&path, &member_cookies).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = app
        .page_post(
            &format!("{base}/phases"),
            &member_cookies,
            &[("phase_name", "Mine")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Withdrawing asks first and needs a reason.
    let withdraw = format!("/training/enrollments/{theirs}/withdraw");
    let (status, _, html) = app.page_get(&withdraw, &member_cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Withdraw from Recruit academy?"), "{html}");
    let (status, _, html) = app
        .page_post(&withdraw, &member_cookies, &[("reason", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(has_error(&html, "reason", "Reason is required."), "{html}");
    let (status, _, _) = app
        .page_post(
            &withdraw,
            &member_cookies,
            &[("reason", "New job with night shifts")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, e) = app
        .get(
            &second.token,
            &format!("/api/v1/training/enrollments/{theirs}"),
        )
        .await;
    assert_eq!(e["status"], "withdrawn");

    // Another department's admin finds none of it.
    let bravo = app.page_sign_in("bravo-admin", PASSWORD).await;
    for path in [base.clone(), page.clone()] {
        let (status, _, _) = app.page_get(&path, &bravo).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn program_item(app: &TestApp, pid: &str, name: &str) -> String {
    let (_, p) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/training/programs/{pid}"),
        )
        .await;
    p["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ph| ph["items"].as_array().unwrap())
        .find(|i| i["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_shift_report_is_written_reviewed_and_acknowledged_from_the_pages() {
    let app = TestApp::spawn().await;
    let writer = app.member(&app.a, "writer", &["training_officer"]).await;
    let reviewer = app.member(&app.a, "reviewer", &["training_officer"]).await;
    let trainee = app.member(&app.a, "trainee", &[]).await;
    let (w, r, t) = (
        access_cookie(&writer),
        access_cookie(&reviewer),
        access_cookie(&trainee),
    );
    let (status, _, html) = app.page_get("/training/shift-reports/new", &w).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("trainee, Test"), "{html}");
    assert!(
        !html.contains("writer, Test"),
        "reporting on yourself: {html}"
    );
    let tid = trainee.id.to_string();
    let (status, _, html) = app
        .page_post(
            "/training/shift-reports/new",
            &w,
            &[
                ("trainee_id", &tid),
                ("shift_date", "2026-01-04"),
                ("hours_on_shift", ""),
                ("performance_rating", "4"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "hours_on_shift", "Hours on shift is required."),
        "{html}"
    );
    let (status, _, html) = app
        .page_post(
            "/training/shift-reports/new",
            &w,
            &[
                ("trainee_id", &tid),
                ("shift_date", "2026-01-04"),
                ("hours_on_shift", "99"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(
            &html,
            "hours_on_shift",
            "Hours on shift must be at most 72."
        ),
        "{html}"
    );
    assert_eq!(count(&app, "shift_completion_reports").await, 0);
    let (status, location, html) = app
        .page_post(
            "/training/shift-reports/new",
            &w,
            &[
                ("trainee_id", &tid),
                ("shift_date", "2026-01-04"),
                ("hours_on_shift", "12"),
                ("calls_responded", "2"),
                ("call_types", "EMS, Fire alarm"),
                ("skills_observed", "Ladder raise\nSCBA donning"),
                ("performance_rating", "4"),
                ("narrative", "Good hustle.\nWork on radio discipline."),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let id = id_in(&location, "/training/shift-reports/");
    let page = format!("/training/shift-reports/{id}");
    // Not yet the trainee's to read; the author cannot review it.
    let (status, _, _) = app.page_get(&page, &t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, html) = app.page_get(&page, &w).await;
    assert!(!html.contains("Record the review"), "{html}");
    let (status, _, _) = app
        .page_post(&format!("{page}/review"), &w, &[("decision", "approved")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The reviewer's dashboard says a report waits (the author's does not).
    let (_, _, html) = app.page_get("/", &r).await;
    assert!(html.contains("1 shift report waiting for review"), "{html}");
    let (_, _, html) = app.page_get("/", &w).await;
    assert!(!html.contains("shift report waiting for review"), "{html}");
    // The reviewer: flagging needs a note.
    let (status, _, html) = app.page_get("/training/shift-reports", &r).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 report."), "{html}");
    let (status, _, html) = app
        .page_post(
            &format!("{page}/review"),
            &r,
            &[("decision", "flagged"), ("notes", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        has_error(&html, "notes", "Say what needs changing."),
        "{html}"
    );
    let (status, _, _) = app
        .page_post(&format!("{page}/review"), &r, &[("decision", "approved")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The trainee reads it, with the narrative, and acknowledges it.
    let (_, _, html) = app.page_get("/", &t).await;
    assert!(html.contains("1 shift report about you to read"), "{html}");
    let (status, _, html) = app.page_get("/training/shift-reports", &t).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("not yet acknowledged"), "{html}");
    let (status, _, html) = app.page_get(&page, &t).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Work on radio discipline."), "{html}");
    assert!(html.contains("I have read it"), "{html}");
    let (status, _, _) = app.page_post(&format!("{page}/acknowledge"), &t, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app.page_get(&page, &t).await;
    assert!(!html.contains("I have read it"), "{html}");
    assert_eq!(
        app.audit_actions(&app.a, "training.shift_report_acknowledged")
            .await,
        1
    );
}
