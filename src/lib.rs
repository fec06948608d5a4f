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
        Some(tokio::spawn(s.run(stop_rx)))
    } else {
        None
    };
    tracing::info!(%addr, scheduler = state.config.scheduler, "serving");
    let app = app::router(state);
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
