//! The checks that open a request about a challenge: it exists, the caller is its subject
//! (`:initiate`, `:verify`) or the client that created it (`:consume`, `:cancel`), and its
//! step-up request context is still there to authorise.

use mfa_totp_domain::{Challenge, ChallengeId, ClientId, StepUpContext, TotpSecret, UserId};

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

/// Why an operation service may not act on a challenge (`:consume`, `:cancel`).
#[derive(Debug)]
pub(crate) enum ClientAccess {
    ChallengeNotFound,
    NotOwner,
    ContextNotFound,
    Store(StoreError),
}

impl From<StoreError> for ClientAccess {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl UseCases {
    /// Loads the challenge and its active context for the client that created it.
    pub(crate) async fn load_for_client(
        &self,
        id: ChallengeId,
        client: &ClientId,
    ) -> Result<(Challenge, StepUpContext), ClientAccess> {
        let (challenge, context) = self
            .challenges
            .find_with_context(id)
            .await?
            .ok_or(ClientAccess::ChallengeNotFound)?;
        if !challenge.is_owned_by(client) {
            return Err(ClientAccess::NotOwner);
        }
        match context {
            Some(context) if context.is_active() => Ok((challenge, context)),
            _ => Err(ClientAccess::ContextNotFound),
        }
    }

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
