//! The `logbook` binary as a systemd `Type=notify` service (`systemd/logbook.service`): the test
//! plays systemd's part on a unix datagram socket (NOTIFY_SOCKET, WATCHDOG_USEC) and checks
//! READY=1 once the server answers, watchdog pings only while the database answers, and
//! STOPPING=1 on SIGTERM.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::UnixDatagram;

use crate::harness::*;
use crate::proxy::{Link, Proxy, host_port};

/// Half of it is the ping period the server must keep.
const WATCHDOG_USEC: &str = "500000";

/// One datagram from the server, split into its `KEY=value` lines, and when it arrived.
struct Message {
    at: Instant,
    lines: Vec<String>,
}

impl Message {
    fn has(&self, line: &str) -> bool {
        self.lines.iter().any(|l| l == line)
    }

    fn status(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| l.strip_prefix("STATUS="))
    }
}

/// What systemd would be listening on.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        NotifySocket { socket, path }
    }

    /// The next datagram, or None if none arrives before `deadline`.
    async fn next_before(&self, deadline: Instant) -> Option<Message> {
        let mut buf = vec![0u8; 4096];
        let wait = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(wait, self.socket.recv(&mut buf))
            .await
            .ok()?
            .unwrap();
        let text = String::from_utf8(buf[..n].to_vec()).expect("notification is not UTF-8");
        Some(Message {
            at: Instant::now(),
            lines: text.lines().map(str::to_string).collect(),
        })
    }

    /// Every datagram that arrives within `window`.
    async fn collect_for(&self, window: Duration) -> Vec<Message> {
        let deadline = Instant::now() + window;
        let mut got = Vec::new();
        while let Some(m) = self.next_before(deadline).await {
            got.push(m);
        }
        got
    }

    /// Datagrams up to and including the first one that `done` accepts.
    async fn until(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&Message) -> bool,
    ) -> Vec<Message> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        loop {
            match self.next_before(deadline).await {
                Some(m) => {
                    let finished = done(&m);
                    got.push(m);
                    if finished {
                        return got;
                    }
                }
                None => panic!(
                    "no {what} within {within:?}; got {:?}",
                    got.iter().map(|m| &m.lines).collect::<Vec<_>>()
                ),
            }
        }
    }
}

/// `logbook serve` with a clean environment: no LOGBOOK_* or systemd variables of our own.
fn serve_command(dir: &Path, database_url: &str, port: u16) -> tokio::process::Command {
    let mut cmd = logbook_command(dir);
    cmd.arg("serve")
        .env("LOGBOOK_DATABASE_URL", database_url)
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOGBOOK_DATA_DIR", dir.join("data"))
        .env("LOGBOOK_DB_WAIT_SECS", "20");
    cmd
}

fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn health(client: &reqwest::Client, port: u16) -> Result<(StatusCode, Value), String> {
    let res = client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.json().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Exit status of `child` after SIGTERM, failing the test if it takes longer than 10 s.
async fn stop(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    sigterm(child.id().expect("the server already exited"));
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("logbook serve did not stop within 10 s of SIGTERM")
        .unwrap()
}

fn watchdog_pings(messages: &[Message]) -> Vec<Instant> {
    messages
        .iter()
        .filter(|m| m.has("WATCHDOG=1"))
        .map(|m| m.at)
        .collect()
}

#[tokio::test]
async fn systemd_hears_ready_then_watchdog_while_the_database_answers_then_stopping() {
    let db = TestDb::create().await;
    let proxy = Proxy::start(host_port(&db.url), Link::Up).await;
    let dir = temp_dir();
    let notify = NotifySocket::bind(&dir);
    let port = free_port();
    let mut cmd = serve_command(&dir, &proxy.url_for(&db.url), port);
    // WATCHDOG_PID stays unset: the server cannot know its pid before it is spawned, and
    // sd-notify accepts an absent WATCHDOG_PID as "meant for this process".
    cmd.env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", WATCHDOG_USEC);
    let mut child = cmd.spawn().unwrap();
    let client = client();

    // READY=1 comes once migrations ran and the listener is up: /health answers at once,
    // with no retry. Until then there are status lines and no watchdog pings.
    let before = notify
        .until("READY=1", Duration::from_secs(60), |m| m.has("READY=1"))
        .await;
    let (status, body) = health(&client, port)
        .await
        .expect("READY=1 came before the server answered");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pass");
    let ready = before.last().unwrap();
    assert_eq!(
        ready.status(),
        Some(format!("Serving on 127.0.0.1:{port}").as_str()),
        "{:?}",
        ready.lines
    );
    assert!(
        before[0]
            .status()
            .is_some_and(|s| s.starts_with("Starting")),
        "first notification: {:?}",
        before[0].lines
    );
    assert!(
        watchdog_pings(&before).is_empty(),
        "watchdog pings before READY=1"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables
          WHERE table_schema = DATABASE() AND table_name = 'audit_logs'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(tables, 1, "READY=1 before the migrations ran");

    // WATCHDOG_USEC=500000: a ping about every 250 ms, so systemd's 500 ms limit is never hit.
    let healthy = notify.collect_for(Duration::from_secs(2)).await;
    let pings = watchdog_pings(&healthy);
    assert!(pings.len() >= 4, "{} pings in 2 s", pings.len());
    let longest = pings.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest < Duration::from_micros(WATCHDOG_USEC.parse().unwrap()),
        "{longest:?} between pings"
    );

    // The database stops answering: the pings stop (so systemd would restart the server) and
    // the status says why.
    proxy.set(Link::Stalled);
    let stalled_at = Instant::now();
    let stalled = notify.collect_for(Duration::from_secs(2)).await;
    // A ping whose SELECT 1 finished just before the stall may still arrive.
    let late: Vec<_> = watchdog_pings(&stalled)
        .into_iter()
        .filter(|at| *at > stalled_at + Duration::from_millis(300))
        .collect();
    assert!(
        late.is_empty(),
        "{} watchdog pings while the database did not answer",
        late.len()
    );
    assert!(
        stalled.iter().any(|m| m
            .status()
            .is_some_and(|s| s.contains("Database not answering"))),
        "no status about the database: {:?}",
        stalled.iter().map(|m| &m.lines).collect::<Vec<_>>()
    );

    // It answers again: the pings resume and the status is back to serving.
    proxy.set(Link::Up);
    let back = notify
        .until(
            "WATCHDOG=1 after the database came back",
            Duration::from_secs(15),
            |m| m.has("WATCHDOG=1"),
        )
        .await;
    assert!(
        back.iter()
            .any(|m| m.status() == Some(format!("Serving on 127.0.0.1:{port}").as_str())),
        "{:?}",
        back.iter().map(|m| &m.lines).collect::<Vec<_>>()
    );
    let resumed = notify.collect_for(Duration::from_secs(1)).await;
    assert!(watchdog_pings(&resumed).len() >= 2);

    // SIGTERM: STOPPING=1, then a clean exit.
    let status = stop(&mut child).await;
    let after = notify.collect_for(Duration::from_millis(200)).await;
    let stopping = after
        .iter()
        .find(|m| m.has("STOPPING=1"))
        .unwrap_or_else(|| {
            panic!(
                "no STOPPING=1 after SIGTERM: {:?}",
                after.iter().map(|m| &m.lines).collect::<Vec<_>>()
            )
        });
    assert!(
        stopping.status().is_some_and(|s| s.starts_with("Stopping")),
        "{:?}",
        stopping.lines
    );
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unreachable_notify_socket_does_not_stop_the_server() {
    // systemd gone or the socket unwritable: notifying fails, the server serves regardless.
    let db = TestDb::create().await;
    let dir = temp_dir();
    let port = free_port();
    let mut cmd = serve_command(&dir, &db.url, port);
    cmd.env("NOTIFY_SOCKET", dir.join("nobody-listens.sock"))
        .env("WATCHDOG_USEC", WATCHDOG_USEC);
    let mut child = cmd.spawn().unwrap();
    let client = client();
    wait_until_healthy(
        &mut child,
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(60),
    )
    .await;
    // Several failed watchdog pings later it still serves.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, _) = health(&client, port).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let status = stop(&mut child).await;
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
