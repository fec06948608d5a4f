//! Minutes: the workflow as a table (what may happen in which state), locking after approval,
//! two officers pressing the same button at once, an edit from an older copy refused, action
//! items reminded once each, attendance taken from a business meeting's check-ins, publishing
//! into the library (once), permissions, other departments and bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events::at_once;
use crate::harness::*;

fn id(v: &Value) -> Uuid {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .parse()
        .unwrap()
}

async fn new_minutes(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, m) = app.post(token, "/api/v1/minutes", body).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

async fn step(app: &TestApp, token: &str, m: Uuid, what: &str) -> (StatusCode, Value) {
    let body = if what == "reject" {
        json!({"reason": "The treasurer's figures are missing."})
    } else {
        json!({})
    };
    app.post(token, &format!("/api/v1/minutes/{m}/{what}"), body)
        .await
}

/// Minutes brought to `state` by the officer `token`.
async fn minutes_in(app: &TestApp, token: &str, state: &str) -> Uuid {
    let m = id(&new_minutes(app, token, json!({"meeting_type": "business"})).await);
    let path: &[&str] = match state {
        "draft" => &[],
        "submitted" => &["submit"],
        "approved" => &["submit", "approve"],
        "rejected" => &["submit", "reject"],
        other => panic!("{other}"),
    };
    for s in path {
        let (status, body) = step(app, token, m, s).await;
        assert_eq!(status, StatusCode::OK, "{s}: {body}");
    }
    m
}

fn update_body(revision: Option<u64>, title: &str) -> Value {
    json!({
        "revision": revision,
        "title": title,
        "meeting_type": "business",
        "meeting_date": "2027-03-02",
        "location": "Station 1",
        "presiding": "President Miller",
        "called_to_order_at": "19:02",
        "adjourned_at": "20:41",
        "quorum_met": true,
        "sections": [
            {"title": "Call to Order", "body": "Called to order by the President."},
            {"title": "Treasurer's Report", "body": "Balance $12,400.\nDues collected: 31."},
            {"title": "New Business", "body": "Thermal imaging cameras discussed."},
        ],
    })
}

#[tokio::test]
async fn the_workflow_says_what_may_happen_in_each_state() {
    let app = TestApp::spawn().await;
    let secretary = app.member(&app.a, "min-wf-sec", &["secretary"]).await;
    let t = &secretary.token;
    // (state, step, allowed)
    let cases: &[(&str, &str, bool)] = &[
        ("draft", "edit", true),
        ("draft", "submit", true),
        ("draft", "approve", false),
        ("draft", "reject", false),
        ("draft", "publish", false),
        ("draft", "delete", true),
        ("submitted", "edit", false),
        ("submitted", "submit", false),
        ("submitted", "approve", true),
        ("submitted", "reject", true),
        ("submitted", "publish", false),
        ("submitted", "delete", false),
        ("rejected", "edit", true),
        ("rejected", "submit", true),
        ("rejected", "approve", false),
        ("rejected", "reject", false),
        ("rejected", "delete", false),
        ("approved", "edit", false),
        ("approved", "submit", false),
        ("approved", "approve", false),
        ("approved", "reject", false),
        ("approved", "delete", false),
        ("approved", "publish", true),
    ];
    for (state, what, allowed) in cases {
        let m = minutes_in(&app, t, state).await;
        let (status, body) = match *what {
            "edit" => {
                app.call(
                    Method::PUT,
                    t,
                    &format!("/api/v1/minutes/{m}"),
                    Some(update_body(None, "Edited")),
                )
                .await
            }
            "delete" => app.delete(t, &format!("/api/v1/minutes/{m}")).await,
            other => step(&app, t, m, other).await,
        };
        if *allowed {
            assert!(status.is_success(), "{what} from {state}: {status} {body}");
        } else {
            assert_problem(status, &body, StatusCode::CONFLICT);
        }
        // A refused step changed nothing.
        if !allowed {
            let (_, now) = app.get(t, &format!("/api/v1/minutes/{m}")).await;
            assert_eq!(now["status"], *state, "{what} from {state}: {now}");
        }
    }
    // Editing sent-back minutes makes them a draft again.
    let m = minutes_in(&app, t, "rejected").await;
    let (_, before) = app.get(t, &format!("/api/v1/minutes/{m}")).await;
    assert_eq!(
        before["rejection_reason"],
        "The treasurer's figures are missing."
    );
    let (status, after) = app
        .call(
            Method::PUT,
            t,
            &format!("/api/v1/minutes/{m}"),
            Some(update_body(before["revision"].as_u64(), "Fixed")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["status"], "draft");
}

#[tokio::test]
async fn minutes_are_written_approved_locked_and_published_to_the_library() {
    let app = TestApp::spawn().await;
    let secretary = app.member(&app.a, "min-sec", &["secretary"]).await;
    let assistant = app
        .member(&app.a, "min-asst", &["assistant_secretary"])
        .await;
    let alice = app.member(&app.a, "min-alice", &[]).await;
    let bob = app.member(&app.a, "min-bob", &[]).await;
    let carol = app.member(&app.a, "min-carol", &[]).await;
    let t = &secretary.token;

    // The business template's sections, in order.
    let created = new_minutes(&app, t, json!({"meeting_type": "business"})).await;
    let m = id(&created);
    let titles: Vec<&str> = created["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.first(), Some(&"Call to Order"));
    assert!(titles.contains(&"Treasurer's Report"), "{titles:?}");
    assert_eq!(titles.last(), Some(&"Adjournment"));
    assert_eq!(created["status"], "draft");

    let (status, saved) = app
        .call(
            Method::PUT,
            t,
            &format!("/api/v1/minutes/{m}"),
            Some(update_body(
                created["revision"].as_u64(),
                "Business meeting, March",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["sections"].as_array().unwrap().len(), 3);
    assert_eq!(saved["called_to_order_at"], "19:02:00");
    let (status, motion) = app
        .post(
            t,
            &format!("/api/v1/minutes/{m}/motions"),
            json!({"motion_text": "To buy two thermal imaging cameras.", "moved_by": alice.id,
                   "seconded_by": bob.id, "result": "passed", "votes_for": 14,
                   "votes_against": 2, "votes_abstain": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{motion}");
    assert_eq!(motion["moved_by"]["id"], alice.id.to_string());
    let (status, item) = app
        .post(
            t,
            &format!("/api/v1/minutes/{m}/action-items"),
            json!({"description": "Get three quotes for cameras", "assignee_id": bob.id,
                   "due_date": "2027-04-01", "priority": "high"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let (status, att) = app
        .call(
            Method::PUT,
            t,
            &format!("/api/v1/minutes/{m}/attendance"),
            Some(json!({"present": [alice.id, bob.id],
                        "excused": [{"user_id": carol.id, "excuse": "Working nights"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{att}");
    assert_eq!(att["present"].as_array().unwrap().len(), 2);
    assert_eq!(att["excused"][0]["excuse"], "Working nights");

    // A member sees nothing of the draft: not the minutes, not Bob's item, no notice yet.
    let (_, inbox) = app.get(&bob.token, "/api/v1/notifications").await;
    assert!(
        !inbox.to_string().contains("An action item for you"),
        "{inbox}"
    );
    let (_, bobs) = app.get(&bob.token, "/api/v1/minutes/action-items").await;
    assert_eq!(bobs["total"], 0, "{bobs}");
    let (status, body) = app
        .patch(
            &bob.token,
            &format!("/api/v1/minutes/action-items/{}", id(&item)),
            json!({"status": "in_progress"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = app.get(&alice.token, &format!("/api/v1/minutes/{m}")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&alice.token, "/api/v1/minutes").await;
    assert_eq!(list["total"], 0, "{list}");

    // Submitted: the other officers are told; locked until decided.
    let (status, body) = step(&app, t, m, "submit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, inbox) = app.get(&assistant.token, "/api/v1/notifications").await;
    assert!(inbox.to_string().contains("Minutes to approve"), "{inbox}");
    // The assistant's dashboard says so; the secretary's own submission is not theirs to approve.
    let (_, _, dash) = app.page_get("/", &access_cookie(&assistant)).await;
    assert!(
        dash.contains("Approve or send back: Business meeting, March"),
        "{dash}"
    );
    let (_, _, dash) = app.page_get("/", &access_cookie(&secretary)).await;
    assert!(!dash.contains("Approve or send back"), "{dash}");
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/minutes/{m}/motions"),
            json!({"motion_text": "Late motion", "result": "failed"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Sending back needs a reason.
    let (status, body) = app
        .post(
            &assistant.token,
            &format!("/api/v1/minutes/{m}/reject"),
            json!({"reason": "  "}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["reason"]);

    // Approved by the assistant secretary: locked for good.
    let (status, approved) = step(&app, &assistant.token, m, "approve").await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["approved_by"]["id"], assistant.id.to_string());
    // Now Bob hears of his item and sees it.
    let (_, inbox) = app.get(&bob.token, "/api/v1/notifications").await;
    assert!(
        inbox.to_string().contains("An action item for you"),
        "{inbox}"
    );
    let (_, bobs) = app.get(&bob.token, "/api/v1/minutes/action-items").await;
    assert_eq!(bobs["total"], 1, "{bobs}");
    // What was decided is locked with the minutes: the due date no longer moves.
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/minutes/action-items/{}", id(&item)),
            json!({"due_date": "2027-05-01"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/api/v1/minutes/{m}"),
            update_body(None, "Changed"),
        ),
        (
            Method::PUT,
            format!("/api/v1/minutes/{m}/attendance"),
            json!({"present": []}),
        ),
        (
            Method::POST,
            format!("/api/v1/minutes/{m}/action-items"),
            json!({"description": "More", "assignee_id": bob.id}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/minutes/{m}/motions/{}", id(&motion)),
            json!(null),
        ),
    ] {
        let (status, body) = app.call(method, t, &path, Some(body)).await;
        assert_problem(status, &body, StatusCode::CONFLICT);
    }
    // The action item's progress still moves: its assignee marks it done.
    let (status, done) = app
        .patch(
            &bob.token,
            &format!("/api/v1/minutes/action-items/{}", id(&item)),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done["completed_at"].is_string(), "{done}");

    // Members read approved minutes.
    let (status, read) = app.get(&alice.token, &format!("/api/v1/minutes/{m}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["may_manage"], false);
    // Who was excused, not why.
    assert_eq!(
        read["attendance"]["excused"][0]["member"]["id"],
        carol.id.to_string()
    );
    assert_eq!(
        read["attendance"]["excused"][0]["excuse"],
        Value::Null,
        "{read}"
    );

    // Published: a generated document in the Minutes folder, its page and its PDF.
    let (status, published) = step(&app, t, m, "publish").await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let doc: Uuid = published["published_document_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, again) = step(&app, t, m, "publish").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["published_document_id"], doc.to_string());
    let (status, d) = app
        .get(&alice.token, &format!("/api/v1/documents/{doc}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["document_type"], "generated");
    assert_eq!(d["content_type"], "application/pdf");
    assert_eq!(d["folder"]["name"], "Meeting Minutes", "{d}");
    let res = app
        .client
        .get(app.url(&format!("/api/v1/documents/{doc}/file")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    // The document's page shows the minutes as text.
    let cookies = access_cookie(&alice);
    let (status, _, page) = app.page_get(&format!("/documents/{doc}"), &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Balance $12,400."), "{page}");
    assert!(page.contains("To buy two thermal imaging cameras."));
    assert_eq!(app.audit_actions(&app.a, "minutes.approved").await, 1);
    assert_eq!(app.audit_actions(&app.a, "minutes.published").await, 1);
}

#[tokio::test]
async fn two_officers_pressing_at_once_do_it_once() {
    let app = TestApp::spawn().await;
    let sec = app.member(&app.a, "min-race-sec", &["secretary"]).await;
    let vp = app.member(&app.a, "min-race-vp", &["vice_president"]).await;

    // Approving from an old copy is refused: the officer approves what they read.
    let m = minutes_in(&app, &sec.token, "submitted").await;
    let (_, now) = app.get(&vp.token, &format!("/api/v1/minutes/{m}")).await;
    let rev = now["revision"].as_u64().unwrap();
    let (status, body) = app
        .post(
            &vp.token,
            &format!("/api/v1/minutes/{m}/approve?revision={}", rev - 1),
            json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Approve twice at once: one approval, one refusal.
    let path = format!("/api/v1/minutes/{m}/approve");
    let answers = at_once(
        &app,
        vec![
            (sec.token.clone(), path.clone(), json!({})),
            (vp.token.clone(), path.clone(), json!({})),
        ],
    )
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, refused), (1, 1), "{answers:?}");
    assert_eq!(app.audit_actions(&app.a, "minutes.approved").await, 1);

    // Publish four times at once: one document.
    let path = format!("/api/v1/minutes/{m}/publish");
    let answers = at_once(
        &app,
        (0..4)
            .map(|_| (sec.token.clone(), path.clone(), json!({})))
            .collect(),
    )
    .await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    let docs = app
        .count_rows_where("documents", &format!("source_id = UNHEX('{}')", m.simple()))
        .await;
    assert_eq!(docs, 1);

    // Two secretaries editing the same copy: the second is told, nothing is lost silently.
    let m = id(&new_minutes(&app, &sec.token, json!({})).await);
    let (_, m_now) = app.get(&sec.token, &format!("/api/v1/minutes/{m}")).await;
    let rev = m_now["revision"].as_u64();
    let path = format!("/api/v1/minutes/{m}");
    let mut sends = tokio::task::JoinSet::new();
    for (token, title) in [(sec.token.clone(), "Mine"), (vp.token.clone(), "Theirs")] {
        let (client, url) = (app.client.clone(), app.url(&path));
        let body = update_body(rev, title);
        sends.spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut statuses = sends.join_all().await;
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::CONFLICT]);
}

#[tokio::test]
async fn action_items_are_reminded_before_and_after_the_due_date_once() {
    let app = TestApp::spawn().await;
    let sec = app.member(&app.a, "min-rem-sec", &["secretary"]).await;
    let dan = app.member(&app.a, "min-rem-dan", &[]).await;
    let eve = app.member(&app.a, "min-rem-eve", &[]).await;
    let today = app.org_today(&app.a).await;
    let m = id(&new_minutes(&app, &sec.token, json!({})).await);
    let mut items = Vec::new();
    for (text, days, who) in [
        ("In three days", 3, dan.id),
        ("Tomorrow", 1, dan.id),
        ("Last week", -7, dan.id),
        ("Next month", 30, dan.id),
        ("Done already", -2, eve.id),
    ] {
        let due = today + chrono::Duration::days(days);
        let (status, item) = app
            .post(
                &sec.token,
                &format!("/api/v1/minutes/{m}/action-items"),
                json!({"description": text, "assignee_id": who, "due_date": due}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{item}");
        items.push(id(&item));
    }
    // Nothing is reminded of draft minutes' items: the job has nothing to do.
    let (status, run) = app
        .post(
            &app.a.admin.token,
            "/api/v1/jobs/action_item_reminders/run",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["outcome"], "skipped", "{run}");
    for what in ["submit", "approve"] {
        let (status, body) = step(&app, &sec.token, m, what).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .patch(
            &eve.token,
            &format!("/api/v1/minutes/action-items/{}", items[4]),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Dan's dashboard lists what is due within a week or overdue, not next month's.
    let (_, _, dash) = app.page_get("/", &access_cookie(&dan)).await;
    assert!(dash.contains("Overdue since"), "{dash}");
    assert!(
        dash.contains("Last week") && dash.contains("Tomorrow"),
        "{dash}"
    );
    assert!(!dash.contains("Next month"), "{dash}");
    // Twice: the second run sends nothing more.
    let first = app.run_job(&app.a, "action_item_reminders").await;
    app.run_job(&app.a, "action_item_reminders").await;
    assert_eq!(first["items"], 3, "{first}");
    let subjects: Vec<String> = sqlx::query_scalar(
        "SELECT subject FROM notification_logs WHERE recipient_id = ? AND category = 'minutes'
          ORDER BY subject",
    )
    .bind(dan.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let reminders: Vec<&String> = subjects
        .iter()
        .filter(|s| !s.starts_with("An action item"))
        .collect();
    assert_eq!(reminders.len(), 3, "{subjects:?}");
    assert!(
        reminders
            .iter()
            .any(|s| s.starts_with("Overdue: Last week"))
    );
    assert!(reminders.iter().any(|s| s.contains("Tomorrow")));
    assert!(reminders.iter().any(|s| s.contains("In three days")));
    let eve_reminders: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'Overdue%'",
    )
    .bind(eve.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(eve_reminders, 0, "a completed item is not reminded");

    // Progress moves on approved minutes: an officer puts an item in progress.
    let (status, body) = app
        .patch(
            &sec.token,
            &format!("/api/v1/minutes/action-items/{}", items[3]),
            json!({"status": "in_progress"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = app.run_job(&app.a, "action_item_reminders").await;
    assert_eq!(run["items"], 0, "{run}");

    // The assignee changes only the status; someone else nothing.
    let (status, body) = app
        .patch(
            &dan.token,
            &format!("/api/v1/minutes/action-items/{}", items[0]),
            json!({"due_date": today + chrono::Duration::days(60)}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .patch(
            &eve.token,
            &format!("/api/v1/minutes/action-items/{}", items[0]),
            json!({"status": "completed"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Dan's list: his open items.
    let (_, mine) = app.get(&dan.token, "/api/v1/minutes/action-items").await;
    assert_eq!(mine["total"], 4, "{mine}");
    assert_eq!(mine["items"][0]["overdue"], true, "{mine}");
}

#[tokio::test]
async fn a_business_meetings_check_ins_are_its_attendance() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let alice = app.member(&app.a, "min-ev-alice", &[]).await;
    let bob = app.member(&app.a, "min-ev-bob", &[]).await;
    let carol = app.member(&app.a, "min-ev-carol", &[]).await;
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let local = |minutes: i64| {
        (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let (status, event) = app
        .post(
            admin,
            "/api/v1/events",
            json!({"title": "Monthly business meeting", "event_type": "business_meeting",
                   "start": local(-30), "end": local(90), "check_in_window": "flexible"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let event: Uuid = event["event"]["id"]
        .as_str()
        .or(event["id"].as_str())
        .unwrap()
        .parse()
        .unwrap();
    for who in [alice.id, bob.id] {
        let (status, body) = app
            .post(
                admin,
                &format!("/api/v1/events/{event}/check-in"),
                json!({"user_id": who}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let m = new_minutes(&app, admin, json!({"event_id": event})).await;
    assert_eq!(m["event"]["id"], event.to_string());
    assert_eq!(m["attendance"]["from_event"], true);
    assert_eq!(m["attendance"]["present"].as_array().unwrap().len(), 2);
    let m = id(&m);
    // One set of minutes per event.
    let (status, body) = app
        .post(admin, "/api/v1/minutes", json!({"event_id": event}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["event_id"]);
    // The present list is the event's: not typed twice.
    let path = format!("/api/v1/minutes/{m}/attendance");
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &path,
            Some(json!({"present": [carol.id]})),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, att) = app
        .call(
            Method::PUT,
            admin,
            &path,
            Some(json!({"excused": [{"user_id": carol.id}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{att}");
    assert_eq!(att["present"].as_array().unwrap().len(), 2);
    // Approved: the check-ins are written down with the minutes.
    for s in ["submit", "approve"] {
        let (status, body) = step(&app, admin, m, s).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rows = app
        .count_rows_where(
            "meeting_attendance",
            &format!(
                "minutes_id = UNHEX('{}') AND attendance = 'present'",
                m.simple()
            ),
        )
        .await;
    assert_eq!(rows, 2);
    let (_, alice_att) = app
        .get(
            &alice.token,
            &format!("/api/v1/minutes/attendance/{}", alice.id),
        )
        .await;
    assert_eq!(alice_att["present"], 1, "{alice_att}");
    assert_eq!(alice_att["percent"], 100, "{alice_att}");
    let (_, carol_att) = app
        .get(admin, &format!("/api/v1/minutes/attendance/{}", carol.id))
        .await;
    assert_eq!(carol_att["counted"], 0, "excused: {carol_att}");
    assert_eq!(carol_att["excused"], 1, "{carol_att}");
    // A member does not read someone else's attendance.
    let (status, body) = app
        .get(
            &alice.token,
            &format!("/api/v1/minutes/attendance/{}", bob.id),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn who_may_do_what_other_departments_and_bad_input() {
    let app = TestApp::spawn().await;
    let sec = app.member(&app.a, "min-perm-sec", &["secretary"]).await;
    let member = app.member(&app.a, "min-perm-ff", &[]).await;
    let stranger = app.member(&app.b, "min-perm-b", &["secretary"]).await;
    let draft = minutes_in(&app, &sec.token, "draft").await;
    let approved = minutes_in(&app, &sec.token, "approved").await;

    // A member reads approved minutes and nothing else.
    let (status, body) = app.post(&member.token, "/api/v1/minutes", json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    for what in ["submit", "approve", "reject", "publish"] {
        let (status, body) = step(&app, &member.token, approved, what).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    let (status, body) = app
        .get(&member.token, &format!("/api/v1/minutes/{draft}"))
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&member.token, &format!("/api/v1/minutes/{approved}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/api/v1/minutes/attendance", "/api/v1/minutes/templates"] {
        let (status, body) = app.get(&member.token, path).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    let (status, body) = app
        .get(&member.token, "/api/v1/minutes/action-items?scope=all")
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);

    // Another department's officer: every minutes id answers 404.
    let before = app.snapshot(&app.a).await;
    for m in [draft, approved] {
        let (status, body) = app
            .get(&stranger.token, &format!("/api/v1/minutes/{m}"))
            .await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
        for what in ["submit", "approve", "reject", "publish"] {
            let (status, body) = step(&app, &stranger.token, m, what).await;
            assert_problem(status, &body, StatusCode::NOT_FOUND);
        }
        let (status, body) = app
            .call(
                Method::PUT,
                &stranger.token,
                &format!("/api/v1/minutes/{m}"),
                Some(update_body(None, "Theirs")),
            )
            .await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
        let (status, body) = app
            .delete(&stranger.token, &format!("/api/v1/minutes/{m}"))
            .await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    let (_, theirs) = app.get(&stranger.token, "/api/v1/minutes").await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    // Nor can A's officer name B's members in A's minutes.
    let (status, body) = app
        .post(
            &sec.token,
            &format!("/api/v1/minutes/{draft}/action-items"),
            json!({"description": "X", "assignee_id": stranger.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(
            Method::PUT,
            &sec.token,
            &format!("/api/v1/minutes/{draft}/attendance"),
            Some(json!({"present": [stranger.id]})),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.snapshot(&app.a).await, before);

    // Bad input: a clear field error and nothing changed.
    let before = app.snapshot(&app.a).await;
    let too_many: Vec<Value> = (0..41)
        .map(|i| json!({"title": format!("S{i}"), "body": ""}))
        .collect();
    let mut long_sections = update_body(None, "X");
    long_sections["sections"] = json!(too_many);
    let mut control = update_body(None, "X");
    control["sections"][0]["body"] = json!("bell\u{7}");
    let mut bad_time = update_body(None, "X");
    bad_time["called_to_order_at"] = json!("7pm");
    let mut no_title = update_body(None, " ");
    no_title["meeting_type"] = json!("picnic");
    for (body, fields) in [
        (long_sections, vec!["sections"]),
        (control, vec!["sections[0].body"]),
        (bad_time, vec!["called_to_order_at"]),
        (no_title, vec!["title", "meeting_type"]),
    ] {
        let (status, answer) = app
            .call(
                Method::PUT,
                &sec.token,
                &format!("/api/v1/minutes/{draft}"),
                Some(body),
            )
            .await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), fields, "{answer}");
    }
    for (path, body, fields) in [
        (
            "/api/v1/minutes".to_string(),
            json!({"meeting_type": "picnic", "template_id": Uuid::now_v7()}),
            vec!["meeting_type", "template_id"],
        ),
        (
            "/api/v1/minutes".to_string(),
            json!({"event_id": Uuid::now_v7(), "title": "x".repeat(201)}),
            vec!["title", "event_id"],
        ),
        (
            format!("/api/v1/minutes/{draft}/motions"),
            json!({"motion_text": "", "result": "won", "moved_by": member.id,
                   "seconded_by": member.id, "votes_for": 20000}),
            vec!["motion_text", "result", "seconded_by", "votes_for"],
        ),
        (
            format!("/api/v1/minutes/{draft}/action-items"),
            json!({"description": "", "assignee_id": member.id, "priority": "asap"}),
            vec!["description", "priority"],
        ),
        (
            format!("/api/v1/minutes/{draft}/reject"),
            json!({"reason": ""}),
            vec!["reason"],
        ),
        (
            "/api/v1/minutes/templates".to_string(),
            json!({"name": "", "meeting_type": "business", "sections": []}),
            vec!["name", "sections"],
        ),
    ] {
        let (status, answer) = app.post(&sec.token, &path, body).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        let mut got = error_fields(&answer);
        got.sort();
        let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{path}: {answer}");
    }
    let (status, body) = app
        .get(&sec.token, "/api/v1/minutes?status=lost&year=3000")
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(
            Method::PUT,
            &sec.token,
            &format!("/api/v1/minutes/{draft}"),
            Some(json!({"title": 5})),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.snapshot(&app.a).await, before);

    // A department's own template, then minutes from it.
    let (status, tpl) = app
        .post(
            &sec.token,
            "/api/v1/minutes/templates",
            json!({"name": "Fire company meeting", "meeting_type": "business",
                   "sections": ["Opening", "Fire report", "Closing"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tpl}");
    let (status, body) = app
        .post(
            &sec.token,
            "/api/v1/minutes/templates",
            json!({"name": "Fire company meeting", "meeting_type": "business",
                   "sections": ["Opening"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["name"]);
    let m = new_minutes(&app, &sec.token, json!({"template_id": tpl["id"]})).await;
    assert_eq!(m["sections"][1]["title"], "Fire report");
    assert_eq!(m["template"]["name"], "Fire company meeting");
}
