//! Files members upload and download (event attachments, documents): the kind read from the
//! file's own bytes (never from its name or the request's header), names cleaned before they are
//! kept or sent back, a body streamed to a temporary file (never held in memory) and removed if
//! the upload stops short, and a download streamed from disk as an attachment, checked against
//! the digest kept when it was stored.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{AppError, AppResult};

/// The kinds accepted, as the type the bytes show.
const KINDS: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
];

/// What the refusal of an unknown kind says.
pub const KINDS_SENTENCE: &str = "must be a PDF, a picture (PNG, JPEG, GIF, WebP), a Word, Excel, \
                                  PowerPoint or OpenDocument file, or plain text";

/// How many leading bytes the kind is read from.
const HEAD: usize = 8192;

/// The file's type from its bytes: one of `KINDS`, or plain text (valid UTF-8 without NUL or
/// other control bytes but tab and line ends); None for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let mut s = Sniffer::default();
    s.feed(bytes);
    s.finish()
}

/// `sniff` over a file that arrives in pieces: the kind from the first bytes, and for plain
/// text every piece checked as it comes (a text file with a program's bytes further in is not
/// text).
#[derive(Default)]
pub struct Sniffer {
    head: Vec<u8>,
    /// Decided from the head: a binary kind, or None while it may still be text.
    kind: Option<&'static str>,
    decided: bool,
    /// Still plain text so far.
    text: bool,
    /// The bytes of a character cut by a piece's end.
    carry: Vec<u8>,
    seen: u64,
}

impl Sniffer {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.seen == 0 {
            self.text = true;
        }
        self.seen += chunk.len() as u64;
        if !self.decided {
            let room = HEAD - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if self.head.len() >= HEAD {
                self.decide();
            }
        }
        if self.text && (!self.decided || self.kind.is_none()) {
            self.check_text(chunk);
        }
    }

    fn decide(&mut self) {
        self.decided = true;
        self.kind = infer::get(&self.head).and_then(|kind| {
            KINDS
                .iter()
                .find(|mime| **mime == kind.mime_type())
                .copied()
        });
        if infer::get(&self.head).is_some() {
            self.text = false;
        }
    }

    fn check_text(&mut self, chunk: &[u8]) {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&bytes) {
            Ok(s) => s,
            // A character cut at the piece's end: kept for the next piece.
            Err(e) if e.error_len().is_none() => {
                let (ok, rest) = bytes.split_at(e.valid_up_to());
                self.carry = rest.to_vec();
                std::str::from_utf8(ok).unwrap_or_default()
            }
            Err(_) => {
                self.text = false;
                return;
            }
        };
        if valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            self.text = false;
        }
    }

    /// The kind, once every piece is in.
    pub fn finish(mut self) -> Option<&'static str> {
        if !self.decided {
            self.decide();
        }
        if let Some(kind) = self.kind {
            return Some(kind);
        }
        (self.seen > 0 && self.text && self.carry.is_empty()).then_some("text/plain")
    }
}

/// A file name fit to keep and to send back: the last part of any path, control characters,
/// quotes and separators dropped, at most 150 characters; empty is refused.
pub fn clean_name(raw: &str) -> AppResult<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '"' | '\'' | ';' | '<' | '>' | '|' | '*' | '?' | ':')
        })
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(150)
        .collect();
    if cleaned.is_empty() {
        return Err(AppError::field("name", "must be the file's name"));
    }
    Ok(cleaned)
}

/// A file received and checked, still under its temporary name: `keep` moves it to where it
/// belongs; dropped without that, it is removed.
#[derive(Debug)]
pub struct Received {
    tmp: Option<PathBuf>,
    pub size: u64,
    pub sha256: Vec<u8>,
    pub content_type: &'static str,
}

impl Received {
    /// Moves the file to `path` (mode 0600 already), syncing the directory.
    pub fn keep(mut self, path: &Path) -> AppResult<()> {
        let Some(tmp) = self.tmp.take() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "the upload was kept twice"
            )));
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(
                anyhow::anyhow!("cannot move the upload to {}: {e}", path.display()).into(),
            );
        }
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            remove_quietly(&tmp);
        }
    }
}

/// Commits a change that wrote a file, removing the file if the commit fails: no file is left
/// that no row names.
pub async fn commit_or_remove(tx: crate::db::Tx<'_>, path: &Path) -> AppResult<()> {
    if let Err(e) = tx.commit().await {
        remove_quietly(path);
        return Err(e.into());
    }
    Ok(())
}

/// Removes a file that may not be there.
pub fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a file");
    }
}

/// The temporary file of an upload in progress, removed unless it is handed on.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            remove_quietly(&path);
        }
    }
}

fn too_big(max: u64) -> AppError {
    AppError::Rejected(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than {}",
            crate::system::status::bytes(max)
        ),
    )
}

/// Streams `body` into a temporary file in `dir` (named `.upload-<id>.tmp`, which backups skip),
/// at most `max` bytes (a declared length above it is refused before anything is read), hashing
/// it and reading its kind as it comes. An empty file, one of a kind not accepted, or a body cut
/// short leaves nothing behind.
pub async fn receive(
    dir: &Path,
    body: Body,
    declared: Option<u64>,
    max: u64,
) -> AppResult<Received> {
    if declared.is_some_and(|d| d > max) {
        return Err(too_big(max));
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".upload-{}.tmp", uuid::Uuid::now_v7().simple()));
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", tmp.display()))?
    };
    let mut partial = Partial(Some(tmp.clone()));
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut sniffer = Sniffer::default();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("the upload stopped before the end: {e}")))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(too_big(max));
        }
        hasher.update(&chunk);
        sniffer.feed(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    }
    out.flush()
        .await
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| anyhow::anyhow!("writing {} to disk: {e}", tmp.display()))?;
    if size == 0 {
        return Err(AppError::field("file", "is empty"));
    }
    if declared.is_some_and(|d| d != size) {
        return Err(AppError::BadRequest(
            "the upload stopped before the end".into(),
        ));
    }
    let Some(content_type) = sniffer.finish() else {
        return Err(AppError::field("file", KINDS_SENTENCE));
    };
    partial.0 = None;
    Ok(Received {
        tmp: Some(tmp),
        size,
        sha256: hasher.finalize().to_vec(),
        content_type,
    })
}

/// `Content-Disposition: attachment` with the name as ASCII and as UTF-8.
pub fn disposition(file_name: &str) -> Option<HeaderValue> {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        crate::web::url_encode(file_name)
    )
    .parse()
    .ok()
}

/// The headers of every download: its sniffed type, never shown inline, never sniffed again.
fn download_headers(response: &mut Response, file_name: &str, content_type: &str, size: u64) {
    let headers = response.headers_mut();
    if let Ok(v) = content_type.parse() {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = disposition(file_name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
}

/// A stored file as a download, streamed from disk in pieces. The digest kept when it was
/// stored is checked as it goes: a file changed on disk ends the download with an error (the
/// client sees it cut short) instead of handing out different bytes.
pub async fn download(
    path: &Path,
    file_name: &str,
    content_type: &str,
    size: u64,
    sha256: Vec<u8>,
) -> AppResult<Response> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "stored file {} unreadable: {e}",
            path.display()
        ))
    })?;
    let shown = path.display().to_string();
    struct Reading {
        file: tokio::fs::File,
        hasher: Option<Sha256>,
        expected: Vec<u8>,
        path: String,
    }
    let stream = futures_util::stream::unfold(
        Reading {
            file,
            hasher: Some(Sha256::new()),
            expected: sha256,
            path: shown,
        },
        |mut r| async move {
            let hasher = r.hasher.as_mut()?;
            let mut buf = vec![0u8; 64 * 1024];
            match r.file.read(&mut buf).await {
                Ok(0) => {
                    let digest = r.hasher.take()?.finalize();
                    if digest.as_slice() == r.expected.as_slice() {
                        None
                    } else {
                        tracing::error!(path = %r.path, "a stored file does not match its digest");
                        Some((Err(std::io::Error::other("the stored file was changed")), r))
                    }
                }
                Ok(n) => {
                    buf.truncate(n);
                    hasher.update(&buf);
                    Some((Ok(axum::body::Bytes::from(buf)), r))
                }
                Err(e) => {
                    r.hasher = None;
                    Some((Err(e), r))
                }
            }
        },
    );
    let mut response = Body::from_stream(stream).into_response();
    download_headers(&mut response, file_name, content_type, size);
    Ok(response)
}

/// Bytes held in memory as a download, with the same headers.
pub fn bytes_download(bytes: Vec<u8>, file_name: &str, content_type: &str) -> Response {
    let size = bytes.len() as u64;
    let mut response = bytes.into_response();
    download_headers(&mut response, file_name, content_type, size);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_from_the_bytes() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            Some("application/pdf")
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(
            sniff(b"Bring gloves.\nMeet in the bay.\n"),
            Some("text/plain")
        );
        // A program is refused whatever it is called.
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0"), None);
        assert_eq!(sniff(b"text with a \0 NUL"), None);
        assert_eq!(sniff(b"\xff\xfe\xfd"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn text_is_checked_to_its_end_across_pieces() {
        // "é" cut between two pieces is still text.
        let mut s = Sniffer::default();
        s.feed(b"Caf\xc3");
        s.feed(b"\xa9 at nine\n");
        assert_eq!(s.finish(), Some("text/plain"));
        // A NUL far past the head is found.
        let mut s = Sniffer::default();
        s.feed(&[b'a'; 20_000]);
        s.feed(b"\0");
        assert_eq!(s.finish(), None);
        // A file that ends inside a character is not text.
        let mut s = Sniffer::default();
        s.feed(b"abc\xc3");
        assert_eq!(s.finish(), None);
        // A PDF's head decides, whatever follows.
        let mut s = Sniffer::default();
        s.feed(b"%PDF-1.4\n");
        s.feed(&[0u8; 10_000]);
        assert_eq!(s.finish(), Some("application/pdf"));
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("C:\\Users\\chief\\Map.pdf").unwrap(), "Map.pdf");
        assert_eq!(clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_name("a\"b;c\r\n.pdf").unwrap(), "abc.pdf");
        assert_eq!(clean_name(".hidden").unwrap(), "hidden");
        assert!(clean_name("  ").is_err());
        assert!(clean_name("dir/").is_err());
        assert_eq!(clean_name(&"x".repeat(400)).unwrap().len(), 150);
    }
}
