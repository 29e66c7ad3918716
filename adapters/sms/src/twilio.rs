//! Twilio Programmable Messaging: `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded, HTTP Basic `AccountSid:AuthToken`.

use std::time::Duration;

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http;

/// `sms.twilio.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// Twilio's public API unless overridden (tests, Twilio-compatible gateways).
    pub base_url: String,
    pub account_sid: Option<String>,
    pub auth_token: Option<SecretString>,
    /// The sender number; or `messaging_service_sid`.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// Where Twilio posts delivery updates, when set.
    pub status_callback: Option<String>,
    pub timeout_ms: u64,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.twilio.com".into(),
            account_sid: None,
            auth_token: None,
            from: None,
            messaging_service_sid: None,
            status_callback: None,
            timeout_ms: 5_000,
        }
    }
}

/// Twilio's error codes that say this number cannot get this message from anyone: invalid
/// `To` (21211), not a mobile number (21614), unsubscribed with STOP (21610), a region the
/// account may not send to (21408), a number that cannot be routed (21612).
const PERMANENT_CODES: [u64; 5] = [21211, 21614, 21610, 21408, 21612];

pub struct TwilioSms {
    http: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: SecretString,
    sender: Sender,
    status_callback: Option<String>,
}

enum Sender {
    From(String),
    MessagingService(String),
}

#[derive(Deserialize)]
struct Accepted {
    sid: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Refused {
    code: Option<u64>,
    message: Option<String>,
}

impl TwilioSms {
    /// Errors name the missing key, e.g. `sms.twilio.account_sid`.
    pub fn new(config: &TwilioConfig) -> Result<Self, String> {
        let account_sid = config.account_sid.clone().ok_or("sms.twilio.account_sid")?;
        let auth_token = config.auth_token.clone().ok_or("sms.twilio.auth_token")?;
        let sender = match (&config.from, &config.messaging_service_sid) {
            (_, Some(service)) => Sender::MessagingService(service.clone()),
            (Some(from), None) => Sender::From(from.clone()),
            (None, None) => {
                return Err("sms.twilio.from (or sms.twilio.messaging_service_sid)".into());
            }
        };
        Ok(Self {
            http: http::client(Duration::from_millis(config.timeout_ms)),
            url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                config.base_url.trim_end_matches('/')
            ),
            account_sid,
            auth_token,
            sender,
            status_callback: config.status_callback.clone(),
        })
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        let mut form = vec![("To", sms.to.as_e164()), ("Body", sms.body.as_str())];
        match &self.sender {
            Sender::From(from) => form.push(("From", from)),
            Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
        }
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| http::transport("twilio", e))?;
        let status = response.status();
        if status.is_success() {
            let accepted: Accepted = response
                .json()
                .await
                .map_err(|e| http::transport("twilio", e))?;
            return match accepted.status.as_deref() {
                Some("failed" | "undelivered") => Err(SmsError::Unavailable(anyhow::anyhow!(
                    "twilio: the message was {}",
                    accepted.status.unwrap_or_default()
                ))),
                _ => Ok(SentSms::by("twilio", accepted.sid)),
            };
        }
        let refused: Refused = response.json().await.unwrap_or(Refused {
            code: None,
            message: None,
        });
        let what = format!(
            "twilio: HTTP {status}, code {}: {}",
            refused.code.map_or("-".into(), |c| c.to_string()),
            refused.message.unwrap_or_default()
        );
        match refused.code {
            Some(code) if PERMANENT_CODES.contains(&code) => Err(SmsError::Rejected(what)),
            _ => Err(SmsError::Unavailable(anyhow::anyhow!(what))),
        }
    }
}
