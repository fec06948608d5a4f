//! "Restore from a backup" instead of setting up afresh: upload an archive (or pick one already
//! in the backup folder), give its passphrase if it is encrypted, and watch it restore. The same
//! code as the backups page (`backup::restoring`); once the restored data has a department,
//! setup is over and everyone signs in with the backup's accounts.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;

use super::api::SetupToken;
use crate::backup::manage::{self, BackupEntry};
use crate::backup::pages::{RestoreFragment, restore_progress_response, restore_view, run_cookie};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Chrome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/setup/restore", get(show).post(start))
        .route("/setup/restore/progress", get(progress))
}

pub struct Choice {
    file: String,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "setup/restore.html")]
struct RestorePage {
    chrome: Chrome,
    backups: Vec<Choice>,
    dir: String,
    error: Option<String>,
    passphrase_error: Option<String>,
    upload_js: String,
}

fn choice(b: BackupEntry, chosen: &str) -> Choice {
    let what = if b.needs_passphrase {
        "encrypted".to_string()
    } else if let (Some(at), Some(rows)) = (b.created_at, b.rows) {
        format!("made {}, {rows} rows", at.format("%Y-%m-%d %H:%M UTC"))
    } else if b.problem.is_some() {
        "damaged".to_string()
    } else {
        "not checked yet".to_string()
    };
    Choice {
        checked: b.file == chosen,
        label: format!("{} ({what})", b.file),
        file: b.file,
    }
}

async fn page(
    state: &AppState,
    token: &SetupToken,
    status: StatusCode,
    chosen: &str,
    error: Option<String>,
    passphrase_error: Option<String>,
) -> Response {
    let backups = match manage::wizard_list(state, token).await {
        Ok(list) => list
            .into_iter()
            .filter(|b| b.problem.is_none())
            .map(|b| choice(b, chosen))
            .collect(),
        Err(e) => return web::page_error(e),
    };
    let page = RestorePage {
        chrome: Chrome::anonymous(),
        backups,
        dir: manage::backup_dir(state).display().to_string(),
        error,
        passphrase_error,
        upload_js: web::asset_url("upload.js"),
    };
    (status, web::render(&page)).into_response()
}

/// The token (from the wizard's cookie), or the response to send instead.
async fn token(
    state: &AppState,
    addr: SocketAddr,
    jar: &CookieJar,
) -> Result<SetupToken, Response> {
    super::pages::enter(state, addr, jar).await?;
    Ok(SetupToken { ip: addr.ip() })
}

async fn show(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
) -> Response {
    match token(&state, addr, &jar).await {
        Ok(t) => page(&state, &t, StatusCode::OK, "", None, None).await,
        Err(response) => response,
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct RestoreForm {
    /// Just uploaded (filled in by the page's script).
    #[serde(default)]
    uploaded: String,
    /// Chosen from the backups already in the folder.
    #[serde(default)]
    file: String,
    #[serde(default)]
    passphrase: String,
}

async fn start(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    axum::Form(form): axum::Form<RestoreForm>,
) -> Response {
    let t = match token(&state, addr, &jar).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let file = if form.uploaded.is_empty() {
        form.file
    } else {
        form.uploaded
    };
    if file.is_empty() {
        return page(
            &state,
            &t,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            Some("Choose a backup file to upload, or one already on this server.".into()),
            None,
        )
        .await;
    }
    let passphrase = Some(form.passphrase).filter(|p| !p.is_empty());
    match manage::wizard_restore(&state, &t, &file, passphrase).await {
        Ok(run) => {
            let jar = jar.add(run_cookie(
                run.run_token.as_deref().unwrap_or_default(),
                state.config.secure_cookies,
            ));
            (jar, Redirect::to("/setup/restore/progress")).into_response()
        }
        Err(AppError::Validation(fields)) => {
            let message = fields
                .iter()
                .map(|f| web::sentence(&f.message))
                .collect::<Vec<_>>()
                .join(" ");
            page(
                &state,
                &t,
                StatusCode::UNPROCESSABLE_ENTITY,
                &file,
                None,
                Some(message),
            )
            .await
        }
        Err(e @ (AppError::NotFound | AppError::BadRequest(_))) => {
            let _ = e;
            page(
                &state,
                &t,
                StatusCode::NOT_FOUND,
                "",
                Some("That backup is not in the backup folder any more; upload it again.".into()),
                None,
            )
            .await
        }
        Err(e @ (AppError::Conflict(_) | AppError::Rejected(..))) => {
            page(&state, &t, e.status(), &file, Some(web::refusal(&e)), None).await
        }
        Err(e) => web::page_error(e),
    }
}

/// The restore's progress: for the run's cookie (which still works once setup is over), or the
/// setup token while setup is pending.
async fn progress(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Response {
    let by_secret = match crate::backup::api::run_secret(&headers) {
        Some(secret) => match crate::backup::restoring::by_secret(&state, &secret).await {
            Ok(run) => run,
            Err(e) => return web::page_error(e),
        },
        None => None,
    };
    let run = match by_secret {
        Some(run) => run,
        None => {
            if let Err(response) = token(&state, addr, &jar).await {
                return response;
            }
            match crate::backup::restoring::last(&state).await {
                Ok(run) => run,
                Err(e) => return web::page_error(e),
            }
        }
    };
    restore_progress_response(
        &headers,
        Chrome::anonymous(),
        RestoreFragment {
            run: restore_view(&run),
            poll: "/setup/restore/progress".into(),
            back: "/setup/restore".into(),
        },
    )
}
