//! Logbook: a self-hosted management appliance for volunteer fire departments.
//! `run` is what `logbook serve` and the integration tests both start.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod modules;
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
    tracing::info!(%addr, "serving");
    let app = app::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed")?;
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
