//! Router assembly and the middleware stack: the one place that lists the modules.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;

pub const JSON_BODY_LIMIT: usize = 256 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests that may take longer than `REQUEST_TIMEOUT`: uploads of backup archives and of
/// files (hundreds of MB over a station's Wi-Fi), which stream their body to disk. A file upload
/// is an API `POST` of `application/octet-stream`; every other API route refuses that type before
/// reading a byte, so it buys no one time.
fn unbounded(req: &Request) -> bool {
    let path = req.uri().path();
    path == crate::backup::api::UPLOAD_PATH
        || path == crate::setup::api::RESTORE_UPLOAD_PATH
        || (req.method() == Method::POST
            && path.starts_with("/api/")
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream")))
}

/// `REQUEST_TIMEOUT` for every request but the long uploads: a 503 problem (or error page) with
/// `Retry-After`, as any other 503.
async fn bounded_time(req: Request, next: Next) -> Response {
    if unbounded(&req) {
        return next.run(req).await;
    }
    let api = req.uri().path().starts_with("/api/");
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => unavailable(
            api,
            "the server could not finish this request in time (the database may be stalled); \
             try again shortly",
        ),
    }
}

fn unavailable(api: bool, why: &str) -> Response {
    let err = AppError::Unavailable(why.into());
    if api {
        err.into_response()
    } else {
        crate::web::page_error(err)
    }
}

/// Paths that answer without the database: the health check says itself that it is down, and
/// static files and the certificate pages need nothing from it.
fn needs_no_database(path: &str) -> bool {
    path == "/health" || path.starts_with("/static/") || path == "/tls" || path.starts_with("/tls/")
}

/// While the database is known to be down, every request that needs it gets its 503 at once
/// (a problem with `Retry-After`, or the error page); a request that finds it gone marks it
/// down for the ones after it (`db::Health`).
async fn db_gate(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use crate::error::DATABASE_LOST;
    let path = req.uri().path();
    if needs_no_database(path) {
        return next.run(req).await;
    }
    if state.db_health.is_down() {
        return unavailable(
            path.starts_with("/api/"),
            "the database is not reachable; try again shortly",
        );
    }
    let api = path.starts_with("/api/");
    // A long upload (a restore) is never cut by a check: a slow answer under its load is not a
    // lost database.
    let checked = !unbounded(&req);
    let (res, lost) = DATABASE_LOST
        .scope(std::cell::Cell::new(false), async {
            // Pooled connections are not pinged before use (a round trip on every request), so
            // a database that stops answering mid-query would hang the request: one that takes
            // longer than STALL_CHECK asks, on a connection of its own, whether the database
            // still answers, and gives up with a 503 when it does not.
            let run = next.run(req);
            tokio::pin!(run);
            let res = loop {
                tokio::select! {
                    res = &mut run => break Some(res),
                    () = tokio::time::sleep(STALL_CHECK), if checked => {
                        if !state.db_health.still_answers(&state.db).await {
                            break None;
                        }
                    }
                }
            };
            (res, DATABASE_LOST.with(std::cell::Cell::get))
        })
        .await;
    let Some(res) = res else {
        state.db_health.lost(&state.db);
        return unavailable(api, "the database is not answering; try again shortly");
    };
    if lost {
        state.db_health.lost(&state.db);
    }
    res
}

/// How long a request runs before it checks that the database still answers (and again as
/// often while it runs).
const STALL_CHECK: Duration = Duration::from_millis(1500);

/// Requests whose body is at most this big are kept, so that one lost to a deadlock can be run
/// again; larger ones (uploads) answer 503 instead.
const RETRY_BODY_LIMIT: usize = 256 * 1024;

/// Runs a request once more when its transaction lost a deadlock or a lock wait (MariaDB rolled
/// it back, nothing was written): the client sees the second run's answer, never the first's.
/// Innermost layer, so a retry does not rotate a session twice.
async fn retry_contended(req: Request, next: Next) -> Response {
    use crate::error::CONTENDED;
    use std::cell::Cell;
    let small = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map_or(
            req.method() == Method::GET || req.method() == Method::HEAD,
            |n| n <= RETRY_BODY_LIMIT,
        );
    if !small || unbounded(&req) {
        return CONTENDED.scope(Cell::new(false), next.run(req)).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, RETRY_BODY_LIMIT).await else {
        return AppError::Rejected(
            StatusCode::BAD_REQUEST,
            "the request body could not be read".into(),
        )
        .into_response();
    };
    let again = (parts.clone(), bytes.clone());
    let (res, contended) = CONTENDED
        .scope(Cell::new(false), async {
            let res = next
                .clone()
                .run(Request::from_parts(parts, bytes.into()))
                .await;
            (res, CONTENDED.with(Cell::get))
        })
        .await;
    if !contended {
        return res;
    }
    tracing::info!(path = %again.0.uri.path(), "running the request again after a deadlock");
    CONTENDED
        .scope(
            Cell::new(false),
            next.run(Request::from_parts(again.0, again.1.into())),
        )
        .await
}

/// The framework's own rejections (a path segment, form or text body that is not UTF-8, …) come
/// as plain text; here every error under /api/ becomes a problem document, and every other one
/// the error page, with the same status and message.
async fn errors_in_our_words(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return res;
    }
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let err = AppError::Rejected(status, message);
    if api {
        err.into_response()
    } else {
        crate::web::page_error(err)
    }
}

/// The modules this server runs (`src/modules/mod.rs`), made known to the kernel. Every entry
/// point calls it before serving or provisioning (`lib::prepare`, `router`, the CLI).
pub fn install_modules() {
    crate::module::install(crate::modules::ALL);
}

/// `/api/v1/openapi.json`: the platform's operations and every module's.
pub fn openapi_document() -> serde_json::Value {
    install_modules();
    crate::openapi::document(crate::module::installed().iter().map(|m| (m.openapi)()))
}

/// The jobs this server schedules: the platform's and every module's.
pub fn job_registry() -> crate::jobs::Registry {
    crate::modules::ALL
        .iter()
        .flat_map(|m| m.scheduled_jobs())
        .fold(
            crate::jobs::Registry::platform(),
            crate::jobs::Registry::with,
        )
}

pub fn router(state: AppState) -> Router {
    install_modules();
    let platform = Router::new()
        .merge(crate::auth::router())
        .merge(crate::members::router())
        .merge(crate::roles::router())
        .merge(crate::organization::router())
        .merge(crate::organization::pages::router())
        .merge(crate::organization::station_pages::router())
        .merge(crate::audit::router())
        .merge(crate::notify::router())
        .merge(crate::jobs::router())
        .merge(crate::auth::pages::router())
        .merge(crate::members::pages::router())
        .merge(crate::roles::pages::router())
        .merge(crate::audit::pages::router())
        .merge(crate::system::router())
        .merge(crate::backup::router())
        .merge(crate::system::tls::router())
        .merge(crate::setup::router())
        .route("/static/{*path}", get(crate::web::static_file))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/health", get(crate::system::health));
    let api = crate::module::installed().iter().fold(platform, |r, m| {
        let routes = (m.router)();
        match m.feature {
            // A feature the department turned off: its routes are not there for it.
            Some(feature) => r.merge(routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                move |axum::extract::State(state): axum::extract::State<AppState>,
                      req: Request,
                      next: Next| feature_gate(feature, state, req, next),
            ))),
            None => r.merge(routes),
        }
    });
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(retry_contended))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session_refresh,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::setup::gate,
        ))
        .layer(middleware::from_fn(csrf_guard))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), db_gate))
        .layer(middleware::from_fn(errors_in_our_words))
        .with_state(state);
    with_security_headers(api)
        .layer(middleware::from_fn(bounded_time))
        .layer(CatchPanicLayer::custom(panic_response))
        // The path only: query strings can carry secrets (a password-reset token).
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
        }))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// Lets a request through to a feature's routes unless the signed-in member's department has
/// turned the feature off (then 404, as if it were not built). Who is signed in is worked out
/// once: the handler's own `Ctx` finds it in the request.
async fn feature_gate(
    feature: &'static crate::module::Feature,
    state: AppState,
    req: Request,
    next: Next,
) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    match crate::auth::SessionCtx::from_request_parts(&mut parts, &state).await {
        Ok(crate::auth::SessionCtx(ctx)) if !ctx.feature_on(feature.key) => {
            not_there(parts.uri.path(), Some(&ctx))
        }
        // Signed out (or the session is gone): the handler answers that as it always does.
        _ => next.run(Request::from_parts(parts, body)).await,
    }
}

/// Unknown paths: a problem document under /api, an error page elsewhere.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = req.into_parts();
    if parts.uri.path().starts_with("/api/") {
        return not_there(parts.uri.path(), None);
    }
    // Signed in: the page keeps the member's navigation.
    let viewer = crate::auth::SessionCtx::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .map(|s| s.0);
    not_there(parts.uri.path(), viewer.as_ref())
}

/// 404: a problem document under /api, an error page (in the viewer's frame) elsewhere.
fn not_there(path: &str, viewer: Option<&crate::auth::Ctx>) -> Response {
    if path.starts_with("/api/") {
        AppError::NotFound.into_response()
    } else {
        crate::web::page_error_for(viewer, AppError::NotFound)
    }
}

/// Transparent refresh for browsers: when the access cookie is missing or expired but a refresh
/// cookie is present, rotate it, let the request through with the new access token, and set the
/// new cookies on the response. Bearer clients and the auth endpoints themselves are left alone.
async fn session_refresh(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    use crate::auth::ctx::{ACCESS_COOKIE, REFRESH_COOKIE};
    if req.headers().contains_key(header::AUTHORIZATION)
        || req.uri().path().starts_with("/api/v1/auth/")
        || req.uri().path() == "/login"
    {
        return next.run(req).await;
    }
    let jar = axum_extra::extract::CookieJar::from_headers(req.headers());
    let Some(refresh) = jar.get(REFRESH_COOKIE).map(|c| c.value().to_string()) else {
        return next.run(req).await;
    };
    let access_ok = jar
        .get(ACCESS_COOKIE)
        .is_some_and(|c| state.keys.verify_access(c.value()).is_some());
    if access_ok {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let rotated = async {
        let mut tx = state.db.begin().await?;
        let outcome = crate::auth::sessions::rotate(&mut tx, &refresh, ip.as_deref(), None).await?;
        tx.commit().await?;
        Ok::<_, AppError>(outcome)
    }
    .await;
    let Ok(crate::auth::sessions::Refresh::Rotated(r)) = rotated else {
        // Not refreshable: the request goes on unauthenticated and is answered as such.
        return next.run(req).await;
    };
    let Ok(access) = state
        .keys
        .issue_access(r.user_id, r.org_id, r.issued.family_id)
    else {
        return next.run(req).await;
    };
    // The handler sees the new access token as if the browser had sent it.
    let mut pairs: Vec<String> = jar
        .iter()
        .filter(|c| c.name() != ACCESS_COOKIE && c.name() != REFRESH_COOKIE)
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    pairs.push(format!("{ACCESS_COOKIE}={access}"));
    pairs.push(format!("{REFRESH_COOKIE}={}", r.issued.refresh_token));
    if let Ok(v) = HeaderValue::from_str(&pairs.join("; ")) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut res = next.run(req).await;
    let secure = state.config.secure_cookies;
    for c in [
        crate::auth::cookies::access_cookie(&access, secure),
        crate::auth::cookies::refresh_cookie(&r.issued.refresh_token, secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The plain-HTTP listener while HTTPS is on: `/health` and the certificate pages (`/tls`,
/// `/tls/ca.crt`, which a phone needs before it trusts the CA) are served; everything else is
/// redirected (308, so a POST stays a POST) to the same path over HTTPS on `https_port`.
pub fn redirect_router(state: AppState, https_port: u16) -> Router {
    let router = Router::new()
        .route("/health", get(crate::system::health))
        .merge(crate::system::tls::router())
        .fallback(move |req: Request| async move { to_https(&req, https_port) })
        .with_state(state);
    with_security_headers(router)
        .layer(middleware::from_fn(bounded_time))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// The HTTPS URL of `req`: the host it asked for (without its port), the HTTPS port, the path and
/// query.
fn to_https(req: &Request, https_port: u16) -> Response {
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let host = match authority.strip_prefix('[') {
        // [v6]:port
        Some(rest) => rest
            .split_once(']')
            .map(|(h, _)| format!("[{h}]"))
            .unwrap_or_else(|| "localhost".into()),
        None => authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
            .to_string(),
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    axum::response::Redirect::permanent(&format!("https://{host}{port}{path}")).into_response()
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

/// CSP without inline script, nosniff, no framing, no referrer to other sites (same-origin: with
/// no-referrer, Chromium sends `Origin: null` on our own form posts and the CSRF check refuses
/// them). (HSTS is added with TLS.)
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
            HeaderValue::from_static("same-origin"),
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
        // A plain form post carries a (matching, checked above) Origin header instead.
        if has_cookie
            && !has_bearer
            && !headers.contains_key("x-requested-with")
            && !headers.contains_key(header::ORIGIN)
        {
            return Err(AppError::Forbidden(
                "a request signed in by cookie must send the X-Requested-With or Origin header"
                    .into(),
            ));
        }
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    /// The served document has the modules' operations too, each with its own operation id.
    #[test]
    fn the_document_joins_every_module_with_unique_operation_ids() {
        let doc = super::openapi_document();
        let mut ids = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                let id = op["operationId"].as_str().expect("operation id");
                assert!(ids.insert(id.to_string()), "{id} twice");
            }
        }
        for path in [
            "/api/v1/members",
            "/api/v1/training/records",
            "/api/v1/announcements",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} is missing");
        }
    }
}
