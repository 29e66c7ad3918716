//! The verifier that config picks: a fixed key (`auth.hs256_secret`, `auth.public_key_pem`)
//! or the identity provider's JWKS (`auth.jwks_url`). There is no fallback here: the
//! configuration's mode has refused a production start without a key, or filled in the
//! development one (`serve --dev`).

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use super::jwks::{Jwks, JwksOptions};
use super::token::{TokenRules, TokenVerifier, VerificationKey};
use crate::config::{AuthSettings, PublicKeyAlgorithm};

/// The token verifier: with a fixed key, or with the JWKS (fetched here: start-up fails when
/// the first fetch does).
pub async fn build_verifier(auth: &AuthSettings) -> anyhow::Result<TokenVerifier> {
    let verifier = if let Some(url) = &auth.jwks_url {
        let keys = Jwks::fetch(JwksOptions {
            url: url.clone(),
            cache_for: Duration::from_secs(auth.jwks_cache_secs),
            min_refresh: Duration::from_secs(auth.jwks_min_refresh_secs),
            max_stale: Duration::from_secs(auth.jwks_max_stale_secs),
            timeout: Duration::from_secs(5),
        })
        .await
        .context("invalid configuration: auth.jwks_url")?;
        TokenVerifier::from_jwks(keys, TokenRules::from(auth))
    } else {
        let key = match (&auth.public_key_pem, &auth.hs256_secret) {
            (Some(pem), _) => match auth.public_key_algorithm {
                PublicKeyAlgorithm::Rs256 => VerificationKey::Rs256Pem(pem.clone()),
                PublicKeyAlgorithm::Es256 => VerificationKey::Es256Pem(pem.clone()),
            },
            (None, Some(secret)) => {
                VerificationKey::Hs256(secret.expose_secret().as_bytes().to_vec())
            }
            (None, None) => anyhow::bail!(
                "invalid configuration: no auth.hs256_secret, auth.public_key_pem or auth.jwks_url configured"
            ),
        };
        TokenVerifier::new(&key, TokenRules::from(auth))
            .context("invalid configuration: auth.public_key_pem")?
    };
    Ok(verifier)
}
