//! The challenge and its state machine:
//! `PENDING → CODE_SENT → VERIFIED | LOCKED | EXPIRED | CANCELLED` (the last four are terminal).
//!
//! The methods decide from a snapshot. The storage adapter then applies the decision with
//! a conditional UPDATE guarded by the same snapshot, so concurrent requests on any number
//! of instances cannot both win.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;

use crate::{ChallengeId, Timestamp, TotpPolicy, TotpSecret, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeStatus {
    Pending,
    CodeSent,
    Verified,
    Locked,
    Expired,
    Cancelled,
}

impl ChallengeStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::CodeSent,
        Self::Verified,
        Self::Locked,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::CodeSent)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::CodeSent => "CODE_SENT",
            Self::Verified => "VERIFIED",
            Self::Locked => "LOCKED",
            Self::Expired => "EXPIRED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for ChallengeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChallengeStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown challenge status '{s}'"))
    }
}

/// The limits every challenge lives by. The defaults follow NIST SP 800-63B and OWASP ASVS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengePolicy {
    pub challenge_ttl: TimeDelta,
    pub code_ttl: TimeDelta,
    pub max_failed_attempts: u32,
    pub resend_cooldown: TimeDelta,
    pub max_sends: u32,
}

impl Default for ChallengePolicy {
    fn default() -> Self {
        Self {
            challenge_ttl: TimeDelta::minutes(10),
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

/// A step-up challenge for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub id: ChallengeId,
    pub subject: UserId,
    pub status: ChallengeStatus,
    pub secret: TotpSecret,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub code: Option<IssuedCode>,
    pub send_count: u32,
    pub last_sent_at: Option<Timestamp>,
    pub failed_attempts: u32,
    pub verified_at: Option<Timestamp>,
}

/// What an initiate will do: send `code`, and record one more send at `sent_at`.
/// `expected_send_count` is the snapshot that guards the conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPlan {
    pub code: IssuedCode,
    pub is_new_code: bool,
    pub sent_at: Timestamp,
    pub expected_send_count: u32,
}

/// Why no SMS may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    /// The challenge is verified, locked, cancelled or expired.
    Finished(ChallengeStatus),
    /// The TTL has passed; the challenge should be marked `EXPIRED`.
    Expired,
    Cooldown {
        retry_after: TimeDelta,
    },
    SendCapReached {
        retry_after: TimeDelta,
    },
}

/// Why no code can be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyRefused {
    /// Too many wrong codes: the challenge is `LOCKED`.
    Locked,
    /// The challenge is verified, cancelled or expired.
    Finished(ChallengeStatus),
    /// The TTL has passed; the challenge should be marked `EXPIRED`.
    Expired,
    /// No code was sent yet, so none can match.
    NoCodeSent,
    /// The code's own TTL has passed; a new initiate sends a new one.
    CodeExpired,
}

impl Challenge {
    /// A new `PENDING` challenge.
    pub fn new(
        id: ChallengeId,
        subject: UserId,
        secret: TotpSecret,
        now: Timestamp,
        policy: &ChallengePolicy,
    ) -> Self {
        Self {
            id,
            subject,
            status: ChallengeStatus::Pending,
            secret,
            created_at: now,
            expires_at: now + policy.challenge_ttl,
            code: None,
            send_count: 0,
            last_sent_at: None,
            failed_attempts: 0,
            verified_at: None,
        }
    }

    /// The status as of `now`: a live challenge past its TTL reads as `EXPIRED`.
    pub fn status_at(&self, now: Timestamp) -> ChallengeStatus {
        if !self.status.is_terminal() && now >= self.expires_at {
            ChallengeStatus::Expired
        } else {
            self.status
        }
    }

    /// Whether the code in play is still within its TTL at `now`.
    fn live_code(&self, now: Timestamp, policy: &ChallengePolicy) -> Option<IssuedCode> {
        self.code
            .filter(|code| now < code.issued_at + policy.code_ttl)
    }

    /// Decides what an initiate at `now` sends: the same code while it is live (so SMS that
    /// arrive out of order still work), a new one after the code TTL.
    pub fn plan_send(
        &self,
        now: Timestamp,
        policy: &ChallengePolicy,
        totp: &TotpPolicy,
    ) -> Result<SendPlan, SendRefused> {
        match self.status_at(now) {
            ChallengeStatus::Pending | ChallengeStatus::CodeSent => {}
            ChallengeStatus::Expired if !self.status.is_terminal() => {
                return Err(SendRefused::Expired);
            }
            finished => return Err(SendRefused::Finished(finished)),
        }
        if self.send_count >= policy.max_sends {
            return Err(SendRefused::SendCapReached {
                retry_after: self.expires_at - now,
            });
        }
        if let Some(last) = self.last_sent_at {
            let ready_at = last + policy.resend_cooldown;
            if now < ready_at {
                return Err(SendRefused::Cooldown {
                    retry_after: ready_at - now,
                });
            }
        }
        let (code, is_new_code) = match self.live_code(now, policy) {
            Some(code) => (code, false),
            None => (
                IssuedCode {
                    step: totp.step_at(now),
                    issued_at: now,
                },
                true,
            ),
        };
        Ok(SendPlan {
            code,
            is_new_code,
            sent_at: now,
            expected_send_count: self.send_count,
        })
    }

    /// Decides whether a code may be checked at `now`, and against which issued code.
    pub fn verifiable_code(
        &self,
        now: Timestamp,
        policy: &ChallengePolicy,
    ) -> Result<IssuedCode, VerifyRefused> {
        match self.status_at(now) {
            ChallengeStatus::Pending => Err(VerifyRefused::NoCodeSent),
            ChallengeStatus::CodeSent => self
                .live_code(now, policy)
                .ok_or(VerifyRefused::CodeExpired),
            ChallengeStatus::Locked => Err(VerifyRefused::Locked),
            ChallengeStatus::Expired if !self.status.is_terminal() => Err(VerifyRefused::Expired),
            finished => Err(VerifyRefused::Finished(finished)),
        }
    }

    /// Whether an operation service may still cancel it: while it is live, and once verified
    /// (until its context is consumed, which the context tracks).
    pub fn can_cancel(&self, now: Timestamp) -> bool {
        matches!(
            self.status_at(now),
            ChallengeStatus::Pending | ChallengeStatus::CodeSent | ChallengeStatus::Verified
        )
    }

    /// The state after one more wrong code: `LOCKED` once the limit is reached.
    pub fn status_after_failed_attempt(&self, policy: &ChallengePolicy) -> ChallengeStatus {
        if self.failed_attempts + 1 >= policy.max_failed_attempts {
            ChallengeStatus::Locked
        } else {
            self.status
        }
    }
}

#[cfg(test)]
mod tests;
