//! The adapters that config picks: the SMS sender (`console` alone, or the providers of
//! `sms.provider` / `sms.chain`, each behind a retry and a circuit breaker), the cipher that
//! seals TOTP secrets at rest, and the SQL store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mfa_totp_application::{SecretCipher, SmsSender};
use mfa_totp_crypto::AesGcmCipher;
use mfa_totp_sms::{
    ChainLink, ConsoleSms, Resilience, SetupError, SmsChain, TwilioSms, VonageSms, WebhookSms,
};
use mfa_totp_storage::{PoolSettings, SqlStore};
use secrecy::ExposeSecret;

use crate::config::{CryptoSettings, DatabaseSettings, SmsProvider, SmsSettings};

/// The configured sender: the console alone, or the chain of providers.
pub fn build_sms(settings: &SmsSettings) -> anyhow::Result<Arc<dyn SmsSender>> {
    if settings.providers() == [SmsProvider::Console] {
        return Ok(Arc::new(ConsoleSms::stdout()));
    }
    Ok(Arc::new(build_chain(settings)?))
}

/// Every configured provider as a chain, each behind its retry and breaker (console too).
pub fn build_chain(settings: &SmsSettings) -> anyhow::Result<SmsChain> {
    let resilience = Resilience::default();
    let links = settings
        .providers()
        .into_iter()
        .map(|provider| {
            let sender = build_one(provider, settings)?;
            Ok(ChainLink::new(provider.name(), sender, &resilience))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SmsChain::new(links, &resilience))
}

fn build_one(provider: SmsProvider, settings: &SmsSettings) -> anyhow::Result<Arc<dyn SmsSender>> {
    let setup = |error: SetupError| match error {
        SetupError::Missing(key) => anyhow::anyhow!(
            "invalid configuration: {key} is required for the {} SMS provider",
            provider.name()
        ),
        SetupError::Client(message) => anyhow::anyhow!("invalid configuration: {message}"),
    };
    Ok(match provider {
        SmsProvider::Console => Arc::new(ConsoleSms::stdout()),
        SmsProvider::Twilio => Arc::new(TwilioSms::new(&settings.twilio).map_err(setup)?),
        SmsProvider::Vonage => Arc::new(VonageSms::new(&settings.vonage).map_err(setup)?),
        SmsProvider::Webhook => Arc::new(WebhookSms::new(&settings.webhook).map_err(setup)?),
    })
}

/// The cipher of `crypto.keys`, sealing with `crypto.active_key_id`.
pub fn build_cipher(crypto: &CryptoSettings) -> anyhow::Result<Arc<dyn SecretCipher>> {
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

fn pool_settings(database: &DatabaseSettings) -> PoolSettings {
    PoolSettings {
        max_connections: database.max_connections,
        acquire_timeout: Duration::from_millis(database.acquire_timeout_ms),
        connect_timeout: Duration::from_millis(database.acquire_timeout_ms),
    }
}

/// The store as the server uses it: on a SQLite file, a writer and a pool of readers.
pub async fn open_store(database: &DatabaseSettings) -> anyhow::Result<SqlStore> {
    mfa_totp_storage::open(&database.url, &pool_settings(database))
        .await
        .context("cannot connect to the database (database.url)")
}

/// One pool on `database.url`, for the commands that run beside the server (`migrate`,
/// `purge`).
pub async fn connect_database(
    database: &DatabaseSettings,
) -> anyhow::Result<sea_orm::DatabaseConnection> {
    mfa_totp_storage::connect(&database.url, &pool_settings(database))
        .await
        .context("cannot connect to the database (database.url)")
}
