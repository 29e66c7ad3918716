//! `:consume`: the operation service learns, once, that the challenge was verified for its
//! context. After that the context is gone (`STEP_UP_REQUEST_CONTEXT_NOT_FOUND`).

use mfa_totp_domain::{
    Actor, AuditKind, AuditOutcome, ChallengeId, ChallengeStatus, ClientId, ConsumeRefused,
    Operation, Timestamp, UserId,
};

use crate::access::Refusals;
use crate::audit::{challenge_event, log_event};
use crate::{ChallengeChange, Change, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error("the challenge belongs to another client")]
    NotOwner,
    /// Consumed or cancelled already, or verified longer than `consume_ttl` ago.
    #[error("the step-up request context is gone")]
    ContextNotFound,
    #[error("the challenge is {0}, not VERIFIED")]
    NotVerified(ChallengeStatus),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the challenge kept changing under concurrent requests")]
    Contended,
}

/// The authorised context, handed over once.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumed {
    pub challenge_id: ChallengeId,
    pub subject: UserId,
    pub operation: Operation,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub verified_at: Timestamp,
    pub consumed_at: Timestamp,
    /// What was authorised: [`mfa_totp_domain::StepUpContext::digest`].
    pub context_digest: String,
    /// The step-up assertion `:verify` handed out (the same header and claims, signed again
    /// with the active key), for the operation service to hand on.
    pub assertion: String,
}

impl UseCases {
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn consume(
        &self,
        who: &Actor,
        client: &ClientId,
        id: ChallengeId,
    ) -> Result<Consumed, ConsumeError> {
        for _ in 0..self.race_retries() {
            let (challenge, context) = self
                .load_active(id, |c| c.is_owned_by(client), ConsumeError::REFUSALS)
                .await?;
            let now = self.clock.now();
            let verified_at = challenge.consumable(now, &self.policy).map_err(
                |refused| match refused {
                    ConsumeRefused::NotVerified(status) => ConsumeError::NotVerified(status),
                    ConsumeRefused::Lapsed { verified_at } => {
                        tracing::info!(%verified_at, "verified context lapsed before it was consumed");
                        ConsumeError::ContextNotFound
                    }
                },
            )?;
            let event = challenge_event(
                AuditKind::Consumed,
                now,
                who,
                &challenge,
                AuditOutcome::Consumed,
            );
            let assertion = self.assertion(&challenge, &context)?;
            let consumed = context.after_consume(now);
            let change = ChallengeChange::update(&challenge, challenge.after_consume())
                .with_context(consumed.clone())
                .recording(vec![event]);
            if self.apply(&change).await? != Change::Applied {
                // Consumed or cancelled meanwhile: decide again on what that left.
                continue;
            }
            change.events.iter().for_each(log_event);
            tracing::info!("step-up request context consumed");
            return Ok(Consumed {
                context_digest: consumed.digest(),
                challenge_id: id,
                subject: challenge.subject().clone(),
                operation: consumed.operation,
                attributes: consumed.attributes,
                verified_at,
                consumed_at: now,
                assertion,
            });
        }
        Err(ConsumeError::Contended)
    }
}
impl ConsumeError {
    /// An unknown challenge, another client's, or one whose context is gone.
    const REFUSALS: Refusals<Self> = Refusals {
        not_found: Self::ChallengeNotFound,
        not_allowed: Self::NotOwner,
        context_gone: Self::ContextNotFound,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use mfa_totp_domain::{Challenge, ContextState};

    fn verified() -> Challenge {
        challenge(ChallengeStatus::Verified)
    }

    /// Runs `:consume` by the creating client on the test challenge and returns its error.
    async fn consume_err(m: Mocks) -> ConsumeError {
        m.build()
            .consume(&who(), &client(), challenge_id())
            .await
            .expect_err("consume should fail")
    }

    #[tokio::test]
    async fn consume_hands_over_the_context_of_a_verified_challenge() {
        let mut m = Mocks::new()
            .with_challenge(verified())
            .with_context(ContextState::Active);
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Consume)
            .times(1)
            .returning(|_| Ok(Change::Applied));
        let out = m
            .build()
            .consume(&who(), &client(), challenge_id())
            .await
            .unwrap();
        assert_eq!(out.operation.as_str(), "payments.transfer");
        assert_eq!(out.subject, user());
        // The one assertion of the challenge: the claims `:verify` signed.
        assert_eq!(
            out.assertion,
            test_assertion(&context(ContextState::Active))
        );
    }

    #[tokio::test]
    async fn consume_that_cannot_sign_its_assertion_consumes_nothing() {
        let mut m = Mocks::new()
            .with_challenge(verified())
            .with_context(ContextState::Active);
        m.challenges.expect_apply().times(0);
        m.signer = failing_signer();
        let err = consume_err(m).await;
        assert!(matches!(
            err,
            ConsumeError::Store(StoreError::Unexpected(_))
        ));
    }

    #[tokio::test]
    async fn consume_twice_is_context_not_found() {
        let m = Mocks::new()
            .with_challenge(verified())
            .with_context(ContextState::Consumed);
        let err = consume_err(m).await;
        assert!(matches!(err, ConsumeError::ContextNotFound));
    }

    #[tokio::test]
    async fn consume_that_loses_the_race_decides_again_on_what_the_winner_left() {
        let mut m = Mocks::new();
        let mut seq = mockall::Sequence::new();
        for state in [ContextState::Active, ContextState::Consumed] {
            m.challenges
                .expect_find_with_context()
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_| Ok(Some((verified(), Some(context(state))))));
        }
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Consume)
            .times(1)
            .returning(|_| Ok(Change::Stale));
        let err = consume_err(m).await;
        assert!(matches!(err, ConsumeError::ContextNotFound));
    }

    #[tokio::test]
    async fn consume_before_verification_is_refused() {
        let m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::CodeSent))
            .with_context(ContextState::Active);
        let err = consume_err(m).await;
        assert!(matches!(
            err,
            ConsumeError::NotVerified(ChallengeStatus::CodeSent)
        ));
    }

    #[tokio::test]
    async fn consume_of_an_unknown_challenge_is_challenge_not_found() {
        let mut m = Mocks::new();
        m.challenges
            .expect_find_with_context()
            .returning(|_| Ok(None));
        let err = consume_err(m).await;
        assert!(matches!(err, ConsumeError::ChallengeNotFound));
    }

    #[tokio::test]
    async fn consume_reports_unavailable_storage() {
        let mut m = Mocks::new()
            .with_challenge(verified())
            .with_context(ContextState::Active);
        m.challenges
            .expect_apply()
            .returning(|_| Err(unavailable()));
        let err = consume_err(m).await;
        assert!(matches!(
            err,
            ConsumeError::Store(StoreError::Unavailable(_))
        ));
    }
}
