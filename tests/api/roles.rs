//! Roles and permissions: the seeded system roles, the catalogue, custom roles, the privilege
//! ceiling, the last-admin guard, and a member's roles.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use logbook::auth::permissions::{SYSTEM_ROLES, catalogue};

use crate::harness::*;

// ---------------------------------------------------------------------------------------------
// Local helpers

const SYSTEM_ROLE_NAMES: &[&str] = &[
    "IT Administrator",
    "Chief",
    "President",
    "Assistant Chief",
    "Vice President",
    "Secretary",
    "Assistant Secretary",
    "Training Officer",
    "Quartermaster",
    "Member",
];

fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .parse()
        .unwrap()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn all_permissions() -> BTreeSet<String> {
    catalogue().into_iter().collect()
}

async fn create_role(
    app: &TestApp,
    token: &str,
    name: &str,
    perms: &[&str],
) -> (StatusCode, Value) {
    app.post(
        token,
        "/api/v1/roles",
        json!({"name": name, "permissions": perms}),
    )
    .await
}

/// Creates a role as org A's admin; panics unless 201.
async fn role(app: &TestApp, name: &str, perms: &[&str]) -> Uuid {
    let (status, body) = create_role(app, &app.a.admin.token, name, perms).await;
    assert_eq!(status, StatusCode::CREATED, "create role {name}: {body}");
    id_of(&body)
}

async fn db_role_permissions(app: &TestApp, role: Uuid) -> BTreeSet<String> {
    let perms: Vec<String> =
        sqlx::query_scalar("SELECT permission FROM role_permissions WHERE role_id = ?")
            .bind(role)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    perms.into_iter().collect()
}

async fn role_exists(app: &TestApp, role: Uuid) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM roles WHERE id = ?")
        .bind(role)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
        > 0
}

async fn holds(app: &TestApp, user: Uuid, role: Uuid) -> bool {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role_id = ?",
    )
    .bind(user)
    .bind(role)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
        > 0
}

async fn assignments_of_role(app: &TestApp, role: Uuid) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE role_id = ?")
        .bind(role)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn db_status(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM users WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn audit_action_count(app: &TestApp, org: &Org, action: &str, entity: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_logs
          WHERE organization_id = ? AND action = ? AND entity_id = ?",
    )
    .bind(org.id)
    .bind(action)
    .bind(entity.to_string())
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

async fn last_audit_changes(app: &TestApp, org: &Org, action: &str, entity: Uuid) -> Value {
    let changes: String = sqlx::query_scalar(
        "SELECT changes FROM audit_logs
          WHERE organization_id = ? AND action = ? AND entity_id = ?
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(org.id)
    .bind(action)
    .bind(entity.to_string())
    .fetch_one(&app.db.pool)
    .await
    .unwrap_or_else(|_| panic!("no {action} entry for {entity}"));
    serde_json::from_str(&changes).unwrap()
}

async fn assign(app: &TestApp, token: &str, user: Uuid, role: Uuid) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/members/{user}/roles"),
        json!({"role_id": role}),
    )
    .await
}

async fn unassign(app: &TestApp, token: &str, user: Uuid, role: Uuid) -> (StatusCode, Value) {
    app.delete(token, &format!("/api/v1/members/{user}/roles/{role}"))
        .await
}

async fn set_status(app: &TestApp, token: &str, user: Uuid, status: &str) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/members/{user}/status"),
        json!({"status": status, "reason": "guard test"}),
    )
    .await
}

fn slugs_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// System roles and the catalogue

#[tokio::test]
async fn system_roles_are_seeded_for_every_organization() {
    let app = TestApp::spawn().await;
    let mut ids_by_org = Vec::new();
    for org in [&app.a, &app.b] {
        let rows: Vec<(String, bool)> =
            sqlx::query_as("SELECT name, is_system FROM roles WHERE organization_id = ?")
                .bind(org.id)
                .fetch_all(&app.db.pool)
                .await
                .unwrap();
        let names: BTreeSet<String> = rows.iter().map(|r| r.0.clone()).collect();
        assert_eq!(names, set(SYSTEM_ROLE_NAMES), "{}", org.slug);
        assert_eq!(rows.len(), SYSTEM_ROLE_NAMES.len());
        assert!(
            rows.iter().all(|r| r.1),
            "every seeded role is a system role"
        );

        // Each seeded role grants exactly its declared permissions.
        for sys in SYSTEM_ROLES {
            let id = app.role_id(org, sys.slug).await;
            let expected: BTreeSet<String> = sys.permissions().into_iter().collect();
            assert_eq!(
                db_role_permissions(&app, id).await,
                expected,
                "{}",
                sys.slug
            );
        }

        let (status, list) = app.get(&org.admin.token, "/api/v1/roles").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let list = list.as_array().unwrap().clone();
        assert_eq!(list.len(), SYSTEM_ROLE_NAMES.len());
        for r in &list {
            assert_eq!(r["is_system"], true, "{r}");
        }
        let by_slug = |slug: &str| list.iter().find(|r| r["slug"] == slug).unwrap().clone();
        let admin = by_slug("it_administrator");
        assert_eq!(admin["name"], "IT Administrator");
        assert_eq!(strings(&admin["permissions"]), all_permissions());
        assert_eq!(admin["member_count"], 1);
        let member = by_slug("member");
        let member_perms = strings(&member["permissions"]);
        assert!(member_perms.contains("members.view"));
        for p in [
            "members.manage",
            "users.view_contact",
            "roles.manage",
            "settings.manage",
        ] {
            assert!(!member_perms.contains(p), "Member must not grant {p}");
        }
        assert_eq!(member["member_count"], 1, "the admin holds Member too");
        ids_by_org.push(
            list.iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect::<BTreeSet<_>>(),
        );
    }
    assert!(
        ids_by_org[0].is_disjoint(&ids_by_org[1]),
        "each organization has its own roles"
    );
    // A plain member (members.view) may read the roles too.
    let plain = app.member(&app.a, "plain", &[]).await;
    let (status, list) = app.get(&plain.token, "/api/v1/roles").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), SYSTEM_ROLE_NAMES.len());
}

#[tokio::test]
async fn permission_catalogue_is_listed_and_matches_the_table() {
    let app = TestApp::spawn().await;
    let (status, list) = app.get(&app.a.admin.token, "/api/v1/permissions").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    let names: BTreeSet<String> = list
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    // The catalogue, but a part of Logbook still to come is not offered.
    let offered: BTreeSet<String> = all_permissions()
        .into_iter()
        .filter(|p| logbook::auth::permissions::offered(p.split('.').next().unwrap()))
        .collect();
    assert!(offered.contains("minutes.manage") && !offered.contains("forms.view"));
    assert_eq!(names, offered);
    assert_eq!(list.len(), offered.len(), "no duplicates");
    for p in list {
        let name = p["name"].as_str().unwrap();
        assert_eq!(
            p["module"].as_str().unwrap(),
            name.split('.').next().unwrap().replace("users", "members"),
            "{p}"
        );
        assert!(!p["description"].as_str().unwrap().is_empty(), "{p}");
    }
    let table: Vec<String> = sqlx::query_scalar("SELECT name FROM permissions")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(table.len(), catalogue().len());
    assert_eq!(
        table.into_iter().collect::<BTreeSet<_>>(),
        all_permissions()
    );
    // The catalogue has what the issue names.
    for p in [
        "members.view",
        "members.manage",
        "users.view_contact",
        "roles.manage",
        "audit.view",
        "settings.manage",
        "training.view",
        "facilities.manage",
        "prospects.view",
    ] {
        assert!(all_permissions().contains(p), "{p}");
    }
    // Needs a signed-in caller.
    let res = app
        .client
        .get(app.url("/api/v1/permissions"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn system_roles_keep_name_and_existence_but_permissions_can_change() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let chief = app.role_id(&app.a, "chief").await;
    let before = app.snapshot(&app.a).await;

    let (status, body) = app.delete(token, &format!("/api/v1/roles/{chief}")).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(role_exists(&app, chief).await);

    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{chief}"),
            json!({"name": "Head Honcho"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["name".to_string()]);
    assert_eq!(app.snapshot(&app.a).await, before);

    // Its own name and a new description are fine.
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{chief}"),
            json!({"name": "Chief", "description": "Fire chief"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Chief");
    assert_eq!(body["slug"], "chief");
    assert_eq!(body["description"], "Fire chief");

    // Permissions of a system role can be edited.
    let qm = app.role_id(&app.a, "quartermaster").await;
    let mut perms = db_role_permissions(&app, qm).await;
    assert!(perms.contains("inventory.manage"));
    perms.insert("facilities.manage".into());
    perms.remove("inventory.manage");
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{qm}"),
            json!({"permissions": perms}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_system"], true);
    assert_eq!(strings(&body["permissions"]), perms);
    assert_eq!(db_role_permissions(&app, qm).await, perms);
    let changes = last_audit_changes(&app, &app.a, "role.updated", qm).await;
    assert!(
        !strings(&changes["permissions"]["from"]).contains("facilities.manage")
            && strings(&changes["permissions"]["to"]).contains("facilities.manage"),
        "{changes}"
    );
    // A holder of the role gets the new permission at once.
    let keeper = app.member(&app.a, "keeper", &["quartermaster"]).await;
    let (status, body) = app
        .post(
            &keeper.token,
            "/api/v1/roles",
            json!({"name": "Facilities crew", "permissions": ["facilities.manage"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN); // no roles.manage
    let me_perms: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT rp.permission FROM user_roles ur
           JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = ?",
    )
    .bind(keeper.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(me_perms.contains(&"facilities.manage".to_string()));
}

// ---------------------------------------------------------------------------------------------
// Custom roles

#[tokio::test]
async fn custom_roles_can_be_created_read_updated_cloned_and_deleted() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let (status, created) = app
        .post(
            token,
            "/api/v1/roles",
            json!({"name": "Engine Captain", "description": "Runs Engine 1",
                   "permissions": ["training.view", "members.view", "training.manage"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    assert_eq!(created["name"], "Engine Captain");
    assert_eq!(created["slug"], "engine_captain");
    assert_eq!(created["description"], "Runs Engine 1");
    assert_eq!(created["is_system"], false);
    assert_eq!(created["member_count"], 0);
    assert_eq!(
        created["permissions"],
        json!(["members.view", "training.manage", "training.view"]),
        "sorted"
    );
    assert_eq!(
        db_role_permissions(&app, id).await,
        set(&["members.view", "training.manage", "training.view"])
    );
    let org: Uuid = sqlx::query_scalar("SELECT organization_id FROM roles WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(org, app.a.id);
    assert_eq!(
        audit_action_count(&app, &app.a, "role.created", id).await,
        1
    );

    let (status, read) = app.get(token, &format!("/api/v1/roles/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, created);
    let (_, list) = app.get(token, "/api/v1/roles").await;
    assert!(slugs_of(&list).contains("engine_captain"));
    // Org B does not see it.
    let (status, _) = app
        .get(&app.b.admin.token, &format!("/api/v1/roles/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Update name, description and permissions.
    let (status, updated) = app
        .patch(
            token,
            &format!("/api/v1/roles/{id}"),
            json!({"name": "Engine Boss", "description": "", "permissions": ["events.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Engine Boss");
    assert_eq!(updated["slug"], "engine_boss");
    assert_eq!(updated["description"], "");
    assert_eq!(updated["permissions"], json!(["events.view"]));
    assert_eq!(db_role_permissions(&app, id).await, set(&["events.view"]));
    let changes = last_audit_changes(&app, &app.a, "role.updated", id).await;
    assert_eq!(
        changes["name"],
        json!({"from": "Engine Captain", "to": "Engine Boss"})
    );
    // A partial update keeps the rest.
    let (status, updated) = app
        .patch(
            token,
            &format!("/api/v1/roles/{id}"),
            json!({"description": "E1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Engine Boss");
    assert_eq!(updated["permissions"], json!(["events.view"]));

    // Clone: a new custom role with the same permissions and description.
    let (status, clone) = app
        .post(
            token,
            &format!("/api/v1/roles/{id}/clone"),
            json!({"name": "Engine Boss (copy)"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{clone}");
    let clone_id = id_of(&clone);
    assert_ne!(clone_id, id);
    assert_eq!(clone["is_system"], false);
    assert_eq!(clone["description"], "E1");
    assert_eq!(clone["permissions"], json!(["events.view"]));
    assert_eq!(
        db_role_permissions(&app, clone_id).await,
        set(&["events.view"])
    );
    // Cloning a system role gives an editable custom role.
    let secretary = app.role_id(&app.a, "secretary").await;
    let (status, sec_clone) = app
        .post(
            token,
            &format!("/api/v1/roles/{secretary}/clone"),
            json!({"name": "Recording Secretary"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sec_clone}");
    assert_eq!(sec_clone["is_system"], false);
    assert_eq!(
        db_role_permissions(&app, id_of(&sec_clone)).await,
        db_role_permissions(&app, secretary).await
    );

    // Delete: the role, its permissions and its assignments go; the members stay.
    let holder = app.member(&app.a, "holder", &[]).await;
    let (status, body) = assign(&app, token, holder.id, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(holds(&app, holder.id, id).await);
    let (status, body) = app.delete(token, &format!("/api/v1/roles/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!role_exists(&app, id).await);
    assert!(db_role_permissions(&app, id).await.is_empty());
    assert_eq!(assignments_of_role(&app, id).await, 0);
    let (status, roles) = app
        .get(token, &format!("/api/v1/members/{}/roles", holder.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slugs_of(&roles), set(&["member"]));
    let changes = last_audit_changes(&app, &app.a, "role.deleted", id).await;
    assert_eq!(changes["members_unassigned"], 1);
    assert_eq!(changes["name"], "Engine Boss");
    let (status, body) = app.get(token, &format!("/api/v1/roles/{id}")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(token, &format!("/api/v1/roles/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The clone is untouched.
    assert!(role_exists(&app, clone_id).await);

    // Org B's admin cannot touch org A's roles.
    let before = app.snapshot(&app.a).await;
    let b = &app.b.admin.token;
    let (status, _) = app
        .patch(
            b,
            &format!("/api/v1/roles/{clone_id}"),
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(b, &format!("/api/v1/roles/{clone_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            b,
            &format!("/api/v1/roles/{clone_id}/clone"),
            json!({"name": "Stolen"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot(&app.a).await, before);
}

#[tokio::test]
async fn unknown_permissions_and_duplicate_names_are_refused() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let existing = role(&app, "Engine Captain", &["members.view"]).await;
    let other = role(&app, "Truck Captain", &["members.view"]).await;
    let before = app.snapshot(&app.a).await;

    for perms in [
        json!(["members.view", "members.fly"]),
        json!(["*"]),
        json!(["members.*"]),
        json!(["MEMBERS.VIEW"]),
    ] {
        let (status, body) = app
            .post(
                token,
                "/api/v1/roles",
                json!({"name": "Fresh", "permissions": perms}),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&body),
            vec!["permissions".to_string()],
            "{body}"
        );
        let (status, body) = app
            .patch(
                token,
                &format!("/api/v1/roles/{existing}"),
                json!({"permissions": perms}),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&body),
            vec!["permissions".to_string()],
            "{body}"
        );
        assert_eq!(app.snapshot(&app.a).await, before, "{perms}");
    }

    for name in [
        "Engine Captain",
        "engine captain",
        "Engine-Captain!",
        "Member",
        "  ",
    ] {
        let (status, body) = create_role(&app, token, name, &["members.view"]).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error_fields(&body),
            vec!["name".to_string()],
            "{name}: {body}"
        );
        assert_eq!(app.snapshot(&app.a).await, before, "{name}");
    }
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{other}"),
            json!({"name": "Engine Captain"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["name".to_string()]);
    let (status, body) = app
        .post(
            token,
            &format!("/api/v1/roles/{other}/clone"),
            json!({"name": "Engine Captain"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["name".to_string()]);
    assert_eq!(app.snapshot(&app.a).await, before);

    // The name is free in the other organization.
    let (status, body) = create_role(&app, &app.b.admin.token, "Engine Captain", &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn roles_need_roles_manage() {
    let app = TestApp::spawn().await;
    let manager = app
        .member_with(&app.a, "manager", &["members.manage", "members.view"])
        .await;
    let custom = role(&app, "Engine Captain", &["members.view"]).await;
    let before = app.snapshot(&app.a).await;
    let t = &manager.token;
    let (status, body) = create_role(&app, t, "Mine", &["members.view"]).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/roles/{custom}"),
            json!({"description": "x"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app.delete(t, &format!("/api/v1/roles/{custom}")).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/roles/{custom}/clone"),
            json!({"name": "Copy"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
}

// ---------------------------------------------------------------------------------------------
// The privilege ceiling

#[tokio::test]
async fn nobody_grants_a_permission_they_do_not_hold() {
    let app = TestApp::spawn().await;
    // Holds roles.manage and members.view (and, like every member, the Member role's views).
    let delegate = app
        .member_with(&app.a, "delegate", &["roles.manage", "members.view"])
        .await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let t = &delegate.token;
    let it_admin = app.role_id(&app.a, "it_administrator").await;
    let chief = app.role_id(&app.a, "chief").await;
    let admin_made = role(&app, "Admin made", &["members.view"]).await;
    let before = app.snapshot(&app.a).await;

    // Creating a role with a permission they lack.
    let (status, body) = create_role(&app, t, "Sneaky", &["members.manage"]).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("members.manage"),
        "{body}"
    );
    let (status, body) =
        create_role(&app, t, "Sneaky", &["members.view", "users.view_contact"]).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Adding a permission they lack to an existing role.
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/roles/{admin_made}"),
            json!({"permissions": ["members.view", "members.manage"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Assigning a role that holds more than they do.
    for (who, role_id) in [
        (delegate.id, it_admin),
        (plain.id, it_admin),
        (plain.id, chief),
    ] {
        let (status, body) = assign(&app, t, who, role_id).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    // Cloning a role that holds more than they do is creating it.
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/roles/{it_admin}/clone"),
            json!({"name": "My admin"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(!holds(&app, plain.id, it_admin).await);

    // Within their own set: allowed.
    let (status, body) = create_role(&app, t, "Viewers", &["members.view", "training.view"]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let viewers = id_of(&body);
    let (status, body) = assign(&app, t, plain.id, viewers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(holds(&app, plain.id, viewers).await);
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/roles/{admin_made}"),
            json!({"permissions": ["members.view", "events.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        db_role_permissions(&app, admin_made).await,
        set(&["members.view", "events.view"])
    );
    // Their own custom role (roles.manage + members.view) is within their set.
    let own = app.role_id(&app.a, "role_for_delegate").await;
    let (status, body) = assign(&app, t, plain.id, own).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_manager_cannot_reset_the_password_of_someone_with_more_permissions() {
    let app = TestApp::spawn().await;
    let manager = app
        .member_with(&app.a, "manager", &["members.manage", "members.view"])
        .await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            &manager.token,
            &format!("/api/v1/members/{}/password-reset", app.a.admin.id),
            json!({"temporary_password": "a brand new passphrase 42"}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("settings.manage"),
        "{body}"
    );
    assert_eq!(app.snapshot(&app.a).await, before);
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "the admin's session is intact");

    // A member whose permissions the manager holds: reset, forced change, sessions ended.
    let (status, body) = app
        .post(
            &manager.token,
            &format!("/api/v1/members/{}/password-reset", plain.id),
            json!({"temporary_password": "a brand new passphrase 42"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let must: bool = sqlx::query_scalar("SELECT must_change_password FROM users WHERE id = ?")
        .bind(plain.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(must);
    let (status, _) = app.get(&plain.token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        audit_action_count(&app, &app.a, "member.password_reset", plain.id).await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// The last-admin guard

#[tokio::test]
async fn the_only_admin_cannot_remove_themself() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let admin = app.a.admin.id;
    let it_admin = app.role_id(&app.a, "it_administrator").await;
    // Members who hold members.manage but are not active do not count.
    let away = app.member(&app.a, "away", &["it_administrator"]).await;
    let gone = app.member(&app.a, "gone", &["chief"]).await;
    sqlx::query("UPDATE users SET status = 'leave' WHERE id = ?")
        .bind(away.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET status = 'suspended' WHERE id = ?")
        .bind(gone.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let plain = app.member(&app.a, "plain", &["secretary"]).await;
    sqlx::query("UPDATE users SET status = 'retired' WHERE id = ?")
        .bind(plain.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let before = app.snapshot(&app.a).await;

    for status in [
        "suspended",
        "inactive",
        "dropped_voluntary",
        "dropped_involuntary",
        "leave",
        "retired",
    ] {
        let (code, body) = set_status(&app, token, admin, status).await;
        assert_problem(code, &body, StatusCode::CONFLICT);
        assert_eq!(app.snapshot(&app.a).await, before, "{status}");
    }
    let (code, body) = unassign(&app, token, admin, it_admin).await;
    assert_problem(code, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);

    let without_manage: Vec<String> = catalogue()
        .into_iter()
        .filter(|p| p != "members.manage")
        .collect();
    let (code, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{it_admin}"),
            json!({"permissions": without_manage}),
        )
        .await;
    assert_problem(code, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);

    assert_eq!(db_status(&app, admin).await, "active");
    let (code, _) = app.get(token, "/api/v1/auth/me").await;
    assert_eq!(code, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn a_custom_role_that_is_the_only_source_of_members_manage_stays() {
    let app = TestApp::spawn().await;
    let boss_role = role(
        &app,
        "Boss",
        &["members.manage", "members.view", "roles.manage"],
    )
    .await;
    let boss = app.member(&app.a, "boss", &[]).await;
    let (status, body) = assign(&app, &app.a.admin.token, boss.id, boss_role).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The boss holds fewer permissions than the admin, so may not set them inactive...
    let (status, body) = set_status(&app, &boss.token, app.a.admin.id, "inactive").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // ...but with two managers, the admin may step down themself.
    let (status, body) = set_status(&app, &app.a.admin.token, app.a.admin.id, "inactive").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Now the custom role is the only source of members.manage for the only active manager.
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .delete(&boss.token, &format!("/api/v1/roles/{boss_role}"))
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
    let (status, body) = unassign(&app, &boss.token, boss.id, boss_role).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
    let (status, body) = app
        .patch(
            &boss.token,
            &format!("/api/v1/roles/{boss_role}"),
            json!({"permissions": ["members.view", "roles.manage"]}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
    let (status, body) = set_status(&app, &boss.token, boss.id, "leave").await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(role_exists(&app, boss_role).await);

    // With the admin back, the role can go, and its assignment with it.
    let (status, body) = set_status(&app, &boss.token, app.a.admin.id, "active").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .delete(&boss.token, &format!("/api/v1/roles/{boss_role}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!role_exists(&app, boss_role).await);
    assert!(!holds(&app, boss.id, boss_role).await);
    // Without the role, the former boss manages nothing.
    let (status, body) = create_role(&app, &boss.token, "Again", &[]).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_a_second_active_admin_the_same_changes_succeed() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let admin = app.a.admin.id;
    let it_admin = app.role_id(&app.a, "it_administrator").await;
    // Chief grants everything too, so removing members.manage from IT Administrator leaves a
    // manager.
    let chief = app.member(&app.a, "chief2", &["chief"]).await;
    let admin2 = app.member(&app.a, "admin2", &["it_administrator"]).await;

    let without_manage: Vec<String> = catalogue()
        .into_iter()
        .filter(|p| p != "members.manage")
        .collect();
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{it_admin}"),
            json!({"permissions": without_manage}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !db_role_permissions(&app, it_admin)
            .await
            .contains("members.manage")
    );
    // The admin no longer holds members.manage, so cannot grant it back ...
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{it_admin}"),
            json!({"permissions": catalogue()}),
        )
        .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // ... but the chief can.
    let (status, body) = app
        .patch(
            &chief.token,
            &format!("/api/v1/roles/{it_admin}"),
            json!({"permissions": catalogue()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(db_role_permissions(&app, it_admin).await, all_permissions());

    // Unassigning their own IT Administrator role.
    let (status, body) = unassign(&app, token, admin, it_admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(slugs_of(&body), set(&["member"]));
    assert!(!holds(&app, admin, it_admin).await);
    let (status, body) = assign(&app, &chief.token, admin, it_admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Suspending themself: done, and their session ends.
    let (status, body) = set_status(&app, token, admin, "suspended").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(db_status(&app, admin).await, "suspended");
    let (status, _) = app.get(token, "/api/v1/members").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A second IT Administrator can be dropped by the chief, too.
    let (status, body) = set_status(&app, &chief.token, admin2.id, "dropped_voluntary").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // But now the chief is the only one left.
    let chief_role = app.role_id(&app.a, "chief").await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = unassign(&app, &chief.token, chief.id, chief_role).await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    assert_eq!(app.snapshot(&app.a).await, before);
}

// ---------------------------------------------------------------------------------------------
// A member's roles

#[tokio::test]
async fn member_roles_list_assign_idempotently_and_unassign() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let plain = app.member(&app.a, "plain", &[]).await;
    let other = app.member(&app.a, "other", &[]).await;
    let secretary = app.role_id(&app.a, "secretary").await;
    let path = format!("/api/v1/members/{}/roles", plain.id);

    let (status, list) = app.get(token, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(slugs_of(&list), set(&["member"]));
    let entry = &list[0];
    assert_eq!(entry["name"], "Member");
    assert_eq!(entry["is_system"], true);
    assert!(entry["assigned_at"].is_string());
    // The member themself and another member (members.view) can see it.
    for t in [&plain.token, &other.token] {
        let (status, list) = app.get(t, &path).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(slugs_of(&list), set(&["member"]));
    }
    let (status, list) = app
        .get(token, &format!("/api/v1/members/{}/roles", app.a.admin.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slugs_of(&list), set(&["it_administrator", "member"]));

    // Assigning twice: one assignment, one audit entry.
    for _ in 0..2 {
        let (status, list) = assign(&app, token, plain.id, secretary).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(slugs_of(&list), set(&["member", "secretary"]));
    }
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE user_id = ? AND role_id = ?")
            .bind(plain.id)
            .bind(secretary)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, 1);
    let assigned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_logs WHERE organization_id = ?
            AND action = 'member.role_assigned' AND entity_id = ? AND changes LIKE ?",
    )
    .bind(app.a.id)
    .bind(plain.id.to_string())
    .bind(format!("%{secretary}%"))
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(assigned, 1);
    // The new role's permissions apply at once.
    let (status, _) = app.get(&plain.token, "/api/v1/members/export").await;
    assert_eq!(status, StatusCode::OK, "secretary holds members.manage");

    // Unassigning what is not there: 404, nothing changes.
    let before = app.snapshot(&app.a).await;
    let chief = app.role_id(&app.a, "chief").await;
    for role in [Uuid::now_v7(), chief] {
        let (status, body) = unassign(&app, token, plain.id, role).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    let (status, _) = app
        .delete(
            token,
            &format!("/api/v1/members/{}/roles/not-a-uuid", plain.id),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = unassign(&app, token, Uuid::now_v7(), secretary).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Unknown roles, other organizations' roles and unknown members.
    let (status, body) = assign(&app, token, plain.id, Uuid::now_v7()).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["role_id".to_string()]);
    let b_role = app.role_id(&app.b, "member").await;
    let (status, body) = assign(&app, token, plain.id, b_role).await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), vec!["role_id".to_string()]);
    let (status, _) = assign(&app, token, Uuid::now_v7(), secretary).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&app.b.admin.token, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot(&app.a).await, before);

    // Unassign.
    let (status, list) = unassign(&app, token, plain.id, secretary).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(slugs_of(&list), set(&["member"]));
    assert!(!holds(&app, plain.id, secretary).await);
    assert_eq!(
        audit_action_count(&app, &app.a, "member.role_unassigned", plain.id).await,
        1
    );
}

#[tokio::test]
async fn member_roles_need_roles_manage_to_change() {
    let app = TestApp::spawn().await;
    let manager = app
        .member_with(
            &app.a,
            "manager",
            &["members.manage", "members.view", "users.view_contact"],
        )
        .await;
    let plain = app.member(&app.a, "plain", &["quartermaster"]).await;
    let qm = app.role_id(&app.a, "quartermaster").await;
    let member = app.role_id(&app.a, "member").await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = assign(&app, &manager.token, plain.id, member).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = unassign(&app, &manager.token, plain.id, qm).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    // Not even on oneself.
    let (status, body) = unassign(&app, &plain.token, plain.id, qm).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot(&app.a).await, before);
    assert!(holds(&app, plain.id, qm).await);
}
