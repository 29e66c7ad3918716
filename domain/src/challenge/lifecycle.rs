//! The state machine: `PENDING → CODE_SENT → VERIFIED | LOCKED | EXPIRED | CANCELLED` (the
//! last four are terminal).
//!
//! Each rule is decided here, once. Each event has a decision (`plan_send`, `verifiable_code`,
//! `after_cancel`, `consumable`) that reads a snapshot, and a transition (`after_*`) that
//! returns the challenge as it stands afterwards, at the next [`Challenge::version`].
//! Storage writes that result only over the version it was decided on, so of concurrent
//! requests on any number of instances one wins and the others decide again on what it
//! left; storage decides nothing itself.

use super::{Challenge, ChallengePolicy, ChallengeStatus, IssuedCode};
use crate::{Timestamp, TotpPolicy};

/// What an initiate will do: send `code`, and record one more send at `sent_at`.
/// `expected_send_count` is the number of sends before this one (the send's number in its
/// challenge is one more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPlan {
    pub code: IssuedCode,
    pub is_new_code: bool,
    pub sent_at: Timestamp,
    pub expected_send_count: u32,
    /// The masked phone it goes to, once known ([`SendPlan::to`]).
    pub sent_to: Option<String>,
}

impl SendPlan {
    /// The plan, going to `phone`.
    pub fn to(self, phone: &crate::PhoneNumber) -> Self {
        Self {
            sent_to: Some(phone.masked()),
            ..self
        }
    }
}

/// Why no SMS may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendRefused {
    /// The challenge is verified, locked, cancelled or expired.
    Finished(ChallengeStatus),
    /// The TTL has passed; the challenge should be marked `EXPIRED` ([`Challenge::after_expiry`]).
    Expired,
    /// A code went out too recently; the next may go at `ready_at`.
    Cooldown { ready_at: Timestamp },
    /// Every send this challenge allows went out; it stays so until it expires at `until`.
    SendCapReached { until: Timestamp },
}

/// Why no code can be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyRefused {
    /// Too many wrong codes: the challenge is `LOCKED` until it expires at `until`.
    Locked { until: Timestamp },
    /// The challenge is verified, cancelled or expired.
    Finished(ChallengeStatus),
    /// The TTL has passed; the challenge should be marked `EXPIRED` ([`Challenge::after_expiry`]).
    Expired,
    /// No code was sent yet, so none can match.
    NoCodeSent,
    /// The code's own TTL has passed; a new initiate sends a new one.
    CodeExpired,
}

/// Why a challenge cannot be cancelled: it is locked, expired or cancelled already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelRefused(pub ChallengeStatus);

/// Why a challenge's context cannot be consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeRefused {
    /// The challenge is not `VERIFIED` (yet).
    NotVerified(ChallengeStatus),
    /// It was verified longer than the policy's `consume_ttl` ago: the context is gone.
    Lapsed { verified_at: Timestamp },
}

impl Challenge {
    /// The status as of `now`: a live challenge past its TTL reads as `EXPIRED`.
    pub fn status_at(&self, now: Timestamp) -> ChallengeStatus {
        if !self.status.is_terminal() && now >= self.expires_at {
            ChallengeStatus::Expired
        } else {
            self.status
        }
    }

    /// The challenge as the next version of itself: what every transition starts from.
    fn next(&self) -> Self {
        Self {
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The lockout rule: `failed_attempts` wrong codes lock a challenge under `policy`.
    fn locks_out(failed_attempts: u32, policy: &ChallengePolicy) -> bool {
        failed_attempts >= policy.max_failed_attempts
    }

    /// The code in play, while it is within its TTL at `now`.
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
                until: self.expires_at,
            });
        }
        if let Some(last) = self.last_sent_at {
            let ready_at = last + policy.resend_cooldown;
            if now < ready_at {
                return Err(SendRefused::Cooldown { ready_at });
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
            sent_to: None,
        })
    }

    /// The challenge once `plan` went out: `CODE_SENT`, with one more send.
    pub fn after_send(&self, plan: &SendPlan) -> Self {
        Self {
            status: ChallengeStatus::CodeSent,
            code: Some(plan.code),
            send_count: self.send_count + 1,
            last_sent_at: Some(plan.sent_at),
            sent_to: plan.sent_to.clone().or_else(|| self.sent_to.clone()),
            ..self.next()
        }
    }

    /// The challenge once a recorded send that never went out is taken back: `self` is the
    /// challenge [`Self::after_send`] returned, `before` the one the send was planned on.
    /// The send's fields go back to `before`'s; anything else that changed stays.
    pub fn after_undo_send(&self, before: &Self) -> Self {
        Self {
            status: before.status,
            code: before.code,
            send_count: before.send_count,
            last_sent_at: before.last_sent_at,
            sent_to: before.sent_to.clone(),
            ..self.next()
        }
    }

    /// Until when the code in play is accepted (never after the challenge expires).
    pub fn code_expires_at(&self, policy: &ChallengePolicy) -> Option<Timestamp> {
        self.code
            .map(|code| (code.issued_at + policy.code_ttl).min(self.expires_at))
    }

    /// The earliest time another initiate may send an SMS.
    pub fn resend_available_at(&self, policy: &ChallengePolicy) -> Option<Timestamp> {
        self.last_sent_at.map(|last| last + policy.resend_cooldown)
    }

    /// How many more SMS this challenge may send.
    pub fn sends_remaining(&self, policy: &ChallengePolicy) -> u32 {
        policy.max_sends.saturating_sub(self.send_count)
    }

    /// Decides whether a code may be checked at `now`, and against which issued code. A
    /// challenge that has reached the limit of wrong codes is locked, even one stored before
    /// a lower limit was configured.
    pub fn verifiable_code(
        &self,
        now: Timestamp,
        policy: &ChallengePolicy,
    ) -> Result<IssuedCode, VerifyRefused> {
        let locked = VerifyRefused::Locked {
            until: self.expires_at,
        };
        match self.status_at(now) {
            ChallengeStatus::Pending => Err(VerifyRefused::NoCodeSent),
            ChallengeStatus::CodeSent if Self::locks_out(self.failed_attempts, policy) => {
                Err(locked)
            }
            ChallengeStatus::CodeSent => self
                .live_code(now, policy)
                .ok_or(VerifyRefused::CodeExpired),
            ChallengeStatus::Locked => Err(locked),
            ChallengeStatus::Expired if !self.status.is_terminal() => Err(VerifyRefused::Expired),
            finished => Err(VerifyRefused::Finished(finished)),
        }
    }

    /// The challenge after one more wrong code: `LOCKED` once the limit is reached.
    pub fn after_failed_attempt(&self, policy: &ChallengePolicy) -> Self {
        let failed_attempts = self.failed_attempts + 1;
        let status = if Self::locks_out(failed_attempts, policy) {
            ChallengeStatus::Locked
        } else {
            self.status
        };
        Self {
            status,
            failed_attempts,
            ..self.next()
        }
    }

    /// The challenge after its code was accepted at `at`.
    pub fn after_verify(&self, at: Timestamp) -> Self {
        Self {
            status: ChallengeStatus::Verified,
            verified_at: Some(at),
            ..self.next()
        }
    }

    /// The challenge once marked as past its TTL.
    pub fn after_expiry(&self) -> Self {
        Self {
            status: ChallengeStatus::Expired,
            ..self.next()
        }
    }

    /// The challenge after an operation service cancelled it at `now`: allowed while it is
    /// live, and once verified (its context then tracks whether it was consumed).
    pub fn after_cancel(&self, now: Timestamp) -> Result<Self, CancelRefused> {
        match self.status_at(now) {
            ChallengeStatus::Pending | ChallengeStatus::CodeSent | ChallengeStatus::Verified => {
                Ok(Self {
                    status: ChallengeStatus::Cancelled,
                    ..self.next()
                })
            }
            finished => Err(CancelRefused(finished)),
        }
    }

    /// The challenge once its context was consumed: only its version moves, so that the
    /// context's change is guarded like any other change of the challenge.
    pub fn after_consume(&self) -> Self {
        self.next()
    }

    /// When the challenge was verified, if its context may be consumed at `now`: within the
    /// policy's `consume_ttl` of the verification.
    pub fn consumable(
        &self,
        now: Timestamp,
        policy: &ChallengePolicy,
    ) -> Result<Timestamp, ConsumeRefused> {
        match (self.status_at(now), self.verified_at) {
            (ChallengeStatus::Verified, Some(verified_at))
                if now >= verified_at + policy.consume_ttl =>
            {
                Err(ConsumeRefused::Lapsed { verified_at })
            }
            (ChallengeStatus::Verified, Some(verified_at)) => Ok(verified_at),
            (status, _) => Err(ConsumeRefused::NotVerified(status)),
        }
    }
}
