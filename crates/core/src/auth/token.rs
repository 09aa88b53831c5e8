//! Session tokens: HS256 JWTs carrying `sub` (user id), `sid` (session id), `role`, `iat` and
//! `exp`. A token alone proves nothing: the extractor also requires its session row to exist.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::{entities::Role, error::AppError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256; `exp` is required and checked without leeway; the session row's own
        // expiry (checked against our clock) is the authority anyway.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.leeway = 0;
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|err| AppError::Internal(err.into()))
    }

    /// Any failure (bad signature, other algorithm, expired, malformed) is the same 401.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|err| {
            tracing::debug!(error = %err, "rejected token");
            invalid_token()
        })
    }
}

pub fn invalid_token() -> AppError {
    AppError::unauthorized("invalid_token", "the session token is invalid or has expired; please log in again")
}
