//! Which errors each operation can answer, built by the same constructors and use-case error
//! mapping the handlers use. The published spec lists exactly these statuses per operation,
//! each with its named example bodies.

use mfa_totp_application::access::AccessError;
use mfa_totp_application::consume::ConsumeError;
use mfa_totp_application::initiate::InitiateError;
use mfa_totp_application::verify::VerifyError;
use mfa_totp_domain::ChallengeStatus;

use crate::auth::{SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE, SCOPE_USERS_WRITE};
use crate::http::error::{ApiError, FieldError, FieldErrorCode};
use crate::http::error_mapping::{database_unavailable, sms_unavailable};

/// An error body example, under the name it is published with.
pub type Example = (&'static str, ApiError);

/// The request id every example shows.
pub const EXAMPLE_REQUEST_ID: &str = "7d0f6c2e-3b1a-4f5e-9c8d-2a6b4e1f0c3d";

/// The errors of `operation_id`, or `None` for an operation this table does not know.
pub fn errors_of(operation_id: &str) -> Option<Vec<Example>> {
    let bad_id = || {
        (
            "BAD_REQUEST",
            ApiError::bad_request("challengeId must be a UUID"),
        )
    };
    let mut errors = match operation_id {
        "live" => return Some(Vec::new()),
        "ready" => return Some(vec![("SERVICE_UNAVAILABLE", database_unavailable())]),
        "initiateTotpSms" => vec![
            bad_id(),
            subject_mismatch(),
            ("CHALLENGE_NOT_FOUND", AccessError::ChallengeNotFound.into()),
            (
                "STEP_UP_REQUEST_CONTEXT_NOT_FOUND",
                AccessError::ContextNotFound.into(),
            ),
            ("USER_NOT_FOUND", InitiateError::UserNotFound.into()),
            (
                "TOO_MANY_REQUESTS",
                InitiateError::TooManyRequests {
                    retry_after_secs: 30,
                }
                .into(),
            ),
            ("SMS_UNAVAILABLE", sms_unavailable()),
        ],
        "verifyTotpSms" => vec![
            bad_id(),
            blank_field("otp"),
            ("INVALID_OTP", VerifyError::InvalidOtp.into()),
            subject_mismatch(),
            ("CHALLENGE_NOT_FOUND", AccessError::ChallengeNotFound.into()),
            (
                "STEP_UP_REQUEST_CONTEXT_NOT_FOUND",
                AccessError::ContextNotFound.into(),
            ),
            (
                "TOO_MANY_REQUESTS",
                VerifyError::Locked {
                    retry_after_secs: 420,
                }
                .into(),
            ),
        ],
        "createChallenge" => vec![
            blank_field("stepUpRequestContext.operation"),
            missing_scope(SCOPE_CHALLENGES_WRITE),
        ],
        "getChallenge" => vec![
            bad_id(),
            missing_scope(SCOPE_CHALLENGES_READ),
            ("CHALLENGE_NOT_FOUND", AccessError::ChallengeNotFound.into()),
        ],
        "consumeChallenge" => vec![
            bad_id(),
            missing_scope(SCOPE_CHALLENGES_WRITE),
            (
                "CHALLENGE_NOT_FOUND",
                ConsumeError::ChallengeNotFound.into(),
            ),
            (
                "STEP_UP_REQUEST_CONTEXT_NOT_FOUND",
                ConsumeError::ContextNotFound.into(),
            ),
            (
                "NOT_VERIFIED",
                ConsumeError::NotVerified(ChallengeStatus::CodeSent).into(),
            ),
        ],
        "cancelChallenge" => vec![
            bad_id(),
            missing_scope(SCOPE_CHALLENGES_WRITE),
            ("CHALLENGE_NOT_FOUND", AccessError::ChallengeNotFound.into()),
            (
                "STEP_UP_REQUEST_CONTEXT_NOT_FOUND",
                AccessError::ContextNotFound.into(),
            ),
        ],
        "putUser" => vec![blank_field("phoneNumber"), missing_scope(SCOPE_USERS_WRITE)],
        _ => return None,
    };
    // Every authenticated operation: no or a bad token, a fault, the database away.
    errors.extend([
        ("UNAUTHORIZED", ApiError::token_required()),
        (
            "INTERNAL_SERVER_ERROR",
            ApiError::for_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR, ""),
        ),
        ("SERVICE_UNAVAILABLE", database_unavailable()),
    ]);
    Some(errors)
}

fn subject_mismatch() -> Example {
    (
        "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID",
        ApiError::subject_mismatch(),
    )
}

fn missing_scope(scope: &str) -> Example {
    ("FORBIDDEN", ApiError::missing_scope(scope))
}

fn blank_field(field: &str) -> Example {
    let message = format!("{field} must not be blank.");
    let error = FieldError {
        code: FieldErrorCode::NotBlank,
        message: message.clone(),
        field: field.to_owned(),
    };
    (
        "BAD_REQUEST",
        ApiError::invalid_fields(message, vec![error]),
    )
}
