//! How a challenge's latest SMS went, as `getChallenge` shows it.

use chrono::{DateTime, Utc};
use mfa_totp_domain::{DeliveryStatus, SendOutcome, SmsSend};
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object};

use crate::api::example_time;

/// How the send ended when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SmsSendOutcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendOutcomeDto {
    /// A provider accepted the message.
    Accepted,
    /// A provider refused the number for good.
    Rejected,
    /// No provider could take the message.
    Unavailable,
}

/// What the provider reported later about the message's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SmsDeliveryStatus", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatusDto {
    Queued,
    Sent,
    Delivered,
    Undelivered,
    Failed,
}

/// The latest SMS send of a challenge: who carried it and how it went.
#[derive(Debug, Object)]
#[oai(rename = "SmsSend", rename_all = "camelCase", example)]
pub struct SmsSendDto {
    /// How the send ended when it was made.
    pub outcome: SendOutcomeDto,
    /// The provider that carried it (`twilio`, `vonage`, `webhook`, `console`); absent when
    /// none did.
    #[oai(skip_serializing_if_is_none, validator(max_length = 16))]
    pub provider: Option<String>,
    /// The provider's delivery report, once one arrived (Twilio's status callback).
    #[oai(skip_serializing_if_is_none)]
    pub delivery_status: Option<DeliveryStatusDto>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The SMS segments the message takes: what the operator bills.
    #[oai(validator(minimum(value = "1"), maximum(value = "255")))]
    pub segments: u32,
}

impl From<SmsSend> for SmsSendDto {
    fn from(send: SmsSend) -> Self {
        Self {
            outcome: match send.outcome {
                SendOutcome::Accepted => SendOutcomeDto::Accepted,
                SendOutcome::Rejected => SendOutcomeDto::Rejected,
                SendOutcome::Unavailable => SendOutcomeDto::Unavailable,
            },
            provider: send.provider,
            delivery_status: send.delivery.map(|d| match d {
                DeliveryStatus::Queued => DeliveryStatusDto::Queued,
                DeliveryStatus::Sent => DeliveryStatusDto::Sent,
                DeliveryStatus::Delivered => DeliveryStatusDto::Delivered,
                DeliveryStatus::Undelivered => DeliveryStatusDto::Undelivered,
                DeliveryStatus::Failed => DeliveryStatusDto::Failed,
            }),
            sent_at: send.sent_at,
            segments: send.segments.clamp(1, 255),
        }
    }
}

impl Example for SmsSendDto {
    fn example() -> Self {
        Self {
            outcome: SendOutcomeDto::Accepted,
            provider: Some("twilio".into()),
            delivery_status: Some(DeliveryStatusDto::Delivered),
            sent_at: example_time(20),
            segments: 1,
        }
    }
}
