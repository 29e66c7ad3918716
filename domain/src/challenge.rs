//! The challenge: its status, its limits, and the one constructor each for a new challenge
//! and for one restored from storage. What may happen to it, and what it becomes, is in
//! `lifecycle`.

mod lifecycle;

use chrono::TimeDelta;

pub use lifecycle::{CancelRefused, ConsumeRefused, SendPlan, SendRefused, VerifyRefused};

use crate::names::stored_names;
use crate::{ChallengeId, ClientId, SealedSecret, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeStatus {
    Pending,
    CodeSent,
    Verified,
    Locked,
    Expired,
    Cancelled,
}

stored_names!(ChallengeStatus {
    Pending = "PENDING",
    CodeSent = "CODE_SENT",
    Verified = "VERIFIED",
    Locked = "LOCKED",
    Expired = "EXPIRED",
    Cancelled = "CANCELLED",
});

impl ChallengeStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::CodeSent)
    }
}

/// The limits every challenge lives by. The defaults follow NIST SP 800-63B and OWASP ASVS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengePolicy {
    pub challenge_ttl: TimeDelta,
    /// How long after verification the context may be consumed; after that it is gone.
    pub consume_ttl: TimeDelta,
    pub code_ttl: TimeDelta,
    pub max_failed_attempts: u32,
    pub resend_cooldown: TimeDelta,
    pub max_sends: u32,
}

impl ChallengePolicy {
    /// The longest a challenge lives, and the longest cooldown or limit window: one day.
    /// Every `Retry-After` the service sends is at most this, and the spec says so.
    pub const MAX_WAIT_SECS: u32 = 86_400;
    /// The most SMS one challenge may send; the spec's bound on `sendsRemaining`.
    pub const MAX_SENDS: u32 = 100;
    /// The most wrong codes one challenge may take before it locks.
    pub const MAX_FAILED_ATTEMPTS: u32 = 100;
}

impl Default for ChallengePolicy {
    fn default() -> Self {
        Self {
            challenge_ttl: TimeDelta::minutes(10),
            consume_ttl: TimeDelta::minutes(5),
            code_ttl: TimeDelta::minutes(5),
            max_failed_attempts: 5,
            resend_cooldown: TimeDelta::seconds(30),
            max_sends: 5,
        }
    }
}

/// A code that was issued: the TOTP step it belongs to and when it went out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedCode {
    pub step: u64,
    pub issued_at: Timestamp,
}

/// A step-up challenge for one subject. Its fields change only through the transitions in
/// `lifecycle`, so every value of this type is one the state machine can reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    id: ChallengeId,
    subject: UserId,
    /// The service that created it; `None` for challenges created before clients were
    /// recorded (any client with the scopes may act on those).
    client: Option<ClientId>,
    status: ChallengeStatus,
    secret: SealedSecret,
    created_at: Timestamp,
    expires_at: Timestamp,
    code: Option<IssuedCode>,
    send_count: u32,
    last_sent_at: Option<Timestamp>,
    failed_attempts: u32,
    verified_at: Option<Timestamp>,
    /// The masked phone the last code went to, for the audit trail.
    sent_to: Option<String>,
    /// How many changes the stored challenge has had: each transition returns the next
    /// version, and storage writes a change only over the version it was decided on (the
    /// guard that detects a concurrent change).
    version: u32,
}

/// A challenge's fields as storage holds them; [`Challenge::restore`] checks that they
/// describe a state the machine can reach.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeRecord {
    pub id: ChallengeId,
    pub subject: UserId,
    pub client: Option<ClientId>,
    pub status: ChallengeStatus,
    pub secret: SealedSecret,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub code: Option<IssuedCode>,
    pub send_count: u32,
    pub last_sent_at: Option<Timestamp>,
    pub failed_attempts: u32,
    pub verified_at: Option<Timestamp>,
    /// The masked phone the last code went to (`None` before a send, and on rows from
    /// before it was recorded).
    pub sent_to: Option<String>,
    /// How many changes the stored challenge has had ([`Challenge::version`]).
    pub version: u32,
}

/// Why a record is not a challenge the state machine can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChallenge {
    #[error("it expires before it was created")]
    ExpiresBeforeCreated,
    #[error("its code, send count and last send disagree")]
    SendsDisagree,
    #[error("a {0} challenge cannot have sent a code or counted a wrong one")]
    PendingWithHistory(ChallengeStatus),
    #[error("a {0} challenge must have sent a code")]
    NoCodeSent(ChallengeStatus),
    #[error("a {0} challenge cannot carry a verification time, or lacks one")]
    VerificationDisagrees(ChallengeStatus),
}

impl Challenge {
    /// A new `PENDING` challenge.
    pub fn new(
        id: ChallengeId,
        subject: UserId,
        client: ClientId,
        secret: SealedSecret,
        now: Timestamp,
        policy: &ChallengePolicy,
    ) -> Self {
        Self {
            id,
            subject,
            client: Some(client),
            status: ChallengeStatus::Pending,
            secret,
            created_at: now,
            expires_at: now + policy.challenge_ttl,
            code: None,
            send_count: 0,
            last_sent_at: None,
            failed_attempts: 0,
            verified_at: None,
            sent_to: None,
            version: 0,
        }
    }

    /// A challenge read back from storage.
    ///
    /// Errors: [`InvalidChallenge`] when the record is no state the machine can reach (a
    /// corrupt or hand-edited row).
    pub fn restore(record: ChallengeRecord) -> Result<Self, InvalidChallenge> {
        use ChallengeStatus::*;
        let r = &record;
        if r.expires_at <= r.created_at {
            return Err(InvalidChallenge::ExpiresBeforeCreated);
        }
        let sent = r.send_count > 0;
        if r.code.is_some() != sent || r.last_sent_at.is_some() != sent {
            return Err(InvalidChallenge::SendsDisagree);
        }
        if r.status == Pending && (sent || r.failed_attempts > 0) {
            return Err(InvalidChallenge::PendingWithHistory(r.status));
        }
        if matches!(r.status, CodeSent | Verified | Locked) && !sent {
            return Err(InvalidChallenge::NoCodeSent(r.status));
        }
        let may_carry_verification = matches!(r.status, Verified | Cancelled);
        if (r.status == Verified && r.verified_at.is_none())
            || (!may_carry_verification && r.verified_at.is_some())
        {
            return Err(InvalidChallenge::VerificationDisagrees(r.status));
        }
        Ok(Self {
            id: record.id,
            subject: record.subject,
            client: record.client,
            status: record.status,
            secret: record.secret,
            created_at: record.created_at,
            expires_at: record.expires_at,
            code: record.code,
            send_count: record.send_count,
            last_sent_at: record.last_sent_at,
            failed_attempts: record.failed_attempts,
            verified_at: record.verified_at,
            sent_to: record.sent_to,
            version: record.version,
        })
    }

    /// The fields, for storage to write or for a test to change before [`Self::restore`].
    pub fn to_record(&self) -> ChallengeRecord {
        ChallengeRecord {
            id: self.id,
            subject: self.subject.clone(),
            client: self.client.clone(),
            status: self.status,
            secret: self.secret.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            code: self.code,
            send_count: self.send_count,
            last_sent_at: self.last_sent_at,
            failed_attempts: self.failed_attempts,
            verified_at: self.verified_at,
            sent_to: self.sent_to.clone(),
            version: self.version,
        }
    }

    pub fn id(&self) -> ChallengeId {
        self.id
    }

    pub fn subject(&self) -> &UserId {
        &self.subject
    }

    /// The stored status; see [`Self::status_at`] for the status as of a time.
    pub fn status(&self) -> ChallengeStatus {
        self.status
    }

    /// The TOTP secret, sealed: only `:initiate` and `:verify` open it.
    pub fn secret(&self) -> &SealedSecret {
        &self.secret
    }

    /// The service that created the challenge, when it was recorded.
    pub fn client(&self) -> Option<&ClientId> {
        self.client.as_ref()
    }

    /// Whether `client` may read, consume or cancel the challenge: the one that created it.
    pub fn is_owned_by(&self, client: &ClientId) -> bool {
        self.client.as_ref().is_none_or(|owner| owner == client)
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The code in play, if one was sent.
    pub fn code(&self) -> Option<IssuedCode> {
        self.code
    }

    pub fn send_count(&self) -> u32 {
        self.send_count
    }

    pub fn last_sent_at(&self) -> Option<Timestamp> {
        self.last_sent_at
    }

    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    pub fn verified_at(&self) -> Option<Timestamp> {
        self.verified_at
    }

    /// The masked phone the last code went to, once one did.
    pub fn sent_to(&self) -> Option<&str> {
        self.sent_to.as_deref()
    }

    /// How many changes the stored challenge has had: 0 when new, one more after each
    /// transition. Storage writes a transition's result only while the stored version is
    /// still the one it was decided on.
    pub fn version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests;
