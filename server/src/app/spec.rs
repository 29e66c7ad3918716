//! The published spec without a configured database (`mfa-totp openapi`): the API service
//! built on a store that is not connected, which generating the document never calls.

use std::sync::Arc;

use mfa_totp_crypto::{AesGcmCipher, AssertionKeys};
use mfa_totp_sms::ConsoleSms;
use mfa_totp_storage::SqlStore;

use super::clock::SystemClock;
use super::routes::{Operations, api_service};
use super::use_cases::{Adapters, wire};
use crate::config::{
    Config, DEVELOPMENT_ASSERTION_KEY, DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_CRYPTO_KEY,
    DEVELOPMENT_CRYPTO_KEY_ID, Settings,
};
use crate::spec::Published;

/// The published spec, as every instance serves it at `/openapi.json`.
pub fn published_spec() -> anyhow::Result<String> {
    let store = SqlStore::disconnected();
    let signer = Arc::new(AssertionKeys::from_pem_keys(
        [(DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_ASSERTION_KEY)],
        DEVELOPMENT_ASSERTION_KEY_ID,
    )?);
    let config = Config::new(Settings::default())?;
    let adapters = Adapters {
        sms: Arc::new(ConsoleSms::stdout()),
        clock: Arc::new(SystemClock),
        cipher: Arc::new(AesGcmCipher::from_base64_keys(
            [(DEVELOPMENT_CRYPTO_KEY_ID, DEVELOPMENT_CRYPTO_KEY)],
            DEVELOPMENT_CRYPTO_KEY_ID,
        )?),
        signer: signer.clone(),
    };
    let use_cases = wire(&store, adapters, &config.policies);
    let public_keys = signer.public_keys();
    let operations = Operations {
        checks: Vec::new(),
        pools: Arc::new(store),
        metrics_here: true,
        twilio: None,
        public_keys,
    };
    Ok(Published::of(&api_service(use_cases, operations)).json)
}
