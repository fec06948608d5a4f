//! The members pages over HTTP: who sees what, forms and their validation messages, the CSV
//! import preview.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

/// A member created through the API without signing in (faster than `app.member`).
async fn quick_member(app: &TestApp, org: &Org, username: &str, last: &str) -> Uuid {
    let (status, body) = app
        .post(
            &org.admin.token,
            "/api/v1/members",
            json!({"username": username, "email": format!("{username}@example.org"),
                   "first_name": "Quick", "last_name": last}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn status_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn users_in(app: &TestApp, org: &Org) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE organization_id = ?")
        .bind(org.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let id = app.a.admin.id;
    for path in [
        "/members".to_string(),
        "/members?q=a".to_string(),
        "/members/new".to_string(),
        "/members/import".to_string(),
        format!("/members/{id}"),
        format!("/members/{id}/edit"),
    ] {
        let (status, location, _) = app.page_get(&path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert!(location.starts_with("/login?next=/members"), "{path}");
    }
}

#[tokio::test]
async fn the_directory_shows_controls_and_contact_by_permission() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let plain = app.member(&app.a, "plain", &[]).await;
    let viewer = app
        .member_with(&app.a, "contacter", &["members.view", "users.view_contact"])
        .await;

    let (status, _, html) = app.page_get("/members", &admin).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<caption"), "{html}");
    assert!(html.contains(r#"href="/members/new""#), "{html}");
    assert!(html.contains(r#"href="/members/import""#));
    assert!(html.contains(r#"href="/api/v1/members/export""#));
    assert!(html.contains("E-mail</th>"));
    assert!(html.contains("plain@example.org"));
    assert!(html.contains(&format!(r#"href="/members/{}""#, plain.id)));
    assert!(!html.contains("bravo-admin"), "another org's member");

    // The directory is open by default: a plain member sees email and phone, no controls.
    let (status, _, html) = app.page_get("/members", &access_cookie(&plain)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&format!(r#"href="/members/{}""#, viewer.id)));
    assert!(!html.contains(r#"href="/members/new""#), "{html}");
    assert!(!html.contains("/members/import"));
    assert!(!html.contains("/api/v1/members/export"));
    assert!(html.contains("E-mail</th>"));
    assert!(html.contains("contacter@example.org"));

    // The department keeps contact details to officers (its settings page, a radio button).
    let (status, _, html) = app.page_get("/settings/department", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="contact_directory" value="members" checked"#),
        "{html}"
    );
    let (status, location, html) = app
        .page_post(
            "/settings/department",
            &admin,
            &[
                ("name", "Alpha Fire Department"),
                ("organization_type", "fire_department"),
                ("timezone", "America/Chicago"),
                ("contact_directory", "nobody"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{location}");
    assert!(html.contains(r#"id="contact_directory-error""#), "{html}");
    let (status, location, _) = app
        .page_post(
            "/settings/department",
            &admin,
            &[
                ("name", "Alpha Fire Department"),
                ("organization_type", "fire_department"),
                ("timezone", "America/Chicago"),
                ("contact_directory", "officers"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/department?done=saved");
    let (status, _, html) = app.page_get("/members", &access_cookie(&plain)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(!html.contains("E-mail</th>"));
    assert!(!html.contains("contacter@example.org"));

    let (status, _, html) = app.page_get("/members", &access_cookie(&viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("E-mail</th>"));
    assert!(html.contains("plain@example.org"));
    assert!(!html.contains(r#"href="/members/new""#));
}

#[tokio::test]
async fn the_directory_searches_filters_and_pages() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let mut ids = Vec::new();
    for i in 0..27 {
        ids.push(
            quick_member(
                &app,
                &app.a,
                &format!("pager{i:02}"),
                &format!("Pager{i:02}"),
            )
            .await,
        );
    }
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/status", ids[3]),
            json!({"status": "leave", "reason": "Parental leave"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, html) = app.page_get("/members?q=pager", &admin).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("27 members found"), "{html}");
    assert!(html.contains("Page 1 of 2"), "{html}");
    assert!(
        html.contains(r#"href="/members?q=pager&#38;page=2""#),
        "{html}"
    );
    assert!(html.contains("Pager00, Quick"));
    assert!(!html.contains("Pager25, Quick"), "page size 25");
    assert!(!html.contains(r#"rel="prev""#));
    assert!(
        !html.contains(&format!("/members/{}", app.a.admin.id)),
        "the search filters"
    );

    let (status, _, html) = app.page_get("/members?q=pager&page=2", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Page 2 of 2"));
    assert!(html.contains("Pager25, Quick") && html.contains("Pager26, Quick"));
    assert!(!html.contains("Pager00, Quick"));
    assert!(
        html.contains(r#"href="/members?q=pager&#38;page=1""#),
        "{html}"
    );
    assert!(!html.contains(r#"rel="next""#));

    let (status, _, html) = app.page_get("/members?status=leave", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 member found"), "{html}");
    assert!(html.contains("Pager03, Quick"));
    assert!(!html.contains("Pager04, Quick"));
    assert!(
        html.contains(r#"<option value="leave" selected>"#),
        "{html}"
    );

    let (status, _, html) = app
        .page_get("/members?q=pager&status=leave,active&page=2", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"href="/members?q=pager&#38;status=leave%2Cactive&#38;page=1""#),
        "{html}"
    );

    // Bad values are explained on the page, never a server error.
    for bad in [
        "/members?status=sleeping",
        "/members?page=0",
        "/members?page=abc",
    ] {
        let (status, _, html) = app.page_get(bad, &admin).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(html.contains(r#"id="members-error""#), "{bad}: {html}");
    }
    let (_, _, html) = app.page_get("/members?page=0", &admin).await;
    assert!(html.contains("Page must be 1 or more."), "{html}");
}

#[tokio::test]
async fn a_plain_member_sees_a_profile_without_edit_controls() {
    let app = TestApp::spawn().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let other = quick_member(&app, &app.a, "other", "Other").await;
    let b_member = quick_member(&app, &app.b, "bravo-one", "Bravo").await;

    let (status, _, html) = app
        .page_get(&format!("/members/{other}"), &access_cookie(&plain))
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Quick Other"));
    assert!(html.contains("Member"), "roles are listed: {html}");
    assert!(!html.contains("Edit"), "{html}");
    assert!(!html.contains("/status\""), "{html}");
    // The directory is open: email and phone, never the emergency contact.
    assert!(html.contains("other@example.org"), "{html}");
    assert!(!html.contains("Emergency contact"), "{html}");

    // Their own profile: contact details and a way to edit them, still no status form.
    let (status, _, html) = app
        .page_get(&format!("/members/{}", plain.id), &access_cookie(&plain))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("plain@example.org"));
    assert!(html.contains("Edit my contact details"));
    assert!(!html.contains("Change status"));

    // They keep their phone number to officers from their own edit form.
    let (status, _, html) = app
        .page_get(
            &format!("/members/{}/edit", plain.id),
            &access_cookie(&plain),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="hide_phone""#), "{html}");
    let (status, location, html) = app
        .page_post(
            &format!("/members/{}/edit", plain.id),
            &access_cookie(&plain),
            &[
                ("email", "plain@example.org"),
                ("phone", "555-0177"),
                ("hide_phone", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    assert_eq!(location, format!("/members/{}", plain.id));
    let neighbour = app.member(&app.a, "neighbour", &[]).await;
    let (_, _, html) = app
        .page_get(
            &format!("/members/{}", plain.id),
            &access_cookie(&neighbour),
        )
        .await;
    assert!(html.contains("plain@example.org"), "{html}");
    assert!(!html.contains("555-0177"), "{html}");
    assert!(html.contains("Shown to officers only"), "{html}");
    let (_, _, html) = app
        .page_get(
            &format!("/members/{}", plain.id),
            &access_cookie(&app.a.admin),
        )
        .await;
    assert!(html.contains("555-0177 (shown to officers only)"), "{html}");

    // The admin sees everything.
    let (status, _, html) = app
        .page_get(&format!("/members/{other}"), &access_cookie(&app.a.admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"href="/members/{other}/edit""#)));
    assert!(html.contains(&format!(r#"action="/members/{other}/status""#)));
    assert!(html.contains("other@example.org"));

    // Another organization's member, or no member at all: not found.
    for path in [
        format!("/members/{b_member}"),
        format!("/members/{b_member}/edit"),
        "/members/not-an-id".to_string(),
        format!("/members/{}", Uuid::now_v7()),
    ] {
        let (status, _, html) = app.page_get(&path, &access_cookie(&app.a.admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!html.contains("Bravo"), "{path}");
    }
    let (status, _, _) = app
        .page_post(
            &format!("/members/{b_member}/status"),
            &access_cookie(&app.a.admin),
            &[("status", "inactive"), ("reason", "Cross-org")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, b_member).await, "active");

    // A plain member cannot post a status change or an edit either.
    let (status, _, _) = app
        .page_post(
            &format!("/members/{other}/status"),
            &access_cookie(&plain),
            &[("status", "inactive"), ("reason", "Because")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_get(&format!("/members/{other}/edit"), &access_cookie(&plain))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_status_change_needs_a_reason_and_is_audited() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let id = quick_member(&app, &app.a, "changer", "Changer").await;
    let path = format!("/members/{id}/status");

    let before = app.audit_count(&app.a).await;
    let (status, _, html) = app
        .page_post(&path, &admin, &[("status", "leave"), ("reason", "")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="reason-error""#), "{html}");
    assert!(html.contains("Reason is required."), "{html}");
    assert!(html.contains(r#"aria-describedby="reason-hint reason-error""#));
    assert!(
        html.contains(r#"<option value="leave" selected>"#),
        "input kept"
    );
    assert_eq!(status_of(&app, id).await, "active");
    assert_eq!(app.audit_count(&app.a).await, before);

    // A status the lifecycle does not allow is reported beside the select.
    let (status, _, html) = app
        .page_post(&path, &admin, &[("status", "archived"), ("reason", "Tidy")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="status-error""#), "{html}");
    assert!(html.contains(">Tidy</textarea>"), "{html}");

    let (status, location, _) = app
        .page_post(
            &path,
            &admin,
            &[("status", "leave"), ("reason", "Parental leave")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/members/{id}"));
    assert_eq!(status_of(&app, id).await, "leave");
    let changes: Vec<String> = sqlx::query_scalar(
        "SELECT changes FROM audit_logs
          WHERE organization_id = ? AND action = 'member.status_changed' AND entity_id = ?",
    )
    .bind(app.a.id)
    .bind(id.to_string())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].contains("Parental leave"), "{}", changes[0]);

    let (_, _, html) = app.page_get(&format!("/members/{id}"), &admin).await;
    assert!(html.contains("Parental leave"), "reason shown: {html}");
}

#[tokio::test]
async fn creating_a_member_shows_errors_beside_fields() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, _, _) = app.page_get("/members/new", &access_cookie(&plain)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_post("/members/new", &access_cookie(&plain), &[("username", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, html) = app.page_get("/members/new", &admin).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "first_name",
        "last_name",
        "username",
        "email",
        "temporary_password",
    ] {
        assert!(
            html.contains(&format!(r#"<label for="{field}">"#)),
            "{field}: {html}"
        );
    }

    let count = users_in(&app, &app.a).await;
    let (status, _, html) = app
        .page_post(
            "/members/new",
            &admin,
            &[
                ("username", "newbie"),
                ("email", "not-an-address"),
                ("first_name", ""),
                ("last_name", "Newbie"),
                ("rank", "Firefighter"),
                ("status", "active"),
                ("temporary_password", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="first_name-error""#), "{html}");
    assert!(html.contains("First name is required."), "{html}");
    assert!(html.contains(r#"id="email-error""#), "{html}");
    assert!(!html.contains(r#"id="username-error""#));
    assert!(html.contains(r#"value="newbie""#), "input kept");
    assert!(html.contains(r#"value="Firefighter""#));
    assert_eq!(users_in(&app, &app.a).await, count);

    // A taken username is reported beside the field too.
    let (status, _, html) = app
        .page_post(
            "/members/new",
            &admin,
            &[
                ("username", "plain"),
                ("email", "new@example.org"),
                ("first_name", "New"),
                ("last_name", "Newbie"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="username-error""#), "{html}");

    let (status, location, html) = app
        .page_post(
            "/members/new",
            &admin,
            &[
                ("username", "newbie"),
                ("email", "newbie@example.org"),
                ("first_name", "New"),
                ("last_name", "Newbie"),
                ("membership_number", ""),
                ("hire_date", "2020-05-01"),
                ("status", "probationary"),
                ("temporary_password", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let id: Uuid = location.trim_start_matches("/members/").parse().unwrap();
    assert_eq!(status_of(&app, id).await, "probationary");
    let (status, _, html) = app.page_get(&location, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("New Newbie") && html.contains("05/01/2020"),
        "{html}"
    );
}

#[tokio::test]
async fn editing_a_member_and_ones_own_contact_details() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let plain = app.member(&app.a, "plain", &[]).await;
    let id = quick_member(&app, &app.a, "edited", "Edited").await;
    let path = format!("/members/{id}/edit");

    let (status, _, html) = app.page_get(&path, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="Edited""#), "{html}");
    assert!(html.contains(r#"value="edited@example.org""#));

    let (status, _, html) = app
        .page_post(
            &path,
            &admin,
            &[
                ("username", "edited"),
                ("first_name", "Quick"),
                ("last_name", ""),
                ("hire_date", "2999-01-01"),
                ("email", "edited@example.org"),
                ("phone", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="last_name-error""#), "{html}");
    assert!(html.contains(r#"id="hire_date-error""#), "{html}");
    assert!(html.contains(r#"value="2999-01-01""#), "input kept");

    let (status, location, _) = app
        .page_post(
            &path,
            &admin,
            &[
                ("username", "edited"),
                ("first_name", "Quick"),
                ("last_name", "Renamed"),
                ("rank", "Captain"),
                ("email", "edited@example.org"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/members/{id}"));
    let (_, _, html) = app.page_get(&format!("/members/{id}"), &admin).await;
    assert!(
        html.contains("Quick Renamed") && html.contains("Captain"),
        "{html}"
    );

    // A plain member edits only their own contact details.
    let own = format!("/members/{}/edit", plain.id);
    let (status, _, html) = app.page_get(&own, &access_cookie(&plain)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"<label for="email">"#));
    assert!(!html.contains(r#"<label for="first_name">"#), "{html}");
    let (status, _, html) = app
        .page_post(
            &own,
            &access_cookie(&plain),
            &[("email", "plain@example.org"), ("phone", "not a phone!")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="phone-error""#), "{html}");
    let (status, _, html) = app
        .page_post(
            &own,
            &access_cookie(&plain),
            &[
                ("email", "plain@example.org"),
                ("phone", "+1 555 0100"),
                // Fields the form does not show are ignored.
                ("first_name", "Sneaky"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    let (phone, first): (Option<String>, String) =
        sqlx::query_as("SELECT phone, first_name FROM users WHERE id = ?")
            .bind(plain.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(phone.is_some());
    assert_eq!(first, "Test");
}

#[tokio::test]
async fn the_csv_import_previews_errors_and_imports_all_or_nothing() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, _, _) = app
        .page_get("/members/import", &access_cookie(&plain))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .page_post("/members/import", &access_cookie(&plain), &[("csv", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, html) = app.page_get("/members/import", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<label for="csv">"#));

    let bad = "username,email,first_name,last_name\n\
               csv-one,one@example.org,One,Imported\n\
               csv-two,not-an-email,Two,Imported\n";
    let count = users_in(&app, &app.a).await;
    let (status, _, html) = app
        .page_post("/members/import", &admin, &[("csv", bad)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Nothing was imported"), "{html}");
    assert!(html.contains("<td>3</td><td>email</td>"), "{html}");
    assert!(html.contains("csv-two,not-an-email"), "the CSV is kept");
    assert_eq!(users_in(&app, &app.a).await, count);
    let (status, _, html) = app
        .page_post("/members/import", &admin, &[("csv", bad), ("commit", "1")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("<td>3</td><td>email</td>"), "{html}");
    assert_eq!(users_in(&app, &app.a).await, count);

    // A header the import cannot read is shown beside the box.
    let (status, _, html) = app
        .page_post(
            "/members/import",
            &admin,
            &[("csv", "nonsense,columns\n1,2\n")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(r#"id="csv-error""#) || html.contains("<td>"),
        "{html}"
    );
    assert_eq!(users_in(&app, &app.a).await, count);

    let good = "username,email,first_name,last_name,status\n\
                csv-one,one@example.org,One,Imported,active\n\
                csv-two,two@example.org,Two,Imported,probationary\n";
    let (status, _, html) = app
        .page_post("/members/import", &admin, &[("csv", good)])
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Ready to import") && html.contains("csv-two"),
        "{html}"
    );
    assert_eq!(users_in(&app, &app.a).await, count);
    let (status, _, html) = app
        .page_post("/members/import", &admin, &[("csv", good), ("commit", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Imported 2 members."), "{html}");
    assert_eq!(users_in(&app, &app.a).await, count + 2);
    let (_, _, html) = app.page_get("/members?q=Imported", &admin).await;
    assert!(html.contains("2 members found"), "{html}");
}

#[tokio::test]
async fn without_members_view_the_directory_is_forbidden() {
    let app = TestApp::spawn().await;
    let outsider = app.member_with(&app.a, "outsider", &["audit.view"]).await;
    let member_role = app.role_id(&app.a, "member").await;
    let (status, body) = app
        .delete(
            &app.a.admin.token,
            &format!("/api/v1/members/{}/roles/{member_role}", outsider.id),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let other = quick_member(&app, &app.a, "other", "Other").await;
    for path in ["/members".to_string(), format!("/members/{other}")] {
        let (status, _, html) = app.page_get(&path, &access_cookie(&outsider)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("members.view"), "{path}: {html}");
    }
    // Their own profile stays theirs to see.
    let (status, _, _) = app
        .page_get(
            &format!("/members/{}", outsider.id),
            &access_cookie(&outsider),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_import_template_is_a_file_the_import_takes_as_it_is() {
    let app = TestApp::spawn().await;
    let admin = access_cookie(&app.a.admin);
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, _, _) = app
        .page_get("/members/import/template.csv", &access_cookie(&plain))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, _, html) = app.page_get("/members/import", &admin).await;
    assert!(
        html.contains(r#"href="/members/import/template.csv""#),
        "{html}"
    );
    let res = app
        .page_get_response("/members/import/template.csv", &admin)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("members-template.csv")
    );
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("Username,E-mail,First Name,Last Name"),
        "{csv}"
    );

    // Its headers and its example row (a US date) are taken as they are.
    let count = users_in(&app, &app.a).await;
    let (status, _, html) = app
        .page_post("/members/import", &admin, &[("csv", &csv), ("commit", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Imported 1 member."), "{html}");
    assert_eq!(users_in(&app, &app.a).await, count + 1);
    let (status, body) = app.get(&app.a.admin.token, "/api/v1/members?q=jdoe").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["hire_date"], "2025-06-01", "{body}");
    assert_eq!(body["items"][0]["status"], "probationary", "{body}");
    assert_eq!(
        body["items"][0]["contact"]["emergency_contact_relationship"],
        "spouse"
    );
}
