//! The audit trail: one event per change of a challenge, per send and per refusal by a
//! limit. Events name the people and numbers involved only as ids and masked phones: never a
//! code, never a full number.

use std::fmt;

use crate::names::stored_names;
use crate::{
    ChallengeId, ChallengeStatus, ClientId, DeliveryStatus, LimitKind, SendOutcome, Timestamp,
    UserId,
};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    ChallengeCreated,
    CodeSent,
    SendFailed,
    VerifyFailed,
    Verified,
    Locked,
    Expired,
    Cancelled,
    Consumed,
    LimitHit,
    DeliveryReported,
    /// An event pushed to the challenge's creator was given up after its last attempt.
    EventUndelivered,
}

stored_names!(AuditKind {
    ChallengeCreated = "CHALLENGE_CREATED",
    CodeSent = "CODE_SENT",
    SendFailed = "SEND_FAILED",
    VerifyFailed = "VERIFY_FAILED",
    Verified = "VERIFIED",
    Locked = "LOCKED",
    Expired = "EXPIRED",
    Cancelled = "CANCELLED",
    Consumed = "CONSUMED",
    LimitHit = "LIMIT_HIT",
    DeliveryReported = "DELIVERY_REPORTED",
    EventUndelivered = "EVENT_UNDELIVERED",
});

/// The result of an event in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// The challenge's status after the event.
    Status(ChallengeStatus),
    /// How a send ended.
    Send(SendOutcome),
    /// What a provider's delivery report said.
    Delivery(DeliveryStatus),
    /// A wrong code.
    InvalidOtp,
    /// The context was handed over.
    Consumed,
    /// A limit refused the request.
    TooManyRequests,
    /// Delivery of an event stopped after its last attempt.
    GaveUp,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status(status) => status.as_str(),
            Self::Send(outcome) => outcome.as_str(),
            Self::Delivery(status) => status.as_str(),
            Self::InvalidOtp => "INVALID_OTP",
            Self::Consumed => "CONSUMED",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::GaveUp => "GAVE_UP",
        }
    }
}

impl std::str::FromStr for AuditOutcome {
    type Err = crate::UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fixed = [
            Self::InvalidOtp,
            Self::Consumed,
            Self::TooManyRequests,
            Self::GaveUp,
        ];
        ChallengeStatus::ALL
            .into_iter()
            .map(Self::Status)
            .chain(SendOutcome::ALL.into_iter().map(Self::Send))
            .chain(DeliveryStatus::ALL.into_iter().map(Self::Delivery))
            .chain(fixed)
            .find(|o| o.as_str() == text)
            .ok_or_else(|| crate::UnknownName::new("AuditOutcome", text))
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub kind: AuditKind,
    pub at: Timestamp,
    /// The request that caused it (`X-Request-Id`).
    pub request_id: String,
    /// `None` only for a challenge a limit refused to create.
    pub challenge_id: Option<ChallengeId>,
    pub subject: UserId,
    /// The token subject that made the request: a service, or the user themself.
    pub actor: String,
    /// `+44*******456`, when a phone was involved.
    pub masked_phone: Option<String>,
    pub outcome: AuditOutcome,
    /// The limit that refused, for `LIMIT_HIT`.
    pub limit: Option<LimitKind>,
    /// The SMS provider and its message id, for sends.
    pub provider: Option<String>,
    pub message_id: Option<String>,
    /// The provider's error code, for a send it did not accept or a delivery report.
    pub error_code: Option<String>,
    /// How many identical refusals in a row this event stands for: a refusal repeated with
    /// nothing else happening in between is counted on one event, so that no flood of them
    /// can push a later change out of the trail. 1 for every other event.
    pub repeats: u32,
    /// When the last of those repeats happened (`None` while there is one).
    pub last_at: Option<Timestamp>,
    /// The operation service this event is pushed to (the challenge's creator, when it
    /// subscribes to the event's [`EventType`](crate::EventType)): the event is then also an
    /// entry of the outbox, written with the change it reports.
    pub subscriber: Option<ClientId>,
}

impl AuditEvent {
    pub fn new(
        kind: AuditKind,
        at: Timestamp,
        who: &Actor,
        challenge_id: Option<ChallengeId>,
        subject: &UserId,
        outcome: AuditOutcome,
    ) -> Self {
        Self {
            kind,
            at,
            request_id: who.request_id.clone(),
            challenge_id,
            subject: subject.clone(),
            actor: who.actor.clone(),
            masked_phone: None,
            outcome,
            limit: None,
            provider: None,
            message_id: None,
            error_code: None,
            repeats: 1,
            last_at: None,
            subscriber: None,
        }
    }

    pub fn notifying(mut self, subscriber: Option<ClientId>) -> Self {
        self.subscriber = subscriber;
        self
    }

    pub fn with_phone(mut self, masked: impl Into<String>) -> Self {
        self.masked_phone = Some(masked.into());
        self
    }

    pub fn with_limit(mut self, kind: LimitKind) -> Self {
        self.limit = Some(kind);
        self
    }

    pub fn with_message(mut self, provider: Option<String>, message_id: Option<String>) -> Self {
        self.provider = provider;
        self.message_id = message_id;
        self
    }

    pub fn with_error_code(mut self, code: Option<String>) -> Self {
        self.error_code = code;
        self
    }

    /// Whether this event, one written on its own (a refusal, a delivery report), repeats
    /// `newest`, its challenge's newest event, with nothing in between: the same challenge,
    /// kind, outcome, limit, actor and error code. It is then counted on `newest` (`repeats`,
    /// `last_at`) instead of being written, so that no flood of refusals can push a later
    /// change out of the trail.
    pub fn repeats(&self, newest: &AuditEvent) -> bool {
        self.challenge_id.is_some()
            && self.challenge_id == newest.challenge_id
            && self.kind == newest.kind
            && self.outcome == newest.outcome
            && self.limit == newest.limit
            && self.actor == newest.actor
            && self.error_code == newest.error_code
    }
}

/// Who asked: the request's id and the token subject that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub request_id: String,
    pub actor: String,
}

impl Actor {
    pub fn new(request_id: impl Into<String>, actor: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            actor: actor.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_repeats_the_newest_only_when_all_but_time_and_request_match() {
        let who = Actor::new("r1", "alice");
        let id = Some(ChallengeId::generate());
        let user = UserId::parse("alice").unwrap();
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let hit = AuditEvent::new(
            AuditKind::LimitHit,
            at,
            &who,
            id,
            &user,
            AuditOutcome::TooManyRequests,
        )
        .with_limit(LimitKind::PhoneSms);
        let later = AuditEvent {
            at: at + chrono::TimeDelta::seconds(5),
            request_id: "r2".into(),
            ..hit.clone()
        };
        assert!(later.repeats(&hit));
        for other in [
            hit.clone().with_limit(LimitKind::UserSms),
            hit.clone().with_error_code(Some("21211".into())),
            AuditEvent {
                actor: "mallory".into(),
                ..hit.clone()
            },
            AuditEvent {
                kind: AuditKind::Cancelled,
                ..hit.clone()
            },
            AuditEvent {
                challenge_id: Some(ChallengeId::generate()),
                ..hit.clone()
            },
        ] {
            assert!(!later.repeats(&other), "{other:?}");
        }
        let without_challenge = AuditEvent {
            challenge_id: None,
            ..hit.clone()
        };
        assert!(!without_challenge.repeats(&without_challenge));
    }

    #[test]
    fn every_outcome_reads_back_from_its_name_and_the_names_are_distinct() {
        let all: Vec<AuditOutcome> = ChallengeStatus::ALL
            .iter()
            .map(|s| AuditOutcome::Status(*s))
            .chain(SendOutcome::ALL.iter().map(|o| AuditOutcome::Send(*o)))
            .chain(
                DeliveryStatus::ALL
                    .iter()
                    .map(|d| AuditOutcome::Delivery(*d)),
            )
            .chain([
                AuditOutcome::InvalidOtp,
                AuditOutcome::Consumed,
                AuditOutcome::TooManyRequests,
                AuditOutcome::GaveUp,
            ])
            .collect();
        for outcome in &all {
            assert_eq!(outcome.as_str().parse::<AuditOutcome>(), Ok(*outcome));
        }
        let mut names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!("SOMETHING".parse::<AuditOutcome>().is_err());
    }
}
