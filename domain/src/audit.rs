//! The audit trail: one event per change of a challenge, per send and per refusal by a
//! limit. Events name the people and numbers involved only as ids and masked phones: never a
//! code, never a full number.

use std::fmt;

use crate::{ChallengeId, LimitKind, Timestamp, UserId};

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
}

impl AuditKind {
    pub const ALL: [AuditKind; 10] = [
        Self::ChallengeCreated,
        Self::CodeSent,
        Self::SendFailed,
        Self::VerifyFailed,
        Self::Verified,
        Self::Locked,
        Self::Expired,
        Self::Cancelled,
        Self::Consumed,
        Self::LimitHit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChallengeCreated => "CHALLENGE_CREATED",
            Self::CodeSent => "CODE_SENT",
            Self::SendFailed => "SEND_FAILED",
            Self::VerifyFailed => "VERIFY_FAILED",
            Self::Verified => "VERIFIED",
            Self::Locked => "LOCKED",
            Self::Expired => "EXPIRED",
            Self::Cancelled => "CANCELLED",
            Self::Consumed => "CONSUMED",
            Self::LimitHit => "LIMIT_HIT",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for AuditKind {
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
    /// The result in one word: the challenge's status after the event, the send's outcome
    /// (`ACCEPTED`, `REJECTED`, `UNAVAILABLE`), `INVALID_OTP`, or `TOO_MANY_REQUESTS`.
    pub outcome: String,
    /// The limit that refused, for `LIMIT_HIT`.
    pub limit: Option<LimitKind>,
    /// The SMS provider and its message id, for sends.
    pub provider: Option<String>,
    pub message_id: Option<String>,
}

impl AuditEvent {
    pub fn new(
        kind: AuditKind,
        at: Timestamp,
        who: &Actor,
        challenge_id: Option<ChallengeId>,
        subject: &UserId,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            at,
            request_id: who.request_id.clone(),
            challenge_id,
            subject: subject.clone(),
            actor: who.actor.clone(),
            masked_phone: None,
            outcome: outcome.into(),
            limit: None,
            provider: None,
            message_id: None,
        }
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
