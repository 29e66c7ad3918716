//! Each use case's error, variant by variant, in the contract's terms, with an example of
//! every variant for the spec.

use mfa_totp_application::audit::AuditReadError;
use mfa_totp_application::cancel::CancelError;
use mfa_totp_application::consume::ConsumeError;
use mfa_totp_application::create_challenge::CreateChallengeError;
use mfa_totp_application::delivery::DeliveryError;
use mfa_totp_application::get_challenge::GetChallengeError;
use mfa_totp_application::initiate::InitiateError;
use mfa_totp_application::put_user::PutUserError;
use mfa_totp_application::verify::VerifyError;
use mfa_totp_application::{ProviderAnswer, SmsError};
use mfa_totp_domain::{
    AttributeProblem, ChallengeStatus, LimitKind, NumberType, Operation, PhoneRefused, Timestamp,
};

use super::{
    Examples, UseCaseError, challenge_not_found, contended, context_not_found, limited, not_owner,
    seconds_until, sms_unavailable,
};
use crate::api::examples::example_time;
use crate::http::error::{ApiError, ErrorCode, FieldError, FieldErrorCode};

/// The attributes a linked operation's SMS must show, refused at their paths: `NOT_NULL`
/// when missing, `NOT_BLANK` when blank or when no SMS may show the value (the contract has
/// no other field code; the message says why).
fn attribute_errors(problems: Vec<(String, AttributeProblem)>) -> ApiError {
    let fields = problems
        .into_iter()
        .map(|(name, problem)| {
            let field = match name.as_str() {
                "" => "stepUpRequestContext.attributes".to_owned(),
                name => format!("stepUpRequestContext.attributes.{name}"),
            };
            match problem {
                AttributeProblem::Missing => FieldError::new(
                    FieldErrorCode::NotNull,
                    &field,
                    "must not be null: this operation's SMS shows it",
                ),
                AttributeProblem::Blank => FieldError::new(
                    FieldErrorCode::NotBlank,
                    &field,
                    "must not be blank: this operation's SMS shows it",
                ),
                AttributeProblem::NotShowable(_)
                | AttributeProblem::Inexact(_)
                | AttributeProblem::TooManySegments { .. } => {
                    FieldError::new(FieldErrorCode::NotBlank, &field, &problem.to_string())
                }
            }
        })
        .collect();
    ApiError::for_fields(fields)
}

/// A number the phone rules refuse, as a field error on `field`.
fn phone_refused(field: &str, why: &PhoneRefused) -> ApiError {
    ApiError::for_fields(vec![FieldError::new(
        FieldErrorCode::NotBlank,
        field,
        &why.to_string(),
    )])
}

fn example_refused_phone() -> PhoneRefused {
    PhoneRefused::Type(
        NumberType::PremiumRate,
        "mobile, fixed_line_or_mobile".into(),
    )
}

impl UseCaseError for CreateChallengeError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::OperationNotAllowed(operation) => ApiError::forbidden(format!(
                "This client may not create challenges for the operation '{}' (auth.clients).",
                operation.as_str()
            )),
            Self::Attributes(problems) => attribute_errors(problems),
            Self::Limited(reached) => limited(reached, now),
            Self::Store(e) => e.to_api_error(now),
            Self::Unexpected(_) => ApiError::internal(self),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .nested(Self::Store)
            .with(
                "INTERNAL_SERVER_ERROR",
                Self::Unexpected(anyhow::anyhow!("no randomness")),
            )
            .with(
                "OPERATION_NOT_ALLOWED",
                Self::OperationNotAllowed(
                    Operation::parse("payments.transfer").expect("an operation"),
                ),
            )
            .with(
                "ATTRIBUTES_NOT_SHOWABLE",
                Self::Attributes(vec![
                    ("amount".into(), AttributeProblem::Missing),
                    ("payee".into(), AttributeProblem::Blank),
                ]),
            )
            .with(
                "SMS_TOO_LONG",
                Self::Attributes(vec![(
                    String::new(),
                    AttributeProblem::TooManySegments {
                        segments: 4,
                        max: 3,
                    },
                )]),
            )
            .with(
                "ATTRIBUTE_NUMBER_NOT_EXACT",
                Self::Attributes(vec![(
                    "accountNumber".into(),
                    AttributeProblem::Inexact("9007199254740992".into()),
                )]),
            )
            .limits(&[LimitKind::UserChallenges], Self::Limited)
            .listed_by(|e| match e {
                Self::OperationNotAllowed(_)
                | Self::Attributes(_)
                | Self::Limited(_)
                | Self::Store(_)
                | Self::Unexpected(_) => {}
            })
    }
}

impl UseCaseError for GetChallengeError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::ChallengeNotFound => challenge_not_found(),
            Self::NotOwner => not_owner(),
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .with("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)
            .with("NOT_OWNER", Self::NotOwner)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::ChallengeNotFound | Self::NotOwner | Self::Store(_) => {}
            })
    }
}

impl UseCaseError for InitiateError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::Access(e) => e.to_api_error(now),
            Self::UserNotFound => ApiError::not_found(
                ErrorCode::UserNotFound,
                "The challenge's subject is unknown to the user directory or has no phone number.",
            ),
            // The rules changed since the number was stored: for the caller, a user without
            // a usable phone.
            Self::PhoneRefused(why) => ApiError::not_found(
                ErrorCode::UserNotFound,
                format!("The subject's phone number {why}; store another one."),
            ),
            Self::Limited(reached) => limited(reached, now),
            Self::Cooldown { ready_at } => ApiError::too_many_requests(
                "A code was sent too recently; wait before asking for another.",
                seconds_until(now, ready_at),
            ),
            Self::SendCapReached { until } => ApiError::too_many_requests(
                "The send limit for this challenge is reached.",
                seconds_until(now, until),
            ),
            Self::Sms(SmsError::Unavailable(_) | SmsError::Unknown(_)) => {
                sms_unavailable().with_cause(self)
            }
            // The send counts; the code may still arrive. Retry after the cooldown.
            Self::Unconfirmed { ready_at } => ApiError::unavailable(
                "The SMS provider did not confirm the send; the code may still arrive. Ask for \
                 another after Retry-After.",
                seconds_until(now, ready_at),
            ),
            // The provider refused the number: the directory holds a phone that cannot
            // receive SMS, which for the caller is a user without a usable phone.
            Self::Sms(SmsError::Refused(_)) => ApiError::not_found(
                ErrorCode::UserNotFound,
                "The subject's phone number cannot receive SMS.",
            )
            .with_cause(self),
            Self::Store(e) => e.to_api_error(now),
            Self::Contended => contended(),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .nested(Self::Access)
            .with("USER_NOT_FOUND", Self::UserNotFound)
            .with(
                "COOLDOWN",
                Self::Cooldown {
                    ready_at: example_time(30),
                },
            )
            .with(
                "SEND_CAP_REACHED",
                Self::SendCapReached {
                    until: example_time(420),
                },
            )
            .with(
                "SMS_UNAVAILABLE",
                Self::Sms(SmsError::Unavailable(ProviderAnswer::new(
                    "twilio",
                    Some("HTTP 503".into()),
                    "",
                ))),
            )
            .with(
                "SMS_UNCONFIRMED",
                Self::Unconfirmed {
                    ready_at: example_time(30),
                },
            )
            .with(
                "PHONE_CANNOT_RECEIVE_SMS",
                Self::Sms(SmsError::Refused(ProviderAnswer::new(
                    "twilio",
                    Some("21614".into()),
                    "'To' number is not a valid mobile number",
                ))),
            )
            .contended(Self::Contended)
            .with("PHONE_REFUSED", Self::PhoneRefused(example_refused_phone()))
            .limits(
                &[
                    LimitKind::UserSms,
                    LimitKind::PhoneSms,
                    LimitKind::GlobalSms,
                ],
                Self::Limited,
            )
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::Access(_)
                | Self::UserNotFound
                | Self::PhoneRefused(_)
                | Self::Limited(_)
                | Self::Cooldown { .. }
                | Self::SendCapReached { .. }
                | Self::Sms(SmsError::Unavailable(_) | SmsError::Refused(_))
                | Self::Unconfirmed { .. } => {}
                // Never returned: `:initiate` answers an unknown outcome as `Unconfirmed`.
                Self::Sms(SmsError::Unknown(_)) | Self::Store(_) | Self::Contended => {}
            })
    }
}

impl UseCaseError for VerifyError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::Access(e) => e.to_api_error(now),
            Self::InvalidOtp => ApiError::invalid_otp(),
            Self::Locked { until } => ApiError::too_many_requests(
                "Too many wrong codes: this challenge is locked.",
                seconds_until(now, until),
            ),
            Self::Limited(reached) => limited(reached, now),
            Self::Store(e) => e.to_api_error(now),
            Self::Contended => contended(),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .nested(Self::Access)
            .with("INVALID_OTP", Self::InvalidOtp)
            .with(
                "LOCKED",
                Self::Locked {
                    until: example_time(420),
                },
            )
            .contended(Self::Contended)
            .limits(&[LimitKind::UserWrongCodes], Self::Limited)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::Access(_)
                | Self::InvalidOtp
                | Self::Locked { .. }
                | Self::Limited(_)
                | Self::Store(_)
                | Self::Contended => {}
            })
    }
}

impl UseCaseError for ConsumeError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::ChallengeNotFound => challenge_not_found(),
            Self::NotOwner => not_owner(),
            Self::ContextNotFound => context_not_found(),
            // The challenge exists and the request is well formed, but its context is not
            // verified (yet): a state conflict, unlike the context that is gone for good (404).
            Self::NotVerified(status) => ApiError::conflict(
                ErrorCode::StepUpRequestContextNotFound,
                format!("The challenge is {status}: it has no verified step-up request context."),
            ),
            Self::Store(e) => e.to_api_error(now),
            Self::Contended => contended(),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .with("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)
            .with("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound)
            .with("NOT_VERIFIED", Self::NotVerified(ChallengeStatus::CodeSent))
            .with("NOT_OWNER", Self::NotOwner)
            .contended(Self::Contended)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::ChallengeNotFound
                | Self::NotOwner
                | Self::ContextNotFound
                | Self::NotVerified(_)
                | Self::Store(_)
                | Self::Contended => {}
            })
    }
}

impl UseCaseError for CancelError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::ChallengeNotFound => challenge_not_found(),
            Self::NotOwner => not_owner(),
            Self::ContextNotFound => context_not_found(),
            Self::Store(e) => e.to_api_error(now),
            Self::Contended => contended(),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .with("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)
            .with("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound)
            .contended(Self::Contended)
            .with("NOT_OWNER", Self::NotOwner)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::ChallengeNotFound
                | Self::NotOwner
                | Self::ContextNotFound
                | Self::Store(_)
                | Self::Contended => {}
            })
    }
}

impl UseCaseError for DeliveryError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new().nested(Self::Store).listed_by(|e| match e {
            Self::Store(_) => {}
        })
    }
}

impl UseCaseError for PutUserError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            // The contract has two field codes; `NOT_BLANK` says "no usable value", and the
            // message says why.
            Self::PhoneRefused(why) => phone_refused("phoneNumber", &why),
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .nested(Self::Store)
            .with("PHONE_REFUSED", Self::PhoneRefused(example_refused_phone()))
            .listed_by(|e| match e {
                Self::PhoneRefused(_) | Self::Store(_) => {}
            })
    }
}

impl UseCaseError for AuditReadError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::ChallengeNotFound => challenge_not_found(),
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .with("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::ChallengeNotFound | Self::Store(_) => {}
            })
    }
}
