//! `/settings/status` (`settings.manage`, checked in `status`): the box at a glance, in words
//! and units a chief reads on a phone, with what needs attention marked. `/settings/https`
//! (`settings.manage`, checked in `certificate`): the certificate served, uploading one's own,
//! and going back to the generated one (asking first). Plain forms, post-redirect-get.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::certificate::{self, CertificateUpload, HttpsSettings};
use super::status::{self, DiskSpace, Storage, SystemStatus};
use crate::auth::Ctx;
use crate::error::AppError;
use crate::jobs::Registry;
use crate::jobs::runner::JobRun;
use crate::state::AppState;
use crate::system::tls::CertificateInfo;
use crate::web::{self, Chrome, LocalTime, NavItem, PageResult, SETTINGS, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/status", get(show))
        .route("/settings/https", get(https).post(upload))
        .route("/settings/https/remove", get(remove_confirm).post(remove))
}

/// A fact for the page; `warning` marks it (the word says what is wrong, not only the colour).
pub struct Fact {
    text: String,
    warning: Option<&'static str>,
}

impl Fact {
    fn plain(text: impl Into<String>) -> Self {
        Fact {
            text: text.into(),
            warning: None,
        }
    }

    fn flagged(text: impl Into<String>, warning: Option<&'static str>) -> Self {
        Fact {
            text: text.into(),
            warning,
        }
    }
}

pub struct RunRow {
    /// The job's page, for a job this server knows.
    link: Option<String>,
    title: String,
    outcome: String,
    started: LocalTime,
    finished: Option<LocalTime>,
    error: String,
}

pub struct StatusView {
    collected: LocalTime,
    timezone: String,
    warnings: Vec<String>,
    app_version: &'static str,
    host_name: String,
    addresses: Vec<String>,
    host_uptime: Fact,
    server_uptime: Fact,
    server_memory: Fact,
    load: Fact,
    temperature: Fact,
    memory: Fact,
    data_dir_path: String,
    data_dir_space: Fact,
    /// Each top-level folder of the data directory: its name and "3 files, 210 MiB".
    stored: Vec<(String, String)>,
    backup_configured: bool,
    backup_path: String,
    backup_space: Fact,
    db_version: String,
    db_size: String,
    migrations: Fact,
    cert_configured: bool,
    cert_mode: String,
    cert_subject: String,
    cert_expiry: Fact,
    runs: Vec<RunRow>,
}

#[derive(Template)]
#[template(path = "system/status.html")]
struct StatusPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    s: StatusView,
}

async fn show(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let status = status::collect(&state, &ctx).await?;
    let tz = ctx.local();
    Ok(web::render(&StatusPage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/status"),
        s: view(status, tz, &state.jobs),
    }))
}

/// "3 days 4 h", "2 h 5 min", "5 min", "40 s".
pub fn duration(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let days = |d| format!("{d} day{}", if d == 1 { "" } else { "s" });
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => days(d),
        (d, h, _) => format!("{} {h} h", days(d)),
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (u128::from(part) * 100 / u128::from(whole)) as u64
    }
}

fn since(
    now: &DateTime<Utc>,
    seconds: Option<u64>,
    tz: crate::time::Local,
) -> Option<(String, LocalTime)> {
    let s = seconds?;
    let start = *now - chrono::Duration::seconds(i64::try_from(s).ok()?);
    Some((duration(s), web::local_time(tz, &start)))
}

fn uptime_fact(now: &DateTime<Utc>, seconds: Option<u64>, tz: crate::time::Local) -> Fact {
    match since(now, seconds, tz) {
        Some((d, start)) => Fact::plain(format!("{d} (since {})", start.text)),
        None => Fact::plain("Unknown"),
    }
}

fn space_fact(space: Option<&DiskSpace>) -> Fact {
    match space {
        Some(s) => Fact::flagged(
            format!(
                "{} free of {} ({} %) on {}",
                status::bytes(s.free_bytes),
                status::bytes(s.total_bytes),
                percent(s.free_bytes, s.total_bytes),
                s.mount_point
            ),
            status::disk_low(s).then_some("Low"),
        ),
        None => Fact::plain("Unknown: no mounted filesystem found for it"),
    }
}

fn view(s: SystemStatus, tz: crate::time::Local, jobs: &Registry) -> StatusView {
    let now = s.collected_at;
    let h = &s.host;
    let mem = &h.memory;
    let backup = s.backup_target.storage.as_ref();
    let cert_expiry = match s.certificate.not_after {
        Some(end) => Fact::flagged(
            format!(
                "{} ({} days from now)",
                web::local_time(tz, &end).text,
                (end - now).num_days()
            ),
            s.warnings
                .iter()
                .any(|w| w.subject == "certificate")
                .then_some("Soon"),
        ),
        None => Fact::plain("Unknown"),
    };
    StatusView {
        collected: web::local_time_exact(tz, &now),
        timezone: tz.tz.name().to_string(),
        warnings: s
            .warnings
            .iter()
            .map(|w| web::sentence(&w.message))
            .collect(),
        app_version: s.app_version,
        host_name: h.host_name.clone().unwrap_or_else(|| "Unknown".into()),
        addresses: h
            .addresses
            .iter()
            .map(|a| format!("{} ({})", a.address, a.interface))
            .collect(),
        host_uptime: uptime_fact(&now, h.uptime_seconds, tz),
        server_uptime: uptime_fact(&now, s.server.uptime_seconds, tz),
        server_memory: Fact::plain(
            s.server
                .rss_bytes
                .map_or_else(|| "Unknown".into(), status::bytes),
        ),
        load: Fact::plain(match &h.load_average {
            Some(l) => format!(
                "{:.2} · {:.2} · {:.2} (1, 5 and 15 minutes; {} CPU{})",
                l.one,
                l.five,
                l.fifteen,
                h.cpu_count,
                if h.cpu_count == 1 { "" } else { "s" }
            ),
            None => format!("Unknown ({} CPUs)", h.cpu_count),
        }),
        temperature: match h.cpu_temperature_celsius {
            Some(t) => Fact::flagged(
                format!(
                    "{t:.1} °C ({})",
                    h.temperature_sensor.as_deref().unwrap_or("sensor")
                ),
                status::cpu_hot(t).then_some("Hot"),
            ),
            None => Fact::plain("No sensor"),
        },
        memory: Fact::flagged(
            format!(
                "{} available of {} ({} %); {} in use",
                status::bytes(mem.available_bytes),
                status::bytes(mem.total_bytes),
                percent(mem.available_bytes, mem.total_bytes),
                status::bytes(mem.used_bytes)
            ),
            status::memory_low(mem).then_some("Low"),
        ),
        data_dir_path: s.data_dir.path.clone(),
        data_dir_space: space_fact(s.data_dir.space.as_ref()),
        stored: s
            .stored_files
            .iter()
            .map(|f| {
                (
                    f.folder.clone(),
                    format!(
                        "{} file{}, {}",
                        f.files,
                        if f.files == 1 { "" } else { "s" },
                        status::bytes(f.bytes)
                    ),
                )
            })
            .collect(),
        backup_configured: s.backup_target.configured,
        backup_path: backup.map(|b: &Storage| b.path.clone()).unwrap_or_default(),
        backup_space: space_fact(backup.and_then(|b| b.space.as_ref())),
        db_version: s.database.version.clone(),
        db_size: status::bytes(s.database.size_bytes),
        migrations: Fact::flagged(
            format!(
                "{} of {} applied",
                s.database.migrations_applied, s.database.migrations_known
            ),
            (s.database.migrations_applied != s.database.migrations_known).then_some("Mismatch"),
        ),
        cert_configured: s.certificate.configured,
        cert_mode: match (
            s.certificate.mode.as_deref(),
            s.certificate.source.as_deref(),
        ) {
            (Some(mode), Some("uploaded")) => format!("{mode}, serving an uploaded certificate"),
            (mode, _) => mode.unwrap_or_default().to_string(),
        },
        cert_subject: s.certificate.subject.clone().unwrap_or_default(),
        cert_expiry,
        runs: s
            .recent_job_runs
            .into_iter()
            .map(|r| run_row(r, tz, jobs))
            .collect(),
    }
}

fn run_row(r: JobRun, tz: crate::time::Local, jobs: &Registry) -> RunRow {
    let def = jobs.get(&r.job);
    RunRow {
        link: def.map(|j| format!("/settings/jobs/{}", j.name)),
        title: def.map_or_else(|| r.job.clone(), |j| j.title.to_string()),
        started: web::local_time(tz, &r.started_at),
        finished: r.finished_at.map(|t| web::local_time(tz, &t)),
        error: r.error.unwrap_or_default(),
        outcome: r.outcome,
    }
}

// ---------------------------------------------------------------------------------------------
// HTTPS

/// A certificate as the HTTPS page shows it.
pub struct CertificateView {
    source: &'static str,
    fingerprint: String,
    names: String,
    valid_from: Option<LocalTime>,
    valid_until: Option<LocalTime>,
}

fn certificate_view(c: &CertificateInfo, tz: crate::time::Local) -> CertificateView {
    CertificateView {
        source: match c.source {
            "generated" => "Made by this server",
            "uploaded" => "Uploaded by an administrator",
            _ => "Files named in the server's configuration",
        },
        fingerprint: c.fingerprint.clone(),
        names: if c.names.is_empty() {
            "None listed".into()
        } else {
            c.names.join(", ")
        },
        valid_from: c.not_before.map(|t| web::local_time(tz, &t)),
        valid_until: c.not_after.map(|t| web::local_time(tz, &t)),
    }
}

#[derive(Template)]
#[template(path = "system/https.html")]
struct HttpsPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    /// `self-signed`, `files` or `off`.
    mode: &'static str,
    active: Option<CertificateView>,
    uploaded: Option<CertificateView>,
    /// Why the stored upload is not used.
    uploaded_problem: Option<String>,
    /// Whether the certificate served is the uploaded one.
    serving_uploaded: bool,
    has_uploaded: bool,
    can_upload: bool,
    /// What was just done.
    notice: Option<&'static str>,
    /// Refusals not about one field.
    errors: Vec<String>,
    /// The certificate as pasted, back in its field after a refusal (never the key).
    certificate: String,
    certificate_error: Option<String>,
    private_key_error: Option<String>,
}

fn https_page(ctx: &Ctx, s: &HttpsSettings) -> HttpsPage {
    let tz = ctx.local();
    let uploaded = s.uploaded.as_ref();
    HttpsPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/https"),
        mode: s.mode,
        active: s.active.as_ref().map(|c| certificate_view(c, tz)),
        uploaded: uploaded
            .and_then(|u| u.certificate.as_ref())
            .map(|c| certificate_view(c, tz)),
        uploaded_problem: uploaded
            .and_then(|u| u.problem.as_deref())
            .map(web::sentence),
        serving_uploaded: s.active.as_ref().is_some_and(|c| c.source == "uploaded"),
        has_uploaded: uploaded.is_some(),
        can_upload: s.can_upload,
        notice: None,
        errors: Vec::new(),
        certificate: String::new(),
        certificate_error: None,
        private_key_error: None,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn https(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let settings = certificate::read(&state, &ctx).await?;
    let mut page = https_page(&ctx, &settings);
    let done = query.ok().and_then(|Query(q)| q.done);
    page.notice = match (done.as_deref(), settings.active.is_some()) {
        (Some("uploaded"), true) => Some(
            "Certificate uploaded. New connections get it now; this page may still have come \
             over the old one until the browser reconnects.",
        ),
        (Some("uploaded"), false) => Some(
            "Certificate stored. HTTPS is off in this server's configuration; the certificate \
             is used once HTTPS is turned on.",
        ),
        (Some("removed"), true) => Some(
            "The uploaded certificate was removed. The server's own certificate is in use again.",
        ),
        (Some("removed"), false) => Some("The uploaded certificate was removed."),
        _ => None,
    };
    Ok(web::render(&page))
}

#[derive(Debug, Default, Deserialize)]
pub struct UploadForm {
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    private_key: String,
}

/// "is required" beside Certificate reads "Certificate is required."; every message of a
/// certificate check starts with its verb.
fn beside(label: &str, messages: &[String]) -> Option<String> {
    (!messages.is_empty()).then(|| {
        messages
            .iter()
            .map(|m| format!("{label} {}.", m.trim_end_matches('.')))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

async fn upload(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<UploadForm>,
) -> PageResult {
    let input = CertificateUpload {
        certificate_pem: form.certificate.clone(),
        private_key_pem: form.private_key,
    };
    let refusal = match certificate::upload(&state, &ctx, input).await {
        Ok(_) => return Ok(Redirect::to("/settings/https?done=uploaded").into_response()),
        Err(err @ (AppError::Validation(_) | AppError::Conflict(_))) => err,
        Err(other) => return Err(other.into()),
    };
    // Nothing was changed: the page as it is, with the reasons beside the fields.
    let settings = certificate::read(&state, &ctx).await?;
    let mut page = https_page(&ctx, &settings);
    page.certificate = form.certificate;
    let status = refusal.status();
    match refusal {
        AppError::Validation(errors) => {
            let of = |field: &str| {
                errors
                    .iter()
                    .filter(|e| e.field == field)
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
            };
            page.certificate_error = beside("Certificate", &of("certificate"));
            page.private_key_error = beside("Private key", &of("private_key"));
        }
        other => page.errors.push(web::refusal(&other)),
    }
    Ok((status, web::render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "system/https_remove.html")]
struct RemovePage {
    chrome: Chrome,
    /// Whether removing it changes the certificate served (back to the generated one).
    serving_uploaded: bool,
    uploaded: Option<CertificateView>,
}

/// Asks before going back to the generated certificate; with nothing to remove, back to the
/// HTTPS page.
async fn remove_confirm(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let settings = certificate::read(&state, &ctx).await?;
    let Some(stored) = &settings.uploaded else {
        return Ok(Redirect::to("/settings/https").into_response());
    };
    if !settings.can_upload {
        return Err(AppError::Conflict(
            "the certificate is set in the configuration file; change it there".into(),
        )
        .into());
    }
    let tz = ctx.local();
    Ok(web::render(&RemovePage {
        chrome: Chrome::for_viewer(&ctx, SETTINGS),
        serving_uploaded: settings
            .active
            .as_ref()
            .is_some_and(|c| c.source == "uploaded"),
        uploaded: stored.certificate.as_ref().map(|c| certificate_view(c, tz)),
    }))
}

async fn remove(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    match certificate::remove(&state, &ctx).await {
        Ok(_) => Ok(Redirect::to("/settings/https?done=removed").into_response()),
        // Already gone (a second click): the page shows how things stand.
        Err(AppError::NotFound) => Ok(Redirect::to("/settings/https").into_response()),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_troubled_box_shows_what_needs_attention() {
        let s = super::super::status::troubled_example();
        let html = StatusPage {
            chrome: Chrome::anonymous(),
            settings_nav: web::settings_nav("/settings/status"),
            s: view(
                s,
                crate::time::Local::new("America/Chicago", Default::default()),
                &Registry::default(),
            ),
        }
        .render()
        .unwrap();
        assert!(html.contains("Needs attention"), "{html}");
        assert!(!html.contains("Nothing needs attention"));
        for flag in [
            "Low</strong> 512 MiB free of 30 GiB (1 %) on /",
            "Hot</strong> 81.2 °C",
        ] {
            assert!(html.contains(flag), "{flag}: {html}");
        }
        assert!(
            html.contains("Low</strong> 307 MiB available of 4.0 GiB (7 %)"),
            "{html}"
        );
        assert!(html.contains("Mismatch</strong> 1 of 2 applied"), "{html}");
        assert!(html.contains("Soon</strong>"), "{html}");
        // The backup disk has room: not flagged.
        assert!(html.contains("<code>/media/usb/logbook</code><br>40 GiB free of 64 GiB (62 %)"));
        assert!(!html.contains("Not configured yet"));
        assert_eq!(html.matches("card alert-open").count(), 5, "{html}");
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(duration(40), "40 s");
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(7200), "2 h");
        assert_eq!(duration(7500), "2 h 5 min");
        assert_eq!(duration(86_400 + 60), "1 day");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59), "3 days 4 h");
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
    }
}
