//! `:initiate`: send the challenge's code by SMS to the subject's phone.

use mfa_totp_domain::{
    Actor, AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeId, ChallengeStatus,
    LimitReached, PhoneNumber, PhoneRefused, SendOutcome, SendRefused, SmsSend, Timestamp, UserId,
};

use crate::access::AccessError;
use crate::audit::{challenge_event, log_event};
use crate::{
    ChallengeChange, Change, Contact, OutboundSms, SentSms, SmsError, StoreError, UseCases,
};

#[derive(Debug, thiserror::Error)]
pub enum InitiateError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the subject is unknown to the user directory or has no phone")]
    UserNotFound,
    /// The stored number is one the phone rules refuse (they may have changed since).
    #[error("the subject's phone number {0}")]
    PhoneRefused(PhoneRefused),
    #[error("a limit across challenges was reached: {}", .0.kind)]
    Limited(LimitReached),
    #[error("a code was sent too recently; the next may go at {ready_at}")]
    Cooldown { ready_at: Timestamp },
    #[error("every send this challenge allows went out; it expires at {until}")]
    SendCapReached { until: Timestamp },
    #[error(transparent)]
    Sms(SmsError),
    /// A provider may have sent the code but did not confirm it; the send counts, and the
    /// next may go at `ready_at`.
    #[error("the SMS provider did not confirm the send; the next may go at {ready_at}")]
    Unconfirmed { ready_at: Timestamp },
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
        who: &Actor,
        caller: &UserId,
        id: ChallengeId,
    ) -> Result<Initiated, InitiateError> {
        for _ in 0..self.race_retries() {
            let (challenge, context) = self.load_for_subject(id, caller).await?;
            let now = self.clock.now();
            let event = |kind, outcome| {
                AuditEvent::new(kind, now, who, Some(id), challenge.subject(), outcome)
            };
            let plan = match challenge.plan_send(now, &self.policy, &self.totp) {
                Ok(plan) => plan,
                Err(SendRefused::Expired) => {
                    self.expire(who, &challenge, now).await?;
                    return Err(AccessError::ChallengeNotFound.into());
                }
                Err(SendRefused::Finished(_)) => return Err(AccessError::ChallengeNotFound.into()),
                Err(SendRefused::Cooldown { ready_at }) => {
                    return Err(InitiateError::Cooldown { ready_at });
                }
                Err(SendRefused::SendCapReached { until }) => {
                    return Err(InitiateError::SendCapReached { until });
                }
            };
            let Contact { phone, locale } = self
                .user_reader
                .contact(challenge.subject())
                .await?
                .ok_or(InitiateError::UserNotFound)?;
            if let Err(refused) = self.phones.check(&phone) {
                tracing::warn!(to = %phone, reason = %refused, "the stored phone may not receive codes");
                // Nothing changed, but support staff must see why no code went out.
                let failed = event(
                    AuditKind::SendFailed,
                    AuditOutcome::Send(SendOutcome::Rejected),
                )
                .with_phone(phone.masked());
                self.record_refusal(failed).await;
                return Err(InitiateError::PhoneRefused(refused));
            }
            let plan = plan.to(&phone);
            let charges = self.limits.sms_charges(challenge.subject(), &phone, now);
            let sent_state = challenge.after_send(&plan);
            let record = ChallengeChange::update(&challenge, sent_state.clone()).charging(charges);
            match self.apply(&record).await? {
                Change::Applied => {}
                Change::Stale => continue,
                Change::Limited(reached) => {
                    let hit = event(AuditKind::LimitHit, AuditOutcome::TooManyRequests)
                        .with_phone(phone.masked())
                        .with_limit(reached.kind);
                    self.record_refusal(hit).await;
                    return Err(InitiateError::Limited(reached));
                }
            }
            let code = self
                .totp
                .code_at(&self.open_secret(&challenge)?, plan.code.step);
            // The creation request's locale, else the user's, else the default.
            let message = self.messages.render(
                code.expose(),
                self.policy.code_ttl.num_minutes().max(1),
                &context.operation,
                &context.attributes,
                context.locale.as_ref().or(locale.as_ref()),
            );
            let segments = message.cost.segments;
            let sms = OutboundSms {
                body: message.text,
                to: phone.clone(),
                challenge_id: id,
                locale: Some(message.locale.to_string()),
                send_id: format!("{id}.{}", plan.expected_send_count + 1),
            };
            let started = std::time::Instant::now();
            let result = self.sms.send(&sms).await;
            let audit = match &result {
                Ok(sent) => event(
                    AuditKind::CodeSent,
                    AuditOutcome::Send(SendOutcome::Accepted),
                )
                .with_message(Some(sent.provider.to_owned()), sent.message_id.clone()),
                Err(error) => event(AuditKind::SendFailed, AuditOutcome::Send(error.outcome()))
                    .with_message(Some(error.answer().provider.to_owned()), None)
                    .with_error_code(error.answer().code.clone()),
            }
            .with_phone(phone.masked());
            self.log_send(id, &result, started.elapsed(), now, segments, &audit)
                .await;
            let sent = match result {
                Ok(sent) => sent,
                // No provider took it and none may have sent it: the send is undone, and costs
                // nothing.
                Err(error @ SmsError::Unavailable(_)) => {
                    tracing::warn!(error = %error, to = %phone, "SMS not sent; undoing the recorded send");
                    let undo = ChallengeChange::update(
                        &sent_state,
                        sent_state.after_undo_send(&challenge),
                    )
                    .refunding(record.charges);
                    if self.apply(&undo).await? != Change::Applied {
                        tracing::warn!("the recorded send changed before it could be undone");
                    }
                    return Err(InitiateError::Sms(error));
                }
                // A refusal of this number, or a send that may have gone out: it stands as a
                // send (cooldown, cap and limits), so that neither can be repeated for free.
                Err(error @ SmsError::Refused(_)) => {
                    tracing::warn!(error = %error, to = %phone, "SMS refused for this number; the send counts");
                    return Err(InitiateError::Sms(error));
                }
                Err(error @ SmsError::Unknown(_)) => {
                    tracing::warn!(error = %error, to = %phone, "SMS outcome unknown; the send counts");
                    return Err(InitiateError::Unconfirmed {
                        ready_at: sent_state.resend_available_at(&self.policy).unwrap_or(now),
                    });
                }
            };
            tracing::info!(
                to = %phone,
                new_code = plan.is_new_code,
                provider = sent.provider,
                message_id = sent.message_id.as_deref().unwrap_or("-"),
                "code sent"
            );
            return Ok(self.initiated(&sent_state, &phone));
        }
        Err(InitiateError::Contended)
    }

    /// A live challenge past its TTL → `EXPIRED`, audited.
    pub(crate) async fn expire(
        &self,
        who: &Actor,
        challenge: &Challenge,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let event = challenge_event(
            AuditKind::Expired,
            now,
            who,
            challenge,
            AuditOutcome::Status(ChallengeStatus::Expired),
        );
        let change =
            ChallengeChange::update(challenge, challenge.after_expiry()).recording(vec![event]);
        if self.apply(&change).await? == Change::Applied {
            change.events.iter().for_each(log_event);
        }
        Ok(())
    }

    /// Keeps the send's record and its audit event. The SMS has gone out (or not) already,
    /// so a failure to record it is logged, not returned; the audit line is logged anyway.
    async fn log_send(
        &self,
        id: ChallengeId,
        result: &Result<SentSms, SmsError>,
        latency: std::time::Duration,
        at: Timestamp,
        segments: u32,
        event: &AuditEvent,
    ) {
        let sent = result.as_ref().ok();
        let answer = result.as_ref().err().map(SmsError::answer);
        let outcome = match result {
            Ok(_) => SendOutcome::Accepted,
            Err(error) => error.outcome(),
        };
        let provider = sent.map(|s| s.provider).or(answer.map(|a| a.provider));
        crate::audit::count_send(provider, outcome, latency);
        let send = SmsSend {
            challenge_id: id,
            outcome,
            provider: provider.map(str::to_owned),
            message_id: sent.and_then(|s| s.message_id.clone()),
            chain_position: sent.map(|s| s.chain_position as u32),
            attempts: sent.map_or(0, |s| s.attempts),
            latency_ms: latency.as_millis() as u64,
            delivery: None,
            sent_at: at,
            segments,
            error_code: answer.and_then(|a| a.code.clone()),
        };
        if let Err(error) = self.sends.log_send(&send, event).await {
            tracing::warn!(error = %error, "the SMS send could not be recorded");
        }
        log_event(event);
    }

    fn initiated(&self, after: &Challenge, phone: &PhoneNumber) -> Initiated {
        let after_a_send = "a challenge after a send has a code and a last send";
        Initiated {
            challenge_id: after.id(),
            status: after.status(),
            expires_at: after.expires_at(),
            code_expires_at: after.code_expires_at(&self.policy).expect(after_a_send),
            resend_available_at: after.resend_available_at(&self.policy).expect(after_a_send),
            sends_remaining: after.sends_remaining(&self.policy),
            masked_phone_number: phone.masked(),
        }
    }
}

#[cfg(test)]
#[path = "initiate_tests.rs"]
mod tests;
