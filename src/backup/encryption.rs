//! Encrypted backups from the administrator's side (`settings.manage`, one organization on the
//! host): turning encryption on (only after the emergency kit has been saved and the last
//! characters of the passphrase typed back), changing the passphrase, downloading the kit again,
//! turning it off. The passphrase itself is kept by `key`.
//!
//! Routes: `/settings/backups/encryption` (page) and `/api/v1/backups/encryption` (API).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::key;
use super::manage;
use crate::audit::{self, Entry, Severity};
use crate::auth::Ctx;
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::web::{self, Chrome, LocalTime, PageResult, SETTINGS, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/backups/encryption",
            get(api_status).put(api_enable).delete(api_disable),
        )
        .route(
            "/api/v1/backups/encryption/kit",
            get(api_kit_stored).post(api_kit_new),
        )
        .route("/settings/backups/encryption", get(page).post(page_enable))
        .route(
            "/settings/backups/encryption/kit",
            get(page_kit_stored).post(page_kit_new),
        )
        .route(
            "/settings/backups/encryption/off",
            get(page_disable_confirm).post(page_disable),
        )
}

// ---------------------------------------------------------------------------------------------
// Rules

/// Whether backups are encrypted, and since when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EncryptionStatus {
    pub encrypted: bool,
    /// When the current passphrase was set.
    pub since: Option<DateTime<Utc>>,
}

/// Turning encryption on, or changing the passphrase.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableEncryption {
    /// The passphrase (at least 12 characters; `GET /api/v1/backups/encryption/kit` is not
    /// needed to choose one: any will do, a generated one is offered on the page).
    #[serde(default)]
    pub passphrase: String,
    /// Its last four characters, typed back: proof that it was written down.
    #[serde(default)]
    pub confirm: String,
}

/// For the emergency kit of a passphrase not set yet.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KitRequest {
    #[serde(default)]
    pub passphrase: String,
}

pub async fn status(state: &AppState, ctx: &Ctx) -> AppResult<EncryptionStatus> {
    manage::allowed(state, ctx).await?;
    read_status(state)
}

fn read_status(state: &AppState) -> AppResult<EncryptionStatus> {
    let data_dir = &state.config.data_dir;
    let encrypted = key::stored(data_dir)?.is_some();
    let since = encrypted
        .then(|| std::fs::metadata(data_dir.join("backup-passphrase")).ok())
        .flatten()
        .and_then(|m| m.modified().ok())
        .map(DateTime::<Utc>::from);
    Ok(EncryptionStatus { encrypted, since })
}

fn check(input: &EnableEncryption) -> AppResult<()> {
    let mut errors = Vec::new();
    if input.passphrase.is_empty() {
        errors.push(FieldError::new("passphrase", "is required"));
    } else if let Err(e) = key::validate(&input.passphrase) {
        errors.push(FieldError::new("passphrase", e));
    }
    if input.confirm.trim().is_empty() {
        errors.push(FieldError::new(
            "confirm",
            "is required: type the last four characters of the passphrase",
        ));
    } else if errors.is_empty() && input.confirm.trim() != key::confirmation(&input.passphrase) {
        errors.push(FieldError::new(
            "confirm",
            "must be the last four characters of the passphrase",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Sets the passphrase every backup from now on is encrypted with; audited. Backups made before
/// keep the passphrase (or none) they were made with.
pub async fn enable(
    state: &AppState,
    ctx: &Ctx,
    input: &EnableEncryption,
) -> AppResult<EncryptionStatus> {
    manage::allowed(state, ctx).await?;
    check(input)?;
    let data_dir = &state.config.data_dir;
    let before = key::stored(data_dir)?;
    if before.as_deref() == Some(input.passphrase.as_str()) {
        return read_status(state);
    }
    let action = if before.is_some() {
        "backup.passphrase_changed"
    } else {
        "backup.encryption_enabled"
    };
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new(action, "backup", "encryption")
            .severity(Severity::Warning)
            .changes(json!({"encrypted": true})),
    )
    .await?;
    key::store(data_dir, &input.passphrase)?;
    if let Err(e) = tx.commit().await {
        put_back(data_dir, before.as_deref());
        return Err(e.into());
    }
    read_status(state)
}

/// Backups from now on are not encrypted; audited.
pub async fn disable(state: &AppState, ctx: &Ctx) -> AppResult<EncryptionStatus> {
    manage::allowed(state, ctx).await?;
    let data_dir = &state.config.data_dir;
    let Some(before) = key::stored(data_dir)? else {
        return read_status(state);
    };
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("backup.encryption_disabled", "backup", "encryption")
            .severity(Severity::Warning)
            .changes(json!({"encrypted": false})),
    )
    .await?;
    key::remove(data_dir)?;
    if let Err(e) = tx.commit().await {
        put_back(data_dir, Some(&before));
        return Err(e.into());
    }
    read_status(state)
}

/// The passphrase as it was, after the audit entry of a change could not be committed.
fn put_back(data_dir: &std::path::Path, before: Option<&str>) {
    let restored = match before {
        Some(p) => key::store(data_dir, p),
        None => key::remove(data_dir),
    };
    if let Err(e) = restored {
        tracing::error!(error = %e, "the backup passphrase could not be put back");
    }
}

#[derive(Template)]
#[template(path = "backups/kit.txt")]
struct KitText<'a> {
    department: &'a str,
    made: &'a str,
    passphrase: &'a str,
    address: &'a str,
}

/// The emergency kit: a text file with the passphrase and how to restore with it (with Logbook
/// and without). For the stored passphrase (`new` None) or one about to be set.
pub async fn kit(state: &AppState, ctx: &Ctx, new: Option<&str>) -> AppResult<String> {
    manage::allowed(state, ctx).await?;
    let passphrase = match new {
        Some(p) => {
            if let Err(e) = key::validate(p) {
                return Err(AppError::Validation(vec![FieldError::new("passphrase", e)]));
            }
            p.to_string()
        }
        None => key::stored(&state.config.data_dir)?.ok_or_else(|| {
            AppError::Conflict("backups are not encrypted: there is no passphrase to print".into())
        })?,
    };
    let department: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(ctx.org_id)
        .fetch_one(&state.db)
        .await?;
    let tz = ctx.local();
    let made = web::local_time(tz, &Utc::now()).text;
    let text = KitText {
        department: &department,
        made: &made,
        passphrase: &passphrase,
        address: &state.config.public_url,
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("backup.emergency_kit_downloaded", "backup", "encryption")
            .changes(json!({"passphrase_set": new.is_none()})),
    )
    .await?;
    tx.commit().await?;
    Ok(text)
}

fn kit_response(text: String) -> Response {
    let mut res = text.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"logbook-emergency-kit.txt\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

// ---------------------------------------------------------------------------------------------
// API

/// Whether backups are encrypted.
#[utoipa::path(get, path = "/api/v1/backups/encryption", tag = "backups",
    responses((status = 200, body = EncryptionStatus), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn api_status(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<EncryptionStatus>> {
    Ok(Json(status(&state, &ctx).await?))
}

/// Encrypts every backup from now on with `passphrase` (or changes it). `confirm` must be its
/// last four characters. Backups made before keep theirs.
#[utoipa::path(put, path = "/api/v1/backups/encryption", tag = "backups",
    request_body = EnableEncryption,
    responses((status = 200, body = EncryptionStatus), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_enable(
    State(state): State<AppState>,
    ctx: Ctx,
    crate::http::ApiJson(input): crate::http::ApiJson<EnableEncryption>,
) -> AppResult<Json<EncryptionStatus>> {
    Ok(Json(enable(&state, &ctx, &input).await?))
}

/// Backups from now on are not encrypted.
#[utoipa::path(delete, path = "/api/v1/backups/encryption", tag = "backups",
    responses((status = 200, body = EncryptionStatus), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn api_disable(
    State(state): State<AppState>,
    ctx: Ctx,
) -> AppResult<Json<EncryptionStatus>> {
    Ok(Json(disable(&state, &ctx).await?))
}

/// The emergency kit of the passphrase backups are made with (409 when there is none).
#[utoipa::path(get, path = "/api/v1/backups/encryption/kit", tag = "backups",
    responses((status = 200, description = "the kit", content_type = "text/plain"),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn api_kit_stored(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    Ok(kit_response(kit(&state, &ctx, None).await?))
}

/// The emergency kit of a passphrase about to be set.
#[utoipa::path(post, path = "/api/v1/backups/encryption/kit", tag = "backups",
    request_body = KitRequest,
    responses((status = 200, description = "the kit", content_type = "text/plain"),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_kit_new(
    State(state): State<AppState>,
    ctx: Ctx,
    crate::http::ApiJson(input): crate::http::ApiJson<KitRequest>,
) -> AppResult<Response> {
    Ok(kit_response(
        kit(&state, &ctx, Some(&input.passphrase)).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Pages

#[derive(Template)]
#[template(path = "backups/encryption.html")]
struct EncryptionPage {
    chrome: Chrome,
    settings_nav: Vec<web::NavItem>,
    encrypted: bool,
    since: Option<LocalTime>,
    notice: Option<&'static str>,
    errors: Vec<String>,
    /// The passphrase offered (generated) or typed.
    passphrase: String,
    passphrase_error: Option<String>,
    confirm_error: Option<String>,
    kept_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn encryption_page(state: &AppState, ctx: &Ctx) -> AppResult<EncryptionPage> {
    let s = status(state, ctx).await?;
    let tz = ctx.local();
    Ok(EncryptionPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/backups"),
        encrypted: s.encrypted,
        since: s.since.map(|t| web::local_time(tz, &t)),
        notice: None,
        errors: Vec::new(),
        passphrase: key::generate(),
        passphrase_error: None,
        confirm_error: None,
        kept_error: None,
    })
}

async fn page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<axum::extract::Query<DoneQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = query.map(|q| q.0).unwrap_or_default();
    let mut page = encryption_page(&state, &ctx).await?;
    page.notice = match q.done.as_str() {
        "enabled" => Some(
            "Backups are encrypted from now on. Backups made before keep the passphrase they \
             were made with (or none).",
        ),
        "disabled" => Some(
            "Backups are no longer encrypted. Encrypted backups made before still need their \
             passphrase.",
        ),
        _ => None,
    };
    Ok(web::render(&page))
}

/// The form again, with the reasons beside the fields; nothing changed.
async fn form_refused(
    state: &AppState,
    ctx: &Ctx,
    passphrase: String,
    err: AppError,
) -> PageResult {
    let status = err.status();
    let mut page = encryption_page(state, ctx).await?;
    page.passphrase = passphrase;
    match err {
        AppError::Validation(errors) => {
            for e in errors {
                let label = if e.field == "confirm" {
                    "Confirmation"
                } else {
                    "Passphrase"
                };
                let text = web::field_sentence(label, &e.message);
                match e.field.as_str() {
                    "kept" => page.kept_error = Some(web::sentence(&e.message)),
                    "confirm" => page.confirm_error = Some(text),
                    "passphrase" => page.passphrase_error = Some(text),
                    _ => page.errors.push(text),
                }
            }
        }
        other => page.errors.push(web::refusal(&other)),
    }
    Ok((status, web::render(&page)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct EnableForm {
    #[serde(default)]
    passphrase: String,
    #[serde(default)]
    confirm: String,
    /// The box "I have saved the emergency kit".
    #[serde(default)]
    kept: String,
}

async fn page_enable(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<EnableForm>,
) -> PageResult {
    let input = EnableEncryption {
        passphrase: form.passphrase.clone(),
        confirm: form.confirm,
    };
    let result = if form.kept.is_empty() {
        manage::allowed(&state, &ctx).await.and_then(|_| {
            let mut errors = match check(&input) {
                Err(AppError::Validation(e)) => e,
                _ => Vec::new(),
            };
            errors.push(FieldError::new(
                "kept",
                "Tick the box once the emergency kit is saved or written down.",
            ));
            Err(AppError::Validation(errors))
        })
    } else {
        enable(&state, &ctx, &input).await
    };
    match result {
        Ok(_) => Ok(Redirect::to("/settings/backups/encryption?done=enabled").into_response()),
        Err(err @ AppError::Validation(_)) => {
            form_refused(&state, &ctx, form.passphrase, err).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn page_kit_stored(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    Ok(kit_response(kit(&state, &ctx, None).await?))
}

/// The form's "Download the emergency kit" button (the same form as turning encryption on).
async fn page_kit_new(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<EnableForm>,
) -> PageResult {
    match kit(&state, &ctx, Some(&form.passphrase)).await {
        Ok(text) => Ok(kit_response(text)),
        Err(err @ AppError::Validation(_)) => {
            form_refused(&state, &ctx, form.passphrase, err).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "backups/encryption_off.html")]
struct DisablePage {
    chrome: Chrome,
}

async fn page_disable_confirm(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    if !status(&state, &ctx).await?.encrypted {
        return Ok(Redirect::to("/settings/backups/encryption").into_response());
    }
    Ok(web::render(&DisablePage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
    }))
}

async fn page_disable(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    disable(&state, &ctx).await?;
    Ok(Redirect::to("/settings/backups/encryption?done=disabled").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_must_match_and_the_passphrase_be_usable() {
        let ok = EnableEncryption {
            passphrase: "abcd-efgh-jkmn-pqrs".into(),
            confirm: "pqrs".into(),
        };
        assert!(check(&ok).is_ok());
        let fields = |input: EnableEncryption| match check(&input) {
            Err(AppError::Validation(e)) => e.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields(EnableEncryption {
                confirm: "abcd".into(),
                ..ok.clone()
            }),
            ["confirm"]
        );
        assert_eq!(
            fields(EnableEncryption {
                passphrase: "short".into(),
                confirm: "hort".into(),
            }),
            ["passphrase"]
        );
        assert_eq!(
            fields(EnableEncryption::default()),
            ["passphrase", "confirm"]
        );
    }

    #[test]
    fn the_kit_says_how_to_restore_with_and_without_logbook() {
        let text = KitText {
            department: "Hillside VFD",
            made: "2 Dec 2026 03:00",
            passphrase: "abcd-efgh",
            address: "https://logbook.local",
        }
        .render()
        .unwrap();
        assert!(text.contains("Hillside VFD"), "{text}");
        assert!(text.contains("    abcd-efgh\n"), "{text}");
        assert!(text.contains("Restore from a backup"), "{text}");
        assert!(text.contains("age -d"), "{text}");
    }
}
