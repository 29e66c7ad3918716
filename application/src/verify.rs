//! `:verify`: check the code the subject typed.

use mfa_totp_domain::{
    Actor, AuditKind, AuditOutcome, ChallengeId, ChallengeStatus, LimitKey, LimitKind,
    LimitReached, Timestamp, UserId, VerifyRefused,
};

use crate::access::AccessError;
use crate::audit::{challenge_event, log_event};
use crate::{ChallengeChange, Change, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Wrong, expired, already used or malformed.
    #[error("invalid one-time password")]
    InvalidOtp,
    /// Too many wrong codes: the challenge is locked until it expires at `until`.
    #[error("too many wrong codes: the challenge is locked until {until}")]
    Locked { until: Timestamp },
    /// `user_wrong_codes`: the user may verify no challenge until the window ends.
    #[error("a limit across challenges was reached: {}", .0.kind)]
    Limited(LimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the challenge kept changing under concurrent requests")]
    Contended,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub challenge_id: ChallengeId,
    pub verified_at: Timestamp,
    /// What was authorised: [`mfa_totp_domain::StepUpContext::digest`].
    pub context_digest: String,
    /// The signed step-up assertion ([`mfa_totp_domain::StepUpAssertion`]), compact JWS.
    pub assertion: String,
}

impl UseCases {
    /// Accepts the code in play once, within its TTL; counts wrong codes and locks the
    /// challenge at the limit. A malformed code is refused without being counted.
    ///
    /// Both a right and a wrong code go through the subject's `user_wrong_codes` window in
    /// the same transaction as the change (a right one takes nothing from it), so a user at
    /// the limit learns nothing of any code until the window ends.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn verify(
        &self,
        who: &Actor,
        caller: &UserId,
        id: ChallengeId,
        otp: &str,
    ) -> Result<Verified, VerifyError> {
        for _ in 0..self.race_retries() {
            let (challenge, context) = self.load_for_subject(id, caller).await?;
            let now = self.clock.now();
            let event = |kind, outcome| challenge_event(kind, now, who, &challenge, outcome);
            let charges = |amount| -> Vec<_> {
                let key = LimitKey::user(challenge.subject());
                self.limits
                    .charge(LimitKind::UserWrongCodes, key, amount, now)
                    .into_iter()
                    .collect()
            };
            let code = match challenge.verifiable_code(now, &self.policy) {
                Ok(code) => code,
                Err(VerifyRefused::Expired) => {
                    self.expire(who, &challenge, now).await?;
                    return Err(AccessError::ChallengeNotFound.into());
                }
                Err(VerifyRefused::Finished(_)) => {
                    return Err(AccessError::ChallengeNotFound.into());
                }
                Err(VerifyRefused::Locked { until }) => {
                    return Err(VerifyError::Locked { until });
                }
                Err(VerifyRefused::NoCodeSent | VerifyRefused::CodeExpired) => {
                    return Err(VerifyError::InvalidOtp);
                }
            };
            let Ok(candidate) = self.totp.parse_code(otp) else {
                return Err(VerifyError::InvalidOtp);
            };
            let right = self
                .totp
                .matches(&self.open_secret(&challenge)?, code.step, &candidate);
            let mut assertion = None;
            let (after, charged, events) = if right {
                let events = vec![event(
                    AuditKind::Verified,
                    AuditOutcome::Status(ChallengeStatus::Verified),
                )];
                let after = challenge.after_verify(now);
                assertion = Some(self.assertion(&after, &context)?);
                (after, charges(0), events)
            } else {
                let after = challenge.after_failed_attempt(&self.policy);
                let mut events = vec![event(AuditKind::VerifyFailed, AuditOutcome::InvalidOtp)];
                if after.status() == ChallengeStatus::Locked {
                    events.push(event(
                        AuditKind::Locked,
                        AuditOutcome::Status(ChallengeStatus::Locked),
                    ));
                }
                (after, charges(1), events)
            };
            let change = ChallengeChange::update(&challenge, after)
                .charging(charged)
                .recording(events);
            match self.apply(&change).await? {
                Change::Stale => continue,
                Change::Limited(reached) => {
                    let hit = event(AuditKind::LimitHit, AuditOutcome::TooManyRequests)
                        .with_limit(reached.kind);
                    self.record_refusal(hit).await;
                    return Err(VerifyError::Limited(reached));
                }
                Change::Applied => change.events.iter().for_each(log_event),
            }
            return if let Some(assertion) = assertion {
                tracing::info!("challenge verified");
                Ok(Verified {
                    challenge_id: id,
                    verified_at: now,
                    context_digest: context.digest(),
                    assertion,
                })
            } else {
                let after = &change.challenge;
                tracing::info!(failed_attempts = after.failed_attempts(), status = %after.status(), "wrong code");
                Err(VerifyError::InvalidOtp)
            };
        }
        Err(VerifyError::Contended)
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
