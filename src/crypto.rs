//! Encryption of secrets stored in the database (the SMTP password): AES-256-GCM with a key
//! derived from the server's encryption key. Stored as nonce (12 bytes) || ciphertext.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

/// Shared by every clone of the state and replaceable in place: a restore brings back the
/// backup's key, with which the restored data's secrets were encrypted.
#[derive(Clone)]
pub struct FieldCipher {
    cipher: std::sync::Arc<std::sync::RwLock<Aes256Gcm>>,
}

fn derive(secret: &[u8]) -> Aes256Gcm {
    let mut h = Sha256::new();
    h.update(b"logbook field encryption v1\0");
    h.update(secret);
    let digest: [u8; 32] = h.finalize().into();
    Aes256Gcm::new(&digest.into())
}

const NONCE_LEN: usize = 12;

impl FieldCipher {
    pub fn new(secret: &[u8]) -> Self {
        FieldCipher {
            cipher: std::sync::Arc::new(std::sync::RwLock::new(derive(secret))),
        }
    }

    /// Encrypts and decrypts with `secret` from now on.
    pub fn replace(&self, secret: &[u8]) {
        let next = derive(secret);
        *self
            .cipher
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
    }

    fn cipher(&self) -> std::sync::RwLockReadGuard<'_, Aes256Gcm> {
        self.cipher
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn encrypt(&self, plain: &str) -> anyhow::Result<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Fails when the data was encrypted with another key (the secrets were replaced).
    pub fn decrypt(&self, stored: &[u8]) -> anyhow::Result<String> {
        anyhow::ensure!(stored.len() > NONCE_LEN, "stored secret is too short");
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into()?;
        let plain = self
            .cipher()
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| {
                anyhow::anyhow!(
                    "a stored secret cannot be decrypted with this server's encryption key; \
                     enter it again"
                )
            })?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let a = FieldCipher::new(b"first key, long enough for the test");
        let sealed = a.encrypt("hunter2 – pässword").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(a.decrypt(&sealed).unwrap(), "hunter2 – pässword");
        // A fresh nonce each time.
        assert_ne!(a.encrypt("x").unwrap(), a.encrypt("x").unwrap());
        let b = FieldCipher::new(b"another key, also long enough here");
        assert!(b.decrypt(&sealed).is_err());
        // Replaced in place: every clone decrypts with the new key.
        let clone = b.clone();
        b.replace(b"first key, long enough for the test");
        assert_eq!(clone.decrypt(&sealed).unwrap(), "hunter2 – pässword");
        assert!(a.decrypt(&sealed[..5]).is_err());
    }
}
