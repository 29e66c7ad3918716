//! A generic HTTP provider for in-house gateways: a JSON POST of `{to, body, challengeId,
//! locale}` to a configured URL, signed so that the receiver can trust it and refuse
//! replays.
//!
//! The signature: `X-Mfa-Totp-Timestamp` is the Unix time in seconds, and
//! `X-Mfa-Totp-Signature` is `v1=` and the lower-case hex of HMAC-SHA256, under the
//! configured secret, of `{timestamp}.{body}` (the raw request body). A receiver recomputes
//! it over the bytes it received, compares in constant time, and refuses a timestamp more
//! than a few minutes old.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::http;

pub const SIGNATURE_HEADER: &str = "x-mfa-totp-signature";
pub const TIMESTAMP_HEADER: &str = "x-mfa-totp-timestamp";

/// `sms.webhook.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    pub url: Option<String>,
    pub secret: Option<SecretString>,
    /// Static headers sent with every request (e.g. an API key of the gateway).
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            headers: BTreeMap::new(),
            timeout_ms: 5_000,
        }
    }
}

pub struct WebhookSms {
    http: reqwest::Client,
    url: String,
    secret: SecretString,
    headers: reqwest::header::HeaderMap,
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
}

/// `v1=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under `secret`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookConfig {
    /// The values a sender needs, checked without building it. Errors name the missing or
    /// wrong key, e.g. `sms.webhook.url`.
    pub fn check(&self) -> Result<(), String> {
        self.parts().map(drop)
    }

    fn parts(&self) -> Result<(String, SecretString, reqwest::header::HeaderMap), String> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            let name: reqwest::header::HeaderName = name
                .parse()
                .map_err(|_| format!("sms.webhook.headers.{name}"))?;
            let value = value
                .parse()
                .map_err(|_| format!("sms.webhook.headers.{name}"))?;
            headers.insert(name, value);
        }
        Ok((
            self.url.clone().ok_or("sms.webhook.url")?,
            self.secret.clone().ok_or("sms.webhook.secret")?,
            headers,
        ))
    }
}

impl WebhookSms {
    /// Errors name the missing or wrong key, as [`WebhookConfig::check`].
    pub fn new(config: &WebhookConfig) -> Result<Self, String> {
        let (url, secret, headers) = config.parts()?;
        Ok(Self {
            http: http::client(Duration::from_millis(config.timeout_ms)),
            url,
            secret,
            headers,
        })
    }
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "to": sms.to.as_e164(),
            "body": sms.body,
            "challengeId": sms.challenge_id.to_string(),
            "locale": sms.locale,
        }))
        .expect("a JSON value serialises");
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = self
            .http
            .post(&self.url)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(self.secret.expose_secret().as_bytes(), timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| http::transport("webhook", e))?;
        let status = response.status();
        if status.is_success() {
            let message_id = response
                .json::<Accepted>()
                .await
                .ok()
                .and_then(|a| a.message_id);
            return Ok(SentSms::by("webhook", message_id));
        }
        let what = format!("webhook: HTTP {status}");
        let refused_the_message = status == reqwest::StatusCode::BAD_REQUEST
            || status == reqwest::StatusCode::UNPROCESSABLE_ENTITY;
        if refused_the_message {
            // The gateway refused this message (e.g. the number); another provider would be
            // told the same.
            Err(SmsError::Rejected(what))
        } else {
            // 5xx, 429, 408, and 4xx that say more about this gateway than the number.
            Err(SmsError::Unavailable(anyhow::anyhow!(what)))
        }
    }
}
