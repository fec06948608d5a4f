//! Health, the status page for administrators (`status`: what it shows) and the HTTPS
//! certificate settings (`certificate`: what is served, uploads); `api` and `pages` are their two
//! faces.

pub mod api;
pub mod certificate;
pub mod pages;
pub mod status;
pub mod tls;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// pass or fail
    pub status: &'static str,
    pub version: &'static str,
    pub checks: std::collections::BTreeMap<&'static str, Check>,
}

#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> axum::response::Response {
    let started = std::time::Instant::now();
    let (ok, output) = if state.db_health.is_down() {
        // Known down: said at once; the probe that watches it clears this when it answers.
        (
            false,
            Some("database not reachable (checked every 250 ms)".into()),
        )
    } else {
        let ping = tokio::time::timeout(
            Duration::from_secs(3),
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db),
        )
        .await;
        match ping {
            Ok(Ok(_)) => (true, None),
            Ok(Err(e)) => (false, Some(format!("database error: {e}"))),
            Err(_) => (false, Some("database did not answer within 3 s".into())),
        }
    };
    if !ok {
        state.db_health.lost(&state.db);
    }
    let mut checks = std::collections::BTreeMap::new();
    checks.insert(
        "database",
        Check {
            status: if ok { "pass" } else { "fail" },
            output,
            duration_ms: started.elapsed().as_millis() as u64,
        },
    );
    let body = Json(Health {
        status: if ok { "pass" } else { "fail" },
        version: env!("CARGO_PKG_VERSION"),
        checks,
    });
    if ok {
        (StatusCode::OK, body).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            body,
        )
            .into_response()
    }
}

pub fn router() -> axum::Router<AppState> {
    api::router().merge(pages::router())
}
