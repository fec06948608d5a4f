//! Password hashing (argon2id, m=19456 KiB, t=2, p=1) and the password policy. Each hash holds
//! 19 MiB, so a semaphore caps how many run at once on a Pi.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// Common passwords long enough to pass the length rule; refused outright.
const BLOCKLIST: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "111111111111",
    "000000000000",
    "password1234",
    "password12345",
    "password123!",
    "passwordpassword",
    "qwertyuiop12",
    "qwertyuiopasdf",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "iloveyou1234",
    "abcdefghijkl",
    "abc123456789",
    "letmein12345",
    "welcome12345",
    "welcome123!!",
    "changeme1234",
    "administrator",
    "firefighter1",
    "firefighter123",
    "firedepartment",
    "firefighter!",
    "engine123456",
    "station12345",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "sunshine1234",
    "princess1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "superman1234",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "aaaaaaaaaaaa",
    "logbooklogbook",
    "logbook12345",
    "password1!password1!",
];

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random value, verified against when no account matched, so that a
    /// wrong username takes as long as a wrong password.
    dummy_hash: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

impl Hasher {
    pub fn new(max_concurrent: usize) -> anyhow::Result<Self> {
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: Arc::new(hash_blocking("not a real password, only for timing")?),
        })
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::new)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(anyhow::Error::new)?
            .map_err(AppError::Internal)
    }

    /// Verifies against `hash`, or against the dummy hash when there is none (same cost).
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let _permit = self.permits.acquire().await.map_err(anyhow::Error::new)?;
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_ref().clone(), false),
        };
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .map_err(anyhow::Error::new)?;
        Ok(ok && real)
    }
}

/// A password that meets the policy: 12–256 characters, not on the blocklist, not the username.
/// No composition rules (NIST SP 800-63B).
#[derive(Debug, Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(field: &str, candidate: &str, username: &str) -> AppResult<Self> {
        let len = candidate.chars().count();
        let problem = if len < MIN_LENGTH {
            Some(format!("must be at least {MIN_LENGTH} characters"))
        } else if len > MAX_LENGTH {
            Some(format!("must be at most {MAX_LENGTH} characters"))
        } else if BLOCKLIST.contains(&candidate.to_lowercase().as_str()) {
            Some("is too common; choose another".to_string())
        } else if !username.is_empty()
            && candidate.to_lowercase().contains(&username.to_lowercase())
        {
            Some("must not contain the username".to_string())
        } else if candidate
            .chars()
            .all(|c| c == candidate.chars().next().unwrap_or(' '))
        {
            Some("must not be one repeated character".to_string())
        } else {
            None
        };
        match problem {
            Some(message) => Err(AppError::field(field, message)),
            None => Ok(NewPassword(candidate.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(NewPassword::parse("p", "short", "bob").is_err());
        assert!(NewPassword::parse("p", "Password1234", "bob").is_err());
        assert!(NewPassword::parse("p", "bobbobbob-is-me", "bob").is_err());
        assert!(NewPassword::parse("p", "zzzzzzzzzzzzzz", "bob").is_err());
        assert!(NewPassword::parse("p", "correct horse battery", "bob").is_ok());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("wrong horse battery", &h));
    }
}
