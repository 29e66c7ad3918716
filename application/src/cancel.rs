//! `:cancel`: the operation service withdraws a challenge (and its context) it no longer needs.

use mfa_totp_domain::{Actor, AuditKind, AuditOutcome, ChallengeId, ChallengeStatus, ClientId};

use crate::access::Refusals;
use crate::audit::{challenge_event, log_event};
use crate::{ChallengeChange, ChallengeView, Change, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Unknown, or already locked, expired or cancelled.
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error("the challenge belongs to another client")]
    NotOwner,
    #[error("the step-up request context is gone")]
    ContextNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the challenge kept changing under concurrent requests")]
    Contended,
}

impl UseCases {
    /// Cancels a live or verified-but-unconsumed challenge; its context goes with it. Returns
    /// both as they now stand.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn cancel(
        &self,
        who: &Actor,
        client: &ClientId,
        id: ChallengeId,
    ) -> Result<ChallengeView, CancelError> {
        for _ in 0..self.race_retries() {
            let (challenge, context) = self
                .load_active(id, |c| c.is_owned_by(client), CancelError::REFUSALS)
                .await?;
            let now = self.clock.now();
            let cancelled = challenge
                .after_cancel(now)
                .map_err(|_| CancelError::ChallengeNotFound)?;
            let event = challenge_event(
                AuditKind::Cancelled,
                now,
                who,
                &challenge,
                AuditOutcome::Status(ChallengeStatus::Cancelled),
            );
            let change = ChallengeChange::update(&challenge, cancelled)
                .with_context(context.after_cancel())
                .recording(vec![event]);
            if self.apply(&change).await? == Change::Applied {
                change.events.iter().for_each(log_event);
                tracing::info!(was = %challenge.status(), "challenge cancelled");
                return Ok(ChallengeView {
                    status: change.challenge.status(),
                    challenge: change.challenge,
                    context: change.context,
                    last_send: None,
                });
            }
        }
        Err(CancelError::Contended)
    }
}

impl CancelError {
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
    use mfa_totp_domain::{ChallengeStatus, ContextState};

    #[tokio::test]
    async fn cancel_withdraws_a_live_challenge_from_the_status_it_was_read_in() {
        let mut m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::CodeSent))
            .with_context(ContextState::Active);
        m.challenges
            .expect_apply()
            .withf(|ch| {
                let read_as = &ch.guard;
                kind(ch) == Kind::Cancel
                    && *read_as == Some(challenge(ChallengeStatus::CodeSent).version())
            })
            .times(1)
            .returning(|_| Ok(Change::Applied));
        let view = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap();
        assert_eq!(view.status, ChallengeStatus::Cancelled);
        assert_eq!(view.context.unwrap().state, ContextState::Cancelled);
    }

    #[tokio::test]
    async fn cancel_that_loses_every_race_is_contended() {
        let mut m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::CodeSent))
            .with_context(ContextState::Active);
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Cancel)
            .times(race_retries())
            .returning(|_| Ok(Change::Stale));
        let err = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(err, CancelError::Contended), "{err:?}");
    }

    #[tokio::test]
    async fn cancel_of_a_locked_challenge_is_challenge_not_found() {
        let m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::Locked))
            .with_context(ContextState::Active);
        let err = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(err, CancelError::ChallengeNotFound));
    }

    #[tokio::test]
    async fn cancel_after_consume_is_context_not_found() {
        let m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::Verified))
            .with_context(ContextState::Consumed);
        let err = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(err, CancelError::ContextNotFound));
    }

    #[tokio::test]
    async fn cancel_of_an_unknown_challenge_is_challenge_not_found() {
        let mut m = Mocks::new();
        m.challenges
            .expect_find_with_context()
            .returning(|_| Ok(None));
        let err = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(err, CancelError::ChallengeNotFound));
    }

    #[tokio::test]
    async fn cancel_reports_unavailable_storage() {
        let mut m = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::Pending))
            .with_context(ContextState::Active);
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Cancel)
            .returning(|_| Err(unavailable()));
        let err = m
            .build()
            .cancel(&who(), &client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            CancelError::Store(StoreError::Unavailable(_))
        ));
    }
}
