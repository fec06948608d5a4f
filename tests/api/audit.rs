//! The audit log: every mutation writes an entry in its own transaction (who, from where, what
//! changed, never a secret); each organization has its own gapless hash chain; the database
//! refuses to rewrite history; tampering done behind the triggers' back is named by
//! `GET /api/v1/audit-logs/verify` and `logbook audit verify`; the list's filters; security
//! alerts.

use chrono::Timelike;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::harness::*;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The trigger statements, copied from `migrations/202611251400_core.sql`.
const NO_UPDATE_TRIGGER: &str = "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs \
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: UPDATE refused'";
const NO_DELETE_TRIGGER: &str = "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs \
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: DELETE refused'";

/// One stored audit entry, read straight from the table.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Logged {
    id: Uuid,
    organization_id: Uuid,
    sequence: u64,
    actor_user_id: Option<Uuid>,
    actor_label: String,
    ip_address: Option<String>,
    action: String,
    entity_id: Option<String>,
    changes: String,
    previous_hash: String,
    hash: String,
}

impl Logged {
    fn changes(&self) -> Value {
        serde_json::from_str(&self.changes).expect("changes is JSON")
    }
}

async fn entries(app: &TestApp, org: &Org) -> Vec<Logged> {
    sqlx::query_as(
        "SELECT id, organization_id, sequence, actor_user_id, actor_label, ip_address, action,
                entity_id, changes, previous_hash, hash
           FROM audit_logs WHERE organization_id = ? ORDER BY sequence",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

async fn last_sequence(app: &TestApp, org: &Org) -> u64 {
    entries(app, org).await.last().map_or(0, |e| e.sequence)
}

/// The entries written after `mark` (a sequence number).
async fn after(app: &TestApp, org: &Org, mark: u64) -> Vec<Logged> {
    entries(app, org)
        .await
        .into_iter()
        .filter(|e| e.sequence > mark)
        .collect()
}

fn actions(list: &[Logged]) -> Vec<&str> {
    list.iter().map(|e| e.action.as_str()).collect()
}

/// Every entry was made by `user` from the address the test's requests come from.
fn made_by(app: &TestApp, list: &[Logged], user: &User) {
    for e in list {
        assert_eq!(e.actor_user_id, Some(user.id), "actor of {e:?}");
        assert_eq!(e.actor_label, user.username, "actor label of {e:?}");
        assert_eq!(
            e.ip_address.as_deref(),
            Some(app.client_ip().as_str()),
            "ip of {e:?}"
        );
    }
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

fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

async fn verify(app: &TestApp, org: &Org) -> Value {
    let (status, body) = app.get(&org.admin.token, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Runs `sql` with the triggers that guard `audit_logs` out of the way, then puts them back.
async fn behind_the_triggers(app: &TestApp, sql: &str, bind: Uuid) {
    let pool = &app.db.pool;
    sqlx::query("DROP TRIGGER audit_logs_no_update")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_logs_no_delete")
        .execute(pool)
        .await
        .unwrap();
    let done = sqlx::query(AssertSqlSafe(sql.to_string()))
        .bind(bind)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(done, 1, "tampering touched {done} rows");
    sqlx::query(NO_UPDATE_TRIGGER).execute(pool).await.unwrap();
    sqlx::query(NO_DELETE_TRIGGER).execute(pool).await.unwrap();
}

/// A few audited changes in `org`, so that the chain has a middle.
async fn some_activity(app: &TestApp, org: &Org, prefix: &str) {
    for i in 0..3 {
        let (status, body) = app
            .post(
                &org.admin.token,
                "/api/v1/members",
                json!({"username": format!("{prefix}-{i}"), "email": format!("{prefix}{i}@example.org"),
                       "first_name": "Chain", "last_name": format!("Link {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Runs `logbook audit verify` against the test database; returns (success, stdout).
async fn cli_verify(app: &TestApp) -> (bool, String) {
    cli_verify_with(app, &[]).await
}

async fn cli_verify_with(app: &TestApp, extra: &[&str]) -> (bool, String) {
    let data_dir = temp_dir();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(["audit", "verify"])
        .args(extra)
        .env("LOGBOOK_DATABASE_URL", &app.db.url)
        .env("LOGBOOK_DATA_DIR", &data_dir)
        .env("LOGBOOK_LOG", "warn")
        .output()
        .await
        .expect("run logbook audit verify");
    let _ = std::fs::remove_dir_all(&data_dir);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.is_empty() || !stderr.contains("panicked"),
        "logbook audit verify panicked: {stderr}"
    );
    (out.status.success(), stdout)
}

// ---------------------------------------------------------------------------------------------
// What gets written

#[tokio::test]
async fn every_mutation_writes_an_entry_with_actor_ip_and_changes() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.clone();
    let t = admin.token.as_str();
    let org = &app.a;
    // Everything secret that passes through these requests; none may reach the log.
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        admin.token.clone(),
        admin.refresh.clone(),
        app.b.admin.token.clone(),
        app.b.admin.refresh.clone(),
    ];

    // Create a member (with a temporary password).
    let temporary = "temporary passphrase for the new one 42";
    secrets.push(temporary.into());
    let mark = last_sequence(&app, org).await;
    let (status, carol) = app
        .post(
            t,
            "/api/v1/members",
            json!({"username": "carol", "email": "carol@example.org", "first_name": "Carol",
                   "last_name": "Danvers", "temporary_password": temporary}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    let carol_id = id_of(&carol);
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.created", "member.role_assigned"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].entity_id.as_deref(), Some(carol_id.as_str()));
    let c = new[0].changes();
    assert_eq!(c["username"], "carol");
    assert_eq!(c["email"], "carol@example.org");
    assert_eq!(c["first_name"], "Carol");
    assert_eq!(c["last_name"], "Danvers");
    assert_eq!(c["status"], "active");
    assert_eq!(c["password_set"], true);
    assert!(c.get("temporary_password").is_none(), "{c}");
    let member_role = app.role_id(org, "member").await;
    assert_eq!(new[1].changes(), json!({"role_id": member_role}));
    assert_eq!(new[1].entity_id.as_deref(), Some(carol_id.as_str()));

    // Update: only the fields that changed, from and to.
    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/members/{carol_id}"),
            json!({"rank": "Captain", "first_name": "Carol", "station": "Station 2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.updated"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].changes(),
        json!({"rank": {"from": null, "to": "Captain"},
               "station": {"from": null, "to": "Station 2"}})
    );

    // Status change, with its reason.
    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/members/{carol_id}/status"),
            json!({"status": "leave", "reason": "Deployed overseas"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.status_changed"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].changes(),
        json!({"status": {"from": "active", "to": "leave"}, "reason": "Deployed overseas",
               "sessions_ended": false})
    );

    // Role create, update, assign, unassign, delete.
    let mark = last_sequence(&app, org).await;
    let (status, role) = app
        .post(
            t,
            "/api/v1/roles",
            json!({"name": "Pump Operators", "description": "Drive the engine",
                   "permissions": ["training.manage", "members.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let role_id = id_of(&role);
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["role.created"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].entity_id.as_deref(), Some(role_id.as_str()));
    assert_eq!(
        new[0].changes(),
        json!({"name": "Pump Operators", "description": "Drive the engine",
               "permissions": ["members.view", "training.manage"]})
    );

    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .patch(
            t,
            &format!("/api/v1/roles/{role_id}"),
            json!({"name": "Engine Drivers", "permissions": ["members.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["role.updated"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].changes(),
        json!({"name": {"from": "Pump Operators", "to": "Engine Drivers"},
               "permissions": {"from": ["members.view", "training.manage"],
                               "to": ["members.view"]}})
    );

    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/members/{carol_id}/roles"),
            json!({"role_id": role_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.role_assigned"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].entity_id.as_deref(), Some(carol_id.as_str()));
    assert_eq!(new[0].changes(), json!({"role_id": role_id}));

    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .delete(t, &format!("/api/v1/members/{carol_id}/roles/{role_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.role_unassigned"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].changes(), json!({"role_id": role_id}));

    let mark = last_sequence(&app, org).await;
    let (status, body) = app.delete(t, &format!("/api/v1/roles/{role_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["role.deleted"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].entity_id.as_deref(), Some(role_id.as_str()));
    let c = new[0].changes();
    assert_eq!(c["name"], "Engine Drivers");
    assert_eq!(c["permissions"], json!(["members.view"]));

    // Admin password reset: recorded, the password is not.
    let reset = "a reset passphrase nobody guesses";
    secrets.push(reset.into());
    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/members/{carol_id}/password-reset"),
            json!({"temporary_password": reset}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.password_reset"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].changes(),
        json!({"must_change_password": true, "sessions_ended": true, "via": "api"})
    );

    // A failed sign-in: anonymous, from the address it came from.
    let wrong = "not the right password at all";
    secrets.push(wrong.into());
    let mark = last_sequence(&app, org).await;
    let res = app.login_response("carol", wrong, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["auth.login_failed"]);
    assert_eq!(new[0].actor_user_id, None);
    assert_eq!(new[0].ip_address.as_deref(), Some(app.client_ip().as_str()));
    assert_eq!(new[0].entity_id.as_deref(), Some(carol_id.as_str()));
    assert_eq!(
        new[0].changes(),
        json!({"consecutive_failures": 1, "locked": false})
    );

    // Sign-in, password change and sign-out, by the member herself.
    let mark = last_sequence(&app, org).await;
    let carol_user = app.login("carol", reset).await;
    secrets.push(carol_user.token.clone());
    secrets.push(carol_user.refresh.clone());
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["auth.login"]);
    made_by(&app, &new, &carol_user);

    let changed = "her own new passphrase 2026";
    secrets.push(changed.into());
    let mark = last_sequence(&app, org).await;
    let (status, tokens) = app
        .post(
            &carol_user.token,
            "/api/v1/auth/change-password",
            json!({"current_password": reset, "new_password": changed}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let new_token = tokens["access_token"].as_str().unwrap().to_string();
    secrets.push(new_token.clone());
    secrets.push(tokens["refresh_token"].as_str().unwrap().to_string());
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["auth.password_changed"]);
    made_by(&app, &new, &carol_user);

    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .call(Method::POST, &new_token, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["auth.logout"]);
    made_by(&app, &new, &carol_user);

    // The organization's profile.
    let mark = last_sequence(&app, org).await;
    let (status, body) = app
        .patch(
            t,
            "/api/v1/organization",
            json!({"county": "Travis County", "phone": "+1 512 555 0100", "name": "Alpha Fire Department"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["organization.updated"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].entity_id.as_deref(),
        Some(org.id.to_string().as_str())
    );
    assert_eq!(
        new[0].changes(),
        json!({"county": {"from": null, "to": "Travis County"},
               "phone": {"from": null, "to": "+1 512 555 0100"}})
    );

    // CSV import (committed) and export.
    let mark = last_sequence(&app, org).await;
    let res = app
        .client
        .post(app.url("/api/v1/members/import?dry_run=false"))
        .bearer_auth(t)
        .header("content-type", "text/csv")
        .body("username,email,first_name,last_name\ndave,dave@example.org,Dave,Lister\n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let new = after(&app, org, mark).await;
    assert_eq!(
        actions(&new),
        ["member.created", "member.role_assigned", "member.imported"]
    );
    made_by(&app, &new, &admin);
    assert_eq!(new[0].changes()["username"], "dave");
    assert_eq!(new[2].changes(), json!({"rows": 1, "created": 1}));

    let mark = last_sequence(&app, org).await;
    let res = app
        .client
        .get(app.url("/api/v1/members/export"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let new = after(&app, org, mark).await;
    assert_eq!(actions(&new), ["member.exported"]);
    made_by(&app, &new, &admin);

    // Nothing in either organization's log holds a password, a hash or a token.
    for org in [&app.a, &app.b] {
        for e in entries(&app, org).await {
            let text = format!("{} {} {:?}", e.changes, e.actor_label, e.entity_id);
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked into {e:?}"
                );
            }
            for word in ["password_hash", "$argon2", "refresh_token", "access_token"] {
                assert!(!text.contains(word), "`{word}` in {e:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_failed_audit_write_undoes_the_change() {
    // Private: it puts a trigger on audit_logs, which is the whole database's.
    let app = TestApp::spawn_private().await;
    let pool = &app.db.pool;
    sqlx::query(
        "CREATE TRIGGER audit_logs_test_refuse BEFORE INSERT ON audit_logs FOR EACH ROW
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: audit writes refused'",
    )
    .execute(pool)
    .await
    .unwrap();
    let before_a = app.snapshot(&app.a).await;
    let t = &app.a.admin.token;
    let new_member = json!({"username": "ghost", "email": "ghost@example.org",
                            "first_name": "Ghost", "last_name": "Writer"});
    let (status, body) = app.post(t, "/api/v1/members", new_member.clone()).await;
    assert_problem(status, &body, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = app
        .patch(t, "/api/v1/organization", json!({"county": "Nowhere"}))
        .await;
    assert_problem(status, &body, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = app
        .post(
            t,
            "/api/v1/roles",
            json!({"name": "Unrecorded", "permissions": []}),
        )
        .await;
    assert_problem(status, &body, StatusCode::INTERNAL_SERVER_ERROR);
    unchanged(&before_a, &app.snapshot(&app.a).await, "a change survived");
    let ghosts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'ghost'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(ghosts, 0);

    sqlx::query("DROP TRIGGER audit_logs_test_refuse")
        .execute(pool)
        .await
        .unwrap();
    let (status, body) = app.post(t, "/api/v1/members", new_member).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(verify(&app, &app.a).await["valid"], true);
}

// ---------------------------------------------------------------------------------------------
// The chain

/// Checks an organization's chain from the raw rows: sequence 1..n without gaps, each entry
/// linked to the one before, each hash what the entry's contents give, and the head at the end.
async fn assert_chain_holds(app: &TestApp, org: &Org) -> Vec<Logged> {
    let list = entries(app, org).await;
    assert!(!list.is_empty());
    let mut previous = GENESIS.to_string();
    for (i, e) in list.iter().enumerate() {
        assert_eq!(e.sequence, i as u64 + 1, "sequence gap before {e:?}");
        assert_eq!(e.organization_id, org.id);
        assert_eq!(e.previous_hash, previous, "link broken at {}", e.sequence);
        assert_eq!(e.hash.len(), 64);
        previous = e.hash.clone();
    }
    let stored: Vec<logbook::audit::chain::StoredEntry> = sqlx::query_as(
        "SELECT id, organization_id, sequence, occurred_at, actor_user_id, actor_label,
                ip_address, action, entity_type, entity_id, severity, changes, previous_hash, hash
           FROM audit_logs WHERE organization_id = ? ORDER BY sequence",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    for e in &stored {
        assert_eq!(e.compute_hash(), e.hash, "hash of entry {}", e.sequence);
    }
    let (last_sequence, last_hash): (u64, String) = sqlx::query_as(
        "SELECT last_sequence, last_hash FROM audit_chain_heads WHERE organization_id = ?",
    )
    .bind(org.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(last_sequence, list.len() as u64);
    assert_eq!(last_hash, previous);
    list
}

#[tokio::test]
async fn each_organization_has_its_own_gapless_linked_chain() {
    let app = TestApp::spawn().await;
    some_activity(&app, &app.a, "alpha").await;
    some_activity(&app, &app.b, "bravo").await;
    let a = assert_chain_holds(&app, &app.a).await;
    let b = assert_chain_holds(&app, &app.b).await;
    // Separate chains: both start at 1 from the genesis hash and share no entry.
    assert_eq!(a[0].previous_hash, GENESIS);
    assert_eq!(b[0].previous_hash, GENESIS);
    assert_eq!(a[0].action, "organization.created");
    assert!(
        a.iter()
            .all(|e| b.iter().all(|f| f.hash != e.hash && f.id != e.id))
    );
    let a_before = a.len();
    // Activity in B does not move A's chain.
    some_activity(&app, &app.b, "bravo-more").await;
    assert_eq!(entries(&app, &app.a).await.len(), a_before);

    for org in [&app.a, &app.b] {
        let report = verify(&app, org).await;
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["first_broken"], Value::Null);
        assert_eq!(
            report["entries_checked"].as_u64(),
            Some(entries(&app, org).await.len() as u64)
        );
    }
}

#[tokio::test]
async fn concurrent_changes_keep_the_chain_gapless_and_verify_stays_valid() {
    let app = TestApp::spawn().await;
    let mut set = JoinSet::new();
    for (n, org) in [&app.a, &app.b, &app.a, &app.b, &app.a, &app.a]
        .into_iter()
        .enumerate()
    {
        for i in 0..4 {
            let client = app.client.clone();
            let url = app.url("/api/v1/members");
            let token = org.admin.token.clone();
            set.spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"username": format!("busy-{n}-{i}"),
                                  "email": format!("busy{n}{i}@example.org"),
                                  "first_name": "Busy", "last_name": "Bee"}))
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.text().await.unwrap())
            });
        }
        // Verification running while others append must not report a false break.
        for _ in 0..2 {
            let client = app.client.clone();
            let url = app.url("/api/v1/audit-logs/verify");
            let token = org.admin.token.clone();
            set.spawn(async move {
                let res = client.get(url).bearer_auth(token).send().await.unwrap();
                (res.status(), res.text().await.unwrap())
            });
        }
    }
    // Collect everything before judging: a panic while requests are in flight would leave the
    // server's transactions open and the test database undroppable.
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.push(done.unwrap());
    }
    for (status, body) in &answers {
        assert!(status.is_success(), "{status}: {body}");
        assert!(
            !body.contains("\"valid\":false"),
            "verify during appends: {body}"
        );
    }
    assert_chain_holds(&app, &app.a).await;
    assert_chain_holds(&app, &app.b).await;
    assert_eq!(verify(&app, &app.a).await["valid"], true);
    assert_eq!(verify(&app, &app.b).await["valid"], true);
}

#[tokio::test]
async fn the_database_refuses_update_and_delete_on_audit_logs() {
    // Private: it runs UPDATE and DELETE over the whole of audit_logs.
    let app = TestApp::spawn_private().await;
    let before = entries(&app, &app.a).await;
    let pool = &app.db.pool;
    let err =
        sqlx::query("UPDATE audit_logs SET actor_label = 'someone else' WHERE organization_id = ?")
            .bind(app.a.id)
            .execute(pool)
            .await
            .expect_err("UPDATE on audit_logs was allowed");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit_logs WHERE organization_id = ?")
        .bind(app.a.id)
        .execute(pool)
        .await
        .expect_err("DELETE on audit_logs was allowed");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit_logs")
        .execute(pool)
        .await
        .expect_err("DELETE of every entry was allowed");
    assert!(err.to_string().contains("append-only"), "{err}");
    let after: Vec<(Uuid, String, String)> = entries(&app, &app.a)
        .await
        .into_iter()
        .map(|e| (e.id, e.actor_label, e.hash))
        .collect();
    let before: Vec<(Uuid, String, String)> = before
        .into_iter()
        .map(|e| (e.id, e.actor_label, e.hash))
        .collect();
    assert_eq!(after, before);
}

// ---------------------------------------------------------------------------------------------
// Tampering

#[tokio::test]
async fn an_altered_entry_is_named_by_the_api_and_the_command() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    // And `logbook audit verify` checks every department on the host.
    let app = TestApp::spawn_private().await;
    some_activity(&app, &app.a, "alpha").await;
    some_activity(&app, &app.b, "bravo").await;
    let (ok, stdout) = cli_verify(&app).await;
    assert!(ok, "clean chains fail verification: {stdout}");
    assert_eq!(verify(&app, &app.a).await["valid"], true);

    // Rewrite what one entry in the middle of A's chain says.
    let list = entries(&app, &app.a).await;
    let victim = list[list.len() / 2].clone();
    assert!(victim.sequence > 1 && victim.sequence < list.len() as u64);
    behind_the_triggers(
        &app,
        "UPDATE audit_logs SET changes = '{\"note\":\"nothing happened here\"}' WHERE id = ?",
        victim.id,
    )
    .await;

    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"]["sequence"].as_u64(),
        Some(victim.sequence),
        "{report}"
    );
    assert_eq!(
        report["first_broken"]["id"].as_str(),
        Some(victim.id.to_string().as_str()),
        "{report}"
    );
    assert_eq!(
        report["entries_checked"].as_u64(),
        Some(victim.sequence - 1)
    );
    // The other organization is untouched and still verifies.
    assert_eq!(verify(&app, &app.b).await["valid"], true);

    let (ok, stdout) = cli_verify(&app).await;
    assert!(!ok, "a broken chain exits with success: {stdout}");
    let alpha = stdout
        .lines()
        .find(|l| l.starts_with(&app.a.slug))
        .unwrap_or_else(|| panic!("no line for {}: {stdout}", app.a.slug));
    assert!(
        alpha.contains(&format!("BROKEN at entry {}", victim.sequence)),
        "{stdout}"
    );
    assert!(alpha.contains(&victim.id.to_string()), "{stdout}");
    let bravo = stdout
        .lines()
        .find(|l| l.starts_with(&app.b.slug))
        .unwrap_or_else(|| panic!("no line for {}: {stdout}", app.b.slug));
    assert!(bravo.contains("ok"), "{stdout}");

    // Asked about the other organization only, the command is content.
    let (ok, stdout) = cli_verify_with(&app, &["--org", &app.b.slug]).await;
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&app.b.slug) && !stdout.contains(&app.a.slug),
        "{stdout}"
    );
    let (ok, stdout) = cli_verify_with(&app, &["--org", &app.a.slug]).await;
    assert!(!ok, "{stdout}");
    let (ok, stdout) = cli_verify_with(&app, &["--org", "no-such-department"]).await;
    assert!(!ok, "an unknown organization passes: {stdout}");

    // The triggers are back in force.
    let err = sqlx::query("UPDATE audit_logs SET changes = '{}' WHERE id = ?")
        .bind(victim.id)
        .execute(&app.db.pool)
        .await
        .expect_err("the update trigger is gone");
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn an_altered_actor_on_the_latest_entry_is_detected() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    let app = TestApp::spawn_private().await;
    some_activity(&app, &app.a, "alpha").await;
    let last = entries(&app, &app.a).await.pop().unwrap();
    behind_the_triggers(
        &app,
        "UPDATE audit_logs SET actor_label = 'somebody-else' WHERE id = ?",
        last.id,
    )
    .await;
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"]["sequence"].as_u64(),
        Some(last.sequence)
    );
    assert_eq!(
        report["first_broken"]["id"].as_str(),
        Some(last.id.to_string().as_str())
    );
    assert_eq!(verify(&app, &app.b).await["valid"], true);
}

#[tokio::test]
async fn an_entry_rewritten_with_a_fresh_hash_breaks_the_link_to_the_next() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    let app = TestApp::spawn_private().await;
    some_activity(&app, &app.a, "alpha").await;
    let list = entries(&app, &app.a).await;
    let victim = list[2].clone();
    // A forger who recomputes the altered entry's own hash still breaks the next entry's link.
    let mut stored: logbook::audit::chain::StoredEntry = sqlx::query_as(
        "SELECT id, organization_id, sequence, occurred_at, actor_user_id, actor_label,
                ip_address, action, entity_type, entity_id, severity, changes, previous_hash, hash
           FROM audit_logs WHERE id = ?",
    )
    .bind(victim.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    stored.changes = "{\"forged\":true}".into();
    let forged_hash = stored.compute_hash();
    behind_the_triggers(
        &app,
        &format!(
            "UPDATE audit_logs SET changes = '{{\"forged\":true}}', hash = '{forged_hash}' WHERE id = ?"
        ),
        victim.id,
    )
    .await;
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"]["sequence"].as_u64(),
        Some(victim.sequence + 1),
        "{report}"
    );
    assert_eq!(
        report["first_broken"]["id"].as_str(),
        Some(list[3].id.to_string().as_str())
    );
}

#[tokio::test]
async fn a_deleted_last_entry_is_detected_against_the_head() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    // And `logbook audit verify` checks every department on the host.
    let app = TestApp::spawn_private().await;
    some_activity(&app, &app.a, "alpha").await;
    let list = entries(&app, &app.a).await;
    let last = list.last().unwrap().clone();
    behind_the_triggers(&app, "DELETE FROM audit_logs WHERE id = ?", last.id).await;
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"]["sequence"].as_u64(),
        Some(last.sequence),
        "{report}"
    );
    assert_eq!(report["entries_checked"].as_u64(), Some(last.sequence - 1));
    let reason = report["first_broken"]["reason"].as_str().unwrap();
    assert!(reason.contains("head"), "{reason}");
    assert_eq!(verify(&app, &app.b).await["valid"], true);
    let (ok, stdout) = cli_verify(&app).await;
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN at entry {}", last.sequence)),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_gap_in_the_middle_is_detected() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    let app = TestApp::spawn_private().await;
    some_activity(&app, &app.a, "alpha").await;
    let list = entries(&app, &app.a).await;
    let gone = list[list.len() / 2].clone();
    behind_the_triggers(&app, "DELETE FROM audit_logs WHERE id = ?", gone.id).await;
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(
        report["first_broken"]["sequence"].as_u64(),
        Some(gone.sequence),
        "{report}"
    );
    assert_eq!(report["entries_checked"].as_u64(), Some(gone.sequence - 1));
    let reason = report["first_broken"]["reason"].as_str().unwrap();
    assert!(reason.contains("missing"), "{reason}");
    assert_eq!(verify(&app, &app.b).await["valid"], true);
}

// ---------------------------------------------------------------------------------------------
// Listing

fn items(body: &Value) -> &Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
}

#[tokio::test]
async fn the_list_filters_by_member_action_and_date_and_pages() {
    let app = TestApp::spawn().await;
    let t = &app.a.admin.token;
    let eve = app.member(&app.a, "eve", &[]).await;
    // Eve edits her own phone number: one entry by her besides her sign-in.
    let (status, body) = app
        .patch(
            &eve.token,
            &format!("/api/v1/members/{}", eve.id),
            json!({"phone": "555-0100"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = entries(&app, &app.a).await;

    // By member (the one who acted).
    let (status, body) = app
        .get(
            t,
            &format!("/api/v1/audit-logs?member_id={}&per_page=200", eve.id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let by_eve: Vec<&Logged> = all
        .iter()
        .filter(|e| e.actor_user_id == Some(eve.id))
        .collect();
    assert_eq!(body["total"].as_u64(), Some(by_eve.len() as u64));
    assert!(by_eve.len() >= 2);
    let listed: Vec<&str> = items(&body)
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"auth.login") && listed.contains(&"member.updated"),
        "{listed:?}"
    );
    assert!(
        items(&body)
            .iter()
            .all(|i| i["actor_user_id"] == json!(eve.id))
    );

    // By action.
    let (status, body) = app
        .get(t, "/api/v1/audit-logs?action=member.created&per_page=200")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = all.iter().filter(|e| e.action == "member.created").count();
    assert!(created >= 2);
    assert_eq!(body["total"].as_u64(), Some(created as u64));
    assert!(items(&body).iter().all(|i| i["action"] == "member.created"));
    let (status, body) = app.get(t, "/api/v1/audit-logs?action=no.such_action").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 0);
    assert!(items(&body).is_empty());

    // By date: days of the organization's time zone, both ends inclusive. The zone is picked so
    // that its date differs from the UTC date right now.
    let now = chrono::Utc::now();
    let zone = if now.hour() >= 12 {
        "Etc/GMT-14"
    } else {
        "Etc/GMT+12"
    };
    let (status, body) = app
        .patch(t, "/api/v1/organization", json!({"timezone": zone}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let all = entries(&app, &app.a).await;
    let today = now
        .with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap())
        .date_naive();
    let utc_today = now.date_naive();
    assert_ne!(today, utc_today);
    let yesterday = today.pred_opt().unwrap();
    let tomorrow = today.succ_opt().unwrap();
    let total_for = |q: String| {
        let app = &app;
        async move {
            let (status, body) = app.get(t, &format!("/api/v1/audit-logs?{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body["total"].as_u64().unwrap()
        }
    };
    let n = all.len() as u64;
    assert_eq!(total_for(format!("from={today}&to={today}")).await, n);
    assert_eq!(total_for(format!("from={yesterday}")).await, n);
    assert_eq!(total_for(format!("to={today}")).await, n);
    assert_eq!(total_for(format!("from={tomorrow}")).await, 0);
    assert_eq!(total_for(format!("to={yesterday}")).await, 0);
    assert_eq!(
        total_for(format!("from={utc_today}&to={utc_today}")).await,
        0,
        "the filter uses UTC days, not the organization's"
    );
    assert_eq!(
        total_for(format!(
            "from={yesterday}&to={tomorrow}&member_id={}",
            eve.id
        ))
        .await,
        by_eve_len(&all, eve.id)
    );
    let (status, body) = app
        .get(
            t,
            &format!("/api/v1/audit-logs?from={today}&to={yesterday}"),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["to"]);
    for bad in [
        "from=2026-13-45",
        "to=yesterday",
        "member_id=not-a-uuid",
        "page=0",
        "per_page=0",
        "per_page=201",
        "page=-1",
        "page=abc",
    ] {
        let (status, body) = app.get(t, &format!("/api/v1/audit-logs?{bad}")).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
        assert_problem(status, &body, status);
    }

    // Pages: newest first, no overlap, the total on every page.
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let (status, body) = app
            .get(t, &format!("/api/v1/audit-logs?per_page=4&page={page}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"].as_u64(), Some(n));
        assert_eq!(body["page"], page);
        assert_eq!(body["per_page"], 4);
        let got = items(&body);
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 4);
        seen.extend(got.iter().map(|i| i["sequence"].as_u64().unwrap()));
        page += 1;
        assert!(page < 100);
    }
    let expected: Vec<u64> = (1..=n).rev().collect();
    assert_eq!(seen, expected);

    // Needs audit.view.
    let (status, body) = app.get(&eve.token, "/api/v1/audit-logs").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = app.get(&eve.token, "/api/v1/audit-logs/verify").await;
    assert_problem(status, &body, StatusCode::FORBIDDEN);
    let auditor = app.member_with(&app.a, "auditor", &["audit.view"]).await;
    let (status, body) = app.get(&auditor.token, "/api/v1/audit-logs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get(&auditor.token, "/api/v1/audit-logs/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);
}

fn by_eve_len(all: &[Logged], eve: Uuid) -> u64 {
    all.iter().filter(|e| e.actor_user_id == Some(eve)).count() as u64
}

// ---------------------------------------------------------------------------------------------
// Security alerts

async fn fail_login(app: &TestApp, username: &str, times: usize) {
    for _ in 0..times {
        let res = app
            .login_response(username, "definitely not the password", None)
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_lockout_raises_an_alert_that_can_be_acknowledged_and_resolved() {
    let app = TestApp::spawn().await;
    let t = &app.a.admin.token;
    let admin = app.a.admin.clone();
    let frank = app.member(&app.a, "frank", &[]).await;

    let mark = last_sequence(&app, &app.a).await;
    fail_login(&app, "frank", 5).await;
    let new = after(&app, &app.a, mark).await;
    assert_eq!(
        actions(&new),
        [
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "security_alert.raised"
        ]
    );
    assert_eq!(
        new[4].changes(),
        json!({"consecutive_failures": 5, "locked": true})
    );
    assert_eq!(new[5].changes()["alert_type"], "account_locked");
    assert_eq!(new[5].ip_address.as_deref(), Some(app.client_ip().as_str()));

    let (status, body) = app.get(t, "/api/v1/security-alerts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = items(&body);
    assert_eq!(list.len(), 1, "{body}");
    let alert = &list[0];
    assert_eq!(alert["alert_type"], "account_locked");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["user_id"], json!(frank.id));
    assert_eq!(alert["ip_address"], app.client_ip());
    assert!(alert["message"].as_str().unwrap().contains("frank"));
    let alert_id = id_of(alert);
    assert_eq!(new[5].entity_id.as_deref(), Some(alert_id.as_str()));

    // Filter by status.
    let count = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(t, &format!("/api/v1/security-alerts?{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            assert_eq!(body["total"].as_u64().unwrap() as usize, items(&body).len());
            items(&body).len()
        }
    };
    assert_eq!(count("status=open").await, 1);
    assert_eq!(count("status=acknowledged").await, 0);
    assert_eq!(count("status=resolved").await, 0);
    for bad in [
        "status=closed",
        "status=OPEN",
        "status=open'%20OR%20'1'='1",
        "page=0",
    ] {
        let (status, body) = app.get(t, &format!("/api/v1/security-alerts?{bad}")).await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, body) = app.get(t, "/api/v1/security-alerts?colour=red").await;
    assert!(status.is_client_error(), "{status} {body}");

    // Acknowledge, audited.
    let mark = last_sequence(&app, &app.a).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/security-alerts/{alert_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "acknowledged");
    assert_eq!(body["acknowledged_by"], json!(admin.id));
    assert!(body["acknowledged_at"].is_string());
    let new = after(&app, &app.a, mark).await;
    assert_eq!(actions(&new), ["security_alert.acknowledged"]);
    made_by(&app, &new, &admin);
    assert_eq!(new[0].entity_id.as_deref(), Some(alert_id.as_str()));
    assert_eq!(
        new[0].changes(),
        json!({"status": {"from": "open", "to": "acknowledged"}})
    );
    assert_eq!(count("status=acknowledged").await, 1);
    assert_eq!(count("status=open").await, 0);

    // Acknowledging twice is a conflict that changes nothing.
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/security-alerts/{alert_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_problem(status, &body, StatusCode::CONFLICT);
    unchanged(&before, &app.snapshot(&app.a).await, "alert");

    // Bad resolve input changes nothing.
    for bad in [
        json!({"note": "x".repeat(1001)}),
        json!({"note": 42}),
        json!({"note": "ok", "status": "open"}),
    ] {
        let (status, body) = app
            .post(
                t,
                &format!("/api/v1/security-alerts/{alert_id}/resolve"),
                bad.clone(),
            )
            .await;
        assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    }
    unchanged(&before, &app.snapshot(&app.a).await, "alert");

    // Resolve with a note, audited.
    let note = "Frank forgot his password; reset in person";
    let mark = last_sequence(&app, &app.a).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/security-alerts/{alert_id}/resolve"),
            json!({"note": note}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["resolution_note"], note);
    assert_eq!(body["resolved_by"], json!(admin.id));
    let new = after(&app, &app.a, mark).await;
    assert_eq!(actions(&new), ["security_alert.resolved"]);
    made_by(&app, &new, &admin);
    assert_eq!(
        new[0].changes(),
        json!({"status": {"from": "acknowledged", "to": "resolved"}, "resolution_note": note})
    );
    assert_eq!(count("status=resolved").await, 1);
    assert_eq!(count("").await, 1);

    // Resolved is final.
    let before = app.snapshot(&app.a).await;
    for action in ["acknowledge", "resolve"] {
        let (status, body) = app
            .post(
                t,
                &format!("/api/v1/security-alerts/{alert_id}/{action}"),
                json!({}),
            )
            .await;
        assert_problem(status, &body, StatusCode::CONFLICT);
    }
    unchanged(&before, &app.snapshot(&app.a).await, "alert");

    // Needs audit.view: Frank (still signed in from before) has only the Member role.
    for (method, path) in [
        (Method::GET, "/api/v1/security-alerts".to_string()),
        (
            Method::POST,
            format!("/api/v1/security-alerts/{alert_id}/acknowledge"),
        ),
        (
            Method::POST,
            format!("/api/v1/security-alerts/{alert_id}/resolve"),
        ),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let (status, body) = app.call(method, &frank.token, &path, body).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
    }
    unchanged(&before, &app.snapshot(&app.a).await, "alert");
    // Org B sees none of it.
    let (status, body) = app.get(&app.b.admin.token, "/api/v1/security-alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(items(&body).is_empty(), "{body}");
}

#[tokio::test]
async fn an_alert_can_be_resolved_straight_from_open() {
    let app = TestApp::spawn().await;
    let t = &app.a.admin.token;
    app.member(&app.a, "gina", &[]).await;
    fail_login(&app, "gina", 5).await;
    let (_, body) = app.get(t, "/api/v1/security-alerts?status=open").await;
    let alert_id = id_of(&items(&body)[0]);
    let mark = last_sequence(&app, &app.a).await;
    let (status, body) = app
        .post(
            t,
            &format!("/api/v1/security-alerts/{alert_id}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["resolution_note"], Value::Null);
    let new = after(&app, &app.a, mark).await;
    assert_eq!(actions(&new), ["security_alert.resolved"]);
    assert_eq!(
        new[0].changes(),
        json!({"status": {"from": "open", "to": "resolved"}, "resolution_note": null})
    );
}

#[tokio::test]
async fn an_organization_settings_change_is_recorded_and_keeps_the_other_modules() {
    let app = TestApp::spawn().await;
    let t = &app.a.admin.token;
    let (_, before) = app.get(t, "/api/v1/organization").await;
    let modules_before = before["settings"]["modules"].clone();
    assert!(modules_before.as_object().unwrap().len() >= 10, "{before}");
    assert!(
        modules_before
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == true)
    );

    let mark = last_sequence(&app, &app.a).await;
    let (status, body) = app
        .patch(
            t,
            "/api/v1/organization",
            json!({"settings": {"modules": {"training": false}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut modules_after = modules_before.clone();
    modules_after["training"] = json!(false);
    assert_eq!(
        body["settings"]["modules"], modules_after,
        "other modules were dropped"
    );
    let (_, again) = app.get(t, "/api/v1/organization").await;
    assert_eq!(again["settings"]["modules"], modules_after);
    let new = after(&app, &app.a, mark).await;
    assert_eq!(actions(&new), ["organization.updated"]);
    made_by(&app, &new, &app.a.admin);
    assert_eq!(
        new[0].changes(),
        json!({"settings": {"from": {"modules": modules_before, "contact_directory": "members",
                                     "date_format": "us", "clock": "12h", "paper": "letter"},
                            "to": {"modules": modules_after, "contact_directory": "members",
                                   "date_format": "us", "clock": "12h", "paper": "letter"}}})
    );

    // An unknown module is a field error that changes nothing.
    let snapshot = app.snapshot(&app.a).await;
    let (status, body) = app
        .patch(
            t,
            "/api/v1/organization",
            json!({"settings": {"modules": {"laundry": true}}}),
        )
        .await;
    assert_problem(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["settings"]);
    unchanged(&snapshot, &app.snapshot(&app.a).await, "unknown module");
}

#[tokio::test]
async fn a_chain_longer_than_one_batch_is_walked_to_the_end() {
    // Private: it replaces the triggers that guard audit_logs, which are the whole database's.
    let app = TestApp::spawn_private().await;
    // Straight through the service function: 1100 entries more than one read batch of 1000.
    let actor = logbook::audit::Actor::system(app.a.org_id, "test");
    let mut tx = app.state.db.begin().await.unwrap();
    for i in 0..1100 {
        logbook::audit::record(
            &mut tx,
            &actor,
            logbook::audit::Entry::new("test.filler", "test", i).changes(json!({"i": i})),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let list = assert_chain_holds(&app, &app.a).await;
    assert!(list.len() > 1100);
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["entries_checked"].as_u64(), Some(list.len() as u64));

    let victim = list[1049].clone();
    assert_eq!(victim.sequence, 1050);
    behind_the_triggers(
        &app,
        "UPDATE audit_logs SET changes = '{\"i\":-1}' WHERE id = ?",
        victim.id,
    )
    .await;
    let report = verify(&app, &app.a).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["first_broken"]["sequence"].as_u64(), Some(1050));
    assert_eq!(report["entries_checked"].as_u64(), Some(1049));
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_no_entry() {
    let app = TestApp::spawn().await;
    let token = &app.a.admin.token;
    let (status, org) = app.get(token, "/api/v1/organization").await;
    assert_eq!(status, StatusCode::OK);
    let role = app.role_id(&app.a, "quartermaster").await;
    let (_, role_body) = app.get(token, &format!("/api/v1/roles/{role}")).await;
    let before = app.snapshot(&app.a).await;
    let (status, body) = app
        .patch(
            token,
            "/api/v1/organization",
            serde_json::json!({"name": org["name"], "timezone": org["timezone"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(
            token,
            &format!("/api/v1/roles/{role}"),
            serde_json::json!({"permissions": role_body["permissions"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.snapshot(&app.a).await, before, "a no-op changed rows");
    // A real change is still written and audited.
    let (status, _) = app
        .patch(
            token,
            "/api/v1/organization",
            serde_json::json!({"county": "Story"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(app.snapshot(&app.a).await, before);
}
