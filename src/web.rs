//! The HTML face: embedded static assets, rendering, the signed-in viewer extractor (which sends
//! a visitor to the sign-in page and back), error pages, and what every page module shares:
//! navigation, times in the organization's zone, links and paging, messages, form fields.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use crate::auth::{Ctx, SessionCtx};
use crate::error::{AppError, FieldError};
use crate::module::NavEntry;
use crate::state::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/static/"]
struct Assets;

/// `/static/<path>?v=<content hash>`: asset URLs change the moment the file does, so the
/// files can be cached for a year.
pub fn asset_url(path: &str) -> String {
    let version = Assets::get(path)
        .map(|f| hex::encode(&f.metadata.sha256_hash()[..6]))
        .unwrap_or_else(|| "0".into());
    format!("/static/{path}?v={version}")
}

/// Serves an embedded file, the precompressed `.gz` copy when the browser takes gzip.
pub async fn static_file(Path(path): Path<String>, headers: axum::http::HeaderMap) -> Response {
    if path.ends_with(".gz") {
        return page_error(AppError::NotFound);
    }
    let Some(file) = Assets::get(&path) else {
        return page_error(AppError::NotFound);
    };
    let takes_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let gzipped = if takes_gzip {
        Assets::get(&format!("{path}.gz"))
    } else {
        None
    };
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let encoded = gzipped.is_some();
    let body = gzipped.unwrap_or(file).data.into_owned();
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if encoded {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}

/// What every page's frame needs: asset URLs, who is signed in, and the navigation that the
/// viewer's permissions allow (the platform's entries and each module's `Module::nav`).
pub struct Chrome {
    pub css: String,
    pub htmx: String,
    pub viewer_name: Option<String>,
    pub nav: Vec<NavItem>,
    /// Unread in-app notifications: the badge on the "Notifications" entry (0 when signed out).
    pub unread: u64,
}

pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

impl Chrome {
    pub fn anonymous() -> Self {
        Chrome {
            css: asset_url("app.css"),
            htmx: asset_url("vendor/htmx.min.js"),
            viewer_name: None,
            nav: Vec::new(),
            unread: 0,
        }
    }

    /// `current` is the href of the section the page belongs to.
    pub fn for_viewer(ctx: &Ctx, current: &str) -> Self {
        let modules = crate::module::installed().iter().flat_map(|m| m.nav);
        let mut entries: Vec<&NavEntry> = PLATFORM_NAV.iter().chain(modules).collect();
        entries.sort_by_key(|e| e.order);
        let nav = nav_items(
            entries
                .into_iter()
                .filter(|e| e.needs.iter().all(|p| ctx.has(p)))
                .map(|e| (e.label, e.href)),
            current,
        );
        Chrome {
            viewer_name: Some(ctx.username.clone()),
            nav,
            unread: ctx.unread,
            ..Chrome::anonymous()
        }
    }
}

/// The platform's entries of the header's navigation; the modules' go between them by `order`.
/// The layout puts the unread count on the "/notifications" entry.
const PLATFORM_NAV: &[NavEntry] = {
    use crate::auth::permissions::{AUDIT_VIEW, MEMBERS_VIEW, ROLES_MANAGE, SETTINGS_MANAGE};
    const fn entry(
        label: &'static str,
        href: &'static str,
        needs: &'static [&'static str],
        order: u16,
    ) -> NavEntry {
        NavEntry {
            label,
            href,
            needs,
            order,
        }
    }
    &[
        entry("Members", "/members", &[MEMBERS_VIEW], 20),
        entry("Roles", "/roles", &[ROLES_MANAGE, MEMBERS_VIEW], 40),
        entry("Audit log", "/audit", &[AUDIT_VIEW], 80),
        entry("Security alerts", "/security-alerts", &[AUDIT_VIEW], 81),
        entry("Settings", "/settings/email", &[SETTINGS_MANAGE], 90),
        entry("Notifications", "/notifications", &[], 95),
        entry("Account", "/account", &[], 99),
    ]
};

/// Navigation entries (label, href); `current` is the href of the page's section.
fn nav_items(
    entries: impl IntoIterator<Item = (&'static str, &'static str)>,
    current: &str,
) -> Vec<NavItem> {
    entries
        .into_iter()
        .map(|(label, href)| NavItem {
            label,
            href,
            current: href == current,
        })
        .collect()
}

/// The href of the header entry the settings pages belong to.
pub const SETTINGS: &str = "/settings/email";

/// The settings area's sub-navigation (`settings_nav.html`); `current` is the href of the page's
/// section.
pub fn settings_nav(current: &str) -> Vec<NavItem> {
    nav_items(
        [
            ("Email", "/settings/email"),
            ("Outbox", "/settings/email/outbox"),
            ("Jobs", "/settings/jobs"),
            ("Status", "/settings/status"),
            ("HTTPS", "/settings/https"),
            ("Backups", "/settings/backups"),
            ("Notification defaults", "/settings/notifications"),
            ("Your notifications", "/account/notifications"),
        ],
        current,
    )
}

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
    let status = err.status();
    let problem = err.to_problem();
    let page = ErrorPage {
        chrome: Chrome::anonymous(),
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

/// `t` in `tz` to the minute, with the zone: "2026-11-25 14:05 CST".
pub fn local_time(tz: chrono_tz::Tz, t: &DateTime<Utc>) -> LocalTime {
    local_time_as(tz, t, "%Y-%m-%d %H:%M %Z")
}

/// `t` in `tz`, written as `format` (chrono's `strftime` syntax) has it.
pub fn local_time_as(tz: chrono_tz::Tz, t: &DateTime<Utc>, format: &str) -> LocalTime {
    LocalTime {
        text: t.with_timezone(&tz).format(format).to_string(),
        iso: t.to_rfc3339(),
    }
}

// ---------------------------------------------------------------------------------------------
// Links and paging

/// `path?key=value&…` with the pairs whose value is not empty, values percent-encoded; just
/// `path` when every value is empty.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// A page number from a query string: anything but a whole number from 1 is page 1.
pub fn page_number(raw: Option<&str>) -> u32 {
    raw.and_then(|p| p.trim().parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

/// Where a paged list stands: the page, how many there are, and the pages before and after.
pub struct Pager {
    pub page: u32,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` of `total` items, `per_page` to a page; `link` is a page's address. From past
    /// the end, "previous" is the last page.
    pub fn new(page: u32, total: u64, per_page: u32, link: impl Fn(u32) -> String) -> Pager {
        let pages = total.div_ceil(u64::from(per_page)).max(1);
        Pager {
            page,
            pages,
            prev: (page > 1).then(|| link(u64::from(page - 1).min(pages) as u32)),
            next: (u64::from(page) < pages).then(|| link(page + 1)),
        }
    }

    /// The first of one page, with nothing before or after.
    pub fn first() -> Pager {
        Pager {
            page: 1,
            pages: 1,
            prev: None,
            next: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

/// A message beside a field: "is required" beside First name reads "First name is required.";
/// a message that does not start with a verb is only capitalised.
pub fn field_sentence(label: &str, message: &str) -> String {
    let m = message.trim_end_matches('.');
    let starts_with_verb = ["is ", "must ", "has ", "cannot ", "may ", "should "]
        .iter()
        .any(|p| m.starts_with(p));
    if starts_with_verb {
        format!("{label} {m}.")
    } else {
        sentence(m)
    }
}

/// The message of a refusal that is not about one field: every message of a validation error,
/// otherwise the problem's detail.
pub fn refusal(err: &AppError) -> String {
    match err {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| sentence(&e.message))
            .collect::<Vec<_>>()
            .join(" "),
        other => sentence(&other.to_problem().detail),
    }
}

// ---------------------------------------------------------------------------------------------
// Form fields

/// One input of a form, with its label, hint and error (`field.html`).
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub required: bool,
    pub autocomplete: &'static str,
    /// Empty: none.
    pub placeholder: String,
    pub hint: &'static str,
    pub error: Option<String>,
}

/// name, label, input type, required, autocomplete, hint
pub type FieldSpec = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    &'static str,
);

/// The fields for `specs`: each with its value from `value` (a password input never gets one)
/// and its error from `errors` (keyed by name, as `field_errors` makes them).
pub fn fields(
    specs: &[FieldSpec],
    value: impl Fn(&str) -> String,
    errors: &HashMap<String, String>,
) -> Vec<Field> {
    specs
        .iter()
        .map(|&(name, label, kind, required, autocomplete, hint)| Field {
            name,
            label,
            kind,
            value: if kind == "password" {
                String::new()
            } else {
                value(name)
            },
            required,
            autocomplete,
            placeholder: String::new(),
            hint,
            error: errors.get(name).cloned(),
        })
        .collect()
}

/// The label of the field `name` in any of `specs`.
pub fn spec_label(specs: &[&[FieldSpec]], name: &str) -> Option<&'static str> {
    specs
        .iter()
        .flat_map(|s| s.iter())
        .find(|s| s.0 == name)
        .map(|s| s.1)
}

/// Field errors as sentences keyed by field, several for one field joined ("First name is
/// required."). `label` names the form's fields; errors about any other field come back apart,
/// as they are.
pub fn field_errors(
    errors: Vec<FieldError>,
    label: impl Fn(&str) -> Option<&'static str>,
) -> (HashMap<String, String>, Vec<FieldError>) {
    let mut by_field: HashMap<String, String> = HashMap::new();
    let mut other = Vec::new();
    for e in errors {
        match label(&e.field) {
            Some(label) => {
                let text = field_sentence(label.trim_end_matches(" (optional)"), &e.message);
                by_field
                    .entry(e.field)
                    .and_modify(|t| {
                        t.push(' ');
                        t.push_str(&text)
                    })
                    .or_insert(text);
            }
            None => other.push(e),
        }
    }
    (by_field, other)
}

// ---------------------------------------------------------------------------------------------
// The viewer

/// A signed-in member on a page. Not signed in: to the sign-in page (and back afterwards).
/// Still holding a temporary password: to the change-password page.
pub struct Viewer(pub Ctx);

/// Like `Viewer`, but also admits a member who must still change their password.
pub struct PendingViewer(pub Ctx);

impl FromRequestParts<AppState> for PendingViewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match SessionCtx::from_request_parts(parts, state).await {
            Ok(SessionCtx(ctx)) => Ok(PendingViewer(ctx)),
            Err(AppError::Unauthorized(_)) => Err(login_redirect(parts)),
            Err(other) => Err(page_error(other)),
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let PendingViewer(ctx) = PendingViewer::from_request_parts(parts, state).await?;
        if ctx.must_change_password {
            return Err(Redirect::to("/account/password").into_response());
        }
        if ctx.two_factor_due {
            return Err(Redirect::to("/account/two-factor").into_response());
        }
        Ok(Viewer(ctx))
    }
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
        let chicago = crate::time::zone("America/Chicago");
        let shown = local_time(chicago, &t);
        assert_eq!(shown.text, "2026-01-15 12:30 CST");
        assert_eq!(shown.iso, "2026-01-15T18:30:45+00:00");
        assert_eq!(
            local_time_as(chicago, &t, "%Y-%m-%d %H:%M:%S %Z").text,
            "2026-01-15 12:30:45 CST"
        );
        assert_eq!(
            local_time(crate::time::zone("Nowhere"), &t).text,
            "2026-01-15 18:30 UTC"
        );
    }
}
