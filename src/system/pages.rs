//! `/settings/status` (`settings.manage`, checked in `status`): the box at a glance, in words
//! and units a chief reads on a phone, with what needs attention marked.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::status::{self, DiskSpace, Storage, SystemStatus};
use crate::app::AppState;
use crate::jobs::Registry;
use crate::jobs::runner::JobRun;
use crate::web::{self, Chrome, LocalTime, NavItem, PageResult, SETTINGS, Viewer};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/status", get(show))
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
    let tz = web::time_zone(&ctx.timezone);
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
    tz: chrono_tz::Tz,
) -> Option<(String, LocalTime)> {
    let s = seconds?;
    let start = *now - chrono::Duration::seconds(i64::try_from(s).ok()?);
    Some((duration(s), web::local_time(tz, &start)))
}

fn uptime_fact(now: &DateTime<Utc>, seconds: Option<u64>, tz: chrono_tz::Tz) -> Fact {
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

fn view(s: SystemStatus, tz: chrono_tz::Tz, jobs: &Registry) -> StatusView {
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
        collected: web::local_time_as(tz, &now, "%Y-%m-%d %H:%M:%S %Z"),
        timezone: tz.name().to_string(),
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
        cert_mode: s.certificate.mode.clone().unwrap_or_default(),
        cert_subject: s.certificate.subject.clone().unwrap_or_default(),
        cert_expiry,
        runs: s
            .recent_job_runs
            .into_iter()
            .map(|r| run_row(r, tz, jobs))
            .collect(),
    }
}

fn run_row(r: JobRun, tz: chrono_tz::Tz, jobs: &Registry) -> RunRow {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_troubled_box_shows_what_needs_attention() {
        let s = super::super::status::troubled_example();
        let html = StatusPage {
            chrome: Chrome::anonymous(),
            settings_nav: web::settings_nav("/settings/status"),
            s: view(s, chrono_tz::America::Chicago, &Registry::default()),
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
