//! Training through the API: courses, a crew's records, voiding, requirements, one member's
//! compliance explained and the department matrix; who may see and change what; one
//! department never sees or touches another's; bad input changes nothing.

use std::collections::BTreeSet;

use chrono::Datelike;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

async fn course(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, c) = app.post(token, "/api/v1/training/courses", body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

async fn category(app: &TestApp, token: &str, code: &str) -> String {
    let (status, cats) = app.get(token, "/api/v1/training/categories").await;
    assert_eq!(status, StatusCode::OK, "{cats}");
    cats.as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no category {code}: {cats}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn record_count(app: &TestApp) -> i64 {
    app.count_rows("training_records").await
}

#[tokio::test]
async fn a_crew_is_recorded_at_once_with_rank_station_and_expiry_filled_in() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let crew: Vec<User> = vec![
        app.member(&app.a, "crew-one", &[]).await,
        app.member(&app.a, "crew-two", &[]).await,
        app.member(&app.a, "crew-three", &[]).await,
    ];
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/members/{}", crew[0].id),
            json!({"rank": "Lieutenant", "station": "Station 2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Every department starts with the ISO categories.
    let (_, cats) = app.get(&admin, "/api/v1/training/categories").await;
    let iso: BTreeSet<&str> = cats
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["iso_category"].as_str())
        .collect();
    assert_eq!(
        iso,
        BTreeSet::from([
            "company",
            "driver",
            "facility",
            "hazmat",
            "new_driver",
            "officer",
            "recruit"
        ])
    );
    let company = category(&app, &admin, "company").await;
    let cpr = course(
        &app,
        &admin,
        json!({"name": "CPR for the professional rescuer", "code": "CPR-PRO",
               "category_id": company, "training_type": "certification",
               "duration_hours": 4.5, "expiration_months": 24, "issuing_agency": "Red Cross"}),
    )
    .await;
    assert_eq!(cpr["duration_hours"], 4.5);

    let audit_before = app.audit_actions(&app.a, "training.record_created").await;
    let ids: Vec<Uuid> = crew.iter().map(|u| u.id).collect();
    let (status, made) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": ids, "course_id": cpr["id"], "completion_date": "2026-01-31",
                   "instructor": "Capt. Ørsted", "certification_number": "RC-123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let made = made.as_array().unwrap();
    assert_eq!(made.len(), 3);
    let session = &made[0]["session_id"];
    assert!(session.is_string());
    for r in made {
        assert_eq!(&r["session_id"], session);
        assert_eq!(r["course_name"], "CPR for the professional rescuer");
        assert_eq!(r["training_type"], "certification");
        assert_eq!(r["category_id"], company.as_str());
        assert_eq!(r["hours_completed"], 4.5);
        // 24 months after 31 January 2026: the end of January 2028.
        assert_eq!(r["expiration_date"], "2028-01-31");
        assert_eq!(r["issuing_agency"], "Red Cross");
        assert_eq!(r["status"], "completed");
    }
    let first = made
        .iter()
        .find(|r| r["user_id"] == crew[0].id.to_string())
        .unwrap();
    assert_eq!(first["rank_at_completion"], "Lieutenant");
    assert_eq!(first["station_at_completion"], "Station 2");
    assert_eq!(
        app.audit_actions(&app.a, "training.record_created").await,
        audit_before + 3
    );
    // The rank copied stays the rank at completion when the member is promoted later.
    app.patch(
        &admin,
        &format!("/api/v1/members/{}", crew[0].id),
        json!({"rank": "Captain"}),
    )
    .await;
    let (_, again) = app
        .get(
            &admin,
            &format!("/api/v1/training/records/{}", first["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(again["rank_at_completion"], "Lieutenant");

    // One member, without a course: name and hours given.
    let (status, one) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [crew[1].id], "course_name": "Ladder drill", "hours": 2,
                   "training_type": "drill", "completion_date": "2026-02-03"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{one}");
    assert!(one[0]["session_id"].is_null());
    assert!(one[0]["expiration_date"].is_null());

    // The list: newest first, with search and a date range, paginated.
    let (status, page) = app
        .get(
            &admin,
            "/api/v1/training/records?q=ladder&from=2026-02-01&per_page=1",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["course_name"], "Ladder drill");
    let (_, page) = app.get(&admin, "/api/v1/training/records?per_page=2").await;
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["completion_date"], "2026-02-03");
}

#[tokio::test]
async fn bad_input_is_refused_beside_the_field_and_records_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "trainee", &[]).await;
    let bravo = app.member(&app.b, "bravo-trainee", &[]).await;
    let bravo_course = course(
        &app,
        &app.b.admin.token,
        json!({"name": "Bravo course", "training_type": "drill", "duration_hours": 1}),
    )
    .await;
    let before = record_count(&app).await;
    let audit_before = app.audit_count(&app.a).await;
    for (body, fields) in [
        (
            json!({"user_ids": [member.id], "course_name": "Drill", "hours": -2,
                   "completion_date": "2026-01-01"}),
            vec!["hours"],
        ),
        (
            json!({"user_ids": [member.id], "course_name": "Drill", "hours": 2,
                   "completion_date": "2099-01-01"}),
            vec!["completion_date"],
        ),
        (
            json!({"user_ids": [member.id], "course_id": Uuid::now_v7(),
                   "completion_date": "2026-01-01"}),
            vec!["course_id"],
        ),
        // Another department's course and member are unknown here.
        (
            json!({"user_ids": [member.id], "course_id": bravo_course["id"],
                   "completion_date": "2026-01-01"}),
            vec!["course_id"],
        ),
        (
            json!({"user_ids": [member.id, bravo.id], "course_name": "Drill", "hours": 1,
                   "completion_date": "2026-01-01"}),
            vec!["user_ids"],
        ),
        (
            json!({"user_ids": [], "hours": 1001, "completion_date": "2026-01-01",
                   "training_type": "napping"}),
            vec!["user_ids", "course_name", "training_type", "hours"],
        ),
        (
            json!({"user_ids": [member.id], "course_name": "Drill", "hours": 1,
                   "completion_date": "2026-03-01", "expiration_date": "2026-02-01"}),
            vec!["expiration_date"],
        ),
    ] {
        let (status, problem) = app
            .post(&admin, "/api/v1/training/records", body.clone())
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    // Malformed: a date that is no date, a string for hours, unknown fields.
    for body in [
        json!({"user_ids": [member.id], "course_name": "Drill", "hours": 1,
               "completion_date": "31/01/2026"}),
        json!({"user_ids": [member.id], "course_name": "Drill", "hours": "two",
               "completion_date": "2026-01-01"}),
        json!({"user_ids": [member.id], "course_name": "Drill", "hours": 1,
               "completion_date": "2026-01-01", "approved": true}),
    ] {
        let (status, problem) = app.post(&admin, "/api/v1/training/records", body).await;
        assert!(status.is_client_error(), "{status} {problem}");
        assert!(problem["detail"].is_string(), "{problem}");
    }
    assert_eq!(record_count(&app).await, before);
    assert_eq!(app.audit_count(&app.a).await, audit_before);

    for (body, fields) in [
        (
            json!({"name": "", "training_type": "drill", "duration_hours": -1,
                   "expiration_months": 0}),
            vec!["name", "duration_hours", "expiration_months"],
        ),
        (
            json!({"name": "X", "training_type": "drill", "duration_hours": 1,
                   "category_id": Uuid::now_v7()}),
            vec!["category_id"],
        ),
    ] {
        let (status, problem) = app
            .post(&admin, "/api/v1/training/courses", body.clone())
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    course(
        &app,
        &admin,
        json!({"name": "Twice", "training_type": "drill", "duration_hours": 1}),
    )
    .await;
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/training/courses",
            json!({"name": "Twice", "training_type": "drill", "duration_hours": 1}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["name"]);

    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Bravo's course", "requirement_type": "courses",
                   "course_ids": [bravo_course["id"]], "period": "annual"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["course_ids"]);
    let (status, problem) = app
        .get(&admin, "/api/v1/training/compliance/not-a-uuid")
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=yesterday", member.id),
        )
        .await;
    assert!(status.is_client_error(), "{status} {problem}");
    let (status, problem) = app
        .get(&admin, "/api/v1/training/matrix?status=purple")
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn members_see_their_own_training_and_officers_everyones() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let alice = app.member(&app.a, "alice", &[]).await;
    let bob = app.member(&app.a, "bob", &[]).await;
    let officer = app.member(&app.a, "officer", &["training_officer"]).await;
    let (status, made) = app
        .post(
            &officer.token,
            "/api/v1/training/records",
            json!({"user_ids": [alice.id, bob.id], "course_name": "Pump drill", "hours": 3,
                   "completion_date": "2026-03-03"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let bobs = made
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == bob.id.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Alice: her own only.
    let (status, page) = app.get(&alice.token, "/api/v1/training/records").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["user_id"], alice.id.to_string());
    let (status, problem) = app
        .get(
            &alice.token,
            &format!("/api/v1/training/records?user_id={}", bob.id),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .get(&alice.token, &format!("/api/v1/training/records/{bobs}"))
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &alice.token,
            &format!("/api/v1/training/compliance/{}", alice.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app
        .get(
            &alice.token,
            &format!("/api/v1/training/compliance/{}", bob.id),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    for (path, body) in [
        (
            "/api/v1/training/records",
            json!({"user_ids": [alice.id], "course_name": "Self-made", "hours": 50,
                   "completion_date": "2026-03-03"}),
        ),
        (
            "/api/v1/training/courses",
            json!({"name": "Mine", "training_type": "drill", "duration_hours": 1}),
        ),
        (
            &*format!("/api/v1/training/records/{bobs}/void"),
            json!({"reason": "dislike"}),
        ),
    ] {
        let (status, problem) = app.post(&alice.token, path, body).await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN);
    }
    let (status, problem) = app.get(&alice.token, "/api/v1/training/matrix").await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    // The officer sees everyone's.
    let (_, page) = app.get(&officer.token, "/api/v1/training/records").await;
    assert_eq!(page["total"], 2);
    let (status, _) = app
        .get(&officer.token, &format!("/api/v1/training/records/{bobs}"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Another department's administrator sees none of it and changes nothing.
    let bravo = app.b.admin.token.clone();
    let (_, page) = app.get(&bravo, "/api/v1/training/records").await;
    assert_eq!(page["total"], 0);
    let (status, problem) = app
        .get(&bravo, &format!("/api/v1/training/records/{bobs}"))
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .post(
            &bravo,
            &format!("/api/v1/training/records/{bobs}/void"),
            json!({"reason": "not ours"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .get(&bravo, &format!("/api/v1/training/compliance/{}", alice.id))
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (_, matrix) = app.get(&bravo, "/api/v1/training/matrix").await;
    assert!(
        !matrix.to_string().contains(&alice.id.to_string()),
        "{matrix}"
    );
    let (_, page) = app
        .get(
            &admin,
            &format!("/api/v1/training/records?user_id={}", bob.id),
        )
        .await;
    assert_eq!(page["items"][0]["status"], "completed");
}

#[tokio::test]
async fn compliance_is_explained_per_requirement_and_the_matrix_follows_it() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let company = category(&app, &admin, "company").await;
    let ff = app.member(&app.a, "firefighter-1", &[]).await;
    let lt = app
        .member(&app.a, "lieutenant-1", &["training_officer"])
        .await;
    let officer_role = app.role_id(&app.a, "training_officer").await;
    let cpr = course(
        &app,
        &admin,
        json!({"name": "CPR", "training_type": "certification", "duration_hours": 4,
               "expiration_months": 24}),
    )
    .await;
    let (status, hours) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Company training", "requirement_type": "hours",
                   "category_id": company, "required_hours": 24, "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hours}");
    let (status, cert) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "CPR certification", "requirement_type": "certification",
                   "course_ids": [cpr["id"]], "period": "one_time"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    let (status, officers_only) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Officer development", "requirement_type": "hours",
                   "required_hours": 12, "period": "annual", "applies_to": "roles",
                   "role_ids": [officer_role]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{officers_only}");
    assert_eq!(officers_only["role_ids"], json!([officer_role]));

    for (who, date, h) in [
        (ff.id, "2026-02-10", 5),
        (ff.id, "2026-04-10", 3),
        (lt.id, "2026-03-01", 24),
    ] {
        let (status, body) = app
            .post(
                &admin,
                "/api/v1/training/records",
                json!({"user_ids": [who], "course_name": "Company drill", "hours": h,
                       "category_id": company, "completion_date": date}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, cpr_done) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [ff.id, lt.id], "course_id": cpr["id"],
                   "completion_date": "2024-07-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cpr_done}");

    // The firefighter on 30 June 2026: 8 of 24 hours, CPR expiring within 90 days (1 July).
    let (status, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-06-30", ff.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["as_of"], "2026-06-30");
    let reqs = c["requirements"].as_array().unwrap();
    assert_eq!(
        reqs.len(),
        2,
        "the officers' requirement does not apply: {c}"
    );
    let h = reqs
        .iter()
        .find(|r| r["name"] == "Company training")
        .unwrap();
    assert_eq!(h["done"], 8.0);
    assert_eq!(h["required"], 24.0);
    assert_eq!(h["outcome"], "in_progress");
    assert_eq!(h["period_start"], "2026-01-01");
    assert_eq!(h["period_end"], "2026-12-31");
    // Rule 15: the date it was judged at, with the window.
    assert_eq!(h["judged_at"], "2026-06-30");
    assert_eq!(h["counted_records"].as_array().unwrap().len(), 2);
    assert_eq!(
        h["explanation"],
        "8 of 24 hours of company training this year"
    );
    let ce = reqs
        .iter()
        .find(|r| r["name"] == "CPR certification")
        .unwrap();
    assert_eq!(ce["outcome"], "expiring");
    assert_eq!(ce["expires_on"], "2026-07-01");
    // The words a person reads write the date as the department does (US by default; ISO
    // once it chooses that), the field stays ISO.
    assert_eq!(ce["explanation"], "CPR expires on 07/01/2026, in 1 day");
    let (status, body) = app
        .patch(
            &admin,
            "/api/v1/organization",
            json!({"settings": {"date_format": "iso"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, iso) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-06-29", ff.id),
        )
        .await;
    let ce = iso["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "CPR certification")
        .unwrap();
    assert_eq!(ce["explanation"], "CPR expires on 2026-07-01, in 2 days");
    // One of two met: yellow (not fewer than half).
    assert_eq!(c["status"], "yellow", "{c}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with("1 of 2 requirements met: 8 of 24 hours of company training this year"),
        "{c}"
    );
    // A day later the certification has expired: red.
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-07-02", ff.id),
        )
        .await;
    assert_eq!(c["status"], "red", "{c}");
    // The member asks for their own, without a date: today in the department.
    let (status, own) = app
        .get(&ff.token, &format!("/api/v1/training/compliance/{}", ff.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert!(own["as_of"].is_string());

    // The lieutenant: three requirements, the officers' one unmet.
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-06-30", lt.id),
        )
        .await;
    assert_eq!(c["requirements"].as_array().unwrap().len(), 3, "{c}");

    // The matrix shows both, each cell as the compliance says; filters narrow it.
    let (status, m) = app
        .get(&admin, "/api/v1/training/matrix?as_of=2026-06-30")
        .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["requirements"].as_array().unwrap().len(), 3);
    let row = |m: &Value, id: Uuid| {
        m["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["member_id"] == id.to_string())
            .cloned()
    };
    let ff_row = row(&m, ff.id).unwrap();
    assert_eq!(ff_row["status"], "yellow");
    let cells: Vec<&str> = ff_row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cell"].as_str().unwrap())
        .collect();
    // Columns by name: Company training, CPR certification, Officer development.
    assert_eq!(cells, ["in_progress", "completed", "none"]);
    // The figures beside the words: 8 of 24 hours, not just "in progress".
    let figures: Vec<&Value> = ff_row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["figures"])
        .collect();
    assert_eq!(figures, [&json!("8 / 24 h"), &Value::Null, &Value::Null]);
    // Half the year gone, a third of the hours done: behind pace (a certification has none).
    let pace: Vec<&Value> = ff_row["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["pace"])
        .collect();
    assert_eq!(pace, [&json!("behind"), &Value::Null, &Value::Null]);
    let (_, yellow) = app
        .get(
            &admin,
            "/api/v1/training/matrix?as_of=2026-06-30&status=yellow&q=firefighter",
        )
        .await;
    assert_eq!(yellow["members"].as_array().unwrap().len(), 1, "{yellow}");
    // 16 more hours: the firefighter's hours cell turns completed, the row green.
    app.post(
        &admin,
        "/api/v1/training/records",
        json!({"user_ids": [ff.id], "course_name": "Live fire", "hours": 16,
               "category_id": company, "completion_date": "2026-05-05"}),
    )
    .await;
    let (_, m) = app
        .get(&admin, "/api/v1/training/matrix?as_of=2026-06-30")
        .await;
    let ff_row = row(&m, ff.id).unwrap();
    assert_eq!(ff_row["cells"][0]["cell"], "completed");
    assert_eq!(
        ff_row["status"], "yellow",
        "CPR still expires soon: {ff_row}"
    );

    // Voiding a record takes it out of the count; it stays listed as cancelled.
    let live: Value = app
        .get(&admin, "/api/v1/training/records?q=Live+fire")
        .await
        .1;
    let live_id = live["items"][0]["id"].as_str().unwrap().to_string();
    let (status, problem) = app
        .post(
            &admin,
            &format!("/api/v1/training/records/{live_id}/void"),
            json!({"reason": " "}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, voided) = app
        .post(
            &admin,
            &format!("/api/v1/training/records/{live_id}/void"),
            json!({"reason": "Entered for the wrong member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "cancelled");
    assert_eq!(voided["cancel_reason"], "Entered for the wrong member");
    let (status, problem) = app
        .post(
            &admin,
            &format!("/api/v1/training/records/{live_id}/void"),
            json!({"reason": "again"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    assert_eq!(app.audit_actions(&app.a, "training.record_voided").await, 1);
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-06-30", ff.id),
        )
        .await;
    let h = c["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Company training")
        .unwrap()
        .clone();
    assert_eq!(h["done"], 8.0, "{h}");
}

/// Statements this connection has sent so far (MariaDB's session counter).
async fn questions(conn: &mut sqlx::MySqlConnection) -> i64 {
    let (_, v): (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Questions'")
        .fetch_one(conn)
        .await
        .unwrap();
    v.parse().unwrap()
}

/// The matrix takes a fixed number of queries, however many members and records.
#[tokio::test]
async fn the_matrix_takes_a_fixed_number_of_queries() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let (status, _) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 24,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ctx = logbook::auth::Ctx {
        user_id: app.a.admin.id,
        org_id: app.a.org_id,
        session_id: Uuid::now_v7(),
        username: "alpha-admin".into(),
        permissions: ["training.view", "training.manage"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        must_change_password: false,
        two_factor_due: false,
        timezone: "UTC".into(),
        ip: None,
        unread: 0,
        features_off: Default::default(),
        contact_directory_open: true,
        locale: Default::default(),
    };
    let mut queries = Vec::new();
    for n in 0..2 {
        if n == 1 {
            for i in 0..5 {
                let m = app.member(&app.a, &format!("counted-{i}"), &[]).await;
                app.post(
                    &admin,
                    "/api/v1/training/records",
                    json!({"user_ids": [m.id], "course_name": "Drill", "hours": 2,
                           "completion_date": "2026-01-02"}),
                )
                .await;
            }
        }
        let mut conn = app.db.pool.acquire().await.unwrap();
        let before = questions(&mut conn).await;
        let m = logbook::modules::training::service::matrix(
            &ctx,
            &mut conn,
            serde_json::from_value(json!({"as_of": "2026-06-30"})).unwrap(),
        )
        .await
        .unwrap();
        let after = questions(&mut conn).await;
        assert!(!m.members.is_empty());
        // The SHOW itself counts once.
        queries.push(after - before - 1);
    }
    eprintln!("matrix queries (1 member, then 6 members with records): {queries:?}");
    assert_eq!(queries[0], queries[1], "{queries:?}");
    // Requirements (with their links and the department default), members (with their
    // roles), records, waivers (with what they target): four, whatever the numbers.
    assert_eq!(queries[0], 4, "{queries:?}");
}

async fn waiver_of(app: &TestApp, id: &str) -> Value {
    let (status, list) = app
        .get(&app.a.admin.token, "/api/v1/training/waivers?all=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no waiver {id}: {list}"))
}

#[tokio::test]
async fn a_leave_keeps_its_training_waiver_in_step() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "on-leave", &[]).await;
    let (status, hours) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 24,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hours}");
    let standing = |as_of: &'static str| {
        let (app, id) = (&app, member.id);
        async move {
            let (_, c) = app
                .get(
                    &app.a.admin.token,
                    &format!("/api/v1/training/compliance/{id}?as_of={as_of}"),
                )
                .await;
            c["requirements"][0].clone()
        }
    };

    // Created: a waiver with the same type and dates, linked both ways.
    let (status, leave) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": member.id, "leave_type": "military", "reason": "Deployment",
                   "start_date": "2026-03-01", "end_date": "2026-05-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{leave}");
    let leave_id = leave["id"].as_str().unwrap().to_string();
    let waiver_id = leave["linked_training_waiver_id"]
        .as_str()
        .unwrap()
        .to_string();
    let w = waiver_of(&app, &waiver_id).await;
    assert_eq!(w["leave_id"], leave_id.as_str());
    assert_eq!(w["waiver_type"], "military");
    assert_eq!(w["start_date"], "2026-03-01");
    assert_eq!(w["end_date"], "2026-05-31");
    assert_eq!(
        w["reason"],
        "Auto-created from leave of absence: Deployment"
    );
    assert_eq!(w["active"], true);
    let r = standing("2026-12-31").await;
    assert_eq!(
        (r["months_waived"].as_u64(), r["adjusted_required"].as_f64()),
        (Some(3), Some(18.0)),
        "{r}"
    );
    // A leave's waiver is changed through its leave.
    let (status, problem) = app
        .post(
            &admin,
            &format!("/api/v1/training/waivers/{waiver_id}/deactivate"),
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);

    // Edited: the waiver's dates follow.
    let (status, edited) = app
        .patch(
            &admin,
            &format!("/api/v1/leaves/{leave_id}"),
            json!({"end_date": "2026-08-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(waiver_of(&app, &waiver_id).await["end_date"], "2026-08-31");
    assert_eq!(standing("2026-12-31").await["months_waived"], 6);
    // Bad input changes nothing.
    let (status, problem) = app
        .patch(
            &admin,
            &format!("/api/v1/leaves/{leave_id}"),
            json!({"end_date": "2026-01-01", "leave_type": "holiday"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["leave_type", "end_date"]);
    assert_eq!(waiver_of(&app, &waiver_id).await["end_date"], "2026-08-31");

    // Exempt: the waiver is deactivated and unlinked; nothing is pro-rated.
    let (_, exempt) = app
        .patch(
            &admin,
            &format!("/api/v1/leaves/{leave_id}"),
            json!({"exempt_from_training_waiver": true}),
        )
        .await;
    assert!(exempt["linked_training_waiver_id"].is_null(), "{exempt}");
    assert_eq!(waiver_of(&app, &waiver_id).await["active"], false);
    assert_eq!(standing("2026-12-31").await["months_waived"], 0);
    // Not exempt again: a new waiver, linked.
    let (_, again) = app
        .patch(
            &admin,
            &format!("/api/v1/leaves/{leave_id}"),
            json!({"exempt_from_training_waiver": false}),
        )
        .await;
    let second = again["linked_training_waiver_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, waiver_id);
    assert_eq!(waiver_of(&app, &second).await["end_date"], "2026-08-31");
    assert_eq!(standing("2026-12-31").await["months_waived"], 6);

    // Removed: the leave stays, inactive; its waiver is deactivated.
    let (status, _) = app
        .delete(&admin, &format!("/api/v1/leaves/{leave_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(waiver_of(&app, &second).await["active"], false);
    assert_eq!(standing("2026-12-31").await["months_waived"], 0);
    let (status, problem) = app
        .delete(&admin, &format!("/api/v1/leaves/{leave_id}"))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (_, listed) = app.get(&admin, "/api/v1/leaves?all=true").await;
    assert_eq!(listed[0]["active"], false);
    for action in [
        "member.leave_created",
        "member.leave_updated",
        "member.leave_removed",
        "training.waiver_created",
        "training.waiver_deactivated",
    ] {
        assert!(app.audit_actions(&app.a, action).await > 0, "{action}");
    }

    // An exempt leave from the start makes no waiver.
    let (_, exempt) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": member.id, "leave_type": "personal", "start_date": "2026-10-01",
                   "exempt_from_training_waiver": true}),
        )
        .await;
    assert!(exempt["linked_training_waiver_id"].is_null(), "{exempt}");
    assert_eq!(standing("2026-12-31").await["months_waived"], 0);
}

#[tokio::test]
async fn leaves_and_waivers_are_for_managers_of_the_same_department() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "regular", &[]).await;
    let other = app.member(&app.b, "bravo-member", &[]).await;
    let new_leave =
        json!({"user_id": member.id, "leave_type": "medical", "start_date": "2026-01-01"});
    // A plain member: neither leaves nor waivers.
    let (status, problem) = app
        .post(&member.token, "/api/v1/leaves", new_leave.clone())
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = app.get(&member.token, "/api/v1/leaves").await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .post(
            &member.token,
            "/api/v1/training/waivers",
            json!({"user_id": member.id, "waiver_type": "medical", "start_date": "2026-01-01"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    // Their own waivers they may see.
    let (status, own) = app.get(&member.token, "/api/v1/training/waivers").await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let (status, problem) = app
        .get(
            &member.token,
            &format!("/api/v1/training/waivers?user_id={}", app.a.admin.id),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);

    // Another department's member is unknown here; its leaves are not found.
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": other.id, "leave_type": "medical", "start_date": "2026-01-01"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["user_id"]);
    let (status, leave) = app.post(&admin, "/api/v1/leaves", new_leave).await;
    assert_eq!(status, StatusCode::CREATED, "{leave}");
    let id = leave["id"].as_str().unwrap();
    let bravo = app.b.admin.token.clone();
    let (status, problem) = app.get(&bravo, &format!("/api/v1/leaves/{id}")).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .patch(
            &bravo,
            &format!("/api/v1/leaves/{id}"),
            json!({"end_date": "2026-02-01"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (status, problem) = app.delete(&bravo, &format!("/api/v1/leaves/{id}")).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (_, bravo_waivers) = app.get(&bravo, "/api/v1/training/waivers?all=true").await;
    assert_eq!(bravo_waivers, json!([]));
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/leaves",
            json!({"user_id": member.id, "leave_type": "medical", "start_date": "2026-02-01",
                   "end_date": "2026-01-01", "reason": "x\u{0007}"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["reason", "end_date"]);

    // A waiver by hand for one requirement only; deactivated by hand.
    let (_, req) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Hazmat refresher", "requirement_type": "hours", "required_hours": 6,
                   "period": "annual"}),
        )
        .await;
    let (status, w) = app
        .post(
            &admin,
            "/api/v1/training/waivers",
            json!({"user_id": member.id, "waiver_type": "new_member", "start_date": "2026-01-01",
                   "end_date": "2026-12-31", "requirement_ids": [req["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    assert_eq!(w["all_requirements"], false);
    assert_eq!(w["requirement_ids"], json!([req["id"]]));
    let (_, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-06-30", member.id),
        )
        .await;
    assert_eq!(c["requirements"][0]["outcome"], "waived", "{c}");
    let (status, w) = app
        .post(
            &admin,
            &format!(
                "/api/v1/training/waivers/{}/deactivate",
                w["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{w}");
    assert_eq!(w["active"], false);
}

/// Runs the expiry job now for Alpha.
async fn run_expiry(app: &TestApp) -> Value {
    app.run_job(&app.a, "cert_expiry").await
}

/// The expiry notices in the member's inbox (subjects).
async fn expiry_notices(app: &TestApp, user: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT subject FROM notification_logs WHERE recipient_id = ? AND category = 'training'
          ORDER BY created_at, subject",
    )
    .bind(user)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn expiry_notices_go_once_per_tier_and_never_twice() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "certified", &[]).await;
    let officer = app
        .member(&app.a, "training-lead", &["training_officer"])
        .await;
    let renewed = app.member(&app.a, "renewed", &[]).await;
    let cpr = course(
        &app,
        &admin,
        json!({"name": "CPR", "training_type": "certification", "duration_hours": 4}),
    )
    .await;
    let today = app.org_today(&app.a).await;
    let date = |days: i64| (today + chrono::Duration::days(days)).to_string();
    // As the department writes dates (the US default) in what a person reads.
    let shown = |days: i64| {
        (today + chrono::Duration::days(days))
            .format("%m/%d/%Y")
            .to_string()
    };
    let record = |who: Uuid, completed: String, expires: String| {
        let (app, admin, course) = (&app, admin.clone(), cpr["id"].clone());
        async move {
            let (status, r) = app
                .post(
                    &admin,
                    "/api/v1/training/records",
                    json!({"user_ids": [who], "course_id": course, "completion_date": completed,
                           "expiration_date": expires}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            r[0]["id"].as_str().unwrap().to_string()
        }
    };
    // Expiring in 75 days: the 90-day notice, to the member only.
    let id = record(member.id, date(-600), date(75)).await;
    // Renewed: the old one expired, but a later one does not expire soon.
    record(renewed.id, date(-800), date(-5)).await;
    record(renewed.id, date(-10), date(700)).await;

    let run = run_expiry(&app).await;
    assert_eq!(run["items"], 1, "{run}");
    assert_eq!(
        expiry_notices(&app, member.id).await,
        [format!(
            "Your CPR certification expires on {} (in 75 days)",
            shown(75)
        )]
    );
    assert!(expiry_notices(&app, officer.id).await.is_empty());
    assert!(expiry_notices(&app, renewed.id).await.is_empty());
    // Again, and again after a "restart" (nothing in memory matters): nothing more.
    run_expiry(&app).await;
    run_expiry(&app).await;
    assert_eq!(expiry_notices(&app, member.id).await.len(), 1);

    // Time passes: 20 days left. The 60-day tier is skipped; the 30-day one goes, and the
    // training officer is copied.
    sqlx::query("UPDATE training_records SET expiration_date = ? WHERE id = ?")
        .bind(today + chrono::Duration::days(20))
        .bind(Uuid::parse_str(&id).unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let run = run_expiry(&app).await;
    assert_eq!(run["items"], 1, "{run}");
    let got = expiry_notices(&app, member.id).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[1],
        format!(
            "Your CPR certification expires on {} (in 20 days)",
            shown(20)
        )
    );
    let copied = expiry_notices(&app, officer.id).await;
    assert_eq!(
        copied,
        [format!(
            "Test certified's CPR certification expires on {} (in 20 days)",
            shown(20)
        )]
    );
    run_expiry(&app).await;
    assert_eq!(expiry_notices(&app, member.id).await.len(), 2);

    // Expired: the last notice, once.
    sqlx::query("UPDATE training_records SET expiration_date = ? WHERE id = ?")
        .bind(today - chrono::Duration::days(1))
        .bind(Uuid::parse_str(&id).unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    run_expiry(&app).await;
    run_expiry(&app).await;
    let got = expiry_notices(&app, member.id).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[2], "Your CPR certification has expired");
    let tiers: Vec<String> = sqlx::query_scalar(
        "SELECT tier FROM training_expiry_alerts WHERE record_id = ? ORDER BY sent_at",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(tiers, ["90", "30", "expired"]);
    // Bravo's run sees none of Alpha's.
    let (status, run) = app
        .post(
            &app.b.admin.token,
            "/api/v1/jobs/cert_expiry/run",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["items"], 0, "{run}");
}

#[tokio::test]
async fn the_iso_report_sums_hours_per_category_for_any_range() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let company = category(&app, &admin, "company").await;
    let hazmat = category(&app, &admin, "hazmat").await;
    let ems = category(&app, &admin, "ems").await;
    let ann = app.member(&app.a, "ann", &[]).await;
    let ben = app.member(&app.a, "ben", &[]).await;
    for (who, cat, date, hours) in [
        (ann.id, &company, "2025-02-01", "20"),
        (ann.id, &company, "2025-11-30", "6.5"),
        (ann.id, &hazmat, "2025-06-01", "6"),
        (ann.id, &ems, "2025-06-01", "40"),
        (ann.id, &company, "2026-01-01", "99"),
        (ben.id, &company, "2025-03-03", "10"),
    ] {
        let (status, body) = app
            .post(
                &admin,
                "/api/v1/training/records",
                json!({"user_ids": [who], "course_name": "Drill", "category_id": cat,
                       "hours": hours.parse::<f64>().unwrap(), "completion_date": date}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, r) = app
        .get(
            &admin,
            "/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["days"], 365);
    let targets: Vec<(String, f64)> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["category"].as_str().unwrap().to_string(),
                t["hours"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("company".to_string(), 192.0),
            ("facility".into(), 18.0),
            ("officer".into(), 12.0),
            ("driver".into(), 12.0),
            ("hazmat".into(), 6.0),
            ("new_driver".into(), 60.0),
            ("recruit".into(), 240.0)
        ]
    );
    assert_eq!(r["structural_target"], 24.0);
    let row = |name: &str| {
        r["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["member_name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {r}"))
    };
    let a = row("ann, Test");
    // Company 26.5, hazmat 6; EMS is no ISO category; 2026 is outside the range.
    assert_eq!(a["hours"], json!([26.5, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0]));
    assert_eq!(a["total"], 32.5);
    assert_eq!(a["meets_structural_rule"], true);
    let b = row("ben, Test");
    assert_eq!(b["total"], 10.0);
    assert_eq!(b["meets_structural_rule"], false);
    // A quarter: yearly figures scaled, one-time ones not.
    let (_, q) = app
        .get(
            &admin,
            "/api/v1/training/reports/iso?from=2025-01-01&to=2025-03-31",
        )
        .await;
    assert_eq!(q["targets"][0]["hours"], 47.3, "{q}");
    assert_eq!(q["targets"][6]["hours"], 240.0);
    assert_eq!(q["structural_target"], 5.9);

    // CSV and PDF.
    let res = app
        .client
        .get(app.url("/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31&format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"iso-training-2025-01-01-2025-12-31.csv\""
    );
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("member,membership_number,rank,status,company_hours,"),
        "{csv}"
    );
    assert!(
        csv.contains("\"ann, Test\",,,active,26.5,0,0,0,6,0,0,32.5,yes"),
        "{csv}"
    );
    assert!(
        csv.contains("ISO figure for 2025-01-01 to 2025-12-31,,,,192,18,12,12,6,60,240,,24 h"),
        "{csv}"
    );
    let res = app
        .client
        .get(app.url("/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31&format=pdf"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("(ISO training report: Alpha Fire Department)"),
        "the title"
    );
    assert!(text.contains("(ann, Test)"));
    assert!(text.contains("(26.5)"));
    // US defaults: Letter, landscape; dates month first; every column starts well inside the
    // right margin (the last one used to fall off the page).
    assert!(text.contains("/MediaBox [0 0 792 612]"), "Letter landscape");
    assert!(text.contains("(01/01/2025 to 12/31/2025 "), "US dates");
    let last_x = text
        .lines()
        .filter_map(|l| l.strip_suffix(" Td"))
        .filter_map(|l| l.split(' ').next()?.parse::<f32>().ok())
        .fold(0.0_f32, f32::max);
    assert!(
        last_x > 600.0 && last_x <= 792.0 - 40.0 - 50.0,
        "the last column starts at {last_x}"
    );

    // The department's FDID, A4 and year-first dates, as its settings say.
    let (status, body) = app
        .patch(
            &admin,
            "/api/v1/organization",
            json!({"identifier_type": "fdid", "identifier": "48-201",
                   "settings": {"paper": "a4", "date_format": "iso", "clock": "24h"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pdf = app
        .client
        .get(app.url("/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31&format=pdf"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/MediaBox [0 0 842 595]"), "A4 landscape");
    assert!(
        text.contains("(ISO training report: Alpha Fire Department \\(FDID 48-201\\))")
            || text.contains("(ISO training report: Alpha Fire Department (FDID 48-201))"),
        "the FDID in the title"
    );
    assert!(text.contains("(2025-01-01 to 2025-12-31 "), "ISO dates");

    // Bad input, permissions, isolation.
    for (query, field) in [
        ("?to=2025-12-31", "from"),
        ("?from=2025-02-01&to=2025-01-01", "to"),
        ("?from=2000-01-01&to=2025-01-01", "to"),
        ("?from=2025-01-01&to=2025-12-31&format=xls", "format"),
    ] {
        let (status, problem) = app
            .get(&admin, &format!("/api/v1/training/reports/iso{query}"))
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    let (status, problem) = app
        .get(
            &admin,
            "/api/v1/training/reports/iso?from=last-year&to=2025-12-31",
        )
        .await;
    assert_problem(status, &problem, StatusCode::BAD_REQUEST);
    let (status, problem) = app
        .get(
            &ann.token,
            "/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31",
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (_, bravo) = app
        .get(
            &app.b.admin.token,
            "/api/v1/training/reports/iso?from=2025-01-01&to=2025-12-31",
        )
        .await;
    assert!(!bravo.to_string().contains("ann, Test"), "{bravo}");
}

#[tokio::test]
async fn submitted_training_is_reviewed_by_an_officer() {
    let app = TestApp::spawn().await;
    let member = app.member(&app.a, "submitter", &[]).await;
    let officer = app.member(&app.a, "reviewer", &["training_officer"]).await;
    let outside = json!({"course_name": "State fire academy: Vehicle extrication",
                         "training_type": "specialty", "completion_date": "2026-03-14",
                         "hours": 16, "description": "Two days at the academy"});
    let (status, s) = app
        .post(
            &member.token,
            "/api/v1/training/submissions",
            outside.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    assert_eq!(s["status"], "pending_review");
    let id = s["id"].as_str().unwrap().to_string();
    // The officer is told and sees it counted.
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'Training to review%'",
    )
    .bind(officer.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(told, 1);
    let (_, count) = app
        .get(&officer.token, "/api/v1/training/submissions/pending-count")
        .await;
    assert_eq!(count["pending"], 1);
    let (status, problem) = app
        .get(&member.token, "/api/v1/training/submissions/pending-count")
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    // The member may not review; nor may anyone review their own.
    let (status, problem) = app
        .post(
            &member.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);

    // Sent back with a note; the member edits it; pending again; approved with fewer hours.
    let (status, problem) = app
        .post(
            &officer.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "request_changes"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["notes"]);
    let (status, back) = app
        .post(
            &officer.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "request_changes", "notes": "Attach the certificate number"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["status"], "revision_requested");
    let (status, problem) = app
        .post(
            &officer.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let mut edited = outside.clone();
    edited["hours"] = json!(14);
    let (status, again) = app
        .call(
            reqwest::Method::PUT,
            &member.token,
            &format!("/api/v1/training/submissions/{id}"),
            Some(edited),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["status"], "pending_review");
    let before = record_count(&app).await;
    let (status, approved) = app
        .post(
            &officer.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "approve", "hours": 12}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(record_count(&app).await, before + 1);
    let record_id = approved["training_record_id"].as_str().unwrap();
    let (_, record) = app
        .get(
            &member.token,
            &format!("/api/v1/training/records/{record_id}"),
        )
        .await;
    assert_eq!(record["hours_completed"], 12.0);
    assert_eq!(
        record["course_name"],
        "State fire academy: Vehicle extrication"
    );
    assert_eq!(record["user_id"], member.id.to_string());
    // Approved once only; no more changes by the member.
    let (status, problem) = app
        .post(
            &officer.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            &member.token,
            &format!("/api/v1/training/submissions/{id}"),
            Some(outside.clone()),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    assert_eq!(record_count(&app).await, before + 1);
    assert!(
        app.audit_actions(&app.a, "training.submission_reviewed")
            .await
            >= 2
    );

    // Rejected: no record.
    let (_, s) = app
        .post(
            &member.token,
            "/api/v1/training/submissions",
            outside.clone(),
        )
        .await;
    let (_, rejected) = app
        .post(
            &officer.token,
            &format!(
                "/api/v1/training/submissions/{}/review",
                s["id"].as_str().unwrap()
            ),
            json!({"decision": "reject", "notes": "Already recorded"}),
        )
        .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(record_count(&app).await, before + 1);

    // The member sees their own only; another department sees none.
    let other = app.member(&app.a, "other-member", &[]).await;
    let (_, mine) = app.get(&other.token, "/api/v1/training/submissions").await;
    assert_eq!(mine["total"], 0);
    let (status, problem) = app
        .get(&other.token, &format!("/api/v1/training/submissions/{id}"))
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    let (_, all) = app
        .get(&officer.token, "/api/v1/training/submissions")
        .await;
    assert_eq!(all["total"], 2);
    let (_, bravo) = app
        .get(&app.b.admin.token, "/api/v1/training/submissions")
        .await;
    assert_eq!(bravo["total"], 0);
    let (status, problem) = app
        .post(
            &app.b.admin.token,
            &format!("/api/v1/training/submissions/{id}/review"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);

    // Bad input: nothing stored.
    let count = app.count_rows("training_submissions").await;
    for (body, fields) in [
        (
            json!({"course_name": "", "training_type": "nap", "completion_date": "2099-01-01",
                   "hours": 0}),
            vec!["course_name", "training_type", "completion_date", "hours"],
        ),
        (
            json!({"course_name": "Too long", "training_type": "drill",
                   "completion_date": "2026-01-01", "hours": 41}),
            vec!["hours"],
        ),
        (
            json!({"course_name": "Negative", "training_type": "drill",
                   "completion_date": "2026-01-01", "hours": -3}),
            vec!["hours"],
        ),
    ] {
        let (status, problem) = app
            .post(&member.token, "/api/v1/training/submissions", body.clone())
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let after = app.count_rows("training_submissions").await;
    assert_eq!(after, count);
}

#[tokio::test]
async fn small_submissions_may_be_approved_at_once_but_never_a_certification() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "UPDATE training_settings SET auto_approve_under_hours = 2 WHERE organization_id = ?",
    )
    .bind(app.a.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let member = app.member(&app.a, "quick", &[]).await;
    let small = json!({"course_name": "Online refresher", "training_type": "refresher",
                       "completion_date": "2026-02-02", "hours": 1.5});
    let (_, s) = app
        .post(&member.token, "/api/v1/training/submissions", small)
        .await;
    assert_eq!(s["status"], "approved", "{s}");
    assert!(s["training_record_id"].is_string());
    assert_eq!(s["reviewer_notes"], "Approved automatically");
    for body in [
        json!({"course_name": "Bigger", "training_type": "refresher",
               "completion_date": "2026-02-02", "hours": 3}),
        json!({"course_name": "CPR renewal", "training_type": "certification",
               "completion_date": "2026-02-02", "hours": 1}),
        json!({"course_name": "First aid", "training_type": "refresher",
               "completion_date": "2026-02-02", "hours": 1, "certification_number": "FA-1"}),
        json!({"course_name": "Hazmat awareness", "training_type": "refresher",
               "completion_date": "2026-02-02", "hours": 1, "expiration_date": "2028-02-02"}),
    ] {
        let (status, s) = app
            .post(&member.token, "/api/v1/training/submissions", body.clone())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        assert_eq!(s["status"], "pending_review", "{body}");
    }
}

#[tokio::test]
async fn the_tier_job_moves_members_up_by_years_of_service_and_never_down() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let (status, tiers) = app.get(&admin, "/api/v1/membership/tiers").await;
    assert_eq!(status, StatusCode::OK, "{tiers}");
    let tier = |slug: &str| {
        tiers
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["slug"] == slug)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .parse::<Uuid>()
            .unwrap()
    };
    assert_eq!(
        tiers
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["slug"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["probationary", "active", "senior", "life"]
    );
    let today = chrono::Utc::now().date_naive();
    let years_ago = |y: i32, extra_days: i64| {
        (today.with_year(today.year() - y).unwrap_or(today) - chrono::Duration::days(extra_days))
            .to_string()
    };
    let mut ids = Vec::new();
    for (name, hired) in [
        ("newcomer", years_ago(0, 100)),
        ("one-year", years_ago(1, 30)),
        ("twelve", years_ago(12, 30)),
        ("veteran", years_ago(25, 30)),
        ("honorary", years_ago(2, 30)),
    ] {
        let m = app.member(&app.a, name, &[]).await;
        let (status, body) = app
            .patch(
                &admin,
                &format!("/api/v1/members/{}", m.id),
                json!({"hire_date": hired}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(m.id);
    }
    // Given the life tier by hand: the job does not take it away.
    sqlx::query("UPDATE users SET membership_tier_id = ? WHERE id = ?")
        .bind(tier("life"))
        .bind(ids[4])
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, run) = app
        .post(&admin, "/api/v1/jobs/membership_tiers/run", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["items"], 4, "{run}");
    let tier_of = |id: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<Uuid>>(
                "SELECT membership_tier_id FROM users WHERE id = ?",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(tier_of(ids[0]).await, Some(tier("probationary")));
    assert_eq!(tier_of(ids[1]).await, Some(tier("active")));
    assert_eq!(tier_of(ids[2]).await, Some(tier("senior")));
    assert_eq!(tier_of(ids[3]).await, Some(tier("life")));
    assert_eq!(tier_of(ids[4]).await, Some(tier("life")));
    assert_eq!(app.audit_actions(&app.a, "member.tier_advanced").await, 4);
    // Again: nothing to do.
    let (_, run) = app
        .post(&admin, "/api/v1/jobs/membership_tiers/run", json!({}))
        .await;
    assert_eq!(run["items"], 0, "{run}");
    // A life member is exempt from training requirements.
    app.post(
        &admin,
        "/api/v1/training/requirements",
        json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 24,
               "period": "annual"}),
    )
    .await;
    let (_, c) = app
        .get(&admin, &format!("/api/v1/training/compliance/{}", ids[3]))
        .await;
    assert_eq!(c["exempt"], true, "{c}");
    assert_eq!(c["status"], "green");
    // Bravo's run touches none of Alpha's members.
    let (_, run) = app
        .post(
            &app.b.admin.token,
            "/api/v1/jobs/membership_tiers/run",
            json!({}),
        )
        .await;
    assert_eq!(run["items"], 0, "{run}");
}

async fn import_csv(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/training/records/import?dry_run={dry_run}"
        )))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn past_records_are_imported_from_csv_after_a_dry_run() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    app.member(&app.a, "hist-one", &[]).await;
    app.member(&app.a, "hist-two", &[]).await;
    let bravo = app.member(&app.b, "hist-bravo", &[]).await;
    course(
        &app,
        &admin,
        json!({"name": "CPR", "code": "CPR-1", "training_type": "certification",
               "duration_hours": 4, "expiration_months": 24}),
    )
    .await;
    let good = "username,course,course_name,category,completion_date,hours,instructor\n\
                hist-one,CPR-1,,,2024-03-01,,Red Cross\n\
                hist-two,,Ladder drill,company,2019-05-05,2.5,\n";
    let (status, report) = import_csv(&app, &admin, good, true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        (report["rows"].as_u64(), report["valid_rows"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(report["created"], 0);
    assert_eq!(
        report["preview"][0]["expiration_date"], "2026-03-01",
        "{report}"
    );
    assert_eq!(report["preview"][0]["hours"], 4.0);
    assert_eq!(record_count(&app).await, 0, "a dry run writes nothing");

    // A bad file: every problem by line and field; importing it writes nothing.
    let bad = format!(
        "username,course,course_name,category,completion_date,hours\n\
         hist-one,CPR-1,,,2024-03-01,\n\
         nobody,,Drill,,2024-01-01,1\n\
         hist-two,,Drill,,2099-01-01,-1\n\
         hist-two,NOPE,,,31/12/2024,1\n\
         {},,Drill,,2024-01-01,1\n",
        bravo.username
    );
    let (status, report) = import_csv(&app, &admin, &bad, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "username".to_string()),
            (4, "completion_date".to_string()),
            (4, "hours".to_string()),
            (5, "course".to_string()),
            (5, "completion_date".to_string()),
            (6, "username".to_string()),
        ],
        "{report}"
    );
    assert_eq!(record_count(&app).await, 0);
    let (status, problem) = import_csv(&app, &admin, "user,date\nx,y\n", true).await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["file"]);
    let member = app.member(&app.a, "no-importer", &[]).await;
    let (status, problem) = import_csv(&app, &member.token, good, true).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);

    // The good file, for real.
    let (status, report) = import_csv(&app, &admin, good, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(record_count(&app).await, 2);
    assert_eq!(
        app.audit_actions(&app.a, "training.records_imported").await,
        1
    );
    let (_, page) = app.get(&admin, "/api/v1/training/records?q=ladder").await;
    assert_eq!(page["items"][0]["hours_completed"], 2.5);
    assert_eq!(page["items"][0]["completion_date"], "2019-05-05");
}

#[tokio::test]
async fn an_officer_corrects_a_record_with_a_reason_and_the_log_keeps_both_values() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "corrected", &[]).await;
    let (status, made) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [member.id], "course_name": "CPR", "completion_date": "2025-03-01",
                   "hours": 4, "expiration_date": "2027-03-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made[0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/training/records/{id}/correct");

    // Bad input: nothing changes.
    let snapshot = app.snapshot(&app.a).await;
    for (body, fields) in [
        (json!({"hours": 3}), &["reason"][..]),
        (json!({"hours": 3, "reason": "  "}), &["reason"]),
        (
            json!({"completion_date": "2999-01-01", "reason": "typo"}),
            &["completion_date", "expiration_date"],
        ),
        (json!({"hours": -1, "reason": "typo"}), &["hours"]),
        (
            json!({"expiration_date": "2020-01-01", "reason": "typo"}),
            &["expiration_date"],
        ),
        (
            json!({"hours": 4, "reason": "the same"}),
            &["completion_date"],
        ),
    ] {
        let (status, problem) = app.post(&admin, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(error_fields(&problem), fields, "{body}: {problem}");
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    // Who may: not the member, not another department's officer.
    let (status, _) = app
        .post(&member.token, &path, json!({"hours": 3, "reason": "mine"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &app.b.admin.token,
            &path,
            json!({"hours": 3, "reason": "theirs"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Two officers correct at once: both land, one after the other, each audited.
    let (one, two) = tokio::join!(
        app.post(
            &admin,
            &path,
            json!({"hours": 3.5, "reason": "the sign-in sheet says 3.5"})
        ),
        app.post(
            &admin,
            &path,
            json!({"certification_number": "AHA-1042", "reason": "card number added"})
        )
    );
    assert_eq!(
        (one.0, two.0),
        (StatusCode::OK, StatusCode::OK),
        "{one:?} {two:?}"
    );
    let (_, after) = app
        .get(&admin, &format!("/api/v1/training/records/{id}"))
        .await;
    assert_eq!(after["hours_completed"], 3.5, "{after}");
    assert_eq!(after["certification_number"], "AHA-1042");
    assert_eq!(after["completion_date"], "2025-03-01");
    assert_eq!(after["status"], "completed");
    assert_eq!(
        app.audit_actions(&app.a, "training.record_corrected").await,
        2
    );
    let changes: String = sqlx::query_scalar(
        "SELECT changes FROM audit_logs WHERE action = 'training.record_corrected'
          AND organization_id = ? AND changes LIKE '%3.5%'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(changes.contains("the sign-in sheet says 3.5"), "{changes}");
    assert!(changes.contains("\"from\""), "both values: {changes}");

    // A void record is not corrected.
    let (status, _) = app
        .post(
            &admin,
            &format!("/api/v1/training/records/{id}/void"),
            json!({"reason": "wrong member"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(&admin, &path, json!({"hours": 2, "reason": "too late"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_crew_drill_is_one_session_opened_and_voided_together() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let crew = [
        app.member(&app.a, "session-one", &[]).await,
        app.member(&app.a, "session-two", &[]).await,
        app.member(&app.a, "session-three", &[]).await,
    ];
    let ids: Vec<Uuid> = crew.iter().map(|u| u.id).collect();
    let (status, made) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": ids, "course_name": "Pump operations drill", "hours": 2,
                   "training_type": "drill", "completion_date": "2026-03-10"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let session = made[0]["session_id"].as_str().unwrap().to_string();
    let (status, alone) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [crew[0].id], "course_name": "Ladder drill", "hours": 1,
                   "training_type": "drill", "completion_date": "2026-03-11"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alone}");

    // The session: every attendee's record, by name.
    let path = format!("/api/v1/training/sessions/{session}");
    let (status, s) = app.get(&admin, &path).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["id"], session.as_str());
    let members: BTreeSet<&str> = s["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    assert_eq!(
        members,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    // A record's own id is not a session; nor is another department's session.
    let (status, _) = app
        .get(
            &admin,
            &format!(
                "/api/v1/training/sessions/{}",
                alone[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&app.b.admin.token, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &app.b.admin.token,
            &format!("{path}/void"),
            json!({"reason": "not ours"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An attendee without training.manage sees their own record, not the session.
    let (status, _) = app.get(&crew[1].token, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &crew[1].token,
            &format!("{path}/void"),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input changes nothing.
    let snapshot = app.snapshot(&app.a).await;
    for body in [
        json!({}),
        json!({"reason": " "}),
        json!({"reason": "x".repeat(501)}),
    ] {
        let (status, problem) = app
            .post(&admin, &format!("{path}/void"), body.clone())
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {problem}"
        );
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    // One attendee's record voided alone; then two officers void the session at once: one
    // does it (the two records left, each audited), the other is told it is done.
    let one = made
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == crew[2].id.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = app
        .post(
            &admin,
            &format!("/api/v1/training/records/{one}/void"),
            json!({"reason": "left before the drill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let void = format!("{path}/void");
    let before = app.audit_actions(&app.a, "training.record_voided").await;
    let (first, second) = tokio::join!(
        app.post(&admin, &void, json!({"reason": "the drill was rained out"})),
        app.post(&admin, &void, json!({"reason": "the drill was rained out"}))
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{first:?} {second:?}"
    );
    assert_eq!(
        app.audit_actions(&app.a, "training.record_voided").await,
        before + 2
    );
    let (_, s) = app.get(&admin, &path).await;
    for r in s["records"].as_array().unwrap() {
        assert_eq!(r["status"], "cancelled", "{r}");
    }
    let (_, lone) = app
        .get(
            &admin,
            &format!(
                "/api/v1/training/records/{}",
                alone[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        lone["status"], "completed",
        "the member's other record stays"
    );
}

/// Rule 13 through the API: a certification requirement with a registry code is met by a
/// certificate recorded without the course link whose number holds the code; the code is
/// checked beside its field.
#[tokio::test]
async fn a_registry_code_matches_a_certificate_recorded_without_its_course() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let medic = app.member(&app.a, "registry-medic", &[]).await;
    let snapshot = app.snapshot(&app.a).await;
    for (body, field) in [
        (
            json!({"name": "Hours", "requirement_type": "hours", "required_hours": 4,
                   "period": "annual", "registry_code": "NREMT"}),
            "registry_code",
        ),
        (
            json!({"name": "EMT", "requirement_type": "certification", "period": "one_time",
                   "registry_code": "N".repeat(65)}),
            "registry_code",
        ),
    ] {
        let (status, problem) = app
            .post(&admin, "/api/v1/training/requirements", body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);
    let (status, req) = app
        .post(
            &app.b.admin.token,
            "/api/v1/training/requirements",
            json!({"name": "EMT", "requirement_type": "certification", "period": "one_time",
                   "registry_code": "NREMT"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    let (status, req) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "EMT certification", "requirement_type": "certification",
                   "period": "one_time", "registry_code": " NREMT "}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["registry_code"], "NREMT");
    let path = format!("/api/v1/training/compliance/{}?as_of=2026-06-30", medic.id);
    let standing = || async {
        let (status, c) = app.get(&admin, &path).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        c["requirements"][0].clone()
    };
    assert_eq!(standing().await["outcome"], "not_started");
    let (status, made) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [medic.id], "course_name": "Emergency Medical Technician",
                   "training_type": "certification", "completion_date": "2026-01-10", "hours": 8,
                   "expiration_date": "2028-03-31", "certification_number": "E-nremt-4471"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let r = standing().await;
    assert_eq!(r["outcome"], "met", "{r}");
    assert_eq!(
        r["explanation"],
        "Emergency Medical Technician valid until 03/31/2028 (certificate E-nremt-4471 matched \
         by registry code)"
    );
}

/// A fiscal-year requirement through the API: stored and answered with its start, judged over
/// the year from July 1, and every part of a year of one's own checked beside its field.
#[tokio::test]
async fn a_fiscal_year_requirement_is_judged_from_its_own_start() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let ff = app.member(&app.a, "fiscal-ff", &[]).await;
    let snapshot = app.snapshot(&app.a).await;
    for (extra, field) in [
        (
            json!({"period": "rolling", "rolling_months": 12, "year": 2026}),
            "year",
        ),
        (json!({"period": "annual", "year": 1999}), "year"),
        (
            json!({"period": "annual", "period_start_month": 7}),
            "period_start_day",
        ),
        (
            json!({"period": "annual", "period_start_month": 2, "period_start_day": 30}),
            "period_start_day",
        ),
        (
            json!({"period": "annual", "period_start_month": 13, "period_start_day": 1}),
            "period_start_month",
        ),
        (
            json!({"period": "monthly", "period_end_month": 6, "period_end_day": 30}),
            "period_end_month",
        ),
        (
            json!({"period": "annual", "recency_days": 0}),
            "recency_days",
        ),
    ] {
        let mut body = json!({"name": "Fiscal hours", "requirement_type": "hours",
                              "required_hours": 12});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, problem) = app
            .post(&admin, "/api/v1/training/requirements", body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    let (status, req) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Fiscal hours", "requirement_type": "hours", "required_hours": 12,
                   "period": "annual", "period_start_month": 7, "period_start_day": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(
        (
            &req["period_start_month"],
            &req["period_start_day"],
            &req["year"]
        ),
        (&json!(7), &json!(1), &Value::Null)
    );
    for (date, hours) in [("2025-06-30", 5), ("2025-07-01", 4), ("2026-01-15", 4)] {
        let (status, body) = app
            .post(
                &admin,
                "/api/v1/training/records",
                json!({"user_ids": [ff.id], "course_name": "Drill", "hours": hours,
                       "training_type": "drill", "completion_date": date}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-03-10", ff.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let r = &c["requirements"][0];
    assert_eq!(r["period_start"], "2025-07-01", "{r}");
    assert_eq!(r["period_end"], "2026-06-30", "{r}");
    assert_eq!(r["done"], 8.0, "{r}");
    assert_eq!(
        r["explanation"], "8 of 12 hours of training this year (from July 1)",
        "{r}"
    );
    // Another department does not see it, nor may a member change it.
    let path = format!(
        "/api/v1/training/requirements/{}",
        req["id"].as_str().unwrap()
    );
    let change = json!({"name": "Fiscal hours", "requirement_type": "hours",
                        "required_hours": 12, "period": "annual", "year": 2026});
    let (status, _) = app
        .call(reqwest::Method::PUT, &ff.token, &path, Some(change.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &app.b.admin.token,
            &path,
            Some(change.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, updated) = app
        .call(reqwest::Method::PUT, &admin, &path, Some(change))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["year"], 2026);
    assert_eq!(updated["period_start_month"], Value::Null);
}

/// The department's compliance settings: the current month counts by default; an officer turns
/// that off (audited once per change) and every standing is then judged at the end of last
/// month; members may read it, not change it; another department is untouched.
#[tokio::test]
async fn the_department_chooses_whether_the_current_month_counts() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "config-member", &[]).await;
    let path = "/api/v1/training/compliance/config";
    let (status, config) = app.get(&member.token, path).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config, json!({"include_current_month": true}));

    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            app.call(reqwest::Method::PUT, &token, path, Some(body))
                .await
        }
    };
    let (status, _) = put(
        member.token.clone(),
        json!({"include_current_month": false}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let snapshot = app.snapshot(&app.a).await;
    for body in [
        json!({}),
        json!({"include_current_month": "no"}),
        json!({"include_current_month": false, "grace": 3}),
    ] {
        let (status, problem) = put(admin.clone(), body.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {problem}"
        );
    }
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    // Two officers at once, the same change: it is made and audited once.
    let (one, two) = tokio::join!(
        put(admin.clone(), json!({"include_current_month": false})),
        put(admin.clone(), json!({"include_current_month": false}))
    );
    assert_eq!((one.0, two.0), (StatusCode::OK, StatusCode::OK));
    assert_eq!(one.1, json!({"include_current_month": false}));
    assert_eq!(
        app.audit_actions(&app.a, "training.compliance_config_changed")
            .await,
        1
    );
    let (_, other) = app.get(&app.b.admin.token, path).await;
    assert_eq!(other, json!({"include_current_month": true}));

    // A standing asked on 15 March is now judged at 28 February.
    let (status, _) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 12,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, c) = app
        .get(
            &admin,
            &format!("/api/v1/training/compliance/{}?as_of=2026-03-15", member.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["requirements"][0]["judged_at"], "2026-02-28", "{c}");
}

/// An officer exempts a member from training requirements with a reason: their standing turns
/// green and says why; ending it brings the requirements back. Not one's own, not another
/// department's member, not without a reason; audited.
#[tokio::test]
async fn an_officer_exempts_a_member_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let member = app.member(&app.a, "exempt-member", &[]).await;
    let (status, _) = app
        .post(
            &admin,
            "/api/v1/training/requirements",
            json!({"name": "Annual hours", "requirement_type": "hours", "required_hours": 12,
                   "period": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/api/v1/training/members/{}/exemption", member.id);
    let standing = format!("/api/v1/training/compliance/{}", member.id);
    let put = |token: &str, body: Value| {
        let token = token.to_string();
        let (app, path) = (&app, &path);
        async move {
            app.call(reqwest::Method::PUT, &token, path, Some(body))
                .await
        }
    };
    let (status, e) = app.get(&admin, &path).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert_eq!(e, json!({"exempt": false, "reason": null}));

    // Bad input and who may not: nothing changes.
    let snapshot = app.snapshot(&app.a).await;
    let (status, problem) = put(&admin, json!({"exempt": true})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), ["reason"]);
    let (status, _) = put(&admin, json!({"exempt": true, "reason": "x".repeat(201)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = put(&member.token, json!({"exempt": true, "reason": "me"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(&app.b.admin.token, json!({"exempt": true, "reason": "b"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &admin,
            &format!("/api/v1/training/members/{}/exemption", app.a.admin.id),
            Some(json!({"exempt": true, "reason": "myself"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(snapshot, app.snapshot(&app.a).await);

    let (status, e) = put(
        &admin,
        json!({"exempt": true, "reason": "Fire police only"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert_eq!(e["exempt"], true);
    let (_, c) = app.get(&admin, &standing).await;
    assert_eq!(c["status"], "green", "{c}");
    assert_eq!(c["exempt"], true);
    assert!(
        c["reason"].as_str().unwrap().contains("Fire police only"),
        "{c}"
    );
    assert_eq!(
        app.audit_actions(&app.a, "training.exemption_changed")
            .await,
        1
    );
    let (status, e) = put(&admin, json!({"exempt": false})).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert_eq!(e, json!({"exempt": false, "reason": null}));
    let (_, c) = app.get(&admin, &standing).await;
    assert_eq!(c["exempt"], false, "{c}");
    assert_ne!(c["status"], "green", "{c}");
}
