//! The keys that config picks: the cipher that seals TOTP secrets at rest, and the verifier
//! of bearer tokens. There is no fallback here: `Settings::for_mode` has refused a
//! production start without keys, or filled in the development ones (`serve --dev`).

use anyhow::Context;
use mfa_totp_application::SecretCipher;
use mfa_totp_crypto::AesGcmCipher;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{TokenVerifier, VerificationKey};
use crate::jwks::{Jwks, JwksOptions};
use crate::settings::{PublicKeyAlgorithm, Settings};

pub fn build_cipher(settings: &Settings) -> anyhow::Result<Arc<dyn SecretCipher>> {
    let crypto = &settings.crypto;
    let active = crypto
        .active_key_id
        .as_deref()
        .context("invalid configuration: no crypto.active_key_id / crypto.keys configured")?;
    let cipher = AesGcmCipher::from_base64_keys(
        crypto
            .keys
            .iter()
            .map(|(id, key)| (id.as_str(), key.expose_secret())),
        active,
    )
    .context("invalid configuration: crypto.keys")?;
    Ok(Arc::new(cipher))
}

/// The token verifier: with a fixed key, or with the JWKS (fetched here: start-up fails when
/// the first fetch does).
pub async fn build_verifier(settings: &Settings) -> anyhow::Result<TokenVerifier> {
    let auth = &settings.auth;
    let verifier = if let Some(url) = &auth.jwks_url {
        let keys = Jwks::fetch(JwksOptions {
            url: url.clone(),
            cache_for: Duration::from_secs(auth.jwks_cache_secs),
            min_refresh: Duration::from_secs(auth.jwks_min_refresh_secs),
            timeout: Duration::from_secs(5),
        })
        .await
        .context("invalid configuration: auth.jwks_url")?;
        TokenVerifier::from_jwks(keys, &auth.issuer, &auth.audience)
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
        TokenVerifier::new(&key, &auth.issuer, &auth.audience)
            .context("invalid configuration: auth.public_key_pem")?
    };
    Ok(verifier.with_max_lifetime_secs(auth.max_token_lifetime_secs))
}
