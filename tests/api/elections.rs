//! Elections: nominations to a certified result, one ballot per member and position under a
//! hundred taps at once, secrecy (nothing an officer can read or join links a member to a
//! choice), receipts, eligibility and the voting window, the counting methods with runoffs and
//! the chair's decision, a tampered chain refused, paper ballots attested by a second officer,
//! the lifecycle job once, permissions, other departments and bad input.

use chrono::{Duration, Utc};
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

/// A draft election with the given method and positions (name, seats); answers its id and the
/// positions' ids.
async fn draft(
    app: &TestApp,
    org: &Org,
    method: &str,
    extra: Value,
    positions: &[(&str, u8)],
) -> (Uuid, Vec<Uuid>) {
    let mut body = json!({"title": format!("Vote by {method}"), "voting_method": method});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (status, e) = app.post(&org.admin.token, "/api/v1/elections", body).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let id = uuid(&e["id"]);
    let mut ids = Vec::new();
    for (name, seats) in positions {
        let (status, e) = app
            .post(
                &org.admin.token,
                &format!("/api/v1/elections/{id}/positions"),
                json!({"name": name, "seats": seats}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{e}");
        let p = e["positions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == *name)
            .unwrap();
        ids.push(uuid(&p["id"]));
    }
    (id, ids)
}

/// Adds named options (officer) to a position; answers their candidate ids.
async fn options(
    app: &TestApp,
    org: &Org,
    election: Uuid,
    position: Uuid,
    names: &[&str],
) -> Vec<Uuid> {
    let mut out = Vec::new();
    for n in names {
        let (status, c) = app
            .post(
                &org.admin.token,
                &format!("/api/v1/elections/{election}/candidates"),
                json!({"position_id": position, "name": n}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        out.push(uuid(&c["id"]));
    }
    out
}

async fn open(app: &TestApp, org: &Org, election: Uuid) {
    let (status, e) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{election}/open"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert_eq!(e["status"], "open");
}

async fn vote(app: &TestApp, who: &User, election: Uuid, ballots: Value) -> (StatusCode, Value) {
    app.post(
        &who.token,
        &format!("/api/v1/elections/{election}/vote"),
        json!({ "ballots": ballots }),
    )
    .await
}

async fn close(app: &TestApp, org: &Org, election: Uuid) -> Value {
    let (status, e) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{election}/close"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    e
}

/// The members on an election's roll.
async fn roll_of(app: &TestApp, org: &Org, election: Uuid) -> Vec<Uuid> {
    let (status, roll) = app
        .get(
            &org.admin.token,
            &format!("/api/v1/elections/{election}/roll"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{roll}");
    roll.as_array()
        .unwrap()
        .iter()
        .map(|l| uuid(&l["user_id"]))
        .collect()
}

async fn members(app: &TestApp, org: &Org, names: &[&str]) -> Vec<User> {
    let mut out = Vec::new();
    for n in names {
        out.push(app.member(org, n, &["member"]).await);
    }
    out
}

/// The ballots stored for an election, read from the database.
async fn ballots_in(app: &TestApp, election: Uuid) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM ballots WHERE election_id = ?")
        .bind(election)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

fn votes_of(results: &Value, position: usize) -> Vec<(String, u64, bool)> {
    results["positions"][position]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["votes"].as_u64().unwrap(),
                c["elected"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_election_runs_from_nominations_to_a_certified_result() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["ada", "ben", "cyd"]).await;
    let (id, pos) = draft(&app, org, "plurality", json!({}), &[("Chief", 1)]).await;
    // A draft is the officers' own: a member does not see it.
    let (status, _) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/nominations"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    // Ada nominates Ben (pending until he accepts) and herself (standing at once).
    let (status, ben) = app
        .post(
            &voters[0].token,
            &format!("/api/v1/elections/{id}/candidates"),
            json!({"position_id": pos[0], "user_id": voters[1].id, "statement": "Ten years on the engine."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ben}");
    assert_eq!(ben["status"], "pending");
    let (status, ada) = app
        .post(
            &voters[0].token,
            &format!("/api/v1/elections/{id}/candidates"),
            json!({"position_id": pos[0], "user_id": voters[0].id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    assert_eq!(ada["status"], "accepted");
    // Ben was told; only he answers his nomination.
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'You were nominated%'",
    )
    .bind(voters[1].id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(told, 1);
    let answer = format!(
        "/api/v1/elections/candidates/{}/answer",
        ben["id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(&voters[2].token, &answer, json!({"accept": true}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(&voters[1].token, &answer, json!({"accept": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "accepted");
    // Nominating the same member twice is refused beside the field.
    let (status, body) = app
        .post(
            &voters[2].token,
            &format!("/api/v1/elections/{id}/candidates"),
            json!({"position_id": pos[0], "user_id": voters[0].id}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["user_id"]);
    open(&app, org, id).await;
    let (ada_c, ben_c) = (uuid(&ada["id"]), uuid(&ben["id"]));
    let mut receipts = Vec::new();
    for (who, choice) in [
        (&voters[0], ada_c),
        (&voters[1], ben_c),
        (&voters[2], ben_c),
    ] {
        let (status, cast) = vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": [choice]}]),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{cast}");
        receipts.push(cast["receipts"][0]["receipt"].as_str().unwrap().to_string());
    }
    // Before the close, nobody sees the count, officers included: turnout only.
    let (status, body) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, t) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}/turnout"))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (t["voted"].as_i64(), t["roll"].as_i64()),
        (Some(3), Some(4)),
        "{t}"
    );
    let (status, body) = app
        .get(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/certificate"),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    close(&app, org, id).await;
    let (status, r) = app
        .get(&voters[2].token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        votes_of(&r, 0),
        vec![("Test ben".into(), 2, true), ("Test ada".into(), 1, false)]
    );
    assert_eq!(r["positions"][0]["summary"], "Test ben elected.");
    assert_eq!(r["ballots"], 3);
    // Each receipt is counted, typed however; a made-up one is not; a malformed one is refused.
    for rc in &receipts {
        let (status, check) = app
            .post(
                &voters[0].token,
                &format!("/api/v1/elections/{id}/receipts/check"),
                json!({"receipt": rc.to_lowercase().replace('-', " ")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert_eq!(check["counted"], true, "{check}");
        assert_eq!(check["chain_verified"], true, "{check}");
        assert_eq!(check["position"], "Chief");
        assert!(check.get("choices").is_none() && !check.to_string().contains(&ben_c.to_string()));
    }
    let (status, check) = app
        .post(
            &voters[0].token,
            &format!("/api/v1/elections/{id}/receipts/check"),
            json!({"receipt": "2222-3333-4444-5555"}),
        )
        .await;
    assert_eq!(
        (status, check["counted"].clone()),
        (StatusCode::OK, json!(false))
    );
    let (status, body) = app
        .post(
            &voters[0].token,
            &format!("/api/v1/elections/{id}/receipts/check"),
            json!({"receipt": "not a code"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    // The certified result: a PDF.
    let res = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/elections/{id}/certificate")))
                .bearer_auth(&voters[1].token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
    // Closed is final: no vote, no second close, no edit.
    let (status, body) = vote(
        &app,
        &org.admin,
        id,
        json!([{"position_id": pos[0], "choices": [ada_c]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (status, body) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/close"),
            json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.audit_actions(org, "elections.opened").await, 1);
    assert_eq!(app.audit_actions(org, "elections.closed").await, 1);
    // The department's export holds the election and who voted, never a choice.
    let res = app
        .send(
            app.client
                .get(app.url("/api/v1/export"))
                .bearer_auth(&org.admin.token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().len() > 100);
}

#[tokio::test]
async fn a_hundred_taps_by_one_member_cast_one_ballot() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let ada = app.member(org, "ada", &["member"]).await;
    let (id, pos) = draft(&app, org, "plurality", json!({}), &[("Chief", 1)]).await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    open(&app, org, id).await;
    let path = format!("/api/v1/elections/{id}/vote");
    let body = json!({"ballots": [{"position_id": pos[0], "choices": [c[0]]}]});
    let answers = at_once(
        &app,
        (0..100)
            .map(|_| (ada.token.clone(), path.clone(), body.clone()))
            .collect(),
    )
    .await;
    let cast = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(cast, 1, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*s, StatusCode::CONFLICT, "{b}");
        assert!(
            b["detail"]
                .as_str()
                .unwrap()
                .contains("already voted for Chief"),
            "{b}"
        );
    }
    let ballots = ballots_in(&app, id).await;
    assert_eq!(ballots, 1);
    // Two members at once each cast theirs, and the chain holds both.
    let ben = app.member(org, "ben", &["member"]).await;
    let answers = at_once(
        &app,
        vec![
            (ben.token.clone(), path.clone(), body.clone()),
            (org.admin.token.clone(), path.clone(), body.clone()),
        ],
    )
    .await;
    // Ben joined after the roll froze: not on it.
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN, "{:?}", answers[0]);
    assert_eq!(answers[1].0, StatusCode::CREATED, "{:?}", answers[1]);
    close(&app, org, id).await;
    let (status, r) = app
        .get(&ada.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["ballots"], 2);
}

#[tokio::test]
async fn nothing_links_a_member_to_a_choice() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["ada", "ben"]).await;
    let (id, pos) = draft(&app, org, "plurality", json!({}), &[("Chief", 1)]).await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    open(&app, org, id).await;
    let audit_before = app.audit_count(org).await;
    let notices_before = app.count_rows("notification_logs").await;
    let updated_before: String =
        sqlx::query_scalar("SELECT CAST(updated_at AS CHAR) FROM elections WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    vote(
        &app,
        &voters[0],
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    vote(
        &app,
        &voters[1],
        id,
        json!([{"position_id": pos[0], "choices": [c[1]]}]),
    )
    .await;
    // A cast writes no audit entry, no notice, and does not stamp the election with a time.
    assert_eq!(app.audit_count(org).await, audit_before);
    assert_eq!(app.count_rows("notification_logs").await, notices_before);
    let updated_after: String =
        sqlx::query_scalar("SELECT CAST(updated_at AS CHAR) FROM elections WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(updated_before, updated_after);
    // The tables: a ballot has no member, no time; the roll has no time; ballot ids are random.
    let columns = |table: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT column_name FROM information_schema.columns
                  WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let ballot_columns = columns("ballots").await;
    assert_eq!(
        ballot_columns,
        [
            "id",
            "organization_id",
            "election_id",
            "position_id",
            "choices",
            "source",
            "prev_hash",
            "chain_hash"
        ]
    );
    // A receipt points at no ballot: a member shown to hold one shows nothing of their vote.
    assert_eq!(
        columns("ballot_receipts").await,
        [
            "receipt_hash",
            "organization_id",
            "election_id",
            "position_id"
        ]
    );
    let voter_columns = columns("election_voters").await;
    assert!(
        voter_columns
            .iter()
            .all(|c| !c.contains("_at") && c != "id"),
        "{voter_columns:?}"
    );
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM ballots WHERE election_id = ?")
        .bind(id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(ids.iter().all(|i| i.get_version_num() == 4), "{ids:?}");
    // What an officer with every permission reads through the API names no member beside a
    // choice: the roll says who voted, the results how many.
    for path in ["", "/turnout", "/roll", "/ballot", "/paper-batches"] {
        let (status, body) = app
            .get(&org.admin.token, &format!("/api/v1/elections/{id}{path}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        if path == "/roll" {
            assert!(text.contains(&voters[0].id.to_string()), "{text}");
        }
        // No answer holds a ballot's choices at all, so none can put one beside a member.
        assert!(!text.contains("\"choices\""), "{path}: {text}");
    }
    let (_, roll) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/roll"))
        .await;
    assert!(!roll.to_string().contains(&c[0].to_string()), "{roll}");
    // The audit log never holds a choice of a ballot (candidates appear only as added).
    let changes: Vec<String> = sqlx::query_scalar(
        "SELECT COALESCE(CAST(changes AS CHAR), '') FROM audit_logs WHERE organization_id = ? AND action NOT IN ('elections.candidate_added')",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    for ch in &changes {
        assert!(
            !ch.contains(&c[0].to_string()) && !ch.contains(&c[1].to_string()),
            "{ch}"
        );
    }
}

#[tokio::test]
async fn only_the_roll_votes_and_only_while_voting_is_open() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let ada = app.member(org, "ada", &["member"]).await;
    let pro = app.member(org, "pro", &["member"]).await;
    let tiered = app.member(org, "tiered", &["member"]).await;
    let officer = app.member(org, "sec", &["secretary"]).await;
    sqlx::query("UPDATE users SET status = 'probationary' WHERE id = ?")
        .bind(pro.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // A tier that may not vote.
    let tier = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO membership_tiers (id, organization_id, slug, name, years_required, sort_order,
                voting_eligible, created_at, updated_at)
         VALUES (?, ?, 'associate', 'Associate', 0, 9, FALSE, NOW(6), NOW(6))",
    )
    .bind(tier)
    .bind(org.id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET membership_tier_id = ? WHERE id = ?")
        .bind(tier)
        .bind(tiered.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (id, pos) = draft(&app, org, "plurality", json!({}), &[("Chief", 1)]).await;
    // A second position only secretaries vote on.
    let secretary = app.role_id(org, "secretary").await;
    let (status, e) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/positions"),
            json!({"name": "Recording secretary", "voter_role_id": secretary}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let pos2 = uuid(&e["positions"][1]["id"]);
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    let c2 = options(&app, org, id, pos2, &["Ray"]).await;
    // Before voting opens.
    let (status, body) = vote(
        &app,
        &ada,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    app.post(
        &org.admin.token,
        &format!("/api/v1/elections/{id}/nominations"),
        json!({}),
    )
    .await;
    let (status, body) = vote(
        &app,
        &ada,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("not opened"),
        "{body}"
    );
    open(&app, org, id).await;
    // The probationary member and the associate are off the roll; nothing is stored.
    for who in [&pro, &tiered] {
        let (status, body) = vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": [c[0]]}]),
        )
        .await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("not on the roll for Chief"),
            "{body}"
        );
    }
    // Ada may vote for chief but not on the secretaries' position: all or nothing.
    let (status, body) = vote(
        &app,
        &ada,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}, {"position_id": pos2, "choices": [c2[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let stored = ballots_in(&app, id).await;
    assert_eq!(stored, 0);
    let (status, mine) = app
        .get(&ada.token, &format!("/api/v1/elections/{id}/ballot"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["positions"].as_array().unwrap().len(), 1, "{mine}");
    let (status, mine) = app
        .get(&officer.token, &format!("/api/v1/elections/{id}/ballot"))
        .await;
    assert_eq!(
        (status, mine["positions"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
    let (status, body) = vote(
        &app,
        &officer,
        id,
        json!([{"position_id": pos2, "choices": [c2[0]]}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The secretary puts the probationary member on the roll, with a reason (audited).
    let (status, body) = app
        .post(
            &officer.token,
            &format!("/api/v1/elections/{id}/roll"),
            json!({"user_id": pro.id, "position_id": pos[0], "on_roll": true, "reason": ""}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["reason"]);
    let (status, body) = app
        .post(&officer.token, &format!("/api/v1/elections/{id}/roll"),
              json!({"user_id": pro.id, "position_id": pos[0], "on_roll": true, "reason": "Board vote of 3 December"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.audit_actions(org, "elections.roll_changed").await, 1);
    let (status, body) = vote(
        &app,
        &pro,
        id,
        json!([{"position_id": pos[0], "choices": [c[1]]}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // One who has voted cannot be taken off.
    let (status, body) = app
        .post(
            &officer.token,
            &format!("/api/v1/elections/{id}/roll"),
            json!({"user_id": pro.id, "on_roll": false, "reason": "mistake"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // Past the closing time (the job has not run yet): refused, nothing stored.
    sqlx::query("UPDATE elections SET closes_at = ? WHERE id = ?")
        .bind(Utc::now() - Duration::minutes(1))
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = vote(
        &app,
        &ada,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("closed"),
        "{body}"
    );
    let stored = ballots_in(&app, id).await;
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn the_methods_count_and_ties_follow_the_policy() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["vot1", "vot2", "vot3", "vot4", "vot5"]).await;
    let everyone: Vec<&User> = voters.iter().chain(std::iter::once(&org.admin)).collect();
    // Ranked choice: A 2, B 3, C 1 first choices of 6; C's ballot goes to B: 4 of 6 in round 2.
    let (id, pos) = draft(&app, org, "ranked_choice", json!({}), &[("Chief", 1)]).await;
    let c = options(&app, org, id, pos[0], &["A", "B", "C"]).await;
    open(&app, org, id).await;
    let rankings = [
        vec![c[0], c[1]],
        vec![c[0]],
        vec![c[1], c[0]],
        vec![c[1]],
        vec![c[2], c[1]],
        vec![c[1]],
    ];
    for (who, r) in everyone.iter().zip(rankings.iter()) {
        let (status, body) = vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": r}]),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    close(&app, org, id).await;
    let (_, r) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    let rounds = r["positions"][0]["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "{r}");
    assert_eq!(rounds[0]["eliminated"]["name"], "C");
    assert_eq!(r["positions"][0]["winners"][0]["name"], "B", "{r}");

    // Majority with nobody past half: a runoff between the first two is made at the close.
    let (id, pos) = draft(&app, org, "majority", json!({}), &[("Captain", 1)]).await;
    let c = options(&app, org, id, pos[0], &["A", "B", "C"]).await;
    open(&app, org, id).await;
    // 6 ballots: A 3, B 2, C 1; 4 needed.
    for (who, choice) in everyone.iter().zip([c[0], c[0], c[0], c[1], c[1], c[2]]) {
        vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": [choice]}]),
        )
        .await;
    }
    close(&app, org, id).await;
    let (_, r) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(r["positions"][0]["outcome"], "no_winner", "{r}");
    assert_eq!(r["positions"][0]["needed"], 4);
    let runoff = uuid(&r["positions"][0]["runoff_election_id"]);
    let (_, child) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{runoff}"))
        .await;
    assert_eq!(child["status"], "draft");
    assert_eq!(child["parent_election_id"], id.to_string());
    let names: Vec<&str> = child["positions"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "B"], "{child}");

    // A tie the chair decides, once, among the tied only.
    let (id, pos) = draft(
        &app,
        org,
        "plurality",
        json!({"tie_policy": "chair_decides"}),
        &[("Treasurer", 1)],
    )
    .await;
    let c = options(&app, org, id, pos[0], &["A", "B"]).await;
    open(&app, org, id).await;
    for (who, choice) in everyone.iter().take(4).zip([c[0], c[0], c[1], c[1]]) {
        vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": [choice]}]),
        )
        .await;
    }
    close(&app, org, id).await;
    let (_, r) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(r["positions"][0]["outcome"], "tie");
    assert!(r["positions"][0]["runoff_election_id"].is_null());
    let decide = format!("/api/v1/elections/positions/{}/decide", pos[0]);
    let (status, body) = app
        .post(&voters[0].token, &decide, json!({"candidate_id": c[1]}))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(
            &org.admin.token,
            &decide,
            json!({"candidate_id": Uuid::nil()}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .post(&org.admin.token, &decide, json!({"candidate_id": c[1]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["positions"][0]["winners"][0]["name"], "B");
    let (status, body) = app
        .post(&org.admin.token, &decide, json!({"candidate_id": c[0]}))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.audit_actions(org, "elections.tie_decided").await, 1);
}

#[tokio::test]
async fn a_tampered_ballot_chain_is_refused() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["ada", "ben", "cyd"]).await;
    let (id, pos) = draft(
        &app,
        org,
        "plurality",
        json!({"results_visible_immediately": true}),
        &[("Chief", 1)],
    )
    .await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    open(&app, org, id).await;
    for v in &voters {
        vote(
            &app,
            v,
            id,
            json!([{"position_id": pos[0], "choices": [c[0]]}]),
        )
        .await;
    }
    let (status, r) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["provisional"], true);
    // Someone with the database changes a ballot's choice: the count is refused.
    let flipped = json!([c[1].to_string()]).to_string();
    let victim: Uuid = sqlx::query_scalar("SELECT id FROM ballots WHERE election_id = ? LIMIT 1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let original: String = sqlx::query_scalar("SELECT choices FROM ballots WHERE id = ?")
        .bind(victim)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE ballots SET choices = ? WHERE id = ?")
        .bind(&flipped)
        .bind(victim)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert!(
        body["detail"].as_str().unwrap().contains("does not verify"),
        "{body}"
    );
    // Put back, it counts again; a ballot deleted is refused too.
    sqlx::query("UPDATE ballots SET choices = ? WHERE id = ?")
        .bind(&original)
        .bind(victim)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query("DELETE FROM ballots WHERE id = ?")
        .bind(victim)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = app
        .get(&voters[0].token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    // The close still ends the vote, raises an alert, and makes no runoff.
    close(&app, org, id).await;
    let alerts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM security_alerts WHERE organization_id = ? AND message LIKE '%do not verify%'",
    )
    .bind(org.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(alerts, 1);
    let (status, _) = app
        .get(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/certificate"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn paper_ballots_count_once_a_second_officer_attests() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["pap1", "pap2", "pap3", "pap4"]).await;
    let second = app.member(org, "sec", &["secretary"]).await;
    let third = app.member(org, "vpres", &["secretary"]).await;
    let (id, pos) = draft(
        &app,
        org,
        "plurality",
        json!({"results_visible_immediately": true}),
        &[("Chief", 1)],
    )
    .await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    open(&app, org, id).await;
    let batches = format!("/api/v1/elections/{id}/paper-batches");
    let one = |choice: Uuid| json!({"position_id": pos[0], "choices": [choice]});
    // Two voters: too few to keep a ballot from being read back to one of them.
    let (status, body) = app
        .post(
            &org.admin.token,
            &batches,
            json!({"voter_ids": [voters[0].id, voters[1].id], "ballots": [one(c[0]), one(c[1])]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["voter_ids"]);
    // More ballots than voters.
    let (status, body) = app
        .post(
            &org.admin.token,
            &batches,
            json!({"voter_ids": [voters[0].id, voters[1].id, voters[2].id],
                     "ballots": [one(c[0]), one(c[0]), one(c[1]), one(c[1])]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, batch) = app
        .post(
            &org.admin.token,
            &batches,
            json!({"voter_ids": [voters[0].id, voters[1].id, voters[2].id],
                     "ballots": [one(c[0]), one(c[0]), one(c[1])], "note": "Meeting of 4 Dec"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["status"], "pending");
    // Its voters cannot also vote online; pending ballots do not count.
    let (status, body) = vote(&app, &voters[0], id, json!([one(c[1])])).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    let (_, r) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(r["ballots"], 0, "{r}");
    let attest = format!(
        "/api/v1/elections/paper-batches/{}/attest",
        batch["id"].as_str().unwrap()
    );
    let (status, body) = app.post(&org.admin.token, &attest, json!({})).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Two officers attest at once: once.
    let answers = at_once(
        &app,
        vec![
            (second.token.clone(), attest.clone(), json!({})),
            (third.token.clone(), attest.clone(), json!({})),
        ],
    )
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    let (_, r) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}/results"))
        .await;
    assert_eq!(r["ballots"], 3, "{r}");
    assert_eq!(votes_of(&r, 0)[0], ("Lee".into(), 2, true));
    // A voided batch frees its voters.
    let (_, batch2) = app
        .post(
            &org.admin.token,
            &batches,
            json!({"voter_ids": [voters[3].id, second.id, third.id], "ballots": [one(c[1])]}),
        )
        .await;
    let void = format!(
        "/api/v1/elections/paper-batches/{}/void",
        batch2["id"].as_str().unwrap()
    );
    let (status, body) = app.post(&second.token, &void, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = vote(&app, &voters[3], id, json!([one(c[1])])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.post(&second.token, &void, json!({})).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_lifecycle_job_opens_reminds_and_closes_once() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let voters = members(&app, org, &["ada", "ben"]).await;
    let soon = Utc::now() + Duration::hours(2);
    let (id, pos) = draft(
        &app,
        org,
        "plurality",
        json!({"opens_at": Utc::now() - Duration::minutes(1), "closes_at": soon,
               "reminder_hours_before_close": 24}),
        &[("Chief", 1)],
    )
    .await;
    // Due to open with no candidate: the officers are told once, and it stays a draft.
    app.run_job(org, "election_lifecycle").await;
    app.run_job(org, "election_lifecycle").await;
    let failed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND subject LIKE 'Could not open%'",
    )
    .bind(org.admin.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(failed, 1);
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    app.run_job(org, "election_lifecycle").await;
    let (_, e) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}"))
        .await;
    assert_eq!(e["status"], "open", "{e}");
    assert_eq!(app.audit_actions(org, "elections.opened").await, 1);
    vote(
        &app,
        &voters[0],
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    // Within 24 h of the close: Ben and the admin (not Ada) are reminded, once.
    app.run_job(org, "election_lifecycle").await;
    app.run_job(org, "election_lifecycle").await;
    let reminded: Vec<Uuid> = sqlx::query_scalar(
        "SELECT recipient_id FROM notification_logs WHERE subject LIKE 'Voting closes soon%' AND organization_id = ? ORDER BY recipient_id",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut expect = vec![voters[1].id, org.admin.id];
    expect.sort();
    assert_eq!(reminded, expect);
    sqlx::query("UPDATE elections SET closes_at = ? WHERE id = ?")
        .bind(Utc::now() - Duration::seconds(1))
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.run_job(org, "election_lifecycle").await;
    app.run_job(org, "election_lifecycle").await;
    let (_, e) = app
        .get(&org.admin.token, &format!("/api/v1/elections/{id}"))
        .await;
    assert_eq!(e["status"], "closed");
    assert_eq!(app.audit_actions(org, "elections.closed").await, 1);
}

#[tokio::test]
async fn permissions_other_departments_and_bad_input() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let ada = app.member(org, "ada", &["member"]).await;
    // Members may not run elections.
    let (status, body) = app
        .post(
            &ada.token,
            "/api/v1/elections",
            json!({"title": "Mine", "voting_method": "plurality"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (id, pos) = draft(&app, org, "majority", json!({}), &[("Chief", 1)]).await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    for path in ["open", "nominations", "close"] {
        let (status, body) = app
            .post(
                &ada.token,
                &format!("/api/v1/elections/{id}/{path}"),
                json!({}),
            )
            .await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {body}"
        );
    }
    // Bad input: nothing stored, the fields named.
    let before = app.snapshot(org).await;
    let cases = [
        (
            json!({"title": "", "voting_method": "dictator"}),
            vec!["title", "voting_method"],
        ),
        (
            json!({"title": "X", "voting_method": "supermajority", "supermajority_percent": 40}),
            vec!["supermajority_percent"],
        ),
        (
            json!({"title": "X", "voting_method": "plurality", "closes_at": "2020-01-01T00:00:00Z"}),
            vec!["closes_at"],
        ),
        (
            json!({"title": "X", "voting_method": "plurality", "voter_statuses": ["archived", "wizard"]}),
            vec!["voter_statuses", "voter_statuses"],
        ),
        (
            json!({"title": "X", "voting_method": "plurality", "tie_policy": "coin"}),
            vec!["tie_policy"],
        ),
    ];
    for (body, fields) in cases {
        let (status, got) = app
            .post(&org.admin.token, "/api/v1/elections", body.clone())
            .await;
        assert_problem(status, &got, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&got), fields, "{body}");
    }
    let (status, body) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/positions"),
            json!({"name": "Board", "seats": 3}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["seats"]);
    let (status, body) = app
        .post(
            &org.admin.token,
            "/api/v1/elections",
            json!({"title": "X", "voting_method": "plurality", "extra": 1}),
        )
        .await;
    assert!(status.is_client_error(), "{body}");
    assert_eq!(app.snapshot(org).await, before);
    open(&app, org, id).await;
    let cases = [
        json!([]),
        json!([{"position_id": pos[0], "choices": []}]),
        json!([{"position_id": pos[0], "choices": [c[0], c[1]]}]),
        json!([{"position_id": pos[0], "choices": [Uuid::nil()]}]),
        json!([{"position_id": Uuid::nil(), "choices": [c[0]]}]),
        json!([{"position_id": pos[0], "choices": [c[0]]}, {"position_id": pos[0], "choices": [c[1]]}]),
    ];
    for ballots in cases {
        let (status, body) = vote(&app, &ada, id, ballots.clone()).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!error_fields(&body).is_empty(), "{ballots}: {body}");
    }
    let stored = ballots_in(&app, id).await;
    assert_eq!(stored, 0);
    // A position takes at most 40 candidates, so the longest ballot fits its column.
    let (big, big_pos) = draft(&app, org, "approval", json!({}), &[("Board", 1)]).await;
    let names: Vec<String> = (0..40).map(|i| format!("Option {i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let all = options(&app, org, big, big_pos[0], &names).await;
    let (status, body) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{big}/candidates"),
            json!({"position_id": big_pos[0], "name": "One too many"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["position_id"]);
    open(&app, org, big).await;
    let (status, body) = vote(
        &app,
        &ada,
        big,
        json!([{"position_id": big_pos[0], "choices": all}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Another department's member sees nothing of it and cannot vote in it.
    let bee = app.member(&app.b, "bee", &["member"]).await;
    for path in ["", "/ballot", "/turnout"] {
        let (status, _) = app
            .get(&bee.token, &format!("/api/v1/elections/{id}{path}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = vote(
        &app,
        &bee,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = app.get(&app.b.admin.token, "/api/v1/elections").await;
    assert_eq!((status, list["total"].as_u64()), (StatusCode::OK, Some(0)));
    // Cancel: a reason is needed; then nothing counts.
    let (status, body) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/cancel"),
            json!({"reason": " "}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, e) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/elections/{id}/cancel"),
            json!({"reason": "Bylaws changed"}),
        )
        .await;
    assert_eq!(
        (status, e["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{e}"
    );
    let (status, body) = vote(
        &app,
        &ada,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
}

/// A tier may ask a share of meetings attended to vote: at the open, a member of it below the
/// share is left off the roll of an election that asks for a voting tier; one who came to every
/// meeting, and one excused from every meeting (nothing held against them), are on it. An
/// election that does not ask for a voting tier keeps them all.
#[tokio::test]
async fn members_below_their_tiers_meeting_attendance_are_off_the_roll() {
    let app = TestApp::spawn().await;
    let org = &app.a;
    let admin = &org.admin.token;
    let (status, tier) = app
        .post(
            admin,
            "/api/v1/membership/tiers",
            json!({"name": "Voting member", "years_required": 0, "voting_eligible": true,
                   "can_hold_office": true, "voting_min_attendance_pct": 50,
                   "voting_attendance_months": 12}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tier}");
    let tier = uuid(&tier["id"]);
    let three = members(&app, org, &["came", "absent", "excused"]).await;
    let (came, absent, excused) = (&three[0], &three[1], &three[2]);
    for m in [came, absent, excused] {
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                admin,
                &format!("/api/v1/members/{}/tier", m.id),
                Some(json!({"tier_id": tier, "reason": "Voting member"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // Two approved business meetings in the last year: one came to both, one missed both, one
    // was excused from both.
    let today = Utc::now().date_naive();
    for days_ago in [30, 90] {
        let (status, m) = app
            .post(
                admin,
                "/api/v1/minutes",
                json!({"meeting_type": "business",
                       "meeting_date": today - Duration::days(days_ago)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        let id = uuid(&m["id"]);
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                admin,
                &format!("/api/v1/minutes/{id}/attendance"),
                Some(json!({"present": [came.id],
                            "excused": [{"user_id": excused.id, "excuse": "work"}]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for step in ["submit", "approve"] {
            let (status, body) = app
                .post(admin, &format!("/api/v1/minutes/{id}/{step}"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{step}: {body}");
        }
    }
    for (who, counted, percent, below) in [
        (came, 2, 100, false),
        (absent, 2, 0, true),
        (excused, 0, 100, false),
    ] {
        let (status, a) = app
            .get(admin, &format!("/api/v1/minutes/attendance/{}", who.id))
            .await;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_eq!(
            (
                a["counted"].as_u64(),
                a["percent"].as_u64(),
                a["below_minimum"].as_bool(),
                a["required_percent"].as_u64()
            ),
            (Some(counted), Some(percent), Some(below), Some(50)),
            "{}: {a}",
            who.username
        );
    }

    // The roll of an election asking for a voting tier: the absent member is not on it.
    let (id, pos) = draft(&app, org, "plurality", json!({}), &[("Chief", 1)]).await;
    let c = options(&app, org, id, pos[0], &["Lee", "Kim"]).await;
    open(&app, org, id).await;
    let roll = roll_of(&app, org, id).await;
    assert!(!roll.contains(&absent.id), "{roll:?}");
    assert!(roll.contains(&came.id), "{roll:?}");
    assert!(roll.contains(&excused.id), "{roll:?}");
    let (status, body) = vote(
        &app,
        absent,
        id,
        json!([{"position_id": pos[0], "choices": [c[0]]}]),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    for who in [came, excused] {
        let (status, body) = vote(
            &app,
            who,
            id,
            json!([{"position_id": pos[0], "choices": [c[0]]}]),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", who.username);
    }
    assert_eq!(ballots_in(&app, id).await, 2);

    // An election that does not ask for a voting tier: all three are on its roll.
    let (id, pos) = draft(
        &app,
        org,
        "plurality",
        json!({"require_voting_tier": false}),
        &[("Captain", 1)],
    )
    .await;
    options(&app, org, id, pos[0], &["Lee"]).await;
    open(&app, org, id).await;
    let roll = roll_of(&app, org, id).await;
    for who in [came, absent, excused] {
        assert!(roll.contains(&who.id), "{}: {roll:?}", who.username);
    }
}
