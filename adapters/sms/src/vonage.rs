//! Vonage SMS API: `POST {base_url}/sms/json`, form-encoded, the credentials in the form.
//! Success and failure both come as HTTP 200; `messages[].status` says which (`"0"` is ok).

use std::time::Duration;

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http;

/// `sms.vonage.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VonageConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub api_secret: Option<SecretString>,
    pub from: Option<String>,
    pub timeout_ms: u64,
}

impl Default for VonageConfig {
    fn default() -> Self {
        Self {
            base_url: "https://rest.nexmo.com".into(),
            api_key: None,
            api_secret: None,
            from: None,
            timeout_ms: 5_000,
        }
    }
}

/// Vonage statuses that say this number cannot get the message from anyone, the way
/// Twilio's number codes are mapped: invalid message or unroutable number (6), number barred
/// (7).
const PERMANENT_STATUSES: [&str; 2] = ["6", "7"];

pub struct VonageSms {
    http: reqwest::Client,
    url: String,
    api_key: String,
    api_secret: SecretString,
    from: String,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    status: String,
    #[serde(rename = "message-id")]
    message_id: Option<String>,
    #[serde(rename = "error-text")]
    error_text: Option<String>,
}

impl VonageConfig {
    /// The values a sender needs, checked without building it. Errors name the missing key,
    /// e.g. `sms.vonage.api_key`.
    pub fn check(&self) -> Result<(), String> {
        self.parts().map(drop)
    }

    fn parts(&self) -> Result<(String, SecretString, String), String> {
        Ok((
            self.api_key.clone().ok_or("sms.vonage.api_key")?,
            self.api_secret.clone().ok_or("sms.vonage.api_secret")?,
            self.from.clone().ok_or("sms.vonage.from")?,
        ))
    }
}

impl VonageSms {
    /// Errors name the missing key, as [`VonageConfig::check`].
    pub fn new(config: &VonageConfig) -> Result<Self, String> {
        let (api_key, api_secret, from) = config.parts()?;
        Ok(Self {
            http: http::client(Duration::from_millis(config.timeout_ms)),
            url: format!("{}/sms/json", config.base_url.trim_end_matches('/')),
            api_key,
            api_secret,
            from,
        })
    }
}

#[async_trait]
impl SmsSender for VonageSms {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        // Vonage takes the number in international format without the `+`.
        let to = sms.to.as_e164().trim_start_matches('+');
        let form = [
            ("api_key", self.api_key.as_str()),
            ("api_secret", self.api_secret.expose_secret()),
            ("from", self.from.as_str()),
            ("to", to),
            ("text", sms.body.as_str()),
        ];
        let response = self
            .http
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| http::transport("vonage", e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SmsError::Unavailable(anyhow::anyhow!(
                "vonage: HTTP {status}"
            )));
        }
        let reply: Reply = response
            .json()
            .await
            .map_err(|e| http::transport("vonage", e))?;
        let Some(message) = reply.messages.into_iter().next() else {
            return Err(SmsError::Unavailable(anyhow::anyhow!(
                "vonage: no message in the reply"
            )));
        };
        if message.status == "0" {
            return Ok(SentSms::by("vonage", message.message_id));
        }
        let what = format!(
            "vonage: status {}: {}",
            message.status,
            message.error_text.unwrap_or_default()
        );
        if PERMANENT_STATUSES.contains(&message.status.as_str()) {
            Err(SmsError::Rejected(what))
        } else {
            Err(SmsError::Unavailable(anyhow::anyhow!(what)))
        }
    }
}
