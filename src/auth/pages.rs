//! Sign-in, sign-out, change-password and password-reset pages, and the account page (plain
//! forms; they work without JavaScript).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::account;
use super::api::RESET_ANSWER;
use super::cookies;
use super::reset::{self, ResetConfirm, ResetRequest};
use super::service::{self, ChangePassword, LoginInput};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Chrome, LocalTime, PageResult, PendingViewer, Viewer};

pub fn router() -> Router<AppState> {
    super::two_factor_pages::router()
        .route("/login", get(login_form).post(login))
        .route("/password-reset", get(reset_form).post(reset_request))
        .route(
            "/password-reset/confirm",
            get(reset_confirm_form).post(reset_confirm),
        )
        .route("/logout", post(logout))
        .route(
            "/account/password",
            get(password_form).post(change_password),
        )
        .route("/welcome", get(welcome_form).post(welcome))
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
    /// Just back from a password reset: say so above the form.
    reset_done: bool,
    /// Just after a backup was restored (everyone signs in again).
    restored: bool,
    /// Just after choosing a password with an invitation's code.
    welcomed: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    reset: Option<String>,
    restored: Option<String>,
    /// Back from `/welcome`: the username the member chose a password for.
    welcome: Option<String>,
}

async fn login_form(Query(q): Query<NextQuery>) -> Response {
    web::render(&LoginPage {
        chrome: Chrome::anonymous(),
        next: web::safe_next(q.next.as_deref()),
        welcomed: q.welcome.is_some(),
        username: q
            .welcome
            .filter(|u| u.len() <= 64 && u.chars().all(|c| !c.is_control()))
            .unwrap_or_default(),
        error: None,
        reset_done: q.reset.is_some(),
        restored: q.restored.is_some(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// The session cookies and on to `next` (or to the password change a temporary password
/// needs first): the end of both the password step and the two-factor step.
pub(super) fn signed_in(
    state: &AppState,
    jar: CookieJar,
    signed: &service::SignedIn,
    next: String,
) -> PageResult {
    let tokens = super::api::pair(
        state,
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
        Ok(service::LoginOutcome::TwoFactor { challenge }) => Ok(web::render(
            &super::two_factor_pages::CodePage::new(challenge, next, None),
        )),
        Ok(service::LoginOutcome::SignedIn(signed)) => signed_in(&state, jar, &signed, next),
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
                reset_done: false,
                restored: false,
                welcomed: false,
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

// ---------------------------------------------------------------------------------------------
// Password reset by email. These pages are for someone who cannot sign in: they never look at
// a session. The confirm page carries the emailed token in its address and in a hidden field, so
// it is not cached (`no-store`); the app's Referrer-Policy (same-origin) keeps the address from
// other sites, and the page loads nothing from elsewhere.

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Template)]
#[template(path = "auth/reset_request.html")]
struct ResetRequestPage {
    chrome: Chrome,
    email: String,
    organization: String,
    /// The server hosts several organizations: offer the short-name field (optional).
    ask_organization: bool,
    /// The request was taken: show the answer, which is the same for any address.
    answer: Option<&'static str>,
    /// No department here has email set up: no link can go, so say so and who can help.
    email_off: bool,
    email_error: Option<String>,
    organization_error: Option<String>,
    error: Option<String>,
}

impl ResetRequestPage {
    async fn new(state: &AppState) -> Result<ResetRequestPage, AppError> {
        let orgs = crate::organization::service::count(&state.db).await?;
        Ok(ResetRequestPage {
            chrome: Chrome::anonymous(),
            email: String::new(),
            organization: String::new(),
            ask_organization: orgs > 1,
            answer: None,
            email_off: !crate::notify::mail::configured_anywhere(&state.db, None).await?,
            email_error: None,
            organization_error: None,
            error: None,
        })
    }
}

#[derive(Deserialize, Default)]
pub struct ResetRequestQuery {
    sent: Option<String>,
}

async fn reset_form(
    State(state): State<AppState>,
    query: Result<Query<ResetRequestQuery>, QueryRejection>,
) -> PageResult {
    let mut page = ResetRequestPage::new(&state).await?;
    if query.is_ok_and(|Query(q)| q.sent.is_some()) {
        page.answer = Some(RESET_ANSWER);
    }
    Ok(no_store(web::render(&page)))
}

#[derive(Deserialize)]
pub struct ResetRequestForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    organization: String,
}

async fn reset_request(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<ResetRequestForm>,
) -> PageResult {
    let ip = addr.ip().to_string();
    let input = ResetRequest {
        email: form.email.clone(),
        organization: Some(form.organization.trim().to_string()).filter(|s| !s.is_empty()),
    };
    // The department named has no email: say so rather than promise a link (a fact about the
    // department, not about any account).
    if let Some(slug) = input.organization.as_deref()
        && !crate::notify::mail::configured_anywhere(&state.db, Some(slug)).await?
    {
        let mut page = ResetRequestPage::new(&state).await?;
        page.email_off = true;
        return Ok(no_store(web::render(&page)));
    }
    let err = match reset::request(&state, Some(&ip), input).await {
        // The same answer whether or not the address is known (post-redirect-get).
        Ok(()) => return Ok(Redirect::to("/password-reset?sent=1").into_response()),
        Err(err @ (AppError::Validation(_) | AppError::TooManyRequests(_))) => err,
        Err(other) => return Err(other.into()),
    };
    let status = err.status();
    let mut page = ResetRequestPage::new(&state).await?;
    page.email = form.email;
    page.organization = form.organization;
    match err {
        AppError::Validation(errors) => {
            for e in errors {
                let message = web::sentence(&e.message);
                match e.field.as_str() {
                    "email" => page.email_error = Some(message),
                    "organization" if page.ask_organization => {
                        page.organization_error = Some(message)
                    }
                    _ => page.error = Some(message),
                }
            }
        }
        other => page.error = Some(web::sentence(&other.to_problem().detail)),
    }
    Ok(no_store((status, web::render(&page)).into_response()))
}

#[derive(Template)]
#[template(path = "auth/reset_confirm.html")]
struct ResetConfirmPage {
    chrome: Chrome,
    /// The link's token, for the hidden field; None when the link is not valid (the page then
    /// says so and offers to ask for a new one).
    token: Option<String>,
    invalid: Option<String>,
    new_error: Option<String>,
    repeat_error: Option<String>,
}

impl ResetConfirmPage {
    fn form(token: String) -> Self {
        ResetConfirmPage {
            chrome: Chrome::anonymous(),
            token: Some(token),
            invalid: None,
            new_error: None,
            repeat_error: None,
        }
    }
}

/// The page for a link that is not valid, expired or already used.
fn invalid_link(err: &AppError) -> Response {
    let page = ResetConfirmPage {
        chrome: Chrome::anonymous(),
        token: None,
        invalid: Some(web::refusal(err)),
        new_error: None,
        repeat_error: None,
    };
    no_store((err.status(), web::render(&page)).into_response())
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    token: Option<String>,
}

async fn reset_confirm_form(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> PageResult {
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    match reset::check(&state, &token).await {
        Ok(_) => Ok(no_store(web::render(&ResetConfirmPage::form(token)))),
        Err(err @ AppError::Validation(_)) => Ok(invalid_link(&err)),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct ResetConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

async fn reset_confirm(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<ResetConfirmForm>,
) -> PageResult {
    if form.new_password != form.repeat_password {
        // Nothing to save; but a link that is no longer good is the first thing to say.
        return match reset::check(&state, &form.token).await {
            Ok(_) => {
                let mut page = ResetConfirmPage::form(form.token);
                page.repeat_error = Some("The two passwords do not match.".into());
                Ok(no_store(
                    (StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response(),
                ))
            }
            Err(err @ AppError::Validation(_)) => Ok(invalid_link(&err)),
            Err(other) => Err(other.into()),
        };
    }
    let ip = addr.ip().to_string();
    let input = ResetConfirm {
        token: form.token.clone(),
        new_password: form.new_password,
    };
    match reset::confirm(&state, Some(&ip), input).await {
        Ok(_) => Ok(Redirect::to("/login?reset=1").into_response()),
        Err(AppError::Validation(errors)) if errors.iter().any(|e| e.field == "token") => {
            Ok(invalid_link(&AppError::Validation(errors)))
        }
        Err(AppError::Validation(errors)) => {
            let mut page = ResetConfirmPage::form(form.token);
            page.new_error = Some(
                errors
                    .iter()
                    .map(|e| web::sentence(&e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            Ok(no_store(
                (StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response(),
            ))
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Welcome: a member invited by email follows the link here, one with a printed sheet types the
// code. Any good code works (an invitation's or a reset link's); the page greets the member by
// name once the code is known to be good.

#[derive(Template)]
#[template(path = "auth/welcome.html")]
struct WelcomePage {
    chrome: Chrome,
    code: String,
    holder: Option<reset::Holder>,
    code_error: Option<String>,
    new_error: Option<String>,
    repeat_error: Option<String>,
}

impl WelcomePage {
    fn new(code: String, holder: Option<reset::Holder>) -> Self {
        WelcomePage {
            chrome: Chrome::anonymous(),
            code,
            holder,
            code_error: None,
            new_error: None,
            repeat_error: None,
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CodeQuery {
    code: Option<String>,
}

/// The code a person typed or followed, cut to a length no real code exceeds.
fn typed_code(code: Option<String>) -> String {
    code.unwrap_or_default().trim().chars().take(64).collect()
}

async fn welcome_form(
    State(state): State<AppState>,
    query: Result<Query<CodeQuery>, QueryRejection>,
) -> PageResult {
    let code = typed_code(query.ok().and_then(|Query(q)| q.code));
    if code.is_empty() {
        return Ok(no_store(web::render(&WelcomePage::new(code, None))));
    }
    match reset::check(&state, &code).await {
        Ok(holder) => Ok(no_store(web::render(&WelcomePage::new(code, Some(holder))))),
        Err(err @ AppError::Validation(_)) => {
            let mut page = WelcomePage::new(code, None);
            page.code_error = Some(welcome_code_refusal());
            Ok(no_store((err.status(), web::render(&page)).into_response()))
        }
        Err(other) => Err(other.into()),
    }
}

fn welcome_code_refusal() -> String {
    "This code is not valid, has been used or has expired. Check it against your sheet or \
     email; if it is right, ask an officer for a new one."
        .into()
}

#[derive(Deserialize)]
pub struct WelcomeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat_password: String,
}

async fn welcome(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Form(form): Form<WelcomeForm>,
) -> PageResult {
    let code = typed_code(Some(form.code));
    let unprocessable = |page: WelcomePage| {
        Ok(no_store(
            (StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response(),
        ))
    };
    let holder = match reset::check(&state, &code).await {
        Ok(holder) => holder,
        Err(AppError::Validation(_)) => {
            let mut page = WelcomePage::new(code, None);
            page.code_error = Some(if page.code.is_empty() {
                "Enter the sign-in code from your sheet or email.".into()
            } else {
                welcome_code_refusal()
            });
            return unprocessable(page);
        }
        Err(other) => return Err(other.into()),
    };
    if form.new_password != form.repeat_password {
        let mut page = WelcomePage::new(code, Some(holder));
        page.repeat_error = Some("The two passwords do not match.".into());
        return unprocessable(page);
    }
    let ip = addr.ip().to_string();
    let input = ResetConfirm {
        token: code.clone(),
        new_password: form.new_password,
    };
    match reset::confirm(&state, Some(&ip), input).await {
        Ok(username) => {
            Ok(Redirect::to(&web::link("/login", &[("welcome", &username)])).into_response())
        }
        Err(AppError::Validation(errors)) if errors.iter().any(|e| e.field == "token") => {
            let mut page = WelcomePage::new(code, None);
            page.code_error = Some(welcome_code_refusal());
            unprocessable(page)
        }
        Err(AppError::Validation(errors)) => {
            let mut page = WelcomePage::new(code, Some(holder));
            page.new_error = Some(
                errors
                    .iter()
                    .map(|e| web::sentence(&e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            unprocessable(page)
        }
        Err(other) => Err(other.into()),
    }
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
    started: LocalTime,
    last_refresh: LocalTime,
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
    let tz = ctx.local();
    // To the minute, without the zone.
    let local = |t: chrono::DateTime<chrono::Utc>| web::LocalTime {
        text: tz.moment_plain(&t),
        iso: t.to_rfc3339(),
    };
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            family_id: s.family_id.to_string(),
            started: local(s.started_at),
            last_refresh: local(s.last_refresh_at),
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
