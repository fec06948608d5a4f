//! What handlers and jobs hold: the database pool, the keys, the hasher, the configuration and
//! the server-wide handles. Services take the parts they need, not the whole state.

use std::sync::Arc;

use sqlx::MySqlPool;

use crate::auth::Hasher;
use crate::auth::tokens::TokenKeys;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub db: MySqlPool,
    pub keys: TokenKeys,
    pub hasher: Hasher,
    pub config: Arc<Config>,
    /// Encrypts secrets stored in the database (the SMTP password).
    pub cipher: crate::crypto::FieldCipher,
    /// Wakes the email sender after something was queued.
    pub mailer: crate::notify::Mailer,
    /// What services that tell members something take (`notify::notify`).
    pub notifier: crate::notify::Notifier,
    /// The scheduled jobs this server knows.
    pub jobs: Arc<crate::jobs::Registry>,
    /// The certificate served over HTTPS (None with `tls = "off"`).
    pub tls: Option<Arc<crate::system::tls::TlsMaterial>>,
    /// First-boot setup: whether it is done, its token, the throttle for wrong tokens.
    pub setup: Arc<crate::setup::Gate>,
    /// Whether the database answers (see `db_gate`).
    pub db_health: crate::db::Health,
}

impl AppState {
    /// Loads the secrets and the certificate material from the data directory again and uses
    /// them at once: after a restore wrote back the backup's `secrets/` and `tls/` files. Secrets
    /// set in the configuration (or environment) stay as they are.
    pub fn reload_secrets(&self) -> anyhow::Result<()> {
        let secrets = crate::config::Secrets::load_or_generate(&self.config)?;
        self.keys.replace(&secrets.jwt_key);
        self.cipher.replace(&secrets.encryption_key);
        if let Some(tls) = &self.tls {
            tls.reload(&self.config)?;
        }
        Ok(())
    }
}
