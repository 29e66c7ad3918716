//! The contract's error body and the one `ApiError` every handler returns. The URN codes are
//! declared once here, so the generated spec enumerates them.

use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object};

use crate::http::request_id;

/// Every error code of the API. The seed's codes, plus the two we add (429 and 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ErrorCode {
    #[oai(rename = "urn:plmr:mfa-totp:api:INTERNAL_SERVER_ERROR")]
    InternalServerError,
    #[oai(rename = "urn:plmr:mfa-totp:api:BAD_REQUEST")]
    BadRequest,
    #[oai(rename = "urn:plmr:mfa-totp:api:RESOURCE_UNKNOWN")]
    ResourceUnknown,
    #[oai(rename = "urn:plmr:mfa-totp:api:UNAUTHORIZED")]
    Unauthorized,
    #[oai(rename = "urn:plmr:mfa-totp:api:FORBIDDEN")]
    Forbidden,
    #[oai(rename = "urn:plmr:mfa-totp:api:USER_NOT_FOUND")]
    UserNotFound,
    #[oai(rename = "urn:plmr:mfa-totp:api:CHALLENGE_NOT_FOUND")]
    ChallengeNotFound,
    #[oai(rename = "urn:plmr:mfa-totp:api:INVALID_OTP")]
    InvalidOtp,
    #[oai(rename = "urn:plmr:mfa-totp:api:USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID")]
    UserIdDoesNotMatchWithChallengeSubjectUserId,
    #[oai(rename = "urn:plmr:mfa-totp:api:STEP_UP_REQUEST_CONTEXT_NOT_FOUND")]
    StepUpRequestContextNotFound,
    /// Added by us: resend cooldown, send cap or too many wrong codes.
    #[oai(rename = "urn:plmr:mfa-totp:api:TOO_MANY_REQUESTS")]
    TooManyRequests,
    /// Added by us: the SMS provider or the database is unavailable.
    #[oai(rename = "urn:plmr:mfa-totp:api:SERVICE_UNAVAILABLE")]
    ServiceUnavailable,
}

/// Why a single field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum FieldErrorCode {
    #[oai(rename = "urn:plmr:mfa-totp:api:NOT_BLANK")]
    NotBlank,
    #[oai(rename = "urn:plmr:mfa-totp:api:NOT_NULL")]
    NotNull,
}

/// One refused field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(example)]
pub struct FieldError {
    /// Why the field was refused.
    pub code: FieldErrorCode,
    /// A human-readable explanation naming the field.
    pub message: String,
    /// The JSON path of the field, e.g. `stepUpRequestContext.operation`.
    pub field: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ErrorBody {
    /// What went wrong, as a URN of the API's error codes.
    pub code: ErrorCode,
    /// A safe, human-readable explanation. Never contains internals, codes or phone numbers.
    pub message: String,
    /// The request's id, also in the `X-Request-Id` response header.
    pub request_id: String,
    /// The refused fields of a `BAD_REQUEST`; empty for every other error.
    pub field_errors: Vec<FieldError>,
}

impl Example for FieldError {
    fn example() -> Self {
        Self {
            code: FieldErrorCode::NotBlank,
            message: "otp must not be blank.".into(),
            field: "otp".into(),
        }
    }
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            code: ErrorCode::BadRequest,
            message: "otp must not be blank.".into(),
            request_id: crate::spec::EXAMPLE_REQUEST_ID.into(),
            field_errors: vec![FieldError::example()],
        }
    }
}

/// Every error response, one variant per status.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed JSON, a missing or blank field, a bad parameter, or a wrong code (`INVALID_OTP`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or invalid bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Token lacks a scope, or the caller is not the challenge's subject.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Unknown challenge, context, user or route.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The challenge is not in a state that allows the call (`:consume` before `VERIFIED`).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Resend cooldown, send cap, or too many wrong codes.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u64,
    ),
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The SMS provider or the database is unavailable.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

fn body(
    code: ErrorCode,
    message: impl Into<String>,
    field_errors: Vec<FieldError>,
) -> Json<ErrorBody> {
    Json(ErrorBody {
        code,
        message: message.into(),
        request_id: request_id::current(),
        field_errors,
    })
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(body(ErrorCode::BadRequest, message, Vec::new()))
    }

    pub fn invalid_fields(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        Self::BadRequest(body(ErrorCode::BadRequest, message, fields))
    }

    pub fn invalid_otp() -> Self {
        Self::BadRequest(body(
            ErrorCode::InvalidOtp,
            "The one-time password is wrong, expired or already used.",
            Vec::new(),
        ))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(body(ErrorCode::Unauthorized, message, Vec::new()))
    }

    /// No bearer token, or one that is not a JWT we can read.
    pub fn token_required() -> Self {
        Self::unauthorized("A valid bearer token is required.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(body(ErrorCode::Forbidden, message, Vec::new()))
    }

    pub fn missing_scope(scope: &str) -> Self {
        Self::forbidden(format!("The token lacks the scope {scope}."))
    }

    pub fn subject_mismatch() -> Self {
        Self::Forbidden(body(
            ErrorCode::UserIdDoesNotMatchWithChallengeSubjectUserId,
            "The caller's user id does not match the challenge's subject user id.",
            Vec::new(),
        ))
    }

    /// `409`: the call does not fit the challenge's state.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict(body(code, message, Vec::new()))
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::NotFound(body(code, message, Vec::new()))
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::TooManyRequests(
            body(ErrorCode::TooManyRequests, message, Vec::new()),
            retry_after_secs,
        )
    }

    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Unavailable(
            body(ErrorCode::ServiceUnavailable, message, Vec::new()),
            retry_after_secs,
        )
    }

    /// Logs `cause` with its chain and answers 500 with a safe message.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "request failed");
        Self::Internal(body(
            ErrorCode::InternalServerError,
            "An internal error occurred.",
            Vec::new(),
        ))
    }

    /// The status and body, for the spec's examples.
    pub fn parts(&self) -> (u16, &ErrorBody) {
        match self {
            Self::BadRequest(body) => (400, body),
            Self::Unauthorized(body) => (401, body),
            Self::Forbidden(body) => (403, body),
            Self::NotFound(body) => (404, body),
            Self::Conflict(body) => (409, body),
            Self::TooManyRequests(body, _) => (429, body),
            Self::Internal(body) => (500, body),
            Self::Unavailable(body, _) => (503, body),
        }
    }

    /// A response of the given status, for errors raised outside our handlers.
    pub fn for_status(status: poem::http::StatusCode, message: impl Into<String>) -> Self {
        match status.as_u16() {
            401 => Self::unauthorized(message),
            403 => Self::forbidden(message),
            404 => Self::not_found(ErrorCode::ResourceUnknown, message),
            429 => Self::too_many_requests(message, 1),
            503 => Self::unavailable(message, mfa_totp_application::UNAVAILABLE_RETRY_AFTER_SECS),
            400..=499 => Self::bad_request(message),
            _ => Self::Internal(body(
                ErrorCode::InternalServerError,
                "An internal error occurred.",
                Vec::new(),
            )),
        }
    }
}

/// Displays an error with its sources: `a: b: c`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
