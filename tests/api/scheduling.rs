//! Scheduling: a platoon rotation generated into a month of crewed shifts (members away left
//! off, a second generation adding nothing, two at once making each shift once), the placement
//! rules with everyone tapping at once, swaps approved once by an officer who is not part of
//! them, time off that frees seats and tells the shift's officer, staffing warnings and
//! reminders once, permissions, other departments and bad input.

use chrono::{Duration, NaiveDate};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events::at_once;
use crate::harness::*;

fn uuid(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .parse()
        .unwrap()
}

/// A course whose current record the driver seat needs, and a record of it for each of
/// `drivers`.
async fn driver_course(app: &TestApp, org: &Org, drivers: &[Uuid]) -> Uuid {
    let (status, course) = app
        .post(
            &org.admin.token,
            "/api/v1/training/courses",
            json!({"name": "Driver/operator qualification", "training_type": "certification",
                   "duration_hours": 16}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    let course = uuid(&course["id"]);
    if !drivers.is_empty() {
        let (status, body) = app
            .post(
                &org.admin.token,
                "/api/v1/training/records",
                json!({"user_ids": drivers, "course_id": course,
                       "course_name": "Driver/operator qualification", "hours": 16,
                       "training_type": "certification", "completion_date": "2026-06-01"}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    course
}

/// An engine's 24-hour duty from 07:00: officer and driver required, a firefighter's seat.
async fn engine_template(app: &TestApp, org: &Org, name: &str, course: Option<Uuid>) -> Uuid {
    let (status, t) = app
        .post(
            &org.admin.token,
            "/api/v1/scheduling/templates",
            json!({"name": name, "start_time": "07:00", "duration_minutes": 1440,
                   "positions": [
                       {"name": "Officer", "required": true},
                       {"name": "Driver", "required": true, "course_id": course},
                       {"name": "Firefighter", "required": false}],
                   "min_staffing": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    uuid(&t["id"])
}

async fn shift_on(app: &TestApp, org: &Org, template: Uuid, day: NaiveDate) -> Uuid {
    let (status, s) = app
        .post(
            &org.admin.token,
            "/api/v1/scheduling/shifts",
            json!({"template_id": template, "shift_date": day}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    uuid(&s["id"])
}

async fn live_seats(app: &TestApp, shift: Uuid) -> Vec<(u8, Uuid)> {
    sqlx::query_as(
        "SELECT seat, user_id FROM shift_assignments WHERE shift_id = ?
            AND status IN ('assigned', 'pending', 'confirmed') ORDER BY seat",
    )
    .bind(shift)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

async fn notices(app: &TestApp, user: Uuid, subject_starts: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE ?",
    )
    .bind(user)
    .bind(format!("{subject_starts}%"))
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_platoon_rotation_makes_a_month_of_crewed_shifts_leaving_off_members_away() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let mut crew = Vec::new();
    for name in ["sch-a1", "sch-a2", "sch-b1", "sch-b2", "sch-c1", "sch-c2"] {
        crew.push(app.member(&app.a, name, &[]).await);
    }
    // The A and C drivers are qualified; B's is not.
    let course = driver_course(&app, &app.a, &[crew[1].id, crew[5].id]).await;
    let template = engine_template(&app, &app.a, "Engine 1 duty", Some(course)).await;
    let start = app.org_today(&app.a).await + Duration::days(1);
    // B's officer is on leave on the second B day; C's officer has approved time off on the
    // first C day.
    let (status, body) = app
        .post(
            admin,
            "/api/v1/leaves",
            json!({"user_id": crew[2].id, "leave_type": "personal",
                   "start_date": start + Duration::days(4), "end_date": start + Duration::days(4)}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, off) = app
        .post(
            &crew[4].token,
            "/api/v1/scheduling/time-off",
            json!({"start_date": start + Duration::days(2), "end_date": start + Duration::days(2),
                   "reason": "Wedding"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{off}");
    let (status, body) = app
        .post(
            admin,
            &format!(
                "/api/v1/scheduling/time-off/{}/review",
                off["id"].as_str().unwrap()
            ),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let members: Vec<Value> = crew
        .iter()
        .zip(["A", "A", "B", "B", "C", "C"])
        .zip([
            "Officer", "Driver", "Officer", "Driver", "Officer", "Driver",
        ])
        .map(|((m, p), seat)| json!({"user_id": m.id, "platoon": p, "position": seat}))
        .collect();
    let (status, pattern) = app
        .post(
            admin,
            "/api/v1/scheduling/patterns",
            json!({"name": "Three platoons", "template_id": template, "pattern_type": "platoon",
                   "preset": "24/48", "start_date": start, "members": members}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pattern}");
    assert_eq!(pattern["sequence"], "ABC");
    assert_eq!(pattern["described"], "24 on / 48 off (3 platoons)");
    let pattern = uuid(&pattern["id"]);
    let generate = format!("/api/v1/scheduling/patterns/{pattern}/generate");
    let to = start + Duration::days(29);

    // A preview shows the month and writes nothing.
    let before = app.snapshot(&app.a).await;
    let (status, preview) = app
        .post(
            admin,
            &generate,
            json!({"from": start, "to": to, "preview": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["shifts"].as_array().unwrap().len(), 30);
    assert_eq!(preview["created"], 0);
    assert_eq!(
        before,
        app.snapshot(&app.a).await,
        "a preview writes nothing"
    );
    let letters: String = preview["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .take(6)
        .map(|s| s["platoon"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(letters, "ABCABC");
    let day = |n: usize| preview["shifts"][n].clone();
    assert_eq!(
        day(0)["crew"],
        json!(["Officer: Test sch-a1", "Driver: Test sch-a2"])
    );
    // B's driver is not qualified: the firefighter's seat.
    assert_eq!(
        day(1)["crew"],
        json!(["Officer: Test sch-b1", "Firefighter: Test sch-b2"])
    );
    assert_eq!(day(2)["skipped"], json!(["Test sch-c1: time off"]));
    assert_eq!(day(4)["skipped"], json!(["Test sch-b1: on leave"]));

    let (status, made) = app
        .post(admin, &generate, json!({"from": start, "to": to}))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["created"], 30);
    // 10 days a platoon: A 2 a day; B and C each lose one day of their officer.
    assert_eq!(made["assignments"], 20 + 19 + 19);
    let shifts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shifts WHERE pattern_id = ?")
        .bind(pattern)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(shifts, 30);
    // A B shift has no driver: open, and says so.
    let (status, page) = app
        .get(
            admin,
            &format!(
                "/api/v1/scheduling/shifts?from={}&to={}",
                start + Duration::days(1),
                start + Duration::days(1)
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The A shift from the day before runs into the morning; the B shift is the day's own.
    let b = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["shift_date"] == json!(start + Duration::days(1)))
        .unwrap();
    assert_eq!(b["platoon"], "B");
    assert_eq!(b["title"], "Engine 1 duty — Platoon B");
    assert_eq!(b["staffing"]["open"], true);
    assert_eq!(b["staffing"]["missing"], json!(["Driver"]));
    let (_, open) = app
        .get(
            admin,
            &format!("/api/v1/scheduling/shifts?open=true&from={start}&to={to}&per_page=200"),
        )
        .await;
    // Every B day, and the C day without its officer.
    assert_eq!(open["total"], 11, "{open}");

    // Again: nothing new.
    let (status, again) = app
        .post(admin, &generate, json!({"from": start, "to": to}))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], 0);
    assert!(
        again["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["exists"] == true)
    );
    // Two officers generating the next week at once: each shift made once.
    let next = (to + Duration::days(1), to + Duration::days(7));
    let answers = at_once(
        &app,
        vec![
            (
                admin.clone(),
                generate.clone(),
                json!({"from": next.0, "to": next.1}),
            );
            2
        ],
    )
    .await;
    let created: i64 = answers
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::OK, "{v}");
            v["created"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(created, 7);
    assert_eq!(app.audit_actions(&app.a, "scheduling.generated").await, 2);
}

#[tokio::test]
async fn seats_follow_the_rules_and_one_seat_takes_one_member_however_many_tap() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let qualified = app.member(&app.a, "sch-driver", &[]).await;
    let course = driver_course(&app, &app.a, &[qualified.id]).await;
    let template = engine_template(&app, &app.a, "Engine duty", Some(course)).await;
    let today = app.org_today(&app.a).await;
    let day = today + Duration::days(3);
    let shift = shift_on(&app, &app.a, template, day).await;
    let signup = format!("/api/v1/scheduling/shifts/{shift}/signup");

    // Ten members after the one firefighter's seat at once: one gets it.
    let mut many = Vec::new();
    for n in 0..10 {
        many.push(app.member(&app.a, &format!("sch-ff{n}"), &[]).await);
    }
    let answers = at_once(
        &app,
        many.iter()
            .map(|m| (m.token.clone(), signup.clone(), json!({"seat": 2})))
            .collect(),
    )
    .await;
    let won = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(won, 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_problem(*status, body, StatusCode::CONFLICT);
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Firefighter seat is taken")
            );
        }
    }
    assert_eq!(live_seats(&app, shift).await.len(), 1);
    // Those who did not get it, for what follows.
    let losers: Vec<&User> = many
        .iter()
        .zip(&answers)
        .filter(|(_, (s, _))| *s != StatusCode::OK)
        .map(|(m, _)| m)
        .collect();
    // The driver's seat needs the qualification.
    let (status, body) = app
        .post(&losers[0].token, &signup, json!({"seat": 1}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["seat"]);
    assert!(
        body.to_string()
            .contains("needs a current Driver/operator qualification record")
    );
    // The qualified driver taps twice at once: one seat.
    let answers = at_once(
        &app,
        vec![(qualified.token.clone(), signup.clone(), json!({"seat": 1})); 2],
    )
    .await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(live_seats(&app, shift).await.len(), 2);
    // Without a seat named: the first free one they may take (the officer's).
    let (status, s) = app.post(&losers[0].token, &signup, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["my_assignment"]["status"], "confirmed");
    assert_eq!(s["seats"][0]["holder"]["member"]["id"], json!(losers[0].id));
    // The officer's seat made them the shift's officer; the shift is staffed.
    assert_eq!(s["shift_officer"]["id"], json!(losers[0].id));
    assert_eq!(s["staffing"]["open"], false);

    // Another shift the same day overlaps.
    let other = shift_on(&app, &app.a, template, day).await;
    let (status, body) = app
        .post(
            &qualified.token,
            &format!("/api/v1/scheduling/shifts/{other}/signup"),
            json!({"seat": 1}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("another shift"),
        "{body}"
    );
    // A member on leave that day.
    let away = &losers[1];
    let (status, body) = app
        .post(
            admin,
            "/api/v1/leaves",
            json!({"user_id": away.id, "leave_type": "medical", "start_date": day}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app
        .post(
            &away.token,
            &format!("/api/v1/scheduling/shifts/{other}/signup"),
            json!({"seat": 2}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("on leave"),
        "{body}"
    );
    // A shift that has started.
    let past = shift_on(&app, &app.a, template, today - Duration::days(1)).await;
    let (status, body) = app
        .post(
            &losers[2].token,
            &format!("/api/v1/scheduling/shifts/{past}/signup"),
            json!({"seat": 2}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("started"),
        "{body}"
    );
    // A shift officers fill.
    let (status, closed) = app
        .post(
            admin,
            "/api/v1/scheduling/templates",
            json!({"name": "Officers only", "start_time": "18:00", "duration_minutes": 120,
                   "positions": [{"name": "Crew"}], "open_to_all_members": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{closed}");
    let closed = shift_on(&app, &app.a, uuid(&closed["id"]), day + Duration::days(1)).await;
    let (status, body) = app
        .post(
            &losers[2].token,
            &format!("/api/v1/scheduling/shifts/{closed}/signup"),
            json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // ... where an officer puts them, and they are asked to confirm.
    let (status, s) = app
        .post(
            admin,
            &format!("/api/v1/scheduling/shifts/{closed}/assignments"),
            json!({"user_id": losers[2].id, "seat": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        notices(&app, losers[2].id, "You are on Officers only").await,
        1
    );
    let assignment = s["seats"][0]["holder"]["assignment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let respond = format!("/api/v1/scheduling/assignments/{assignment}/respond");
    let (status, body) = app
        .post(&losers[3].token, &respond, json!({"accept": true}))
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, s) = app
        .post(&losers[2].token, &respond, json!({"accept": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["my_assignment"]["status"], "confirmed");
    // A member may not assign, make templates or shifts.
    let (status, body) = app
        .post(
            &losers[3].token,
            &format!("/api/v1/scheduling/shifts/{closed}/assignments"),
            json!({"user_id": losers[3].id, "seat": 0}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(
            &losers[3].token,
            "/api/v1/scheduling/shifts",
            json!({"template_id": template, "shift_date": day}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);

    // Withdrawing frees the seat, and the shift's officer hears of it.
    let (status, s) = app.delete(&qualified.token, &signup).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert!(s["my_assignment"].is_null());
    assert_eq!(s["staffing"]["missing"], json!(["Driver"]));
    assert_eq!(
        notices(&app, losers[0].id, "sch-driver left the Driver seat").await,
        1
    );
    // Cancelling tells everyone still on it; the shift takes no one after.
    let (status, s) = app
        .post(
            admin,
            &format!("/api/v1/scheduling/shifts/{shift}/cancel"),
            json!({"reason": "Engine out of service"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["status"], "cancelled");
    assert!(live_seats(&app, shift).await.is_empty());
    assert_eq!(
        notices(&app, losers[0].id, "Cancelled: Engine duty").await,
        1
    );
    let (status, body) = app.post(&qualified.token, &signup, json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(body["detail"].as_str().unwrap().contains("cancelled"));
}

#[tokio::test]
async fn a_swap_is_approved_once_by_an_officer_who_is_not_part_of_it() {
    let app = TestApp::spawn().await;
    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let first = shift_on(&app, &app.a, template, today + Duration::days(5)).await;
    let second = shift_on(&app, &app.a, template, today + Duration::days(6)).await;
    let third = shift_on(&app, &app.a, template, today + Duration::days(7)).await;
    let x = app.member(&app.a, "sch-swap-x", &[]).await;
    // The other side is an officer: still not the one to decide it.
    let y = app.member(&app.a, "sch-swap-y", &["assistant_chief"]).await;
    let z = app.member(&app.a, "sch-swap-z", &[]).await;
    let o1 = app
        .member(&app.a, "sch-swap-o1", &["assistant_chief"])
        .await;
    let o2 = app
        .member(&app.a, "sch-swap-o2", &["assistant_chief"])
        .await;
    let seat = |token: String, shift: Uuid| {
        let app = &app;
        async move {
            let (status, s) = app
                .post(
                    &token,
                    &format!("/api/v1/scheduling/shifts/{shift}/signup"),
                    json!({"seat": 2}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{s}");
            uuid(&s["my_assignment"]["assignment_id"])
        }
    };
    let ax = seat(x.token.clone(), first).await;
    let ay = seat(y.token.clone(), second).await;
    let ax3 = seat(x.token.clone(), third).await;

    let (status, swap) = app
        .post(
            &x.token,
            "/api/v1/scheduling/swaps",
            json!({"assignment_id": ax, "other_assignment_id": ay, "reason": "Family visit"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{swap}");
    assert_eq!(notices(&app, y.id, "Swap asked for by").await, 1);
    let review = format!(
        "/api/v1/scheduling/swaps/{}/review",
        swap["id"].as_str().unwrap()
    );
    // Not the other side, though an officer.
    let (status, body) = app.post(&y.token, &review, json!({"approve": true})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Not someone else's seat, not a second request for the same seat.
    let (status, body) = app
        .post(
            &z.token,
            "/api/v1/scheduling/swaps",
            json!({"assignment_id": ay, "target_user_id": x.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["assignment_id"]);
    let (status, body) = app
        .post(
            &x.token,
            "/api/v1/scheduling/swaps",
            json!({"assignment_id": ax, "target_user_id": z.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Two officers approve at once: one does, the other is told it was decided.
    let answers = at_once(
        &app,
        vec![
            (o1.token.clone(), review.clone(), json!({"approve": true})),
            (
                o2.token.clone(),
                review.clone(),
                json!({"approve": true, "notes": "ok"}),
            ),
        ],
    )
    .await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|a| a.0).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{answers:?}"
    );
    assert_eq!(live_seats(&app, first).await, [(2, y.id)]);
    assert_eq!(live_seats(&app, second).await, [(2, x.id)]);
    assert_eq!(
        app.audit_actions(&app.a, "scheduling.swap_reviewed").await,
        1
    );
    assert_eq!(notices(&app, x.id, "Swap approved").await, 1);

    // A hand-over checked again when decided: z went on leave meanwhile.
    let (status, give) = app
        .post(
            &x.token,
            "/api/v1/scheduling/swaps",
            json!({"assignment_id": ax3, "target_user_id": z.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{give}");
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/leaves",
            json!({"user_id": z.id, "leave_type": "military",
                   "start_date": today + Duration::days(7), "end_date": today + Duration::days(8)}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let give_review = format!(
        "/api/v1/scheduling/swaps/{}/review",
        give["id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(&o1.token, &give_review, json!({"approve": true}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(live_seats(&app, third).await, [(2, x.id)]);
    let (status, still) = app
        .get(&x.token, "/api/v1/scheduling/swaps?status=pending")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still.as_array().unwrap().len(), 1, "{still}");
    // Only the requester withdraws it.
    let cancel = format!(
        "/api/v1/scheduling/swaps/{}/cancel",
        give["id"].as_str().unwrap()
    );
    let (status, body) = app.post(&z.token, &cancel, json!({})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = app.post(&x.token, &cancel, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
}

#[tokio::test]
async fn approving_time_off_frees_the_members_seats_and_tells_the_shifts_officer() {
    let app = TestApp::spawn().await;
    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let d = today + Duration::days(10);
    let inside = shift_on(&app, &app.a, template, d).await;
    let outside = shift_on(&app, &app.a, template, d + Duration::days(2)).await;
    let officer = app.member(&app.a, "sch-to-officer", &[]).await;
    let member = app
        .member(&app.a, "sch-to-member", &["assistant_chief"])
        .await;
    let reviewer = app
        .member(&app.a, "sch-to-reviewer", &["assistant_chief"])
        .await;
    for (token, shift, seat) in [
        (&officer.token, inside, 0),
        (&member.token, inside, 2),
        (&member.token, outside, 2),
    ] {
        let (status, s) = app
            .post(
                token,
                &format!("/api/v1/scheduling/shifts/{shift}/signup"),
                json!({"seat": seat}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{s}");
    }
    // Bad dates change nothing.
    let before = app.snapshot(&app.a).await;
    for (body, field) in [
        (
            json!({"start_date": today - Duration::days(1), "end_date": d}),
            "start_date",
        ),
        (
            json!({"start_date": d, "end_date": d - Duration::days(1)}),
            "end_date",
        ),
        (
            json!({"start_date": d, "end_date": d + Duration::days(400)}),
            "end_date",
        ),
    ] {
        let (status, answer) = app
            .post(&member.token, "/api/v1/scheduling/time-off", body)
            .await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), [field]);
    }
    assert_eq!(before, app.snapshot(&app.a).await);
    let (status, off) = app
        .post(
            &member.token,
            "/api/v1/scheduling/time-off",
            json!({"start_date": d, "end_date": d + Duration::days(1), "reason": "Surgery"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{off}");
    assert_eq!(notices(&app, reviewer.id, "Time off asked for").await, 1);
    let review = format!(
        "/api/v1/scheduling/time-off/{}/review",
        off["id"].as_str().unwrap()
    );
    // Nobody approves their own, officer or not.
    let (status, body) = app
        .post(&member.token, &review, json!({"approve": true}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // A member who is no officer may not decide.
    let (status, body) = app
        .post(&officer.token, &review, json!({"approve": true}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, done) = app
        .post(
            &reviewer.token,
            &review,
            json!({"approve": true, "notes": "Get well"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["request"]["status"], "approved");
    assert_eq!(done["freed"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(live_seats(&app, inside).await, [(0, officer.id)]);
    assert_eq!(live_seats(&app, outside).await, [(2, member.id)]);
    assert_eq!(
        notices(&app, officer.id, "A seat opened on Engine duty").await,
        1
    );
    assert_eq!(notices(&app, member.id, "Time off approved").await, 1);
    // Decided once.
    let (status, body) = app
        .post(&reviewer.token, &review, json!({"approve": false}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // And the member cannot sign up again inside it.
    let (status, body) = app
        .post(
            &member.token,
            &format!("/api/v1/scheduling/shifts/{inside}/signup"),
            json!({"seat": 2}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("time off"),
        "{body}"
    );
    // Members see their own requests; officers everyone's.
    let (_, mine) = app.get(&officer.token, "/api/v1/scheduling/time-off").await;
    assert_eq!(mine.as_array().unwrap().len(), 0);
    let (_, all) = app
        .get(&reviewer.token, "/api/v1/scheduling/time-off")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn short_staffed_shifts_are_reported_once_and_members_reminded_once() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let chief = app.a.admin.id;
    let member = app.member(&app.a, "sch-remind", &[]).await;
    // Starting in two hours, the department's clock.
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let soon = (chrono::Utc::now() + Duration::hours(2)).with_timezone(&tz);
    let (status, t) = app
        .post(
            admin,
            "/api/v1/scheduling/templates",
            json!({"name": "Standby", "start_time": soon.format("%H:%M").to_string(),
                   "duration_minutes": 240, "positions": [{"name": "Officer"}, {"name": "Driver"}],
                   "min_staffing": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let short = shift_on(&app, &app.a, uuid(&t["id"]), soon.date_naive()).await;
    let (status, s) = app
        .post(
            &member.token,
            &format!("/api/v1/scheduling/shifts/{short}/signup"),
            json!({"seat": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    // A full one the same time is not reported.
    let (status, t2) = app
        .post(
            admin,
            "/api/v1/scheduling/templates",
            json!({"name": "Solo standby", "start_time": soon.format("%H:%M").to_string(),
                   "duration_minutes": 60, "positions": [{"name": "Crew"}], "min_staffing": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t2}");
    let full = shift_on(&app, &app.a, uuid(&t2["id"]), soon.date_naive()).await;
    let other = app.member(&app.a, "sch-remind-2", &[]).await;
    let (status, s) = app
        .post(
            &other.token,
            &format!("/api/v1/scheduling/shifts/{full}/signup"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");

    for _ in 0..2 {
        app.run_job(&app.a, "scheduling_staffing").await;
        app.run_job(&app.a, "scheduling_reminders").await;
    }
    assert_eq!(notices(&app, chief, "Short-staffed: Standby").await, 1);
    assert_eq!(notices(&app, chief, "Short-staffed: Solo").await, 0);
    assert_eq!(notices(&app, member.id, "Reminder: Standby").await, 1);
    assert_eq!(notices(&app, other.id, "Reminder: Solo standby").await, 1);
    // Org B has nothing of it.
    let b: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE organization_id = ? AND subject LIKE 'Short%'",
    )
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(b, 0);
}

#[tokio::test]
async fn bad_input_changes_nothing_and_other_departments_see_nothing() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let before = app.snapshot(&app.a).await;
    for (body, fields) in [
        (
            json!({"name": " ", "start_time": "25:00", "duration_minutes": 10, "positions": []}),
            vec!["name", "start_time", "duration_minutes", "positions"],
        ),
        (
            json!({"name": "X", "start_time": "07:00", "duration_minutes": 60,
                   "positions": [{"name": "A"}], "min_staffing": 3}),
            vec!["min_staffing"],
        ),
        (
            json!({"name": "X", "start_time": "07:00", "duration_minutes": 60,
                   "positions": [{"name": "A\u{7}"}]}),
            vec!["positions[0].name"],
        ),
        (
            json!({"name": "X", "start_time": "07:00", "duration_minutes": 60,
                   "positions": [{"name": "A", "course_id": Uuid::now_v7()}]}),
            vec!["positions[0].course_id"],
        ),
    ] {
        let (status, answer) = app.post(admin, "/api/v1/scheduling/templates", body).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), fields, "{answer}");
    }
    let (status, answer) = app
        .post(
            admin,
            "/api/v1/scheduling/templates",
            json!({"name": "X", "start_time": "07:00", "duration_minutes": 60, "extra": 1}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert_eq!(before, app.snapshot(&app.a).await);

    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let before = app.snapshot(&app.a).await;
    for (body, field) in [
        (
            json!({"name": "P", "template_id": template, "pattern_type": "custom",
                   "sequence": "ABX", "start_date": today}),
            "sequence",
        ),
        (
            json!({"name": "P", "template_id": template, "pattern_type": "weekly",
                   "weekdays": [7], "start_date": today}),
            "weekdays",
        ),
        (
            json!({"name": "P", "template_id": template, "pattern_type": "platoon",
                   "preset": "1/2", "start_date": today}),
            "preset",
        ),
        (
            json!({"name": "P", "template_id": template, "pattern_type": "hourly",
                   "start_date": today}),
            "pattern_type",
        ),
        (
            json!({"name": "P", "template_id": Uuid::now_v7(), "pattern_type": "daily",
                   "start_date": today}),
            "template_id",
        ),
        (
            json!({"name": "P", "template_id": template, "pattern_type": "platoon",
                   "preset": "24/48", "start_date": today,
                   "members": [{"user_id": app.b.admin.id, "platoon": "A"}]}),
            "members[0].user_id",
        ),
        (
            json!({"name": "P", "template_id": template, "pattern_type": "platoon",
                   "preset": "24/48", "start_date": today,
                   "members": [{"user_id": app.a.admin.id, "platoon": "D"}]}),
            "members[0].platoon",
        ),
    ] {
        let (status, answer) = app.post(admin, "/api/v1/scheduling/patterns", body).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), [field], "{answer}");
    }
    assert_eq!(before, app.snapshot(&app.a).await);
    let (status, pattern) = app
        .post(
            admin,
            "/api/v1/scheduling/patterns",
            json!({"name": "Weekdays", "template_id": template, "pattern_type": "weekly",
                   "weekdays": [1, 3, 5], "start_date": today}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pattern}");
    assert_eq!(pattern["described"], "Every Monday, Wednesday, Friday");
    let generate = format!(
        "/api/v1/scheduling/patterns/{}/generate",
        pattern["id"].as_str().unwrap()
    );
    for body in [
        json!({"from": today, "to": today - Duration::days(1)}),
        json!({"from": today, "to": today + Duration::days(400)}),
    ] {
        let (status, answer) = app.post(admin, &generate, body).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), ["to"]);
    }
    // A stopped pattern makes nothing until it is taken up again.
    let active = generate.replace("/generate", "/active");
    let (status, stopped) = app.post(admin, &active, json!({"active": false})).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["is_active"], false);
    let (status, answer) = app
        .post(admin, &generate, json!({"from": today, "to": today}))
        .await;
    assert_problem(status, &answer, StatusCode::CONFLICT);
    let (status, _) = app.post(admin, &active, json!({"active": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.audit_actions(&app.a, "scheduling.pattern_stopped")
            .await,
        1
    );
    let (status, answer) = app
        .get(
            admin,
            &format!(
                "/api/v1/scheduling/shifts?from={today}&to={}",
                today - Duration::days(1)
            ),
        )
        .await;
    assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);

    // Org B: A's shift is not there, and A's lists are not B's.
    let shift = shift_on(&app, &app.a, template, today + Duration::days(2)).await;
    let b = &app.b.admin.token;
    let before_a = app.snapshot(&app.a).await;
    for (status, body) in [
        app.get(b, &format!("/api/v1/scheduling/shifts/{shift}"))
            .await,
        app.post(
            b,
            &format!("/api/v1/scheduling/shifts/{shift}/signup"),
            json!({}),
        )
        .await,
        app.post(
            b,
            &format!("/api/v1/scheduling/shifts/{shift}/cancel"),
            json!({"reason": "Not ours"}),
        )
        .await,
        app.post(b, &generate, json!({"from": today, "to": today}))
            .await,
    ] {
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    // B's officer cannot put B's member on A's template or A's member on B's shift.
    let (status, body) = app
        .post(
            b,
            "/api/v1/scheduling/shifts",
            json!({"template_id": template, "shift_date": today}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["template_id"]);
    let b_template = engine_template(&app, &app.b, "B duty", None).await;
    let b_shift = shift_on(&app, &app.b, b_template, today + Duration::days(2)).await;
    let (status, body) = app
        .post(
            b,
            &format!("/api/v1/scheduling/shifts/{b_shift}/assignments"),
            json!({"user_id": app.a.admin.id, "seat": 0}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["user_id"]);
    assert_eq!(before_a, app.snapshot(&app.a).await);
    let (_, listed) = app
        .get(
            b,
            &format!("/api/v1/scheduling/shifts?from={today}&per_page=200"),
        )
        .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], json!(b_shift));
    let (_, templates) = app.get(b, "/api/v1/scheduling/templates").await;
    assert_eq!(templates.as_array().unwrap().len(), 1);
}

/// Completed training records of `kind` for the member.
async fn records_of(app: &TestApp, user: Uuid, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM training_records WHERE user_id = ? AND training_type = ?
            AND status = 'completed'",
    )
    .bind(user)
    .bind(kind)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn closing_out_credits_the_shift_and_its_calls_once_and_reopening_voids_them() {
    let app = TestApp::spawn().await;
    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let shift = shift_on(&app, &app.a, template, today + Duration::days(2)).await;
    let officer = app.member(&app.a, "sch-co-officer", &[]).await;
    let driver = app.member(&app.a, "sch-co-driver", &[]).await;
    let ff = app.member(&app.a, "sch-co-ff", &[]).await;
    let mut seats = Vec::new();
    for (m, seat) in [(&officer, 0), (&driver, 1), (&ff, 2)] {
        let (status, s) = app
            .post(
                &m.token,
                &format!("/api/v1/scheduling/shifts/{shift}/signup"),
                json!({"seat": seat}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{s}");
        seats.push(uuid(&s["my_assignment"]["assignment_id"]));
    }
    let finalize = format!("/api/v1/scheduling/shifts/{shift}/finalize");
    let everyone = json!({"attendance": [
        {"assignment_id": seats[0], "present": true},
        {"assignment_id": seats[1], "present": false},
        {"assignment_id": seats[2], "present": true}], "call_count": 2});
    // Not before it starts.
    let (status, body) = app.post(&officer.token, &finalize, everyone.clone()).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // The shift has happened.
    sqlx::query(
        "UPDATE shifts SET shift_date = ?, starts_at = UTC_TIMESTAMP(6) - INTERVAL 25 HOUR,
                ends_at = UTC_TIMESTAMP(6) - INTERVAL 1 HOUR WHERE id = ?",
    )
    .bind(today - Duration::days(1))
    .bind(shift)
    .execute(&app.db.pool)
    .await
    .unwrap();
    // Not a member who is not its officer; not with a seat left out or a stranger's.
    let (status, body) = app.post(&driver.token, &finalize, everyone.clone()).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            &officer.token,
            &finalize,
            json!({"attendance": [{"assignment_id": seats[0], "present": true},
                                  {"assignment_id": Uuid::now_v7(), "present": true}],
                   "call_count": 51}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&body),
        ["call_count", "attendance[1].assignment_id", "attendance"]
    );
    assert_eq!(before, app.snapshot(&app.a).await);
    // The shift's officer and a scheduling officer at once: closed out once.
    let answers = at_once(
        &app,
        vec![
            (officer.token.clone(), finalize.clone(), everyone.clone()),
            (
                app.a.admin.token.clone(),
                finalize.clone(),
                everyone.clone(),
            ),
        ],
    )
    .await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|a| a.0).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{answers:?}"
    );
    let closed = &answers.iter().find(|a| a.0 == StatusCode::OK).unwrap().1;
    assert_eq!(closed["call_count"], 2);
    assert!(closed["finalized_at"].is_string());
    // 24 hours of shift and two calls for each member there; nothing for the one who was not.
    for m in [&officer, &ff] {
        assert_eq!(records_of(&app, m.id, "shift").await, 1);
        assert_eq!(records_of(&app, m.id, "call").await, 2);
    }
    assert_eq!(records_of(&app, driver.id, "shift").await, 0);
    let hours: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT hours_completed FROM training_records WHERE user_id = ? AND training_type = 'shift'",
    )
    .bind(ff.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(hours, rust_decimal::Decimal::from(24));
    let status: String = sqlx::query_scalar("SELECT status FROM shift_assignments WHERE id = ?")
        .bind(seats[1])
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "no_show");
    assert_eq!(app.audit_actions(&app.a, "scheduling.finalized").await, 1);

    // Reopened: the records are void; closed out again, credited again, once.
    let reopen = format!("/api/v1/scheduling/shifts/{shift}/reopen");
    let (status, body) = app
        .post(&officer.token, &reopen, json!({"reason": " "}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post(
            &officer.token,
            &reopen,
            json!({"reason": "The driver was there"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["finalized_at"].is_null());
    assert_eq!(records_of(&app, officer.id, "shift").await, 0);
    assert_eq!(records_of(&app, officer.id, "call").await, 0);
    let all_present = json!({"attendance": [
        {"assignment_id": seats[0], "present": true},
        {"assignment_id": seats[1], "present": true},
        {"assignment_id": seats[2], "present": true}], "call_count": 1});
    let (status, body) = app.post(&officer.token, &finalize, all_present).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for m in [&officer, &driver, &ff] {
        assert_eq!(records_of(&app, m.id, "shift").await, 1);
        assert_eq!(records_of(&app, m.id, "call").await, 1);
    }

    // The reports count those who were there: 24 hours each, one staffed shift.
    let range = format!("from={}&to={}", today - Duration::days(1), today);
    let (status, hours) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/scheduling/reports/hours?{range}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hours}");
    assert_eq!(hours["members"].as_array().unwrap().len(), 3, "{hours}");
    assert!(
        hours["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["hours"] == 24.0 && m["shifts"] == 1)
    );
    let (status, coverage) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/scheduling/reports/coverage?{range}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{coverage}");
    let staffed: u64 = coverage["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["staffed"].as_u64().unwrap())
        .sum();
    assert_eq!(staffed, 1, "{coverage}");
    let res = app
        .client
        .get(app.url(&format!(
            "/api/v1/scheduling/reports/hours?{range}&format=csv"
        )))
        .bearer_auth(&app.a.admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    assert!(text.starts_with("member,shifts,hours\n"), "{text}");
    assert!(text.contains("Test sch-co-ff,1,24.00"), "{text}");
    let (status, body) = app
        .get(
            &ff.token,
            &format!("/api/v1/scheduling/reports/hours?{range}"),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get(
            &app.a.admin.token,
            "/api/v1/scheduling/reports/coverage?from=2027-01-01&to=2026-01-01",
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_members_calendar_feed_lists_their_own_shifts() {
    let app = TestApp::spawn().await;
    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let mine = shift_on(&app, &app.a, template, today + Duration::days(3)).await;
    let theirs = shift_on(&app, &app.a, template, today + Duration::days(4)).await;
    let member = app.member(&app.a, "sch-feed", &[]).await;
    let other = app.member(&app.a, "sch-feed-other", &[]).await;
    for (m, shift) in [(&member, mine), (&other, theirs)] {
        let (status, s) = app
            .post(
                &m.token,
                &format!("/api/v1/scheduling/shifts/{shift}/signup"),
                json!({"seat": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{s}");
    }
    let (status, feed) = app
        .post(&member.token, "/api/v1/events/feed", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let path = feed["url"]
        .as_str()
        .unwrap()
        .split_once("/calendar/")
        .map(|(_, t)| format!("/calendar/{t}"))
        .unwrap();
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let entries = crate::events::parse_ics(&res.text().await.unwrap());
    let shifts: Vec<&String> = entries
        .iter()
        .map(|e| &e["SUMMARY"])
        .filter(|s| s.starts_with("Engine duty"))
        .collect();
    assert_eq!(shifts, ["Engine duty (Firefighter)"]);
    let entry = entries
        .iter()
        .find(|e| e["SUMMARY"].starts_with("Engine duty"))
        .unwrap();
    assert!(
        entry["URL"].ends_with(&format!("/scheduling/shifts/{mine}")),
        "{entry:?}"
    );
    // Given up, it leaves the feed.
    let (status, _) = app
        .delete(
            &member.token,
            &format!("/api/v1/scheduling/shifts/{mine}/signup"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    let entries = crate::events::parse_ics(&res.text().await.unwrap());
    assert!(
        entries
            .iter()
            .all(|e| !e["SUMMARY"].starts_with("Engine duty"))
    );
}

/// One member tapping "sign up" on two overlapping shifts at once gets one of them; a sign-up
/// racing the approval of that day's time off either is freed by it or is refused.
#[tokio::test]
async fn overlapping_sign_ups_and_time_off_racing_a_sign_up_leave_no_double_booking() {
    let app = TestApp::spawn().await;
    let template = engine_template(&app, &app.a, "Engine duty", None).await;
    let today = app.org_today(&app.a).await;
    let day = today + Duration::days(6);
    let member = app.member(&app.a, "sch-race", &[]).await;
    for round in 0..3 {
        let d = day + Duration::days(round * 2);
        let a = shift_on(&app, &app.a, template, d).await;
        let b = shift_on(&app, &app.a, template, d).await;
        let answers = at_once(
            &app,
            vec![
                (
                    member.token.clone(),
                    format!("/api/v1/scheduling/shifts/{a}/signup"),
                    json!({"seat": 2}),
                ),
                (
                    member.token.clone(),
                    format!("/api/v1/scheduling/shifts/{b}/signup"),
                    json!({"seat": 2}),
                ),
            ],
        )
        .await;
        let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert_eq!(ok, 1, "round {round}: {answers:?}");
        let held = live_seats(&app, a).await.len() + live_seats(&app, b).await.len();
        assert_eq!(held, 1, "round {round}");
    }
    // Time off for a day with a free shift, approved while the member signs up for it.
    let later = today + Duration::days(20);
    let shift = shift_on(&app, &app.a, template, later).await;
    let (status, off) = app
        .post(
            &member.token,
            "/api/v1/scheduling/time-off",
            json!({"start_date": later, "end_date": later}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{off}");
    let answers = at_once(
        &app,
        vec![
            (
                member.token.clone(),
                format!("/api/v1/scheduling/shifts/{shift}/signup"),
                json!({"seat": 2}),
            ),
            (
                app.a.admin.token.clone(),
                format!(
                    "/api/v1/scheduling/time-off/{}/review",
                    off["id"].as_str().unwrap()
                ),
                json!({"approve": true}),
            ),
        ],
    )
    .await;
    assert_eq!(answers[1].0, StatusCode::OK, "{answers:?}");
    assert!(
        live_seats(&app, shift).await.is_empty(),
        "approved time off and a seat that day: {answers:?}"
    );
}
