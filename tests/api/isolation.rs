//! The two-organization rule: the organization comes from the session only. Org A's caller who
//! names one of org B's records gets exactly what a missing record gives (404) and org B's data
//! stays as it was; lists never show org B's rows; unique names are per organization.
//!
//! A later module adds its id-taking routes to `id_routes()` (or copies the table and
//! `assert_foreign_ids_answer_404`) and its lists to the list test.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// Records of one organization that the routes below can name.
#[derive(Debug, Clone, Copy)]
struct Ids {
    member: Uuid,
    role: Uuid,
    alert: Uuid,
    announcement: Uuid,
    notification: Uuid,
    email: Uuid,
    tier: Uuid,
}

/// One route that names records by id. In `path` and `body`, `{member}`, `{role}`, `{alert}`,
/// `{announcement}`, `{notification}` (one of the admin's own), `{email}` (a failed one in the
/// outbox) and `{tier}` (a membership tier) stand for ids. `ok` is what the route answers its own organization's caller, so the same
/// table shows that the 404 comes from the organization and not from a broken request.
struct IdRoute {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    ok: StatusCode,
}

const fn route(
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    ok: StatusCode,
) -> IdRoute {
    IdRoute {
        method,
        path,
        body,
        ok,
    }
}

/// Every route that takes an id, in an order in which the own-organization pass succeeds
/// (the role is deleted last, the alert acknowledged before it is resolved).
fn id_routes() -> Vec<IdRoute> {
    use StatusCode as S;
    vec![
        route(Method::GET, "/api/v1/members/{member}", None, S::OK),
        route(
            Method::PATCH,
            "/api/v1/members/{member}",
            Some(r#"{"rank": "Lieutenant", "phone": "555-0199"}"#),
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/members/{member}/status",
            Some(r#"{"status": "inactive", "reason": "Moved away"}"#),
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/members/{member}/password-reset",
            Some(r#"{"temporary_password": "a brand new passphrase 77"}"#),
            S::NO_CONTENT,
        ),
        route(Method::GET, "/api/v1/members/{member}/roles", None, S::OK),
        route(
            Method::POST,
            "/api/v1/members/{member}/roles",
            Some(r#"{"role_id": "{role}"}"#),
            S::OK,
        ),
        route(
            Method::DELETE,
            "/api/v1/members/{member}/roles/{role}",
            None,
            S::OK,
        ),
        route(Method::GET, "/api/v1/roles/{role}", None, S::OK),
        route(
            Method::PATCH,
            "/api/v1/roles/{role}",
            Some(r#"{"description": "Changed by someone", "permissions": ["members.view"]}"#),
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/roles/{role}/clone",
            Some(r#"{"name": "Cloned role"}"#),
            S::CREATED,
        ),
        route(Method::DELETE, "/api/v1/roles/{role}", None, S::NO_CONTENT),
        route(
            Method::POST,
            "/api/v1/security-alerts/{alert}/acknowledge",
            None,
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/security-alerts/{alert}/resolve",
            Some(r#"{"note": "Looked into it"}"#),
            S::OK,
        ),
        route(
            Method::GET,
            "/api/v1/announcements/{announcement}",
            None,
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/announcements/{announcement}/dismiss",
            None,
            S::NO_CONTENT,
        ),
        route(
            Method::POST,
            "/api/v1/announcements/{announcement}/withdraw",
            None,
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/notifications/{notification}/read",
            None,
            S::OK,
        ),
        route(
            Method::POST,
            "/api/v1/settings/email/outbox/{email}/retry",
            None,
            S::OK,
        ),
        route(
            Method::PUT,
            "/api/v1/membership/tiers/{tier}",
            Some(r#"{"name": "Senior", "years_required": 10, "voting_eligible": true}"#),
            S::OK,
        ),
    ]
}

/// Like `assert_eq!` on two snapshots, but shows only the rows that differ.
fn unchanged(before: &str, after: &str, what: &str) {
    if before != after {
        let b: std::collections::BTreeSet<&str> = before.lines().collect();
        let a: std::collections::BTreeSet<&str> = after.lines().collect();
        panic!(
            "{what}: data changed\n  before: {:#?}\n  after: {:#?}",
            b.difference(&a).collect::<Vec<_>>(),
            a.difference(&b).collect::<Vec<_>>()
        );
    }
}

fn fill(template: &str, ids: &Ids) -> String {
    template
        .replace("{member}", &ids.member.to_string())
        .replace("{role}", &ids.role.to_string())
        .replace("{alert}", &ids.alert.to_string())
        .replace("{announcement}", &ids.announcement.to_string())
        .replace("{notification}", &ids.notification.to_string())
        .replace("{email}", &ids.email.to_string())
        .replace("{tier}", &ids.tier.to_string())
}

async fn send(app: &TestApp, token: &str, r: &IdRoute, ids: &Ids) -> (StatusCode, Value, String) {
    let path = fill(r.path, ids);
    let body = r
        .body
        .map(|b| serde_json::from_str(&fill(b, ids)).expect("table body is JSON"));
    let (status, body) = app.call(r.method.clone(), token, &path, body).await;
    (status, body, format!("{} {path}", r.method))
}

/// `caller` (of `own`) names `foreign`'s records on every route: each answers 404 with a problem
/// document that says nothing about the record, and neither organization changes.
async fn assert_foreign_ids_answer_404(
    app: &TestApp,
    own: &Org,
    caller: &User,
    foreign: &Org,
    routes: &[IdRoute],
    ids: &Ids,
    foreign_words: &[&str],
) {
    let own_before = app.snapshot(own).await;
    let foreign_before = app.snapshot(foreign).await;
    for r in routes {
        let (status, body, what) = send(app, &caller.token, r, ids).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
        assert_problem(status, &body, StatusCode::NOT_FOUND);
        let text = body.to_string();
        for word in foreign_words {
            assert!(!text.contains(word), "{what} leaks `{word}`: {text}");
        }
        unchanged(
            &foreign_before,
            &app.snapshot(foreign).await,
            &format!("{what} changed the other organization"),
        );
    }
    unchanged(&own_before, &app.snapshot(own).await, "own organization");
}

async fn fail_login(app: &TestApp, username: &str) {
    for _ in 0..5 {
        let res = app
            .login_response(username, "not the right password", None)
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

/// A member with a custom role and an open security alert about them.
async fn records(app: &TestApp, org: &Org, prefix: &str) -> Ids {
    let member = app.member(org, &format!("{prefix}-member"), &[]).await;
    let (status, role) = app
        .post(
            &org.admin.token,
            "/api/v1/roles",
            json!({"name": format!("{prefix} engine crew"), "description": "Crew",
                   "permissions": ["members.view", "training.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let role: Uuid = role["id"].as_str().unwrap().parse().unwrap();
    let (status, body) = app
        .post(
            &org.admin.token,
            &format!("/api/v1/members/{}/roles", member.id),
            json!({"role_id": role}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    fail_login(app, &member.username).await;
    let alert: Uuid = sqlx::query_scalar(
        "SELECT id FROM security_alerts WHERE organization_id = ? AND user_id = ?",
    )
    .bind(org.id)
    .bind(member.id)
    .fetch_one(&app.db.pool)
    .await
    .expect("a lockout alert");
    // An announcement to everyone (the admin gets its notification) and an email the outbox
    // gave up on (written directly: no sender may race the test for it).
    let (status, posted) = app
        .post(
            &org.admin.token,
            "/api/v1/announcements",
            json!({"title": format!("{prefix} drill night"), "body": "Thursday at seven"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let announcement: Uuid = posted["announcement"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let notification: Uuid = sqlx::query_scalar(
        "SELECT id FROM notification_logs WHERE organization_id = ? AND recipient_id = ?",
    )
    .bind(org.id)
    .bind(org.admin.id)
    .fetch_one(&app.db.pool)
    .await
    .expect("the admin's notification");
    let email = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO email_outbox (id, organization_id, to_address, subject, body_text, body_html,
            status, attempts, next_attempt_at, last_error, created_at, give_up_at)
         VALUES (?, ?, ?, ?, 'text', '<p>html</p>', 'failed', 3, UTC_TIMESTAMP(6),
                 'gave up: test', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
    )
    .bind(email)
    .bind(org.id)
    .bind(format!("{prefix}@example.org"))
    .bind(format!("{prefix} drill night"))
    .execute(&app.db.pool)
    .await
    .unwrap();
    let tier: Uuid = sqlx::query_scalar(
        "SELECT id FROM membership_tiers WHERE organization_id = ? AND slug = 'senior'",
    )
    .bind(org.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    Ids {
        member: member.id,
        role,
        alert,
        announcement,
        notification,
        email,
        tier,
    }
}

#[tokio::test]
async fn org_b_ids_answer_404_to_org_a_on_every_route() {
    let app = TestApp::spawn().await;
    let b = records(&app, &app.b, "bravo").await;
    let a = records(&app, &app.a, "alpha").await;
    let routes = id_routes();

    // Org A's administrator (every permission) with org B's ids.
    assert_foreign_ids_answer_404(&app, &app.a, &app.a.admin, &app.b, &routes, &b, &["bravo"])
        .await;
    // And the other way round.
    assert_foreign_ids_answer_404(&app, &app.b, &app.b.admin, &app.a, &routes, &a, &["alpha"])
        .await;

    // Mixed: org A's own member with org B's role.
    let mixed = Ids {
        member: a.member,
        role: b.role,
        ..b
    };
    let a_before = app.snapshot(&app.a).await;
    let b_before = app.snapshot(&app.b).await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/roles", a.member),
            json!({"role_id": b.role}),
        )
        .await;
    assert!(status.is_client_error(), "assign B's role: {status} {body}");
    assert_problem(status, &body, status);
    let (status, body) = app
        .delete(
            &app.a.admin.token,
            &fill("/api/v1/members/{member}/roles/{role}", &mixed),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    // Org B's member with org A's role.
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/roles", b.member),
            json!({"role_id": a.role}),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    unchanged(&a_before, &app.snapshot(&app.a).await, "org A");
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");

    // The same table with org A's own ids succeeds, so the 404s above came from the
    // organization, not from a wrong path or body.
    for r in &routes {
        let (status, body, what) = send(&app, &app.a.admin.token, r, &a).await;
        assert_eq!(status, r.ok, "{what} with own ids: {body}");
    }
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
}

#[tokio::test]
async fn a_member_without_special_permissions_also_gets_404_for_org_b_ids() {
    let app = TestApp::spawn().await;
    let b = records(&app, &app.b, "bravo").await;
    // An ordinary member: for the reading routes a 404 (not a 403 that would confirm the id).
    let plain = app.member(&app.a, "plain", &[]).await;
    let reads: Vec<IdRoute> = id_routes()
        .into_iter()
        .filter(|r| r.method == Method::GET)
        .collect();
    assert_foreign_ids_answer_404(&app, &app.a, &plain, &app.b, &reads, &b, &["bravo"]).await;
    // An own-organization id that does not exist answers the same as a foreign one.
    let nowhere = Ids {
        member: Uuid::now_v7(),
        role: Uuid::now_v7(),
        alert: Uuid::now_v7(),
        announcement: Uuid::now_v7(),
        notification: Uuid::now_v7(),
        email: Uuid::now_v7(),
        tier: Uuid::now_v7(),
    };
    assert_foreign_ids_answer_404(
        &app,
        &app.a,
        &app.a.admin,
        &app.b,
        &id_routes(),
        &nowhere,
        &[],
    )
    .await;
}

fn ids_in(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i[key].as_str().unwrap().to_string())
        .collect()
}

async fn column_of(app: &TestApp, sql: &str, org: &Org) -> Vec<String> {
    let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(org.id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    ids.into_iter().map(|u| u.to_string()).collect()
}

fn disjoint(listed: &[String], other: &[String], what: &str) {
    assert!(!other.is_empty(), "{what}: the other organization has none");
    for id in listed {
        assert!(
            !other.contains(id),
            "{what} lists the other organization's {id}"
        );
    }
}

#[tokio::test]
async fn lists_never_show_the_other_organization() {
    let app = TestApp::spawn().await;
    let b = records(&app, &app.b, "bravo").await;
    let a = records(&app, &app.a, "alpha").await;
    let t = &app.a.admin.token;

    // Members.
    let (status, body) = app.get(t, "/api/v1/members?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    let a_users = column_of(
        &app,
        "SELECT id FROM users WHERE organization_id = ?",
        &app.a,
    )
    .await;
    let b_users = column_of(
        &app,
        "SELECT id FROM users WHERE organization_id = ?",
        &app.b,
    )
    .await;
    disjoint(&listed, &b_users, "members");
    assert_eq!(listed.len(), a_users.len());
    assert!(listed.contains(&a.member.to_string()));
    assert!(!body.to_string().contains("bravo"), "{body}");
    for q in ["bravo", "bravo-member", "Bravo%20Fire", "example.org"] {
        let (status, body) = app.get(t, &format!("/api/v1/members?q={q}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body.to_string().contains("bravo"), "q={q}: {body}");
    }
    let (status, body) = app.get(t, "/api/v1/members?status=active,inactive").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    disjoint(&ids_in(&body["items"], "id"), &b_users, "members by status");

    // Roles (system roles share names across organizations, so compare ids).
    let (status, body) = app.get(t, "/api/v1/roles").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body, "id");
    let b_roles = column_of(
        &app,
        "SELECT id FROM roles WHERE organization_id = ?",
        &app.b,
    )
    .await;
    let a_roles = column_of(
        &app,
        "SELECT id FROM roles WHERE organization_id = ?",
        &app.a,
    )
    .await;
    disjoint(&listed, &b_roles, "roles");
    assert_eq!(listed.len(), a_roles.len());
    assert!(listed.contains(&a.role.to_string()));
    assert!(!listed.contains(&b.role.to_string()));
    // Member counts count only the organization's own members.
    let member_role = app.role_id(&app.a, "member").await.to_string();
    let row = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == member_role.as_str())
        .unwrap();
    assert_eq!(row["member_count"].as_u64(), Some(a_users.len() as u64));

    // Audit log, its verification, and its filters.
    let (status, body) = app.get(t, "/api/v1/audit-logs?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    let a_log = column_of(
        &app,
        "SELECT id FROM audit_logs WHERE organization_id = ?",
        &app.a,
    )
    .await;
    let b_log = column_of(
        &app,
        "SELECT id FROM audit_logs WHERE organization_id = ?",
        &app.b,
    )
    .await;
    disjoint(&listed, &b_log, "audit-logs");
    assert_eq!(body["total"].as_u64(), Some(a_log.len() as u64));
    let (status, body) = app
        .get(
            t,
            &format!("/api/v1/audit-logs?member_id={}", app.b.admin.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 0, "{body}");
    let (status, body) = app.get(t, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries_checked"].as_u64(), Some(a_log.len() as u64));

    // Security alerts.
    let (status, body) = app.get(t, "/api/v1/security-alerts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ids_in(&body["items"], "id");
    assert_eq!(listed, [a.alert.to_string()]);
    assert!(!listed.contains(&b.alert.to_string()));

    // CSV export.
    let res = app
        .client
        .get(app.url("/api/v1/members/export"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    assert!(csv.contains("alpha-member"), "{csv}");
    assert!(!csv.to_lowercase().contains("bravo"), "{csv}");
    assert_eq!(csv.lines().count(), a_users.len() + 1, "{csv}");

    // A member's roles list only the organization's own roles.
    let (status, body) = app
        .get(t, &format!("/api/v1/members/{}/roles", a.member))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    disjoint(&ids_in(&body, "role_id"), &b_roles, "member roles");
}

#[tokio::test]
async fn the_organization_is_the_callers_own() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&app.a.admin.token, "/api/v1/organization").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.a.id));
    assert_eq!(body["name"], "Alpha Fire Department");
    assert_eq!(body["slug"], app.a.slug.as_str());
    let (status, body) = app.get(&app.b.admin.token, "/api/v1/organization").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.b.id));
    let (_, me) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.a.id));

    let b_before = app.snapshot(&app.b).await;
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"name": "Alpha Volunteer Fire Company", "county": "Alpha County"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], json!(app.a.id));
    assert_eq!(body["name"], "Alpha Volunteer Fire Company");
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
    let (_, body) = app.get(&app.b.admin.token, "/api/v1/organization").await;
    assert_eq!(body["name"], "Bravo Fire Department");
    assert_eq!(body["county"], Value::Null);
    // A body cannot name another organization.
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"id": app.b.id, "name": "Hijacked"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            &format!("/api/v1/organization?organization_id={}", app.b.id),
            json!({"name": "Hijacked"}),
        )
        .await;
    // The query string is not where the organization comes from: ignored or refused, and
    // never applied to B.
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} {body}"
    );
    unchanged(&b_before, &app.snapshot(&app.b).await, "org B");
}

#[tokio::test]
async fn the_same_names_are_allowed_in_both_organizations() {
    let app = TestApp::spawn().await;
    let member = |password: &str| {
        json!({"username": "jordan", "email": "jordan@example.org", "first_name": "Jordan",
               "last_name": "Reyes", "membership_number": "M-101", "temporary_password": password})
    };
    let (status, in_a) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            member("alpha station passphrase"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{in_a}");
    let (status, in_b) = app
        .post(
            &app.b.admin.token,
            "/api/v1/members",
            member("bravo station passphrase"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{in_b}");
    assert_ne!(in_a["id"], in_b["id"]);

    // Still unique inside one organization, naming each field.
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan", "email": "jordan.other@example.org", "first_name": "J",
                   "last_name": "R"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["username"]);
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan2", "email": "jordan@example.org", "first_name": "J",
                   "last_name": "R"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["email"]);
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "jordan3", "email": "jordan3@example.org", "first_name": "J",
                   "last_name": "R", "membership_number": "M-101"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["membership_number"]);
    unchanged(&before, &app.snapshot(&app.a).await, "org A");

    // Each signs in to their own organization.
    let ja = app.login("jordan", "alpha station passphrase").await;
    let (_, me) = app.get(&ja.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.a.id));
    let jb = app.login("jordan", "bravo station passphrase").await;
    let (_, me) = app.get(&jb.token, "/api/v1/auth/me").await;
    assert_eq!(me["organization"]["id"], json!(app.b.id));

    // Custom role names too.
    for org in [&app.a, &app.b] {
        let (status, body) = app
            .post(
                &org.admin.token,
                "/api/v1/roles",
                json!({"name": "Drivers", "permissions": ["members.view"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/roles",
            json!({"name": "Drivers", "permissions": []}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["name"]);
    // Renaming B's role to a name A uses is fine as well.
    let (status, body) = app
        .post(
            &app.b.admin.token,
            "/api/v1/roles",
            json!({"name": "Pump crew", "permissions": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .patch(
            &app.b.admin.token,
            &format!("/api/v1/roles/{}", body["id"].as_str().unwrap()),
            json!({"name": "Engine crew"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
