//! Twilio Programmable Messaging: `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded, HTTP Basic `AccountSid:AuthToken`.

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, ProviderAnswer, SentSms, SmsError, SmsSender};
use mfa_totp_domain::DeliveryStatus;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{self, SetupError};

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

/// Twilio's error codes that say our account or sender, not the recipient, is wrong:
/// authentication (20003), account suspended or not active (20005, 30002), not allowed
/// (20403), unknown resource (20404, a wrong account SID), too many requests (20429,
/// 14107), the `From` number invalid, missing, not SMS-capable, not ours or not of this
/// account (21212, 21603, 21606, 21659, 21660, 21661), the messaging service missing or
/// without senders (21701-21707, 21710). A send that gets one failed at the provider: it is retried
/// and handed to the next provider. Any other error code Twilio answers with a 4xx is about
/// this message (the number: 21211 invalid, 21614 not a mobile, 21635 a landline, 21610
/// unsubscribed, 21266 the same as `From`, 21408 a region not enabled, ...): refused, final.
const ACCOUNT_CODES: [u64; 21] = [
    14107, 20003, 20005, 20403, 20404, 20429, 21212, 21603, 21606, 21659, 21660, 21661, 21701,
    21702, 21703, 21704, 21705, 21706, 21707, 21710, 30002,
];

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
    pub fn new(config: &TwilioConfig) -> Result<Self, SetupError> {
        let (account_sid, auth_token, sender) = config.parts()?;
        Ok(Self {
            http: http::client("sms.twilio.base_url", &config.base_url, config.timeout_ms)?,
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
        let response = mfa_totp_http::send(
            "twilio",
            self.http
                .post(&self.url)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .form(&form),
        )
        .await
        .map_err(|e| http::transport("twilio", e))?;
        let status = response.status();
        if status.is_success() {
            // Any 2xx: Twilio took the message, even if the body cannot be read.
            let sid = match response.json::<Accepted>().await {
                Ok(accepted) => accepted.sid,
                Err(error) => {
                    tracing::warn!(error = %error.without_url(), "twilio accepted the message with an unreadable body");
                    None
                }
            };
            return Ok(SentSms::by("twilio", sid));
        }
        if let Some(error) = http::provider_side("twilio", status) {
            return Err(error);
        }
        let body = response.text().await.unwrap_or_default();
        let Ok(Refused {
            code: Some(code),
            message,
        }) = serde_json::from_str::<Refused>(&body)
        else {
            // Not Twilio's error document: whatever answered is not Twilio at work.
            return Err(SmsError::Unavailable(http::status_answer(
                "twilio",
                status,
                http::unreadable(status, &body),
            )));
        };
        let answer = ProviderAnswer::new(
            "twilio",
            Some(code.to_string()),
            format!("HTTP {}: {}", status.as_u16(), message.unwrap_or_default()),
        );
        if ACCOUNT_CODES.contains(&code) {
            Err(SmsError::Unavailable(answer))
        } else {
            Err(SmsError::Refused(answer))
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

/// Whether `signature` is [`twilio_signature`] of the request, compared in constant time,
/// over `url` as configured or with its port the other way ([`port_variant`]): Twilio signs
/// `https://host/…` for some requests and `https://host:443/…` for others, and its own
/// `RequestValidator` accepts both.
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
    let matches = |url: &str| {
        signing_mac(auth_token, url, params)
            .verify_slice(&given)
            .is_ok()
    };
    // Both are computed, so that the time taken does not say which form matched.
    let as_given = matches(url);
    let other = port_variant(url).is_some_and(|variant| matches(&variant));
    as_given | other
}

/// `url` with its port removed when it has one, or with the scheme's default port added
/// when it has none (`https` 443, `http` 80); `None` for a URL of another scheme.
pub fn port_variant(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, host_port) = authority.split_at(host_start);
    // A port follows the last ':' that is after any IPv6 literal's ']'.
    let port_colon = host_port
        .rfind(':')
        .filter(|colon| host_port.rfind(']').is_none_or(|bracket| *colon > bracket));
    let host_port = match port_colon {
        Some(colon) => host_port[..colon].to_owned(),
        None => format!("{host_port}:{default_port}"),
    };
    Some(format!("{scheme}://{userinfo}{host_port}{path}"))
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

/// Twilio's message statuses, in the service's terms; `None` for one this service does not
/// know (Twilio adds statuses now and then), which is taken and changes nothing.
pub fn delivery_status(twilio: &str) -> Option<DeliveryStatus> {
    Some(match twilio {
        "accepted" | "scheduled" | "queued" | "sending" => DeliveryStatus::Queued,
        "sent" => DeliveryStatus::Sent,
        "partially_delivered" => DeliveryStatus::PartiallyDelivered,
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
            "partially_delivered",
            "read",
            "canceled",
            "accepted",
            "scheduled",
        ] {
            assert!(delivery_status(status).is_some(), "{status}");
        }
        assert_eq!(
            delivery_status("delivered"),
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(delivery_status("bogus"), None);
    }

    #[test]
    fn the_port_variant_adds_the_default_port_or_removes_the_one_given() {
        for (url, variant) in [
            (
                "https://mfa.example/cb?x=1",
                "https://mfa.example:443/cb?x=1",
            ),
            ("https://mfa.example:443/cb", "https://mfa.example/cb"),
            ("http://mfa.example:8080/cb", "http://mfa.example/cb"),
            ("http://mfa.example", "http://mfa.example:80"),
            ("https://u:p@[::1]/cb", "https://u:p@[::1]:443/cb"),
            ("https://[::1]:8443/cb", "https://[::1]/cb"),
        ] {
            assert_eq!(port_variant(url).as_deref(), Some(variant), "{url}");
        }
        assert_eq!(port_variant("ftp://x/y"), None);
    }

    #[test]
    fn a_signature_over_either_port_form_is_accepted_and_no_other() {
        let token = SecretString::from("12345");
        let params = vec![("MessageSid".to_owned(), "SM1".to_owned())];
        let signed_with_port = twilio_signature(&token, "https://mfa.example:443/status", &params);
        assert!(is_twilio_signature(
            &token,
            "https://mfa.example/status",
            &params,
            &signed_with_port
        ));
        let signed_without = twilio_signature(&token, "https://mfa.example/status", &params);
        assert!(is_twilio_signature(
            &token,
            "https://mfa.example:443/status",
            &params,
            &signed_without
        ));
        let other_port = twilio_signature(&token, "https://mfa.example:8443/status", &params);
        assert!(!is_twilio_signature(
            &token,
            "https://mfa.example/status",
            &params,
            &other_port
        ));
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
