//! `mfa-totp token`: a bearer token for local use, signed with the configured HS256 secret
//! (or, with `--dev`, the public development one).

use secrecy::ExposeSecret;

use crate::auth::mint_hs256;
use crate::config::{AuthSettings, DEVELOPMENT_HS256_SECRET};

/// What to mint.
pub struct TokenRequest {
    /// Sign with the development secret when no `auth.hs256_secret` is configured.
    pub dev: bool,
    pub sub: String,
    pub scopes: Vec<String>,
    /// Default: `auth.token_ttl_secs`.
    pub ttl_secs: Option<u64>,
}

/// The token, or why this configuration cannot mint one the service would accept.
pub fn mint(auth: &AuthSettings, request: &TokenRequest) -> anyhow::Result<String> {
    if auth.public_key_pem.is_some() || auth.jwks_url.is_some() {
        anyhow::bail!(
            "auth.public_key_pem or auth.jwks_url is set: tokens come from your identity provider, not from mfa-totp token"
        );
    }
    let ttl_secs = request.ttl_secs.unwrap_or(auth.token_ttl_secs);
    if ttl_secs > auth.max_token_lifetime_secs {
        anyhow::bail!(
            "--ttl-secs {ttl_secs} exceeds auth.max_token_lifetime_secs ({}): the service would refuse the token",
            auth.max_token_lifetime_secs
        );
    }
    let secret = match (&auth.hs256_secret, request.dev) {
        (Some(secret), _) => secret.expose_secret().as_bytes().to_vec(),
        (None, true) => {
            eprintln!(
                "warning: minting with the PUBLIC DEVELOPMENT SECRET (no auth.hs256_secret configured)"
            );
            DEVELOPMENT_HS256_SECRET.as_bytes().to_vec()
        }
        (None, false) => anyhow::bail!(
            "no auth.hs256_secret configured (MFA_TOTP__AUTH__HS256_SECRET); \
             pass --dev to sign with the public development secret of `serve --dev`"
        ),
    };
    Ok(mint_hs256(
        &secret,
        &auth.issuer,
        &auth.audience,
        &request.sub,
        &request.scopes,
        ttl_secs,
    )?)
}
