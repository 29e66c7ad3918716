//! An operation service reads a challenge's status.

use mfa_totp_domain::{ChallengeId, ClientId};

use crate::{ChallengeView, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum GetChallengeError {
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error("the challenge belongs to another client")]
    NotOwner,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn get_challenge(
        &self,
        client: &ClientId,
        id: ChallengeId,
    ) -> Result<ChallengeView, GetChallengeError> {
        let (challenge, context) = self
            .challenges
            .find_with_context(id)
            .await?
            .ok_or(GetChallengeError::ChallengeNotFound)?;
        if !challenge.is_owned_by(client) {
            return Err(GetChallengeError::NotOwner);
        }
        let last_send = self.sends.last_send(id).await?;
        Ok(ChallengeView {
            status: challenge.status_at(self.clock.now()),
            challenge,
            context,
            last_send,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use mfa_totp_domain::{ChallengeStatus, ContextState};

    #[tokio::test]
    async fn get_reports_a_live_challenge_past_its_ttl_as_expired() {
        let view = Mocks::new()
            .with_challenge(challenge(ChallengeStatus::CodeSent))
            .at(now() + chrono::TimeDelta::minutes(10))
            .with_context(ContextState::Active)
            .build()
            .get_challenge(&client(), challenge_id())
            .await
            .unwrap();
        assert_eq!(view.status, ChallengeStatus::Expired);
        assert_eq!(view.challenge.status(), ChallengeStatus::CodeSent);
    }

    #[tokio::test]
    async fn get_of_an_unknown_challenge_is_not_found() {
        let mut m = Mocks::new();
        m.challenges
            .expect_find_with_context()
            .returning(|_| Ok(None));
        let err = m
            .build()
            .get_challenge(&client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(err, GetChallengeError::ChallengeNotFound));
    }

    #[tokio::test]
    async fn get_reports_unavailable_storage() {
        let mut m = Mocks::new();
        m.challenges
            .expect_find_with_context()
            .returning(|_| Err(unavailable()));
        let err = m
            .build()
            .get_challenge(&client(), challenge_id())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            GetChallengeError::Store(StoreError::Unavailable(_))
        ));
    }
}
