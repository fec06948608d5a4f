//! The HTML face: embedded static assets, rendering, the signed-in viewer extractor (which sends
//! a visitor to the sign-in page and back), and error pages.

use askama::Template;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::auth::{Ctx, SessionCtx};
use crate::error::AppError;

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
/// viewer's permissions allow (a module adds its entry here).
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
        use crate::auth::permissions::{AUDIT_VIEW, MEMBERS_VIEW, ROLES_MANAGE, SETTINGS_MANAGE};
        // Each entry with every permission its page needs (none: every member). The layout puts
        // the unread count on the "/notifications" entry.
        let entries: [(&'static str, &'static str, &[&str]); 9] = [
            ("Dashboard", "/", &[]),
            ("Announcements", "/announcements", &[]),
            ("Members", "/members", &[MEMBERS_VIEW]),
            ("Roles", "/roles", &[ROLES_MANAGE, MEMBERS_VIEW]),
            ("Audit log", "/audit", &[AUDIT_VIEW]),
            ("Security alerts", "/security-alerts", &[AUDIT_VIEW]),
            ("Settings", "/settings/email", &[SETTINGS_MANAGE]),
            ("Notifications", "/notifications", &[]),
            ("Account", "/account", &[]),
        ];
        let nav = entries
            .into_iter()
            .filter(|(_, _, needs)| needs.iter().all(|p| ctx.has(p)))
            .map(|(label, href, _)| NavItem {
                label,
                href,
                current: href == current,
            })
            .collect();
        Chrome {
            viewer_name: Some(ctx.username.clone()),
            nav,
            unread: ctx.unread,
            ..Chrome::anonymous()
        }
    }
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
    (status, Html(body)).into_response()
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
}
