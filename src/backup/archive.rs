//! The backup archive: one gzip-compressed tar file holding every table's rows (taken in one
//! consistent snapshot), the stored files of the data directory, and a manifest written last
//! with each table's row count and SHA-256, each file's size and SHA-256, the schema version and
//! each organization's audit chain head. Reading an archive back checks every one of them.
//!
//! Layout inside the tar:
//! - `tables/<table>/<n>.jsonl`: rows as JSON arrays of strings or null, one per line, in primary
//!   key order; binary columns as hex. A table's chunks are numbered from 1, each at most
//!   `CHUNK_BYTES`, so memory stays bounded whatever the table's size.
//! - `files/<path>`: files of the data directory (secrets, TLS material, documents).
//! - `manifest.json`: last, so that it can describe everything before it.
//!
//! An encrypted archive is the same gzip-compressed tar inside the age format with a passphrase
//! (scrypt): `age -d logbook-….lbk | tar -xz` opens it without Logbook. The file's first bytes
//! say which it is.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;
/// A table's rows are written in chunks of at most this many bytes.
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Manifest {
    pub format: u32,
    pub app_version: String,
    /// The newest migration applied to the database backed up.
    pub schema_version: i64,
    /// Every migration applied, oldest first.
    pub migrations: Vec<i64>,
    pub created_at: DateTime<Utc>,
    pub tables: Vec<TableEntry>,
    pub files: Vec<FileEntry>,
    pub audit_checkpoints: Vec<AuditCheckpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TableEntry {
    pub name: String,
    pub columns: Vec<ColumnEntry>,
    pub rows: u64,
    /// SHA-256 of the table's lines (each with its newline), in order, as lower-case hex.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ColumnEntry {
    pub name: String,
    /// Stored as hex (BINARY, VARBINARY, BLOB).
    pub binary: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FileEntry {
    /// Relative to the data directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// An organization's audit chain head when the snapshot was taken.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditCheckpoint {
    pub organization_id: Uuid,
    pub last_sequence: u64,
    pub last_hash: String,
}

/// What goes into the archive, in order; the writer thread takes them from a channel.
pub enum Part {
    /// One chunk of a table's lines.
    Rows {
        table: String,
        chunk: u32,
        bytes: Vec<u8>,
    },
    /// A file of the data directory, read from `source` as it is written (never held whole in
    /// memory); `bytes` is its size when it was hashed for the manifest.
    File {
        path: String,
        source: PathBuf,
        bytes: u64,
    },
    Manifest(Box<Manifest>),
}

fn hex_digest(h: Sha256) -> String {
    hex::encode(h.finalize())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How every age file begins.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// Whether the file at `path` is an encrypted archive (it begins as an age file does).
pub fn is_encrypted(path: &Path) -> std::io::Result<bool> {
    let mut start = [0u8; AGE_MAGIC.len()];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == start.len() && start == AGE_MAGIC)
}

/// Writes parts to `tmp` as they arrive (tar in gzip, inside age with `passphrase` when one is
/// given), then fsyncs it. Runs on a blocking thread; returns the number of bytes written.
pub fn write_parts(
    tmp: &Path,
    parts: tokio::sync::mpsc::Receiver<Part>,
    passphrase: Option<&str>,
) -> anyhow::Result<u64> {
    use std::os::unix::fs::OpenOptionsExt;
    // It holds every member's data and the server's secrets: the service's user only.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let out = std::io::BufWriter::new(file);
    let out = match passphrase {
        None => write_tar(out, parts)?,
        Some(p) => {
            let encryptor = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
                p.to_owned(),
            ));
            let sealed = encryptor
                .wrap_output(out)
                .context("starting the encryption")?;
            write_tar(sealed, parts)?
                .finish()
                .context("finishing the encryption")?
        }
    };
    let file = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing the archive: {}", e.error()))?;
    file.sync_all().context("writing the archive to disk")?;
    Ok(file.metadata()?.len())
}

/// The tar in gzip, written to `out` part by part; returns `out` when the manifest is in.
fn write_tar<W: std::io::Write>(
    out: W,
    mut parts: tokio::sync::mpsc::Receiver<Part>,
) -> anyhow::Result<W> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut saw_manifest = false;
    while let Some(part) = parts.blocking_recv() {
        if let Part::File {
            path,
            source,
            bytes,
        } = &part
        {
            let name = format!("files/{path}");
            let file = std::fs::File::open(source)
                .with_context(|| format!("cannot read {}", source.display()))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(*bytes);
            header.set_mode(0o600);
            header.set_mtime(0);
            header.set_cksum();
            // A file that changed size since it was hashed fails here, not in the manifest.
            tar.append_data(&mut header, &name, std::io::Read::take(file, *bytes))
                .with_context(|| format!("writing {name} to the archive"))?;
            continue;
        }
        let (path, bytes) = match part {
            Part::Rows {
                table,
                chunk,
                bytes,
            } => (format!("tables/{table}/{chunk:05}.jsonl"), bytes),
            Part::File { .. } => continue,
            Part::Manifest(m) => {
                saw_manifest = true;
                (MANIFEST.to_string(), serde_json::to_vec_pretty(&m)?)
            }
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, &path, bytes.as_slice())
            .with_context(|| format!("writing {path} to the archive"))?;
    }
    if !saw_manifest {
        bail!("the backup stopped before it was complete");
    }
    let gz = tar.into_inner().context("finishing the archive")?;
    gz.finish().context("finishing the compression")
}

/// What reading an archive found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub manifest: Manifest,
    pub bytes: u64,
}

/// Why an archive cannot be used, in words for the person holding it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the file is not a Logbook backup, or it is damaged: {0}")]
    Damaged(String),
    #[error("the backup is incomplete (the file was cut short or its end is missing)")]
    Truncated,
    #[error("the backup does not match its own manifest: {0}")]
    Mismatch(String),
    #[error("the backup was made by a newer format ({0}); update Logbook to read it")]
    NewerFormat(u32),
    #[error("the backup is encrypted: enter its passphrase (it is in the emergency kit)")]
    NeedsPassphrase,
    #[error("the passphrase does not open this backup")]
    WrongPassphrase,
}

/// Reads the whole archive at `path` (decrypting it with `passphrase` when it is encrypted) and
/// checks every table and file against the manifest. `visit` sees each table chunk and file as
/// it is read (restore uses it to load the data).
pub fn read_checked(
    path: &Path,
    passphrase: Option<&str>,
    visit: impl FnMut(&Entry<'_>) -> anyhow::Result<()>,
) -> Result<Checked, ReadError> {
    let open_error =
        |e: std::io::Error| ReadError::Io(anyhow::anyhow!("cannot open {}: {e}", path.display()));
    let encrypted = is_encrypted(path).map_err(open_error)?;
    let file = std::fs::File::open(path).map_err(open_error)?;
    let bytes = file
        .metadata()
        .map_err(|e| ReadError::Io(anyhow::Error::new(e)))?
        .len();
    let input = std::io::BufReader::new(file);
    let manifest = if encrypted {
        let Some(passphrase) = passphrase else {
            return Err(Refusal::NeedsPassphrase.into());
        };
        let decryptor = age::Decryptor::new_buffered(input).map_err(decrypt_refusal)?;
        let identity =
            age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
        let plain = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(decrypt_refusal)?;
        read_tar(plain, visit)?
    } else {
        read_tar(input, visit)?
    };
    Ok(Checked { manifest, bytes })
}

/// Whether `passphrase` opens the encrypted archive at `path`: only its header is read (a
/// second or so of scrypt), so a mistyped passphrase is refused at once, before a restore
/// starts. `read_checked` still checks the whole archive.
pub fn opens(path: &Path, passphrase: &str) -> Result<(), Refusal> {
    let refusal = |e: age::DecryptError| match decrypt_refusal(e) {
        ReadError::Refused(r) => r,
        other => Refusal::Damaged(other.to_string()),
    };
    let file = std::fs::File::open(path).map_err(|e| Refusal::Damaged(e.to_string()))?;
    let decryptor = age::Decryptor::new_buffered(std::io::BufReader::new(file)).map_err(refusal)?;
    let identity =
        age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_owned()));
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map(|_| ())
        .map_err(refusal)
}

/// Why age would not open the file, as a refusal.
fn decrypt_refusal(e: age::DecryptError) -> ReadError {
    match e {
        age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
            Refusal::WrongPassphrase.into()
        }
        age::DecryptError::Io(e) => damaged(e),
        // A damaged header, or a work factor no honest backup uses.
        other => Refusal::Damaged(other.to_string()).into(),
    }
}

/// Reads the tar in gzip from `input` and checks it against its manifest.
fn read_tar(
    input: impl Read,
    mut visit: impl FnMut(&Entry<'_>) -> anyhow::Result<()>,
) -> Result<Manifest, ReadError> {
    // A buffer of our own (not the decoder's), so that what follows the gzip stream can be
    // seen once it ends.
    let gz = flate2::bufread::GzDecoder::new(std::io::BufReader::new(input));
    let mut tar = tar::Archive::new(gz);
    let mut tables: BTreeMap<String, (u64, Sha256, u32)> = BTreeMap::new();
    let mut files: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let entries = tar.entries().map_err(damaged)?;
    for entry in entries {
        let mut entry = entry.map_err(damaged)?;
        let name = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        if manifest.is_some() {
            return Err(Refusal::Damaged(format!("{name} comes after the manifest")).into());
        }
        let mut data = Vec::with_capacity(entry.size().min(CHUNK_BYTES as u64 * 2) as usize);
        entry.read_to_end(&mut data).map_err(damaged)?;
        if name == MANIFEST {
            let m: Manifest = serde_json::from_slice(&data)
                .map_err(|e| Refusal::Damaged(format!("its manifest cannot be read: {e}")))?;
            if m.format > FORMAT {
                return Err(Refusal::NewerFormat(m.format).into());
            }
            manifest = Some(m);
        } else if let Some(rest) = name.strip_prefix("tables/") {
            let Some((table, chunk)) = rest.split_once('/') else {
                return Err(Refusal::Damaged(format!("unexpected entry {name}")).into());
            };
            let n: u32 = chunk
                .trim_end_matches(".jsonl")
                .parse()
                .map_err(|_| Refusal::Damaged(format!("unexpected entry {name}")))?;
            let (rows, hasher, last) = tables
                .entry(table.to_string())
                .or_insert_with(|| (0, Sha256::new(), 0));
            if n != *last + 1 {
                return Err(Refusal::Damaged(format!("{table}: chunk {n} out of order")).into());
            }
            *last = n;
            *rows += data.iter().filter(|b| **b == b'\n').count() as u64;
            hasher.update(&data);
            visit(&Entry::Rows {
                table,
                bytes: &data,
            })
            .map_err(ReadError::Visit)?;
        } else if let Some(rel) = name.strip_prefix("files/") {
            files.insert(rel.to_string(), (data.len() as u64, sha256_hex(&data)));
            visit(&Entry::File {
                path: rel,
                bytes: &data,
            })
            .map_err(ReadError::Visit)?;
        } else {
            return Err(Refusal::Damaged(format!("unexpected entry {name}")).into());
        }
    }
    let Some(manifest) = manifest else {
        return Err(Refusal::Truncated.into());
    };
    // The tar ends before the gzip stream does: read the rest, so that the gzip trailer (the
    // CRC-32 and length of everything above) is checked too; a cut or altered trailer refuses
    // the archive. Nothing may follow it.
    let mut gz = tar.into_inner();
    std::io::copy(&mut gz, &mut std::io::sink()).map_err(damaged)?;
    let mut rest = gz.into_inner();
    if !std::io::BufRead::fill_buf(&mut rest)
        .map_err(damaged)?
        .is_empty()
    {
        return Err(Refusal::Damaged("data follows the end of the archive".into()).into());
    }
    for t in &manifest.tables {
        let (rows, sha) = match tables.remove(&t.name) {
            Some((rows, hasher, _)) => (rows, hex_digest(hasher)),
            None => (0, hex_digest(Sha256::new())),
        };
        if rows != t.rows {
            return Err(Refusal::Mismatch(format!(
                "table {} has {rows} rows, the manifest says {}",
                t.name, t.rows
            ))
            .into());
        }
        if sha != t.sha256 {
            return Err(Refusal::Mismatch(format!("table {}'s checksum differs", t.name)).into());
        }
    }
    if let Some(extra) = tables.keys().next() {
        return Err(Refusal::Mismatch(format!("table {extra} is not in the manifest")).into());
    }
    for f in &manifest.files {
        match files.remove(&f.path) {
            Some((bytes, sha)) if bytes == f.bytes && sha == f.sha256 => {}
            Some(_) => {
                return Err(Refusal::Mismatch(format!("file {} differs", f.path)).into());
            }
            None => return Err(Refusal::Mismatch(format!("file {} is missing", f.path)).into()),
        }
    }
    if let Some(extra) = files.keys().next() {
        return Err(Refusal::Mismatch(format!("file {extra} is not in the manifest")).into());
    }
    Ok(manifest)
}

/// A part of the archive as it is read.
pub enum Entry<'a> {
    Rows { table: &'a str, bytes: &'a [u8] },
    File { path: &'a str, bytes: &'a [u8] },
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Io(anyhow::Error),
    /// The visitor failed (loading the data somewhere).
    #[error(transparent)]
    Visit(anyhow::Error),
}

/// Errors from the gzip and tar layers: a cut-short file shows as an unexpected end.
fn damaged(e: std::io::Error) -> ReadError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Refusal::Truncated.into()
    } else {
        Refusal::Damaged(e.to_string()).into()
    }
}

/// The files of the data directory a backup keeps: everything but the backups themselves,
/// temporary files and the setup token. Relative paths, sorted.
pub fn data_files(data_dir: &Path, backup_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let skip_dir = std::fs::canonicalize(backup_dir).ok();
    let mut stack = vec![data_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let read = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        for entry in read {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if std::fs::canonicalize(&path).ok() != skip_dir {
                    stack.push(path);
                }
            } else if kind.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name == crate::setup::TOKEN_FILE || name.ends_with(".tmp") {
                    continue;
                }
                if let Ok(rel) = path.strip_prefix(data_dir) {
                    out.push(rel.to_path_buf());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}
