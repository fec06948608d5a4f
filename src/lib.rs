//! Logbook: a self-hosted management appliance for volunteer fire departments.
//! `run` is what `logbook serve` and the integration tests both start.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod modules;
pub mod notify;
pub mod openapi;
pub mod system;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

pub use app::AppState;
pub use config::{Config, Secrets};

/// Builds the state: waits for the database, applies migrations, loads or creates secrets.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let secrets = Secrets::load_or_generate(&config)?;
    let db = db::connect_with_retry(&config.database_url, config.db_wait).await?;
    db::migrate(&db).await?;
    Ok(AppState {
        db,
        keys: auth::tokens::TokenKeys::new(&secrets.jwt_key),
        hasher: auth::Hasher::new(2)?,
        cipher: crypto::FieldCipher::new(&secrets.encryption_key),
        mailer: notify::Mailer::default(),
        jobs: Arc::new(jobs::Registry::builtin()),
        config: Arc::new(config),
    })
}

/// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    service_manager::status("Starting: waiting for the database and applying migrations");
    let state = prepare(config).await?;
    serve(state, listener, shutdown).await
}

pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    // Background work stops when the server does.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(notify::mail::run_sender(state.clone(), stop_rx.clone()));
    // Email queued before a restart goes out now rather than at the next outbox run.
    state.mailer.kick();
    let scheduler = if state.config.scheduler {
        let s = jobs::Scheduler::start(state.clone())
            .await
            .context("could not start the job scheduler")?;
        Some(tokio::spawn(s.run(stop_rx.clone())))
    } else {
        None
    };
    tracing::info!(%addr, scheduler = state.config.scheduler, "serving");
    // Listening, migrated, jobs started: tell systemd (Type=notify) we are up, then feed its
    // watchdog for as long as the database answers.
    let serving = format!("Serving on {addr}");
    service_manager::ready(&serving);
    let watchdog = service_manager::spawn_watchdog(state.db.clone(), stop_rx, serving);
    let app = app::router(state);
    let shutdown = async move {
        shutdown.await;
        service_manager::stopping();
    };
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed");
    let _ = stop_tx.send(true);
    let _ = sender.await;
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    if let Some(w) = watchdog {
        let _ = w.await;
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// systemd's side of a `Type=notify` service with a watchdog (`systemd/logbook.service`):
/// readiness, status lines, stopping, and watchdog pings. Without `NOTIFY_SOCKET` (tests, a shell)
/// every call does nothing; a failure to notify is logged and never stops the server.
mod service_manager {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use sd_notify::NotifyState;
    use sqlx::MySqlPool;
    use tokio::sync::watch;
    use tokio::task::JoinHandle;

    /// The longest a watchdog `SELECT 1` may take before this period's ping is skipped.
    const PING_TIMEOUT: Duration = Duration::from_secs(10);

    /// Logs the first failure as a warning, later ones (every watchdog period) at debug level.
    fn notify(states: &[NotifyState<'_>]) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if let Err(e) = sd_notify::notify(states) {
            if WARNED.swap(true, Ordering::Relaxed) {
                tracing::debug!(error = %e, "could not notify systemd");
            } else {
                tracing::warn!(error = %e, "could not notify systemd");
            }
        }
    }

    pub fn status(text: &str) {
        notify(&[NotifyState::Status(text)]);
    }

    pub fn ready(status: &str) {
        notify(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn stopping() {
        notify(&[
            NotifyState::Stopping,
            NotifyState::Status("Stopping: finishing in-flight requests"),
        ]);
    }

    /// When systemd set a watchdog (`WatchdogSec=`), pings it at half the interval while the
    /// database answers `SELECT 1`. A server that has lost its database or is wedged stops
    /// pinging, and systemd restarts it (`Restart=on-failure`).
    pub fn spawn_watchdog(
        db: MySqlPool,
        mut stop: watch::Receiver<bool>,
        serving: String,
    ) -> Option<JoinHandle<()>> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let period = sd_notify::watchdog_enabled()? / 2;
        if period.is_zero() {
            return None;
        }
        let timeout = period.min(PING_TIMEOUT);
        tracing::info!(?period, "feeding the systemd watchdog");
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut answering = true;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&db);
                let ok = matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(_)));
                if ok {
                    if !answering {
                        tracing::info!("the database answers again; feeding the systemd watchdog");
                        status(&serving);
                    }
                    notify(&[NotifyState::Watchdog]);
                } else if answering {
                    tracing::warn!(
                        "the database does not answer; not feeding the systemd watchdog, which \
                         restarts the server if this lasts"
                    );
                    status("Database not answering; systemd restarts the server if this lasts");
                }
                answering = ok;
            }
        }))
    }
}
