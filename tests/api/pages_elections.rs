//! The election pages over HTTP: bad input shown beside its field with nothing written, the
//! officer's pages refused to members, another department's election a 404 page, a ranked
//! ballot read from the form (a rank given twice refused beside its position), paper ballots
//! typed as numbers, and the roll override asking for a reason.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

fn uuid(v: &Value) -> Uuid {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_election_pages_refuse_bad_input_beside_the_field_and_keep_to_their_people() {
    let app = TestApp::spawn().await;
    let officer = access_cookie(&app.a.admin);
    let member = app.member(&app.a, "el-page-ff", &["member"]).await;
    let member_cookie = access_cookie(&member);

    // No title, a closing time in the past, an unknown method: beside their fields.
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            "/elections/new",
            &officer,
            &[
                ("title", ""),
                ("voting_method", "coin_toss"),
                ("voter_statuses", "active"),
                ("closes_at", "2020-01-01T10:00"),
                ("supermajority_percent", "67"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    for field in ["title", "voting_method", "closes_at"] {
        assert!(
            html.contains(&format!(r#"id="{field}-error""#)) || html.contains("field-error"),
            "{field}: {html}"
        );
    }
    assert!(html.contains(r#"id="title-error""#), "{html}");
    assert!(html.contains(r#"id="closes_at-error""#), "{html}");
    assert_eq!(before, app.snapshot(&app.a).await);
    let (status, location, _) = app
        .page_post(
            "/elections/new",
            &officer,
            &[
                ("title", "Officers 2027"),
                ("voting_method", "ranked_choice"),
                ("voter_statuses", "active"),
                ("voter_statuses", "probationary"),
                ("tie_policy", "runoff"),
                ("supermajority_percent", "67"),
                ("reminder_hours_before_close", "24"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: Uuid = location
        .trim_start_matches("/elections/")
        .trim_end_matches("?done=created")
        .parse()
        .unwrap();
    let (_, e) = app
        .get(&app.a.admin.token, &format!("/api/v1/elections/{id}"))
        .await;
    assert_eq!(e["voter_statuses"], json!(["active", "probationary"]));

    // Members may not reach the officer's pages, nor see a draft.
    for path in [
        "/elections/new".to_string(),
        format!("/elections/{id}/edit"),
        format!("/elections/{id}/roll"),
        format!("/elections/{id}/paper"),
    ] {
        let (status, _, _) = app.page_get(&path, &member_cookie).await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {status}"
        );
    }
    let (status, _, _) = app
        .page_get(&format!("/elections/{id}"), &member_cookie)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another department's officer: a 404 page.
    let other = access_cookie(&app.b.admin);
    let (status, _, _) = app.page_get(&format!("/elections/{id}"), &other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A position with two seats is refused for ranked choice, beside the field.
    let (status, _, html) = app
        .page_post(
            &format!("/elections/{id}/positions"),
            &officer,
            &[("name", "Board"), ("seats", "2")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="seats-error""#), "{html}");
    let (status, _, _) = app
        .page_post(
            &format!("/elections/{id}/positions"),
            &officer,
            &[("name", "Chief")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, e) = app
        .get(&app.a.admin.token, &format!("/api/v1/elections/{id}"))
        .await;
    let position = uuid(&e["positions"][0]["id"]);
    let mut cands = Vec::new();
    for name in ["Avery", "Bell", "Cruz"] {
        let (status, _, _) = app
            .page_post(
                &format!("/elections/{id}/candidates"),
                &officer,
                &[("position_id", &position.to_string()), ("name", name)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
    }
    let (_, e) = app
        .get(&app.a.admin.token, &format!("/api/v1/elections/{id}"))
        .await;
    for c in e["positions"][0]["candidates"].as_array().unwrap() {
        cands.push(uuid(&c["id"]));
    }
    let (status, location, _) = app
        .page_post(&format!("/elections/{id}/open"), &officer, &[])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            format!("/elections/{id}?done=opened").as_str()
        )
    );

    // A rank given twice: beside the position, nothing cast.
    let rank = |c: usize| format!("r_{position}_{}", cands[c]);
    let (status, _, html) = app
        .page_post(
            &format!("/elections/{id}/ballot"),
            &member_cookie,
            &[(&rank(0), "1"), (&rank(1), "1")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("Give each rank to one candidate only."),
        "{html}"
    );
    assert_eq!(
        app.count_rows_where(
            "ballots",
            &format!("election_id = UNHEX('{}')", id.simple())
        )
        .await,
        0
    );
    // Ranked 2, 1: the ballot holds Bell first, then Avery; the receipt is shown once.
    let (status, _, html) = app
        .page_post(
            &format!("/elections/{id}/ballot"),
            &member_cookie,
            &[(&rank(0), "2"), (&rank(1), "1"), (&rank(2), "")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your ballot is cast"), "{html}");
    let choices: String = sqlx::query_scalar("SELECT choices FROM ballots WHERE election_id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        choices,
        json!([cands[1].to_string(), cands[0].to_string()]).to_string()
    );
    // Tapping again: already voted, said on the ballot page.
    let (status, _, html) = app
        .page_post(
            &format!("/elections/{id}/ballot"),
            &member_cookie,
            &[(&rank(0), "1")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Nothing was cast"), "{html}");

    // The roll override needs a reason, beside the field.
    let (status, _, html) = app
        .page_post(
            &format!("/elections/{id}/roll"),
            &officer,
            &[
                ("user_id", &member.id.to_string()),
                ("position_id", ""),
                ("on_roll", "1"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="reason-error""#), "{html}");

    // Paper ballots typed as numbers: a number not on the list is said, nothing entered.
    let mut paper = Vec::new();
    for n in ["el-paper-a", "el-paper-b", "el-paper-c"] {
        paper.push(app.member(&app.a, n, &["member"]).await);
    }
    // They joined after the roll froze: the secretary puts them on it.
    for p in &paper {
        let (status, body) = app
            .post(
                &app.a.admin.token,
                &format!("/api/v1/elections/{id}/roll"),
                json!({"user_id": p.id, "on_roll": true, "reason": "Joined at the meeting"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let key = format!("p_{position}");
    let mut form: Vec<(&str, String)> = paper
        .iter()
        .map(|p| ("voter_ids", p.id.to_string()))
        .collect();
    form.push((&key, "1 2\n7\n3".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = app
        .page_post(&format!("/elections/{id}/paper"), &officer, &pairs)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("line 2: “7” is not a number on the list"),
        "{html}"
    );
    form.pop();
    form.push((&key, "1 2\n2 3 1\n3".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = app
        .page_post(&format!("/elections/{id}/paper"), &officer, &pairs)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/elections/{id}/paper?done=batch"));
    let (_, _, html) = app.page_get(&location, &officer).await;
    assert!(html.contains("3 ballots from 3 members"), "{html}");
    assert!(
        html.contains("Another officer attests this batch."),
        "{html}"
    );
}
