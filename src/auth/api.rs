//! `/api/v1/auth/*`. Tokens go back in the body (for API clients) and as httpOnly,
//! SameSite=Strict cookies (for the browser).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use super::cookies;
use super::ctx::{REFRESH_COOKIE, SessionCtx};
use super::service::{self, ChangePassword, LoginInput, Me};
use super::sessions::{self, Issued, Refresh};
use super::tokens::ACCESS_TTL_SECS;
use super::two_factor;
use crate::error::{AppError, AppResult};
use crate::http::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/change-password", post(change_password))
        .route("/api/v1/auth/password-reset", post(password_reset))
        .route(
            "/api/v1/auth/password-reset/confirm",
            post(password_reset_confirm),
        )
        .route("/api/v1/auth/login/two-factor", post(login_two_factor))
        .route("/api/v1/auth/two-factor", get(two_factor_status))
        .route("/api/v1/auth/two-factor/setup", post(two_factor_setup))
        .route("/api/v1/auth/two-factor/confirm", post(two_factor_confirm))
        .route("/api/v1/auth/two-factor/disable", post(two_factor_disable))
        .route(
            "/api/v1/auth/two-factor/recovery-codes",
            post(two_factor_recovery_codes),
        )
        .route(
            "/api/v1/settings/two-factor",
            get(two_factor_policy).put(set_two_factor_policy),
        )
        .route(
            "/api/v1/members/{id}/two-factor/reset",
            post(reset_member_two_factor),
        )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub detail: &'static str,
}

/// Always 202 with the same answer, whether or not the address belongs to an account.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = super::reset::ResetRequest,
    responses((status = 202, body = Accepted), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn password_reset(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(input): ApiJson<super::reset::ResetRequest>,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    super::reset::request(&state, ip_of(&connect).as_deref(), input).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            detail: RESET_ANSWER,
        }),
    ))
}

pub const RESET_ANSWER: &str = "If that address belongs to an account, a link to choose a new \
     password is on its way. It works once, for 30 minutes.";

/// Sets the new password with the emailed token; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = super::reset::ResetConfirm,
    responses((status = 204), (status = 422, body = crate::error::Problem)))]
pub async fn password_reset_confirm(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    ApiJson(input): ApiJson<super::reset::ResetConfirm>,
) -> AppResult<StatusCode> {
    super::reset::confirm(&state, ip_of(&connect).as_deref(), input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub must_change_password: bool,
}

pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn ip_of(connect: &axum::extract::ConnectInfo<std::net::SocketAddr>) -> Option<String> {
    Some(connect.0.ip().to_string())
}

fn with_session_cookies(
    state: &AppState,
    jar: CookieJar,
    access: &str,
    refresh: &str,
) -> CookieJar {
    cookies::with_session(jar, access, refresh, state.config.secure_cookies)
}

pub(crate) fn pair(
    state: &AppState,
    org: super::OrgId,
    user: uuid::Uuid,
    issued: &Issued,
    must_change_password: bool,
) -> AppResult<TokenPair> {
    Ok(TokenPair {
        access_token: state.keys.issue_access(user, org, issued.family_id)?,
        refresh_token: issued.refresh_token.clone(),
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        must_change_password,
    })
}

/// The password step's answer when the member signs in with a second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TwoFactorChallenge {
    /// Always true here: complete at `/api/v1/auth/login/two-factor`.
    pub two_factor_required: bool,
    /// Single use; valid for `expires_in` seconds.
    pub challenge: String,
    pub expires_in: i64,
}

/// Tokens, or (two-factor sign-in) a challenge to complete with a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenPair),
    TwoFactor(TwoFactorChallenge),
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = LoginAnswer), (status = 401, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(input): ApiJson<LoginInput>,
) -> AppResult<(CookieJar, Json<LoginAnswer>)> {
    let ip = ip_of(&connect);
    let ua = user_agent(&headers);
    let outcome = service::login(
        &state.db,
        &state.hasher,
        input,
        ip.as_deref(),
        ua.as_deref(),
    )
    .await?;
    let signed = match outcome {
        service::LoginOutcome::SignedIn(signed) => signed,
        service::LoginOutcome::TwoFactor { challenge } => {
            return Ok((
                jar,
                Json(LoginAnswer::TwoFactor(TwoFactorChallenge {
                    two_factor_required: true,
                    challenge,
                    expires_in: two_factor::CHALLENGE_MINUTES * 60,
                })),
            ));
        }
    };
    signed_in(&state, jar, &signed).map(|(jar, tokens)| (jar, Json(LoginAnswer::Tokens(tokens))))
}

fn signed_in(
    state: &AppState,
    jar: CookieJar,
    signed: &service::SignedIn,
) -> AppResult<(CookieJar, TokenPair)> {
    let tokens = pair(
        state,
        signed.org_id,
        signed.user_id,
        &signed.issued,
        signed.must_change_password,
    )?;
    let jar = with_session_cookies(state, jar, &tokens.access_token, &tokens.refresh_token);
    Ok((jar, tokens))
}

/// Completes a two-factor sign-in with a code from the authenticator app or a recovery code.
#[utoipa::path(post, path = "/api/v1/auth/login/two-factor", tag = "auth",
    request_body = two_factor::CompleteInput,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn login_two_factor(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(input): ApiJson<two_factor::CompleteInput>,
) -> AppResult<(CookieJar, Json<TokenPair>)> {
    let ip = ip_of(&connect);
    let ua = user_agent(&headers);
    let signed = two_factor::complete(
        &state.db,
        &state.cipher,
        input,
        ip.as_deref(),
        ua.as_deref(),
    )
    .await?;
    signed_in(&state, jar, &signed).map(|(jar, tokens)| (jar, Json(tokens)))
}

#[utoipa::path(get, path = "/api/v1/auth/two-factor", tag = "auth",
    responses((status = 200, body = two_factor::Status), (status = 401, body = crate::error::Problem)))]
pub async fn two_factor_status(
    State(state): State<AppState>,
    SessionCtx(ctx): SessionCtx,
) -> AppResult<Json<two_factor::Status>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(two_factor::status(&ctx, &mut conn).await?))
}

/// Starts enrolment: a new secret, its QR code and link; in force once confirmed.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/setup", tag = "auth",
    responses((status = 200, body = two_factor::Setup), (status = 401, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn two_factor_setup(
    State(state): State<AppState>,
    SessionCtx(ctx): SessionCtx,
) -> AppResult<Json<two_factor::Setup>> {
    let mut tx = state.db.begin().await?;
    let setup = two_factor::start_setup(&ctx, &mut tx, &state.cipher).await?;
    tx.commit().await?;
    Ok(Json(setup))
}

#[utoipa::path(post, path = "/api/v1/auth/two-factor/confirm", tag = "auth",
    request_body = two_factor::ConfirmInput,
    responses((status = 200, body = two_factor::RecoveryCodes),
        (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn two_factor_confirm(
    State(state): State<AppState>,
    SessionCtx(ctx): SessionCtx,
    ApiJson(input): ApiJson<two_factor::ConfirmInput>,
) -> AppResult<Json<two_factor::RecoveryCodes>> {
    let mut tx = state.db.begin().await?;
    let codes = two_factor::confirm(&ctx, &mut tx, &state.cipher, input).await?;
    tx.commit().await?;
    Ok(Json(codes))
}

#[utoipa::path(post, path = "/api/v1/auth/two-factor/disable", tag = "auth",
    request_body = two_factor::PasswordInput,
    responses((status = 204), (status = 401, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn two_factor_disable(
    State(state): State<AppState>,
    ctx: super::Ctx,
    ApiJson(input): ApiJson<two_factor::PasswordInput>,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    two_factor::disable(&ctx, &mut tx, &state.hasher, input).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/auth/two-factor/recovery-codes", tag = "auth",
    request_body = two_factor::PasswordInput,
    responses((status = 200, body = two_factor::RecoveryCodes),
        (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn two_factor_recovery_codes(
    State(state): State<AppState>,
    ctx: super::Ctx,
    ApiJson(input): ApiJson<two_factor::PasswordInput>,
) -> AppResult<Json<two_factor::RecoveryCodes>> {
    let mut tx = state.db.begin().await?;
    let codes = two_factor::regenerate_recovery_codes(&ctx, &mut tx, &state.hasher, input).await?;
    tx.commit().await?;
    Ok(Json(codes))
}

#[utoipa::path(get, path = "/api/v1/settings/two-factor", tag = "auth",
    responses((status = 200, body = two_factor::Policy), (status = 403, body = crate::error::Problem)))]
pub async fn two_factor_policy(
    State(state): State<AppState>,
    ctx: super::Ctx,
) -> AppResult<Json<two_factor::Policy>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(two_factor::policy(&ctx, &mut conn).await?))
}

/// Requires (or stops requiring) two-factor sign-in of members who manage settings or members.
#[utoipa::path(put, path = "/api/v1/settings/two-factor", tag = "auth",
    request_body = two_factor::PolicyInput,
    responses((status = 200, body = two_factor::Policy), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn set_two_factor_policy(
    State(state): State<AppState>,
    ctx: super::Ctx,
    ApiJson(input): ApiJson<two_factor::PolicyInput>,
) -> AppResult<Json<two_factor::Policy>> {
    let mut tx = state.db.begin().await?;
    let policy = two_factor::set_policy(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok(Json(policy))
}

/// Turns off another member's two-factor sign-in (a lost phone and lost recovery codes).
#[utoipa::path(post, path = "/api/v1/members/{id}/two-factor/reset", tag = "auth",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn reset_member_two_factor(
    State(state): State<AppState>,
    ctx: super::Ctx,
    crate::web::PathId(id): crate::web::PathId,
) -> AppResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    two_factor::reset_for_member(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    /// Omit to use the refresh cookie.
    pub refresh_token: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshInput,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    connect: axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> AppResult<(CookieJar, Json<TokenPair>)> {
    // The body is optional (a browser sends only the cookie), so parse it by hand.
    let input: RefreshInput = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::Rejected(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid JSON body: {e}"),
            )
        })?
    };
    let presented = input
        .refresh_token
        .or_else(|| jar.get(REFRESH_COOKIE).map(|c| c.value().to_string()))
        .ok_or_else(sessions::refused)?;
    let ip = ip_of(&connect);
    let ua = user_agent(&headers);
    let mut tx = state.db.begin().await?;
    let outcome = sessions::rotate(&mut tx, &presented, ip.as_deref(), ua.as_deref()).await?;
    // Commit in every case: a refused replay has revoked its family and raised an alert.
    tx.commit().await?;
    match outcome {
        Refresh::Refused => Err(sessions::refused()),
        Refresh::Rotated(r) => {
            let tokens = pair(
                &state,
                r.org_id,
                r.user_id,
                &r.issued,
                r.must_change_password,
            )?;
            let jar =
                with_session_cookies(&state, jar, &tokens.access_token, &tokens.refresh_token);
            Ok((jar, Json(tokens)))
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    ctx: SessionCtx,
    jar: CookieJar,
) -> AppResult<(StatusCode, CookieJar)> {
    let ctx = ctx.0;
    let mut tx = state.db.begin().await?;
    service::logout(&mut tx, &ctx.actor(), ctx.session_id).await?;
    tx.commit().await?;
    Ok((StatusCode::NO_CONTENT, cookies::without_session(jar)))
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn me(me: MeSession) -> AppResult<Json<Me>> {
    Ok(Json(me.0))
}

/// `/auth/me`'s caller (a session that may still have to change its password): the context
/// and the account, read in one statement.
pub struct MeSession(Me);

impl axum::extract::FromRequestParts<AppState> for MeSession {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> AppResult<Self> {
        let (ctx, row) = super::ctx::load_with(parts, state, Some(service::ME_COLUMNS)).await?;
        let me = service::me_from_row(&ctx, &row)?;
        parts.extensions.insert(ctx);
        Ok(MeSession(me))
    }
}

#[utoipa::path(post, path = "/api/v1/auth/change-password", tag = "auth",
    request_body = ChangePassword,
    responses((status = 200, body = TokenPair, description = "Password changed; every other session ended; new tokens for this one"),
        (status = 422, body = crate::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    ctx: SessionCtx,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(input): ApiJson<ChangePassword>,
) -> AppResult<(CookieJar, Json<TokenPair>)> {
    let ctx = ctx.0;
    let ua = user_agent(&headers);
    let mut tx = state.db.begin().await?;
    let issued =
        service::change_password(&ctx, &mut tx, &state.hasher, input, ua.as_deref()).await?;
    tx.commit().await?;
    let tokens = pair(&state, ctx.org_id, ctx.user_id, &issued, false)?;
    let jar = with_session_cookies(&state, jar, &tokens.access_token, &tokens.refresh_token);
    Ok((jar, Json(tokens)))
}
