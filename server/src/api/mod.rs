//! The API resources, one file each, and what they share.

pub mod assertions;
pub mod audit;
pub mod challenges;
pub mod errors;
pub mod events;
pub mod examples;
pub mod health;
pub mod metrics;
pub mod params;
pub mod sms_send;
pub mod sms_status;
pub mod totp_sms;
pub mod users;

use mfa_totp_domain::{ChallengeStatus, ClientId, UserId};
use poem_openapi::{Enum, Tags};

use mfa_totp_application::UseCases;

pub use examples::{EXAMPLE_CHALLENGE_ID, example_digest, example_time};

use crate::api::errors::UseCaseError;
use crate::auth::Caller;
use crate::http::error::ApiError;

#[derive(Tags)]
pub enum ApiTags {
    /// Step-up MFA by TOTP over SMS: send and check the code (called for the end user).
    TotpSms,
    /// Challenges and their step-up request contexts (called by operation services).
    Challenges,
    /// The user directory's phone numbers (called by the service that owns them).
    Users,
    /// Delivery reports from SMS providers (called by the provider, signed).
    Sms,
    /// Liveness and readiness.
    Health,
    /// The audit trail (read by support staff).
    Audit,
    /// Signed step-up assertions: the public keys that verify them offline.
    Assertions,
}

/// A challenge's state: `PENDING` → `CODE_SENT` → `VERIFIED` | `LOCKED` | `EXPIRED` | `CANCELLED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ChallengeStatus", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChallengeStatusDto {
    Pending,
    CodeSent,
    Verified,
    Locked,
    Expired,
    Cancelled,
}

impl From<ChallengeStatus> for ChallengeStatusDto {
    fn from(status: ChallengeStatus) -> Self {
        match status {
            ChallengeStatus::Pending => Self::Pending,
            ChallengeStatus::CodeSent => Self::CodeSent,
            ChallengeStatus::Verified => Self::Verified,
            ChallengeStatus::Locked => Self::Locked,
            ChallengeStatus::Expired => Self::Expired,
            ChallengeStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// The caller's user id, from the token's `sub`.
pub fn caller_user_id(caller: &Caller) -> Result<UserId, ApiError> {
    UserId::parse(&caller.subject)
        .map_err(|e| ApiError::unauthorized(format!("The token's sub {e}.")))
}

/// The calling service, from the token's `sub`: the owner of the challenges it creates.
pub fn caller_client_id(caller: &Caller) -> Result<ClientId, ApiError> {
    ClientId::parse(&caller.subject)
        .map_err(|e| ApiError::unauthorized(format!("The token's sub {e}.")))
}

/// A use case's result in the contract's terms; refusals are timed from the use cases' clock.
pub fn answer<T, E: UseCaseError>(
    use_cases: &UseCases,
    result: Result<T, E>,
) -> Result<T, ApiError> {
    result.map_err(|error| error.to_api_error(use_cases.clock.now()))
}
