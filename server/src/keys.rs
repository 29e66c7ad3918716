//! The keys that config picks: the cipher that seals TOTP secrets at rest, and the verifier
//! of bearer tokens. Without configured keys both fall back to public development keys, with
//! a loud warning.

use anyhow::Context;
use mfa_totp_application::SecretCipher;
use mfa_totp_crypto::AesGcmCipher;
use secrecy::ExposeSecret;
use std::sync::Arc;

use crate::auth::{TokenVerifier, VerificationKey};
use crate::settings::{DEVELOPMENT_CRYPTO_KEY, PublicKeyAlgorithm, Settings};

pub fn build_cipher(settings: &Settings) -> anyhow::Result<Arc<dyn SecretCipher>> {
    let crypto = &settings.crypto;
    let cipher = match &crypto.active_key_id {
        Some(active) => AesGcmCipher::from_base64_keys(
            crypto
                .keys
                .iter()
                .map(|(id, key)| (id.as_str(), key.expose_secret())),
            active,
        )
        .context("invalid configuration: crypto.keys")?,
        None => {
            tracing::warn!(
                "!!! NO crypto.keys CONFIGURED: TOTP secrets are sealed with a PUBLIC DEVELOPMENT KEY. \
                 Set MFA_TOTP__CRYPTO__ACTIVE_KEY_ID and MFA_TOTP__CRYPTO__KEYS__<ID> in production. !!!"
            );
            AesGcmCipher::from_base64_keys([("dev", DEVELOPMENT_CRYPTO_KEY)], "dev")?
        }
    };
    Ok(Arc::new(cipher))
}

pub fn build_verifier(settings: &Settings) -> anyhow::Result<TokenVerifier> {
    let auth = &settings.auth;
    let key = match &auth.public_key_pem {
        Some(pem) => match auth.public_key_algorithm {
            PublicKeyAlgorithm::Rs256 => VerificationKey::Rs256Pem(pem.clone()),
            PublicKeyAlgorithm::Es256 => VerificationKey::Es256Pem(pem.clone()),
        },
        None => {
            let (secret, development) = auth.hs256_secret();
            if development {
                tracing::warn!(
                    "!!! NO auth.hs256_secret CONFIGURED: tokens are checked with a PUBLIC DEVELOPMENT SECRET. \
                     Anyone can mint tokens. Set MFA_TOTP__AUTH__HS256_SECRET or auth.public_key_pem. !!!"
                );
            }
            VerificationKey::Hs256(secret)
        }
    };
    TokenVerifier::new(&key, &auth.issuer, &auth.audience)
        .context("invalid configuration: auth.public_key_pem")
}
