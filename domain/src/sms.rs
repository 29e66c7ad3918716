//! What the service remembers of each SMS it sent (or tried to): who carried it, how it went,
//! and what the provider later said about its delivery.

use crate::names::stored_names;
use crate::{ChallengeId, Timestamp};

/// How a send ended at the time of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// A provider accepted the message.
    Accepted,
    /// A provider refused the number for good.
    Rejected,
    /// No provider could take the message.
    Unavailable,
}

/// What a provider later reported about a message it accepted (Twilio's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Undelivered,
    Failed,
}

stored_names!(SendOutcome { Accepted = "ACCEPTED", Rejected = "REJECTED", Unavailable = "UNAVAILABLE" });
stored_names!(DeliveryStatus {
    Queued = "QUEUED",
    Sent = "SENT",
    Delivered = "DELIVERED",
    Undelivered = "UNDELIVERED",
    Failed = "FAILED",
});

/// One send of a challenge's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSend {
    pub challenge_id: ChallengeId,
    pub outcome: SendOutcome,
    /// The provider that carried it (`None` when none did).
    pub provider: Option<String>,
    pub message_id: Option<String>,
    /// Its place in the chain, from 0.
    pub chain_position: Option<u32>,
    /// Requests made to the provider that carried it, retries included.
    pub attempts: u32,
    pub latency_ms: u64,
    pub delivery: Option<DeliveryStatus>,
    pub sent_at: Timestamp,
    /// The SMS segments the message takes (what operators bill).
    pub segments: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_provider_spellings_parse() {
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
        }
        assert_eq!(
            "delivered".parse::<DeliveryStatus>(),
            Ok(DeliveryStatus::Delivered)
        );
        assert!("read".parse::<DeliveryStatus>().is_err());
        for outcome in SendOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<SendOutcome>(), Ok(outcome));
        }
    }
}
