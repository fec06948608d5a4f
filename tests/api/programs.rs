//! Training programs and shift completion reports through the API: credit from records and
//! approved reports (once), phases that advance on their own or wait for a sign-off,
//! completion and reopening, withdrawal; who may do what; one department never reaches
//! another's; bad input changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

async fn ok(app: &TestApp, token: &str, path: &str, body: Value, expect: StatusCode) -> Value {
    let (status, v) = app.post(token, path, body).await;
    assert_eq!(status, expect, "{path}: {v}");
    v
}

fn item<'a>(enrollment: &'a Value, name: &str) -> &'a Value {
    enrollment["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter())
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}: {enrollment}"))
}

fn current_phase(enrollment: &Value) -> String {
    enrollment["current_phase_name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Today in Alpha's time zone (records and shifts carry the department's dates).
async fn org_today(app: &TestApp) -> chrono::NaiveDate {
    app.org_today(&app.a).await
}

async fn credits(app: &TestApp, source: &str) -> i64 {
    assert!(source.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    app.count_rows_where(
        "requirement_progress_credits",
        &format!("source_type = '{source}'"),
    )
    .await
}

/// A two-phase probationary program: phase 1 (a course and 10 hours) moves on by itself;
/// phase 2 (two shifts, three calls, a skill seen twice) needs an officer's sign-off.
async fn probationary(app: &TestApp, admin: &str) -> (Value, Value) {
    let (status, ff1) = app
        .post(
            admin,
            "/api/v1/training/courses",
            json!({"name": "Firefighter I", "training_type": "certification", "duration_hours": 8}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ff1}");
    let p = ok(
        app,
        admin,
        "/api/v1/training/programs",
        json!({"name": "Probationary firefighter", "structure_type": "phases",
               "time_limit_days": 365, "target_position": "firefighter"}),
        StatusCode::CREATED,
    )
    .await;
    let id = p["id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/training/programs/{id}");
    ok(
        app,
        admin,
        &format!("{base}/phases"),
        json!({"name": "Orientation"}),
        StatusCode::CREATED,
    )
    .await;
    let p = ok(
        app,
        admin,
        &format!("{base}/phases"),
        json!({"name": "Riding", "requires_manual_advancement": true}),
        StatusCode::CREATED,
    )
    .await;
    let (one, two) = (&p["phases"][0]["id"], &p["phases"][1]["id"]);
    for body in [
        json!({"phase_id": one, "item_type": "course", "course_id": ff1["id"]}),
        json!({"phase_id": one, "item_type": "hours", "name": "Training hours", "target_value": 10}),
        json!({"phase_id": one, "item_type": "skill", "name": "Knots", "is_required": false}),
        json!({"phase_id": two, "item_type": "shifts", "name": "Ride-along shifts", "target_value": 2}),
        json!({"phase_id": two, "item_type": "calls", "name": "Calls", "target_value": 3}),
        json!({"phase_id": two, "item_type": "skill", "name": "SCBA donning", "target_value": 2}),
    ] {
        ok(
            app,
            admin,
            &format!("{base}/items"),
            body,
            StatusCode::CREATED,
        )
        .await;
    }
    let (_, p) = app.get(admin, &base).await;
    (p, ff1)
}

async fn record(app: &TestApp, token: &str, user: &User, body: Value) -> String {
    let mut body = body;
    body["user_ids"] = json!([user.id]);
    let made = ok(
        app,
        token,
        "/api/v1/training/records",
        body,
        StatusCode::CREATED,
    )
    .await;
    made[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_program_is_credited_advances_waits_for_a_sign_off_completes_and_reopens() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let writer = app.member(&app.a, "writer", &["training_officer"]).await;
    let reviewer = app.member(&app.a, "reviewer", &["training_officer"]).await;
    let trainee = app.member(&app.a, "trainee", &[]).await;
    let (program, ff1) = probationary(&app, &admin).await;
    assert_eq!(program["phases"].as_array().unwrap().len(), 2);
    assert_eq!(program["phases"][1]["phase_number"], 2);

    // Firefighter I before enrolling counts for the course item.
    let ff1_record = record(
        &app,
        &admin,
        &trainee,
        json!({"course_id": ff1["id"], "completion_date": "2026-01-10"}),
    )
    .await;
    let pid = program["id"].as_str().unwrap();
    let e = ok(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/enrollments"),
        json!({"user_id": trainee.id}),
        StatusCode::CREATED,
    )
    .await;
    let eid = e["id"].as_str().unwrap().to_string();
    assert_eq!(e["status"], "active");
    assert_eq!(current_phase(&e), "Orientation");
    assert_eq!(item(&e, "Firefighter I")["status"], "completed");
    // The hours of a record before enrolling do not count towards the program's hours.
    assert_eq!(item(&e, "Training hours")["progress_value"], 0.0);
    assert!(e["target_completion_date"].is_string());
    // Required: 1 of 5 items done, the rest at 0: 20 %.
    assert_eq!(e["progress_percentage"], 20.0);
    // Once at a time.
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/training/programs/{pid}/enrollments"),
            json!({"user_id": trainee.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["user_id"]);

    // Hours since enrolling: 6, then 4 more; phase 1 done, on to phase 2 by itself.
    let today = org_today(&app).await.to_string();
    record(
        &app,
        &admin,
        &trainee,
        json!({"course_name": "Hose drill", "training_type": "drill", "hours": 6, "completion_date": today}),
    )
    .await;
    let (_, e) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{eid}"),
        )
        .await;
    assert_eq!(item(&e, "Training hours")["status"], "in_progress");
    assert_eq!(current_phase(&e), "Orientation");
    let four = record(
        &app,
        &admin,
        &trainee,
        json!({"course_name": "Ladder drill", "training_type": "drill", "hours": 4, "completion_date": today}),
    )
    .await;
    let (_, e) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{eid}"),
        )
        .await;
    assert_eq!(item(&e, "Training hours")["status"], "completed");
    assert_eq!(current_phase(&e), "Riding", "{e}");
    assert_eq!(
        app.audit_actions(&app.a, "training.phase_advanced").await,
        1
    );

    // Voiding takes the credit back; the phase does not move back.
    ok(
        &app,
        &admin,
        &format!("/api/v1/training/records/{four}/void"),
        json!({"reason": "Entered twice"}),
        StatusCode::OK,
    )
    .await;
    let (_, e) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{eid}"))
        .await;
    assert_eq!(item(&e, "Training hours")["progress_value"], 6.0);
    assert_eq!(item(&e, "Training hours")["status"], "in_progress");
    assert_eq!(current_phase(&e), "Riding");

    // A shift report: the writer cannot review their own; the reviewer approves; credit once.
    let report = ok(
        &app,
        &writer.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": trainee.id, "enrollment_id": eid, "shift_date": today,
               "hours_on_shift": 12, "calls_responded": 3, "call_types": ["EMS", "Fire alarm"],
               "skills_observed": ["scba donning", "Ladder raise"], "performance_rating": 4,
               "narrative": "Calm on the structure fire; needs work on radio traffic."}),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(report["review_status"], "pending_review");
    let rid = report["id"].as_str().unwrap().to_string();
    // The narrative is not stored in the clear.
    let raw: Vec<u8> = sqlx::query_scalar(
        "SELECT narrative FROM shift_completion_reports WHERE id = UNHEX(REPLACE(?, '-', ''))",
    )
    .bind(&rid)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("radio traffic"));
    // Not the trainee's to see until approved.
    let (status, _) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/shift-reports/{rid}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let review = format!("/api/v1/training/shift-reports/{rid}/review");
    let (status, body) = app
        .post(&writer.token, &review, json!({"decision": "approved"}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(&reviewer.token, &review, json!({"decision": "flagged"}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["notes"]);
    let approved = ok(
        &app,
        &reviewer.token,
        &review,
        json!({"decision": "approved"}),
        StatusCode::OK,
    )
    .await;
    assert!(approved["credited_at"].is_string());
    let (status, body) = app
        .post(&reviewer.token, &review, json!({"decision": "approved"}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Shifts, calls, hours and the one matching skill: four credits from this report.
    assert_eq!(credits(&app, "shift_report").await, 4);
    let (_, e) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{eid}"),
        )
        .await;
    assert_eq!(item(&e, "Ride-along shifts")["progress_value"], 1.0);
    assert_eq!(item(&e, "Calls")["status"], "completed");
    assert_eq!(item(&e, "SCBA donning")["progress_value"], 1.0);
    assert_eq!(item(&e, "Training hours")["progress_value"], 18.0);
    // The trainee reads and acknowledges it.
    let (status, seen) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/shift-reports/{rid}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(
        seen["narrative"],
        "Calm on the structure fire; needs work on radio traffic."
    );
    let acked = ok(
        &app,
        &trainee.token,
        &format!("/api/v1/training/shift-reports/{rid}/acknowledge"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert!(acked["trainee_acknowledged_at"].is_string());

    // A second shift: phase 2 is done but waits for a sign-off.
    let second = ok(
        &app,
        &writer.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": trainee.id, "shift_date": today, "hours_on_shift": 10,
               "skills_observed": ["SCBA donning"]}),
        StatusCode::CREATED,
    )
    .await;
    ok(
        &app,
        &reviewer.token,
        &format!(
            "/api/v1/training/shift-reports/{}/review",
            second["id"].as_str().unwrap()
        ),
        json!({"decision": "approved"}),
        StatusCode::OK,
    )
    .await;
    let (_, e) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{eid}"))
        .await;
    assert_eq!(e["status"], "active");
    assert_eq!(e["awaiting_sign_off"], true, "{e}");
    assert_eq!(e["progress_percentage"], 100.0);
    // The member cannot sign off; the officer does, and the program is complete.
    let advance = format!("/api/v1/training/enrollments/{eid}/advance");
    let (status, body) = app.post(&trainee.token, &advance, json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let e = ok(&app, &reviewer.token, &advance, json!({}), StatusCode::OK).await;
    assert_eq!(e["status"], "completed");
    assert!(e["completed_at"].is_string());
    assert_eq!(
        app.audit_actions(&app.a, "training.program_completed")
            .await,
        1
    );

    // Taking Firefighter I back reopens it.
    ok(
        &app,
        &admin,
        &format!("/api/v1/training/records/{ff1_record}/void"),
        json!({"reason": "Certificate was not valid"}),
        StatusCode::OK,
    )
    .await;
    let (_, e) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{eid}"))
        .await;
    assert_eq!(e["status"], "active", "{e}");
    assert_eq!(item(&e, "Firefighter I")["status"], "not_started");
    assert_eq!(
        app.audit_actions(&app.a, "training.program_reopened").await,
        1
    );
    // An officer waives it instead; complete again (the sign-off stands).
    let ff1_item = item(&e, "Firefighter I")["item_id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = ok(
        &app,
        &admin,
        &format!("/api/v1/training/enrollments/{eid}/items/{ff1_item}"),
        json!({"action": "waive", "note": "Holds state certification"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(e["status"], "completed", "{e}");

    // Withdrawing a completed enrollment is refused; the list shows the member's own.
    let (status, body) = app
        .post(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{eid}/withdraw"),
            json!({"reason": "Moving away"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, mine) = app
        .get(&trainee.token, "/api/v1/training/enrollments")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn members_withdraw_their_own_officers_manage_and_other_departments_see_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let trainee = app.member(&app.a, "recruit", &[]).await;
    let other = app.member(&app.a, "other-recruit", &[]).await;
    let officer = app.member(&app.a, "captain", &["training_officer"]).await;
    let (program, _) = probationary(&app, &admin).await;
    let pid = program["id"].as_str().unwrap();
    let enroll = format!("/api/v1/training/programs/{pid}/enrollments");

    // A member may not build programs, enroll anyone or act on items.
    let (status, body) = app
        .post(
            &trainee.token,
            "/api/v1/training/programs",
            json!({"name": "Mine"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(&trainee.token, &enroll, json!({"user_id": trainee.id}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let mine = ok(
        &app,
        &officer.token,
        &enroll,
        json!({"user_id": trainee.id}),
        StatusCode::CREATED,
    )
    .await;
    let theirs = ok(
        &app,
        &officer.token,
        &enroll,
        json!({"user_id": other.id}),
        StatusCode::CREATED,
    )
    .await;
    let (mine, theirs) = (
        mine["id"].as_str().unwrap().to_string(),
        theirs["id"].as_str().unwrap().to_string(),
    );
    // The member sees their own enrollment, not another's, and lists only their own.
    let (status, _) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{theirs}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .get(
            &trainee.token,
            &format!("/api/v1/training/enrollments?user_id={}", other.id),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (_, all) = app
        .get(&officer.token, "/api/v1/training/enrollments")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, body) = app
        .post(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{theirs}/withdraw"),
            json!({"reason": "Not mine"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let any_item = program["phases"][0]["items"][0]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &trainee.token,
            &format!("/api/v1/training/enrollments/{mine}/items/{any_item}"),
            json!({"action": "verify"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Withdrawing needs a reason; then it is withdrawn, and a new enrollment is possible.
    let withdraw = format!("/api/v1/training/enrollments/{mine}/withdraw");
    let (status, body) = app
        .post(&trainee.token, &withdraw, json!({"reason": " "}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let e = ok(
        &app,
        &trainee.token,
        &withdraw,
        json!({"reason": "Work schedule changed"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(e["status"], "withdrawn");
    ok(
        &app,
        &officer.token,
        &enroll,
        json!({"user_id": trainee.id}),
        StatusCode::CREATED,
    )
    .await;

    // Another department: nothing of Alpha's is reachable, and nothing changes.
    let bravo = app.b.admin.token.clone();
    let before = app.snapshot(&app.a).await;
    for path in [
        format!("/api/v1/training/programs/{pid}"),
        format!("/api/v1/training/enrollments/{theirs}"),
    ] {
        let (status, _) = app.get(&bravo, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    for (path, body) in [
        (enroll.clone(), json!({"user_id": other.id})),
        (
            format!("/api/v1/training/programs/{pid}/phases"),
            json!({"name": "Sneaky"}),
        ),
        (
            format!("/api/v1/training/enrollments/{theirs}/advance"),
            json!({"force": true}),
        ),
        (
            format!("/api/v1/training/enrollments/{theirs}/withdraw"),
            json!({"reason": "x"}),
        ),
    ] {
        let (status, body) = app.post(&bravo, &path, body).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    let b_program = ok(
        &app,
        &bravo,
        "/api/v1/training/programs",
        json!({"name": "Bravo recruits"}),
        StatusCode::CREATED,
    )
    .await;
    let (status, body) = app
        .post(
            &bravo,
            &format!(
                "/api/v1/training/programs/{}/enrollments",
                b_program["id"].as_str().unwrap()
            ),
            json!({"user_id": other.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post(
            &bravo,
            "/api/v1/training/shift-reports",
            json!({"trainee_id": other.id, "shift_date": "2026-01-01", "hours_on_shift": 8}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["trainee_id"]);
    let (_, listed) = app.get(&bravo, "/api/v1/training/programs").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn bad_programs_items_enrollments_and_shift_reports_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let trainee = app.member(&app.a, "newbie", &[]).await;
    let (program, _) = probationary(&app, &admin).await;
    let pid = program["id"].as_str().unwrap();
    let phase = program["phases"][0]["id"].as_str().unwrap();
    let (_, b_course) = app
        .post(
            &app.b.admin.token,
            "/api/v1/training/courses",
            json!({"name": "Bravo course", "training_type": "drill", "duration_hours": 1}),
        )
        .await;
    let before = app.snapshot(&app.a).await;
    let tomorrow = (org_today(&app).await + chrono::Duration::days(1)).to_string();
    let cases: Vec<(String, Value, Vec<&str>)> = vec![
        (
            "/api/v1/training/programs".into(),
            json!({"name": "", "structure_type": "loose", "time_limit_days": 0}),
            vec!["name", "structure_type", "time_limit_days"],
        ),
        (
            "/api/v1/training/programs".into(),
            json!({"name": "Probationary firefighter"}),
            vec!["name"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/items"),
            json!({"phase_id": phase, "item_type": "course"}),
            vec!["course_id", "name"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/items"),
            json!({"phase_id": phase, "item_type": "hours", "name": "Hours", "target_value": 0}),
            vec!["target_value"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/items"),
            json!({"phase_id": phase, "item_type": "course", "course_id": b_course["id"]}),
            vec!["course_id", "name"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/items"),
            json!({"phase_id": phase, "item_type": "juggling", "name": "Juggling"}),
            vec!["item_type"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/items"),
            json!({"phase_id": trainee.id, "item_type": "hours", "name": "Hours"}),
            vec!["phase_id"],
        ),
        (
            format!("/api/v1/training/programs/{pid}/enrollments"),
            json!({"user_id": trainee.id, "target_completion_date": "2020-01-01"}),
            vec!["target_completion_date"],
        ),
        (
            "/api/v1/training/shift-reports".into(),
            json!({"trainee_id": trainee.id, "shift_date": tomorrow, "hours_on_shift": 0,
                   "performance_rating": 9, "calls_responded": 500}),
            vec![
                "shift_date",
                "hours_on_shift",
                "calls_responded",
                "performance_rating",
            ],
        ),
        (
            "/api/v1/training/shift-reports".into(),
            json!({"trainee_id": app.a.admin.id, "shift_date": "2026-01-01", "hours_on_shift": 8,
                   "enrollment_id": trainee.id}),
            vec!["trainee_id", "enrollment_id"],
        ),
        (
            "/api/v1/training/shift-reports".into(),
            json!({"trainee_id": trainee.id, "shift_date": "2026-01-01", "hours_on_shift": -3,
                   "narrative": "x".repeat(2001)}),
            vec!["hours_on_shift", "narrative"],
        ),
    ];
    for (path, body, fields) in cases {
        let (status, problem) = app.post(&admin, &path, body.clone()).await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        let mut got = error_fields(&problem);
        got.sort();
        let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{path} {body}: {problem}");
    }
    // Malformed: not JSON of the right shape, unknown fields, a bad id.
    let (status, _) = app
        .post(
            &admin,
            "/api/v1/training/programs",
            json!({"name": "X", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post(
            &admin,
            "/api/v1/training/enrollments/not-an-id/advance",
            json!({}),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, body) = app
        .get(&admin, "/api/v1/training/enrollments?status=sleeping")
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.snapshot(&app.a).await, before);

    // An item nobody has progress on can be removed; one with progress cannot.
    let e = ok(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/enrollments"),
        json!({"user_id": trainee.id}),
        StatusCode::CREATED,
    )
    .await;
    let knots = item(&e, "Knots")["item_id"].as_str().unwrap().to_string();
    let calls = item(&e, "Calls")["item_id"].as_str().unwrap().to_string();
    ok(
        &app,
        &admin,
        &format!(
            "/api/v1/training/enrollments/{}/items/{knots}",
            e["id"].as_str().unwrap()
        ),
        json!({"action": "credit", "units": 1}),
        StatusCode::OK,
    )
    .await;
    let (status, body) = app
        .delete(
            &admin,
            &format!("/api/v1/training/programs/{pid}/items/{knots}"),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, p) = app
        .delete(
            &admin,
            &format!("/api/v1/training/programs/{pid}/items/{calls}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert!(!p.to_string().contains("\"Calls\""));
    let (status, body) = app
        .post(
            &admin,
            &format!(
                "/api/v1/training/enrollments/{}/items/{knots}",
                e["id"].as_str().unwrap()
            ),
            json!({"action": "credit", "units": -1}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["units"]);
}

async fn run_deadlines(app: &TestApp) {
    app.run_job(&app.a, "program_deadlines").await;
}

async fn subjects(app: &TestApp, user: &User) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT subject FROM notification_logs WHERE recipient_id = ? ORDER BY created_at, subject",
    )
    .bind(user.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_program_due_soon_is_reminded_once_and_one_past_its_date_expires_once() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let officer = app
        .member(&app.a, "deadline-officer", &["training_officer"])
        .await;
    let soon = app.member(&app.a, "due-soon", &[]).await;
    let late = app.member(&app.a, "overdue", &[]).await;
    let (program, _) = probationary(&app, &admin).await;
    let pid = program["id"].as_str().unwrap();
    let today = org_today(&app).await;
    let mut ids = Vec::new();
    for (who, days) in [(&soon, 10), (&late, 200)] {
        let e = ok(
            &app,
            &admin,
            &format!("/api/v1/training/programs/{pid}/enrollments"),
            json!({"user_id": who.id,
                   "target_completion_date": (today + chrono::Duration::days(days)).to_string()}),
            StatusCode::CREATED,
        )
        .await;
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    // The second one's date passes.
    sqlx::query(
        "UPDATE program_enrollments SET target_completion_date = ? WHERE id = UNHEX(REPLACE(?, '-', ''))",
    )
    .bind(today - chrono::Duration::days(1))
    .bind(&ids[1])
    .execute(&app.db.pool)
    .await
    .unwrap();
    for _ in 0..2 {
        run_deadlines(&app).await;
    }
    let due = subjects(&app, &soon).await;
    assert_eq!(
        due.iter().filter(|s| s.contains("is due by")).count(),
        1,
        "{due:?}"
    );
    let (_, e) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{}", ids[0]))
        .await;
    assert_eq!(e["status"], "active");
    let (_, e) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{}", ids[1]))
        .await;
    assert_eq!(e["status"], "expired");
    assert_eq!(
        app.audit_actions(&app.a, "training.enrollment_expired")
            .await,
        1
    );
    for who in [&late, &officer] {
        let got = subjects(&app, who).await;
        assert_eq!(
            got.iter()
                .filter(|s| s.ends_with("Probationary firefighter expired"))
                .count(),
            1,
            "{got:?}"
        );
    }
    // Expired keeps its progress and takes no more credit; the member can be enrolled again.
    let (status, body) = app
        .post(
            &admin,
            &format!("/api/v1/training/enrollments/{}/advance", ids[1]),
            json!({"force": true}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    ok(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/enrollments"),
        json!({"user_id": late.id}),
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn an_officer_in_a_program_neither_decides_on_it_nor_reads_reports_about_them_early() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let lieutenant = app
        .member(&app.a, "lt-trainee", &["training_officer"])
        .await;
    let captain = app.member(&app.a, "captain", &["training_officer"]).await;
    let graduate = app.member(&app.a, "graduate", &[]).await;
    let (program, _) = probationary(&app, &admin).await;
    let pid = program["id"].as_str().unwrap();
    let enroll = format!("/api/v1/training/programs/{pid}/enrollments");
    let e = ok(
        &app,
        &admin,
        &enroll,
        json!({"user_id": lieutenant.id}),
        StatusCode::CREATED,
    )
    .await;
    let eid = e["id"].as_str().unwrap().to_string();
    let shifts = item(&e, "Ride-along shifts")["item_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Their own enrollment: no verifying, crediting or signing off.
    for (path, body) in [
        (
            format!("/api/v1/training/enrollments/{eid}/items/{shifts}"),
            json!({"action": "verify"}),
        ),
        (
            format!("/api/v1/training/enrollments/{eid}/advance"),
            json!({"force": true}),
        ),
    ] {
        let (status, body) = app.post(&lieutenant.token, &path, body).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    // A report about them is theirs to read only once approved.
    let today = org_today(&app).await.to_string();
    let report = ok(
        &app,
        &captain.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": lieutenant.id, "shift_date": today, "hours_on_shift": 8,
               "narrative": "Private until reviewed"}),
        StatusCode::CREATED,
    )
    .await;
    let rid = report["id"].as_str().unwrap();
    let (status, _) = app
        .get(
            &lieutenant.token,
            &format!("/api/v1/training/shift-reports/{rid}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app
        .get(&lieutenant.token, "/api/v1/training/shift-reports")
        .await;
    assert_eq!(listed["total"], 0, "{listed}");
    // A report approved for someone in no program counts for nothing and says so.
    let lone = ok(
        &app,
        &captain.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": graduate.id, "shift_date": today, "hours_on_shift": 8}),
        StatusCode::CREATED,
    )
    .await;
    let approved = ok(
        &app,
        &admin,
        &format!(
            "/api/v1/training/shift-reports/{}/review",
            lone["id"].as_str().unwrap()
        ),
        json!({"decision": "approved"}),
        StatusCode::OK,
    )
    .await;
    assert!(approved["credited_at"].is_null(), "{approved}");

    // A member who completed the program is not reopened when the program gains an item.
    let g = ok(
        &app,
        &admin,
        &enroll,
        json!({"user_id": graduate.id}),
        StatusCode::CREATED,
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_string();
    for i in g["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
    {
        ok(
            &app,
            &admin,
            &format!(
                "/api/v1/training/enrollments/{gid}/items/{}",
                i["item_id"].as_str().unwrap()
            ),
            json!({"action": "waive"}),
            StatusCode::OK,
        )
        .await;
    }
    let g = ok(
        &app,
        &admin,
        &format!("/api/v1/training/enrollments/{gid}/advance"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(g["status"], "completed", "{g}");
    let phase = program["phases"][0]["id"].as_str().unwrap();
    ok(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/items"),
        json!({"phase_id": phase, "item_type": "hours", "name": "Extra hours", "target_value": 4}),
        StatusCode::CREATED,
    )
    .await;
    let (_, g) = app
        .get(&admin, &format!("/api/v1/training/enrollments/{gid}"))
        .await;
    assert_eq!(g["status"], "completed", "{g}");
    // Far-off dates are refused beside the field.
    let (status, body) = app
        .post(
            &captain.token,
            "/api/v1/training/shift-reports",
            json!({"trainee_id": graduate.id, "shift_date": "1850-07-04", "hours_on_shift": 8}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["shift_date"]);
    let (status, body) = app
        .post(
            &admin,
            &enroll,
            json!({"user_id": captain.id, "target_completion_date": "2999-01-01"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["target_completion_date"]);
}

#[tokio::test]
async fn a_shift_report_left_unread_for_a_week_is_escalated_once() {
    let app = TestApp::spawn().await;
    let author = app.member(&app.a, "author", &["training_officer"]).await;
    let trainee = app.member(&app.a, "slow-reader", &[]).await;
    let today = org_today(&app).await.to_string();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = ok(
            &app,
            &author.token,
            "/api/v1/training/shift-reports",
            json!({"trainee_id": trainee.id, "shift_date": today, "hours_on_shift": 6}),
            StatusCode::CREATED,
        )
        .await;
        let id = r["id"].as_str().unwrap().to_string();
        ok(
            &app,
            &app.a.admin.token,
            &format!("/api/v1/training/shift-reports/{id}/review"),
            json!({"decision": "approved"}),
            StatusCode::OK,
        )
        .await;
        ids.push(id);
    }
    // The first was approved 8 days ago; the second today.
    sqlx::query(
        "UPDATE shift_completion_reports SET reviewed_at = reviewed_at - INTERVAL 8 DAY
          WHERE id = UNHEX(REPLACE(?, '-', ''))",
    )
    .bind(&ids[0])
    .execute(&app.db.pool)
    .await
    .unwrap();
    for _ in 0..2 {
        run_deadlines(&app).await;
    }
    let got = subjects(&app, &trainee).await;
    assert_eq!(
        got.iter()
            .filter(|s| s.starts_with("Please read the report"))
            .count(),
        1,
        "{got:?}"
    );
    let got = subjects(&app, &author).await;
    assert_eq!(
        got.iter()
            .filter(|s| s.ends_with("has not read your shift report"))
            .count(),
        1,
        "{got:?}"
    );
}

/// Notices from the API face go out at once, as from the pages: the handlers wake the sender
/// after their commit (the enrolment's notice and a shift report's, to reviewers and trainee).
#[tokio::test]
async fn api_notices_are_emailed_without_waiting_for_the_next_round() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let admin = app.a.admin.token.clone();
    let trainee = app.member(&app.a, "emailed-recruit", &[]).await;
    let writer = app
        .member(&app.a, "emailed-writer", &["training_officer"])
        .await;
    let (program, _) = probationary(&app, &admin).await;
    let pid = program["id"].as_str().unwrap();
    let before = sink.messages().len();
    ok(
        &app,
        &admin,
        &format!("/api/v1/training/programs/{pid}/enrollments"),
        json!({"user_id": trainee.id}),
        StatusCode::CREATED,
    )
    .await;
    sink.wait_for(before + 1, std::time::Duration::from_secs(15))
        .await;
    let before = sink.messages().len();
    let today = org_today(&app).await;
    ok(
        &app,
        &writer.token,
        "/api/v1/training/shift-reports",
        json!({"trainee_id": trainee.id, "shift_date": today, "hours_on_shift": 8}),
        StatusCode::CREATED,
    )
    .await;
    // The reviewers (the admin; not the writer) hear of it.
    sink.wait_for(before + 1, std::time::Duration::from_secs(15))
        .await;
}
