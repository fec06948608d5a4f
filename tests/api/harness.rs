//! The shared test harness: the real server on port 0 against MariaDB, two organizations with
//! administrators, members of chosen roles, and HTTP helpers.
//!
//! Databases. An ordinary test (`TestApp::spawn`) runs on the *shared* database of this run of
//! the test binary: created and migrated once, by whichever test process comes first (under a
//! MariaDB named lock), and reused by every test process after it; nextest runs each test in a
//! process of its own, so "once per binary" is kept across processes by the database's name
//! (`shared_database_name`). Such a test makes its own organizations (names as the tests know
//! them, slugs unique to the test) and must only look at its own organizations' rows: counts
//! and lookups say `WHERE organization_id = ?`. A host-wide test (backup, restore, setup, the
//! scheduler and jobs that touch every organization, email sending, TLS, the sign-in throttles,
//! database triggers, counts over a whole table) asks for a database of its own
//! (`TestApp::spawn_private` and the other `spawn_*` variants), created for it and dropped when
//! it ends. The shared database is left behind when the run ends; `scripts/test` drops every
//! `logbook_t_%` database before the next run.
//!
//! On the shared database the same usernames exist in many organizations, so the harness signs
//! in naming the organization (`login`, `page_sign_in`), and each `TestApp` sends its requests
//! from an address of its own in 127.0.0.0/8 (`source_ip`) so that one test's wrong passwords
//! never count against another's sign-ins; a request that lost a deadlock to another test's
//! transaction is sent again (`send`).
//!
//! `LOGBOOK_TEST_DATABASE_URL` names a MariaDB server (no database) whose user may create and
//! drop databases; `scripts/test` sets it.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, ORIGIN, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{AssertSqlSafe, Connection, MySqlPool};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use logbook::Config;
use logbook::organization::service::{self as organizations, NewAdmin, OrgProfile};

use crate::smtp_sink::SmtpSink;

pub const PASSWORD: &str = "correct horse battery staple";

pub fn server_url() -> String {
    std::env::var("LOGBOOK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://logbook:logbook@127.0.0.1:3306".into())
        .trim_end_matches('/')
        .to_string()
}

/// Which database a test's server runs on (see the module's comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// The run's shared, migrated database; the test's own organizations in it.
    Shared,
    /// A database of the test's own, dropped when it ends.
    Private,
}

/// The database a test's server runs on.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// A direct, privileged connection for assertions and for tampering.
    pub pool: MySqlPool,
    /// The run's shared database: other tests use it too, so it is not dropped.
    pub shared: bool,
}

/// The name of this run's shared database: one per run of the test binary (every process
/// nextest starts for a run has the same `NEXTEST_RUN_ID`; plain `cargo test` runs every test
/// in one process), for this binary and the migrations built into it. Under the `logbook_t_`
/// prefix that `scripts/test` cleans up.
pub fn shared_database_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        match std::env::var("NEXTEST_RUN_ID") {
            Ok(run) => h.update(format!("nextest run {run}\n")),
            Err(_) => h.update(format!("process {}\n", std::process::id())),
        }
        if let Ok(exe) = std::env::current_exe() {
            h.update(format!("{}\n", exe.display()));
            if let Ok(modified) = std::fs::metadata(&exe).and_then(|m| m.modified()) {
                h.update(format!("{modified:?}\n"));
            }
        }
        for m in logbook::db::MIGRATOR.iter() {
            h.update(m.version.to_le_bytes());
            h.update(&m.checksum);
        }
        let digest = h.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("logbook_t_shared_{hex}")
    })
}

async fn connect_to(url: &str, max: u32) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(max)
        .connect_with(logbook::db::connect_options(url).unwrap())
        .await
        .expect("connect to test database")
}

impl TestDb {
    /// A fresh database of the test's own, dropped when it ends.
    pub async fn create() -> TestDb {
        let name = format!("logbook_t_{}", &Uuid::now_v7().simple().to_string()[20..]);
        let admin = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&server_url())
            .await
            .expect("connect to the test MariaDB server (is LOGBOOK_TEST_DATABASE_URL right?)");
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )))
        .execute(&admin)
        .await
        .expect("create test database");
        admin.close().await;
        let url = format!("{}/{name}", server_url());
        let pool = connect_to(&url, 3).await;
        TestDb {
            name,
            url,
            pool,
            shared: false,
        }
    }

    /// This run's shared database (`shared_database_name`), created and migrated by the first
    /// test process to get here; the others wait on a named lock, then find it ready.
    pub async fn shared() -> TestDb {
        let name = shared_database_name().to_string();
        let mut lock = sqlx::MySqlConnection::connect(&server_url())
            .await
            .expect("connect to the test MariaDB server (is LOGBOOK_TEST_DATABASE_URL right?)");
        // A named lock is the server's, not a database's: held by this connection until it is
        // released or the connection ends (a test killed while migrating frees it too).
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 300)")
            .bind(&name)
            .fetch_one(&mut lock)
            .await
            .unwrap();
        assert_eq!(got, Some(1), "the lock on the shared test database {name}");
        let url = format!("{}/{name}", server_url());
        let applied: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM `{name}`._sqlx_migrations WHERE success"
        )))
        .fetch_one(&mut lock)
        .await
        .ok();
        let wanted = logbook::db::MIGRATOR.iter().count() as i64;
        if applied != Some(wanted) {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )))
            .execute(&mut lock)
            .await
            .expect("create the shared test database");
            let pool = connect_to(&url, 1).await;
            logbook::db::migrate(&pool)
                .await
                .expect("migrate the shared test database");
            pool.close().await;
        }
        let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&name)
            .execute(&mut lock)
            .await;
        let _ = lock.close().await;
        let pool = connect_to(&url, 3).await;
        TestDb {
            name,
            url,
            pool,
            shared: true,
        }
    }

    pub async fn new(isolation: Isolation) -> TestDb {
        match isolation {
            Isolation::Shared => TestDb::shared().await,
            Isolation::Private => TestDb::create().await,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.shared {
            return;
        }
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee; use a thread with its own small runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = MySqlPoolOptions::new()
                    .max_connections(1)
                    .connect(&server_url())
                    .await
                {
                    // A test that panicked may leave the server's transactions open; end those
                    // connections so the DROP cannot wait on their locks forever.
                    let ids: Vec<u64> = sqlx::query_scalar(
                        "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                    )
                    .bind(&name)
                    .fetch_all(&admin)
                    .await
                    .unwrap_or_default();
                    for id in ids {
                        let _ = sqlx::query(AssertSqlSafe(format!("KILL CONNECTION {id}")))
                            .execute(&admin)
                            .await;
                    }
                    let _ = sqlx::query("SET SESSION lock_wait_timeout = 10")
                        .execute(&admin)
                        .await;
                    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

pub fn test_config(database_url: &str, data_dir: PathBuf) -> Config {
    Config {
        backup_dir: data_dir.join("backups"),
        backup_copy_dir: None,
        backup_keep_daily: 7,
        backup_keep_weekly: 4,
        database_url: database_url.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        log: "warn".into(),
        jwt_secret: None,
        encryption_key: None,
        db_wait: Duration::from_secs(20),
        secure_cookies: false,
        public_url: "http://logbook.test".into(),
        // Tests that exercise the scheduler turn it on; the rest run jobs by hand.
        scheduler: false,
        tls: logbook::config::TlsMode::Off,
        https_listen: "127.0.0.1:0".parse().unwrap(),
        header_timeout: logbook::listener::DEFAULT_HEADER_TIMEOUT,
        max_connections: None,
    }
}

/// A signed-in member.
#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub token: String,
    pub refresh: String,
}

#[derive(Clone, Debug)]
pub struct Org {
    pub id: Uuid,
    /// The same id, typed as the server's services take it.
    pub org_id: logbook::auth::OrgId,
    pub slug: String,
    pub admin: User,
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub state: logbook::AppState,
    pub data_dir: PathBuf,
    pub a: Org,
    pub b: Org,
    /// Shared or private database (see the module's comment).
    pub isolation: Isolation,
    /// The address this test's requests come from (`client`, `browser()`): on the shared
    /// database one of its own, so that the per-address sign-in throttle counts only its own
    /// failures; 127.0.0.1 on a private one.
    pub source_ip: IpAddr,
    /// Makes this test's organizations' slugs unique on the shared database.
    tag: String,
    /// The organizations this test made (`provision`): where its sign-ins look for usernames.
    orgs: Mutex<Vec<Uuid>>,
    /// `snapshot`'s queries, once worked out.
    snapshot_plan: OnceLock<Vec<(String, String)>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// An address of its own in 127.0.0.0/8 for one test on the shared database (Linux answers on
/// all of it); 127.0.0.1 elsewhere.
fn source_ip_for(isolation: Isolation) -> IpAddr {
    if isolation == Isolation::Private || !cfg!(target_os = "linux") {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    let r: u32 = rand::random();
    IpAddr::V4(Ipv4Addr::new(
        127,
        1 + (r % 254) as u8,
        (r >> 8) as u8,
        1 + ((r >> 16) % 254) as u8,
    ))
}

fn http_client(source_ip: IpAddr, accept_invalid_certs: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(source_ip)
        .danger_accept_invalid_certs(accept_invalid_certs)
        .build()
        .unwrap()
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("logbook-test-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A local port with nothing listening on it, for a server the test starts a moment later.
///
/// Chosen at random below the kernel's ephemeral range: a port the kernel hands out (as
/// `bind(0)` would) can be handed again, to another test's outgoing connection, before the
/// server binds it ("Address already in use" in CI); below the range only another test's
/// `free_port` could take it, one in ~20 000.
pub fn free_port() -> u16 {
    use rand::Rng;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_low > 12_000 {
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let port = rng.gen_range(10_000..ephemeral_low);
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// The `logbook` binary (server.rs, service.rs, email.rs, tls.rs).

/// The `logbook` binary with a clean environment and an empty config file `dir/empty.toml` (so
/// that a host's /etc/logbook/logbook.toml cannot leak in); see `logbook_command_with_config`.
pub fn logbook_command(dir: &Path) -> tokio::process::Command {
    let config = dir.join("empty.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    logbook_command_with_config(&config)
}

/// The `logbook` binary with `--config config` and nothing from the test's environment: no
/// LOGBOOK_* variable and no systemd NOTIFY_SOCKET/WATCHDOG_USEC/WATCHDOG_PID (the caller sets
/// what it means to). LOGBOOK_LOG=warn unless the caller sets it; stdin and stdout null, stderr
/// piped (for `wait_until_healthy`'s message); killed when dropped.
pub fn logbook_command_with_config(config: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_logbook"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOGBOOK_") {
            cmd.env_remove(key);
        }
    }
    for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        cmd.env_remove(key);
    }
    cmd.arg("--config")
        .arg(config)
        .env("LOGBOOK_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Polls GET `base`/health until it answers 200 with status "pass". Panics with `child`'s stderr
/// if it exits first, or after `within`.
pub async fn wait_until_healthy(child: &mut tokio::process::Child, base: &str, within: Duration) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = format!("{base}/health");
    let deadline = Instant::now() + within;
    loop {
        if let Ok(res) = client.get(&health).send().await
            && res.status() == StatusCode::OK
        {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], "pass", "{health}: {body}");
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = e.read_to_string(&mut stderr).await;
            }
            panic!("logbook exited ({status}) before it was healthy: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "{health} not healthy within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the real server (`lib::serve`) on an ephemeral port.
pub async fn start_server(
    config: Config,
) -> (
    logbook::AppState,
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    start_server_with(config, None).await
}

/// Like `start_server`, with these jobs instead of the built-in ones (tests add their own to
/// `logbook::app::job_registry()`).
pub async fn start_server_with(
    config: Config,
    jobs: Option<logbook::jobs::Registry>,
) -> (
    logbook::AppState,
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut state = logbook::prepare(config).await.expect("prepare server");
    if let Some(jobs) = jobs {
        state.jobs = std::sync::Arc::new(jobs);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(logbook::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    (state, addr, tx, handle)
}

/// How the server answers when a transaction lost a deadlock (MariaDB rolled it back: nothing
/// was written) and its one retry (`app.rs`, `retry_contended`) lost again.
const CONTENDED: &str = "another change to the same records was being saved at that moment";

impl TestApp {
    /// Sends a request the harness makes. On the shared database, one answered with the
    /// server's "lost a deadlock, try again" 503 is sent again, a few times, as a client would:
    /// there this test's transactions meet every other running test's, and some of the
    /// server's writes deadlock with a concurrent one in another department (a new role's
    /// permissions are deleted before they are inserted, and that DELETE locks the end of the
    /// index, which every department's next role shares). Any other answer, and every answer
    /// on a private database, is returned as is.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Response {
        let mut req = req;
        for attempt in 1.. {
            let again = req.try_clone();
            let res = req.send().await.unwrap();
            if res.status() != StatusCode::SERVICE_UNAVAILABLE
                || self.isolation != Isolation::Shared
                || again.is_none()
            {
                return res;
            }
            let (status, version, url) = (res.status(), res.version(), res.url().clone());
            let headers = res.headers().clone();
            let body = res.bytes().await.unwrap();
            if attempt > 4 || !String::from_utf8_lossy(&body).contains(CONTENDED) {
                let mut rebuilt = axum::http::Response::builder()
                    .status(status)
                    .version(version)
                    .body(body)
                    .unwrap();
                *rebuilt.headers_mut() = headers;
                return reqwest::Response::from(rebuilt);
            }
            eprintln!("harness: {url} lost a deadlock to another transaction; sending it again");
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            req = again.unwrap();
        }
        unreachable!()
    }
}

impl TestApp {
    /// The server on this run's shared database, with two organizations of the test's own
    /// ("A" and "B") and their administrators.
    pub async fn spawn() -> TestApp {
        Self::spawn_plain(Isolation::Shared, |_| {}, None, 2).await
    }

    /// `spawn` on a database of the test's own: for host-wide tests (see the module's comment).
    pub async fn spawn_private() -> TestApp {
        Self::spawn_plain(Isolation::Private, |_| {}, None, 2).await
    }

    /// `spawn_private`, with organization A's email going to a fresh SMTP sink. Private: every
    /// server's mail sender sends every organization's due email, so on the shared database
    /// another test's server could send (or fail to send) this test's.
    pub async fn spawn_with_sink() -> (TestApp, SmtpSink) {
        let app = Self::spawn_private().await;
        let sink = SmtpSink::start().await;
        email_to_sink(&app, &app.a, sink.port()).await;
        (app, sink)
    }

    /// `spawn_private` with a changed configuration (e.g. `c.scheduler = true`, which runs
    /// every organization's jobs) and, optionally, other jobs than the built-in ones.
    pub async fn spawn_with(
        tweak: impl FnOnce(&mut Config),
        jobs: Option<logbook::jobs::Registry>,
    ) -> TestApp {
        Self::spawn_plain(Isolation::Private, tweak, jobs, 2).await
    }

    /// `spawn_private` with organization A alone on the host (`b` is a placeholder): what a
    /// single department's box looks like (backups from the web UI need it).
    pub async fn spawn_one_organization() -> TestApp {
        Self::spawn_plain(Isolation::Private, |_| {}, None, 1).await
    }

    async fn spawn_plain(
        isolation: Isolation,
        tweak: impl FnOnce(&mut Config),
        jobs: Option<logbook::jobs::Registry>,
        organizations: usize,
    ) -> TestApp {
        let db = TestDb::new(isolation).await;
        let data_dir = temp_dir();
        let mut config = test_config(&db.url, data_dir.clone());
        tweak(&mut config);
        let (state, addr, shutdown, server) = start_server_with(config, jobs).await;
        let source_ip = source_ip_for(isolation);
        let app = TestApp {
            base: format!("http://{addr}"),
            addr,
            client: http_client(source_ip, false),
            db,
            state,
            data_dir,
            a: placeholder_org(),
            b: placeholder_org(),
            isolation,
            source_ip,
            tag: format!("{:08x}", rand::random::<u32>()),
            orgs: Mutex::new(Vec::new()),
            snapshot_plan: OnceLock::new(),
            shutdown: Some(shutdown),
            server: Some(server),
        };
        app.with_organizations(organizations).await
    }

    /// Provisions organization A and, for 2, B, with their administrators signed in.
    async fn with_organizations(mut self, organizations: usize) -> TestApp {
        self.a = self.provision("Alpha Fire Department", "alpha-admin").await;
        if organizations > 1 {
            self.b = self.provision("Bravo Fire Department", "bravo-admin").await;
        }
        self
    }

    /// `spawn_private`, with HTTPS on (`tls = "self-signed"` unless `tweak` says otherwise) as
    /// `logbook serve` runs it: `base` is the HTTPS address (as `localhost`), the plain-HTTP port
    /// only redirects. `client` and the page helpers do not check the certificate (the tests
    /// that are about it make clients of their own).
    pub async fn spawn_tls(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::create().await;
        let data_dir = temp_dir();
        let mut config = test_config(&db.url, data_dir.clone());
        config.tls = logbook::config::TlsMode::SelfSigned;
        config.secure_cookies = true;
        tweak(&mut config);
        let tls = logbook::system::tls::load(&config)
            .expect("load the certificate")
            .expect("tls is on");
        let mut state = logbook::prepare(config).await.expect("prepare server");
        state.tls = Some(std::sync::Arc::new(tls));
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = https.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(logbook::serve_tls(state.clone(), http, https, async move {
            let _ = rx.await;
        }));
        let source_ip = source_ip_for(Isolation::Private);
        let app = TestApp {
            base: format!("https://localhost:{}", addr.port()),
            addr,
            client: http_client(source_ip, true),
            db,
            state,
            data_dir,
            a: placeholder_org(),
            b: placeholder_org(),
            isolation: Isolation::Private,
            source_ip,
            tag: format!("{:08x}", rand::random::<u32>()),
            orgs: Mutex::new(Vec::new()),
            snapshot_plan: OnceLock::new(),
            shutdown: Some(shutdown),
            server: Some(server),
        };
        app.with_organizations(2).await
    }

    /// The address the server sees this test's requests come from, as it records it.
    pub fn client_ip(&self) -> String {
        self.source_ip.to_string()
    }

    /// A browser for this server's pages (`browser()`; over HTTPS, without checking the
    /// certificate).
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(self.source_ip)
            .danger_accept_invalid_certs(self.base.starts_with("https:"))
            .build()
            .unwrap()
    }

    /// Creates an organization through the same code as `logbook init` / `org add`. On the
    /// shared database it is registered as `name` plus this test's tag (so that its slug is
    /// unique there) and then renamed to `name`, the name the test knows.
    pub async fn provision(&self, name: &str, admin_username: &str) -> Org {
        let registered = match self.isolation {
            Isolation::Shared => format!("{name} {}", self.tag),
            Isolation::Private => name.to_string(),
        };
        // Called directly, not over HTTP, so without the server's retry after a lost deadlock;
        // on the shared database another test may be provisioning at the same moment.
        let mut attempt = 0;
        let done = loop {
            attempt += 1;
            let done = organizations::provision(
                &self.state.db,
                &self.state.hasher,
                OrgProfile {
                    name: Some(registered.clone()),
                    timezone: Some("America/Chicago".into()),
                    ..Default::default()
                },
                NewAdmin {
                    username: admin_username.into(),
                    email: format!("{admin_username}@example.org"),
                    password: PASSWORD.into(),
                    ..Default::default()
                },
                "test",
            )
            .await;
            match done {
                // Tests provisioning at once on the shared database deadlock on the system
                // roles (a known limit of provisioning, noted in the issue log); six tests at a
                // time make it common, so the retries are many and spread out by a jitter.
                Err(e) if attempt < 15 && format!("{e:?}").contains(CONTENDED) => {
                    eprintln!("harness: provisioning {name} lost a deadlock; provisioning again");
                    let jitter = rand::random::<u64>() % 100;
                    tokio::time::sleep(Duration::from_millis(50 * attempt.min(6) + jitter)).await;
                }
                done => break done.expect("provision organization"),
            }
        };
        if self.isolation == Isolation::Shared {
            sqlx::query("UPDATE organizations SET name = ? WHERE id = ?")
                .bind(name)
                .bind(done.org_id)
                .execute(&self.db.pool)
                .await
                .unwrap();
        }
        self.orgs.lock().unwrap().push(done.org_id.uuid());
        let admin = self.login(admin_username, PASSWORD).await;
        Org {
            id: done.org_id.uuid(),
            org_id: done.org_id,
            slug: done.slug,
            admin,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The slug of the organization of this test where `identifier` (a username or an e-mail
    /// address) signs in with `password`, as the server picks among several: the oldest
    /// organization first, and of those the first whose password matches. None if no
    /// organization of this test has it.
    pub async fn organization_of(&self, identifier: &str, password: &str) -> Option<String> {
        let orgs = self.orgs.lock().unwrap().clone();
        if orgs.is_empty() {
            return None;
        }
        let marks = vec!["?"; orgs.len()].join(", ");
        let sql = format!(
            "SELECT o.slug, u.password_hash FROM users u
               JOIN organizations o ON o.id = u.organization_id
              WHERE (u.username = ? OR u.email = ?) AND o.id IN ({marks})
              ORDER BY o.created_at, u.id"
        );
        let mut q = sqlx::query_as::<_, (String, Option<String>)>(AssertSqlSafe(sql))
            .bind(identifier)
            .bind(identifier);
        for org in &orgs {
            q = q.bind(org);
        }
        let found = q.fetch_all(&self.db.pool).await.unwrap();
        if found.len() > 1 {
            for (slug, hash) in &found {
                if self
                    .state
                    .hasher
                    .verify(password.to_string(), hash.clone())
                    .await
                    .unwrap()
                {
                    return Some(slug.clone());
                }
            }
        }
        found.into_iter().next().map(|(slug, _)| slug)
    }

    /// POST /api/v1/auth/login naming the organization of this test that has `username`
    /// (`organization_of`), as a client on a host with several departments does.
    pub async fn login_response(
        &self,
        username: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> reqwest::Response {
        let mut body = json!({"username": username, "password": password});
        if let Some(slug) = self.organization_of(username, password).await {
            body["organization"] = json!(slug);
        }
        let mut req = self.client.post(self.url("/api/v1/auth/login")).json(&body);
        if let Some(user_agent) = user_agent {
            req = req.header(USER_AGENT, user_agent);
        }
        self.send(req).await
    }

    /// Signs in; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> User {
        let res = self.login_response(username, password, None).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username} failed");
        let body: Value = res.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_string();
        let me = self.get(&token, "/api/v1/auth/me").await;
        User {
            id: me.1["id"].as_str().unwrap().parse().unwrap(),
            username: username.to_string(),
            token,
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
        }
    }

    /// A request with a Bearer token; returns the status and the JSON body (Null if none).
    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = self.send(req).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, token, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, token, path, Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, token, path, None).await
    }

    /// The id of a role in `org` by slug.
    pub async fn role_id(&self, org: &Org, slug: &str) -> Uuid {
        sqlx::query_scalar("SELECT id FROM roles WHERE organization_id = ? AND slug = ?")
            .bind(org.id)
            .bind(slug)
            .fetch_one(&self.db.pool)
            .await
            .unwrap_or_else(|_| panic!("no role {slug}"))
    }

    /// Creates a member of `org` through the API (as its admin), gives them `roles` (slugs; every
    /// member also holds `member`), and signs them in. The harness skips the forced password
    /// change so that tests start from a usable session.
    pub async fn member(&self, org: &Org, username: &str, roles: &[&str]) -> User {
        let (status, body) = self
            .post(
                &org.admin.token,
                "/api/v1/members",
                json!({
                    "username": username,
                    "email": format!("{username}@example.org"),
                    "first_name": "Test",
                    "last_name": username,
                    "temporary_password": PASSWORD,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create member: {body}");
        let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
        for slug in roles {
            let role = self.role_id(org, slug).await;
            let (status, body) = self
                .post(
                    &org.admin.token,
                    &format!("/api/v1/members/{id}/roles"),
                    json!({"role_id": role}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "assign {slug}: {body}");
        }
        sqlx::query("UPDATE users SET must_change_password = FALSE WHERE id = ?")
            .bind(id)
            .execute(&self.db.pool)
            .await
            .unwrap();
        self.login(username, PASSWORD).await
    }

    /// A custom role with exactly `permissions`, assigned to a new member who is signed in.
    pub async fn member_with(&self, org: &Org, username: &str, permissions: &[&str]) -> User {
        let (status, role) = self
            .post(
                &org.admin.token,
                "/api/v1/roles",
                json!({"name": format!("Role for {username}"), "permissions": permissions}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create role: {role}");
        let user = self.member(org, username, &[]).await;
        let (status, body) = self
            .post(
                &org.admin.token,
                &format!("/api/v1/members/{}/roles", user.id),
                json!({"role_id": role["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "assign custom role: {body}");
        user
    }

    /// The organizations this test made (A, B and any it provisioned since).
    pub fn org_ids(&self) -> Vec<Uuid> {
        self.orgs.lock().unwrap().clone()
    }

    /// Number of rows of `table` (which has an `organization_id`) that belong to this test's
    /// organizations: on the shared database the table also holds every other test's.
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.count_rows_where(table, "TRUE").await
    }

    /// `count_rows`, of the rows that also meet `condition` (SQL, no parameters).
    pub async fn count_rows_where(&self, table: &str, condition: &str) -> i64 {
        let orgs = self.org_ids();
        let marks = vec!["?"; orgs.len().max(1)].join(", ");
        let mut q = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE organization_id IN ({marks}) AND ({condition})"
        )));
        if orgs.is_empty() {
            q = q.bind(Uuid::nil());
        }
        for org in orgs {
            q = q.bind(org);
        }
        q.fetch_one(&self.db.pool).await.unwrap()
    }

    /// Number of audit entries of `org`.
    pub async fn audit_count(&self, org: &Org) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_logs WHERE organization_id = ?")
            .bind(org.id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Today in `org`'s time zone (the department's dates: records, shifts, deadlines).
    pub async fn org_today(&self, org: &Org) -> chrono::NaiveDate {
        let tz: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
            .bind(org.id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        logbook::time::today_in(&tz, chrono::Utc::now())
    }

    /// Runs the job `name` now for `org` (as its admin); panics unless it succeeded.
    pub async fn run_job(&self, org: &Org, name: &str) -> Value {
        let (status, run) = self
            .post(
                &org.admin.token,
                &format!("/api/v1/jobs/{name}/run"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(run["outcome"], "succeeded", "{run}");
        run
    }

    /// Number of audit entries of `org` with `action`.
    pub async fn audit_actions(&self, org: &Org, action: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_logs WHERE organization_id = ? AND action = ?",
        )
        .bind(org.id)
        .bind(action)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// The id of `user`'s notification with `subject`.
    pub async fn notification_id(&self, user: Uuid, subject: &str) -> Uuid {
        sqlx::query_scalar(
            "SELECT id FROM notification_logs WHERE recipient_id = ? AND subject = ?",
        )
        .bind(user)
        .bind(subject)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// A fingerprint of every tenant table's rows for `org` (and of the rows that hang off
    /// them in tables without an organization_id), to show that something changed nothing.
    pub async fn snapshot(&self, org: &Org) -> String {
        let mut out = String::new();
        for (table, select) in self.snapshot_queries().await {
            let mut rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(select))
                .bind(org.id)
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
            rows.sort();
            out.push_str(&format!("{table}: {}\n", rows.join("\n  ")));
        }
        out
    }

    /// For each table `snapshot` reads, the query of one organization's rows (bound to its id),
    /// worked out from the schema once per test (information_schema is slow to ask).
    async fn snapshot_queries(&self) -> Vec<(String, String)> {
        if let Some(plan) = self.snapshot_plan.get() {
            return plan.clone();
        }
        let pool = &self.db.pool;
        let mut plan = Vec::new();
        // Every table that holds an organization's rows, so a new module's tables are covered
        // without a change here.
        let mut tables: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.columns
              WHERE table_schema = DATABASE() AND column_name = 'organization_id'
              ORDER BY table_name",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        tables.insert(0, "organizations".into());
        for table in tables {
            let column = if table == "organizations" {
                "id"
            } else {
                "organization_id"
            };
            let select = format!(
                "SELECT CAST(CONCAT_WS('|', {cols}) AS CHAR) FROM {table} WHERE {column} = ?",
                cols = columns_of(pool, &table).await.join(", ")
            );
            plan.push((table, select));
        }
        // Tables without an organization_id whose rows hang off one that has it (an
        // announcement's audience roles and dismissals): by their first such foreign key.
        let children: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT CAST(k.table_name AS CHAR), CAST(k.column_name AS CHAR),
                    CAST(k.referenced_table_name AS CHAR), CAST(k.referenced_column_name AS CHAR)
               FROM information_schema.key_column_usage k
              WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL
                AND k.referenced_table_name IN (
                      SELECT c.table_name FROM information_schema.columns c
                       WHERE c.table_schema = DATABASE() AND c.column_name = 'organization_id')
                AND k.table_name NOT IN (
                      SELECT c.table_name FROM information_schema.columns c
                       WHERE c.table_schema = DATABASE() AND c.column_name = 'organization_id')
              ORDER BY k.table_name, k.constraint_name, k.ordinal_position",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (table, column, parent, parent_column) in children {
            if !seen.insert(table.clone()) {
                continue;
            }
            let select = format!(
                "SELECT CAST(CONCAT_WS('|', {cols}) AS CHAR) FROM {table}
                  WHERE {column} IN (SELECT {parent_column} FROM {parent} WHERE organization_id = ?)",
                cols = columns_of(pool, &table).await.join(", ")
            );
            plan.push((table, select));
        }
        let _ = self.snapshot_plan.set(plan.clone());
        plan
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        self.state.db.close().await;
    }
}

async fn columns_of(pool: &MySqlPool, table: &str) -> Vec<String> {
    let cols: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap();
    cols.into_iter()
        .map(|c| format!("COALESCE(HEX(`{c}`), 'NULL')"))
        .collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn placeholder_org() -> Org {
    Org {
        id: Uuid::nil(),
        org_id: logbook::auth::OrgId::generate(),
        slug: String::new(),
        admin: User {
            id: Uuid::nil(),
            username: String::new(),
            token: String::new(),
            refresh: String::new(),
        },
    }
}

/// Asserts a response is a problem document with `status`.
pub fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "unexpected status; body: {body}");
    assert!(
        body.get("type").is_some() && body.get("detail").is_some(),
        "not a problem document: {body}"
    );
    assert_eq!(body["status"].as_u64(), Some(u64::from(expected.as_u16())));
}

/// The field names in a validation problem.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A browser for page tests: no redirects followed and no cookie jar, so every step is visible.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The cookies a response sets, as (name, value); a cleared cookie has an empty value.
pub fn cookies_from(res: &reqwest::Response) -> Vec<(String, String)> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The Cookie header that sends these cookies back; cleared (empty) ones are left out.
pub fn cookie_header(cookies: &[(String, String)]) -> String {
    cookies
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Cookie header of a page session carried by `user`'s API access token.
pub fn access_cookie(user: &User) -> String {
    format!("logbook_access={}", user.token)
}

/// Status, Location (empty if there is none) and body of a page response.
async fn page_parts(res: reqwest::Response) -> (StatusCode, String, String) {
    let status = res.status();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// Page requests, as a `browser()` sends them: `cookies` is a Cookie header ("" for none).
impl TestApp {
    /// A GET of a page with these cookies; the whole response.
    pub async fn page_get_response(&self, path: &str, cookies: &str) -> reqwest::Response {
        self.send(self.browser().get(self.url(path)).header(COOKIE, cookies))
            .await
    }

    /// Status, Location (empty if none) and body of a GET.
    pub async fn page_get(&self, path: &str, cookies: &str) -> (StatusCode, String, String) {
        page_parts(self.page_get_response(path, cookies).await).await
    }

    /// A plain form post, as a browser sends it (with our Origin); the whole response.
    pub async fn page_post_response(
        &self,
        path: &str,
        cookies: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.form_post(path, Some(cookies), None, form).await
    }

    /// Status, Location (empty if none) and body of a form post (with our Origin).
    pub async fn page_post(
        &self,
        path: &str,
        cookies: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        page_parts(self.page_post_response(path, cookies, form).await).await
    }

    /// A form post with our Origin and no Cookie header at all; the whole response.
    pub async fn page_post_anonymous(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.form_post(path, None, None, form).await
    }

    /// Submits the sign-in form; the whole response. The form names no organization: on the
    /// shared database only a username or address that no other test uses signs in with it.
    pub async fn page_sign_in_form(
        &self,
        username: &str,
        password: &str,
        next: &str,
    ) -> reqwest::Response {
        self.sign_in_request(username, password, next, None).await
    }

    /// Signs in (through the form on a private database; see `page_session`); panics unless it
    /// succeeds. Returns the Cookie header for later requests.
    pub async fn page_sign_in(&self, username: &str, password: &str) -> String {
        self.page_session(username, password, None).await
    }

    /// `page_sign_in` from a browser with this User-Agent.
    pub async fn page_sign_in_with_agent(
        &self,
        username: &str,
        password: &str,
        user_agent: &str,
    ) -> String {
        self.page_session(username, password, Some(user_agent))
            .await
    }

    /// Through the sign-in form on a private database. The form has no field for the
    /// organization, so on the shared database (where the same username is in many) through
    /// the API's sign-in, which names it and sets the same session cookies.
    async fn page_session(
        &self,
        username: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> String {
        if self.isolation == Isolation::Shared {
            let res = self.login_response(username, password, user_agent).await;
            assert_eq!(res.status(), StatusCode::OK, "sign-in of {username}");
            let cookies = cookies_from(&res);
            assert!(
                cookies
                    .iter()
                    .any(|(k, v)| k == "logbook_access" && !v.is_empty()),
                "sign-in of {username} set no session cookie"
            );
            return cookie_header(&cookies);
        }
        let res = self
            .sign_in_request(username, password, "/", user_agent)
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {username}");
        cookie_header(&cookies_from(&res))
    }

    async fn sign_in_request(
        &self,
        username: &str,
        password: &str,
        next: &str,
        user_agent: Option<&str>,
    ) -> reqwest::Response {
        let form = [
            ("username", username),
            ("password", password),
            ("next", next),
        ];
        self.form_post("/login", None, user_agent, &form).await
    }

    async fn form_post(
        &self,
        path: &str,
        cookies: Option<&str>,
        user_agent: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .browser()
            .post(self.url(path))
            .header(ORIGIN, &self.base);
        if let Some(cookies) = cookies {
            req = req.header(COOKIE, cookies);
        }
        if let Some(user_agent) = user_agent {
            req = req.header(USER_AGENT, user_agent);
        }
        self.send(req.form(form)).await
    }
}

// ---------------------------------------------------------------------------------------------
// Email, notifications and password reset (email.rs, notify.rs, reset.rs).

/// Saves `org`'s email settings for an SMTP sink on 127.0.0.1:`port`: no TLS, no credentials.
pub async fn email_to_sink(app: &TestApp, org: &Org, port: u16) -> Value {
    let (status, body) = app
        .call(
            Method::PUT,
            &org.admin.token,
            "/api/v1/settings/email",
            Some(json!({
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "logbook@example.org",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "save email settings: {body}");
    body
}

/// A "CPR" certification course for `org`, and a record of it for `member` completed
/// `completed_days_ago` and expiring `expires_in_days` from the department's today (its date).
pub async fn certification_expiring(
    app: &TestApp,
    org: &Org,
    member: Uuid,
    completed_days_ago: i64,
    expires_in_days: i64,
) -> chrono::NaiveDate {
    let (status, cpr) = app
        .post(
            &org.admin.token,
            "/api/v1/training/courses",
            json!({"name": "CPR", "training_type": "certification", "duration_hours": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cpr}");
    let today = app.org_today(org).await;
    let expires = today + chrono::Duration::days(expires_in_days);
    let (status, r) = app
        .post(
            &org.admin.token,
            "/api/v1/training/records",
            json!({"user_ids": [member], "course_id": cpr["id"],
                   "completion_date": (today - chrono::Duration::days(completed_days_ago)).to_string(),
                   "expiration_date": expires.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    expires
}

/// Calls `check` every 50 ms until it answers `Some`; panics naming `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Notifies `users` of `org_id` through the call the modules use, commits, and kicks the sender.
pub async fn notify_now(
    state: &logbook::AppState,
    org_id: logbook::auth::OrgId,
    users: &[Uuid],
    category: &'static str,
    subject: &str,
    link: Option<&str>,
    dedupe_key: Option<&str>,
) -> logbook::notify::Sent {
    let mut tx = state.db.begin().await.unwrap();
    let sent = logbook::notify::notify(
        &state.notifier,
        &mut tx,
        org_id,
        users,
        &logbook::notify::Notice {
            category,
            subject: subject.into(),
            body: format!("About {subject}.\n\nSecond paragraph."),
            link: link.map(str::to_string),
            dedupe_key: dedupe_key.map(str::to_string),
        },
    )
    .await
    .expect("notify");
    tx.commit().await.unwrap();
    state.mailer.kick();
    sent
}

/// An `email_outbox` row, read directly.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub notification_id: Option<Uuid>,
    pub to_address: String,
    pub subject: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    pub give_up_at: chrono::DateTime<chrono::Utc>,
}

/// `org`'s outbox, oldest first.
pub async fn outbox_rows(pool: &MySqlPool, org_id: Uuid) -> Vec<OutboxRow> {
    sqlx::query_as(
        "SELECT id, notification_id, to_address, subject, status, attempts, last_error,
                next_attempt_at, sent_at, give_up_at
           FROM email_outbox WHERE organization_id = ? ORDER BY created_at, id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits until no sender holds `org_id`'s mail lock (no send is in progress anywhere).
pub async fn mail_lock_free(pool: &MySqlPool, org_id: Uuid) {
    let name = format!("logbook:mail:{}", org_id.simple());
    eventually("the mail lock to be free", Duration::from_secs(30), || {
        let name = name.clone();
        async move {
            let free: Option<i64> = sqlx::query_scalar("SELECT IS_FREE_LOCK(?)")
                .bind(name)
                .fetch_one(pool)
                .await
                .unwrap();
            (free == Some(1)).then_some(())
        }
    })
    .await
}

/// Runs the `email_outbox` job now as `org`'s administrator (once no send is in progress);
/// returns the finished run.
pub async fn run_email_job(app: &TestApp, org: &Org) -> Value {
    mail_lock_free(&app.db.pool, org.id).await;
    let (status, run) = app
        .post(&org.admin.token, "/api/v1/jobs/email_outbox/run", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "run email_outbox: {run}");
    run
}
