//! `:initiate`: send the challenge's code by SMS to the subject's phone.

use mfa_totp_domain::{ChallengeId, ChallengeStatus, PhoneNumber, SendRefused, Timestamp, UserId};

use crate::access::AccessError;
use crate::{MAX_RACE_RETRIES, OutboundSms, SmsError, StoreError, UseCases, retry_after_secs};

#[derive(Debug, thiserror::Error)]
pub enum InitiateError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the subject is unknown to the user directory or has no phone")]
    UserNotFound,
    #[error("too many sends: retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(transparent)]
    Sms(SmsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the challenge kept changing under concurrent requests")]
    Contended,
}

/// What the caller learns after a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiated {
    pub challenge_id: ChallengeId,
    pub status: ChallengeStatus,
    pub expires_at: Timestamp,
    pub code_expires_at: Timestamp,
    pub resend_available_at: Timestamp,
    pub sends_remaining: u32,
    pub masked_phone_number: String,
}

impl UseCases {
    /// Sends the code in play (or a new one after the code TTL), within the cooldown and cap.
    ///
    /// The send is recorded before the SMS goes out, so concurrent initiates cannot exceed
    /// the cap or the cooldown; if the provider fails, the record is undone.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn initiate(
        &self,
        caller: &UserId,
        id: ChallengeId,
    ) -> Result<Initiated, InitiateError> {
        for _ in 0..MAX_RACE_RETRIES {
            let challenge = self.load_for_subject(id, caller).await?;
            let now = self.clock.now();
            let plan = match challenge.plan_send(now, &self.policy, &self.totp) {
                Ok(plan) => plan,
                Err(SendRefused::Expired) => {
                    self.challenges.mark_expired(id, now).await?;
                    return Err(AccessError::ChallengeNotFound.into());
                }
                Err(SendRefused::Finished(_)) => return Err(AccessError::ChallengeNotFound.into()),
                Err(
                    SendRefused::Cooldown { retry_after }
                    | SendRefused::SendCapReached { retry_after },
                ) => {
                    return Err(InitiateError::TooManyRequests {
                        retry_after_secs: retry_after_secs(retry_after),
                    });
                }
            };
            let phone = self
                .users
                .phone_number(&challenge.subject)
                .await?
                .ok_or(InitiateError::UserNotFound)?;
            if !self.challenges.record_send(id, &plan).await? {
                continue;
            }
            let code = self.totp.code_at(&challenge.secret, plan.code.step);
            let sms = OutboundSms {
                body: self.sms_text(code.expose()),
                to: phone.clone(),
            };
            if let Err(error) = self.sms.send(&sms).await {
                tracing::warn!(error = %error, to = %phone, "SMS not sent; undoing the recorded send");
                if !self.challenges.undo_send(&challenge, &plan).await? {
                    tracing::warn!("the recorded send changed before it could be undone");
                }
                return Err(InitiateError::Sms(error));
            }
            tracing::info!(to = %phone, new_code = plan.is_new_code, "code sent");
            return Ok(self.initiated(&challenge, &plan, &phone));
        }
        Err(InitiateError::Contended)
    }

    fn sms_text(&self, code: &str) -> String {
        format!(
            "Your verification code is {code}. It expires in {} minutes. Never share it.",
            self.policy.code_ttl.num_minutes().max(1)
        )
    }

    fn initiated(
        &self,
        before: &mfa_totp_domain::Challenge,
        plan: &mfa_totp_domain::SendPlan,
        phone: &PhoneNumber,
    ) -> Initiated {
        Initiated {
            challenge_id: before.id,
            status: ChallengeStatus::CodeSent,
            expires_at: before.expires_at,
            code_expires_at: (plan.code.issued_at + self.policy.code_ttl).min(before.expires_at),
            resend_available_at: plan.sent_at + self.policy.resend_cooldown,
            sends_remaining: self
                .policy
                .max_sends
                .saturating_sub(plan.expected_send_count + 1),
            masked_phone_number: phone.masked(),
        }
    }
}

#[cfg(test)]
#[path = "initiate_tests.rs"]
mod tests;
