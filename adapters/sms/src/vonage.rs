//! Vonage SMS API: `POST {base_url}/sms/json`, form-encoded, the credentials in the form.
//! Success and failure both come as HTTP 200; `messages[].status` says which (`"0"` is ok).

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, ProviderAnswer, SentSms, SmsError, SmsSender};
use mfa_totp_domain::{Encoding, MessageCost};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{self, SetupError};

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

/// Vonage's `messages[].status` values that say this message cannot reach this number from
/// anyone: invalid parameters (3, Vonage's answer to an invalid `to`), invalid message or
/// unroutable number (6), number barred (7), message too long (12), invalid network code
/// (22), a destination not on the account's list (29), number de-activated (33). Refused,
/// final. Every other non-zero status (throttled, credentials, our account's balance or
/// sender, Vonage's internal error, ...) is a failure of the provider: retried, then handed
/// to the next provider.
const REFUSED_STATUSES: [&str; 7] = ["3", "6", "7", "12", "22", "29", "33"];

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
    pub fn new(config: &VonageConfig) -> Result<Self, SetupError> {
        let (api_key, api_secret, from) = config.parts()?;
        Ok(Self {
            http: http::client("sms.vonage.base_url", &config.base_url, config.timeout_ms)?,
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
        let mut form = vec![
            ("api_key", self.api_key.as_str()),
            ("api_secret", self.api_secret.expose_secret()),
            ("from", self.from.as_str()),
            ("to", to),
            ("text", sms.body.as_str()),
        ];
        // Vonage's `type` defaults to `text` (GSM-7): a text that needs UCS-2 would arrive
        // garbled without `unicode`.
        if MessageCost::of(&sms.body).encoding == Encoding::Ucs2 {
            form.push(("type", "unicode"));
        }
        let response = mfa_totp_http::send("vonage", self.http.post(&self.url).form(&form))
            .await
            .map_err(|e| http::transport("vonage", e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(http::provider_side("vonage", status).unwrap_or_else(|| {
                SmsError::Unavailable(http::status_answer("vonage", status, ""))
            }));
        }
        // Any 2xx that does not name a refusal: Vonage took the message.
        let reply = match response.json::<Reply>().await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "vonage accepted the message with an unreadable body");
                return Ok(SentSms::by("vonage", None));
            }
        };
        // A long text goes as several parts, one status each: taken if any part was.
        if reply.messages.is_empty() || reply.messages.iter().any(|m| m.status == "0") {
            let id = reply.messages.into_iter().find_map(|m| m.message_id);
            return Ok(SentSms::by("vonage", id));
        }
        let message = reply.messages.into_iter().next().expect("not empty");
        let answer = ProviderAnswer::new(
            "vonage",
            Some(message.status.clone()),
            message.error_text.unwrap_or_default(),
        );
        if REFUSED_STATUSES.contains(&message.status.as_str()) {
            Err(SmsError::Refused(answer))
        } else {
            Err(SmsError::Unavailable(answer))
        }
    }
}
