//! Twilio Programmable Messaging: `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded, HTTP Basic `AccountSid:AuthToken`.

use std::time::Duration;

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};
use mfa_totp_domain::DeliveryStatus;
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

impl TwilioConfig {
    /// The values a sender needs, checked without building it. Errors name the missing key,
    /// e.g. `sms.twilio.account_sid`.
    pub fn check(&self) -> Result<(), String> {
        self.parts().map(drop)
    }

    fn parts(&self) -> Result<(String, SecretString, Sender), String> {
        let account_sid = self.account_sid.clone().ok_or("sms.twilio.account_sid")?;
        let auth_token = self.auth_token.clone().ok_or("sms.twilio.auth_token")?;
        let sender = match (&self.from, &self.messaging_service_sid) {
            (_, Some(service)) => Sender::MessagingService(service.clone()),
            (Some(from), None) => Sender::From(from.clone()),
            (None, None) => {
                return Err("sms.twilio.from (or sms.twilio.messaging_service_sid)".into());
            }
        };
        Ok((account_sid, auth_token, sender))
    }
}

impl TwilioSms {
    /// Errors name the missing key, as [`TwilioConfig::check`].
    pub fn new(config: &TwilioConfig) -> Result<Self, String> {
        let (account_sid, auth_token, sender) = config.parts()?;
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

/// Twilio's signature of a request to `url` with these form `params`: base64 of
/// HMAC-SHA1, under the auth token, of the URL followed by every parameter's name and value,
/// sorted by name. What Twilio sends as `X-Twilio-Signature`.
pub fn twilio_signature(
    auth_token: &SecretString,
    url: &str,
    params: &[(String, String)],
) -> String {
    use base64::Engine;
    use hmac::Mac;
    base64::engine::general_purpose::STANDARD
        .encode(signing_mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `signature` is [`twilio_signature`] of the request, compared in constant time.
pub fn is_twilio_signature(
    auth_token: &SecretString,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    signing_mac(auth_token, url, params)
        .verify_slice(&given)
        .is_ok()
}

fn signing_mac(
    auth_token: &SecretString,
    url: &str,
    params: &[(String, String)],
) -> hmac::Hmac<sha1::Sha1> {
    use hmac::{KeyInit, Mac};
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Twilio's message statuses, in the service's terms.
pub fn delivery_status(twilio: &str) -> Option<DeliveryStatus> {
    Some(match twilio {
        "accepted" | "scheduled" | "queued" | "sending" => DeliveryStatus::Queued,
        "sent" => DeliveryStatus::Sent,
        "delivered" | "read" => DeliveryStatus::Delivered,
        "undelivered" => DeliveryStatus::Undelivered,
        "failed" | "canceled" => DeliveryStatus::Failed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_twilio_status_has_a_delivery_status() {
        for status in [
            "queued",
            "sending",
            "sent",
            "delivered",
            "undelivered",
            "failed",
        ] {
            assert!(delivery_status(status).is_some(), "{status}");
        }
        assert_eq!(
            delivery_status("delivered"),
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(delivery_status("bogus"), None);
    }

    /// Twilio's own example from its security documentation.
    #[test]
    fn twilio_signature_matches_twilios_documented_example() {
        let token = SecretString::from("12345");
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            twilio_signature(&token, url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(is_twilio_signature(
            &token,
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!is_twilio_signature(
            &token,
            url,
            &params,
            "1/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!is_twilio_signature(
            &token,
            "https://mycompany.com/other",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!is_twilio_signature(
            &token,
            url,
            &params[1..],
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }
}
