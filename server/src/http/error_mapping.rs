//! Use-case errors become `ApiError`s here, and only here.

use mfa_totp_application::access::AccessError;
use mfa_totp_application::cancel::CancelError;
use mfa_totp_application::consume::ConsumeError;
use mfa_totp_application::create_challenge::CreateChallengeError;
use mfa_totp_application::get_challenge::GetChallengeError;
use mfa_totp_application::initiate::InitiateError;
use mfa_totp_application::put_user::PutUserError;
use mfa_totp_application::verify::VerifyError;
use mfa_totp_application::{SmsError, StoreError, UNAVAILABLE_RETRY_AFTER_SECS};

use crate::http::error::{ApiError, ErrorChain, ErrorCode};

pub fn challenge_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::ChallengeNotFound,
        "The challenge does not exist, has expired or is finished.",
    )
}

pub fn context_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::StepUpRequestContextNotFound,
        "The challenge's step-up request context was consumed or cancelled.",
    )
}

/// Concurrent requests kept changing the challenge; a retry will see a settled state.
fn contended() -> ApiError {
    ApiError::unavailable("The challenge is busy; retry shortly.", 1)
}

pub fn database_unavailable() -> ApiError {
    ApiError::unavailable(
        "The database is unavailable; retry later.",
        UNAVAILABLE_RETRY_AFTER_SECS,
    )
}

pub fn sms_unavailable() -> ApiError {
    ApiError::unavailable(
        "The SMS provider is unavailable; retry later.",
        UNAVAILABLE_RETRY_AFTER_SECS,
    )
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %ErrorChain(&error), "database unavailable");
                database_unavailable()
            }
            StoreError::Unexpected(_) => ApiError::internal(&error),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::ChallengeNotFound => challenge_not_found(),
            AccessError::SubjectMismatch => ApiError::subject_mismatch(),
            AccessError::ContextNotFound => context_not_found(),
            AccessError::Store(e) => e.into(),
        }
    }
}

impl From<CreateChallengeError> for ApiError {
    fn from(error: CreateChallengeError) -> Self {
        match error {
            CreateChallengeError::Store(e) => e.into(),
            CreateChallengeError::Unexpected(_) => ApiError::internal(&error),
        }
    }
}

impl From<GetChallengeError> for ApiError {
    fn from(error: GetChallengeError) -> Self {
        match error {
            GetChallengeError::ChallengeNotFound => challenge_not_found(),
            GetChallengeError::Store(e) => e.into(),
        }
    }
}

impl From<InitiateError> for ApiError {
    fn from(error: InitiateError) -> Self {
        match error {
            InitiateError::Access(e) => e.into(),
            InitiateError::UserNotFound => ApiError::not_found(
                ErrorCode::UserNotFound,
                "The challenge's subject is unknown to the user directory or has no phone number.",
            ),
            InitiateError::TooManyRequests { retry_after_secs } => ApiError::too_many_requests(
                "A code was sent too recently, or the send limit for this challenge is reached.",
                retry_after_secs,
            ),
            InitiateError::Sms(SmsError::Unavailable(_)) => {
                tracing::warn!(error = %ErrorChain(&error), "SMS provider unavailable");
                sms_unavailable()
            }
            InitiateError::Sms(SmsError::Rejected(_)) => ApiError::internal(&error),
            InitiateError::Store(e) => e.into(),
            InitiateError::Contended => contended(),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Access(e) => e.into(),
            VerifyError::InvalidOtp => ApiError::invalid_otp(),
            VerifyError::Locked { retry_after_secs } => ApiError::too_many_requests(
                "Too many wrong codes: this challenge is locked.",
                retry_after_secs,
            ),
            VerifyError::Store(e) => e.into(),
            VerifyError::Contended => contended(),
        }
    }
}

impl From<ConsumeError> for ApiError {
    fn from(error: ConsumeError) -> Self {
        match error {
            ConsumeError::ChallengeNotFound => challenge_not_found(),
            ConsumeError::ContextNotFound => context_not_found(),
            // The challenge exists and the request is well formed, but its context is not
            // verified (yet): a state conflict, unlike the context that is gone for good (404).
            ConsumeError::NotVerified(status) => ApiError::conflict(
                ErrorCode::StepUpRequestContextNotFound,
                format!("The challenge is {status}: it has no verified step-up request context."),
            ),
            ConsumeError::Store(e) => e.into(),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            CancelError::ChallengeNotFound => challenge_not_found(),
            CancelError::ContextNotFound => context_not_found(),
            CancelError::Store(e) => e.into(),
            CancelError::Contended => contended(),
        }
    }
}

impl From<PutUserError> for ApiError {
    fn from(error: PutUserError) -> Self {
        match error {
            PutUserError::Store(e) => e.into(),
        }
    }
}
