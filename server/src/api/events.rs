//! The events pushed to operation services (`events.subscribers`), as the spec publishes
//! them: no operation serves them, so they are added to its schemas (`WebhookEvent`). The
//! body is what `mfa_totp_events::payload` writes; a test checks each type against this
//! schema.

use chrono::{DateTime, Utc};
use mfa_totp_domain::{ChallengeEvent, ChallengeId, EventType, UserId};
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object};

use crate::api::params::{OperationRule, Text, UserIdRule};
use crate::api::sms_send::DeliveryStatusDto;
use crate::api::{EXAMPLE_CHALLENGE_ID, example_digest, example_time};

/// What happened, as `events.subscribers.<sub>.events` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WebhookEventType")]
pub enum WebhookEventType {
    /// The user typed the right code.
    #[oai(rename = "challenge.verified")]
    ChallengeVerified,
    /// Too many wrong codes.
    #[oai(rename = "challenge.locked")]
    ChallengeLocked,
    /// The challenge's TTL ended before it was verified.
    #[oai(rename = "challenge.expired")]
    ChallengeExpired,
    /// The operation service cancelled it.
    #[oai(rename = "challenge.cancelled")]
    ChallengeCancelled,
    /// The verified context was handed over by `:consume`.
    #[oai(rename = "challenge.consumed")]
    ChallengeConsumed,
    /// The SMS provider reported that the code's SMS did not reach the phone
    /// (`deliveryStatus` `UNDELIVERED` or `FAILED`).
    #[oai(rename = "sms.undelivered")]
    SmsUndelivered,
}

impl From<EventType> for WebhookEventType {
    fn from(kind: EventType) -> Self {
        match kind {
            EventType::ChallengeVerified => Self::ChallengeVerified,
            EventType::ChallengeLocked => Self::ChallengeLocked,
            EventType::ChallengeExpired => Self::ChallengeExpired,
            EventType::ChallengeCancelled => Self::ChallengeCancelled,
            EventType::ChallengeConsumed => Self::ChallengeConsumed,
            EventType::SmsUndelivered => Self::SmsUndelivered,
        }
    }
}

/// An event `POST`ed to the operation service that created the challenge, as a Standard
/// Webhook: the request carries `webhook-id` (the event's id, the same on every attempt:
/// de-duplicate by it), `webhook-timestamp` (this attempt's Unix time in seconds) and
/// `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`
/// under the subscriber's `whsec_` secret). Verify it with the `standardwebhooks` library.
/// A 2xx answer delivers it; anything else is retried with backoff. Events of one challenge
/// arrive in order. Fields: `type` (`WebhookEventType`), `data` (`WebhookEventData`).
#[derive(Debug, Object)]
#[oai(example)]
pub struct WebhookEvent {
    /// What happened.
    #[oai(rename = "type")]
    pub event_type: WebhookEventType,
    /// When it happened (not when it was delivered).
    pub timestamp: DateTime<Utc>,
    /// What it happened to.
    pub data: WebhookEventData,
}

/// The challenge an event is about, and the step-up request context it authorises.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct WebhookEventData {
    /// A hyphenated UUID.
    #[oai(validator(max_length = 36, pattern = "^[0-9a-f-]{36}$"))]
    pub challenge_id: String,
    /// The user the challenge is for.
    pub subject_user_id: Text<UserIdRule>,
    /// `stepUpRequestContext.operation`.
    pub operation: Text<OperationRule>,
    /// SHA-256 (lower-case hex) of the context's canonical JSON (RFC 8785), as
    /// `getChallenge` and the step-up assertion give it.
    #[oai(validator(pattern = "^[0-9a-f]{64}$", max_length = 64))]
    pub context_digest: String,
    /// For `sms.undelivered`: the status the provider reported.
    #[oai(skip_serializing_if_is_none)]
    pub delivery_status: Option<DeliveryStatusDto>,
    /// For `sms.undelivered`: the provider's error code (Twilio's `30008`, ...), when it
    /// gave one.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub error_code: Option<String>,
}

/// The spec's example event: the example challenge verified 45 s after its birth.
pub fn example_event() -> ChallengeEvent {
    let challenge_id = ChallengeId::parse(EXAMPLE_CHALLENGE_ID).expect("a UUID");
    ChallengeEvent {
        id: mfa_totp_domain::event_id(challenge_id, 1),
        event_type: EventType::ChallengeVerified,
        at: example_time(45),
        challenge_id,
        subject: UserId::parse("alice").expect("a user id"),
        operation: "payments.transfer".into(),
        context_digest: example_digest(),
        delivery: None,
    }
}

impl Example for WebhookEvent {
    fn example() -> Self {
        let event = example_event();
        Self {
            event_type: event.event_type.into(),
            timestamp: event.at,
            data: WebhookEventData::example(),
        }
    }
}

impl Example for WebhookEventData {
    fn example() -> Self {
        let event = example_event();
        Self {
            challenge_id: event.challenge_id.to_string(),
            subject_user_id: Text::new(event.subject.to_string()),
            operation: Text::new(event.operation),
            context_digest: event.context_digest,
            delivery_status: None,
            error_code: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use mfa_totp_domain::DeliveryStatus;
    use poem_openapi::types::ToJSON;

    use super::*;

    /// The published spec with its schemas resolvable from a root that is `WebhookEvent`.
    fn schema() -> serde_json::Value {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::app::published_spec().unwrap()).unwrap();
        let mut root = spec["components"]["schemas"]["WebhookEvent"].clone();
        root["components"] = spec["components"].clone();
        root
    }

    #[test]
    fn every_event_the_sender_writes_matches_the_published_schema() {
        let validator = jsonschema::validator_for(&schema()).unwrap();
        for kind in EventType::ALL {
            let mut event = ChallengeEvent {
                event_type: kind,
                ..example_event()
            };
            if kind == EventType::SmsUndelivered {
                event.delivery = Some((DeliveryStatus::Undelivered, Some("30008".into())));
            }
            let body = mfa_totp_events::payload(&event);
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{kind}: {errors:?}\n{body}");
            assert_eq!(
                WebhookEventType::from(kind).to_json(),
                Some(serde_json::json!(kind.as_str()))
            );
        }
        let example = WebhookEvent::example().to_json().unwrap();
        let sent = mfa_totp_events::payload(&example_event());
        assert_eq!(
            (&example["type"], &example["data"]),
            (&sent["type"], &sent["data"])
        );
        let instant =
            |v: &serde_json::Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
        assert_eq!(instant(&example["timestamp"]), instant(&sent["timestamp"]));
        let wrong = serde_json::json!({"type": "challenge.created", "timestamp": "2026-12-05T00:00:00Z", "data": example["data"]});
        assert!(!validator.is_valid(&wrong));
    }
}
