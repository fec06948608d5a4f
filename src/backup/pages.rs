//! `/settings/backups` (`settings.manage`, one organization on the host; checked in `manage`):
//! the backups made, "back up now" with live progress (htmx polls a fragment; without
//! JavaScript, reloading the page shows it), checking, downloading, and deleting after asking.
//! Plain forms, post-redirect-get.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::manage::{self, BackupEntry, BackupRun};
use super::restoring::{self, RestoreRun};
use crate::auth::Ctx;
use crate::error::AppError;
use crate::state::AppState;
use crate::system::status::bytes as human_bytes;
use crate::web::{self, Chrome, LocalTime, NavItem, PageResult, SETTINGS, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/backups", get(show).post(start))
        .route("/settings/backups/progress", get(progress))
        .route("/settings/backups/{file}/verify", post(verify))
        .route(
            "/settings/backups/{file}/delete",
            get(delete_confirm).post(delete),
        )
        .route(
            "/settings/backups/{file}/restore",
            get(restore_confirm).post(restore),
        )
        .route("/settings/backups/restore", get(restore_progress))
}

/// One backup, formatted for the page.
pub struct Row {
    file: String,
    /// The file name for a URL path.
    href: String,
    made: LocalTime,
    size: String,
    app_version: String,
    schema: String,
    checked: bool,
    verified: bool,
    restorable: bool,
    problem: String,
    rows: String,
    encrypted: bool,
    needs_passphrase: bool,
    uploaded: bool,
}

fn row(b: BackupEntry, tz: crate::time::Local) -> Row {
    Row {
        href: web::url_encode(&b.file),
        made: web::local_time(tz, &b.created_at.unwrap_or(b.modified)),
        size: human_bytes(b.bytes),
        app_version: b.app_version.unwrap_or_default(),
        schema: b.schema_version.map(|s| s.to_string()).unwrap_or_default(),
        checked: b.checked,
        verified: b.verified,
        restorable: b.restorable,
        problem: b.problem.map(|p| web::sentence(&p)).unwrap_or_default(),
        rows: b.rows.map(|r| r.to_string()).unwrap_or_default(),
        encrypted: b.encrypted,
        needs_passphrase: b.needs_passphrase,
        uploaded: b.uploaded,
        file: b.file,
    }
}

/// The running backup, or how the last one ended, for the progress fragment.
pub struct RunView {
    running: bool,
    stage: String,
    tables_done: u32,
    tables_total: u32,
    rows: u64,
    /// The file made, once it succeeded.
    made: String,
    error: String,
}

fn run_view(run: &BackupRun) -> Option<RunView> {
    run.started_at?;
    let p = run
        .progress
        .clone()
        .unwrap_or(super::service::ProgressView {
            stage: String::new(),
            tables_done: 0,
            tables_total: 0,
            rows: 0,
        });
    let stage = match p.stage.as_str() {
        "tables" => "Copying the tables",
        "files" => "Copying the files",
        "checking" => "Reading it back to check it",
        "done" => "Done",
        _ => "Starting",
    };
    Some(RunView {
        running: run.running,
        stage: stage.into(),
        tables_done: p.tables_done,
        tables_total: p.tables_total,
        rows: p.rows,
        made: run
            .result
            .as_ref()
            .map(|r| r.file.clone())
            .unwrap_or_default(),
        error: run.error.as_deref().map(web::sentence).unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "backups/list.html")]
struct ListPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    rows: Vec<Row>,
    run: Option<RunView>,
    notice: Option<String>,
    error: Option<String>,
    dir: String,
    encrypting: bool,
    upload_js: String,
}

#[derive(Template)]
#[template(path = "backups/progress.html")]
struct ProgressFragment {
    run: Option<RunView>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    file: String,
}

async fn list_page(state: &AppState, ctx: &Ctx) -> Result<ListPage, AppError> {
    let list = manage::list(state, ctx).await?;
    let run = manage::progress(state, ctx).await?;
    let tz = ctx.local();
    Ok(ListPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/backups"),
        rows: list.backups.into_iter().map(|b| row(b, tz)).collect(),
        run: run_view(&run),
        notice: None,
        error: None,
        dir: manage::backup_dir(state).display().to_string(),
        encrypting: list.encrypting,
        upload_js: web::asset_url("upload.js"),
    })
}

async fn show(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut page = list_page(&state, &ctx).await?;
    // "The last backup is done" only while that backup is still here.
    if page.run.as_ref().is_some_and(|r| {
        !r.running && r.error.is_empty() && !page.rows.iter().any(|row| row.file == r.made)
    }) {
        page.run = None;
    }
    // Only names from the list go into a message.
    let known = page.rows.iter().any(|r| r.file == q.file);
    page.notice = match q.done.as_str() {
        "started" => Some("The backup has started.".into()),
        "checked" if known => Some(format!("{} was read through and checks out.", q.file)),
        "deleted" => Some("The backup was deleted.".into()),
        "uploaded" if known => Some(format!(
            "{} was uploaded. “Restore” puts its data in place of the current data, after asking.",
            q.file
        )),
        _ => None,
    };
    Ok(web::render(&page))
}

async fn progress(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    headers: HeaderMap,
) -> PageResult {
    let run = manage::progress(&state, &ctx).await?;
    let view = run_view(&run);
    let mut res = web::render(&ProgressFragment { run: view });
    // Polled by htmx: once the backup has ended, the whole page again (the list has it now).
    if headers.contains_key("hx-request") && !run.running {
        res.headers_mut()
            .insert("hx-refresh", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// The page again with a refusal at the top.
async fn refused(state: &AppState, ctx: &Ctx, err: AppError) -> PageResult {
    let status = err.status();
    let mut page = list_page(state, ctx).await?;
    page.error = Some(web::refusal(&err));
    Ok((status, web::render(&page)).into_response())
}

async fn start(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    match manage::start(&state, &ctx).await {
        Ok(_) => Ok(Redirect::to("/settings/backups?done=started").into_response()),
        Err(err @ AppError::Conflict(_)) if manage::allowed(&state, &ctx).await.is_ok() => {
            refused(&state, &ctx, err).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn verify(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(file): Path<String>,
) -> PageResult {
    match manage::check(&state, &ctx, &file).await {
        Ok(b) => Ok(Redirect::to(&web::link(
            "/settings/backups",
            &[("done", "checked"), ("file", &b.file)],
        ))
        .into_response()),
        Err(err @ AppError::Rejected(StatusCode::UNPROCESSABLE_ENTITY, _)) => {
            refused(&state, &ctx, err).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "backups/delete.html")]
struct DeletePage {
    chrome: Chrome,
    row: Row,
}

async fn delete_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(file): Path<String>,
) -> PageResult {
    let list = manage::list(&state, &ctx).await?;
    // Only a name in the list (anything else: not found, nothing read).
    let found = list
        .backups
        .into_iter()
        .find(|b| b.file == file)
        .ok_or(AppError::NotFound)?;
    Ok(web::render(&DeletePage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        row: row(found, ctx.local()),
    }))
}

async fn delete(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(file): Path<String>,
) -> PageResult {
    match manage::delete(&state, &ctx, &file).await {
        Ok(()) => Ok(Redirect::to("/settings/backups?done=deleted").into_response()),
        // Already gone (a second click): the page shows how things stand.
        Err(AppError::NotFound) => Ok(Redirect::to("/settings/backups").into_response()),
        Err(err @ AppError::Conflict(_)) if manage::allowed(&state, &ctx).await.is_ok() => {
            refused(&state, &ctx, err).await
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Restoring

#[derive(Template)]
#[template(path = "backups/restore.html")]
struct RestorePage {
    chrome: Chrome,
    row: Row,
    /// Encrypted, and the server's passphrase does not open it.
    asks_passphrase: bool,
    passphrase_error: Option<String>,
    error: Option<String>,
}

async fn restore_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(file): Path<String>,
) -> PageResult {
    let (entry, asks_passphrase) = manage::restore_confirm(&state, &ctx, &file).await?;
    Ok(web::render(&RestorePage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        row: row(entry, ctx.local()),
        asks_passphrase,
        passphrase_error: None,
        error: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    passphrase: String,
}

/// The run's secret as a cookie, so that its progress page keeps working once the restore has
/// ended the session.
pub fn run_cookie(secret: &str, secure: bool) -> axum_extra::extract::cookie::Cookie<'static> {
    axum_extra::extract::cookie::Cookie::build((restoring::RUN_COOKIE, secret.to_string()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(axum_extra::extract::cookie::SameSite::Strict)
        .build()
}

async fn restore(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Path(file): Path<String>,
    jar: axum_extra::extract::CookieJar,
    axum::Form(form): axum::Form<RestoreForm>,
) -> PageResult {
    let passphrase = Some(form.passphrase).filter(|p| !p.is_empty());
    match manage::restore(&state, &ctx, &file, passphrase).await {
        Ok(run) => {
            let jar = jar.add(run_cookie(
                run.run_token.as_deref().unwrap_or_default(),
                state.config.secure_cookies,
            ));
            Ok((jar, Redirect::to("/settings/backups/restore")).into_response())
        }
        Err(err @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Rejected(..)))
            if manage::allowed(&state, &ctx).await.is_ok() =>
        {
            let status = err.status();
            let (entry, asks_passphrase) = manage::restore_confirm(&state, &ctx, &file).await?;
            let (passphrase_error, error) = match &err {
                AppError::Validation(fields) => (
                    fields
                        .iter()
                        .find(|f| f.field == "passphrase")
                        .map(|f| web::sentence(&f.message)),
                    None,
                ),
                other => (None, Some(web::refusal(other))),
            };
            let page = RestorePage {
                chrome: Chrome::for_viewer(&ctx, SETTINGS),
                row: row(entry, ctx.local()),
                asks_passphrase: asks_passphrase || passphrase_error.is_some(),
                passphrase_error,
                error,
            };
            Ok((status, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// A restore, formatted for its progress page.
pub struct RestoreView {
    pub running: bool,
    pub stage: String,
    pub tables_done: u32,
    pub tables_total: u32,
    pub rows: u64,
    pub file: String,
    pub error: String,
    pub done: bool,
    pub restored_rows: u64,
    pub restored_tables: usize,
    pub safety_backup: String,
    pub from_schema: i64,
    pub to_schema: i64,
    pub seconds: String,
    pub warning: String,
}

pub fn restore_view(run: &RestoreRun) -> Option<RestoreView> {
    run.started_at?;
    let p = run
        .progress
        .clone()
        .unwrap_or(super::service::ProgressView {
            stage: String::new(),
            tables_done: 0,
            tables_total: 0,
            rows: 0,
        });
    let stage = match p.stage.as_str() {
        "checking" => "Checking the backup",
        "safety backup" => "Making a safety backup of the current data",
        "loading" => "Loading the data from the backup",
        "comparing" => "Comparing every table with the backup",
        "swapping" => "Putting the restored data in place",
        "verifying the audit log" => "Verifying the audit log",
        "done" => "Done",
        "failed" => "Stopped",
        _ => "Starting",
    };
    let result = run.result.as_ref();
    Some(RestoreView {
        running: run.running,
        stage: stage.into(),
        tables_done: p.tables_done,
        tables_total: p.tables_total,
        rows: p.rows,
        file: run.file.clone(),
        error: run.error.as_deref().map(web::sentence).unwrap_or_default(),
        done: result.is_some(),
        restored_rows: result.map(|r| r.rows).unwrap_or_default(),
        restored_tables: result.map(|r| r.tables).unwrap_or_default(),
        safety_backup: result
            .and_then(|r| r.safety_backup.clone())
            .unwrap_or_default(),
        from_schema: result.map(|r| r.from_schema).unwrap_or_default(),
        to_schema: result.map(|r| r.to_schema).unwrap_or_default(),
        seconds: result
            .map(|r| format!("{:.0}", r.seconds.max(1.0)))
            .unwrap_or_default(),
        warning: result
            .and_then(|r| r.warning.as_deref())
            .map(web::sentence)
            .unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "backups/restore_progress.html")]
pub struct RestoreFragment {
    pub run: Option<RestoreView>,
    /// What the fragment polls.
    pub poll: String,
    /// Where a failed restore goes back to.
    pub back: String,
}

#[derive(Template)]
#[template(path = "backups/restore_run.html")]
struct RestoreRunPage {
    chrome: Chrome,
    run: Option<RestoreView>,
    poll: String,
    back: String,
}

/// The progress page, or (polled by htmx) its fragment, which stops polling once the restore
/// has ended.
pub fn restore_progress_response(
    headers: &HeaderMap,
    chrome: Chrome,
    fragment: RestoreFragment,
) -> axum::response::Response {
    if headers.contains_key("hx-request") {
        web::render(&fragment)
    } else {
        web::render(&RestoreRunPage {
            chrome,
            run: fragment.run,
            poll: fragment.poll,
            back: fragment.back,
        })
    }
}

async fn restore_progress(
    State(state): State<AppState>,
    ctx: Result<Ctx, AppError>,
    headers: HeaderMap,
) -> PageResult {
    let secret = super::api::run_secret(&headers);
    let run = match manage::restore_progress(&state, ctx.as_ref().ok(), secret.as_deref()).await {
        Ok(run) => run,
        Err(AppError::Unauthorized(_)) => {
            return Ok(Redirect::to("/login?next=/settings/backups/restore").into_response());
        }
        Err(other) => return Err(other.into()),
    };
    // Signed out by the restore: the page without the signed-in frame.
    let chrome = match &ctx {
        Ok(c) if manage::allowed(&state, c).await.is_ok() => Chrome::for_viewer(c, SETTINGS),
        _ => Chrome::anonymous(),
    };
    Ok(restore_progress_response(
        &headers,
        chrome,
        RestoreFragment {
            run: restore_view(&run),
            poll: "/settings/backups/restore".into(),
            back: "/settings/backups".into(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> BackupRun {
        BackupRun {
            running: true,
            started_at: Some(chrono::Utc::now()),
            finished_at: None,
            started_by: Some("chief".into()),
            progress: Some(super::super::service::ProgressView {
                stage: "tables".into(),
                tables_done: 3,
                tables_total: 40,
                rows: 1200,
            }),
            result: None,
            error: None,
        }
    }

    #[test]
    fn a_running_restore_polls_and_says_how_it_ended() {
        let mut run = RestoreRun::none();
        let fragment = |run: &RestoreRun| {
            RestoreFragment {
                run: restore_view(run),
                poll: "/setup/restore/progress".into(),
                back: "/setup/restore".into(),
            }
            .render()
            .unwrap()
        };
        assert!(fragment(&run).contains("No restore has run"));
        run.running = true;
        run.file = "uploaded-20261201-101500-0123abcd.lbk".into();
        run.started_at = Some(chrono::Utc::now());
        run.progress = Some(super::super::service::ProgressView {
            stage: "loading".into(),
            tables_done: 4,
            tables_total: 26,
            rows: 900,
        });
        let html = fragment(&run);
        assert!(
            html.contains(r#"hx-get="/setup/restore/progress" hx-trigger="every 1s""#),
            "{html}"
        );
        assert!(
            html.contains("Loading the data from the backup: 4 of 26 tables, 900 rows so far."),
            "{html}"
        );
        run.running = false;
        run.error = Some("the passphrase does not open this backup".into());
        let html = fragment(&run);
        assert!(!html.contains("hx-get"), "{html}");
        assert!(
            html.contains("The restore failed: The passphrase does not open this backup."),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/setup/restore">Back</a>"#),
            "{html}"
        );
        run.error = None;
        run.result = Some(restoring::RestoreResult {
            file: run.file.clone(),
            safety_backup: Some("logbook-20261201-101501-000-0123abcd.lbk".into()),
            tables: 26,
            rows: 1200,
            from_schema: 202611251700,
            to_schema: 202611252000,
            seconds: 3.2,
            encrypted: false,
            sessions_ended: 3,
            warning: None,
        });
        let html = fragment(&run);
        assert!(
            html.contains("1200 rows in 26 tables, brought from schema"),
            "{html}"
        );
        assert!(
            html.contains("logbook-20261201-101501-000-0123abcd.lbk"),
            "{html}"
        );
        assert!(html.contains(r#"href="/login?restored=1""#), "{html}");
    }

    #[test]
    fn a_running_backup_polls_and_a_finished_one_does_not() {
        let html = ProgressFragment {
            run: run_view(&running()),
        }
        .render()
        .unwrap();
        assert!(
            html.contains(r#"hx-get="/settings/backups/progress""#),
            "{html}"
        );
        assert!(html.contains(r#"hx-trigger="every 1s""#), "{html}");
        assert!(
            html.contains("Copying the tables: 3 of 40 tables, 1200 rows so far."),
            "{html}"
        );
        // Without JavaScript: a link to reload.
        assert!(html.contains(r#"<a href="/settings/backups">Reload the page</a>"#));

        let mut failed = running();
        failed.running = false;
        failed.error = Some("not enough free space in /x".into());
        let html = ProgressFragment {
            run: run_view(&failed),
        }
        .render()
        .unwrap();
        assert!(!html.contains("hx-get"), "{html}");
        assert!(
            html.contains("The last backup failed: Not enough free space in /x."),
            "{html}"
        );
        let html = ProgressFragment { run: None }.render().unwrap();
        assert!(!html.contains("hx-get"), "{html}");
    }
}
