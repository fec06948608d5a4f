//! The pages of two-factor sign-in: the code step of signing in, and the member's own set-up
//! (QR code, confirm, recovery codes, turning it off), with the department's rule for admins.

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::Ctx;
use super::permissions::SETTINGS_MANAGE;
use super::two_factor::{self, CompleteInput, ConfirmInput, PasswordInput, PolicyInput};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, PendingViewer, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/two-factor", post(complete))
        .route("/account/two-factor", get(page))
        .route("/account/two-factor/setup", post(setup))
        .route("/account/two-factor/confirm", post(confirm))
        .route("/account/two-factor/disable", post(disable))
        .route("/account/two-factor/recovery-codes", post(recovery_codes))
        .route("/account/two-factor/policy", post(policy))
}

#[derive(Template)]
#[template(path = "auth/two_factor_login.html")]
pub struct CodePage {
    chrome: Chrome,
    challenge: String,
    next: String,
    error: Option<String>,
}

impl CodePage {
    pub fn new(challenge: String, next: String, error: Option<String>) -> Self {
        CodePage {
            chrome: Chrome::anonymous(),
            challenge,
            next,
            error,
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    challenge: String,
    code: String,
    next: Option<String>,
}

async fn complete(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let next = web::safe_next(form.next.as_deref());
    let ua = super::api::user_agent(&headers);
    let ip = addr.ip().to_string();
    let input = CompleteInput {
        challenge: form.challenge.clone(),
        code: form.code,
    };
    match two_factor::complete(&state.db, &state.cipher, input, Some(&ip), ua.as_deref()).await {
        Ok(signed) => super::pages::signed_in(&state, jar, &signed, next),
        // Signed in already by the first of two taps: on to where they were going.
        Err(AppError::Conflict(_)) => Ok(Redirect::to(&next).into_response()),
        Err(err @ (AppError::Unauthorized(_) | AppError::Validation(_))) => {
            let status = err.status();
            let message = match err {
                AppError::Validation(errors) => errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
                other => other.to_problem().detail,
            };
            let page = CodePage::new(form.challenge, next, Some(web::sentence(&message)));
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The QR code and the key, for the set-up step.
struct SetupView {
    qr_src: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "auth/two_factor.html")]
struct TwoFactorPage {
    chrome: Chrome,
    status: two_factor::Status,
    policy: Option<two_factor::Policy>,
    setup: Option<SetupView>,
    recovery_codes: Vec<String>,
    notice: Option<String>,
    code_error: Option<String>,
    codes_error: Option<String>,
    disable_error: Option<String>,
}

impl TwoFactorPage {
    async fn load(state: &AppState, ctx: &Ctx) -> Result<Self, AppError> {
        let mut conn = state.db.acquire().await?;
        let status = two_factor::status(ctx, &mut conn).await?;
        let policy = if ctx.has(SETTINGS_MANAGE) && !ctx.two_factor_due {
            Some(two_factor::policy(ctx, &mut conn).await?)
        } else {
            None
        };
        Ok(TwoFactorPage {
            chrome: Chrome::for_viewer(ctx, "/account"),
            status,
            policy,
            setup: None,
            recovery_codes: Vec::new(),
            notice: None,
            code_error: None,
            codes_error: None,
            disable_error: None,
        })
    }
}

fn field_message(err: &AppError) -> Option<String> {
    match err {
        AppError::Validation(errors) => errors.first().map(|e| web::sentence(&e.message)),
        _ => None,
    }
}

async fn page(State(state): State<AppState>, PendingViewer(ctx): PendingViewer) -> PageResult {
    Ok(web::render(&TwoFactorPage::load(&state, &ctx).await?))
}

async fn setup(State(state): State<AppState>, PendingViewer(ctx): PendingViewer) -> PageResult {
    let mut tx = state.db.begin().await?;
    let setup = two_factor::start_setup(&ctx, &mut tx, &state.cipher).await?;
    tx.commit().await?;
    let mut page = TwoFactorPage::load(&state, &ctx).await?;
    page.setup = Some(SetupView {
        qr_src: qr_src(&setup.qr_svg),
        secret: setup.secret,
    });
    Ok(web::render(&page))
}

/// The QR code as an image the page can show (the page's CSP allows `data:` images only).
fn qr_src(svg: &str) -> String {
    format!(
        "data:image/svg+xml;utf8,{}",
        web::url_encode(svg).replace('/', "%2F")
    )
}

#[derive(Deserialize)]
struct CodeOnly {
    code: String,
}

async fn confirm(
    State(state): State<AppState>,
    PendingViewer(ctx): PendingViewer,
    Form(form): Form<CodeOnly>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match two_factor::confirm(
        &ctx,
        &mut tx,
        &state.cipher,
        ConfirmInput { code: form.code },
    )
    .await
    {
        Ok(codes) => {
            tx.commit().await?;
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.notice = Some("Two-factor sign-in is on.".into());
            page.recovery_codes = codes.recovery_codes;
            Ok(web::render(&page))
        }
        Err(err @ AppError::Validation(_)) => {
            drop(tx);
            // The same key again (the app may already hold it), with the message beside the
            // field.
            let mut conn = state.db.acquire().await?;
            let pending = two_factor::pending_setup(&ctx, &mut conn, &state.cipher).await?;
            drop(conn);
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.setup = pending.map(|setup| SetupView {
                qr_src: qr_src(&setup.qr_svg),
                secret: setup.secret,
            });
            page.code_error = field_message(&err);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn disable(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<PasswordInput>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match two_factor::disable(&ctx, &mut tx, &state.hasher, form).await {
        Ok(()) => {
            tx.commit().await?;
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.notice = Some("Two-factor sign-in is off.".into());
            Ok(web::render(&page))
        }
        Err(err @ AppError::Validation(_)) => {
            drop(tx);
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.disable_error = field_message(&err);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

async fn recovery_codes(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<PasswordInput>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match two_factor::regenerate_recovery_codes(&ctx, &mut tx, &state.hasher, form).await {
        Ok(codes) => {
            tx.commit().await?;
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.notice = Some("New recovery codes; the old ones no longer work.".into());
            page.recovery_codes = codes.recovery_codes;
            Ok(web::render(&page))
        }
        Err(err @ AppError::Validation(_)) => {
            drop(tx);
            let mut page = TwoFactorPage::load(&state, &ctx).await?;
            page.codes_error = field_message(&err);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct PolicyForm {
    required: Option<String>,
}

async fn policy(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<PolicyForm>,
) -> Result<Response, web::PageError> {
    let required = form.required.is_some();
    let mut tx = state.db.begin().await?;
    let notice = match two_factor::set_policy(&ctx, &mut tx, PolicyInput { required }).await {
        Ok(_) => {
            tx.commit().await?;
            if required {
                "Two-factor sign-in is now required of members who manage settings or members."
            } else {
                "Two-factor sign-in is now optional for everyone."
            }
        }
        // Saved as it already was: nothing to change.
        Err(AppError::Conflict(_)) => "Nothing changed.",
        Err(other) => return Err(other.into()),
    };
    let mut page = TwoFactorPage::load(&state, &ctx).await?;
    page.notice = Some(notice.into());
    Ok(web::render(&page))
}
