//! The HTTPS certificate from the administrator's side (`settings.manage`): what is served,
//! uploading the department's own certificate and key (checked before anything is stored, then
//! served to new connections without a restart), and going back to the generated one.
//!
//! A change and its audit entry go together: the pair is checked first; then, in one
//! transaction, the audit entry is written, the files are written and the certificate swapped,
//! and the transaction commits. If the commit fails, the files and the served certificate are put
//! back, so the log never misses a change that happened nor claims one that did not.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::system::tls::{self, CertificateInfo, StoredCertificate, TlsMaterial};

/// What the settings page and `GET /api/v1/system/tls` show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HttpsSettings {
    /// The configuration's `tls`: `self-signed` (the server's own certificate, or an uploaded
    /// one), `files` (PEM files named in the configuration) or `off` (plain HTTP, for use behind
    /// a proxy).
    pub mode: &'static str,
    /// The certificate new connections get; null while HTTPS is off.
    pub active: Option<CertificateInfo>,
    /// The uploaded certificate stored on the server, if there is one (with HTTPS off it is
    /// served once HTTPS is turned on).
    pub uploaded: Option<StoredCertificate>,
    /// False when the configuration names the certificate files (`tls = "files"`).
    pub can_upload: bool,
}

/// A certificate and its private key, both PEM. The certificate may be followed by the
/// certificates that issued it (the chain).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateUpload {
    #[serde(default)]
    pub certificate_pem: String,
    #[serde(default)]
    pub private_key_pem: String,
}

/// An accepted upload.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadedCertificate {
    pub certificate: CertificateInfo,
    /// Whether new connections get it now (false while HTTPS is off).
    pub in_use: bool,
    /// What happens next, in words.
    pub message: String,
}

/// What the server runs with (which is what the configuration says, once started).
fn mode(state: &AppState) -> &'static str {
    state.tls.as_deref().map_or("off", |t| t.mode)
}

/// Refuses changes while the configuration names the certificate files.
fn refuse_files_mode(state: &AppState) -> AppResult<()> {
    if mode(state) == "files" {
        return Err(AppError::Conflict(
            "the certificate is set in the configuration file (tls = \"files\"); change \
             LOGBOOK_TLS_CERT/LOGBOOK_TLS_KEY (tls_cert/tls_key) there"
                .into(),
        ));
    }
    Ok(())
}

pub async fn read(state: &AppState, ctx: &Ctx) -> AppResult<HttpsSettings> {
    ctx.require(SETTINGS_MANAGE)?;
    let data_dir = state.config.data_dir.clone();
    let uploaded = blocking(move || Ok(tls::read_uploaded(&data_dir))).await?;
    Ok(HttpsSettings {
        mode: mode(state),
        active: state.tls.as_deref().map(TlsMaterial::info),
        uploaded,
        can_upload: mode(state) != "files",
    })
}

/// One change at a time, from its audit entry to its commit.
static CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn upload(
    state: &AppState,
    ctx: &Ctx,
    input: CertificateUpload,
) -> AppResult<UploadedCertificate> {
    ctx.require(SETTINGS_MANAGE)?;
    refuse_files_mode(state)?;
    let info = tls::inspect_pair(&input.certificate_pem, &input.private_key_pem)?;
    let in_use = state.tls.is_some();
    let _one_at_a_time = CHANGES.lock().await;
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("tls.certificate_uploaded", "tls_certificate", "uploaded").changes(json!({
            "fingerprint": info.fingerprint,
            "names": info.names,
            "not_before": info.not_before,
            "not_after": info.not_after,
            "in_use": in_use,
        })),
    )
    .await?;
    let material = state.tls.clone();
    let data_dir = state.config.data_dir.clone();
    let before = {
        let (material, data_dir) = (material.clone(), data_dir.clone());
        blocking(move || tls::snapshot(material.as_deref(), &data_dir)).await?
    };
    let applied = {
        let (material, data_dir) = (material.clone(), data_dir.clone());
        let CertificateUpload {
            certificate_pem,
            private_key_pem,
        } = input;
        blocking(move || match material.as_deref() {
            Some(m) => tls::install_uploaded(m, &data_dir, &certificate_pem, &private_key_pem),
            None => tls::store_uploaded(&data_dir, &certificate_pem, &private_key_pem),
        })
        .await
    };
    let certificate = match applied {
        Ok(certificate) => certificate,
        Err(err) => {
            put_back(material, data_dir, before).await;
            return Err(err);
        }
    };
    if let Err(err) = tx.commit().await {
        put_back(material, data_dir, before).await;
        return Err(err.into());
    }
    let message = if in_use {
        "The certificate is in use: new connections get it now. Browsers already connected \
         switch to it when they reconnect."
    } else {
        "The certificate is stored. HTTPS is off in this server's configuration (tls = \"off\"); \
         the certificate is used once HTTPS is turned on (tls = \"self-signed\")."
    };
    Ok(UploadedCertificate {
        certificate,
        in_use,
        message: message.into(),
    })
}

/// Deletes the stored upload and goes back to the generated certificate. 404 when no upload is
/// stored.
pub async fn remove(state: &AppState, ctx: &Ctx) -> AppResult<HttpsSettings> {
    ctx.require(SETTINGS_MANAGE)?;
    refuse_files_mode(state)?;
    let _one_at_a_time = CHANGES.lock().await;
    let data_dir = state.config.data_dir.clone();
    let stored = {
        let data_dir = data_dir.clone();
        blocking(move || Ok(tls::read_uploaded(&data_dir))).await?
    };
    let Some(stored) = stored else {
        return Err(AppError::NotFound);
    };
    let removed = stored.certificate.as_ref();
    let mut tx = state.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("tls.certificate_removed", "tls_certificate", "uploaded").changes(json!({
            "fingerprint": removed.map(|c| &c.fingerprint),
            "names": removed.map(|c| &c.names),
            "not_after": removed.and_then(|c| c.not_after),
        })),
    )
    .await?;
    let material = state.tls.clone();
    let before = {
        let (material, data_dir) = (material.clone(), data_dir.clone());
        blocking(move || tls::snapshot(material.as_deref(), &data_dir)).await?
    };
    let applied = {
        let (material, data_dir) = (material.clone(), data_dir.clone());
        blocking(move || tls::remove_uploaded(material.as_deref(), &data_dir)).await
    };
    if let Err(err) = applied {
        put_back(material, data_dir, before).await;
        return Err(err);
    }
    if let Err(err) = tx.commit().await {
        put_back(material, data_dir, before).await;
        return Err(err.into());
    }
    Ok(HttpsSettings {
        mode: mode(state),
        active: state.tls.as_deref().map(TlsMaterial::info),
        uploaded: None,
        can_upload: true,
    })
}

/// Undoes a change whose audit entry could not be committed. A failure here is logged: the
/// caller already answers with the first error.
async fn put_back(material: Option<Arc<TlsMaterial>>, data_dir: PathBuf, before: tls::Snapshot) {
    let restored = blocking(move || tls::restore(material.as_deref(), &data_dir, before)).await;
    if let Err(err) = restored {
        tracing::error!(
            error = %err,
            "a certificate change could not be recorded in the audit log, nor undone"
        );
    }
}

/// File work (small files, but fsync on an SD card takes a while) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("certificate work stopped: {e}")))?
}
