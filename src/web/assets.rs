//! The static files (CSS, scripts, icons) embedded in the binary, served with a content hash in
//! their URL so that browsers may keep them for a year.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page_error;
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
