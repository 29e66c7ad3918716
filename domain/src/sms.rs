//! What the service remembers of each SMS it sent (or tried to): who carried it, how it went,
//! and what the provider later said about its delivery.

use crate::names::stored_names;
use crate::{ChallengeId, Timestamp};

/// How a send ended at the time of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// A provider accepted the message.
    Accepted,
    /// A provider refused the message for this number (invalid, a landline, unsubscribed,
    /// ...): final for the send, and charged like one.
    Rejected,
    /// No provider could take the message, and none was asked who may have sent it.
    Unavailable,
    /// A provider may have sent it but did not say (a timeout after the request went out):
    /// charged like a send, and not tried elsewhere.
    Unknown,
}

/// What a provider later reported about a message it accepted (Twilio's statuses), in the
/// order a message moves through them: see [`DeliveryStatus::stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Queued,
    Sent,
    PartiallyDelivered,
    Delivered,
    Undelivered,
    Failed,
}

stored_names!(SendOutcome {
    Accepted = "ACCEPTED",
    Rejected = "REJECTED",
    Unavailable = "UNAVAILABLE",
    Unknown = "UNKNOWN",
});
stored_names!(DeliveryStatus {
    Queued = "QUEUED",
    Sent = "SENT",
    PartiallyDelivered = "PARTIALLY_DELIVERED",
    Delivered = "DELIVERED",
    Undelivered = "UNDELIVERED",
    Failed = "FAILED",
});

impl DeliveryStatus {
    /// Where the status stands in a message's life: queued (1), handed to the carrier (2),
    /// some segments delivered (3), final (4: delivered, undelivered or failed). A report
    /// moves a message's status only to a later stage, so a late or replayed report cannot
    /// take it back, and a final status is never replaced.
    pub fn stage(self) -> u8 {
        match self {
            Self::Queued => 1,
            Self::Sent => 2,
            Self::PartiallyDelivered => 3,
            Self::Delivered | Self::Undelivered | Self::Failed => 4,
        }
    }

    /// The statuses a report of `self` may replace: those of an earlier stage.
    pub fn replaces(self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|earlier| earlier.stage() < self.stage())
            .collect()
    }
}

/// `text` with every run of digits that could be a phone number (six digits or more, with
/// or without `+`, spaces, dots, dashes, slashes or brackets between them) replaced by
/// `[number]`. For what providers write back: their error texts quote the number
/// (Twilio's 21211: "The 'To' number 5551234567 is not a valid phone number.").
pub fn redact_numbers(text: &str) -> String {
    static RUN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\+?\(?\d(?:[\s().\-/]{0,3}\d){5,}").expect("a valid pattern")
    });
    RUN.replace_all(text, "[number]").into_owned()
}

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
    /// The provider's error code: why it refused the send, or why it could not deliver it
    /// (Twilio's `ErrorCode`, Vonage's `status`, the gateway's HTTP status).
    pub error_code: Option<String>,
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

    #[test]
    fn a_status_replaces_only_earlier_stages() {
        use DeliveryStatus::*;
        assert_eq!(Queued.replaces(), Vec::<DeliveryStatus>::new());
        assert_eq!(Sent.replaces(), vec![Queued]);
        assert_eq!(Delivered.replaces(), vec![Queued, Sent, PartiallyDelivered]);
        assert_eq!(Failed.replaces(), vec![Queued, Sent, PartiallyDelivered]);
        assert!(!Queued.replaces().contains(&Delivered));
    }

    #[test]
    fn numbers_in_provider_text_are_redacted() {
        for (text, redacted) in [
            (
                "The 'To' number 5551234567 is not a valid phone number.",
                "The 'To' number [number] is not a valid phone number.",
            ),
            (
                "The 'To' number +15551234567 is not a valid phone number.",
                "The 'To' number [number] is not a valid phone number.",
            ),
            (
                "Call (555) 123-4567 or +44 7400 123123",
                "Call [number] or [number]",
            ),
            (
                "to 447400123123: Non White-listed Destination",
                "to [number]: Non White-listed Destination",
            ),
            ("a 5.123.456.789 b", "a [number] b"),
        ] {
            assert_eq!(redact_numbers(text), redacted);
        }
        // An error code, an HTTP status or a short count stays readable.
        for kept in [
            "HTTP 400, code 21211: invalid",
            "error 30008",
            "retry in 12345 ms",
        ] {
            assert_eq!(redact_numbers(kept), kept);
        }
    }
}
