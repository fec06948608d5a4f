//! Access tokens (HS256 JWT, 15 minutes) and opaque refresh tokens (stored as SHA-256).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_DAYS: i64 = 14;
const ISSUER: &str = "logbook";
const AUDIENCE: &str = "logbook";
const ACCESS_TYPE: &str = "access";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub org: Uuid,
    /// The session (refresh-token family) this token belongs to; ending the session ends it.
    pub sid: Uuid,
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// The signing keys, shared by every clone of the state and replaceable in place: a restore
/// brings back the backup's key, and the running server signs and checks with it at once.
#[derive(Clone)]
pub struct TokenKeys {
    inner: std::sync::Arc<std::sync::RwLock<Keys>>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        TokenKeys {
            inner: std::sync::Arc::new(std::sync::RwLock::new(Keys::new(secret))),
        }
    }

    /// Signs and checks with `secret` from now on (tokens signed with the old key stop working).
    pub fn replace(&self, secret: &[u8]) {
        let keys = Keys::new(secret);
        *self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn issue_access(
        &self,
        user: Uuid,
        org: super::OrgId,
        session: Uuid,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            org: org.uuid(),
            sid: session,
            typ: ACCESS_TYPE.into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            jti: Uuid::now_v7(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.keys().encoding,
        )?)
    }

    /// Checks signature, algorithm, expiry, issuer, audience and token type.
    pub fn verify_access(&self, token: &str) -> Option<Claims> {
        let keys = self.keys();
        let data = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation).ok()?;
        (data.claims.typ == ACCESS_TYPE).then_some(data.claims)
    }
}

/// A new opaque refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper() {
        let keys = TokenKeys::new(&[7u8; 32]);
        let (u, o, s) = (
            Uuid::now_v7(),
            super::super::OrgId::generate(),
            Uuid::now_v7(),
        );
        let token = keys.issue_access(u, o, s).unwrap();
        let claims = keys.verify_access(&token).unwrap();
        assert_eq!((claims.sub, claims.org, claims.sid), (u, o.uuid(), s));
        let other = TokenKeys::new(&[8u8; 32]);
        assert!(other.verify_access(&token).is_none());
        // alg=none and a mangled signature are refused
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[2] = "AAAA";
        assert!(keys.verify_access(&parts.join(".")).is_none());
    }

    #[test]
    fn replaced_keys_take_effect_in_every_clone() {
        let keys = TokenKeys::new(&[7u8; 32]);
        let shared = keys.clone();
        let (u, o, s) = (
            Uuid::now_v7(),
            super::super::OrgId::generate(),
            Uuid::now_v7(),
        );
        let before = keys.issue_access(u, o, s).unwrap();
        keys.replace(&[9u8; 32]);
        assert!(shared.verify_access(&before).is_none());
        let after = shared.issue_access(u, o, s).unwrap();
        assert!(TokenKeys::new(&[9u8; 32]).verify_access(&after).is_some());
    }
}
