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
    /// A provider refused the message for this number (see `errorCode`); it counts as a send.
    Rejected,
    /// No provider could take the message; it did not count.
    Unavailable,
    /// A provider may have sent it but did not confirm (a timeout); it counts as a send.
    Unknown,
}

/// What the provider reported later about the message's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SmsDeliveryStatus", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatusDto {
    Queued,
    Sent,
    /// Some segments of a long message were delivered (Twilio's `partially_delivered`).
    PartiallyDelivered,
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
    /// The provider that carried it (`twilio`, `vonage`, `webhook`, `console`), or the one
    /// that refused or failed it last.
    #[oai(skip_serializing_if_is_none, validator(max_length = 16))]
    pub provider: Option<String>,
    /// The provider's error code: why it refused the send (Twilio's `21614`, Vonage's `6`,
    /// `HTTP 503`), or why it could not deliver it (Twilio's `ErrorCode`, e.g. `30008`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub error_code: Option<String>,
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
            outcome: send.outcome.into(),
            provider: send.provider,
            error_code: send.error_code,
            delivery_status: send.delivery.map(DeliveryStatusDto::from),
            sent_at: send.sent_at,
            segments: send.segments.clamp(1, 255),
        }
    }
}

impl From<SendOutcome> for SendOutcomeDto {
    fn from(outcome: SendOutcome) -> Self {
        match outcome {
            SendOutcome::Accepted => Self::Accepted,
            SendOutcome::Rejected => Self::Rejected,
            SendOutcome::Unavailable => Self::Unavailable,
            SendOutcome::Unknown => Self::Unknown,
        }
    }
}

impl From<DeliveryStatus> for DeliveryStatusDto {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Queued => Self::Queued,
            DeliveryStatus::Sent => Self::Sent,
            DeliveryStatus::PartiallyDelivered => Self::PartiallyDelivered,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Undelivered => Self::Undelivered,
            DeliveryStatus::Failed => Self::Failed,
        }
    }
}

impl Example for SmsSendDto {
    fn example() -> Self {
        Self {
            outcome: SendOutcomeDto::Accepted,
            provider: Some("twilio".into()),
            error_code: None,
            delivery_status: Some(DeliveryStatusDto::Delivered),
            sent_at: example_time(20),
            segments: 1,
        }
    }
}
