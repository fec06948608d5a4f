//! The portable export: CSV files in a zip, one department's records only, for administrators
//! who may manage members and settings; audited.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::harness::*;

/// The zip's files by name (their text without the byte-order mark).
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            (
                f.name().unwrap().to_string(),
                text.trim_start_matches('\u{feff}').to_string(),
            )
        })
        .collect()
}

async fn station(app: &TestApp, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO locations (id, organization_id, name, station_number, city, created_at,
                                updated_at)
         VALUES (?, ?, ?, '1', 'Hillside', NOW(6), NOW(6))",
    )
    .bind(id)
    .bind(org)
    .bind(name)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO basic_apparatus (id, organization_id, unit_number, name, apparatus_type,
                                      min_staffing, positions, location_id, created_at, updated_at)
         VALUES (?, ?, ?, 'Engine', 'engine', 4, '[\"Officer\",\"Driver\"]', ?, NOW(6), NOW(6))",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(format!("E-{name}"))
    .bind(id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id
}

async fn download(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/export"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_export_holds_one_departments_records_as_csv() {
    let app = TestApp::spawn().await;
    let admin = app.a.admin.token.clone();
    let zoe = app.member(&app.a, "zoe", &[]).await;
    let (status, body) = app
        .patch(
            &admin,
            &format!("/api/v1/members/{}", zoe.id),
            json!({"first_name": "Zoë 🚒", "rank": "=HYPERLINK(\"x\")"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    station(&app, app.a.id, "Alpha Station").await;
    let (status, made) = app
        .post(
            &admin,
            "/api/v1/training/records",
            json!({"user_ids": [zoe.id], "course_name": "Pump drill", "hours": 2.5,
                   "completion_date": "2026-02-02"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    station(&app, app.b.id, "Bravo Station").await;
    app.member(&app.b, "bravo-only", &[]).await;

    let res = download(&app, &admin).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"{}-export-", app.a.slug)),
        "{disposition}"
    );
    let files = unzip(&res.bytes().await.unwrap());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, export_files(), "{names:?}");
    assert!(names.contains(&"training_records.csv") && names.contains(&"training_courses.csv"));
    let file = |name: &str| files.iter().find(|(n, _)| n == name).unwrap().1.clone();

    let members = file("members.csv");
    let mut reader = csv::Reader::from_reader(members.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert!(header.contains(&"username".to_string()), "{header:?}");
    assert!(!header.iter().any(|h| h.contains("password")), "{header:?}");
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let usernames: Vec<&str> = rows
        .iter()
        .map(|r| r[header.iter().position(|h| h == "username").unwrap()].as_str())
        .collect();
    assert!(usernames.contains(&"zoe"), "{usernames:?}");
    assert!(usernames.contains(&"alpha-admin"), "{usernames:?}");
    assert!(
        !usernames.contains(&"bravo-only"),
        "another department's member"
    );
    assert!(
        !usernames.contains(&"bravo-admin"),
        "another department's member"
    );
    assert!(members.contains("Zoë 🚒"), "{members}");
    assert!(
        members.contains("'=HYPERLINK"),
        "a formula stays text: {members}"
    );

    let roles = file("member_roles.csv");
    assert!(roles.starts_with("username,role,role_slug\n"), "{roles}");
    assert!(roles.contains("alpha-admin,"), "{roles}");
    assert!(!roles.contains("bravo"), "{roles}");
    let stations = file("stations.csv");
    assert!(stations.contains("Alpha Station,1,"), "{stations}");
    assert!(!stations.contains("Bravo"), "{stations}");
    let apparatus = file("apparatus.csv");
    assert!(
        apparatus
            .starts_with("unit_number,name,apparatus_type,min_staffing,positions,station,active\n"),
        "{apparatus}"
    );
    assert!(
        apparatus.contains("E-Alpha Station,Engine,engine,4,"),
        "{apparatus}"
    );
    assert!(!apparatus.contains("Bravo"), "{apparatus}");
    let training = file("training_records.csv");
    assert!(
        training.starts_with("username,member,course_name,"),
        "{training}"
    );
    assert!(
        training.contains("zoe,Zoë 🚒 zoe,Pump drill,,,continuing_education,2026-02-02,,2.50,"),
        "{training}"
    );
    let readme = file("README.txt");
    assert!(readme.contains("Alpha Fire Department"), "{readme}");
    assert!(readme.contains("stations.csv (1 rows)"), "{readme}");

    assert_eq!(app.audit_actions(&app.a, "data.exported").await, 1);
    assert_eq!(app.audit_actions(&app.b, "data.exported").await, 0);

    // Bravo's administrator gets Bravo's, with an empty apparatus file that still has its
    // header.
    sqlx::query("DELETE FROM basic_apparatus WHERE organization_id = ?")
        .bind(app.b.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let files = unzip(
        &download(&app, &app.b.admin.token)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    let apparatus = &files.iter().find(|(n, _)| n == "apparatus.csv").unwrap().1;
    assert_eq!(
        apparatus,
        "unit_number,name,apparatus_type,min_staffing,positions,station,active\n"
    );
    let members = &files.iter().find(|(n, _)| n == "members.csv").unwrap().1;
    assert!(
        members.contains("bravo-only") && !members.contains("zoe"),
        "{members}"
    );
}

#[tokio::test]
async fn only_administrators_may_export() {
    let app = TestApp::spawn().await;
    let plain = app.member(&app.a, "plain", &[]).await;
    let records = app
        .member_with(&app.a, "records", &["members.manage"])
        .await;
    let settings = app
        .member_with(&app.a, "settings", &["settings.manage"])
        .await;
    let before = app.audit_actions(&app.a, "data.exported").await;
    for user in [&plain, &records, &settings] {
        let res = download(&app, &user.token).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}", user.username);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 403, "{body}");
        let (status, _, _) = app
            .page_get("/settings/backups/export", &access_cookie(user))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", user.username);
    }
    assert_eq!(download(&app, "").await.status(), StatusCode::UNAUTHORIZED);
    let (status, location, _) = app.page_get("/settings/backups/export", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/login"), "{location}");
    assert_eq!(app.audit_actions(&app.a, "data.exported").await, before);

    // The administrator's page link gives the same zip.
    let cookies = app.page_sign_in("alpha-admin", PASSWORD).await;
    let res = app
        .page_get_response("/settings/backups/export", &cookies)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let files = unzip(&res.bytes().await.unwrap());
    assert_eq!(files.len(), export_files().len());
}

/// The export's files: the platform's, then every installed module's, in the modules' order.
fn export_files() -> Vec<&'static str> {
    logbook::app::install_modules();
    let mut names = vec![
        "README.txt",
        "members.csv",
        "member_roles.csv",
        "stations.csv",
        "apparatus.csv",
    ];
    names.extend(
        logbook::module::installed()
            .iter()
            .flat_map(|m| m.export.iter().map(|s| s.file)),
    );
    names
}
