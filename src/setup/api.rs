//! The wizard over the API: every route but `status` needs the setup token in `X-Setup-Token`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::service::{
    self, AdminInput, DatabaseCheck, DraftView, EmailInput, HttpsInput, HttpsView, StationsDraft,
};
use crate::auth::api::TokenPair;
use crate::error::{AppError, AppResult};
use crate::http::ApiJson;
use crate::notify::mail::TestResult;
use crate::organization::service::OrgProfile;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup/status", get(status))
        .route("/api/v1/setup", get(read))
        .route("/api/v1/setup/check", get(read_check).post(confirm_check))
        .route("/api/v1/setup/organization", put(organization))
        .route("/api/v1/setup/administrator", put(administrator))
        .route("/api/v1/setup/stations", put(stations))
        .route("/api/v1/setup/email", put(email))
        .route("/api/v1/setup/email/test", post(email_test))
        .route("/api/v1/setup/https", get(read_https).put(https))
        .route("/api/v1/setup/modules", put(modules))
        .route("/api/v1/setup/finish", post(finish))
        .route(RESTORE_UPLOAD_PATH, post(restore_upload))
        .route("/api/v1/setup/restore", get(restore_progress).post(restore))
}

/// Uploads take longer than other requests (see `app::unbounded`).
pub const RESTORE_UPLOAD_PATH: &str = "/api/v1/setup/restore/upload";

/// A request that presented the right setup token while setup is pending.
#[derive(Debug)]
pub struct SetupToken {
    pub ip: std::net::IpAddr,
}

impl FromRequestParts<AppState> for SetupToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        if !state
            .setup
            .pending(&state.db, &state.config.data_dir)
            .await?
        {
            return Err(AppError::Conflict(
                "setup is already done and cannot be run again; sign in instead".into(),
            ));
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let presented = parts
            .headers
            .get(super::HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                CookieJar::from_headers(&parts.headers)
                    .get(super::COOKIE)
                    .map(|c| c.value().to_string())
            });
        state.setup.authorize(ip, presented.as_deref())?;
        Ok(SetupToken { ip })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SetupStatus {
    /// True while the server has no department and waits for the setup wizard.
    pub pending: bool,
}

/// Whether setup is pending. Needs no token.
#[utoipa::path(get, path = "/api/v1/setup/status", tag = "setup",
    responses((status = 200, body = SetupStatus)))]
pub async fn status(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        pending: state
            .setup
            .pending(&state.db, &state.config.data_dir)
            .await?,
    }))
}

/// The steps and the answers so far (no passwords).
#[utoipa::path(get, path = "/api/v1/setup", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 401, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn read(State(state): State<AppState>, _t: SetupToken) -> AppResult<Json<DraftView>> {
    Ok(Json(service::load(&state.db).await?.view()))
}

/// The database check: server version, migrations, the data directory and its free space.
#[utoipa::path(get, path = "/api/v1/setup/check", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DatabaseCheck), (status = 401, body = crate::error::Problem)))]
pub async fn read_check(
    State(state): State<AppState>,
    _t: SetupToken,
) -> AppResult<Json<DatabaseCheck>> {
    Ok(Json(service::check(&state).await?))
}

/// Confirms the database check (refused with 409 while it finds a problem).
#[utoipa::path(post, path = "/api/v1/setup/check", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DatabaseCheck), (status = 409, body = crate::error::Problem)))]
pub async fn confirm_check(
    State(state): State<AppState>,
    _t: SetupToken,
) -> AppResult<Json<DatabaseCheck>> {
    Ok(Json(service::confirm_check(&state).await?.1))
}

/// The department: name, type, time zone, identifier (FDID / state id), address.
#[utoipa::path(put, path = "/api/v1/setup/organization", tag = "setup", request_body = OrgProfile,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn organization(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<OrgProfile>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_organization(&state, input).await?;
    tracing::info!(ip = %t.ip, "setup: department saved");
    Ok(Json(draft.view()))
}

/// The first administrator (the core's password rules apply).
#[utoipa::path(put, path = "/api/v1/setup/administrator", tag = "setup", request_body = AdminInput,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn administrator(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<AdminInput>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_administrator(&state, input).await?;
    tracing::info!(ip = %t.ip, "setup: administrator saved");
    Ok(Json(draft.view()))
}

/// Stations and apparatus (the whole lists), or `{"skipped": true}`.
#[utoipa::path(put, path = "/api/v1/setup/stations", tag = "setup", request_body = StationsDraft,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem)))]
pub async fn stations(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<StationsDraft>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_stations(&state, input).await?;
    tracing::info!(ip = %t.ip, "setup: stations and apparatus saved");
    Ok(Json(draft.view()))
}

/// The SMTP settings, or `{"skipped": true}`.
#[utoipa::path(put, path = "/api/v1/setup/email", tag = "setup", request_body = EmailInput,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem)))]
pub async fn email(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<EmailInput>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_email(&state, input).await?;
    tracing::info!(ip = %t.ip, "setup: email settings saved");
    Ok(Json(draft.view()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTo {
    /// Where to send it; the administrator's address when absent.
    #[serde(default)]
    pub to: Option<String>,
}

/// Sends a test message with the saved settings and reports the SMTP server's answer.
#[utoipa::path(post, path = "/api/v1/setup/email/test", tag = "setup", request_body = TestTo,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = TestResult), (status = 409, body = crate::error::Problem)))]
pub async fn email_test(
    State(state): State<AppState>,
    _t: SetupToken,
    ApiJson(input): ApiJson<TestTo>,
) -> AppResult<Json<TestResult>> {
    Ok(Json(service::send_test(&state, input.to).await?))
}

/// The certificate the server presents now.
#[utoipa::path(get, path = "/api/v1/setup/https", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = HttpsView)))]
pub async fn read_https(
    State(state): State<AppState>,
    _t: SetupToken,
) -> AppResult<Json<HttpsView>> {
    Ok(Json(service::https_view(&state)))
}

/// Keeps the certificate in use, uploads one (checked before use; a mismatched key or an expired
/// certificate is refused beside its field), or goes back to the generated one.
#[utoipa::path(put, path = "/api/v1/setup/https", tag = "setup", request_body = HttpsInput,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn https(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<HttpsInput>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_https(&state, input).await?;
    tracing::info!(ip = %t.ip, "setup: certificate confirmed");
    Ok(Json(draft.view()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModulesInput {
    /// Module name → on/off; modules left out stay on.
    pub modules: BTreeMap<String, bool>,
}

/// Which modules are on.
#[utoipa::path(put, path = "/api/v1/setup/modules", tag = "setup", request_body = ModulesInput,
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 200, body = DraftView), (status = 422, body = crate::error::Problem)))]
pub async fn modules(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<ModulesInput>,
) -> AppResult<Json<DraftView>> {
    let draft = service::save_modules(&state, input.modules).await?;
    tracing::info!(ip = %t.ip, "setup: modules saved");
    Ok(Json(draft.view()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FinishedView {
    pub organization_id: crate::auth::OrgId,
    pub slug: String,
    pub administrator_id: Uuid,
    /// The administrator is signed in.
    pub session: TokenPair,
}

/// Creates the department and its administrator (one transaction), locks setup for good,
/// destroys the token and signs the administrator in.
#[utoipa::path(post, path = "/api/v1/setup/finish", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    responses((status = 201, body = FinishedView), (status = 409, body = crate::error::Problem)))]
pub async fn finish(
    State(state): State<AppState>,
    t: SetupToken,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
) -> AppResult<(StatusCode, CookieJar, Json<FinishedView>)> {
    let ua = crate::auth::api::user_agent(&headers);
    let ip = t.ip.to_string();
    let done = service::finish(&state, Some(&ip), ua.as_deref()).await?;
    let session = crate::auth::api::pair(&state, done.org_id, done.admin_id, &done.issued, false)?;
    let jar = crate::auth::cookies::with_session(
        jar.remove(
            axum_extra::extract::cookie::Cookie::build(super::COOKIE)
                .path("/")
                .build(),
        ),
        &session.access_token,
        &session.refresh_token,
        state.config.secure_cookies,
    );
    Ok((
        StatusCode::CREATED,
        jar,
        Json(FinishedView {
            organization_id: done.org_id,
            slug: done.slug,
            administrator_id: done.admin_id,
            session,
        }),
    ))
}

/// Restore from a backup instead of setting up afresh, step 1: upload the archive (the request
/// body is the file, `application/octet-stream`). It is read through and checked; 422 when it
/// is not a Logbook backup (nothing kept). An encrypted one is kept and needs its passphrase.
#[utoipa::path(post, path = "/api/v1/setup/restore/upload", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    request_body(content = crate::backup::api::Archive, content_type = "application/octet-stream",
        description = "the archive (`logbook-….lbk`)"),
    responses((status = 201, body = crate::backup::manage::BackupEntry),
        (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 507, body = crate::error::Problem)))]
pub async fn restore_upload(
    State(state): State<AppState>,
    t: SetupToken,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<crate::backup::manage::BackupEntry>)> {
    let declared = crate::backup::api::content_length(&headers);
    let entry = crate::backup::manage::wizard_upload(&state, &t, body, declared).await?;
    tracing::info!(ip = %t.ip, file = %entry.file, "setup: backup uploaded");
    Ok((StatusCode::CREATED, Json(entry)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WizardRestoreInput {
    /// The uploaded file (`file` of the upload's answer), or a backup in the backup folder.
    pub file: String,
    /// The passphrase of an encrypted archive.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Step 2: restores it in the background (202; poll `GET /api/v1/setup/restore` with the
/// answer's `run_token` in `X-Restore-Run`). When it is done, setup is over: sign in with an
/// account of the restored data. 422 on `passphrase` when it is missing or wrong.
#[utoipa::path(post, path = "/api/v1/setup/restore", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token")),
    request_body = WizardRestoreInput,
    responses((status = 202, body = crate::backup::restoring::RestoreRun),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    t: SetupToken,
    ApiJson(input): ApiJson<WizardRestoreInput>,
) -> AppResult<(StatusCode, Json<crate::backup::restoring::RestoreRun>)> {
    let run =
        crate::backup::manage::wizard_restore(&state, &t, &input.file, input.passphrase).await?;
    tracing::info!(ip = %t.ip, file = %input.file, "setup: restoring a backup");
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// How the wizard's restore is going or ended: for the run's secret in `X-Restore-Run` (which
/// still works once setup is over), or for the setup token while setup is pending.
#[utoipa::path(get, path = "/api/v1/setup/restore", tag = "setup",
    params(("X-Setup-Token" = String, Header, description = "the setup token"),
        ("X-Restore-Run" = Option<String>, Header, description = "the run's `run_token`")),
    responses((status = 200, body = crate::backup::restoring::RestoreRun),
        (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn restore_progress(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> AppResult<Json<crate::backup::restoring::RestoreRun>> {
    let (mut parts, _) = req.into_parts();
    // The run's secret first: a stale token must not count as a wrong one.
    if let Some(secret) = crate::backup::api::run_secret(&parts.headers)
        && let Some(run) = crate::backup::restoring::by_secret(&state, &secret).await?
    {
        return Ok(Json(run));
    }
    SetupToken::from_request_parts(&mut parts, &state).await?;
    Ok(Json(crate::backup::restoring::last(&state).await?))
}
