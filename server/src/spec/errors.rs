//! Which errors each operation can answer: those its handler raises itself (a bad path id
//! or body, a missing token or scope) and every variant of the use-case error it maps, built
//! by the same mapping the handler uses. The published spec lists exactly these statuses per
//! operation, each with its named example bodies.

use mfa_totp_application::audit::AuditReadError;
use mfa_totp_application::cancel::CancelError;
use mfa_totp_application::consume::ConsumeError;
use mfa_totp_application::create_challenge::CreateChallengeError;
use mfa_totp_application::delivery::DeliveryError;
use mfa_totp_application::get_challenge::GetChallengeError;
use mfa_totp_application::initiate::InitiateError;
use mfa_totp_application::put_user::PutUserError;
use mfa_totp_application::verify::VerifyError;

use crate::api::errors::UseCaseError;
use crate::api::examples::example_now;
use crate::api::health::not_ready;
use crate::api::sms_status::bad_signature;
use crate::auth::{
    SCOPE_AUDIT_READ, SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE, SCOPE_USERS_WRITE,
};
use crate::http::error::{ApiError, FieldError, FieldErrorCode};

/// An error body example, under the name it is published with.
pub type Example = (&'static str, ApiError);

/// The request id every example shows.
pub use crate::http::request_id::EXAMPLE as EXAMPLE_REQUEST_ID;

/// The errors of `operation_id`, or `None` for an operation this table does not know.
pub fn errors_of(operation_id: &str) -> Option<Vec<Example>> {
    let errors = match operation_id {
        "live" | "getJwks" => Vec::new(),
        "metrics" => vec![(
            "RESOURCE_UNKNOWN",
            crate::http::error::ApiError::not_found(
                crate::http::error::ErrorCode::ResourceUnknown,
                "Metrics are served on the admin port.",
            ),
        )],
        "ready" => vec![("SERVICE_UNAVAILABLE", not_ready(&["database", "sms"]))],
        "initiateTotpSms" => user_call::<InitiateError>(vec![bad_id()]),
        "verifyTotpSms" => user_call::<VerifyError>(vec![bad_id(), blank_field("otp")]),
        "createChallenge" => service_call::<CreateChallengeError>(
            SCOPE_CHALLENGES_WRITE,
            vec![blank_field("stepUpRequestContext.operation")],
        ),
        "getChallenge" => service_call::<GetChallengeError>(SCOPE_CHALLENGES_READ, vec![bad_id()]),
        "consumeChallenge" => service_call::<ConsumeError>(SCOPE_CHALLENGES_WRITE, vec![bad_id()]),
        "listChallengeEvents" => service_call::<AuditReadError>(SCOPE_AUDIT_READ, vec![bad_id()]),
        "cancelChallenge" => service_call::<CancelError>(SCOPE_CHALLENGES_WRITE, vec![bad_id()]),
        "putUser" => {
            service_call::<PutUserError>(SCOPE_USERS_WRITE, vec![blank_field("phoneNumber")])
        }
        "twilioStatusCallback" => user_call::<DeliveryError>(vec![
            (
                "BAD_REQUEST",
                ApiError::bad_request("MessageSid and MessageStatus are required."),
            ),
            ("FORBIDDEN", bad_signature()),
        ]),
        _ => return None,
    };
    Some(errors)
}

/// An operation called with credentials (the end user's token, or a provider's signature):
/// what its handler refuses, then every error of its use case.
fn user_call<E: UseCaseError>(mut handler: Vec<Example>) -> Vec<Example> {
    handler.push(("UNAUTHORIZED", ApiError::token_required()));
    handler.extend(
        E::examples()
            .into_iter()
            .map(|(name, error)| (name, error.to_api_error(example_now()))),
    );
    handler
}

/// An operation service's call: as [`user_call`], and the token must carry `scope`.
fn service_call<E: UseCaseError>(scope: &str, mut handler: Vec<Example>) -> Vec<Example> {
    handler.push(("FORBIDDEN", ApiError::missing_scope(scope)));
    user_call::<E>(handler)
}

fn bad_id() -> Example {
    (
        "BAD_REQUEST",
        ApiError::bad_request("challengeId must be a UUID"),
    )
}

fn blank_field(field: &str) -> Example {
    let error = FieldError::new(FieldErrorCode::NotBlank, field, "must not be blank");
    ("BAD_REQUEST", ApiError::for_fields(vec![error]))
}
