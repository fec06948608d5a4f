//! Connection limits (`src/listener.rs`): idle and trickling clients are cut after the header
//! timeout on every listener, the server keeps answering with thousands of idle sockets open
//! against it, and past the connection cap new sockets are closed at once while real requests get
//! back in as soon as idle ones time out.
//!
//! The server under test is the `logbook` binary in its own process (its own open-file limit, as
//! under systemd); `LOGBOOK_TEST_SERVER_BIN` points these tests at another build, e.g. the release
//! binary.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

const HEADER_TIMEOUT_SECS: u64 = 3;

fn server_binary() -> String {
    std::env::var("LOGBOOK_TEST_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_logbook").to_string())
}

/// The server binary in setup mode on a fresh database, with a short header timeout.
async fn start_child(
    extra: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    u16,
    TestDb,
    std::path::PathBuf,
) {
    let db = TestDb::create().await;
    let dir = temp_dir();
    let port = free_port();
    // logbook_command writes the empty config file; the binary may be another build.
    drop(logbook_command(&dir));
    let mut cmd = tokio::process::Command::new(server_binary());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LOGBOOK_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--config")
        .arg(dir.join("empty.toml"))
        .env("LOGBOOK_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd.env("LOGBOOK_DATABASE_URL", &db.url)
        .env("LOGBOOK_LISTEN", format!("127.0.0.1:{port}"))
        .env("LOGBOOK_DATA_DIR", dir.join("data"))
        .env("LOGBOOK_SCHEDULER", "off")
        .env(
            "LOGBOOK_HEADER_TIMEOUT_SECS",
            HEADER_TIMEOUT_SECS.to_string(),
        )
        .arg("serve");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&mut child, &base, Duration::from_secs(60)).await;
    (child, base, port, db, dir)
}

/// True when the peer closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close: keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn health_in(client: &reqwest::Client, base: &str) -> (StatusCode, Duration) {
    let started = Instant::now();
    let res = client.get(format!("{base}/health")).send().await.unwrap();
    (res.status(), started.elapsed())
}

#[tokio::test]
async fn five_thousand_idle_sockets_do_not_stall_the_server_and_are_closed() {
    // Both ends of every socket live on this machine; this process holds one end of each.
    logbook::listener::raise_open_file_limit();
    let (mut child, base, port, _db, dir) = start_child(&[]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let mut idle = Vec::with_capacity(5000);
    for _ in 0..5000 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let opened = Instant::now();
    // While they are all open, the server answers, on new connections.
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let (status, took) = health_in(&client, &base).await;
        assert_eq!(status, StatusCode::OK);
        slowest = slowest.max(took);
    }
    eprintln!("health with 5000 idle sockets open: slowest of 10 took {slowest:?}");
    assert!(slowest < Duration::from_secs(5), "health took {slowest:?}");

    // The idle ones are closed by the server once the header timeout has passed.
    let wait = Duration::from_secs(HEADER_TIMEOUT_SECS + 10);
    let mut closed = 0;
    for s in idle.iter_mut() {
        let left = wait
            .saturating_sub(opened.elapsed())
            .max(Duration::from_millis(50));
        if closed_within(s, left).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 5000, "idle sockets the server closed");
    assert!(
        opened.elapsed() >= Duration::from_secs(HEADER_TIMEOUT_SECS - 1),
        "closed before the timeout"
    );
    let (status, _) = health_in(&client, &base).await;
    assert_eq!(status, StatusCode::OK);
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_client_trickling_its_request_is_cut_after_the_header_timeout() {
    let (mut child, base, port, _db, dir) = start_child(&[]).await;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request =
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut cut = false;
    for byte in request.iter() {
        if slow.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        // A byte every 300 ms: the whole head would take ~20 s.
        if closed_within(&mut slow, Duration::from_millis(300)).await {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "the trickling client was never cut");
    assert!(
        took >= Duration::from_secs(HEADER_TIMEOUT_SECS - 1)
            && took < Duration::from_secs(HEADER_TIMEOUT_SECS + 5),
        "cut after {took:?}"
    );

    // A keep-alive connection that goes quiet after a response is closed too.
    let mut keep = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    keep.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = keep.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let quiet = Instant::now();
    assert!(
        closed_within(&mut keep, Duration::from_secs(HEADER_TIMEOUT_SECS + 5)).await,
        "an idle keep-alive connection stayed open"
    );
    assert!(quiet.elapsed() >= Duration::from_secs(HEADER_TIMEOUT_SECS - 1));

    let client = reqwest::Client::new();
    assert_eq!(health_in(&client, &base).await.0, StatusCode::OK);
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn past_the_cap_new_sockets_are_closed_and_real_clients_get_back_in() {
    let app = TestApp::spawn_with(
        |c| {
            c.max_connections = Some(40);
            c.header_timeout = Duration::from_secs(HEADER_TIMEOUT_SECS);
        },
        None,
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(1)).await,
        "a connection past the cap was kept open"
    );
    // Once the idle ones time out, a real sign-in gets through.
    eventually(
        "sign-in after the idle sockets time out",
        Duration::from_secs(15),
        || {
            let app = &app;
            async move {
                let res = reqwest::Client::new()
                    .post(app.url("/api/v1/auth/login"))
                    .json(
                        &json!({"username": app.a.admin.username, "password": PASSWORD,
                              "organization": app.a.slug}),
                    )
                    .send()
                    .await
                    .ok()?;
                (res.status() == StatusCode::OK).then_some(())
            }
        },
    )
    .await;
    drop(idle);
}

#[tokio::test]
async fn https_drops_a_client_that_never_finishes_its_handshake() {
    let app =
        TestApp::spawn_tls(|c| c.header_timeout = Duration::from_secs(HEADER_TIMEOUT_SECS)).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(HEADER_TIMEOUT_SECS + 5)).await,
        "a silent HTTPS client stayed connected"
    );
    assert!(started.elapsed() >= Duration::from_secs(HEADER_TIMEOUT_SECS - 1));
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}
