//! Events pushed to operation services, as Standard Webhooks (standardwebhooks.com): a JSON
//! `POST` of `{type, timestamp, data}` to the subscriber's URL with
//! - `webhook-id`: the event's id, the same on every attempt;
//! - `webhook-timestamp`: the Unix time in seconds of this attempt;
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under
//!   the subscriber's `whsec_` secret (the official `standardwebhooks` crate signs it).
//!
//! A 2xx answer delivers the event; anything else (another status, a timeout, a refused
//! connection) is a failed attempt, which the dispatcher retries.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use mfa_totp_application::{EventError, EventSender};
use mfa_totp_domain::{ChallengeEvent, ClientId};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// One subscriber as configured: where its events go and the secret they are signed with.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// The `events.subscribers.<sub>` key it was configured under, for error messages.
    pub setting: String,
    pub url: String,
    /// `whsec_` and the base64 of the key.
    pub secret: SecretString,
}

struct Subscriber {
    url: String,
    http: reqwest::Client,
    signer: standardwebhooks::Webhook,
}

/// Delivers events to the configured subscribers.
pub struct WebhookEvents {
    subscribers: HashMap<ClientId, Subscriber>,
}

impl WebhookEvents {
    /// Errors name the setting that is wrong (`events.subscribers.<sub>.secret`).
    pub fn new(
        subscribers: HashMap<ClientId, SubscriberConfig>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let subscribers = subscribers
            .into_iter()
            .map(|(client, config)| {
                let signer = signer(&config.secret)
                    .ok_or_else(|| format!("{}.secret: not whsec_ then base64", config.setting))?;
                let url_key = format!("{}.url", config.setting);
                let http = mfa_totp_http::client(mfa_totp_http::Target::new(
                    &url_key,
                    &config.url,
                    timeout,
                ))
                .map_err(|e| e.to_string())?;
                Ok((
                    client,
                    Subscriber {
                        url: config.url,
                        http,
                        signer,
                    },
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { subscribers })
    }
}

/// The signer of a `whsec_` secret; `None` when it is not one.
pub fn signer(secret: &SecretString) -> Option<standardwebhooks::Webhook> {
    let secret = secret.expose_secret();
    secret
        .strip_prefix("whsec_")
        .filter(|key| !key.is_empty())
        .and_then(|_| standardwebhooks::Webhook::new(secret).ok())
}

/// The body of `event`: `{type, timestamp, data}`, as the spec's `WebhookEvent` describes.
pub fn payload(event: &ChallengeEvent) -> Value {
    let mut data = json!({
        "challengeId": event.challenge_id.to_string(),
        "subjectUserId": event.subject.as_str(),
        "operation": event.operation,
        "contextDigest": event.context_digest,
    });
    if let Some((status, code)) = &event.delivery {
        data["deliveryStatus"] = json!(status.as_str());
        if let Some(code) = code {
            data["errorCode"] = json!(code);
        }
    }
    json!({
        "type": event.event_type.as_str(),
        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
}

fn failed(code: impl Into<String>, detail: impl Into<String>) -> EventError {
    EventError {
        code: code.into(),
        detail: detail.into(),
        permanent: false,
    }
}

#[async_trait]
impl EventSender for WebhookEvents {
    async fn deliver(
        &self,
        subscriber: &ClientId,
        event: &ChallengeEvent,
    ) -> Result<(), EventError> {
        let Some(target) = self.subscribers.get(subscriber) else {
            return Err(EventError {
                code: "unsubscribed".into(),
                detail: format!("events.subscribers.{subscriber} is not configured"),
                permanent: true,
            });
        };
        let body = serde_json::to_vec(&payload(event)).expect("a JSON value serialises");
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        let signature = target
            .signer
            .sign(&event.id, timestamp, &body)
            .map_err(|e| failed("signing", e.to_string()))?;
        let request = target
            .http
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = mfa_totp_http::send("event-subscriber", request)
            .await
            .map_err(|e| {
                let code = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                failed(code, mfa_totp_http::chain(&e))
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(failed(
                format!("HTTP {}", status.as_u16()),
                format!("the subscriber answered {status}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_totp_domain::{ChallengeId, DeliveryStatus, EventType, UserId};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn event(event_type: EventType) -> ChallengeEvent {
        ChallengeEvent {
            id: "0b8f4f0e-5a5e-8c2b-9d1e-2f3a4b5c6d7e".into(),
            event_type,
            at: chrono::DateTime::from_timestamp_millis(1_800_000_000_123).unwrap(),
            challenge_id: ChallengeId::generate(),
            subject: UserId::parse("alice").unwrap(),
            operation: "payments.transfer".into(),
            context_digest: "sha256:abc".into(),
            delivery: None,
        }
    }

    fn events_to(url: &str) -> WebhookEvents {
        let config = SubscriberConfig {
            setting: "events.subscribers.payments".into(),
            url: url.into(),
            secret: SecretString::from(SECRET),
        };
        let client = ClientId::parse("payments").unwrap();
        WebhookEvents::new(HashMap::from([(client, config)]), Duration::from_secs(2)).unwrap()
    }

    #[tokio::test]
    async fn an_event_is_posted_signed_as_standard_webhooks_check_it() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/events"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let sent = event(EventType::ChallengeVerified);
        events_to(&format!("{}/events", server.uri()))
            .deliver(&ClientId::parse("payments").unwrap(), &sent)
            .await
            .unwrap();
        let request = &server.received_requests().await.unwrap()[0];
        let mut headers = http::HeaderMap::new();
        for (name, value) in request.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
        assert_eq!(headers["webhook-id"], sent.id.as_str());
        assert!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,")
        );
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(&request.body, &headers)
            .expect("the official verifier accepts the signature");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "challenge.verified");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00.123Z");
        assert_eq!(body["data"]["challengeId"], sent.challenge_id.to_string());
        assert_eq!(body["data"]["subjectUserId"], "alice");
        assert_eq!(body["data"]["contextDigest"], "sha256:abc");
        assert!(body["data"].get("deliveryStatus").is_none());
    }

    #[tokio::test]
    async fn a_refusal_a_dead_port_and_an_unknown_subscriber_are_failures_with_their_codes() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
            .mount(&server)
            .await;
        let payments = ClientId::parse("payments").unwrap();
        let error = events_to(&server.uri())
            .deliver(&payments, &event(EventType::ChallengeLocked))
            .await
            .unwrap_err();
        assert_eq!((error.code.as_str(), error.permanent), ("HTTP 500", false));
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", dead.local_addr().unwrap());
        drop(dead);
        let error = events_to(&url)
            .deliver(&payments, &event(EventType::ChallengeLocked))
            .await
            .unwrap_err();
        assert_eq!(error.code, "connect");
        let error = events_to(&url)
            .deliver(
                &ClientId::parse("other").unwrap(),
                &event(EventType::ChallengeLocked),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (error.code.as_str(), error.permanent),
            ("unsubscribed", true)
        );
    }

    #[test]
    fn an_undelivered_sms_names_its_status_and_code() {
        let mut undelivered = event(EventType::SmsUndelivered);
        undelivered.delivery = Some((DeliveryStatus::Undelivered, Some("30008".into())));
        let body = payload(&undelivered);
        assert_eq!(body["type"], "sms.undelivered");
        assert_eq!(body["data"]["deliveryStatus"], "UNDELIVERED");
        assert_eq!(body["data"]["errorCode"], "30008");
    }

    #[test]
    fn only_whsec_secrets_sign() {
        assert!(signer(&SecretString::from(SECRET)).is_some());
        for bad in [
            "",
            "whsec_",
            "whsec_not base64!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert!(signer(&SecretString::from(bad)).is_none(), "{bad}");
        }
    }
}
