//! Encrypted backups: the passphrase is set only with the emergency kit confirmed; every backup
//! made afterwards is an age file that opens with that passphrase and no other; restore refuses
//! a missing or wrong passphrase and changes nothing; only administrators of a one-department
//! host may change it; every change is audited.
//!
//! Backups are the whole host's: every test here has a database of its own.

use std::path::Path;
use std::time::Duration;

use logbook::backup::archive::{self, Refusal};
use logbook::backup::{restore, service};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

const PASSPHRASE: &str = "hose-ladder-pump-siren-7";

async fn set_passphrase(app: &TestApp, token: &str, passphrase: &str) -> (StatusCode, Value) {
    let confirm: String = passphrase
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    app.call(
        Method::PUT,
        token,
        "/api/v1/backups/encryption",
        Some(json!({"passphrase": passphrase, "confirm": confirm})),
    )
    .await
}

async fn back_up_now(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.post(token, "/api/v1/backups", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the backup to finish", Duration::from_secs(60), || async {
        let (_, run) = app.get(token, "/api/v1/backups/progress").await;
        (run["running"] == false).then_some(run)
    })
    .await
}

fn refusal(err: &anyhow::Error) -> Option<&Refusal> {
    err.chain().find_map(|e| e.downcast_ref::<Refusal>())
}

#[tokio::test]
async fn encrypted_backups_open_with_their_passphrase_only() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let (status, body) = app.get(&admin, "/api/v1/backups/encryption").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["encrypted"], false);
    let plain = back_up_now(&app, &admin).await;
    let plain_file = plain["result"]["file"].as_str().unwrap().to_string();
    assert_eq!(plain["result"]["encrypted"], false, "{plain}");

    let (status, body) = set_passphrase(&app, &admin, PASSPHRASE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["encrypted"], true);
    assert!(body["since"].is_string());
    assert_eq!(
        app.audit_actions(&app.a, "backup.encryption_enabled").await,
        1
    );
    let key_file = app.data_dir.join("backup-passphrase");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Made with the passphrase: an age file, listed as encrypted and checked.
    let run = back_up_now(&app, &admin).await;
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(run["result"]["encrypted"], true, "{run}");
    let file = run["result"]["file"].as_str().unwrap().to_string();
    let path = app.data_dir.join("backups").join(&file);
    assert!(
        std::fs::read(&path)
            .unwrap()
            .starts_with(b"age-encryption.org/v1")
    );
    let (_, list) = app.get(&admin, "/api/v1/backups").await;
    assert_eq!(list["encrypting"], true);
    let row = |name: &str| {
        list["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["file"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&file)["encrypted"], true, "{list}");
    assert_eq!(row(&file)["verified"], true, "{list}");
    assert_eq!(row(&plain_file)["encrypted"], false, "{list}");
    let (status, checked) = app
        .post(&admin, &format!("/api/v1/backups/{file}/verify"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(checked["verified"], true);

    // Without a passphrase, with a wrong one: refused, saying which.
    let err = service::verify(&path, None).await.unwrap_err();
    assert!(
        matches!(refusal(&err), Some(Refusal::NeedsPassphrase)),
        "{err:#}"
    );
    assert!(
        format!("{err:#}").contains("enter its passphrase"),
        "{err:#}"
    );
    let err = service::verify(&path, Some("hose-ladder-pump-siren-8"))
        .await
        .unwrap_err();
    assert!(
        matches!(refusal(&err), Some(Refusal::WrongPassphrase)),
        "{err:#}"
    );
    let checked = service::verify(&path, Some(PASSPHRASE)).await.unwrap();
    assert!(checked.manifest.tables.len() > 10);
    // The unencrypted one still reads without any.
    service::verify(&app.data_dir.join("backups").join(&plain_file), None)
        .await
        .unwrap();

    // Restore with a wrong passphrase: refused, nothing changed, no safety backup made.
    let later = app.member(&app.a, "joined-later", &[]).await;
    let before = app.snapshot(&app.a).await;
    let backups_before = service::list(&app.data_dir.join("backups")).unwrap().len();
    let err = restore::restore(
        &app.state.db,
        &app.db.url,
        &app.data_dir,
        &path,
        &app.data_dir.join("backups"),
        &service::RestoreOptions::new(Some("not the passphrase at all".into()), None),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refusal(&err), Some(Refusal::WrongPassphrase)),
        "{err:#}"
    );
    assert!(
        format!("{err:#}").contains("nothing was changed"),
        "{err:#}"
    );
    assert_eq!(app.snapshot(&app.a).await, before);
    assert_eq!(
        service::list(&app.data_dir.join("backups")).unwrap().len(),
        backups_before
    );

    // With the right one it restores (the member who joined later is gone), and the safety
    // backup of the data before is encrypted too.
    let restored = restore::restore(
        &app.state.db,
        &app.db.url,
        &app.data_dir,
        &path,
        &app.data_dir.join("backups"),
        &service::RestoreOptions::new(Some(PASSPHRASE.into()), None),
    )
    .await
    .unwrap();
    assert!(restored.encrypted);
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = ?")
        .bind(later.id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(gone, 0);
    let safety = restored.safety_backup.unwrap();
    assert!(archive::is_encrypted(Path::new(&safety)).unwrap());
    service::verify(Path::new(&safety), Some(PASSPHRASE))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_passphrase_is_set_only_when_the_kit_is_confirmed() {
    let app = TestApp::spawn_one_organization().await;
    let admin = app.a.admin.token.clone();
    let audit_before = app.audit_count(&app.a).await;
    for (body, fields) in [
        (
            json!({"passphrase": "short", "confirm": "hort"}),
            vec!["passphrase"],
        ),
        (
            json!({"passphrase": PASSPHRASE, "confirm": "wxyz"}),
            vec!["confirm"],
        ),
        (json!({"passphrase": PASSPHRASE}), vec!["confirm"]),
        (json!({}), vec!["passphrase", "confirm"]),
        (
            json!({"passphrase": " leading-space-pass", "confirm": "pass"}),
            vec!["passphrase"],
        ),
    ] {
        let (status, problem) = app
            .call(
                Method::PUT,
                &admin,
                "/api/v1/backups/encryption",
                Some(body.clone()),
            )
            .await;
        assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), fields, "{body} {problem}");
    }
    // Not JSON, or the wrong shape: a problem, not a 500.
    let res = app
        .client
        .put(app.url("/api/v1/backups/encryption"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let (status, problem) = app
        .call(
            Method::PUT,
            &admin,
            "/api/v1/backups/encryption",
            Some(json!({"passphrase": 12, "confirm": []})),
        )
        .await;
    assert!(status.is_client_error(), "{status} {problem}");
    assert!(!app.data_dir.join("backup-passphrase").exists());
    assert_eq!(app.audit_count(&app.a).await, audit_before);

    // The kit of a passphrase about to be set; of the stored one only once there is one.
    let (status, problem) = app.get(&admin, "/api/v1/backups/encryption/kit").await;
    assert_problem(status, &problem, StatusCode::CONFLICT);
    let (status, kit) = app
        .post(
            &admin,
            "/api/v1/backups/encryption/kit",
            json!({"passphrase": PASSPHRASE}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{kit}");
    let kit = kit.as_str().unwrap().to_string();
    assert!(kit.contains(&format!("    {PASSPHRASE}\n")), "{kit}");
    assert!(kit.contains("Alpha"), "the department's name: {kit}");
    let (status, problem) = app
        .post(
            &admin,
            "/api/v1/backups/encryption/kit",
            json!({"passphrase": "short"}),
        )
        .await;
    assert_problem(status, &problem, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.audit_actions(&app.a, "backup.emergency_kit_downloaded")
            .await,
        1
    );

    // Set, changed, turned off: each audited; the kit then names the stored passphrase.
    assert_eq!(
        set_passphrase(&app, &admin, PASSPHRASE).await.0,
        StatusCode::OK
    );
    let res = app
        .client
        .get(app.url("/api/v1/backups/encryption/kit"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"logbook-emergency-kit.txt\""
    );
    assert!(res.text().await.unwrap().contains(PASSPHRASE));
    let second = "a-second-passphrase-for-2027";
    assert_eq!(set_passphrase(&app, &admin, second).await.0, StatusCode::OK);
    assert_eq!(
        logbook::backup::key::stored(&app.data_dir)
            .unwrap()
            .as_deref(),
        Some(second)
    );
    assert_eq!(
        app.audit_actions(&app.a, "backup.passphrase_changed").await,
        1
    );
    let (status, body) = app.delete(&admin, "/api/v1/backups/encryption").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["encrypted"], false);
    assert_eq!(
        app.audit_actions(&app.a, "backup.encryption_disabled")
            .await,
        1
    );
    let run = back_up_now(&app, &admin).await;
    assert_eq!(run["result"]["encrypted"], false, "{run}");
}

/// Every encryption route, API and page.
fn api_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/backups/encryption", None),
        (
            Method::PUT,
            "/api/v1/backups/encryption",
            Some(json!({"passphrase": PASSPHRASE, "confirm": "en-7"})),
        ),
        (Method::DELETE, "/api/v1/backups/encryption", None),
        (Method::GET, "/api/v1/backups/encryption/kit", None),
        (
            Method::POST,
            "/api/v1/backups/encryption/kit",
            Some(json!({"passphrase": PASSPHRASE})),
        ),
    ]
}

#[tokio::test]
async fn only_administrators_of_a_one_department_host_may_change_it() {
    let app = TestApp::spawn_one_organization().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let records = app
        .member_with(&app.a, "records", &["members.manage"])
        .await;
    for user in [&plain, &records] {
        for (method, path, body) in api_routes() {
            let (status, problem) = app.call(method.clone(), &user.token, path, body).await;
            assert_problem(status, &problem, StatusCode::FORBIDDEN);
        }
        let cookies = access_cookie(user);
        for path in [
            "/settings/backups/encryption",
            "/settings/backups/encryption/kit",
            "/settings/backups/encryption/off",
        ] {
            assert_eq!(
                app.page_get(path, &cookies).await.0,
                StatusCode::FORBIDDEN,
                "{path}"
            );
        }
        let (status, _, _) = app
            .page_post(
                "/settings/backups/encryption",
                &cookies,
                &[
                    ("passphrase", PASSPHRASE),
                    ("confirm", "en-7"),
                    ("kept", "yes"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    for (method, path, body) in api_routes() {
        let (status, problem) = app.call(method, "", path, body).await;
        assert_problem(status, &problem, StatusCode::UNAUTHORIZED);
    }
    assert!(!app.data_dir.join("backup-passphrase").exists());

    // A host with two departments: the command line's business.
    let two = TestApp::spawn_private().await;
    for (method, path, body) in api_routes() {
        let (status, problem) = two.call(method, &two.a.admin.token, path, body).await;
        assert_problem(status, &problem, StatusCode::CONFLICT);
    }
    assert!(!two.data_dir.join("backup-passphrase").exists());
}

#[tokio::test]
async fn the_page_asks_for_the_kit_before_encrypting() {
    let app = TestApp::spawn_one_organization().await;
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let (status, _, html) = app.page_get("/settings/backups", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("New backups are <strong>not encrypted</strong>"),
        "{html}"
    );
    let (status, _, html) = app.page_get("/settings/backups/encryption", &cookies).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Backups are not encrypted"), "{html}");
    // A generated passphrase is offered.
    let offered = html
        .split(r#"name="passphrase" type="text" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(
        logbook::backup::key::validate(&offered).is_ok(),
        "{offered}"
    );
    let last4 = &offered[offered.len() - 4..];

    // The kit for it downloads from the form.
    let res = app
        .page_post_response(
            "/settings/backups/encryption/kit",
            &cookies,
            &[("passphrase", &offered), ("confirm", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(&offered));

    // The box not ticked, or the wrong characters: the reason beside the field, nothing set.
    let (status, _, html) = app
        .page_post(
            "/settings/backups/encryption",
            &cookies,
            &[("passphrase", &offered), ("confirm", last4)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="kept-error""#), "{html}");
    assert!(html.contains(&offered), "the passphrase is kept: {html}");
    let (status, _, html) = app
        .page_post(
            "/settings/backups/encryption",
            &cookies,
            &[
                ("passphrase", &offered),
                ("confirm", "zzzz"),
                ("kept", "yes"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("Confirmation must be the last four characters of the passphrase."),
        "{html}"
    );
    assert!(!app.data_dir.join("backup-passphrase").exists());

    let (status, location, _) = app
        .page_post(
            "/settings/backups/encryption",
            &cookies,
            &[
                ("passphrase", &offered),
                ("confirm", last4),
                ("kept", "yes"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/backups/encryption?done=enabled");
    assert_eq!(
        logbook::backup::key::stored(&app.data_dir).unwrap(),
        Some(offered.clone())
    );
    let (_, _, html) = app.page_get(&location, &cookies).await;
    assert!(html.contains("Backups are encrypted from now on"), "{html}");

    // Off, after asking.
    let (status, _, html) = app
        .page_get("/settings/backups/encryption/off", &cookies)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Turn backup encryption off?"), "{html}");
    let (status, location, _) = app
        .page_post("/settings/backups/encryption/off", &cookies, &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/settings/backups/encryption?done=disabled");
    assert!(!app.data_dir.join("backup-passphrase").exists());
}
