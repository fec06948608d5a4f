//! The HTML face: embedded static assets, rendering, the signed-in viewer extractor (which sends
//! a visitor to the sign-in page and back), error pages, and what every page module shares:
//! navigation, times in the organization's zone, links and paging, messages, form fields.

use askama::Template;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use crate::error::AppError;

mod assets;
mod chrome;
mod forms;
mod paging;
mod viewer;

pub use assets::{asset_url, static_file};
pub use chrome::{Chrome, NavItem, SETTINGS, settings_nav};
pub use forms::*;
pub use paging::{Pager, link, page_number};
pub use viewer::{PathId, PathIds, PendingViewer, Viewer};

/// Renders a template, or an error page if rendering fails.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => page_error(AppError::Internal(anyhow::anyhow!("template: {e}"))),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    detail: String,
    reference: Option<String>,
}

/// The HTML face of an error: a friendly page with the status, and a reference id that is in the
/// log for server errors.
pub fn page_error(err: AppError) -> Response {
    page_error_for(None, err)
}

/// `page_error` in the signed-in member's frame (their navigation stays on the page).
pub fn page_error_for(viewer: Option<&crate::auth::Ctx>, err: AppError) -> Response {
    let status = err.status();
    let problem = err.to_problem();
    let page = ErrorPage {
        chrome: viewer.map_or_else(Chrome::anonymous, |ctx| Chrome::for_viewer(ctx, "")),
        title: problem.title,
        detail: problem.detail,
        reference: problem.reference,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| "Something went wrong.".to_string());
    let mut res = (status, Html(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}

/// An error from a page handler, rendered as HTML.
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        page_error(self.0)
    }
}

pub type PageResult = Result<Response, PageError>;

/// Where to go after signing in: only a path on this site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn login_redirect(parts: &Parts) -> Response {
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let encoded: String = url_encode(target);
    Redirect::to(&format!("/login?next={encoded}")).into_response()
}

/// A service message as a sentence for a page: "is required" → "Is required.".
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => {
            let mut out = f.to_uppercase().collect::<String>() + c.as_str();
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// Percent-encodes a path or query value (keeps `/`, which both allow).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Times in the organization's zone

/// A time for a page: shown in the organization's zone, machine-readable in UTC (for
/// `<time datetime="…">`).
pub struct LocalTime {
    pub text: String,
    pub iso: String,
}

/// `t` in the department's zone and style, to the minute, with the zone:
/// "11/25/2026 2:05 PM CST".
pub fn local_time(local: crate::time::Local, t: &DateTime<Utc>) -> LocalTime {
    LocalTime {
        text: local.moment(t),
        iso: t.to_rfc3339(),
    }
}

/// `t` as `local_time`, to the second (the audit log, the status page).
pub fn local_time_exact(local: crate::time::Local, t: &DateTime<Utc>) -> LocalTime {
    LocalTime {
        text: local.moment_exact(t),
        iso: t.to_rfc3339(),
    }
}

/// `t` in `tz`, written as `format` (chrono's `strftime` syntax) has it: for values a form
/// or a machine reads, not for people.
pub fn local_time_as(tz: chrono_tz::Tz, t: &DateTime<Utc>, format: &str) -> LocalTime {
    LocalTime {
        text: t.with_timezone(&tz).format(format).to_string(),
        iso: t.to_rfc3339(),
    }
}

/// A QR code of `text` as an inline SVG (item labels, event check-in).
pub fn qr_svg(text: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(96, 96)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/members?page=2")), "/members?page=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn links_and_pages() {
        assert_eq!(link("/a", &[("q", ""), ("page", "")]), "/a");
        assert_eq!(
            link("/a", &[("q", "x y"), ("page", "2")]),
            "/a?q=x%20y&page=2"
        );
        assert_eq!(page_number(Some(" 3 ")), 3);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("abc")), 1);
        assert_eq!(page_number(None), 1);
        let p = Pager::new(5, 30, 10, |n| n.to_string());
        assert_eq!((p.pages, p.prev, p.next), (3, Some("3".into()), None));
        let p = Pager::new(1, 0, 10, |n| n.to_string());
        assert_eq!((p.pages, p.prev, p.next), (1, None, None));
    }

    #[test]
    fn sentences() {
        assert_eq!(
            field_sentence("First name", "is required"),
            "First name is required."
        );
        assert_eq!(
            field_sentence("X", "a new member is active."),
            "A new member is active."
        );
        assert_eq!(url_encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn times_in_the_organizations_zone() {
        let t = "2026-01-15T18:30:45Z".parse::<DateTime<Utc>>().unwrap();
        let us = crate::time::Locale::default();
        let chicago = crate::time::Local::new("America/Chicago", us);
        let shown = local_time(chicago, &t);
        assert_eq!(shown.text, "01/15/2026 12:30 PM CST");
        assert_eq!(shown.iso, "2026-01-15T18:30:45+00:00");
        assert_eq!(
            local_time_exact(chicago, &t).text,
            "01/15/2026 12:30:45 PM CST"
        );
        assert_eq!(local_time_as(chicago.tz, &t, "%Y-%m-%d").text, "2026-01-15");
        assert_eq!(
            local_time(crate::time::Local::new("Nowhere", us), &t).text,
            "01/15/2026 6:30 PM UTC"
        );
    }
}
