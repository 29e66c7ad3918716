//! Tokens for local use (`mfa-totp token`): HS256, signed with the configured secret.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::Serialize;

/// The claims `mfa-totp token` mints.
#[derive(Debug, Serialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// Mints HS256 tokens for local use (`mfa-totp token`).
pub fn mint_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    subject: &str,
    scopes: &[String],
    ttl_secs: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now + ttl_secs,
        iat: now,
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        scope: scopes.join(" "),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}
