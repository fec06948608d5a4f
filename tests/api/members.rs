//! Members: create, read, the directory (search, filters, pagination), validation, contact
//! visibility, self-service edits, the status lifecycle, CSV import and export.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

// ---------------------------------------------------------------------------------------------
// Local helpers

fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .parse()
        .unwrap()
}

/// A valid creation body for `username`, without a password (no hashing: faster).
fn new_member(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@example.org"),
        "first_name": "Test",
        "last_name": username,
    })
}

/// Creates a member of `org` as its admin; panics unless 201.
async fn create(app: &TestApp, org: &Org, body: Value) -> Uuid {
    let (status, res) = app.post(&org.admin.token, "/api/v1/members", body).await;
    assert_eq!(status, StatusCode::CREATED, "create member: {res}");
    id_of(&res)
}

async fn db_status(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn set_db_status(app: &TestApp, id: Uuid, status: &str) {
    sqlx::query("UPDATE users SET status = ? WHERE id = ?")
        .bind(status)
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn db_column(app: &TestApp, id: Uuid, column: &str) -> Option<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(`{column}` AS CHAR) FROM users WHERE id = ?"
    )))
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

async fn role_slugs(app: &TestApp, user: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT r.slug FROM user_roles ur JOIN roles r ON r.id = ur.role_id
          WHERE ur.user_id = ? ORDER BY r.slug",
    )
    .bind(user)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

async fn user_count(app: &TestApp, org: &Org) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE organization_id = ?")
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn user_id_by_username(app: &TestApp, org: &Org, username: &str) -> Option<Uuid> {
    sqlx::query_scalar("SELECT id FROM users WHERE organization_id = ? AND username = ?")
        .bind(org.id)
        .bind(username)
        .fetch_optional(&app.db.pool)
        .await
        .unwrap()
}

/// The `changes` of every audit entry of `org` with `action` about `entity`, oldest first.
async fn audit_changes(app: &TestApp, org: &Org, action: &str, entity: Uuid) -> Vec<Value> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT changes FROM audit_logs
          WHERE organization_id = ? AND action = ? AND entity_id = ? ORDER BY sequence",
    )
    .bind(org.id)
    .bind(action)
    .bind(entity.to_string())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

fn ids_of_page(body: &Value) -> Vec<Uuid> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(id_of)
        .collect()
}

fn usernames_of_page(body: &Value) -> BTreeSet<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn post_csv(app: &TestApp, token: &str, path: &str, csv: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET /api/v1/members/export: status, content type, body.
async fn export(app: &TestApp, token: &str) -> (StatusCode, String, String) {
    let res = app
        .client
        .get(app.url("/api/v1/members/export"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

/// Parses CSV text into its header and rows.
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn error_lines(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {report}"))
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn change_status(
    app: &TestApp,
    token: &str,
    id: Uuid,
    status: &str,
    reason: &str,
) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/members/{id}/status"),
        json!({"status": status, "reason": reason}),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Create and read

#[tokio::test]
async fn create_defaults_to_active_gives_member_role_and_reads_back() {
    let app = TestApp::spawn().await;
    let audits_before = app.audit_count(&app.a).await;
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({
                "username": "  J.Smith ",
                "email": "jsmith@example.org",
                "first_name": "John",
                "last_name": "Smith",
                "membership_number": "FD-0042",
                "rank": "Firefighter",
                "station": "Station 1",
                "phone": "+1 (555) 010-0199",
                "hire_date": "2019-04-01",
                "emergency_contact_name": "Jane Smith",
                "emergency_contact_phone": "555-0100",
                "emergency_contact_relationship": "spouse",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = id_of(&body);
    assert_eq!(
        body["username"], "j.smith",
        "username is trimmed and lower-cased"
    );
    assert_eq!(body["status"], "active");
    assert_eq!(body["membership_number"], "FD-0042");
    assert_eq!(body["hire_date"], "2019-04-01");
    assert_eq!(body["contact"]["email"], "jsmith@example.org");
    assert_eq!(body["contact"]["phone"], "+1 (555) 010-0199");
    assert_eq!(body["contact"]["emergency_contact_relationship"], "spouse");

    // In the database, in org A, with the Member role.
    let (org, stored_status): (Uuid, String) =
        sqlx::query_as("SELECT organization_id, status FROM users WHERE id = ?")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(org, app.a.id);
    assert_eq!(stored_status, "active");
    assert_eq!(role_slugs(&app, id).await, vec!["member".to_string()]);
    // Audited: the creation and the role assignment.
    let created = audit_changes(&app, &app.a, "member.created", id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["username"], "j.smith");
    assert_eq!(created[0]["password_set"], false);
    assert_eq!(app.audit_count(&app.a).await, audits_before + 2);

    // Read back.
    let (status, read) = app
        .get(&app.a.admin.token, &format!("/api/v1/members/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["id"], body["id"]);
    assert_eq!(read["first_name"], "John");
    assert_eq!(read["rank"], "Firefighter");
    assert_eq!(read["station"], "Station 1");
    assert_eq!(read["contact"], body["contact"]);

    // Probationary is the other status a new member may start in.
    let (status, body) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "newbie", "email": "newbie@example.org", "first_name": "N",
                   "last_name": "B", "status": "probationary"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "probationary");
    assert_eq!(db_status(&app, id_of(&body)).await, "probationary");
    assert_eq!(
        role_slugs(&app, id_of(&body)).await,
        vec!["member".to_string()]
    );

    // Unknown ids, malformed ids and the other organization's ids answer 404.
    let (status, body) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/members/{}", Uuid::now_v7()),
        )
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&app.a.admin.token, "/api/v1/members/not-a-uuid")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .get(&app.a.admin.token, &format!("/api/v1/members/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(&app.b.admin.token, &format!("/api/v1/members/{id}"))
        .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn create_needs_members_manage() {
    let app = TestApp::spawn().await;
    let viewer = app.member_with(&app.a, "viewer", &["members.view"]).await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(&viewer.token, "/api/v1/members", new_member("sneaky"))
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    // Without signing in at all: 401.
    let res = app
        .client
        .post(app.url("/api/v1/members"))
        .json(&new_member("anon"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.snapshot(&app.a).await, before);
}

// ---------------------------------------------------------------------------------------------
// The directory

#[tokio::test]
async fn list_paginates_with_total() {
    let app = TestApp::spawn().await;
    for name in ["adams", "baker", "clark", "davis", "evans"] {
        create(&app, &app.a, new_member(name)).await;
    }
    // Org B's members never show in org A's directory.
    create(&app, &app.b, new_member("bravo-only")).await;
    let token = &app.a.admin.token;

    let (status, all) = app.get(token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 6, "admin + 5");
    assert_eq!(all["page"], 1);
    assert_eq!(all["per_page"], 25, "default page size");
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
    assert!(!usernames_of_page(&all).contains("bravo-only"));

    let mut seen = Vec::new();
    for page in 1..=3 {
        let (status, body) = app
            .get(token, &format!("/api/v1/members?page={page}&per_page=2"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"], 6);
        assert_eq!(body["page"], page);
        assert_eq!(body["per_page"], 2);
        let ids = ids_of_page(&body);
        assert_eq!(ids.len(), 2, "page {page}: {body}");
        seen.extend(ids);
    }
    let distinct: BTreeSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 6, "pages do not overlap");
    assert_eq!(distinct, ids_of_page(&all).into_iter().collect());
    // The order is stable: page 1 of per_page=2 is the first two of the full list.
    assert_eq!(&seen[..], &ids_of_page(&all)[..]);

    let (status, body) = app.get(token, "/api/v1/members?page=4&per_page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 6);
    assert!(body["items"].as_array().unwrap().is_empty());

    let (status, body) = app.get(token, "/api/v1/members?per_page=200").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn list_rejects_bad_page_per_page_and_status() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    for (query, field) in [
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("status=bogus", "status"),
        ("status=active,bogus", "status"),
        ("status=active,,leave", "status"),
    ] {
        let (status, body) = app.get(token, &format!("/api/v1/members?{query}")).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&body),
            vec![field.to_string()],
            "{query}: {body}"
        );
    }
    // Not a number at all: rejected by the query parser, with a message naming the parameter.
    for (query, field) in [("page=abc", "page"), ("per_page=-1", "per_page")] {
        let (status, body) = app.get(token, &format!("/api/v1/members?{query}")).await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert!(
            body["detail"].as_str().unwrap_or("").contains(field),
            "{query}: {body}"
        );
    }
    // Unknown parameters are refused, not ignored.
    let (status, body) = app.get(token, "/api/v1/members?sort=name").await;
    assert!(status.is_client_error(), "{status} {body}");
}

#[tokio::test]
async fn list_searches_names_usernames_and_membership_numbers() {
    let app = TestApp::spawn().await;
    create(
        &app,
        &app.a,
        json!({"username": "zeb", "email": "zeb@example.org", "first_name": "Zebediah",
               "last_name": "Quartz", "membership_number": "FD-0042"}),
    )
    .await;
    create(
        &app,
        &app.a,
        json!({"username": "ann.other", "email": "hidden-addr@example.org", "first_name": "Ann",
               "last_name": "Other", "membership_number": "FD-0099"}),
    )
    .await;
    create(&app, &app.b, new_member("zebra-in-bravo")).await;
    let token = &app.a.admin.token;
    for (q, expected) in [
        ("Zebediah", vec!["zeb"]),
        ("zebed", vec!["zeb"]),
        ("quartz", vec!["zeb"]),
        ("ann.other", vec!["ann.other"]),
        ("FD-0042", vec!["zeb"]),
        ("FD-00", vec!["zeb", "ann.other"]),
        ("nobody-like-this", vec![]),
        ("zebra", vec![]),
        // LIKE metacharacters are literal.
        ("%", vec![]),
        ("_", vec![]),
    ] {
        let (status, body) = app
            .get(token, &format!("/api/v1/members?q={}", urlencode(q)))
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        assert_eq!(usernames_of_page(&body), set(&expected), "q={q}");
        assert_eq!(body["total"], expected.len(), "q={q}");
    }
    // Search and status filter combine.
    set_db_status(
        &app,
        user_id_by_username(&app, &app.a, "zeb").await.unwrap(),
        "leave",
    )
    .await;
    let (_, body) = app
        .get(token, "/api/v1/members?q=FD-00&status=active")
        .await;
    assert_eq!(usernames_of_page(&body), set(&["ann.other"]));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn list_filters_by_one_status_or_several() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["on-leave", "retiree", "suspendee", "prob"] {
        ids.push(create(&app, &app.a, new_member(name)).await);
    }
    set_db_status(&app, ids[0], "leave").await;
    set_db_status(&app, ids[1], "retired").await;
    set_db_status(&app, ids[2], "suspended").await;
    set_db_status(&app, ids[3], "probationary").await;
    let token = &app.a.admin.token;
    for (filter, expected) in [
        ("leave", vec!["on-leave"]),
        ("retired", vec!["retiree"]),
        ("active", vec!["alpha-admin"]),
        ("leave,retired", vec!["on-leave", "retiree"]),
        (
            "leave, suspended ,probationary",
            vec!["on-leave", "suspendee", "prob"],
        ),
        ("archived", vec![]),
    ] {
        let (status, body) = app
            .get(
                token,
                &format!("/api/v1/members?status={}", urlencode(filter)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        assert_eq!(usernames_of_page(&body), set(&expected), "status={filter}");
        assert_eq!(body["total"], expected.len());
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn each_bad_field_is_a_422_naming_it_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let before = app.snapshot(&app.a).await;
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, Value)> = vec![
        ("username", json!("x")),
        ("username", json!("bad name!")),
        ("username", json!("-starts-with-dash")),
        ("username", json!("x'; DROP TABLE users;--")),
        ("email", json!("not-an-email")),
        ("email", json!("a@b")),
        ("email", json!("two@@example.org")),
        ("email", json!("<script>@example.org")),
        ("first_name", json!("   ")),
        ("first_name", json!(long(101))),
        ("first_name", json!("bell\u{7}char")),
        ("last_name", json!("")),
        ("membership_number", json!("FD 1/2")),
        ("membership_number", json!(long(33))),
        ("rank", json!(long(65))),
        ("station", json!(long(101))),
        ("phone", json!("call me")),
        ("phone", json!("12")),
        ("hire_date", json!("2019-02-30")),
        ("hire_date", json!("04.01.2019")),
        ("hire_date", json!("1/4/19")),
        ("hire_date", json!("2999-01-01")),
        ("hire_date", json!("1850-01-01")),
        ("status", json!("retired")),
        ("status", json!("bogus")),
        ("emergency_contact_name", json!(long(201))),
        ("emergency_contact_phone", json!("not a phone")),
        ("emergency_contact_relationship", json!(long(65))),
        ("temporary_password", json!("short")),
    ];
    for (field, value) in cases {
        let mut body = new_member("valid-name");
        body[field] = value.clone();
        let (status, res) = app.post(&app.a.admin.token, "/api/v1/members", body).await;
        assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&res),
            vec![field.to_string()],
            "{field}={value}: {res}"
        );
        assert_eq!(app.snapshot(&app.a).await, before, "{field}={value}");
    }
    // Several bad fields: every one is reported at once.
    let (status, res) = app
        .post(
            &app.a.admin.token,
            "/api/v1/members",
            json!({"username": "!", "email": "nope", "first_name": "", "last_name": "",
                   "phone": "abc"}),
        )
        .await;
    assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: BTreeSet<String> = error_fields(&res).into_iter().collect();
    assert_eq!(
        fields,
        set(&["username", "email", "first_name", "last_name", "phone"])
    );
    // A missing required field, a wrong type and an unknown field are refused by the parser.
    let mut missing = new_member("valid-name");
    missing.as_object_mut().unwrap().remove("email");
    let mut wrong_type = new_member("valid-name");
    wrong_type["first_name"] = json!(42);
    let mut unknown = new_member("valid-name");
    unknown["is_admin"] = json!(true);
    for body in [missing, wrong_type, unknown] {
        let (status, res) = app
            .post(&app.a.admin.token, "/api/v1/members", body.clone())
            .await;
        assert!(status.is_client_error(), "{body}: {status} {res}");
        assert!(res.get("detail").is_some(), "{res}");
    }
    assert_eq!(app.snapshot(&app.a).await, before);
    assert_eq!(user_count(&app, &app.a).await, 1);
}

#[tokio::test]
async fn duplicate_username_email_or_number_is_a_422_on_that_field() {
    let app = TestApp::spawn().await;
    create(
        &app,
        &app.a,
        json!({"username": "first", "email": "first@example.org", "first_name": "F",
               "last_name": "F", "membership_number": "FD-1"}),
    )
    .await;
    let before = app.snapshot(&app.a).await;
    for (field, body) in [
        (
            "username",
            json!({"username": "FIRST", "email": "other@example.org", "first_name": "O",
                   "last_name": "O"}),
        ),
        (
            "email",
            json!({"username": "other", "email": "First@Example.org", "first_name": "O",
                   "last_name": "O"}),
        ),
        (
            "email",
            json!({"username": "other", "email": "alpha-admin@example.org", "first_name": "O",
                   "last_name": "O"}),
        ),
        (
            "membership_number",
            json!({"username": "other", "email": "other@example.org", "first_name": "O",
                   "last_name": "O", "membership_number": "FD-1"}),
        ),
    ] {
        let (status, res) = app.post(&app.a.admin.token, "/api/v1/members", body).await;
        assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&res), vec![field.to_string()], "{res}");
        assert_eq!(app.snapshot(&app.a).await, before);
    }
    // The same values are free in the other organization.
    create(
        &app,
        &app.b,
        json!({"username": "first", "email": "first@example.org", "first_name": "F",
               "last_name": "F", "membership_number": "FD-1"}),
    )
    .await;
    // Two members without a membership number do not clash.
    create(&app, &app.a, new_member("no-number-1")).await;
    create(&app, &app.a, new_member("no-number-2")).await;

    // An edit into somebody else's username, e-mail or number is refused the same way.
    let other = create(&app, &app.a, new_member("second")).await;
    let before = app.snapshot(&app.a).await;
    for (field, value) in [
        ("username", "first"),
        ("email", "FIRST@example.org"),
        ("membership_number", "FD-1"),
    ] {
        let mut body = json!({});
        body[field] = json!(value);
        let (status, res) = app
            .patch(
                &app.a.admin.token,
                &format!("/api/v1/members/{other}"),
                body,
            )
            .await;
        assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&res), vec![field.to_string()], "{res}");
        assert_eq!(app.snapshot(&app.a).await, before);
    }
}

// ---------------------------------------------------------------------------------------------
// Contact details

#[tokio::test]
async fn the_contact_directory_is_open_to_members_unless_the_department_or_member_says_not() {
    let app = TestApp::spawn().await;
    let other = create(
        &app,
        &app.a,
        json!({"username": "contacty", "email": "secret-inbox@example.org", "first_name": "C",
               "last_name": "Contacty", "phone": "555-0123", "emergency_contact_name": "Kin",
               "emergency_contact_phone": "555-0124", "emergency_contact_relationship": "sibling"}),
    )
    .await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let viewer = app
        .member_with(&app.a, "viewer", &["members.view", "users.view_contact"])
        .await;
    let path = format!("/api/v1/members/{other}");

    // By default every member sees each other's email and phone (the roster is the call
    // list), but never the emergency contact.
    let (status, body) = app.get(&plain.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["contact"],
        json!({"email": "secret-inbox@example.org", "phone": "555-0123", "hide_phone": false,
               "emergency_contact_name": null, "emergency_contact_phone": null,
               "emergency_contact_relationship": null})
    );
    assert!(!body.to_string().contains("555-0124"), "{body}");
    let (status, body) = app
        .get(&plain.token, "/api/v1/members?q=secret-inbox")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usernames_of_page(&body), set(&["contacty"]), "{body}");

    // With users.view_contact: everything.
    let full = json!({"email": "secret-inbox@example.org", "phone": "555-0123",
                      "hide_phone": false, "emergency_contact_name": "Kin",
                      "emergency_contact_phone": "555-0124",
                      "emergency_contact_relationship": "sibling"});
    let (_, body) = app.get(&viewer.token, &path).await;
    assert_eq!(body["contact"], full);

    // The member keeps their number to officers: members no longer see it, officers do.
    let (status, body) = app
        .patch(&app.a.admin.token, &path, json!({"hide_phone": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.get(&plain.token, &path).await;
    assert!(body["contact"]["phone"].is_null(), "{body}");
    assert_eq!(body["contact"]["hide_phone"], true);
    assert_eq!(body["contact"]["email"], "secret-inbox@example.org");
    let (_, list) = app.get(&plain.token, "/api/v1/members?per_page=100").await;
    assert!(!list.to_string().contains("555-0123"), "{list}");
    let (_, body) = app.get(&viewer.token, &path).await;
    assert_eq!(body["contact"]["phone"], "555-0123");
    assert_eq!(
        app.audit_actions(&app.a, "member.updated").await,
        1,
        "the choice is audited"
    );

    // The department keeps contact details to officers: a plain member sees only their own.
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"settings": {"contact_directory": "officers"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["contact_directory"], "officers");
    let (status, body) = app.get(&plain.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["contact"].is_null(), "{body}");
    assert!(!body.to_string().contains("secret-inbox"), "{body}");
    let (status, body) = app
        .get(&plain.token, &format!("/api/v1/members/{}", plain.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["contact"]["email"], "plain@example.org");
    let (status, list) = app.get(&plain.token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::OK);
    for m in list["items"].as_array().unwrap() {
        if m["id"] == json!(plain.id) {
            assert_eq!(m["contact"]["email"], "plain@example.org");
        } else {
            assert!(m["contact"].is_null(), "{m}");
        }
    }
    assert!(!list.to_string().contains("secret-inbox"));
    let (_, body) = app.get(&viewer.token, &path).await;
    assert_eq!(body["contact"]["email"], "secret-inbox@example.org");
    let (_, list) = app.get(&viewer.token, "/api/v1/members").await;
    for m in list["items"].as_array().unwrap() {
        assert!(m["contact"].is_object(), "{m}");
    }

    // Searching by e-mail finds someone only for a caller who may see e-mails.
    let (status, body) = app
        .get(&plain.token, "/api/v1/members?q=secret-inbox")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 0, "{body}");
    assert!(body["items"].as_array().unwrap().is_empty());
    let (status, body) = app
        .get(&viewer.token, "/api/v1/members?q=secret-inbox")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(usernames_of_page(&body), set(&["contacty"]));

    // The other department's directory is its own: still open to its members.
    let b_member = app.member(&app.b, "bravo-plain", &[]).await;
    let (_, list) = app.get(&b_member.token, "/api/v1/members").await;
    assert!(!list.to_string().contains("secret-inbox"), "{list}");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["contact"].is_object()),
        "{list}"
    );

    // Only a settings manager chooses, and only from the two answers.
    let (status, _) = app
        .patch(
            &plain.token,
            "/api/v1/organization",
            json!({"settings": {"contact_directory": "members"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            "/api/v1/organization",
            json!({"settings": {"contact_directory": "everyone"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, body) = app.get(&app.a.admin.token, "/api/v1/organization").await;
    assert_eq!(body["settings"]["contact_directory"], "officers");
}

// ---------------------------------------------------------------------------------------------
// Self-service

#[tokio::test]
async fn members_edit_their_own_contact_details_only() {
    let app = TestApp::spawn().await;
    let me = app.member(&app.a, "selfie", &[]).await;
    let other = app.member(&app.a, "neighbour", &[]).await;
    assert_eq!(role_slugs(&app, me.id).await, vec!["member".to_string()]);
    let path = format!("/api/v1/members/{}", me.id);

    let (status, body) = app
        .patch(
            &me.token,
            &path,
            json!({"email": "new-address@example.org", "phone": "555-0100",
                   "emergency_contact_name": "Mom", "emergency_contact_phone": "555-0101",
                   "emergency_contact_relationship": "mother"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contact"]["email"], "new-address@example.org");
    assert_eq!(body["contact"]["phone"], "555-0100");
    assert_eq!(
        db_column(&app, me.id, "email").await.as_deref(),
        Some("new-address@example.org")
    );
    assert_eq!(
        db_column(&app, me.id, "emergency_contact_name")
            .await
            .as_deref(),
        Some("Mom")
    );
    let changes = audit_changes(&app, &app.a, "member.updated", me.id).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0]["email"],
        json!({"from": "selfie@example.org", "to": "new-address@example.org"})
    );
    assert_eq!(changes[0]["phone"], json!({"from": null, "to": "555-0100"}));
    assert_eq!(
        changes[0]["emergency_contact_relationship"],
        json!({"from": null, "to": "mother"})
    );
    assert!(
        changes[0].get("first_name").is_none(),
        "only changed fields"
    );
    let actor: Option<Uuid> = sqlx::query_scalar(
        "SELECT actor_user_id FROM audit_logs
          WHERE organization_id = ? AND action = 'member.updated' AND entity_id = ?",
    )
    .bind(app.a.id)
    .bind(me.id.to_string())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(actor, Some(me.id));

    // null clears a nullable field, and the clearing is audited.
    let (status, body) = app.patch(&me.token, &path, json!({"phone": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["contact"]["phone"].is_null());
    assert_eq!(db_column(&app, me.id, "phone").await, None);
    let changes = audit_changes(&app, &app.a, "member.updated", me.id).await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["phone"], json!({"from": "555-0100", "to": null}));
    // Absent fields stay as they are.
    assert_eq!(
        db_column(&app, me.id, "emergency_contact_phone")
            .await
            .as_deref(),
        Some("555-0101")
    );
    // A no-op edit writes no audit entry.
    let audits = app.audit_count(&app.a).await;
    let (status, _) = app.patch(&me.token, &path, json!({"phone": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.audit_count(&app.a).await, audits);

    // Profile fields of their own: 403, nothing changed (not even the allowed part).
    let before = app.snapshot(&app.a).await;
    for body in [
        json!({"first_name": "Renamed"}),
        json!({"rank": "Chief"}),
        json!({"username": "boss"}),
        json!({"membership_number": "FD-1"}),
        json!({"email": "sneaky@example.org", "rank": "Captain"}),
    ] {
        let (status, res) = app.patch(&me.token, &path, body.clone()).await;
        assert_problem(status, &res, StatusCode::FORBIDDEN);
        assert_eq!(app.snapshot(&app.a).await, before, "{body}");
    }
    // Another member's anything: 403.
    for body in [json!({"phone": "555-0199"}), json!({"first_name": "X"})] {
        let (status, res) = app
            .patch(&me.token, &format!("/api/v1/members/{}", other.id), body)
            .await;
        assert_problem(status, &res, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.snapshot(&app.a).await, before);
    // Bad contact values are 422 with the field, even on one's own record.
    let (status, res) = app.patch(&me.token, &path, json!({"email": "nope"})).await;
    assert_problem(status, &res, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&res), vec!["email".to_string()]);
    assert_eq!(app.snapshot(&app.a).await, before);

    // A manager may edit the profile, and it is audited with from/to.
    let (status, body) = app
        .patch(
            &app.a.admin.token,
            &path,
            json!({"first_name": "Selma", "rank": "Lieutenant", "hire_date": "2020-01-15"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["first_name"], "Selma");
    assert_eq!(body["rank"], "Lieutenant");
    let changes = audit_changes(&app, &app.a, "member.updated", me.id).await;
    let last = changes.last().unwrap();
    assert_eq!(last["first_name"], json!({"from": "Test", "to": "Selma"}));
    assert_eq!(last["rank"], json!({"from": null, "to": "Lieutenant"}));
    assert_eq!(last["hire_date"], json!({"from": null, "to": "2020-01-15"}));
    let (status, body) = app
        .patch(&app.a.admin.token, &path, json!({"rank": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(db_column(&app, me.id, "rank").await, None);
}

// ---------------------------------------------------------------------------------------------
// Status lifecycle

const ALL_STATUSES: &[&str] = &[
    "active",
    "probationary",
    "inactive",
    "suspended",
    "leave",
    "retired",
    "dropped_voluntary",
    "dropped_involuntary",
    "archived",
];

/// features.md §1.1, plus archiving: a member whose membership has ended (inactive, retired,
/// dropped) can be archived, and an archived member can only be reactivated (active or
/// probationary).
fn expected_next(from: &str) -> &'static [&'static str] {
    match from {
        "probationary" => &[
            "active",
            "inactive",
            "suspended",
            "leave",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "active" => &[
            "probationary",
            "inactive",
            "suspended",
            "leave",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "inactive" => &[
            "probationary",
            "active",
            "suspended",
            "leave",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
            "archived",
        ],
        "suspended" => &[
            "probationary",
            "active",
            "inactive",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "leave" => &[
            "active",
            "inactive",
            "suspended",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "retired" => &["active", "inactive", "archived"],
        "dropped_voluntary" | "dropped_involuntary" => &["probationary", "active", "archived"],
        "archived" => &["probationary", "active"],
        other => panic!("unknown status {other}"),
    }
}

#[tokio::test]
async fn every_status_transition_follows_the_lifecycle() {
    let app = TestApp::spawn().await;
    let id = create(&app, &app.a, new_member("cycler")).await;
    let token = &app.a.admin.token;
    let mut allowed = 0;
    for from in ALL_STATUSES {
        for to in ALL_STATUSES {
            set_db_status(&app, id, from).await;
            let audits = app.audit_count(&app.a).await;
            let (status, body) = change_status(&app, token, id, to, "lifecycle check").await;
            if expected_next(from).contains(to) {
                allowed += 1;
                assert_eq!(status, StatusCode::OK, "{from} -> {to}: {body}");
                assert_eq!(body["status"], *to);
                assert_eq!(db_status(&app, id).await, *to, "{from} -> {to}");
                assert_eq!(app.audit_count(&app.a).await, audits + 1);
            } else {
                if from == to {
                    // Already there: what the second of two officers making one change sees.
                    assert_problem(status, &body, StatusCode::CONFLICT);
                } else {
                    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
                    assert_eq!(
                        error_fields(&body),
                        vec!["status".to_string()],
                        "{from} -> {to}"
                    );
                }
                assert_eq!(db_status(&app, id).await, *from, "{from} -> {to} refused");
                assert_eq!(app.audit_count(&app.a).await, audits);
            }
        }
    }
    assert_eq!(allowed, 6 + 7 + 8 + 5 + 6 + 3 + 3 + 3 + 2);
}

#[tokio::test]
async fn status_round_trips_record_reason_and_audit() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let id = create(&app, &app.a, new_member("roundtrip")).await;
    let prob = create(
        &app,
        &app.a,
        json!({"username": "probie", "email": "probie@example.org", "first_name": "P",
               "last_name": "P", "status": "probationary"}),
    )
    .await;
    let chains: Vec<(Uuid, &str, Vec<&str>)> = vec![
        (id, "active", vec!["leave", "active"]),
        (id, "active", vec!["retired", "active"]),
        (
            prob,
            "probationary",
            vec!["dropped_voluntary", "probationary"],
        ),
        (id, "active", vec!["inactive", "archived", "active"]),
        (
            prob,
            "probationary",
            vec!["dropped_involuntary", "archived", "probationary"],
        ),
    ];
    for (who, start, steps) in chains {
        assert_eq!(db_status(&app, who).await, start);
        let mut from = start;
        for (n, to) in steps.into_iter().enumerate() {
            let reason = format!("step {n}: {from} to {to}");
            let (status, body) = change_status(&app, token, who, to, &reason).await;
            assert_eq!(status, StatusCode::OK, "{from} -> {to}: {body}");
            assert_eq!(body["status"], to);
            assert_eq!(body["status_change_reason"], reason.as_str());
            assert!(body["status_changed_at"].is_string());
            assert_eq!(db_status(&app, who).await, to);
            assert_eq!(
                db_column(&app, who, "status_change_reason")
                    .await
                    .as_deref(),
                Some(reason.as_str())
            );
            let audit = audit_changes(&app, &app.a, "member.status_changed", who).await;
            let last = audit.last().unwrap();
            assert_eq!(last["status"], json!({"from": from, "to": to}));
            assert_eq!(last["reason"], reason.as_str());
            from = to;
        }
    }
    // A member who becomes inactive is signed out at once.
    let user = app.member(&app.a, "leaver", &[]).await;
    let (status, _) = app.get(&user.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = change_status(&app, token, user.id, "inactive", "moved away").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get(&user.token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let audit = audit_changes(&app, &app.a, "member.status_changed", user.id).await;
    assert_eq!(audit[0]["sessions_ended"], true);
}

#[tokio::test]
async fn forbidden_transitions_and_missing_reasons_change_nothing() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let id = create(&app, &app.a, new_member("target")).await;
    for (from, to) in [
        ("probationary", "retired"),
        ("suspended", "leave"),
        ("retired", "suspended"),
        ("active", "archived"),
        ("archived", "inactive"),
        ("dropped_voluntary", "leave"),
    ] {
        set_db_status(&app, id, from).await;
        let before = app.snapshot(&app.a).await;
        let (status, body) = change_status(&app, token, id, to, "because").await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&body),
            vec!["status".to_string()],
            "{from} -> {to}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(from),
            "the message says where the member stands: {body}"
        );
        assert_eq!(app.snapshot(&app.a).await, before, "{from} -> {to}");
    }
    set_db_status(&app, id, "active").await;
    let before = app.snapshot(&app.a).await;
    for reason in ["", "   "] {
        let (status, body) = change_status(&app, token, id, "leave", reason).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&body), vec!["reason".to_string()]);
    }
    let (status, body) = change_status(&app, token, id, "leave", &"r".repeat(501)).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["reason".to_string()]);
    let (status, body) = change_status(&app, token, id, "on_vacation", "x").await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["status".to_string()]);
    // No reason at all: refused by the parser.
    let (status, body) = app
        .post(
            token,
            &format!("/api/v1/members/{id}/status"),
            json!({"status": "leave"}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn status_change_needs_members_manage() {
    let app = TestApp::spawn().await;
    let id = create(&app, &app.a, new_member("target")).await;
    let viewer = app
        .member_with(&app.a, "viewer", &["members.view", "users.view_contact"])
        .await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = change_status(&app, &viewer.token, id, "leave", "trying").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Not even for oneself.
    let (status, body) = change_status(&app, &viewer.token, viewer.id, "leave", "me").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    // Another organization's admin: 404, unchanged.
    let (status, body) = change_status(&app, &app.b.admin.token, id, "leave", "x").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert_eq!(db_status(&app, id).await, "active");
}

// ---------------------------------------------------------------------------------------------
// CSV import

const HEADER: &str = "username,email,first_name,last_name,membership_number,status";

#[tokio::test]
async fn import_dry_run_previews_and_reports_rows_without_creating() {
    let app = TestApp::spawn().await;
    let csv = format!(
        "{HEADER}\n\
         amy,amy@example.org,Amy,Adams,FD-10,active\n\
         bob,not-an-email,Bob,Brown,FD-11,\n\
         cat,cat@example.org,Cat,Clark,,probationary\n\
         dan,dan@example.org,,Dunn,FD-13,retired\n"
    );
    let before = app.snapshot(&app.a).await;
    for path in [
        "/api/v1/members/import",
        "/api/v1/members/import?dry_run=true",
    ] {
        let (status, report) = post_csv(&app, &app.a.admin.token, path, &csv).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["dry_run"], true);
        assert_eq!(report["rows"], 4);
        assert_eq!(report["valid_rows"], 2);
        assert_eq!(report["created"], 0);
        let errors: BTreeSet<(u64, String)> = error_lines(&report).into_iter().collect();
        assert_eq!(
            errors,
            [
                (3, "email".to_string()),
                (5, "first_name".to_string()),
                (5, "status".to_string()),
            ]
            .into_iter()
            .collect()
        );
        let preview: Vec<(u64, String, String)> = report["preview"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["line"].as_u64().unwrap(),
                    p["username"].as_str().unwrap().to_string(),
                    p["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            preview,
            vec![
                (2, "amy".into(), "active".into()),
                (4, "cat".into(), "probationary".into())
            ]
        );
        assert_eq!(
            app.snapshot(&app.a).await,
            before,
            "a dry run changes nothing"
        );
    }
}

#[tokio::test]
async fn import_with_one_bad_row_commits_nothing() {
    let app = TestApp::spawn().await;
    let csv = format!(
        "{HEADER}\n\
         amy,amy@example.org,Amy,Adams,FD-10,active\n\
         bob,bob@example.org,Bob,Brown,FD-11,\n\
         cat,cat@example.org,Cat,Clark,FD 12,\n"
    );
    let before = app.snapshot(&app.a).await;
    let (status, report) = post_csv(
        &app,
        &app.a.admin.token,
        "/api/v1/members/import?dry_run=false",
        &csv,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["created"], 0);
    assert_eq!(
        error_lines(&report),
        vec![(4, "membership_number".to_string())]
    );
    assert_eq!(app.snapshot(&app.a).await, before);
    assert_eq!(user_id_by_username(&app, &app.a, "amy").await, None);
}

#[tokio::test]
async fn clean_import_creates_every_row_with_the_member_role() {
    let app = TestApp::spawn().await;
    // A BOM, CRLF line endings, blanks around values, quoted commas and optional columns.
    let csv = "\u{feff}Username,email,first_name,last_name,membership_number,rank,station,phone,hire_date,status,emergency_contact_name,emergency_contact_phone,emergency_contact_relationship\r\n\
               amy , amy@example.org ,Amy,Adams,FD-10,Captain,Station 1,555-0101,2015-06-01,active,\"Adams, Bill\",555-0102,spouse\r\n\
               bob,bob@example.org,Bob,Brown,,,,,,probationary,,,\r\n\
               cat,cat@example.org,Cat,Clark,FD-12,,,,,,,,\r\n";
    let audits_before = app.audit_count(&app.a).await;
    let (status, report) = post_csv(
        &app,
        &app.a.admin.token,
        "/api/v1/members/import?dry_run=false",
        csv,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["rows"], 3);
    assert_eq!(report["created"], 3);
    assert!(report["errors"].as_array().unwrap().is_empty());
    assert_eq!(user_count(&app, &app.a).await, 4);
    for (name, status) in [
        ("amy", "active"),
        ("bob", "probationary"),
        ("cat", "active"),
    ] {
        let id = user_id_by_username(&app, &app.a, name)
            .await
            .unwrap_or_else(|| panic!("{name} not imported"));
        assert_eq!(db_status(&app, id).await, status);
        assert_eq!(
            role_slugs(&app, id).await,
            vec!["member".to_string()],
            "{name}"
        );
    }
    let amy = user_id_by_username(&app, &app.a, "amy").await.unwrap();
    assert_eq!(
        db_column(&app, amy, "email").await.as_deref(),
        Some("amy@example.org")
    );
    assert_eq!(
        db_column(&app, amy, "emergency_contact_name")
            .await
            .as_deref(),
        Some("Adams, Bill")
    );
    assert_eq!(
        db_column(&app, amy, "hire_date").await.as_deref(),
        Some("2015-06-01")
    );
    let bob = user_id_by_username(&app, &app.a, "bob").await.unwrap();
    assert_eq!(db_column(&app, bob, "membership_number").await, None);
    assert_eq!(db_column(&app, bob, "rank").await, None);
    // Audited: each member created and given the Member role, and the import itself.
    assert_eq!(app.audit_actions(&app.a, "member.imported").await, 1);
    assert_eq!(app.audit_count(&app.a).await, audits_before + 3 * 2 + 1);
    // Nothing landed in the other organization.
    assert_eq!(user_id_by_username(&app, &app.b, "amy").await, None);
}

#[tokio::test]
async fn import_reports_duplicates_within_the_file_and_against_members() {
    let app = TestApp::spawn().await;
    create(
        &app,
        &app.a,
        json!({"username": "existing", "email": "existing@example.org", "first_name": "E",
               "last_name": "E", "membership_number": "FD-1"}),
    )
    .await;
    let csv = format!(
        "{HEADER}\n\
         amy,amy@example.org,Amy,Adams,FD-10,\n\
         AMY,amy2@example.org,Amy,Again,FD-11,\n\
         bea,AMY@example.org,Bea,Bell,FD-12,\n\
         cid,cid@example.org,Cid,Cole,FD-10,\n\
         existing,new@example.org,New,Person,,\n\
         dee,Existing@example.org,Dee,Dow,,\n\
         eve,eve@example.org,Eve,Ewing,FD-1,\n\
         fay,fay@example.org,Fay,Fox,FD-20,\n"
    );
    let before = app.snapshot(&app.a).await;
    for path in [
        "/api/v1/members/import",
        "/api/v1/members/import?dry_run=false",
    ] {
        let (status, report) = post_csv(&app, &app.a.admin.token, path, &csv).await;
        let expected_status = if path.ends_with("false") {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected_status, "{report}");
        assert_eq!(
            error_lines(&report),
            vec![
                (3, "username".to_string()),
                (4, "email".to_string()),
                (5, "membership_number".to_string()),
                (6, "username".to_string()),
                (7, "email".to_string()),
                (8, "membership_number".to_string()),
            ],
            "{report}"
        );
        let messages: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(messages[0].contains("line 2"), "{messages:?}");
        assert_eq!(report["valid_rows"], 2, "amy and fay");
        assert_eq!(app.snapshot(&app.a).await, before);
    }
}

#[tokio::test]
async fn import_refuses_bad_files_as_a_whole() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let before = app.snapshot(&app.a).await;
    for (csv, needle) in [
        (
            "username,email,first_name,last_name,shoe_size\namy,amy@example.org,A,A,9\n",
            "shoe_size",
        ),
        ("username,first_name,last_name\namy,A,A\n", "email"),
        (
            "email,first_name,last_name\namy@example.org,A,A\n",
            "username",
        ),
        ("", "username"),
        ("username,email,first_name,last_name\n", "no rows"),
    ] {
        for path in [
            "/api/v1/members/import",
            "/api/v1/members/import?dry_run=false",
        ] {
            let (status, body) = post_csv(&app, token, path, csv).await;
            assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error_fields(&body), vec!["file".to_string()], "{body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains(needle),
                "{csv:?}: {body}"
            );
            assert_eq!(app.snapshot(&app.a).await, before);
        }
    }
    // A row with the wrong number of cells is a row error with its line.
    let (status, report) = post_csv(
        &app,
        token,
        "/api/v1/members/import",
        "username,email,first_name,last_name\namy,amy@example.org,A,A\nbob,bob@example.org,B\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(error_lines(&report).first().map(|e| e.0), Some(3));
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn import_needs_members_manage() {
    let app = TestApp::spawn().await;
    let viewer = app
        .member_with(&app.a, "viewer", &["members.view", "users.view_contact"])
        .await;
    let before = app.snapshot(&app.a).await;
    let csv = format!("{HEADER}\namy,amy@example.org,Amy,Adams,FD-10,\n");
    for path in [
        "/api/v1/members/import",
        "/api/v1/members/import?dry_run=false",
    ] {
        let (status, body) = post_csv(&app, &viewer.token, path, &csv).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.snapshot(&app.a).await, before);
}

// ---------------------------------------------------------------------------------------------
// CSV export

const ALL_COLUMNS: &[&str] = &[
    "username",
    "email",
    "first_name",
    "last_name",
    "membership_number",
    "rank",
    "station",
    "phone",
    "hire_date",
    "status",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
];

#[tokio::test]
async fn export_has_header_rows_and_neutralises_formulas() {
    let app = TestApp::spawn().await;
    create(
        &app,
        &app.a,
        json!({"username": "formula", "email": "formula@example.org", "first_name": "=1+2",
               "last_name": "@SUM(A1)", "rank": "Lt, Engine 1", "phone": "555-0100",
               "hire_date": "2018-03-04"}),
    )
    .await;
    create(&app, &app.b, new_member("bravo-only")).await;
    let audits = app.audit_count(&app.a).await;
    let (status, content_type, text) = export(&app, &app.a.admin.token).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let (header, rows) = parse_csv(&text);
    assert_eq!(header, ALL_COLUMNS);
    assert_eq!(rows.len(), 2, "admin and one member: {text}");
    assert!(!text.contains("bravo-only"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = rows
        .iter()
        .find(|r| r[col("username")] == "formula")
        .unwrap();
    assert_eq!(row[col("first_name")], "'=1+2");
    assert_eq!(row[col("last_name")], "'@SUM(A1)");
    assert_eq!(row[col("rank")], "Lt, Engine 1");
    assert_eq!(row[col("email")], "formula@example.org");
    assert_eq!(row[col("phone")], "555-0100");
    assert_eq!(row[col("hire_date")], "2018-03-04");
    assert_eq!(row[col("status")], "active");
    assert_eq!(
        app.audit_count(&app.a).await,
        audits + 1,
        "exports are audited"
    );
    assert_eq!(app.audit_actions(&app.a, "member.exported").await, 1);
}

#[tokio::test]
async fn export_shows_contact_columns_only_with_users_view_contact() {
    let app = TestApp::spawn().await;
    create(
        &app,
        &app.a,
        json!({"username": "private", "email": "private-inbox@example.org", "first_name": "P",
               "last_name": "P", "phone": "555-0177", "emergency_contact_name": "Kin"}),
    )
    .await;
    let manager = app
        .member_with(&app.a, "manager", &["members.manage", "members.view"])
        .await;
    let (status, _, text) = export(&app, &manager.token).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (header, rows) = parse_csv(&text);
    assert_eq!(
        header,
        [
            "username",
            "first_name",
            "last_name",
            "membership_number",
            "rank",
            "station",
            "hire_date",
            "status"
        ]
    );
    assert_eq!(rows.len(), 3);
    assert!(!text.contains("private-inbox"), "{text}");
    assert!(!text.contains("555-0177"), "{text}");
    assert!(!text.contains("Kin"), "{text}");
    assert!(!text.contains("@example.org"), "{text}");

    let (_, _, text) = export(&app, &app.a.admin.token).await;
    assert!(text.contains("private-inbox@example.org"));
    assert!(text.contains("555-0177"));
}

#[tokio::test]
async fn export_needs_members_manage() {
    let app = TestApp::spawn().await;
    let viewer = app
        .member_with(&app.a, "viewer", &["members.view", "users.view_contact"])
        .await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = app.get(&viewer.token, "/api/v1/members/export").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn required_fields_given_as_null_are_refused() {
    let app = TestApp::spawn().await;
    let m = app.member(&app.a, "nully", &[]).await;
    let before = app.snapshot(&app.a).await;
    for field in ["email", "username", "first_name", "last_name"] {
        let (status, body) = app
            .patch(
                &app.a.admin.token,
                &format!("/api/v1/members/{}", m.id),
                serde_json::json!({ field: null }),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&body), vec![field.to_string()], "{body}");
    }
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn account_state_is_shown_only_to_the_member_and_managers() {
    let app = TestApp::spawn().await;
    let viewer = app.member(&app.a, "viewer", &[]).await;
    let admin = app.a.admin.id;
    let (status, body) = app
        .get(&viewer.token, &format!("/api/v1/members/{admin}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["must_change_password"].is_null(), "{body}");
    assert!(body["last_login_at"].is_null(), "{body}");
    let (_, own) = app
        .get(&viewer.token, &format!("/api/v1/members/{}", viewer.id))
        .await;
    assert_eq!(own["must_change_password"], false);
    assert!(own["last_login_at"].is_string(), "{own}");
    let (_, managed) = app
        .get(
            &app.a.admin.token,
            &format!("/api/v1/members/{}", viewer.id),
        )
        .await;
    assert_eq!(managed["must_change_password"], false);
}

#[tokio::test]
async fn a_manager_cannot_take_over_a_more_powerful_account() {
    let app = TestApp::spawn().await;
    let manager = app
        .member_with(&app.a, "manager", &["members.view", "members.manage"])
        .await;
    let admin = app.a.admin.id;
    let before = app.snapshot(&app.a).await;
    for body in [
        serde_json::json!({"email": "attacker@example.org"}),
        serde_json::json!({"username": "hijacked"}),
    ] {
        let (status, problem) = app
            .patch(&manager.token, &format!("/api/v1/members/{admin}"), body)
            .await;
        assert_problem(status, &problem, StatusCode::FORBIDDEN);
    }
    let (status, problem) = app
        .post(
            &manager.token,
            &format!("/api/v1/members/{admin}/status"),
            serde_json::json!({"status": "suspended", "reason": "coup"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    // The same manager may still edit an ordinary member's e-mail and the admin's rank.
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, body) = app
        .patch(
            &manager.token,
            &format!("/api/v1/members/{}", plain.id),
            serde_json::json!({"email": "plain2@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(
            &manager.token,
            &format!("/api/v1/members/{admin}"),
            serde_json::json!({"rank": "Chief"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
