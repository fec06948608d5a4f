//! First-boot setup: setup mode, the token, every step's rules, a restart in the middle, the
//! all-or-nothing finish, and the lock afterwards. Real server, real HTTP, real MariaDB, and a
//! real SMTP server for the test message.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use tokio::sync::oneshot;

use crate::harness::{
    TestDb, browser, cookie_header, cookies_from, error_fields, logbook_command, start_server,
    temp_dir, test_config,
};
use crate::smtp_sink::SmtpSink;

const PASSWORD: &str = "ladder truck forty two";

/// A server on an empty database: setup mode.
struct Fresh {
    db: TestDb,
    data_dir: PathBuf,
    base: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    client: reqwest::Client,
}

impl Fresh {
    async fn start() -> Fresh {
        let mut fresh = Fresh {
            db: TestDb::create().await,
            data_dir: temp_dir(),
            base: String::new(),
            shutdown: None,
            server: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        fresh.boot().await;
        fresh
    }

    /// Starts the server (again) on the same database and data directory.
    async fn boot(&mut self) {
        let config = test_config(&self.db.url, self.data_dir.clone());
        let (_state, addr, shutdown, server) = start_server(config).await;
        self.base = format!("http://{addr}");
        self.shutdown = Some(shutdown);
        self.server = Some(server);
        // The token is written before the server accepts requests it guards; wait for health.
        for _ in 0..100 {
            if let Ok(r) = self.client.get(self.url("/health")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not start");
    }

    async fn stop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("setup-token"))
            .expect("setup-token file")
            .trim()
            .to_string()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.client, &self.base, method, path, token, body).await
    }

    async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    async fn answer_first_steps(&self, token: &str) {
        answer_first_steps(&self.client, &self.base, token).await
    }

    async fn answer_remaining_steps(&self, token: &str) {
        answer_remaining_steps(&self.client, &self.base, token).await
    }
}

/// A wizard request to `base` with the setup token; status and JSON body.
async fn call(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("X-Setup-Token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Walks the steps before `stations` with valid answers.
async fn answer_first_steps(client: &reqwest::Client, base: &str, token: &str) {
    let (s, b) = call(
        client,
        base,
        Method::POST,
        "/api/v1/setup/check",
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for (path, body) in [
        (
            "/api/v1/setup/organization",
            json!({"name": "Maple Grove Fire Department", "timezone": "America/Chicago",
                   "organization_type": "fire_department", "identifier_type": "fdid",
                   "identifier": "12345", "city": "Maple Grove", "state": "MN"}),
        ),
        (
            "/api/v1/setup/administrator",
            json!({"username": "chief", "email": "chief@maplegrove.example",
                   "first_name": "Pat", "last_name": "Olsen", "password": PASSWORD}),
        ),
    ] {
        let (s, b) = call(client, base, Method::PUT, path, Some(token), Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
}

/// Answers the steps after `administrator`: stations and email skipped, the certificate in use,
/// the default modules.
async fn answer_remaining_steps(client: &reqwest::Client, base: &str, token: &str) {
    for (path, body) in [
        ("/api/v1/setup/stations", json!({"skipped": true})),
        ("/api/v1/setup/email", json!({"skipped": true})),
        ("/api/v1/setup/https", json!({"use": "current"})),
        ("/api/v1/setup/modules", json!({"modules": {}})),
    ] {
        let (s, b) = call(client, base, Method::PUT, path, Some(token), Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
}

#[tokio::test]
async fn setup_mode_sends_pages_to_the_wizard_and_the_api_answers_503() {
    let app = Fresh::start().await;
    let (status, body) = app.call(Method::GET, "/api/v1/members", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("setup is pending"),
        "{body}"
    );
    assert_eq!(body["status"], 503);
    let res = browser().get(app.url("/members")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/setup");
    let res = browser().get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/setup");
    // Health, assets and the certificate page stay reachable.
    let (status, _) = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let res = browser().get(app.url("/tls")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body) = app
        .call(Method::GET, "/api/v1/setup/status", None, None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"pending": true})));
}

#[tokio::test]
async fn the_token_is_long_private_printed_by_the_command_and_rotates_at_each_start() {
    let mut app = Fresh::start().await;
    let path = app.data_dir.join("setup-token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is for the service's user only");
    let token = app.token();
    let hex: String = token.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    assert!(hex.len() >= 32, "at least 128 bits: {token}");

    // `logbook setup-token` prints it.
    let out = logbook_command(&app.data_dir)
        .arg("setup-token")
        .env("LOGBOOK_DATA_DIR", &app.data_dir)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), token);

    // No token, a wrong one: refused and nothing answered.
    let (status, body) = app.call(Method::GET, "/api/v1/setup", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("setup token"));
    let (status, _) = app
        .call(Method::GET, "/api/v1/setup", Some("0000-1111"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .put(
            "/api/v1/setup/organization",
            "0000-1111",
            json!({"name": "Impostor FD", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("setup_state").await, 0, "nothing stored");
    // Typed loosely (upper case, spaces instead of dashes) it still works.
    let loose = token.to_uppercase().replace('-', " ");
    let (status, body) = app
        .call(Method::GET, "/api/v1/setup", Some(&loose), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"], "check");

    // A restart makes a new token; the old one stops working.
    app.stop().await;
    app.boot().await;
    let new = app.token();
    assert_ne!(new, token);
    let (status, _) = app
        .call(Method::GET, "/api/v1/setup", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(Method::GET, "/api/v1/setup", Some(&new), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_tokens_are_throttled() {
    let app = Fresh::start().await;
    let token = app.token();
    for i in 0..5 {
        let (status, _) = app
            .call(
                Method::GET,
                "/api/v1/setup",
                Some(&format!("guess-{i}")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Even the right token is refused from this address for a while.
    let (status, body) = app
        .call(Method::GET, "/api/v1/setup", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("wait 15 minutes"));
}

#[tokio::test]
async fn each_step_validates_and_a_restart_in_the_middle_keeps_the_answers() {
    let mut app = Fresh::start().await;
    let token = app.token();
    let t = token.as_str();

    // Steps cannot be skipped ahead.
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Maple Grove FD", "timezone": "America/Chicago"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Database check"));

    // The database check.
    let (status, check) = app
        .call(Method::GET, "/api/v1/setup/check", Some(t), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["server_version"]
            .as_str()
            .unwrap()
            .contains("MariaDB")
    );
    assert_eq!(check["migrations_applied"], check["migrations_expected"]);
    assert!(check["free_bytes"].as_u64().unwrap() > 0);
    let (status, _) = app
        .call(Method::POST, "/api/v1/setup/check", Some(t), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // The department: every problem at once.
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": " ", "timezone": "Mars/Olympus", "organization_type": "navy",
                   "email": "not-an-email", "identifier_type": "ssn"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        [
            "email",
            "identifier_type",
            "name",
            "organization_type",
            "timezone"
        ]
    );
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Maple Grove FD"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["timezone"]);
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Maple Grove FD", "timezone": "America/Chicago", "colour": "red"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields: {body}"
    );
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Maple Grove Fire Department", "timezone": "America/Chicago",
                   "identifier_type": "fdid", "identifier": "27-118", "city": "Maple Grove"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"], "administrator");

    // The administrator: the core's password rules.
    let (status, body) = app
        .put(
            "/api/v1/setup/administrator",
            t,
            json!({"username": "x", "email": "chief@", "first_name": "", "last_name": "Olsen",
                   "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, ["email", "first_name", "password", "username"]);
    let (status, body) = app
        .put(
            "/api/v1/setup/administrator",
            t,
            json!({"username": "chief", "email": "chief@maplegrove.example",
                   "first_name": "Pat", "last_name": "Olsen", "password": "chief"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["password"]);
    let (status, body) = app
        .put(
            "/api/v1/setup/administrator",
            t,
            json!({"username": "Chief", "email": "chief@maplegrove.example",
                   "first_name": "Pat", "last_name": "Olsen", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["administrator"]["username"], "chief");
    assert!(!body.to_string().contains(PASSWORD));
    // The password is kept only as its hash; nothing exists outside the wizard yet.
    let draft: String = sqlx::query_scalar("SELECT draft FROM setup_state WHERE id = 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!draft.contains(PASSWORD));
    assert!(draft.contains("$argon2id$"));
    assert_eq!(app.count("organizations").await, 0);
    assert_eq!(app.count("users").await, 0);

    // The power goes out. At the next start: a new token, the answers kept.
    app.stop().await;
    app.boot().await;
    let token = app.token();
    let t = token.as_str();
    let (status, body) = app.call(Method::GET, "/api/v1/setup", Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["next_step"], "stations");
    assert_eq!(body["organization"]["name"], "Maple Grove Fire Department");
    assert_eq!(body["administrator"]["email"], "chief@maplegrove.example");

    // Stations and apparatus: the whole list is checked.
    let (status, body) = app
        .put(
            "/api/v1/setup/stations",
            t,
            json!({"locations": [{"name": "Station 1"}, {"name": "station 1"}, {"name": ""}],
                   "apparatus": [
                       {"unit_number": "E1", "apparatus_type": "engine", "station": "Station 9"},
                       {"unit_number": "T1", "apparatus_type": "spaceship"},
                       {"unit_number": "e1", "apparatus_type": "engine", "min_staffing": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        [
            "apparatus[0].station",
            "apparatus[1].apparatus_type",
            "apparatus[2].min_staffing",
            "apparatus[2].unit_number",
            "locations[1].name",
            "locations[2].name",
        ]
    );
    let (status, body) = app
        .put(
            "/api/v1/setup/stations",
            t,
            json!({"locations": [
                       {"name": "Station 1", "station_number": "1", "address_line1": "100 Main St",
                        "city": "Maple Grove", "state": "MN", "postal_code": "55311"},
                       {"name": "Station 2"}],
                   "apparatus": [
                       {"unit_number": "E1", "name": "Engine 1", "apparatus_type": "engine",
                        "station": "Station 1"},
                       {"unit_number": "A2", "apparatus_type": "ambulance", "min_staffing": 2,
                        "positions": ["Driver", "Paramedic"], "station": "Station 2"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["stations"]["apparatus"][0]["positions"],
        json!(["Officer", "Driver", "Firefighter", "Firefighter"]),
        "an engine gets an engine's seats"
    );

    // Email: checked, then a real test message through a real SMTP server.
    let sink = SmtpSink::start().await;
    let (status, body) = app
        .put(
            "/api/v1/setup/email",
            t,
            json!({"host": "http://smtp.example.org/", "port": 70000, "security": "ssl",
                   "from_address": "nobody"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(fields, ["from_address", "host", "port", "security"]);
    let (status, body) = app
        .put(
            "/api/v1/setup/email",
            t,
            json!({"host": "127.0.0.1", "port": sink.port(), "security": "none",
                   "username": "logbook", "from_address": "logbook@maplegrove.example"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a user needs a password: {body}"
    );
    assert_eq!(error_fields(&body), ["password"]);
    let (status, body) = app
        .put(
            "/api/v1/setup/email",
            t,
            json!({"host": "127.0.0.1", "port": sink.port(), "security": "none",
                   "username": "logbook", "password": "smtp-secret",
                   "from_address": "logbook@maplegrove.example", "from_name": "Maple Grove FD"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"]["password_set"], true);
    assert!(!body.to_string().contains("smtp-secret"));
    let (status, result) = app
        .call(
            Method::POST,
            "/api/v1/setup/email/test",
            Some(t),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["delivered"], true, "{result}");
    assert_eq!(result["to"], "chief@maplegrove.example");
    assert!(result["answer"].as_str().unwrap().starts_with("250"));
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].rcpt_to, ["chief@maplegrove.example"]);
    assert!(got[0].subject.as_deref().unwrap().contains("Test message"));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/setup/email/test",
            Some(t),
            Some(json!({"to": "not an address"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // HTTPS: the certificate in use (plain HTTP in this test) is confirmed.
    let (status, https) = app
        .call(Method::GET, "/api/v1/setup/https", Some(t), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(https["certificate"], "off");
    let (status, _) = app
        .put("/api/v1/setup/https", t, json!({"use": "something"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .put("/api/v1/setup/https", t, json!({"use": "current"}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Modules.
    let (status, body) = app
        .put(
            "/api/v1/setup/modules",
            t,
            json!({"modules": {"elections": false, "teleporter": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .put(
            "/api/v1/setup/modules",
            t,
            json!({"modules": {"elections": false, "facilities": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"], "finish");
    assert_eq!(app.count("organizations").await, 0, "still nothing created");

    // Going back: an earlier step can be answered again.
    let (status, body) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Maple Grove Fire Department", "timezone": "America/Chicago",
                   "identifier_type": "fdid", "identifier": "27-118", "city": "Maple Grove",
                   "state": "MN"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["next_step"], "finish", "later answers are kept");

    // Finish: everything at once, the administrator signed in.
    let (status, done) = app
        .call(Method::POST, "/api/v1/setup/finish", Some(t), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let access = done["session"]["access_token"].as_str().unwrap();
    let me: Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "chief");
    assert_eq!(me["organization"]["name"], "Maple Grove Fire Department");
    let org: Value = app
        .client
        .get(app.url("/api/v1/organization"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["timezone"], "America/Chicago");
    assert_eq!(org["identifier"], "27-118");
    assert_eq!(org["state"], "MN");
    assert_eq!(org["settings"]["modules"]["elections"], false);
    assert_eq!(org["settings"]["modules"]["training"], true);
    assert_eq!(app.count("locations").await, 2);
    let (unit, station): (String, String) = sqlx::query_as(
        "SELECT a.unit_number, l.name FROM basic_apparatus a JOIN locations l ON l.id = a.location_id
          WHERE a.apparatus_type = 'ambulance'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((unit.as_str(), station.as_str()), ("A2", "Station 2"));
    let (host, encrypted): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT host, password_encrypted FROM email_settings")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(host, "127.0.0.1");
    let encrypted = encrypted.expect("the SMTP password is stored");
    assert!(!String::from_utf8_lossy(&encrypted).contains("smtp-secret"));
    // Audited, and the chain verifies.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_logs")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    for a in [
        "organization.created",
        "member.created",
        "location.created",
        "apparatus.created",
        "email_settings.updated",
        "setup.completed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    let verify: Value = app
        .client
        .get(app.url("/api/v1/audit-logs/verify"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(verify["first_broken"].is_null(), "{verify}");

    // Locked for good: the draft emptied, the token gone, every wizard call refused.
    let draft: String = sqlx::query_scalar("SELECT draft FROM setup_state WHERE id = 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(draft, "{}");
    assert!(!app.data_dir.join("setup-token").exists());
    let (status, body) = app
        .call(Method::POST, "/api/v1/setup/finish", Some(t), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("already done"));
    let (status, _) = app
        .put(
            "/api/v1/setup/organization",
            t,
            json!({"name": "Second Try FD", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.count("organizations").await, 1);
    let (_, status_body) = app
        .call(Method::GET, "/api/v1/setup/status", None, None)
        .await;
    assert_eq!(status_body, json!({"pending": false}));
    let res = browser().get(app.url("/setup")).send().await.unwrap();
    assert_eq!(res.headers()[LOCATION], "/");
    let res = browser().get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "pages are served again");

    // A restart does not reopen setup or make a token.
    app.stop().await;
    app.boot().await;
    assert!(!app.data_dir.join("setup-token").exists());
    let (status, _) = app
        .put("/api/v1/setup/modules", "anything", json!({"modules": {}}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "chief", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_failure_while_finishing_creates_nothing_and_setup_can_be_finished_after() {
    let app = Fresh::start().await;
    let token = app.token();
    app.answer_first_steps(&token).await;
    let (status, body) = app
        .put(
            "/api/v1/setup/stations",
            &token,
            json!({"locations": [{"name": "Station 1"}],
                   "apparatus": [{"unit_number": "E1", "apparatus_type": "engine"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.answer_remaining_steps(&token).await;
    let (status, _) = app
        .put(
            "/api/v1/setup/stations",
            &token,
            json!({"locations": [{"name": "Station 1"}],
            "apparatus": [{"unit_number": "E1", "apparatus_type": "engine"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The box "loses power" half-way: the apparatus insert, after the organization, its
    // administrator and the station, fails.
    sqlx::query(
        "CREATE TRIGGER power_cut BEFORE INSERT ON basic_apparatus FOR EACH ROW
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'power cut'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (status, _) = app
        .call(Method::POST, "/api/v1/setup/finish", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    for table in [
        "organizations",
        "users",
        "roles",
        "locations",
        "basic_apparatus",
        "audit_logs",
        "refresh_tokens",
    ] {
        assert_eq!(app.count(table).await, 0, "{table} is empty");
    }
    let (_, status_body) = app
        .call(Method::GET, "/api/v1/setup/status", None, None)
        .await;
    assert_eq!(status_body, json!({"pending": true}));
    assert!(app.data_dir.join("setup-token").exists());

    sqlx::query("DROP TRIGGER power_cut")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::POST, "/api/v1/setup/finish", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.count("organizations").await, 1);
    assert_eq!(app.count("basic_apparatus").await, 1);
}

#[tokio::test]
async fn finishing_needs_every_step_and_two_finishes_at_once_make_one_department() {
    let app = Fresh::start().await;
    let token = app.token();
    app.answer_first_steps(&token).await;
    let (status, body) = app
        .call(Method::POST, "/api/v1/setup/finish", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Stations and apparatus")
    );
    app.answer_remaining_steps(&token).await;
    let finish = || async {
        app.call(Method::POST, "/api/v1/setup/finish", Some(&token), None)
            .await
            .0
    };
    let (a, b) = tokio::join!(finish(), finish());
    let mut got = [a, b];
    got.sort();
    assert_eq!(got, [StatusCode::CREATED, StatusCode::CONFLICT]);
    assert_eq!(app.count("organizations").await, 1);
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn logbook_init_also_ends_setup_mode() {
    let app = Fresh::start().await;
    assert!(app.data_dir.join("setup-token").exists());
    let state = logbook::prepare(test_config(&app.db.url, app.data_dir.clone()))
        .await
        .unwrap();
    logbook::organization::service::provision(
        &state.db,
        &state.hasher,
        logbook::organization::service::OrgProfile {
            name: Some("Shell FD".into()),
            ..Default::default()
        },
        logbook::organization::service::NewAdmin {
            username: "shell".into(),
            email: "shell@example.org".into(),
            password: PASSWORD.into(),
            ..Default::default()
        },
        "cli",
    )
    .await
    .unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "shell", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !app.data_dir.join("setup-token").exists(),
        "the token is destroyed"
    );
    let (status, _) = app
        .call(Method::GET, "/api/v1/setup", Some("whatever"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_wizard_pages_take_the_token_show_errors_beside_fields_and_sign_the_admin_in() {
    let app = Fresh::start().await;
    let token = app.token();
    let post = |path: &str, cookies: &str, form: &[(&str, &str)]| {
        let req = browser()
            .post(app.url(path))
            .header(COOKIE, cookies)
            .header(reqwest::header::ORIGIN, app.base.clone())
            .form(form);
        async move { req.send().await.unwrap() }
    };
    let get = |path: &str, cookies: &str| {
        let req = browser().get(app.url(path)).header(COOKIE, cookies);
        async move { req.send().await.unwrap() }
    };
    // Without the token: the token form. A wrong one: the message beside the field.
    let res = get("/setup/organization", "").await;
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"token\""));
    assert!(html.contains("sudo logbook setup-token"));
    let res = post("/setup", "", &[("token", "nope")]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"token-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    // The right one: a cookie, and on to the first step.
    let res = post("/setup", "", &[("token", &token)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/setup/check");
    let set = res.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookies = cookie_header(&cookies_from(&res));
    // A later step cannot be opened first.
    let res = get("/setup/finish", &cookies).await;
    assert_eq!(res.headers()[LOCATION], "/setup/check");
    let res = get("/setup/check", &cookies).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("migrations applied"));
    let res = post("/setup/check", &cookies, &[]).await;
    assert_eq!(res.headers()[LOCATION], "/setup/organization");
    // A mistake: the message beside the field, the other answers kept, nothing saved.
    let res = post(
        "/setup/organization",
        &cookies,
        &[
            ("name", ""),
            ("organization_type", "fire_department"),
            ("timezone", "Nowhere/City"),
            ("identifier_type", "fdid"),
            ("city", "Maple Grove"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"name-error\""), "{html}");
    assert!(html.contains("id=\"timezone-error\""));
    assert!(html.contains("value=\"Maple Grove\""));
    let res = post(
        "/setup/organization",
        &cookies,
        &[
            ("name", "Maple Grove FD"),
            ("organization_type", "fire_department"),
            ("timezone", "America/Chicago"),
            ("identifier_type", ""),
        ],
    )
    .await;
    assert_eq!(res.headers()[LOCATION], "/setup/administrator");
    let res = post(
        "/setup/administrator",
        &cookies,
        &[
            ("first_name", "Pat"),
            ("last_name", "Olsen"),
            ("username", "chief"),
            ("email", "chief@example.org"),
            ("password", PASSWORD),
            ("password_confirm", "different"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"password_confirm-error\"")
    );
    let res = post(
        "/setup/administrator",
        &cookies,
        &[
            ("first_name", "Pat"),
            ("last_name", "Olsen"),
            ("username", "chief"),
            ("email", "chief@example.org"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.headers()[LOCATION], "/setup/stations");
    // Stations: add one, a vehicle with a bad crew figure, then continue.
    let res = post(
        "/setup/stations",
        &cookies,
        &[("action", "add_location"), ("name", "Station 1")],
    )
    .await;
    assert_eq!(res.headers()[LOCATION], "/setup/stations?saved=1");
    let res = post(
        "/setup/stations",
        &cookies,
        &[
            ("action", "add_apparatus"),
            ("unit_number", "E1"),
            ("apparatus_type", "engine"),
            ("station", "Station 1"),
            ("min_staffing", "99"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"min_staffing-error\"")
    );
    let res = post(
        "/setup/stations",
        &cookies,
        &[
            ("action", "add_apparatus"),
            ("unit_number", "E1"),
            ("apparatus_type", "engine"),
            ("station", "Station 1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = get("/setup/stations", &cookies).await.text().await.unwrap();
    assert!(html.contains("Station 1") && html.contains("E1"));
    let res = post("/setup/stations", &cookies, &[("action", "continue")]).await;
    assert_eq!(res.headers()[LOCATION], "/setup/email");
    let res = post("/setup/email", &cookies, &[("action", "skip")]).await;
    assert_eq!(res.headers()[LOCATION], "/setup/https");
    let res = post("/setup/https", &cookies, &[]).await;
    assert_eq!(res.headers()[LOCATION], "/setup/modules");
    // Only what is built is offered.
    let html = get("/setup/modules", &cookies).await.text().await.unwrap();
    assert!(html.contains(r#"name="module_training""#), "{html}");
    assert!(html.contains(r#"name="module_inventory""#), "{html}");
    assert!(html.contains(r#"name="module_events""#), "{html}");
    assert!(html.contains(r#"name="module_scheduling""#), "{html}");
    assert!(html.contains(r#"name="module_elections""#), "{html}");
    assert!(html.contains(r#"name="module_minutes""#), "{html}");
    for unbuilt in ["forms", "facilities"] {
        assert!(
            !html.contains(&format!("module_{unbuilt}")),
            "{unbuilt} offered"
        );
    }
    let res = post("/setup/modules", &cookies, &[("module_training", "on")]).await;
    assert_eq!(res.headers()[LOCATION], "/setup/finish");
    let html = get("/setup/finish", &cookies).await.text().await.unwrap();
    assert!(html.contains("Maple Grove FD") && html.contains("1 station, 1 vehicle"));
    let res = post("/setup/finish", &cookies, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/?welcome=1");
    let session = cookies_from(&res);
    assert!(
        session
            .iter()
            .any(|(k, v)| k == "logbook_access" && !v.is_empty())
    );
    assert!(
        session
            .iter()
            .any(|(k, v)| k == "logbook_setup" && v.is_empty()),
        "{session:?}"
    );
    let res = get("/", &cookie_header(&session)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Pat Olsen"));
    // Training is on, events and scheduling (offered, not ticked) off; what the wizard did
    // not offer keeps its default.
    let settings: String = sqlx::query_scalar("SELECT settings FROM organizations")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let settings: Value = serde_json::from_str(&settings).unwrap();
    assert_eq!(settings["modules"]["training"], true);
    assert_eq!(settings["modules"]["events"], false);
    assert_eq!(settings["modules"]["scheduling"], false);
    assert_eq!(settings["modules"]["elections"], false);
    assert_eq!(settings["modules"]["forms"], true);
}

#[tokio::test]
async fn the_https_step_shows_the_generated_certificate_and_takes_an_uploaded_one_checked_first() {
    use crate::tls::{TlsServer, fingerprint_of, local_pki, pki, presented, trusting};
    let db = TestDb::create().await;
    let (data, dir) = (temp_dir(), temp_dir());
    let server = TlsServer::start(&db, &data, &dir).await;
    let token = std::fs::read_to_string(data.join("setup-token")).unwrap();
    let token = token.trim();
    // Over HTTPS, trusting the CA a phone downloads.
    let ca = server.ca_pem().await;
    let client = trusting(&ca);
    let base = server.https_url("localhost", "");
    answer_first_steps(&client, &base, token).await;
    for (path, body) in [
        ("/api/v1/setup/stations", json!({"skipped": true})),
        ("/api/v1/setup/email", json!({"skipped": true})),
    ] {
        let (s, b) = call(&client, &base, Method::PUT, path, Some(token), Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
    let (status, view) = call(
        &client,
        &base,
        Method::GET,
        "/api/v1/setup/https",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["mode"], "self-signed");
    assert_eq!(view["certificate"], "generated");
    assert_eq!(view["ca_download"], "/tls/ca.crt");
    let generated = view["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(
        presented(&ca, &server.https_url("localhost", "/health"))
            .await
            .unwrap(),
        generated,
        "the fingerprint shown is the one served"
    );

    // A key that is not the certificate's: refused beside the key, nothing changed.
    let mine = local_pki();
    let other = local_pki();
    let (status, body) = call(
        &client,
        &base,
        Method::PUT,
        "/api/v1/setup/https",
        Some(token),
        Some(json!({"use": "upload", "certificate_pem": mine.cert_pem,
                    "private_key_pem": other.key_pem})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["private_key"]);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("does not belong")
    );
    let expired = pki(&["localhost"], -400, -10);
    let (status, body) = call(
        &client,
        &base,
        Method::PUT,
        "/api/v1/setup/https",
        Some(token),
        Some(json!({"use": "upload", "certificate_pem": expired.cert_pem,
                    "private_key_pem": expired.key_pem})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_fields(&body), ["certificate"]);
    let (_, draft) = call(
        &client,
        &base,
        Method::GET,
        "/api/v1/setup",
        Some(token),
        None,
    )
    .await;
    assert_eq!(
        draft["next_step"], "https",
        "a refused upload answers nothing"
    );

    // A good pair: served to the next connection at once, its fingerprint kept for the audit.
    let (status, body) = call(
        &client,
        &base,
        Method::PUT,
        "/api/v1/setup/https",
        Some(token),
        Some(json!({"use": "upload", "certificate_pem": mine.cert_pem,
                    "private_key_pem": mine.key_pem})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uploaded = fingerprint_of(&mine.cert_pem);
    assert_eq!(body["https"]["certificate"], "uploaded");
    assert_eq!(body["https"]["fingerprint"], uploaded.as_str());
    assert_eq!(
        presented(&mine.ca_pem, &server.https_url("localhost", "/health"))
            .await
            .unwrap(),
        uploaded
    );
    let client = trusting(&mine.ca_pem);
    let (status, body) = call(
        &client,
        &base,
        Method::PUT,
        "/api/v1/setup/modules",
        Some(token),
        Some(json!({"modules": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &client,
        &base,
        Method::POST,
        "/api/v1/setup/finish",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let audited: String =
        sqlx::query_scalar("SELECT changes FROM audit_logs WHERE action = 'setup.completed'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(audited.contains(&uploaded), "{audited}");
    assert!(audited.contains("uploaded"), "{audited}");
    server.stop().await;
}
