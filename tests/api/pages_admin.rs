//! The roles, audit log and security alerts pages: who sees them, and that their forms go
//! through the same rules as the API (ceiling, last manager, validation, audit).

use reqwest::StatusCode;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::harness::*;

async fn permissions_of(app: &TestApp, role: Uuid) -> Vec<String> {
    let mut p: Vec<String> =
        sqlx::query_scalar("SELECT permission FROM role_permissions WHERE role_id = ?")
            .bind(role)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    p.sort();
    p
}

async fn custom_role(app: &TestApp, org: &Org, name: &str, perms: &[&str]) -> Uuid {
    let (status, body) = app
        .post(
            &org.admin.token,
            "/api/v1/roles",
            serde_json::json!({"name": name, "permissions": perms}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn holds(app: &TestApp, user: Uuid, role: Uuid) -> bool {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role_id = ?")
            .bind(user)
            .bind(role)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    n > 0
}

#[tokio::test]
async fn who_sees_the_admin_pages() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    app.member(&app.a, "plain", &[]).await;
    let plain = app.page_sign_in("plain", PASSWORD).await;
    app.member_with(&app.a, "keeper", &["roles.manage", "members.view"])
        .await;
    let keeper = app.page_sign_in("keeper", PASSWORD).await;
    app.member_with(&app.a, "auditor", &["audit.view"]).await;
    let auditor = app.page_sign_in("auditor", PASSWORD).await;
    let role = app.role_id(&app.a, "member").await;

    for path in ["/roles", "/audit", "/security-alerts"] {
        let (status, location, _) = app.page_get(path, "").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location, format!("/login?next={path}"));
        let (status, _, html) = app.page_get(path, &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("<h1"), "an error page: {html}");
        let (status, _, _) = app.page_get(path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    for path in [
        "/roles/new".to_string(),
        format!("/roles/{role}"),
        format!("/roles/{role}/delete"),
    ] {
        let (status, _, _) = app.page_get(&path, &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _, _) = app.page_get(&path, &keeper).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // A plain POST is refused too, and changes nothing.
    let before = app.snapshot(&app.a).await;
    let (status, _, _) = app
        .page_post(
            &format!("/roles/{role}"),
            &plain,
            &[("name", "Member"), ("permissions", "audit.view")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(before, app.snapshot(&app.a).await);

    // The keeper sees roles but not the audit pages; the auditor the other way round.
    assert_eq!(app.page_get("/roles", &keeper).await.0, StatusCode::OK);
    assert_eq!(
        app.page_get("/audit", &keeper).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.page_get("/audit", &auditor).await.0, StatusCode::OK);
    assert_eq!(
        app.page_get("/security-alerts", &auditor).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.page_get("/roles", &auditor).await.0,
        StatusCode::FORBIDDEN
    );

    // The navigation shows only what the viewer may open.
    let (_, _, html) = app.page_get("/", &plain).await;
    assert!(!html.contains(r#"href="/roles""#));
    assert!(!html.contains(r#"href="/audit""#));
    let (_, _, html) = app.page_get("/", &keeper).await;
    assert!(html.contains(r#"href="/roles""#));
    assert!(!html.contains(r#"href="/audit""#));
    let (_, _, html) = app.page_get("/", &auditor).await;
    assert!(html.contains(r#"href="/audit""#));
    assert!(html.contains(r#"href="/security-alerts""#));

    // The list: every role with its member count and the system badge.
    let (_, _, html) = app.page_get("/roles", &admin).await;
    assert!(html.contains("IT Administrator"), "{html}");
    assert!(html.contains("Role for keeper"));
    assert!(html.contains(r#"<span class="badge">System</span>"#));
}

#[tokio::test]
async fn another_organizations_roles_and_alerts_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let theirs = app.role_id(&app.b, "member").await;
    let their_member = app.member(&app.b, "bravo-one", &[]).await;
    let ours = app.role_id(&app.a, "member").await;
    let alert = raise_alert(&app, &app.b, "bravo alert").await;
    let before = app.snapshot(&app.b).await;
    for path in [
        format!("/roles/{theirs}"),
        format!("/roles/{theirs}/delete"),
        "/roles/not-a-uuid".to_string(),
    ] {
        let (status, _, html) = app.page_get(&path, &admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("<html"), "an HTML page");
    }
    for path in [
        format!("/roles/{theirs}"),
        format!("/roles/{theirs}/delete"),
        format!("/roles/{theirs}/members"),
        format!("/roles/{theirs}/members/{}/remove", their_member.id),
    ] {
        let (status, _, _) = app
            .page_post(
                &path,
                &admin,
                &[("name", "X"), ("user_id", &their_member.id.to_string())],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Their member cannot be given our role either.
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{ours}/members"),
            &admin,
            &[("user_id", &their_member.id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("No such member"), "{html}");
    for path in [
        format!("/security-alerts/{alert}/acknowledge"),
        format!("/security-alerts/{alert}/resolve"),
    ] {
        let (status, _, _) = app.page_post(&path, &admin, &[("note", "x")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, _, html) = app.page_get("/security-alerts", &admin).await;
    assert!(!html.contains("bravo alert"));
    let (_, _, html) = app.page_get("/audit", &admin).await;
    assert!(!html.contains("bravo-one"));
    assert_eq!(before, app.snapshot(&app.b).await);
}

#[tokio::test]
async fn editing_permissions_through_the_form_is_saved_and_audited() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let role = custom_role(&app, &app.a, "Drivers", &["training.view"]).await;

    let (status, _, html) = app.page_get(&format!("/roles/{role}"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"value="Drivers""#), "{html}");
    // Grouped by module, each with its description, the held ones ticked.
    assert!(html.contains("<legend>training</legend>"), "{html}");
    assert!(
        html.contains(
            r#"id="perm-training-view" name="permissions" value="training.view" checked"#
        ),
        "{html}"
    );
    assert!(
        html.contains(
            r#"id="perm-training-manage" name="permissions" value="training.manage" aria"#
        )
    );
    assert!(html.contains(r#"<label for="perm-training-view">"#));
    // A part of Logbook still to come is not offered.
    assert!(!html.contains("forms.view"), "{html}");

    let audits = app.audit_count(&app.a).await;
    let (status, location, _) = app
        .page_post(
            &format!("/roles/{role}"),
            &admin,
            &[
                ("name", "Apparatus drivers"),
                ("description", "Drive the trucks"),
                ("permissions", "announcements.manage"),
                ("permissions", "training.view"),
                ("permissions", "audit.view"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/roles/{role}"));
    assert_eq!(
        permissions_of(&app, role).await,
        ["announcements.manage", "audit.view", "training.view"]
    );
    assert_eq!(app.audit_count(&app.a).await, audits + 1);
    let (action, changes): (String, String) = sqlx::query_as(
        "SELECT action, CAST(changes AS CHAR) FROM audit_logs WHERE organization_id = ?
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(action, "role.updated");
    assert!(changes.contains("training.view"), "{changes}");
    assert!(changes.contains("Apparatus drivers"), "{changes}");

    // Unticking everything removes every permission.
    let (status, _, _) = app
        .page_post(
            &format!("/roles/{role}"),
            &admin,
            &[("name", "Apparatus drivers"), ("description", "")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(permissions_of(&app, role).await.is_empty());

    // Creating through the form.
    let (status, location, _) = app
        .page_post(
            "/roles/new",
            &admin,
            &[("name", "Hazmat team"), ("permissions", "inventory.view")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let new_id: Uuid = location.trim_start_matches("/roles/").parse().unwrap();
    assert_eq!(permissions_of(&app, new_id).await, ["inventory.view"]);
}

#[tokio::test]
async fn the_ceiling_refusal_is_shown_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let role = custom_role(&app, &app.a, "Drivers", &["events.view"]).await;
    app.member_with(&app.a, "keeper", &["roles.manage", "members.view"])
        .await;
    let keeper = app.page_sign_in("keeper", PASSWORD).await;
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{role}"),
            &keeper,
            &[
                ("name", "Drivers, renamed"),
                ("permissions", "events.view"),
                ("permissions", "audit.view"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("You cannot grant permissions you do not hold: audit.view"),
        "{html}"
    );
    assert!(html.contains(r#"role="alert""#));
    // The input is kept.
    assert!(html.contains(r#"value="Drivers, renamed""#), "{html}");
    assert!(html.contains(r#"value="audit.view" checked"#));
    assert_eq!(before, app.snapshot(&app.a).await);

    // Assigning a role above the keeper's own permissions is refused the same way.
    let big = app.role_id(&app.a, "chief").await;
    let m = app.member(&app.a, "someone", &[]).await;
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{big}/members"),
            &keeper,
            &[("user_id", &m.id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("You cannot grant permissions you do not hold"));
    assert_eq!(before, app.snapshot(&app.a).await);
}

#[tokio::test]
async fn the_last_manager_refusal_is_shown() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let it = app.role_id(&app.a, "it_administrator").await;
    let mut perms = permissions_of(&app, it).await;
    perms.retain(|p| p != "members.manage");
    let mut form: Vec<(&str, &str)> = vec![("name", "IT Administrator")];
    form.extend(perms.iter().map(|p| ("permissions", p.as_str())));
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app.page_post(&format!("/roles/{it}"), &admin, &form).await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(
        html.contains("no active member who can manage members"),
        "{html}"
    );
    assert!(!html.contains(r#"value="members.manage" checked"#));
    assert_eq!(before, app.snapshot(&app.a).await);

    // Taking the role from the only administrator is refused too.
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{it}/members/{}/remove", app.a.admin.id),
            &admin,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains(r#"id="members-error""#), "{html}");
    assert!(html.contains("no active member who can manage members"));
    assert_eq!(before, app.snapshot(&app.a).await);

    // A system role keeps its name.
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{it}"),
            &admin,
            &[("name", "Boss"), ("permissions", "members.manage")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="name-error""#), "{html}");
    assert!(html.contains("A system role keeps its name"));
}

#[tokio::test]
async fn a_validation_error_is_shown_beside_the_name() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/roles/new", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<label for="name">"#));
    let before = app.snapshot(&app.a).await;
    let (status, _, html) = app
        .page_post(
            "/roles/new",
            &admin,
            &[
                ("name", "   "),
                ("description", "Kept <b>as typed</b>"),
                ("permissions", "training.manage"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="name-error""#), "{html}");
    assert!(html.contains(r#"aria-invalid="true" aria-describedby="name-error""#));
    assert!(html.contains("Kept &#60;b&#62;as typed") || html.contains("Kept &lt;b&gt;as typed"));
    assert!(html.contains(r#"value="training.manage" checked"#));
    assert_eq!(before, app.snapshot(&app.a).await);

    // A name another role has is shown beside the name too.
    let (status, _, html) = app
        .page_post("/roles/new", &admin, &[("name", "Chief")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="name-error""#), "{html}");
}

#[tokio::test]
async fn a_delete_asks_first() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let role = custom_role(&app, &app.a, "Short-lived", &["events.view"]).await;
    let (status, _, html) = app.page_get(&format!("/roles/{role}/delete"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Delete the role “Short-lived”?"), "{html}");
    assert!(html.contains(&format!(r#"action="/roles/{role}/delete""#)));
    let exists = |id: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM roles WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(exists(role).await, 1, "asking deletes nothing");
    let (status, location, _) = app
        .page_post(&format!("/roles/{role}/delete"), &admin, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/roles");
    assert_eq!(exists(role).await, 0);

    // System roles cannot be deleted: the page says so, and the POST is refused.
    let chief = app.role_id(&app.a, "chief").await;
    let (status, _, html) = app
        .page_get(&format!("/roles/{chief}/delete"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("System roles cannot be deleted"));
    let (status, _, html) = app
        .page_post(&format!("/roles/{chief}/delete"), &admin, &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("System roles cannot be deleted"));
    assert_eq!(exists(chief).await, 1);
}

#[tokio::test]
async fn members_are_assigned_and_unassigned_through_forms() {
    let app = TestApp::spawn().await;
    let admin = app.page_sign_in("alpha-admin", PASSWORD).await;
    let role = custom_role(&app, &app.a, "Drivers", &["events.view"]).await;
    let m = app.member(&app.a, "driver-dan", &[]).await;
    let (_, _, html) = app.page_get(&format!("/roles/{role}"), &admin).await;
    assert!(html.contains("Nobody holds this role yet"), "{html}");
    assert!(
        html.contains(&format!(r#"<option value="{}">"#, m.id)),
        "{html}"
    );

    let audits = app.audit_count(&app.a).await;
    let (status, location, _) = app
        .page_post(
            &format!("/roles/{role}/members"),
            &admin,
            &[("user_id", &m.id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/roles/{role}#members"));
    assert!(holds(&app, m.id, role).await);
    assert_eq!(app.audit_count(&app.a).await, audits + 1);
    let (_, _, html) = app.page_get(&format!("/roles/{role}"), &admin).await;
    assert!(html.contains("(driver-dan)"), "{html}");
    let remove = format!("/roles/{role}/members/{}/remove", m.id);
    assert!(html.contains(&format!(r#"action="{remove}""#)));
    let (_, _, list) = app.page_get("/roles", &admin).await;
    assert!(list.contains(r#"<td class="admin-num">1</td>"#));

    let (status, _, _) = app.page_post(&remove, &admin, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!holds(&app, m.id, role).await);
    assert_eq!(app.audit_count(&app.a).await, audits + 2);

    // Nobody chosen: a message, nothing assigned.
    let (status, _, html) = app
        .page_post(
            &format!("/roles/{role}/members"),
            &admin,
            &[("user_id", "")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose a member"), "{html}");
}

async fn raise_alert(app: &TestApp, org: &Org, message: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO security_alerts (id, organization_id, alert_type, severity, message, user_id,
            ip_address, status, created_at)
         VALUES (?, ?, 'failed_logins', 'warning', ?, NULL, '10.0.0.9', 'open', UTC_TIMESTAMP(6))",
    )
    .bind(id)
    .bind(org.id)
    .bind(message)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id
}

const NO_UPDATE_TRIGGER: &str = "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs \
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: UPDATE refused'";

#[tokio::test]
async fn the_audit_page_shows_local_times_and_the_chain_status() {
    // Private: it replaces a trigger that guards audit_logs, which is the whole database's.
    let app = TestApp::spawn_private().await;
    app.member(&app.a, "logged-one", &[]).await;
    app.member_with(&app.a, "auditor", &["audit.view"]).await;
    let auditor = app.page_sign_in("auditor", PASSWORD).await;
    let (status, _, html) = app.page_get("/audit", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    let count = app.audit_count(&app.a).await;
    assert!(
        html.contains(&format!("verified {count} entries")),
        "{count}: {html}"
    );
    assert!(html.contains("Times are in America/Chicago"));

    // The newest entry's time, in Chicago's time.
    let (sequence, at): (u64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT sequence, occurred_at FROM audit_logs WHERE organization_id = ?
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let local = at
        .with_timezone(&chrono_tz::America::Chicago)
        .format("%m/%d/%Y %-I:%M:%S %p %Z")
        .to_string();
    assert!(local.ends_with("CST") || local.ends_with("CDT"));
    assert!(html.contains(&local), "{local}: {html}");
    assert!(html.contains("member.role_assigned"));

    // Filtering by action and by member.
    let (_, _, html) = app
        .page_get("/audit?action=member.created&member=&from=&to=", &auditor)
        .await;
    assert!(html.contains("<code>member.created</code>"), "{html}");
    assert!(!html.contains("<code>member.role_assigned</code>"));
    let (_, _, html) = app
        .page_get(&format!("/audit?member={}", app.a.admin.id), &auditor)
        .await;
    assert!(html.contains("<code>member.created</code>"));
    let (_, _, html) = app
        .page_get(&format!("/audit?member={}", Uuid::now_v7()), &auditor)
        .await;
    assert!(html.contains(">0 entries,"), "{html}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .date_naive();
    let (_, _, html) = app
        .page_get(&format!("/audit?from={today}&to={today}"), &auditor)
        .await;
    assert!(html.contains(&format!(">{count} entries,")), "{html}");
    // Entries read as sentences with names, and filter by kind of change in words.
    let (_, _, html) = app.page_get("/audit?kind=members", &auditor).await;
    assert!(html.contains("<code>member.role_assigned</code>"), "{html}");
    assert!(!html.contains("<code>auth.login</code>"), "{html}");
    assert!(html.contains(" the role "), "a role by its name: {html}");
    let (status, _, _) = app.page_get("/audit?kind=nonsense", &auditor).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an unknown kind is no filter on the page"
    );
    let (status, _, html) = app.page_get("/audit?from=yesterday", &auditor).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="from-error""#), "{html}");

    // Tampering behind the triggers' back is named.
    let pool = &app.db.pool;
    sqlx::query("DROP TRIGGER audit_logs_no_update")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_logs SET actor_label = 'somebody else'
          WHERE organization_id = ? AND sequence = 2",
    )
    .bind(app.a.id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(AssertSqlSafe(NO_UPDATE_TRIGGER.to_string()))
        .execute(pool)
        .await
        .unwrap();
    let (status, _, html) = app.page_get("/audit", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Chain broken at entry 2:"), "{html}");
    assert!(html.contains("the entry was altered"), "{html}");
    let _ = sequence;
}

#[tokio::test]
async fn alerts_are_acknowledged_and_resolved_through_forms() {
    let app = TestApp::spawn().await;
    app.member_with(&app.a, "auditor", &["audit.view"]).await;
    let auditor = app.page_sign_in("auditor", PASSWORD).await;
    let first = raise_alert(&app, &app.a, "Many failed sign-ins for chief").await;
    let second = raise_alert(&app, &app.a, "Odd hour sign-in").await;

    let (status, _, html) = app.page_get("/security-alerts", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Many failed sign-ins for chief"), "{html}");
    assert!(html.contains(&format!(r#"action="/security-alerts/{first}/acknowledge""#)));

    let audits = app.audit_count(&app.a).await;
    let (status, location, _) = app
        .page_post(
            &format!("/security-alerts/{first}/acknowledge"),
            &auditor,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/security-alerts");
    assert_eq!(app.audit_count(&app.a).await, audits + 1);
    let (_, _, html) = app
        .page_get("/security-alerts?status=acknowledged", &auditor)
        .await;
    assert!(html.contains("Many failed sign-ins for chief"));
    assert!(!html.contains("Odd hour sign-in"));
    assert!(html.contains(r#"<option value="acknowledged" selected>"#));

    // Twice is a conflict, shown as a message.
    let (status, _, html) = app
        .page_post(
            &format!("/security-alerts/{first}/acknowledge"),
            &auditor,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("The alert is already acknowledged"), "{html}");

    let (status, _, _) = app
        .page_post(
            &format!("/security-alerts/{second}/resolve"),
            &auditor,
            &[("note", "It was the chief on night shift")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = app
        .page_get("/security-alerts?status=resolved", &auditor)
        .await;
    assert!(html.contains("It was the chief on night shift"), "{html}");
    assert!(!html.contains("Many failed sign-ins"));
    let (status, _, html) = app
        .page_post(
            &format!("/security-alerts/{second}/resolve"),
            &auditor,
            &[("note", "")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("The alert is already resolved"));

    // A plain member can do neither.
    app.member(&app.a, "plain", &[]).await;
    let plain = app.page_sign_in("plain", PASSWORD).await;
    let (status, _, _) = app
        .page_post(
            &format!("/security-alerts/{first}/resolve"),
            &plain,
            &[("note", "")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
