//! A generic HTTP provider for in-house gateways: a JSON POST of `{to, body, challengeId,
//! locale}` to a configured URL, signed so that the receiver can trust it, refuse replays
//! and de-duplicate retries.
//!
//! The headers are those of Standard Webhooks (<https://www.standardwebhooks.com>), for which
//! receivers have libraries in most languages:
//! - `webhook-id`: the send's key ([`OutboundSms::send_id`]), the same on every retry of one
//!   send: a receiver that saw it already answers 2xx and sends nothing.
//! - `webhook-timestamp`: the Unix time in seconds of this attempt.
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`,
//!   under the secret: with a `whsec_` secret, the bytes of the base64 after the prefix (as
//!   the libraries read it), else the secret's own bytes.
//!
//! The older headers are still sent: `X-Mfa-Totp-Timestamp` (the same timestamp) and
//! `X-Mfa-Totp-Signature`, `v1=` and the hex HMAC-SHA256 of `{timestamp}.{body}`.
//!
//! The gateway answers 2xx when it took the message; 4xx (other than 401, 407, 408 and 429)
//! when it refuses this message for its number, which is final; 401, 407, 408, 429 or 5xx
//! when it failed, which the chain retries and fails over (504, a proxy that gave up
//! waiting, is an unknown outcome: not retried).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::http::{self, SetupError};

pub const SIGNATURE_HEADER: &str = "x-mfa-totp-signature";
pub const TIMESTAMP_HEADER: &str = "x-mfa-totp-timestamp";
pub use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

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
    gateway: Gateway,
}

/// What the configuration says about the gateway, checked.
struct Gateway {
    url: String,
    secret: SecretString,
    signer: standardwebhooks::Webhook,
    headers: reqwest::header::HeaderMap,
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
}

/// The Standard Webhooks signer of `secret`: a `whsec_` secret is base64 after the prefix, as
/// the receivers' libraries read it; any other secret is its own bytes. `None` for a
/// `whsec_` secret that is not base64.
pub fn standard_signer(secret: &SecretString) -> Option<standardwebhooks::Webhook> {
    let secret = secret.expose_secret();
    if secret.starts_with("whsec_") {
        standardwebhooks::Webhook::new(secret).ok()
    } else {
        standardwebhooks::Webhook::from_bytes(secret.as_bytes().to_vec()).ok()
    }
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
        self.gateway().map(drop)
    }

    fn gateway(&self) -> Result<Gateway, String> {
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
        let secret = self.secret.clone().ok_or("sms.webhook.secret")?;
        let signer = standard_signer(&secret).ok_or("sms.webhook.secret (whsec_ then base64)")?;
        Ok(Gateway {
            url: self.url.clone().ok_or("sms.webhook.url")?,
            secret,
            signer,
            headers,
        })
    }
}

impl WebhookSms {
    /// Errors name the missing or wrong key, as [`WebhookConfig::check`].
    pub fn new(config: &WebhookConfig) -> Result<Self, SetupError> {
        let gateway = config.gateway()?;
        Ok(Self {
            http: http::client("sms.webhook.url", &gateway.url, config.timeout_ms)?,
            gateway,
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
        let standard = self
            .gateway
            .signer
            .sign(&sms.send_id, timestamp as i64, &body)
            .expect("a JSON body is UTF-8");
        let response = mfa_totp_http::send(
            "webhook",
            self.http
                .post(&self.gateway.url)
                .headers(self.gateway.headers.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(HEADER_WEBHOOK_ID, sms.send_id.as_str())
                .header(HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
                .header(HEADER_WEBHOOK_SIGNATURE, standard)
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    SIGNATURE_HEADER,
                    signature(
                        self.gateway.secret.expose_secret().as_bytes(),
                        timestamp,
                        &body,
                    ),
                )
                .body(body),
        )
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
        if let Some(error) = http::provider_side("webhook", status) {
            return Err(error);
        }
        let answer = http::status_answer("webhook", status, "");
        if status.is_client_error() {
            // The gateway judged this message (the number, say); another provider would be
            // told the same.
            Err(SmsError::Refused(answer))
        } else {
            Err(SmsError::Unavailable(answer))
        }
    }
}
