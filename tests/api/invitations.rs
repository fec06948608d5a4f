//! Invitations: an emailed link or a printed one-time code lets a member the department added
//! choose a password, once, within 7 days; a new one replaces the earlier; an officer revokes;
//! who may, in which department, and what bad input and parallel presses do.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

const WAIT: Duration = Duration::from_secs(15);
const CHOSEN: &str = "hose bed ladder rack";
const LINK: &str = "http://logbook.test/welcome?code=";

/// A member with no password at all (added by an officer, as an import does).
async fn added(app: &TestApp, org: &Org, username: &str) -> Uuid {
    let (status, body) = app
        .post(
            &org.admin.token,
            "/api/v1/members",
            json!({"username": username, "email": format!("{username}@example.org"),
                   "first_name": "New", "last_name": username}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn open_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app.send(app.client.post(app.url(path)).json(&body)).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Uses a code (the API's confirm takes reset links and invitations alike).
async fn accept(app: &TestApp, code: &str, password: &str) -> (StatusCode, Value) {
    open_post(
        app,
        "/api/v1/auth/password-reset/confirm",
        json!({"token": code, "new_password": password}),
    )
    .await
}

async fn can_sign_in(app: &TestApp, username: &str, password: &str) -> bool {
    open_post(
        app,
        "/api/v1/auth/login",
        json!({"username": username, "password": password}),
    )
    .await
    .0 == StatusCode::OK
}

async fn codes(app: &TestApp, token: &str, ids: &[Uuid]) -> (StatusCode, Value) {
    app.post(
        token,
        "/api/v1/members/invitation-codes",
        json!({"member_ids": ids}),
    )
    .await
}

async fn waiting(app: &TestApp, member: Uuid) -> i64 {
    app.count_rows_where(
        "password_reset_tokens",
        &format!(
            "user_id = UNHEX('{}') AND purpose = 'invitation' AND used_at IS NULL",
            member.simple()
        ),
    )
    .await
}

fn not_signed_in_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_emailed_invitation_lets_the_member_choose_a_password_once() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let admin = &app.a.admin.token;
    let id = added(&app, &app.a, "rookie").await;

    let (status, list) = app
        .get(admin, "/api/v1/members?signed_in=false&per_page=100")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        not_signed_in_ids(&list).contains(&"rookie".to_string()),
        "{list}"
    );
    assert!(
        !not_signed_in_ids(&list).contains(&app.a.admin.username),
        "{list}"
    );

    let (status, sent) = app
        .post(
            admin,
            &format!("/api/v1/members/{id}/invitation"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["sent_to"], "rookie@example.org");
    let (status, held) = app
        .get(admin, &format!("/api/v1/members/{id}/invitation"))
        .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["waiting"]["delivery"], "email");

    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail[0].rcpt_to, ["rookie@example.org"]);
    let text = mail[0].text.as_deref().unwrap();
    assert!(
        text.contains("\"rookie\""),
        "the username is in the letter: {text}"
    );
    let start = text.find(LINK).expect(text) + LINK.len();
    let code: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert_eq!(code.len(), 29, "24 characters in groups of four: {code}");
    assert!(
        mail[0]
            .html
            .as_deref()
            .unwrap()
            .contains(&format!("{LINK}{code}"))
    );

    // The link's page greets the member and shows their username.
    let (status, _, html) = app.page_get(&format!("/welcome?code={code}"), "").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Welcome, New."), "{html}");
    assert!(html.contains("<strong>rookie</strong>"), "{html}");

    let (status, body) = accept(&app, &code, CHOSEN).await;
    assert!(status.is_success(), "{status} {body}");
    assert!(can_sign_in(&app, "rookie", CHOSEN).await);
    // Once only.
    let (status, problem) = accept(&app, &code, "another password entirely").await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["token"]);
    assert!(can_sign_in(&app, "rookie", CHOSEN).await);
    let (status, held) = app
        .get(admin, &format!("/api/v1/members/{id}/invitation"))
        .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["waiting"], Value::Null, "nothing waiting once used");
    assert_eq!(app.audit_actions(&app.a, "member.invited").await, 1);
    assert_eq!(
        app.audit_actions(&app.a, "auth.invitation_accepted").await,
        1
    );
    // Not a "your password was reset" alarm: the member chose their first password.
    assert_eq!(app.audit_actions(&app.a, "auth.password_reset").await, 0);

    let (_, list) = app
        .get(admin, "/api/v1/members?signed_in=false&per_page=100")
        .await;
    assert!(
        !not_signed_in_ids(&list).contains(&"rookie".to_string()),
        "{list}"
    );
}

#[tokio::test]
async fn printed_codes_work_typed_loosely_and_a_new_one_or_a_revoke_ends_the_old() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let one = added(&app, &app.a, "slip-one").await;
    let two = added(&app, &app.a, "slip-two").await;

    let (status, sheet) = codes(&app, admin, &[two, one, one]).await;
    assert_eq!(status, StatusCode::CREATED, "{sheet}");
    let sheet = sheet.as_array().unwrap().clone();
    assert_eq!(sheet.len(), 2, "each member once: {sheet:?}");
    let code_of = |username: &str| -> String {
        sheet.iter().find(|c| c["username"] == username).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = code_of("slip-one");
    assert_eq!(first.len(), 19, "16 characters in groups of four: {first}");

    // Typed from paper: small letters, spaces for dashes.
    let typed = first.to_lowercase().replace('-', " ");
    let res = app
        .page_post_anonymous(
            "/welcome",
            &[
                ("code", typed.as_str()),
                ("new_password", CHOSEN),
                ("repeat_password", CHOSEN),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/login?welcome=slip-one");
    assert!(can_sign_in(&app, "slip-one", CHOSEN).await);

    // Printing again replaces the earlier code.
    let earlier = code_of("slip-two");
    let (status, again) = codes(&app, admin, &[two]).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let (status, _) = accept(&app, &earlier, CHOSEN).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the replaced code"
    );
    assert_eq!(waiting(&app, two).await, 1);

    // Revoked, the new one stops working too; revoking twice says there is nothing to revoke.
    let (status, body) = app
        .delete(admin, &format!("/api/v1/members/{two}/invitation"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, problem) = app
        .delete(admin, &format!("/api/v1/members/{two}/invitation"))
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (status, _) = accept(&app, again[0]["code"].as_str().unwrap(), CHOSEN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the revoked code");
    assert!(!can_sign_in(&app, "slip-two", CHOSEN).await);
    assert_eq!(
        app.audit_actions(&app.a, "member.invitation_revoked").await,
        1
    );

    // A wrong code on the page is said beside the field, and sets nothing.
    let res = app
        .page_post_anonymous(
            "/welcome",
            &[
                ("code", "AAAA-BBBB-CCCC-DDDD"),
                ("new_password", CHOSEN),
                ("repeat_password", CHOSEN),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="code-error""#), "{html}");
    assert!(
        html.contains("not valid, has been used or has expired"),
        "{html}"
    );
}

#[tokio::test]
async fn only_officers_invite_within_their_ceiling_and_their_department() {
    let app = TestApp::spawn().await;
    let target = added(&app, &app.a, "invitee").await;
    let plain = app.member(&app.a, "plain-inviter", &[]).await;
    let officer = app
        .member_with(&app.a, "clerk-inviter", &["members.view", "members.manage"])
        .await;

    for (method, path) in [
        ("POST", format!("/api/v1/members/{target}/invitation")),
        ("GET", format!("/api/v1/members/{target}/invitation")),
        ("DELETE", format!("/api/v1/members/{target}/invitation")),
    ] {
        let (status, problem) = match method {
            "POST" => app.post(&plain.token, &path, json!({})).await,
            "GET" => app.get(&plain.token, &path).await,
            _ => app.delete(&plain.token, &path).await,
        };
        assert_problem(status, &problem, StatusCode::FORBIDDEN);
    }
    let (status, problem) = codes(&app, &plain.token, &[target]).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .get(&plain.token, "/api/v1/members?signed_in=false")
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);

    // An officer with members.manage may hand over a plain member's account, not the admin's:
    // the code would give them the admin's permissions.
    let (status, sheet) = codes(&app, &officer.token, &[target]).await;
    assert_eq!(status, StatusCode::CREATED, "{sheet}");
    let (status, problem) = codes(&app, &officer.token, &[target, app.a.admin.id]).await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(waiting(&app, app.a.admin.id).await, 0);

    // Another department's admin sees no such member, and nothing is issued.
    let before = waiting(&app, target).await;
    let (status, problem) = codes(&app, &app.b.admin.token, &[target]).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    for path in [format!("/api/v1/members/{target}/invitation")] {
        let (status, problem) = app.post(&app.b.admin.token, &path, json!({})).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND);
        let (status, problem) = app.delete(&app.b.admin.token, &path).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND);
        let (status, problem) = app.get(&app.b.admin.token, &path).await;
        assert_problem(status, &problem, StatusCode::NOT_FOUND);
    }
    assert_eq!(waiting(&app, target).await, before);
    let (_, list) = app
        .get(
            &app.b.admin.token,
            "/api/v1/members?signed_in=false&per_page=100",
        )
        .await;
    assert!(
        !not_signed_in_ids(&list).contains(&"invitee".to_string()),
        "{list}"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_and_issue_nothing() {
    let app = TestApp::spawn().await;
    let admin = &app.a.admin.token;
    let target = added(&app, &app.a, "refused-invitee").await;
    let tokens_before = app
        .count_rows_where(
            "password_reset_tokens",
            &format!("organization_id = UNHEX('{}')", app.a.id.simple()),
        )
        .await;

    let (status, problem) = codes(&app, admin, &[]).await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["member_ids"]);
    let many: Vec<Uuid> = (0..201).map(|_| Uuid::new_v4()).collect();
    let (status, problem) = codes(&app, admin, &many).await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    for body in [
        json!({"member_ids": ["not-a-uuid"]}),
        json!({"member_ids": target}),
        json!({"members": [target]}),
        json!({}),
    ] {
        let (status, problem) = app
            .post(admin, "/api/v1/members/invitation-codes", body.clone())
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {problem}"
        );
    }
    // One unknown member refuses the whole sheet.
    let (status, problem) = codes(&app, admin, &[target, Uuid::new_v4()]).await;
    assert_problem(status, &problem, StatusCode::NOT_FOUND);
    // No email set up in this department: say so, send nothing.
    let (status, problem) = app
        .post(
            admin,
            &format!("/api/v1/members/{target}/invitation"),
            json!({}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("email is not set up"),
        "{problem}"
    );
    // A member who may not sign in gets no code.
    let (status, body) = app
        .post(
            admin,
            &format!("/api/v1/members/{target}/status"),
            json!({"status": "suspended", "reason": "pending review"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = codes(&app, admin, &[target]).await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    assert_eq!(
        app.count_rows_where(
            "password_reset_tokens",
            &format!("organization_id = UNHEX('{}')", app.a.id.simple()),
        )
        .await,
        tokens_before
    );
    let (status, problem) = app.get(admin, "/api/v1/members?signed_in=maybe").await;
    assert!(status.is_client_error(), "{status} {problem}");
    let (status, problem) = accept(&app, "", CHOSEN).await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn parallel_presses_leave_one_code_and_a_code_is_used_once() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let target = added(&app, &app.a, "raced-invitee").await;

    // Two officers (or one double tap) print at once: one code works afterwards.
    let one = [target];
    let presses = (0..6).map(|_| codes(&app, &admin, &one));
    let answers = futures_util::future::join_all(presses).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(waiting(&app, target).await, 1);
    let working: Vec<String> = answers
        .iter()
        .map(|(_, b)| b[0]["code"].as_str().unwrap().to_string())
        .collect();

    // Every code sent at once: exactly one sets the password.
    let tries = working.iter().map(|c| accept(&app, c, CHOSEN));
    let results = futures_util::future::join_all(tries).await;
    let ok = results.iter().filter(|(s, _)| s.is_success()).count();
    assert_eq!(ok, 1, "{results:?}");
    for (status, body) in &results {
        assert!(
            status.is_success() || *status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {body}"
        );
    }
    assert!(can_sign_in(&app, "raced-invitee", CHOSEN).await);
    assert_eq!(
        app.audit_actions(&app.a, "auth.invitation_accepted").await,
        1
    );
}

#[tokio::test]
async fn the_member_pages_offer_invitations_and_print_a_sheet() {
    let app = TestApp::spawn().await;
    let cookie = access_cookie(&app.a.admin);
    let target = added(&app, &app.a, "paged-invitee").await;

    let (status, _, html) = app.page_get(&format!("/members/{target}"), &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Print a sign-in code"), "{html}");
    assert!(
        !html.contains("Email an invitation"),
        "no email set up: {html}"
    );
    let (status, _, html) = app.page_get("/members?signed_in=no", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("paged-invitee"), "{html}");
    assert!(html.contains("not signed in yet"), "{html}");
    assert!(
        !html.contains(&format!(r#"href="/members/{}""#, app.a.admin.id)),
        "the admin has signed in: {html}"
    );

    // Emailing without email set up: the profile says why, beside the controls.
    let (status, _, html) = app
        .page_post(&format!("/members/{target}/invite"), &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains(r#"id="invite-error""#), "{html}");

    let res = app
        .page_post_response(
            "/members/invitations/codes",
            &cookie,
            &[("member_id", &target.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("paged-invitee"), "{html}");
    assert!(html.contains("http://logbook.test/welcome"), "{html}");
    assert_eq!(waiting(&app, target).await, 1);
    let (_, _, html) = app.page_get(&format!("/members/{target}"), &cookie).await;
    assert!(html.contains("A sign-in code was printed on"), "{html}");
    assert!(html.contains("Revoke the invitation"), "{html}");
    let (status, location, _) = app
        .page_post(&format!("/members/{target}/invite/revoke"), &cookie, &[])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            &*format!("/members/{target}?done=revoked")
        )
    );
    assert_eq!(waiting(&app, target).await, 0);

    // A plain member has no such controls and cannot print.
    let plain = app.member(&app.a, "paged-plain", &[]).await;
    let (status, _, _) = app
        .page_post(
            "/members/invitations/codes",
            &access_cookie(&plain),
            &[("member_id", &target.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(waiting(&app, target).await, 0);
}

#[tokio::test]
async fn an_import_invites_only_the_members_it_adds() {
    let (app, sink) = TestApp::spawn_with_sink().await;
    let cookie = access_cookie(&app.a.admin);
    // Added earlier, never signed in, holding no invitation: not this import's to invite.
    let earlier = added(&app, &app.a, "earlier-one").await;

    // A dry run names no ids; the real run names each new member.
    let csv = "username,email,first_name,last_name,status\n\
               imp-one,imp-one@example.org,Imp,One,active\n\
               imp-two,imp-two@example.org,Imp,Two,probationary\n";
    let res = app
        .client
        .post(app.url("/api/v1/members/import?dry_run=true"))
        .bearer_auth(&app.a.admin.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["preview"][0]["member_id"], Value::Null, "{report}");

    let (status, _, html) = app
        .page_post(
            "/members/import",
            &cookie,
            &[("csv", csv), ("commit", "1"), ("invite", "1")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Imported 2 members."), "{html}");
    assert!(html.contains("2 invitations were emailed."), "{html}");
    let mail = sink.wait_for(2, WAIT).await;
    let mut to: Vec<&str> = mail.iter().map(|m| m.rcpt_to[0].as_str()).collect();
    to.sort();
    assert_eq!(to, ["imp-one@example.org", "imp-two@example.org"]);
    assert_eq!(
        waiting(&app, earlier).await,
        0,
        "the earlier member is left alone"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2, "no letter to anyone else");
}
