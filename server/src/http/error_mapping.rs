//! Use-case errors become `ApiError`s here, and only here: each use case's error enum maps
//! every variant to a status and code, and lists one example of every variant for the spec.
//! Refusals come from the application as instants (`ready_at`, `until`); this is where they
//! become `Retry-After` seconds.

use mfa_totp_application::access::AccessError;
use mfa_totp_application::audit::AuditReadError;
use mfa_totp_application::cancel::CancelError;
use mfa_totp_application::consume::ConsumeError;
use mfa_totp_application::create_challenge::CreateChallengeError;
use mfa_totp_application::delivery::DeliveryError;
use mfa_totp_application::get_challenge::GetChallengeError;
use mfa_totp_application::initiate::InitiateError;
use mfa_totp_application::put_user::PutUserError;
use mfa_totp_application::verify::VerifyError;
use mfa_totp_application::{SmsError, StoreError};
use mfa_totp_domain::{
    AttributeProblem, ChallengeStatus, LimitKind, LimitReached, NumberType, PhoneRefused, Timestamp,
};

use crate::api::example_time;
use crate::http::error::{
    ApiError, ErrorCode, FieldError, FieldErrorCode, UNAVAILABLE_RETRY_AFTER_SECS,
};
use crate::settings::MAX_WAIT_SECS;

/// A use case's error as the contract answers it.
pub trait UseCaseError: Sized {
    /// The response for this error, as of `now` (which turns instants into `Retry-After`).
    fn to_api_error(self, now: Timestamp) -> ApiError;

    /// One value of every variant (nested errors included), under the name the spec shows.
    /// Each implementation ends with a `match` that stops compiling when a variant is added.
    fn examples() -> Vec<(&'static str, Self)>;
}

/// The instant the spec's examples are answered at; refusals in them end at later
/// `example_time`s.
pub fn example_now() -> Timestamp {
    example_time(0)
}

/// Seconds from `now` until `at`, rounded up, at least 1 and at most the published bound:
/// the `Retry-After` value.
pub fn seconds_until(now: Timestamp, at: Timestamp) -> u64 {
    let millis = (at - now).num_milliseconds().max(0) as u64;
    millis.div_ceil(1000).clamp(1, u64::from(MAX_WAIT_SECS))
}

/// The attributes a linked operation's SMS must show, refused at their paths: `NOT_NULL`
/// when missing, `NOT_BLANK` when blank or when no SMS may show the value (the contract has
/// no other field code; the message says why).
fn attribute_errors(problems: Vec<(String, AttributeProblem)>) -> ApiError {
    let fields: Vec<FieldError> = problems
        .into_iter()
        .map(|(name, problem)| {
            let field = format!("stepUpRequestContext.attributes.{name}");
            let (code, why) = match problem {
                AttributeProblem::Missing => (
                    FieldErrorCode::NotNull,
                    "must not be null: this operation's SMS shows it".to_owned(),
                ),
                AttributeProblem::Blank => (
                    FieldErrorCode::NotBlank,
                    "must not be blank: this operation's SMS shows it".to_owned(),
                ),
                AttributeProblem::NotShowable(why) => (FieldErrorCode::NotBlank, why),
            };
            FieldError {
                code,
                message: format!("{field} {why}."),
                field,
            }
        })
        .collect();
    let message = fields
        .iter()
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    ApiError::invalid_fields(message, fields)
}

/// A limit across challenges refused the call: `429` until its window ends.
fn limited(reached: LimitReached, now: Timestamp) -> ApiError {
    ApiError::too_many_requests(
        format!(
            "Limit {} reached: {}; retry after the window ends.",
            reached.kind,
            reached.kind.describe()
        ),
        seconds_until(now, reached.retry_at),
    )
}

/// The examples of a refusal by each limit in `kinds`, under `LIMIT_<NAME>`.
fn limit_examples<E>(kinds: &[LimitKind], wrap: fn(LimitReached) -> E) -> Vec<(&'static str, E)> {
    kinds
        .iter()
        .map(|&kind| {
            let name = match kind {
                LimitKind::UserWrongCodes => "LIMIT_USER_WRONG_CODES",
                LimitKind::UserChallenges => "LIMIT_USER_CHALLENGES",
                LimitKind::UserSms => "LIMIT_USER_SMS",
                LimitKind::PhoneSms => "LIMIT_PHONE_SMS",
                LimitKind::GlobalSms => "LIMIT_GLOBAL_SMS",
            };
            let retry_at = match kind {
                LimitKind::GlobalSms => example_time(60),
                _ => example_time(3600),
            };
            (name, wrap(LimitReached { kind, retry_at }))
        })
        .collect()
}

pub fn challenge_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::ChallengeNotFound,
        "The challenge does not exist, has expired or is finished.",
    )
}

pub fn context_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::StepUpRequestContextNotFound,
        "The challenge's step-up request context was consumed or cancelled, or its verification lapsed.",
    )
}

/// Another service's challenge: `403 FORBIDDEN`, before anything of its state is told.
pub fn not_owner() -> ApiError {
    ApiError::forbidden("The challenge was created by another client.")
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

fn sms_unavailable() -> ApiError {
    ApiError::unavailable(
        "The SMS provider is unavailable; retry later.",
        UNAVAILABLE_RETRY_AFTER_SECS,
    )
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => database_unavailable().with_cause(error),
            StoreError::Unexpected(_) => ApiError::internal(error),
        }
    }
}

/// `examples`, once `lists` (an exhaustive `match` with no wildcard) has seen each: the match
/// stops compiling when a variant is added, until the variant gets an example.
fn every_variant<E>(
    examples: Vec<(&'static str, E)>,
    lists: impl Fn(&E),
) -> Vec<(&'static str, E)> {
    examples.iter().for_each(|(_, e)| lists(e));
    examples
}

/// The examples of a nested error, wrapped in the outer variant.
fn nested<E: UseCaseError, O>(wrap: fn(E) -> O) -> impl Iterator<Item = (&'static str, O)> {
    E::examples()
        .into_iter()
        .map(move |(name, e)| (name, wrap(e)))
}

impl UseCaseError for StoreError {
    fn to_api_error(self, _now: Timestamp) -> ApiError {
        self.into()
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let examples = vec![
            (
                "SERVICE_UNAVAILABLE",
                Self::Unavailable(anyhow::anyhow!("connection refused")),
            ),
            (
                "INTERNAL_SERVER_ERROR",
                Self::Unexpected(anyhow::anyhow!("corrupt row")),
            ),
        ];
        every_variant(examples, |e| match e {
            Self::Unavailable(_) | Self::Unexpected(_) => {}
        })
    }
}

impl UseCaseError for AccessError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::ChallengeNotFound => challenge_not_found(),
            Self::SubjectMismatch => ApiError::subject_mismatch(),
            Self::ContextNotFound => context_not_found(),
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let mut examples = vec![
            ("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound),
            (
                "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID",
                Self::SubjectMismatch,
            ),
            ("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound),
        ];
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
            Self::ChallengeNotFound
            | Self::SubjectMismatch
            | Self::ContextNotFound
            | Self::Store(_) => {}
        })
    }
}

impl UseCaseError for CreateChallengeError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            Self::Attributes(problems) => attribute_errors(problems),
            Self::Limited(reached) => limited(reached, now),
            Self::Store(e) => e.to_api_error(now),
            Self::Unexpected(_) => ApiError::internal(self),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let mut examples: Vec<_> = nested(Self::Store).collect();
        examples.push((
            "INTERNAL_SERVER_ERROR",
            Self::Unexpected(anyhow::anyhow!("no randomness")),
        ));
        examples.push((
            "ATTRIBUTES_NOT_SHOWABLE",
            Self::Attributes(vec![
                ("amount".into(), AttributeProblem::Missing),
                ("payee".into(), AttributeProblem::Blank),
            ]),
        ));
        examples.extend(limit_examples(&[LimitKind::UserChallenges], Self::Limited));
        every_variant(examples, |e| match e {
            Self::Attributes(_) | Self::Limited(_) | Self::Store(_) | Self::Unexpected(_) => {}
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
        let mut examples = vec![
            ("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound),
            ("NOT_OWNER", Self::NotOwner),
        ];
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
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
            Self::Sms(SmsError::Unavailable(_)) => sms_unavailable().with_cause(self),
            // The provider refused the number for good: the directory holds a phone that
            // cannot receive SMS, which for the caller is a user without a usable phone.
            Self::Sms(SmsError::Rejected(_)) => ApiError::not_found(
                ErrorCode::UserNotFound,
                "The subject's phone number cannot receive SMS.",
            )
            .with_cause(self),
            Self::Store(e) => e.to_api_error(now),
            Self::Contended => contended(),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let mut examples: Vec<_> = nested(Self::Access).collect();
        examples.extend([
            ("USER_NOT_FOUND", Self::UserNotFound),
            (
                "COOLDOWN",
                Self::Cooldown {
                    ready_at: example_time(30),
                },
            ),
            (
                "SEND_CAP_REACHED",
                Self::SendCapReached {
                    until: example_time(420),
                },
            ),
            (
                "SMS_UNAVAILABLE",
                Self::Sms(SmsError::Unavailable(anyhow::anyhow!("timeout"))),
            ),
            (
                "PHONE_CANNOT_RECEIVE_SMS",
                Self::Sms(SmsError::Rejected("twilio: code 21211".into())),
            ),
            ("CHALLENGE_BUSY", Self::Contended),
            (
                "PHONE_REFUSED",
                Self::PhoneRefused(PhoneRefused::Type(
                    NumberType::PremiumRate,
                    "mobile, fixed_line_or_mobile".into(),
                )),
            ),
        ]);
        examples.extend(limit_examples(
            &[
                LimitKind::UserSms,
                LimitKind::PhoneSms,
                LimitKind::GlobalSms,
            ],
            Self::Limited,
        ));
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
            Self::Access(_)
            | Self::UserNotFound
            | Self::PhoneRefused(_)
            | Self::Limited(_)
            | Self::Cooldown { .. }
            | Self::SendCapReached { .. }
            | Self::Sms(SmsError::Unavailable(_) | SmsError::Rejected(_))
            | Self::Store(_)
            | Self::Contended => {}
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
        let mut examples: Vec<_> = nested(Self::Access).collect();
        examples.extend([
            ("INVALID_OTP", Self::InvalidOtp),
            (
                "LOCKED",
                Self::Locked {
                    until: example_time(420),
                },
            ),
            ("CHALLENGE_BUSY", Self::Contended),
        ]);
        examples.extend(limit_examples(&[LimitKind::UserWrongCodes], Self::Limited));
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
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
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let mut examples = vec![
            ("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound),
            ("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound),
            ("NOT_VERIFIED", Self::NotVerified(ChallengeStatus::CodeSent)),
            ("NOT_OWNER", Self::NotOwner),
        ];
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
            Self::ChallengeNotFound
            | Self::NotOwner
            | Self::ContextNotFound
            | Self::NotVerified(_)
            | Self::Store(_) => {}
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
        let mut examples = vec![
            ("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound),
            ("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound),
            ("CHALLENGE_BUSY", Self::Contended),
            ("NOT_OWNER", Self::NotOwner),
        ];
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
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
        let examples: Vec<_> = nested(Self::Store).collect();
        every_variant(examples, |e| match e {
            Self::Store(_) => {}
        })
    }
}

impl UseCaseError for PutUserError {
    fn to_api_error(self, now: Timestamp) -> ApiError {
        match self {
            // The contract has two field codes; `NOT_BLANK` says "no usable value", and the
            // message says why.
            Self::PhoneRefused(why) => {
                let message = format!("phoneNumber {why}.");
                ApiError::invalid_fields(
                    message.clone(),
                    vec![FieldError {
                        code: FieldErrorCode::NotBlank,
                        message,
                        field: "phoneNumber".into(),
                    }],
                )
            }
            Self::Store(e) => e.to_api_error(now),
        }
    }

    fn examples() -> Vec<(&'static str, Self)> {
        let mut examples: Vec<_> = nested(Self::Store).collect();
        examples.push((
            "PHONE_REFUSED",
            Self::PhoneRefused(PhoneRefused::Type(
                NumberType::PremiumRate,
                "mobile, fixed_line_or_mobile".into(),
            )),
        ));
        every_variant(examples, |e| match e {
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
        let mut examples = vec![("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)];
        examples.extend(nested(Self::Store));
        every_variant(examples, |e| match e {
            Self::ChallengeNotFound | Self::Store(_) => {}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one_second() {
        let now = example_now();
        assert_eq!(seconds_until(now, now), 1);
        assert_eq!(seconds_until(now, now - chrono::TimeDelta::seconds(5)), 1);
        assert_eq!(
            seconds_until(now, now + chrono::TimeDelta::milliseconds(19_001)),
            20
        );
    }

    #[test]
    fn refusals_become_retry_after_from_now() {
        let now = example_now();
        let cooldown = InitiateError::Cooldown {
            ready_at: now + chrono::TimeDelta::seconds(12),
        };
        let error = cooldown.to_api_error(now);
        assert_eq!((error.parts().0, error.retry_after_secs()), (429, Some(12)));
        let locked = VerifyError::Locked {
            until: now + chrono::TimeDelta::seconds(540),
        };
        assert_eq!(locked.to_api_error(now).retry_after_secs(), Some(540));
    }
}
