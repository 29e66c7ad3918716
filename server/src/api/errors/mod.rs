//! Use-case errors become the contract's `ApiError`s here, and only here: each use case's
//! error enum maps every variant to a status and code (`use_cases`), and lists one example
//! of every variant for the spec. Refusals come from the application as instants
//! (`ready_at`, `until`); this is where they become `Retry-After` seconds.
//!
//! The refusals several use cases share (a challenge the caller may not touch, a limit, a
//! contended challenge, the store) are answered by one function each, and their examples
//! are listed by one builder, [`Examples`].

mod use_cases;

use mfa_totp_application::StoreError;
use mfa_totp_application::access::AccessError;
use mfa_totp_domain::{ChallengePolicy, LimitKind, LimitReached, Timestamp};

use crate::api::examples::example_time;
use crate::http::error::{ApiError, ErrorCode, UNAVAILABLE_RETRY_AFTER_SECS};

/// A use case's error as the contract answers it.
pub trait UseCaseError: Sized {
    /// The response for this error, as of `now` (which turns instants into `Retry-After`).
    fn to_api_error(self, now: Timestamp) -> ApiError;

    /// One value of every variant (nested errors included), under the name the spec shows.
    /// Each implementation ends with [`Examples::listed_by`], whose `match` stops compiling
    /// when a variant is added.
    fn examples() -> Vec<(&'static str, Self)>;
}

/// Seconds from `now` until `at`, rounded up, at least 1 and at most the published bound:
/// the `Retry-After` value.
pub fn seconds_until(now: Timestamp, at: Timestamp) -> u64 {
    let millis = (at - now).num_milliseconds().max(0) as u64;
    millis
        .div_ceil(1000)
        .clamp(1, u64::from(ChallengePolicy::MAX_WAIT_SECS))
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

fn challenge_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::ChallengeNotFound,
        "The challenge does not exist, has expired or is finished.",
    )
}

fn context_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::StepUpRequestContextNotFound,
        "The challenge's step-up request context was consumed or cancelled, or its verification lapsed.",
    )
}

/// Another service's challenge: `403 FORBIDDEN`, before anything of its state is told.
fn not_owner() -> ApiError {
    ApiError::forbidden("The challenge was created by another client.")
}

/// Concurrent requests kept changing the challenge; a retry will see a settled state.
fn contended() -> ApiError {
    ApiError::unavailable("The challenge is busy; retry shortly.", 1)
}

fn database_unavailable() -> ApiError {
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

/// The examples of one use case's error, named as the spec shows them; the refusals that
/// use cases share are added by one method each.
struct Examples<E>(Vec<(&'static str, E)>);

impl<E> Examples<E> {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn with(mut self, name: &'static str, error: E) -> Self {
        self.0.push((name, error));
        self
    }

    /// Every example of a nested error, wrapped in the outer variant.
    fn nested<N: UseCaseError>(mut self, wrap: fn(N) -> E) -> Self {
        self.0
            .extend(N::examples().into_iter().map(|(name, e)| (name, wrap(e))));
        self
    }

    /// A refusal by each limit in `kinds` (the ones this use case charges), as
    /// `LIMIT_<NAME>`.
    fn limits(mut self, kinds: &[LimitKind], wrap: fn(LimitReached) -> E) -> Self {
        for &kind in kinds {
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
            self.0.push((name, wrap(LimitReached { kind, retry_at })));
        }
        self
    }

    /// The challenge kept changing under concurrent requests.
    fn contended(self, busy: E) -> Self {
        self.with("CHALLENGE_BUSY", busy)
    }

    /// The examples, once `lists` (an exhaustive `match` with no wildcard) has seen each: the
    /// match stops compiling when a variant is added, until the variant gets an example.
    fn listed_by(self, lists: impl Fn(&E)) -> Vec<(&'static str, E)> {
        self.0.iter().for_each(|(_, e)| lists(e));
        self.0
    }
}

impl UseCaseError for StoreError {
    fn to_api_error(self, _now: Timestamp) -> ApiError {
        self.into()
    }

    fn examples() -> Vec<(&'static str, Self)> {
        Examples::new()
            .with(
                "SERVICE_UNAVAILABLE",
                Self::Unavailable(anyhow::anyhow!("connection refused")),
            )
            .with(
                "INTERNAL_SERVER_ERROR",
                Self::Unexpected(anyhow::anyhow!("corrupt row")),
            )
            .listed_by(|e| match e {
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
        Examples::new()
            .with("CHALLENGE_NOT_FOUND", Self::ChallengeNotFound)
            .with(
                "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID",
                Self::SubjectMismatch,
            )
            .with("STEP_UP_REQUEST_CONTEXT_NOT_FOUND", Self::ContextNotFound)
            .nested(Self::Store)
            .listed_by(|e| match e {
                Self::ChallengeNotFound
                | Self::SubjectMismatch
                | Self::ContextNotFound
                | Self::Store(_) => {}
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_totp_application::initiate::InitiateError;
    use mfa_totp_application::verify::VerifyError;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one_second() {
        let now = crate::api::examples::example_now();
        assert_eq!(seconds_until(now, now), 1);
        assert_eq!(seconds_until(now, now - chrono::TimeDelta::seconds(5)), 1);
        assert_eq!(
            seconds_until(now, now + chrono::TimeDelta::milliseconds(19_001)),
            20
        );
    }

    #[test]
    fn refusals_become_retry_after_from_now() {
        let now = crate::api::examples::example_now();
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
