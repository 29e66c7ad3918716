//! The checks that open both `:initiate` and `:verify`: the challenge exists, the caller is
//! its subject, and its step-up request context is still there to authorise.

use mfa_totp_domain::{Challenge, ChallengeId, StepUpContext, TotpSecret, UserId};

use crate::{StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error("the caller is not the challenge's subject")]
    SubjectMismatch,
    #[error("the step-up request context is gone")]
    ContextNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    /// Loads the challenge and its active context for its subject. The subject is checked
    /// before anything about the challenge's state is revealed.
    pub(crate) async fn load_for_subject(
        &self,
        id: ChallengeId,
        caller: &UserId,
    ) -> Result<(Challenge, StepUpContext), AccessError> {
        let (challenge, context) = self
            .challenges
            .find_with_context(id)
            .await?
            .ok_or(AccessError::ChallengeNotFound)?;
        if challenge.subject() != caller {
            return Err(AccessError::SubjectMismatch);
        }
        match context {
            Some(context) if context.is_active() => Ok((challenge, context)),
            _ => Err(AccessError::ContextNotFound),
        }
    }

    /// Opens the challenge's sealed secret. Only `:initiate` and `:verify` need it; reads,
    /// consumes and cancels never open it, so they work after its key was retired.
    pub(crate) fn open_secret(&self, challenge: &Challenge) -> Result<TotpSecret, StoreError> {
        let id = challenge.id().to_string();
        self.cipher
            .open(challenge.secret().as_str(), id.as_bytes())
            .map_err(|e| {
                StoreError::Unexpected(anyhow::Error::new(e).context(format!("secret of {id}")))
            })
    }
}
