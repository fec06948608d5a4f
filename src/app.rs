//! Application state, router assembly and the middleware stack.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::MySqlPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Hasher;
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub db: MySqlPool,
    pub keys: TokenKeys,
    pub hasher: Hasher,
    pub config: Arc<Config>,
}

pub const JSON_BODY_LIMIT: usize = 256 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(crate::auth::router())
        .merge(crate::modules::members::router())
        .merge(crate::modules::roles::router())
        .merge(crate::modules::organization::router())
        .merge(crate::audit::router())
        .route("/api/v1/openapi.json", get(openapi))
        .route("/health", get(crate::system::health));
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(csrf_guard))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state);
    with_security_headers(api)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http())
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// A known path with a method it does not take: a problem document (the router adds `Allow`).
async fn method_not_allowed(method: Method) -> AppError {
    AppError::Rejected(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this resource does not accept {method}; see the Allow header"),
    )
}

/// A handler that panics answers 500 with a reference; the server keeps running.
fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    AppError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// CSP without inline script, nosniff, no framing, no referrer. (HSTS is added with TLS.)
fn with_security_headers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// CSRF defence for cookie-authenticated requests (SameSite=Strict is the first line): a
/// state-changing request must not come from another origin, and when it relies on the session
/// cookie rather than a Bearer header it must carry `X-Requested-With`, which a cross-site form
/// cannot set.
async fn csrf_guard(req: Request, next: Next) -> Result<Response, AppError> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let headers = req.headers();
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            if origin == "null" || origin_host != host {
                return Err(AppError::Forbidden("cross-origin request refused".into()));
            }
        }
        let has_bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
        let has_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.contains(crate::auth::ctx::ACCESS_COOKIE)
                    || v.contains(crate::auth::ctx::REFRESH_COOKIE)
            });
        if has_cookie && !has_bearer && !headers.contains_key("x-requested-with") {
            return Err(AppError::Forbidden(
                "a request signed in by cookie must send the X-Requested-With header".into(),
            ));
        }
    }
    Ok(next.run(req).await)
}
