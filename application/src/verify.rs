//! `:verify`: check the code the subject typed.

use mfa_totp_domain::{ChallengeId, Timestamp, UserId, VerifyRefused};

use crate::access::AccessError;
use crate::{MAX_RACE_RETRIES, StoreError, UseCases};

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
}

impl UseCases {
    /// Accepts the code in play once, within its TTL; counts wrong codes and locks the
    /// challenge at the limit. A malformed code is refused without being counted.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn verify(
        &self,
        caller: &UserId,
        id: ChallengeId,
        otp: &str,
    ) -> Result<Verified, VerifyError> {
        for _ in 0..MAX_RACE_RETRIES {
            let (challenge, context) = self.load_for_subject(id, caller).await?;
            let now = self.clock.now();
            let code = match challenge.verifiable_code(now, &self.policy) {
                Ok(code) => code,
                Err(VerifyRefused::Expired) => {
                    self.challenges.mark_expired(id, now).await?;
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
            if self
                .totp
                .matches(&self.open_secret(&challenge)?, code.step, &candidate)
            {
                if self.challenges.mark_verified(id, code, now).await? {
                    tracing::info!("challenge verified");
                    return Ok(Verified {
                        challenge_id: id,
                        verified_at: now,
                        context_digest: context.digest(),
                    });
                }
            } else if self
                .challenges
                .record_failed_attempt(id, self.policy.max_failed_attempts)
                .await?
            {
                let after = challenge.after_failed_attempt(&self.policy);
                tracing::info!(failed_attempts = after.failed_attempts(), status = %after.status(), "wrong code");
                return Err(VerifyError::InvalidOtp);
            }
        }
        Err(VerifyError::Contended)
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
