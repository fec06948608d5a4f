//! Events: a series stored as rows and edited from one occurrence on, answers with a waitlist
//! that holds when everyone taps at once, check-in by the QR code within its window (once, however
//! many taps), finalizing a training event into training records once and undoing it, reminders
//! once, calendar files a real parser reads, permissions, and bad input that changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// A wall-clock time in the test departments' zone (America/Chicago), `minutes` from now.
fn local_in(minutes: i64) -> String {
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    (chrono::Utc::now() + chrono::Duration::minutes(minutes))
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, answer) = app.post(token, "/api/v1/events", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

fn id_of(v: &Value) -> Uuid {
    v["event"]["id"]
        .as_str()
        .or(v["id"].as_str())
        .unwrap()
        .parse()
        .unwrap()
}

type SeriesRow = (
    Uuid,
    chrono::DateTime<chrono::Utc>,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
);

async fn series_rows(app: &TestApp, series: Uuid) -> Vec<(Uuid, String, String, bool)> {
    let rows: Vec<SeriesRow> = sqlx::query_as(
        "SELECT id, starts_at, title, cancelled_at FROM events WHERE series_id = ?
              ORDER BY starts_at",
    )
    .bind(series)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    rows.into_iter()
        .map(|(id, s, t, c)| {
            (
                id,
                s.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
                t,
                c.is_some(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_monthly_drill_is_a_series_of_rows_edited_and_cancelled_from_one_on() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-series-ff", &[]).await;
    // The 2nd Tuesday of each month from December 2026 to March 2027.
    let saved = create(
        &app,
        admin,
        json!({"title": "Monthly drill", "event_type": "training", "start": "2026-12-08T19:00",
               "end": "2026-12-08T21:00",
               "recurrence": {"pattern": "monthly_weekday", "until": "2027-03-31"}}),
    )
    .await;
    assert_eq!(saved["occurrences"], 4, "{saved}");
    let first = id_of(&saved);
    let series: Uuid = saved["event"]["series_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(series, first);
    assert_eq!(
        saved["event"]["recurrence"],
        "Monthly on the 2nd Tuesday until Mar 31, 2027"
    );
    let rows = series_rows(&app, series).await;
    let days: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        days,
        [
            "2026-12-08 19:00",
            "2027-01-12 19:00",
            "2027-02-09 19:00",
            "2027-03-09 19:00"
        ]
    );
    // The member answers the third and fourth.
    for (id, ..) in &rows[2..] {
        let (status, body) = app
            .post(
                &member.token,
                &format!("/api/v1/events/{id}/rsvp"),
                json!({"status": "going"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // From the second on: a new title and an hour later; the first keeps its own.
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/events/{}?scope=future", rows[1].0),
            Some(
                json!({"title": "Monthly drill (new time)", "event_type": "training",
                        "start": "2027-01-12T20:00", "end": "2027-01-12T22:00"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["occurrences"], 3, "{body}");
    let rows = series_rows(&app, series).await;
    let seen: Vec<(&str, &str)> = rows.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("2026-12-08 19:00", "Monthly drill"),
            ("2027-01-12 20:00", "Monthly drill (new time)"),
            ("2027-02-09 20:00", "Monthly drill (new time)"),
            ("2027-03-09 20:00", "Monthly drill (new time)"),
        ]
    );
    // A series' repetition cannot be changed on a saved event.
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/events/{first}"),
            Some(
                json!({"title": "Drill", "event_type": "training", "start": "2026-12-08T19:00",
                        "end": "2026-12-08T21:00",
                        "recurrence": {"pattern": "weekly", "until": "2027-01-01"}}),
            ),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["recurrence"]);
    // Cancelling from the third on: those two are cancelled, the member who answered is told.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{}/cancel?scope=future", rows[2].0),
            json!({"reason": "The hall is closed for repairs"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = series_rows(&app, series).await;
    let cancelled: Vec<bool> = rows.iter().map(|r| r.3).collect();
    assert_eq!(cancelled, [false, false, true, true]);
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'Cancelled:%'",
    )
    .bind(member.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(told, 2);
    // Cancelling again is refused, and answering a cancelled event too.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{}/cancel", rows[3].0),
            json!({"reason": "again"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app
        .post(
            &member.token,
            &format!("/api/v1/events/{}/rsvp", rows[3].0),
            json!({"status": "maybe"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.audit_actions(&app.a, "events.event_created").await, 1);
    assert_eq!(app.audit_actions(&app.a, "events.event_cancelled").await, 1);
}

#[tokio::test]
async fn the_last_places_go_to_two_of_six_tapping_at_once_and_the_waitlist_moves_up() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let saved = create(
        &app,
        admin,
        json!({"title": "Ride-along night", "event_type": "social", "start": local_in(60 * 24 * 3),
               "end": local_in(60 * 24 * 3 + 120), "max_attendees": 2}),
    )
    .await;
    let id = id_of(&saved);
    let mut members = Vec::new();
    for i in 0..6 {
        members.push(app.member(&app.a, &format!("ev-wait-{i}"), &[]).await);
    }
    let path = format!("/api/v1/events/{id}/rsvp");
    let answers = at_once(
        &app,
        members
            .iter()
            .map(|m| (m.token.clone(), path.clone(), json!({"status": "going"})))
            .collect(),
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let (_, e) = app.get(admin, &format!("/api/v1/events/{id}")).await;
    assert_eq!(
        (e["going"].as_i64(), e["waitlisted"].as_i64()),
        (Some(2), Some(4)),
        "{e}"
    );
    // A double tap is one answer: nothing changes, nothing more is audited.
    let going: Vec<&User> = {
        let mut out = Vec::new();
        for m in &members {
            let (_, mine) = app.get(&m.token, &format!("/api/v1/events/{id}")).await;
            if mine["my_rsvp"] == "going" {
                out.push(m);
            }
        }
        out
    };
    assert_eq!(going.len(), 2);
    let audited = app.audit_actions(&app.a, "events.rsvp").await;
    let (status, _) = app
        .post(&going[0].token, &path, json!({"status": "going"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.audit_actions(&app.a, "events.rsvp").await, audited);
    // One going drops out: the earliest on the waitlist is let in and told.
    let waiting: Vec<(Uuid, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT user_id, responded_at FROM event_attendees
          WHERE event_id = ? AND rsvp_status = 'waitlisted' ORDER BY responded_at, id",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let (status, body) = app
        .post(&going[0].token, &path, json!({"status": "not_going"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["going"].as_i64(), body["waitlisted"].as_i64()),
        (Some(2), Some(3))
    );
    let promoted: String = sqlx::query_scalar(
        "SELECT rsvp_status FROM event_attendees WHERE event_id = ? AND user_id = ?",
    )
    .bind(id)
    .bind(waiting[0].0)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(promoted, "going");
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'A place opened%'",
    )
    .bind(waiting[0].0)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(told, 1);
    // Raising the capacity lets the rest in.
    let (status, body) = app
        .call(
            Method::PUT,
            admin,
            &format!("/api/v1/events/{id}"),
            Some(json!({"title": "Ride-along night", "event_type": "social",
                        "start": local_in(60 * 24 * 3), "end": local_in(60 * 24 * 3 + 120),
                        "max_attendees": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["event"]["going"].as_i64(),
            body["event"]["waitlisted"].as_i64()
        ),
        (Some(5), Some(0))
    );
    // "waitlisted" is not an answer one gives.
    let (status, body) = app
        .post(&going[0].token, &path, json!({"status": "waitlisted"}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
}

/// POSTs sent together (a barrier releases them), each on its own connection; the answers in
/// the order given.
pub async fn at_once(
    app: &TestApp,
    posts: Vec<(String, String, Value)>,
) -> Vec<(StatusCode, Value)> {
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(posts.len()));
    let mut sends = tokio::task::JoinSet::new();
    for (n, (token, path, body)) in posts.into_iter().enumerate() {
        let (gate, url) = (gate.clone(), app.url(&path));
        sends.spawn(async move {
            let client = reqwest::Client::new();
            gate.wait().await;
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let value = res.json::<Value>().await.unwrap_or(Value::Null);
            (n, status, value)
        });
    }
    let mut out = sends.join_all().await;
    out.sort_by_key(|a| a.0);
    out.into_iter().map(|(_, s, v)| (s, v)).collect()
}

async fn code_of(app: &TestApp, token: &str, id: Uuid) -> String {
    let (status, e) = app.get(token, &format!("/api/v1/events/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    e["check_in_code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn check_in_needs_the_qr_code_and_the_window_and_counts_once() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-checkin-ff", &[]).await;
    // Strict: not before the start (in 30 minutes).
    let strict = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Business meeting", "event_type": "business_meeting",
                   "start": local_in(30), "end": local_in(150), "check_in_window": "strict"}),
        )
        .await,
    );
    let code = code_of(&app, admin, strict).await;
    // A member does not see the code; an officer does.
    let (_, seen) = app
        .get(&member.token, &format!("/api/v1/events/{strict}"))
        .await;
    assert_eq!(seen["check_in_code"], Value::Null, "{seen}");
    let (status, body) = app
        .post(
            &member.token,
            &format!("/api/v1/events/{strict}/self-check-in"),
            json!({"code": code}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("opens at"),
        "{body}"
    );
    // Flexible: from an hour before; a wrong code is refused beside the field.
    let flexible = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Hose drill", "event_type": "training",
                   "start": local_in(30), "end": local_in(150)}),
        )
        .await,
    );
    let path = format!("/api/v1/events/{flexible}/self-check-in");
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(&member.token, &path, json!({"code": "not-the-code"}))
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["code"]);
    assert_eq!(before, app.snapshot(&app.a).await, "a wrong code");
    // Ten taps at once: one check-in, one audit entry.
    let code = code_of(&app, admin, flexible).await;
    let taps = at_once(
        &app,
        (0..10)
            .map(|_| (member.token.clone(), path.clone(), json!({"code": code})))
            .collect(),
    )
    .await;
    for (status, body) in &taps {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let (_, e) = app
        .get(&member.token, &format!("/api/v1/events/{flexible}"))
        .await;
    assert_eq!(e["checked_in"], 1, "{e}");
    assert!(e["my_checked_in_at"].is_string(), "{e}");
    assert_eq!(app.audit_actions(&app.a, "events.checked_in").await, 1);
    // The other department's member with the right code: not found.
    let other = app.member(&app.b, "ev-checkin-b", &[]).await;
    let (status, body) = app.post(&other.token, &path, json!({"code": code})).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn finalizing_a_training_event_credits_hours_once_and_undoing_voids_them() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let (status, course) = app
        .post(
            admin,
            "/api/v1/training/courses",
            json!({"name": "Ladder operations", "training_type": "skills_practice",
                   "duration_hours": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{course}");
    let alice = app.member(&app.a, "ev-fin-alice", &[]).await;
    let bob = app.member(&app.a, "ev-fin-bob", &[]).await;
    let carol = app.member(&app.a, "ev-fin-carol", &[]).await;
    // Three hours ago to an hour ago.
    let start = local_in(-180);
    let id = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Ladder drill", "event_type": "training", "start": start,
                   "end": local_in(-60), "course_id": course["id"]}),
        )
        .await,
    );
    // Alice came for the first 90 minutes (an officer fixes the times from the paper sheet);
    // Bob was there throughout (checked in at the start, never out); Carol never came.
    let plus = |m: i64| {
        let t = chrono::NaiveDateTime::parse_from_str(&start, "%Y-%m-%dT%H:%M").unwrap();
        (t + chrono::Duration::minutes(m))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    for (who, out) in [(&alice, Some(plus(90))), (&bob, None)] {
        let (status, body) = app
            .post(
                admin,
                &format!("/api/v1/events/{id}/attendance"),
                json!({"user_id": who.id, "checked_in_at": plus(0), "checked_out_at": out,
                       "reason": "From the paper sign-in sheet"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Three officers press finalize at once: one does it.
    let path = format!("/api/v1/events/{id}/finalize");
    let pressed = at_once(
        &app,
        (0..3)
            .map(|_| (admin.clone(), path.clone(), json!({})))
            .collect(),
    )
    .await;
    let ok: Vec<&Value> = pressed
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "{pressed:?}");
    assert!(
        pressed
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT)
    );
    assert_eq!(
        (ok[0]["present"].as_u64(), ok[0]["records"].as_u64()),
        (Some(2), Some(2))
    );
    let records = |user: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, rust_decimal::Decimal, String)>(
                "SELECT course_name, training_type, hours_completed, status
                   FROM training_records WHERE user_id = ? ORDER BY created_at",
            )
            .bind(user)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let a = records(alice.id).await;
    assert_eq!(a.len(), 1);
    assert_eq!(
        (
            a[0].0.as_str(),
            a[0].1.as_str(),
            a[0].2.to_string(),
            a[0].3.as_str()
        ),
        (
            "Ladder operations",
            "skills_practice",
            "1.50".into(),
            "completed"
        )
    );
    assert_eq!(records(bob.id).await[0].2.to_string(), "2.00");
    assert!(records(carol.id).await.is_empty());
    // The member sees the hours on their own training records.
    let (status, mine) = app.get(&alice.token, "/api/v1/training/records").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert!(mine.to_string().contains("Ladder operations"), "{mine}");
    // Finalized: no more changes to the attendance, no second finalize.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/check-in"),
            json!({"user_id": carol.id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Undo: the records are void (kept), and finalizing again makes new ones from the fix.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/unfinalize"),
            json!({"reason": ""}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/unfinalize"),
            json!({"reason": "Carol was there too"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(records(alice.id).await[0].3, "cancelled");
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/attendance"),
            json!({"user_id": carol.id, "checked_in_at": plus(0), "checked_out_at": plus(60),
                   "reason": "Signed the sheet late"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post(admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"], 3);
    let a = records(alice.id).await;
    assert_eq!(a.iter().filter(|r| r.3 == "completed").count(), 1);
    assert_eq!(records(carol.id).await[0].2.to_string(), "1.00");
    // Times that make no sense are refused beside the field.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/unfinalize"),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{id}/attendance"),
            json!({"user_id": carol.id, "checked_in_at": plus(60), "checked_out_at": plus(0),
                   "reason": "x"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["checked_out_at"]);
    assert_eq!(before, app.snapshot(&app.a).await, "times out of order");
}

#[tokio::test]
async fn a_reminder_goes_once_to_those_going_or_to_everyone() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let going = app.member(&app.a, "ev-rem-going", &[]).await;
    let silent = app.member(&app.a, "ev-rem-silent", &[]).await;
    let soon = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Pump drill", "event_type": "training", "start": local_in(120),
                   "end": local_in(240), "reminder_hours": 24}),
        )
        .await,
    );
    let later = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Annual banquet", "event_type": "social",
                   "start": local_in(60 * 24 * 5), "end": local_in(60 * 24 * 5 + 180)}),
        )
        .await,
    );
    let everyone = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Mandatory meeting", "event_type": "business_meeting",
                   "start": local_in(180), "end": local_in(240), "is_mandatory": true}),
        )
        .await,
    );
    for id in [soon, later] {
        let (status, body) = app
            .post(
                &going.token,
                &format!("/api/v1/events/{id}/rsvp"),
                json!({"status": "going"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let reminders = |user: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT subject FROM notification_logs WHERE recipient_id = ?
                    AND subject LIKE 'Reminder:%' ORDER BY subject",
            )
            .bind(user)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    for _ in 0..2 {
        app.run_job(&app.a, "events_reminders").await;
    }
    let got = reminders(going.id).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("Reminder: Mandatory meeting"), "{got:?}");
    assert!(got[1].starts_with("Reminder: Pump drill"), "{got:?}");
    let got = reminders(silent.id).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("Reminder: Mandatory meeting"), "{got:?}");
    let sent: Vec<Option<chrono::DateTime<chrono::Utc>>> = sqlx::query_scalar(
        "SELECT reminder_sent_at FROM events WHERE id IN (?, ?, ?) ORDER BY title",
    )
    .bind(soon)
    .bind(later)
    .bind(everyone)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    // Annual banquet (not yet), Mandatory meeting, Pump drill.
    assert_eq!(
        sent.iter().map(Option::is_some).collect::<Vec<_>>(),
        [false, true, true]
    );
    // The other department's members heard nothing.
    let b: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs n JOIN users u ON u.id = n.recipient_id
          WHERE u.organization_id = ? AND n.subject LIKE 'Reminder:%'",
    )
    .bind(app.b.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(b, 0);
}

/// The VEVENTs of a calendar file, parsed by the `icalendar` crate's RFC 5545 parser, each as
/// its properties; panics (naming the problem) unless the file is a VCALENDAR with VERSION and
/// PRODID and every event has UID, DTSTAMP and DTSTART.
pub fn parse_ics(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let unfolded = icalendar::parser::unfold(text);
    let cal = icalendar::parser::read_calendar(&unfolded).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let props: Vec<String> = cal.properties.iter().map(|p| p.name.to_string()).collect();
    assert!(
        props.contains(&"VERSION".into()) && props.contains(&"PRODID".into()),
        "{text}"
    );
    cal.components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .map(|c| {
            let map: std::collections::BTreeMap<String, String> = c
                .properties
                .iter()
                .map(|p| (p.name.to_string(), p.val.to_string()))
                .collect();
            for required in ["UID", "DTSTAMP", "DTSTART"] {
                assert!(map.contains_key(required), "{required} missing: {text}");
            }
            map
        })
        .collect()
}

#[tokio::test]
async fn the_calendar_feed_is_valid_ics_from_a_secret_address_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-feed-ff", &[]).await;
    let drill = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Drill; with, commas", "event_type": "training",
                   "start": "2027-01-12T19:00", "end": "2027-01-12T21:00",
                   "description": "Bring gloves.\nMeet in the bay."}),
        )
        .await,
    );
    create(
        &app,
        admin,
        json!({"title": "Secret planning", "event_type": "other", "start": "2027-01-13T19:00",
               "end": "2027-01-13T20:00", "is_draft": true}),
    )
    .await;
    create(
        &app,
        &app.b.admin.token,
        json!({"title": "Bravo drill", "event_type": "training", "start": "2027-01-12T19:00",
               "end": "2027-01-12T21:00"}),
    )
    .await;
    // One event's file.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/events/{drill}/ics")))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = res.text().await.unwrap();
    // Escaped as RFC 5545 says, and read back by the parser as written.
    assert!(text.contains("SUMMARY:Drill\\; with\\, commas"), "{text}");
    let events = parse_ics(&text);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["SUMMARY"], "Drill; with, commas");
    // 7 PM in Chicago is 01:00 UTC the next day.
    assert_eq!(events[0]["DTSTART"], "20270113T010000Z");
    // The feed: made, read without a session, another department's and drafts left out.
    let (status, feed) = app
        .post(&member.token, "/api/v1/events/feed", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let url = feed["url"].as_str().unwrap().to_string();
    let path = url
        .split_once("/calendar/")
        .map(|(_, t)| format!("/calendar/{t}"))
        .unwrap();
    let fetch = |path: String| {
        let app = &app;
        async move {
            let res = app.client.get(app.url(&path)).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (status, text) = fetch(path.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let titles: Vec<String> = parse_ics(&text)
        .iter()
        .map(|e| e["SUMMARY"].clone())
        .collect();
    assert_eq!(titles, ["Drill; with, commas"]);
    // The secret is not stored.
    let token = path
        .trim_start_matches("/calendar/")
        .trim_end_matches(".ics")
        .to_string();
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM calendar_feeds WHERE token_hash = ?")
            .bind(token.as_bytes())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    // A cancelled event stays in the feed, marked so calendars drop it.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{drill}/cancel"),
            json!({"reason": "Ice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, text) = fetch(path.clone()).await;
    assert_eq!(parse_ics(&text)[0]["STATUS"], "CANCELLED");
    // A new address ends the old one; revoking ends the new one; a guess finds nothing.
    let (status, again) = app
        .post(&member.token, "/api/v1/events/feed", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(fetch(path.clone()).await.0, StatusCode::NOT_FOUND);
    let new_path = again["url"]
        .as_str()
        .unwrap()
        .split_once("/calendar/")
        .map(|(_, t)| format!("/calendar/{t}"))
        .unwrap();
    assert_eq!(fetch(new_path.clone()).await.0, StatusCode::OK);
    let (status, body) = app.delete(&member.token, "/api/v1/events/feed").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fetch(new_path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        fetch("/calendar/nothing.ics".into()).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app.delete(&member.token, "/api/v1/events/feed").await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

#[tokio::test]
async fn members_answer_and_officers_manage_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-perm-ff", &[]).await;
    let officer = app
        .member(&app.a, "ev-perm-to", &["training_officer"])
        .await;
    let body = json!({"title": "Extrication drill", "event_type": "training",
                      "start": "2027-02-02T19:00", "end": "2027-02-02T21:00"});
    // A member may not create, change, cancel or run the attendance.
    let before = app.snapshot(&app.a).await;
    let (status, answer) = app
        .post(&member.token, "/api/v1/events", body.clone())
        .await;
    assert_problem(status, &answer, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await, "a member creating");
    // The training officer (events.manage) may.
    let id = id_of(&create(&app, &officer.token, body.clone()).await);
    let before = app.snapshot(&app.a).await;
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/api/v1/events/{id}"),
            Some(body.clone()),
        ),
        (
            Method::POST,
            format!("/api/v1/events/{id}/cancel"),
            Some(json!({"reason": "no"})),
        ),
        (Method::GET, format!("/api/v1/events/{id}/attendees"), None),
        (
            Method::POST,
            format!("/api/v1/events/{id}/check-in"),
            Some(json!({"user_id": member.id})),
        ),
        (Method::POST, format!("/api/v1/events/{id}/finalize"), None),
    ] {
        let (status, answer) = app.call(method.clone(), &member.token, &path, body).await;
        assert_problem(status, &answer, StatusCode::FORBIDDEN);
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(before, app.snapshot(&app.a).await, "a member managing");
    // A draft is not found by members, and not in their list.
    let draft = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Officers only", "event_type": "other", "start": "2027-02-03T19:00",
                   "end": "2027-02-03T20:00", "is_draft": true}),
        )
        .await,
    );
    let (status, answer) = app
        .get(&member.token, &format!("/api/v1/events/{draft}"))
        .await;
    assert_problem(status, &answer, StatusCode::NOT_FOUND);
    let (_, list) = app
        .get(&member.token, "/api/v1/events?from=2027-01-01")
        .await;
    assert!(!list.to_string().contains("Officers only"), "{list}");
    let (_, list) = app
        .get(admin, "/api/v1/events?from=2027-01-01&q=officers")
        .await;
    assert_eq!(list["total"], 1, "{list}");
    // Bad input: each refused beside its field, nothing written.
    let (status, station) = app.get(admin, "/api/v1/stations").await;
    assert_eq!(status, StatusCode::OK);
    let _ = station;
    let (_, b_station) = app
        .post(
            &app.b.admin.token,
            "/api/v1/stations",
            json!({"name": "Bravo Station 9", "station_number": "9"}),
        )
        .await;
    let before = app.snapshot(&app.a).await;
    let cases = [
        (
            json!({"title": "", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00"}),
            "title",
        ),
        (
            json!({"title": "X", "event_type": "picnic", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00"}),
            "",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "tomorrow", "end": "2027-02-02T21:00"}),
            "start",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T18:00"}),
            "end",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00", "max_attendees": 0}),
            "max_attendees",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00", "reminder_hours": 5000}),
            "reminder_hours",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00", "location_id": b_station["id"]}),
            "location_id",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00", "recurrence": {"pattern": "daily", "until": "2029-01-01"}}),
            "recurrence.until",
        ),
        (
            json!({"title": "X\u{7}", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00"}),
            "title",
        ),
        (
            json!({"title": "X", "event_type": "training", "start": "2027-02-02T19:00", "end": "2027-02-02T21:00", "organization_id": app.b.id}),
            "",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post(admin, "/api/v1/events", body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        if !field.is_empty() {
            assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error_fields(&answer), [field], "{body}: {answer}");
        }
    }
    for path in [
        "/api/v1/events?page=0",
        "/api/v1/events?per_page=100000",
        "/api/v1/events?event_type=picnic",
        "/api/v1/events?from=2027-02-01&to=2027-01-01",
        "/api/v1/events?page=2147483648",
    ] {
        let (status, answer) = app.get(admin, path).await;
        assert!(
            status.is_client_error() || status == StatusCode::OK,
            "{path}: {status} {answer}"
        );
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    }
    assert_eq!(before, app.snapshot(&app.a).await, "bad input");
}

#[tokio::test]
async fn files_are_attached_by_officers_typed_by_their_bytes_and_downloaded_as_attachments() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-files-ff", &[]).await;
    let id = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Pump drill", "event_type": "training", "start": "2027-03-02T19:00",
                   "end": "2027-03-02T21:00"}),
        )
        .await,
    );
    let upload = |token: String, name: &'static str, bytes: Vec<u8>| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url(&format!(
                    "/api/v1/events/{id}/attachments?name={}",
                    urlencode(name)
                )))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(bytes)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    // A PDF with a name that tries to climb out: kept as what its bytes are, under a clean name.
    let (status, file) = upload(admin.clone(), "../../Hydrant map\".pdf", pdf.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["file_name"], "Hydrant map.pdf");
    assert_eq!(file["content_type"], "application/pdf");
    // A program called a PDF is refused; so is an empty file, and one over 10 MB.
    let before = app.snapshot(&app.a).await;
    let (status, body) = upload(
        admin.clone(),
        "map.pdf",
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec(),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["file"]);
    let (status, body) = upload(admin.clone(), "empty.txt", Vec::new()).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = upload(admin.clone(), "big.txt", vec![b'a'; 10 * 1024 * 1024 + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A member may not attach.
    let (status, body) = upload(member.token.clone(), "notes.txt", b"hello".to_vec()).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await, "refused uploads");
    // The member sees the list and downloads it: an attachment, never sniffed again.
    let (status, list) = app
        .get(&member.token, &format!("/api/v1/events/{id}/attachments"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let file_id = file["id"].as_str().unwrap();
    let res = app
        .client
        .get(app.url(&format!("/api/v1/events/{id}/attachments/{file_id}")))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"Hydrant map.pdf\""),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);
    // Another department's officer: not found, for the list, the file and its removal.
    let other = &app.b.admin.token;
    for (method, path) in [
        (Method::GET, format!("/api/v1/events/{id}/attachments")),
        (
            Method::GET,
            format!("/api/v1/events/{id}/attachments/{file_id}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/events/{id}/attachments/{file_id}"),
        ),
    ] {
        let (status, body) = app.call(method, other, &path, None).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    // Twenty at most: two officers adding the 20th and 21st at once get one each way.
    for n in 1..19 {
        let (status, body) =
            upload(admin.clone(), "notes.txt", format!("note {n}").into_bytes()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let path = format!("/api/v1/events/{id}/attachments?name=last.txt");
    let raced = at_once(
        &app,
        vec![
            (admin.clone(), path.clone(), json!("one")),
            (admin.clone(), path.clone(), json!("two")),
        ],
    )
    .await;
    let mut statuses: Vec<u16> = raced.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{raced:?}");
    // Removed: the row and the bytes go.
    let (status, body) = app
        .delete(admin, &format!("/api/v1/events/{id}/attachments/{file_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(
            &member.token,
            &format!("/api/v1/events/{id}/attachments/{file_id}"),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(
        app.audit_actions(&app.a, "events.attachment_removed").await,
        1
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_template_saved_from_an_event_fills_the_next_one() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let member = app.member(&app.a, "ev-tpl-ff", &[]).await;
    let id = id_of(
        &create(
            &app,
            admin,
            json!({"title": "Monthly drill", "event_type": "training", "start": "2027-04-13T19:00",
                   "end": "2027-04-13T21:30", "max_attendees": 30, "reminder_hours": 48}),
        )
        .await,
    );
    let path = format!("/api/v1/events/{id}/save-as-template");
    let (status, body) = app
        .post(&member.token, &path, json!({"name": "Drill"}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, template) = app.post(admin, &path, json!({"name": "Drill night"})).await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    assert_eq!(template["duration_minutes"], 150);
    assert_eq!(template["max_attendees"], 30);
    assert_eq!(template["reminder_hours"], 48);
    // The name is the department's own: a second of the same name is refused beside it.
    let (status, body) = app.post(admin, &path, json!({"name": "Drill night"})).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["name"]);
    // Bad input, each beside its field.
    for (body, field) in [
        (
            json!({"name": "X", "title": "X", "event_type": "training", "duration_minutes": 0}),
            "duration_minutes",
        ),
        (
            json!({"name": "", "title": "X", "event_type": "training", "duration_minutes": 60}),
            "name",
        ),
        (
            json!({"name": "X", "title": "X", "event_type": "training", "duration_minutes": 60, "course_id": Uuid::now_v7()}),
            "course_id",
        ),
    ] {
        let (status, answer) = app.post(admin, "/api/v1/events/templates", body).await;
        assert_problem(status, &answer, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), [field]);
    }
    // The new-event page starts from it.
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app
        .page_get(
            &format!("/events/new?template={}", template["id"].as_str().unwrap()),
            &cookies,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="Monthly drill""#), "{html}");
    assert!(html.contains(r#"value="30""#), "{html}");
    assert!(html.contains("Drill night"), "{html}");
    // The other department does not see it.
    let (status, list) = app
        .get(&app.b.admin.token, "/api/v1/events/templates")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    let (status, _, _) = app
        .page_get(
            &format!("/events/new?template={}", template["id"].as_str().unwrap()),
            &app.page_sign_in("bravo-admin", PASSWORD).await,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_room_booked_twice_at_once_is_warned_and_a_free_one_is_not() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let (status, station) = app
        .post(
            admin,
            "/api/v1/stations",
            json!({"name": "Station 2 hall", "station_number": "2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let at = |start: &str, end: &str| {
        json!({"title": "Booking", "event_type": "social", "start": start, "end": end,
               "location_id": station["id"]})
    };
    let first = create(&app, admin, at("2027-05-04T18:00", "2027-05-04T20:00")).await;
    assert_eq!(first["warnings"], json!([]));
    let clash = create(&app, admin, at("2027-05-04T19:30", "2027-05-04T21:00")).await;
    let warnings = clash["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{clash}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("Station 2 hall is also booked"),
        "{clash}"
    );
    // Back to back is not a clash; neither is a cancelled booking.
    let next = create(&app, admin, at("2027-05-04T21:00", "2027-05-04T22:00")).await;
    assert_eq!(next["warnings"], json!([]), "{next}");
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/events/{}/cancel", id_of(&clash)),
            json!({"reason": "Moved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = create(&app, admin, at("2027-05-04T20:30", "2027-05-04T21:00")).await;
    assert_eq!(again["warnings"], json!([]), "{again}");
}

#[tokio::test]
async fn the_form_says_when_the_place_is_booked_and_a_link_cannot_put_words_on_the_page() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let (status, station) = app
        .post(
            admin,
            "/api/v1/stations",
            json!({"name": "Bay 1", "station_number": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let station_id = station["id"].as_str().unwrap().to_string();
    create(
        &app,
        admin,
        json!({"title": "Pancake breakfast", "event_type": "fundraiser",
               "start": "2027-06-06T08:00", "end": "2027-06-06T11:00", "location_id": station_id}),
    )
    .await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let form = [
        ("title", "Pump test"),
        ("event_type", "training"),
        ("start_date", "2027-06-06"),
        ("start_time", "10:00"),
        ("end_time", "12:00"),
        ("location_id", station_id.as_str()),
        ("requires_rsvp", "1"),
        ("reminder_hours", "24"),
        ("check_in_window", "flexible"),
    ];
    let (status, location, _) = app.page_post("/events/new", &cookies, &form).await;
    assert!(status.is_redirection(), "{status}");
    assert!(location.ends_with("?done=warned"), "{location}");
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(
        html.contains("Saved. Note: Bay 1 is also booked for \u{201c}Pancake breakfast\u{201d}"),
        "{html}"
    );
    // Words in a link are not shown.
    let id = location.trim_end_matches("?done=warned");
    let (_, _, html) = app
        .page_get(&format!("{id}?done=warn:Call%20555-0100%20now"), &cookies)
        .await;
    assert!(!html.contains("555-0100"), "{html}");
    // A bad form is refused beside its fields and saves nothing.
    let before = app.snapshot(&app.a).await;
    let bad = [
        ("title", ""),
        ("event_type", "training"),
        ("start_date", "2027-13-40"),
        ("start_time", "25:00"),
        ("end_time", "nope"),
    ];
    let (status, _, html) = app.page_post("/events/new", &cookies, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for id in ["title-error", "start_date-error", "end_time-error"] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id}: {html}");
    }
    assert_eq!(before, app.snapshot(&app.a).await, "a refused form");
}
