//! First-boot setup. While no organization exists (and setup was never finished) the server is in
//! setup mode: pages redirect to the wizard at `/setup`, the API answers 503. The wizard needs a
//! setup token, made at each start while in setup mode, written to the log and to
//! `<data_dir>/setup-token` (0600), printed by `logbook setup-token`; wrong tokens are logged and
//! throttled. The wizard's answers are kept in `setup_state`, so a restart loses nothing; the
//! organization and its administrator are created in one transaction at the end, which locks
//! setup for good.

pub mod api;
pub mod pages;
pub mod restore;
pub mod service;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The file, under the data directory, that holds the current setup token.
pub const TOKEN_FILE: &str = "setup-token";
/// The page cookie that carries the token once it was entered.
pub const COOKIE: &str = "logbook_setup";
/// The API header that carries the token.
pub const HEADER: &str = "x-setup-token";

/// Wrong tokens from one address within `WINDOW` before it is refused for the rest of it.
const PER_ADDRESS: u32 = 5;
/// Wrong tokens from all addresses together within `WINDOW`.
const OVERALL: u32 = 30;
const WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn router() -> Router<AppState> {
    api::router()
        .merge(pages::router())
        .merge(restore::router())
}

/// Whether setup is done (cached once it is: setup never reopens), the current token and the
/// throttle for wrong ones.
pub struct Gate {
    done: AtomicBool,
    /// SHA-256 of the normalized token; None when there is none (done, or not started).
    token: RwLock<Option<[u8; 32]>>,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    by_address: HashMap<IpAddr, (u32, Instant)>,
    overall: Option<(u32, Instant)>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            done: AtomicBool::new(false),
            token: RwLock::new(None),
            failures: Mutex::new(Failures::default()),
        }
    }
}

/// A token as people type it: case, spaces and dashes do not matter.
fn normalize(token: &str) -> String {
    token
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(normalize(token).as_bytes()).into()
}

/// 160 random bits as 40 hex digits in groups of four (`3f9a-07c2-…`), easy to read aloud.
pub fn new_token() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex = hex::encode(bytes);
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

impl Gate {
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Whether setup is still pending, asking the database until it is not. Setup is done once
    /// an organization exists (the wizard made it, or `logbook init`) or the wizard finished.
    pub async fn pending(&self, db: &MySqlPool, data_dir: &Path) -> AppResult<bool> {
        if self.is_done() {
            return Ok(false);
        }
        if service::setup_done(db).await? {
            self.close(data_dir);
            return Ok(false);
        }
        Ok(true)
    }

    /// Setup is over: no token any more, in memory or on disk.
    pub fn close(&self, data_dir: &Path) {
        self.done.store(true, Ordering::Release);
        if let Ok(mut t) = self.token.write() {
            *t = None;
        }
        match std::fs::remove_file(token_path(data_dir)) {
            Ok(()) => tracing::info!("setup is done; the setup token was destroyed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove the setup token file"),
        }
    }

    /// At start: in setup mode, a new token (written to the log and the token file); otherwise
    /// any token file left behind is removed.
    pub async fn begin(&self, db: &MySqlPool, data_dir: &Path, public_url: &str) -> AppResult<()> {
        if !self.pending(db, data_dir).await? {
            return Ok(());
        }
        let token = new_token();
        crate::files::write_private(&token_path(data_dir), format!("{token}\n").as_bytes())
            .map_err(AppError::Internal)?;
        if let Ok(mut t) = self.token.write() {
            *t = Some(digest(&token));
        }
        tracing::info!(
            setup_token = %token,
            token_file = %token_path(data_dir).display(),
            "setup mode: no department exists yet. Open {public_url}/setup in a browser on the \
             station network and enter this setup token (`sudo logbook setup-token` prints it \
             again); it changes each time the server starts"
        );
        Ok(())
    }

    /// Checks a presented token (None: none was sent). Wrong ones are logged and counted; an
    /// address (or everyone together) with too many is refused for a while, right token or not.
    pub fn authorize(&self, ip: IpAddr, presented: Option<&str>) -> AppResult<()> {
        let now = Instant::now();
        let mut f = self
            .failures
            .lock()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("setup throttle poisoned")))?;
        f.by_address
            .retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        if f.overall
            .is_some_and(|(_, since)| now.duration_since(since) >= WINDOW)
        {
            f.overall = None;
        }
        let blocked = f
            .by_address
            .get(&ip)
            .is_some_and(|(n, _)| *n >= PER_ADDRESS)
            || f.overall.is_some_and(|(n, _)| n >= OVERALL);
        if blocked {
            return Err(AppError::TooManyRequests(
                "too many wrong setup tokens; wait 15 minutes, then enter the token again".into(),
            ));
        }
        let Some(presented) = presented.filter(|p| !p.trim().is_empty()) else {
            return Err(AppError::Unauthorized(
                "this needs the setup token: `sudo logbook setup-token` on the server prints it, \
                 and it is in the server's log"
                    .into(),
            ));
        };
        let expected = self.token.read().ok().and_then(|t| *t);
        if expected.is_some_and(|e| e == digest(presented)) {
            return Ok(());
        }
        let attempts = {
            let entry = f.by_address.entry(ip).or_insert((0, now));
            entry.0 += 1;
            entry.0
        };
        f.overall.get_or_insert((0, now)).0 += 1;
        tracing::warn!(%ip, attempts, "a wrong setup token was entered");
        Err(AppError::Unauthorized(
            "the setup token is wrong. It changes each time the server starts: `sudo logbook \
             setup-token` on the server prints the current one"
                .into(),
        ))
    }
}

/// Paths served while setup is pending: the wizard, health, assets and the certificate pages.
fn open_during_setup(path: &str) -> bool {
    path == "/setup"
        || path.starts_with("/setup/")
        || path == "/api/v1/setup"
        || path.starts_with("/api/v1/setup/")
        || path == "/health"
        || path.starts_with("/static/")
        || path == "/tls"
        || path.starts_with("/tls/")
        || path == "/api/v1/openapi.json"
}

/// The middleware: in setup mode, pages go to the wizard and the API answers 503.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.setup.is_done() || open_during_setup(req.uri().path()) {
        return next.run(req).await;
    }
    match state.setup.pending(&state.db, &state.config.data_dir).await {
        Ok(false) => next.run(req).await,
        Ok(true) if req.uri().path().starts_with("/api/") => AppError::Unavailable(
            "setup is pending: this server has no department yet. Open /setup in a browser and \
             enter the setup token to set it up"
                .into(),
        )
        .into_response(),
        Ok(true) => Redirect::to("/setup").into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_forgiving_to_type() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(normalize(&a).len(), 40, "160 bits as hex");
        assert_eq!(digest(&a), digest(&a.to_uppercase().replace('-', " ")));
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn wrong_tokens_are_throttled_per_address_then_overall() {
        let gate = Gate::default();
        let token = new_token();
        *gate.token.write().unwrap() = Some(digest(&token));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(gate.authorize(ip, Some(&token)).is_ok());
        for _ in 0..PER_ADDRESS {
            assert!(matches!(
                gate.authorize(ip, Some("nope")),
                Err(AppError::Unauthorized(_))
            ));
        }
        // Refused even with the right token until the window passes.
        assert!(matches!(
            gate.authorize(ip, Some(&token)),
            Err(AppError::TooManyRequests(_))
        ));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(gate.authorize(other, Some(&token)).is_ok());
        assert!(matches!(
            gate.authorize(other, None),
            Err(AppError::Unauthorized(_))
        ));
        // Many addresses together reach the overall limit.
        for i in 0..OVERALL {
            let ip: IpAddr = format!("198.51.100.{}", i % 250).parse().unwrap();
            let _ = gate.authorize(ip, Some("wrong"));
        }
        assert!(matches!(
            gate.authorize(other, Some(&token)),
            Err(AppError::TooManyRequests(_))
        ));
    }
}
