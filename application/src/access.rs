//! The checks that open a request about a challenge: it exists, the caller is its subject
//! (`:initiate`, `:verify`) or the client that created it (`:consume`, `:cancel`), and its
//! step-up request context is still there to authorise.

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

/// What a request is told when the challenge is unknown, not the caller's, or its context
/// is gone.
pub(crate) struct Refusals<E> {
    pub not_found: E,
    pub not_allowed: E,
    pub context_gone: E,
}

impl UseCases {
    /// Loads the challenge and its active context for its subject. The subject is checked
    /// before anything about the challenge's state is revealed.
    pub(crate) async fn load_for_subject(
        &self,
        id: ChallengeId,
        caller: &UserId,
    ) -> Result<(Challenge, StepUpContext), AccessError> {
        self.load_active(
            id,
            |c| c.subject() == caller,
            Refusals {
                not_found: AccessError::ChallengeNotFound,
                not_allowed: AccessError::SubjectMismatch,
                context_gone: AccessError::ContextNotFound,
            },
        )
        .await
    }

    /// Loads the challenge and its active context, if `allowed` lets the caller near it:
    /// each check answers with its own refusal from `refusals`, in the use case's own terms.
    pub(crate) async fn load_active<E: From<StoreError>>(
        &self,
        id: ChallengeId,
        allowed: impl FnOnce(&Challenge) -> bool,
        refusals: Refusals<E>,
    ) -> Result<(Challenge, StepUpContext), E> {
        let Some((challenge, context)) = self.challenges.find_with_context(id).await? else {
            return Err(refusals.not_found);
        };
        if !allowed(&challenge) {
            return Err(refusals.not_allowed);
        }
        match context {
            Some(context) if context.is_active() => Ok((challenge, context)),
            _ => Err(refusals.context_gone),
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

    /// The signed step-up assertion `verified` earned for `context`. It is signed before
    /// the change that hands it out is applied, so a failure writes nothing.
    pub(crate) fn assertion(
        &self,
        verified: &Challenge,
        context: &StepUpContext,
    ) -> Result<String, StoreError> {
        let id = verified.id();
        let claims = self
            .assertions
            .assertion_for(verified, context)
            .ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!("challenge {id} is not verified"))
            })?;
        self.signer.sign(&claims).map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context(format!("assertion of {id}")))
        })
    }
}
