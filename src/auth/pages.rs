//! Sign-in, sign-out and change-password pages (plain forms; they work without JavaScript).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::account;
use super::cookies;
use super::service::{self, ChangePassword, LoginInput};
use crate::app::AppState;
use crate::error::AppError;
use crate::web::{self, Chrome, PageResult, PendingViewer, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route(
            "/account/password",
            get(password_form).post(change_password),
        )
        .route("/account", get(account_page))
        .route("/account/sessions/revoke-all", post(revoke_all_sessions))
        .route("/account/sessions/{family_id}/revoke", post(revoke_session))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

async fn login_form(Query(q): Query<NextQuery>) -> Response {
    web::render(&LoginPage {
        chrome: Chrome::anonymous(),
        next: web::safe_next(q.next.as_deref()),
        username: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let next = web::safe_next(form.next.as_deref());
    let ua = super::api::user_agent(&headers);
    let input = LoginInput {
        username: form.username.clone(),
        password: form.password,
        organization: None,
    };
    let ip = addr.ip().to_string();
    match service::login(&state.db, &state.hasher, input, Some(&ip), ua.as_deref()).await {
        Ok(signed) => {
            let tokens = super::api::pair(
                &state,
                signed.org_id,
                signed.user_id,
                &signed.issued,
                signed.must_change_password,
            )?;
            let jar = cookies::with_session(
                jar,
                &tokens.access_token,
                &tokens.refresh_token,
                state.config.secure_cookies,
            );
            let to = if signed.must_change_password {
                "/account/password".to_string()
            } else {
                next
            };
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Err(
            err @ (AppError::Unauthorized(_)
            | AppError::TooManyRequests(_)
            | AppError::Validation(_)),
        ) => {
            let status = err.status();
            let message = match err {
                AppError::Validation(_) => "Enter your username and password.".to_string(),
                other => other.to_problem().detail,
            };
            let page = LoginPage {
                chrome: Chrome::anonymous(),
                next,
                username: form.username,
                error: Some(web::sentence(&message)),
            };
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn logout(
    State(state): State<AppState>,
    viewer: Result<PendingViewer, Response>,
    jar: CookieJar,
) -> PageResult {
    if let Ok(PendingViewer(ctx)) = viewer {
        let mut tx = state.db.begin().await?;
        service::logout(&mut tx, &ctx.actor(), ctx.session_id).await?;
        tx.commit().await?;
    }
    Ok((cookies::without_session(jar), Redirect::to("/login")).into_response())
}

#[derive(Template)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    chrome: Chrome,
    forced: bool,
    current_error: Option<String>,
    new_error: Option<String>,
}

async fn password_form(PendingViewer(ctx): PendingViewer) -> Response {
    web::render(&PasswordPage {
        chrome: Chrome::for_viewer(&ctx, "/account"),
        forced: ctx.must_change_password,
        current_error: None,
        new_error: None,
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    PendingViewer(ctx): PendingViewer,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let ua = super::api::user_agent(&headers);
    let input = ChangePassword {
        current_password: form.current_password,
        new_password: form.new_password,
    };
    let mut tx = state.db.begin().await?;
    match service::change_password(&ctx, &mut tx, &state.hasher, input, ua.as_deref()).await {
        Ok(issued) => {
            tx.commit().await?;
            let tokens = super::api::pair(&state, ctx.org_id, ctx.user_id, &issued, false)?;
            let jar = cookies::with_session(
                jar,
                &tokens.access_token,
                &tokens.refresh_token,
                state.config.secure_cookies,
            );
            Ok((jar, Redirect::to("/")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let find = |field: &str| {
                errors
                    .iter()
                    .find(|e| e.field == field)
                    .map(|e| web::sentence(&e.message))
            };
            let page = PasswordPage {
                chrome: Chrome::for_viewer(&ctx, "/account"),
                forced: ctx.must_change_password,
                current_error: find("current_password"),
                new_error: find("new_password"),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// One row of the "Active sessions" list, formatted for display.
struct SessionView {
    family_id: String,
    started: String,
    started_iso: String,
    last_refresh: String,
    last_refresh_iso: String,
    ip: String,
    device: String,
    user_agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    chrome: Chrome,
    name: String,
    username: String,
    email: String,
    roles: Vec<String>,
    sessions: Vec<SessionView>,
}

/// A short, readable guess at the browser and system from a user agent ("Firefox on Linux");
/// the page shows the full string below it.
fn describe_device(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Chrome (headless)"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => "Unknown device".to_string(),
    }
}

async fn account_page(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let me = service::me(&ctx, &mut conn).await?;
    let sessions = account::sessions(&ctx, &mut conn).await?;
    let tz: chrono_tz::Tz = ctx.timezone.parse().unwrap_or(chrono_tz::UTC);
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            family_id: s.family_id.to_string(),
            started: local(s.started_at),
            started_iso: s.started_at.to_rfc3339(),
            last_refresh: local(s.last_refresh_at),
            last_refresh_iso: s.last_refresh_at.to_rfc3339(),
            ip: s.ip_address.unwrap_or_else(|| "unknown".into()),
            device: s
                .user_agent
                .as_deref()
                .map(describe_device)
                .unwrap_or_else(|| "Unknown device".into()),
            user_agent: s.user_agent.unwrap_or_default(),
            current: s.family_id == ctx.session_id,
        })
        .collect();
    Ok(web::render(&AccountPage {
        chrome: Chrome::for_viewer(&ctx, "/account"),
        name: format!("{} {}", me.first_name, me.last_name),
        username: me.username,
        email: me.email,
        roles: me.roles.into_iter().map(|r| r.name).collect(),
        sessions,
    }))
}

async fn revoke_session(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(family_id): Path<String>,
    jar: CookieJar,
) -> PageResult {
    // A malformed id is the same "no such session" as someone else's.
    let family_id: uuid::Uuid = family_id.parse().map_err(|_| AppError::NotFound)?;
    let mut tx = state.db.begin().await?;
    account::revoke_session(&ctx, &mut tx, family_id).await?;
    tx.commit().await?;
    if family_id == ctx.session_id {
        return Ok((cookies::without_session(jar), Redirect::to("/login")).into_response());
    }
    Ok(Redirect::to("/account").into_response())
}

async fn revoke_all_sessions(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    jar: CookieJar,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    account::revoke_all_sessions(&ctx, &mut tx).await?;
    tx.commit().await?;
    Ok((cookies::without_session(jar), Redirect::to("/login")).into_response())
}
