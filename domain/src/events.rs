//! Events pushed to operation services: which audited changes of a challenge its creator is
//! told about, and under which id. An event is an audit event with a subscriber: it is
//! recorded by the change it reports, in the same transaction, and delivered from the trail.

use crate::names::stored_names;
use crate::{AuditEvent, AuditKind, AuditOutcome, ChallengeId, DeliveryStatus, Timestamp, UserId};

/// What an operation service can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    ChallengeVerified,
    ChallengeLocked,
    ChallengeExpired,
    ChallengeCancelled,
    ChallengeConsumed,
    /// A provider reported that the code's SMS did not reach the phone.
    SmsUndelivered,
}

stored_names!(EventType {
    ChallengeVerified = "challenge.verified",
    ChallengeLocked = "challenge.locked",
    ChallengeExpired = "challenge.expired",
    ChallengeCancelled = "challenge.cancelled",
    ChallengeConsumed = "challenge.consumed",
    SmsUndelivered = "sms.undelivered",
});

impl EventType {
    /// The event an audited change is pushed as, if any: the five final changes of a
    /// challenge, and a delivery report that says the SMS did not arrive (`UNDELIVERED`,
    /// `FAILED`).
    pub fn of(event: &AuditEvent) -> Option<Self> {
        event.challenge_id?;
        match (event.kind, event.outcome) {
            (AuditKind::Verified, _) => Some(Self::ChallengeVerified),
            (AuditKind::Locked, _) => Some(Self::ChallengeLocked),
            (AuditKind::Expired, _) => Some(Self::ChallengeExpired),
            (AuditKind::Cancelled, _) => Some(Self::ChallengeCancelled),
            (AuditKind::Consumed, _) => Some(Self::ChallengeConsumed),
            (
                AuditKind::DeliveryReported,
                AuditOutcome::Delivery(DeliveryStatus::Undelivered | DeliveryStatus::Failed),
            ) => Some(Self::SmsUndelivered),
            _ => None,
        }
    }
}

/// One event as its subscriber receives it: what happened to which challenge, when, and the
/// request context it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeEvent {
    /// Stable across every attempt to deliver it (the `webhook-id`): see [`event_id`].
    pub id: String,
    pub event_type: EventType,
    /// When the change happened (not when it is delivered).
    pub at: Timestamp,
    pub challenge_id: ChallengeId,
    pub subject: UserId,
    pub operation: String,
    pub context_digest: String,
    /// For `sms.undelivered`: the status the provider reported and its error code.
    pub delivery: Option<(DeliveryStatus, Option<String>)>,
}

/// The id of the event recorded as audit row `row` of `challenge`: a UUID (version 8) from
/// both, so that every attempt, by any instance, after any restart, names it alike, and two
/// databases never give two events one id.
pub fn event_id(challenge: ChallengeId, row: i64) -> String {
    crate::ids::derived_uuid(&format!("mfa-totp event:{challenge}:{row}")).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, ChallengeStatus};

    fn audited(kind: AuditKind, outcome: AuditOutcome) -> AuditEvent {
        AuditEvent::new(
            kind,
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            &Actor::new("r1", "payments"),
            Some(ChallengeId::generate()),
            &UserId::parse("alice").unwrap(),
            outcome,
        )
    }

    #[test]
    fn the_final_changes_and_undelivered_sms_are_events_and_nothing_else_is() {
        let status = |s| AuditOutcome::Status(s);
        let cases = [
            (
                AuditKind::Verified,
                status(ChallengeStatus::Verified),
                Some(EventType::ChallengeVerified),
            ),
            (
                AuditKind::Locked,
                status(ChallengeStatus::Locked),
                Some(EventType::ChallengeLocked),
            ),
            (
                AuditKind::Expired,
                status(ChallengeStatus::Expired),
                Some(EventType::ChallengeExpired),
            ),
            (
                AuditKind::Cancelled,
                status(ChallengeStatus::Cancelled),
                Some(EventType::ChallengeCancelled),
            ),
            (
                AuditKind::Consumed,
                AuditOutcome::Consumed,
                Some(EventType::ChallengeConsumed),
            ),
            (
                AuditKind::DeliveryReported,
                AuditOutcome::Delivery(DeliveryStatus::Undelivered),
                Some(EventType::SmsUndelivered),
            ),
            (
                AuditKind::DeliveryReported,
                AuditOutcome::Delivery(DeliveryStatus::Failed),
                Some(EventType::SmsUndelivered),
            ),
            (
                AuditKind::DeliveryReported,
                AuditOutcome::Delivery(DeliveryStatus::Delivered),
                None,
            ),
            (
                AuditKind::DeliveryReported,
                AuditOutcome::Delivery(DeliveryStatus::Sent),
                None,
            ),
            (
                AuditKind::ChallengeCreated,
                status(ChallengeStatus::Pending),
                None,
            ),
            (AuditKind::CodeSent, status(ChallengeStatus::CodeSent), None),
            (AuditKind::VerifyFailed, AuditOutcome::InvalidOtp, None),
            (AuditKind::LimitHit, AuditOutcome::TooManyRequests, None),
        ];
        for (kind, outcome, expected) in cases {
            assert_eq!(
                EventType::of(&audited(kind, outcome)),
                expected,
                "{kind:?} {outcome:?}"
            );
        }
        let mut refused_create = audited(AuditKind::Cancelled, status(ChallengeStatus::Cancelled));
        refused_create.challenge_id = None;
        assert_eq!(EventType::of(&refused_create), None);
    }

    #[test]
    fn event_names_read_back_and_ids_are_stable_and_distinct() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
        assert!("challenge.created".parse::<EventType>().is_err());
        let (a, b) = (ChallengeId::generate(), ChallengeId::generate());
        assert_eq!(event_id(a, 7), event_id(a, 7));
        assert_ne!(event_id(a, 7), event_id(a, 8));
        assert_ne!(event_id(a, 7), event_id(b, 7));
        let id = uuid::Uuid::parse_str(&event_id(a, 7)).unwrap();
        assert_eq!(id.get_version_num(), 8);
    }
}
