//! Logbook: a self-hosted management appliance for volunteer fire departments.
//! `run` is what `logbook serve` and the integration tests both start.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod config;
pub mod crypto;
pub mod csv;
pub mod db;
pub mod error;
pub mod files;
pub mod http;
pub mod input;
pub mod jobs;
pub mod listener;
pub mod members;
pub mod module;
pub mod modules;
pub mod notify;
pub mod openapi;
pub mod organization;
pub mod pdf;
pub mod roles;
pub mod setup;
pub mod state;
pub mod system;
pub mod time;
pub mod uploads;
pub mod web;
pub mod words;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::{Config, Secrets};
pub use state::AppState;

/// Builds the state: waits for the database, applies migrations, loads or creates secrets.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    app::install_modules();
    let secrets = Secrets::load_or_generate(&config)?;
    let db = db::connect_with_retry(&config.database_url, config.db_wait).await?;
    db::migrate(&db).await?;
    // A restore cut off right after it swapped the tables in: finish it.
    backup::restore::finish_swap(&db, &config.data_dir).await?;
    Ok(AppState {
        db,
        keys: auth::tokens::TokenKeys::new(&secrets.jwt_key),
        hasher: auth::Hasher::new(2)?,
        cipher: crypto::FieldCipher::new(&secrets.encryption_key),
        mailer: notify::Mailer::default(),
        notifier: notify::Notifier::new(&config.public_url),
        jobs: Arc::new(app::job_registry()),
        tls: None,
        setup: Arc::new(setup::Gate::default()),
        db_health: db::Health::default(),
        config: Arc::new(config),
    })
}

/// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests. With TLS on
/// (`config.tls`), serves HTTPS on `config.https_listen` and only redirects on `listener`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The certificate first: a bad one fails the start at once, before waiting for the database.
    let tls = system::tls::load(&config)?;
    service_manager::status("Starting: waiting for the database and applying migrations");
    let mut state = prepare(config).await?;
    match tls {
        Some(material) => {
            state.tls = Some(Arc::new(material));
            let https = TcpListener::bind(state.config.https_listen)
                .await
                .with_context(|| format!("cannot listen on {}", state.config.https_listen))?;
            serve_tls(state, listener, https, shutdown).await
        }
        None => serve(state, listener, shutdown).await,
    }
}

/// Serves plain HTTP on `listener`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_inner(state, listener, None, shutdown).await
}

/// Serves HTTPS on `https` with `state.tls`, and on `http` only `/health`, the certificate pages
/// and redirects to HTTPS.
pub async fn serve_tls(
    state: AppState,
    http: TcpListener,
    https: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    anyhow::ensure!(state.tls.is_some(), "serve_tls without a certificate");
    serve_inner(state, http, Some(https), shutdown).await
}

async fn serve_inner(
    state: AppState,
    listener: TcpListener,
    https: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let https_addr = https.as_ref().map(|l| l.local_addr()).transpose()?;
    // In setup mode: a new setup token, in the log and in the data directory.
    state
        .setup
        .begin(&state.db, &state.config.data_dir, &state.config.public_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start setup mode: {}", e.to_problem().detail))?;
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
    tracing::info!(%addr, https = ?https_addr, scheduler = state.config.scheduler, "serving");
    // Listening, migrated, jobs started: tell systemd (Type=notify) we are up, then feed its
    // watchdog for as long as the database answers.
    let serving = match https_addr {
        Some(h) => format!("Serving HTTPS on {h}, redirecting from {addr}"),
        None => format!("Serving on {addr}"),
    };
    service_manager::ready(&serving);
    let watchdog = service_manager::spawn_watchdog(state.db.clone(), stop_rx, serving);
    // Every listener shares one cap on open connections (`listener`), below the file limit.
    listener::raise_open_file_limit();
    let limits = listener::ConnLimits::for_process(
        state.config.max_connections,
        state.config.header_timeout,
    );
    let slots = listener::connection_slots(&limits);
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_secs = limits.header_timeout.as_secs(),
        "connection limits"
    );
    // One shutdown signal for every listener.
    let (down_tx, down_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        service_manager::stopping();
        let _ = down_tx.send(true);
    });
    let served = match (https, state.tls.clone()) {
        (Some(https), Some(tls)) => {
            let https_port = https_addr.map_or(443, |a| a.port());
            let redirect = app::redirect_router(state.clone(), https_port);
            let app = app::router(state).layer(SetResponseHeaderLayer::overriding(
                axum::http::header::STRICT_TRANSPORT_SECURITY,
                axum::http::HeaderValue::from_static("max-age=31536000"),
            ));
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
            let (http, https) = tokio::join!(
                listener::serve(
                    listener,
                    redirect,
                    None,
                    limits,
                    slots.clone(),
                    down_rx.clone()
                ),
                listener::serve(https, app, Some(acceptor), limits, slots, down_rx)
            );
            http.context("HTTP server failed")
                .and(https.context("HTTPS server failed"))
        }
        _ => listener::serve(listener, app::router(state), None, limits, slots, down_rx)
            .await
            .context("server failed"),
    };
    let _ = stop_tx.send(true);
    // The background tasks finish what they are doing, but not forever: one waiting on a
    // database that stopped answering (pooled connections are not pinged before use) would
    // keep the server from stopping. Past the bound they end with the process, and the
    // database rolls back what they had not committed.
    let background = async {
        let _ = sender.await;
        if let Some(s) = scheduler {
            let _ = s.await;
        }
        if let Some(w) = watchdog {
            let _ = w.await;
        }
    };
    if tokio::time::timeout(BACKGROUND_STOP, background)
        .await
        .is_err()
    {
        tracing::warn!(
            "background work (jobs, email) did not finish within {} s of stopping; leaving it",
            BACKGROUND_STOP.as_secs()
        );
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// How long a stopping server waits for its background tasks (jobs, the email sender).
const BACKGROUND_STOP: std::time::Duration = std::time::Duration::from_secs(5);

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
