//! The adapters that config picks: the SMS sender (`console` alone, or the providers of
//! `sms.provider` / `sms.chain`, each behind a retry and a circuit breaker), the cipher that
//! seals TOTP secrets at rest, the signer of step-up assertions, and the SQL store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mfa_totp_application::{SecretCipher, SmsSender};
use mfa_totp_crypto::{AesGcmCipher, AssertionKeys};
use mfa_totp_sms::{
    ChainLink, ConsoleSms, Resilience, SetupError, SmsChain, TwilioSms, VonageSms, WebhookSms,
};
use mfa_totp_storage::{PoolSettings, SqlStore};
use secrecy::ExposeSecret;

use crate::config::{
    AssertionSettings, CryptoSettings, DatabaseSettings, SmsProvider, SmsSettings,
};

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

/// The signer of `assertion.keys`, signing with `assertion.active_key_id`.
pub fn build_signer(assertion: &AssertionSettings) -> anyhow::Result<Arc<AssertionKeys>> {
    let active = assertion
        .active_key_id
        .as_deref()
        .context("invalid configuration: no assertion.active_key_id / assertion.keys configured")?;
    let keys = AssertionKeys::from_pem_keys(
        assertion
            .keys
            .iter()
            .map(|(kid, pem)| (kid.as_str(), pem.expose_secret())),
        active,
    )
    .context("invalid configuration: assertion.keys")?;
    Ok(Arc::new(keys))
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
    match mfa_totp_storage::open(&database.url, &pool_settings(database)).await {
        Ok(store) => Ok(store),
        Err(error) => Err(unreachable_database(&database.url, &error).await),
    }
}

/// One pool on `database.url`, for the commands that run beside the server (`migrate`,
/// `purge`).
pub async fn connect_database(
    database: &DatabaseSettings,
) -> anyhow::Result<sea_orm::DatabaseConnection> {
    match mfa_totp_storage::connect(&database.url, &pool_settings(database)).await {
        Ok(pool) => Ok(pool),
        Err(error) => Err(unreachable_database(&database.url, &error).await),
    }
}

/// Why the database at `url` cannot be reached, naming its host and port and the cause,
/// never its password: a pool that timed out says only that, so the address is tried once
/// more over TCP for the cause (`connection refused`, a name that does not resolve).
async fn unreachable_database(url: &str, error: &sea_orm::DbErr) -> anyhow::Error {
    let parsed = reqwest::Url::parse(url).ok();
    let mut cause = error.to_string();
    if let Some(password) = parsed.as_ref().and_then(|u| u.password()) {
        cause = cause.replace(password, "[REDACTED]");
    }
    cause = cause.replace(url, &mfa_totp_http::redacted(url));
    let target = match parsed.as_ref() {
        Some(u) if u.scheme().starts_with("postgres") => {
            let host = u.host_str().unwrap_or("localhost").to_owned();
            let port = u.port().unwrap_or(5432);
            let probe = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect((host.as_str(), port)),
            )
            .await;
            match probe {
                Ok(Err(refused)) => cause = format!("{refused} ({cause})"),
                Err(_) => cause = format!("no answer within 2 s ({cause})"),
                Ok(Ok(_)) => {}
            }
            format!("{host}:{port}")
        }
        _ => mfa_totp_http::redacted(url),
    };
    anyhow::anyhow!("cannot connect to the database at {target} (database.url): {cause}")
}
