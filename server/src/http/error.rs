//! The contract's error body and the one `ApiError` every handler returns. The URN codes are
//! declared once here, so the generated spec enumerates them.

use std::sync::Arc;

use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object};

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
    #[oai(validator(max_length = 1024))]
    pub message: String,
    /// The JSON path of the field, e.g. `stepUpRequestContext.operation`.
    #[oai(validator(max_length = 128))]
    pub field: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ErrorBody {
    /// What went wrong, as a URN of the API's error codes.
    pub code: ErrorCode,
    /// A safe, human-readable explanation. Never contains internals, codes or phone numbers.
    #[oai(validator(max_length = 1024))]
    pub message: String,
    /// The request's id, also in the `X-Request-Id` response header.
    #[oai(validator(max_length = 128))]
    pub request_id: String,
    /// The refused fields of a `BAD_REQUEST`; empty for every other error.
    #[oai(validator(max_items = 16))]
    pub field_errors: Vec<FieldError>,
}

impl FieldError {
    /// `field` refused with `code`; the message names the field and says why
    /// (`"{field} {why}."`).
    pub fn new(code: FieldErrorCode, field: &str, why: &str) -> Self {
        Self {
            code,
            message: format!("{field} {why}."),
            field: field.to_owned(),
        }
    }
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
            request_id: crate::http::request_id::EXAMPLE.into(),
            field_errors: vec![FieldError::example()],
        }
    }
}

/// Every error response, one variant per status: what the spec shows.
#[derive(Debug, ApiResponse)]
pub enum ErrorResponse {
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
    /// Resend cooldown, send cap, too many wrong codes, or a limit across challenges (`limits.*`).
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

/// What an error response carries to the middleware, which stamps the request id into the
/// body and logs the error once.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub body: ErrorBody,
    /// Why, for the log only: never in the body.
    pub cause: Option<Arc<anyhow::Error>>,
}

/// The error every handler returns: a response of the contract and, for the log, its cause.
/// Constructors are pure: they neither log nor read the request.
#[derive(Debug)]
pub struct ApiError {
    response: ErrorResponse,
    cause: Option<Arc<anyhow::Error>>,
}

/// The longest `message` the spec allows; longer ones (a message can quote a request path)
/// are cut.
const MESSAGE_MAX_CHARS: usize = 1024;

fn body(
    code: ErrorCode,
    message: impl Into<String>,
    field_errors: Vec<FieldError>,
) -> Json<ErrorBody> {
    let mut message: String = message.into();
    if let Some((cut, _)) = message.char_indices().nth(MESSAGE_MAX_CHARS) {
        message.truncate(cut);
    }
    Json(ErrorBody {
        code,
        message,
        // Stamped by the middleware, which knows the request.
        request_id: String::new(),
        field_errors,
    })
}

impl From<ErrorResponse> for ApiError {
    fn from(response: ErrorResponse) -> Self {
        Self {
            response,
            cause: None,
        }
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ErrorResponse::BadRequest(body(ErrorCode::BadRequest, message, Vec::new())).into()
    }

    pub fn invalid_fields(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        ErrorResponse::BadRequest(body(ErrorCode::BadRequest, message, fields)).into()
    }

    /// `400 BAD_REQUEST` for these refused fields; the message is theirs, joined.
    pub fn for_fields(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Self::invalid_fields(message, fields)
    }

    pub fn invalid_otp() -> Self {
        ErrorResponse::BadRequest(body(
            ErrorCode::InvalidOtp,
            "The one-time password is wrong, expired or already used.",
            Vec::new(),
        ))
        .into()
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ErrorResponse::Unauthorized(body(ErrorCode::Unauthorized, message, Vec::new())).into()
    }

    /// No bearer token, or one that is not a JWT we can read.
    pub fn token_required() -> Self {
        Self::unauthorized(
            "Valid credentials are required: a bearer token, or a provider's signature.",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ErrorResponse::Forbidden(body(ErrorCode::Forbidden, message, Vec::new())).into()
    }

    pub fn missing_scope(scope: &str) -> Self {
        Self::forbidden(format!("The token lacks the scope {scope}."))
    }

    pub fn subject_mismatch() -> Self {
        ErrorResponse::Forbidden(body(
            ErrorCode::UserIdDoesNotMatchWithChallengeSubjectUserId,
            "The caller's user id does not match the challenge's subject user id.",
            Vec::new(),
        ))
        .into()
    }

    /// `409`: the call does not fit the challenge's state.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorResponse::Conflict(body(code, message, Vec::new())).into()
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorResponse::NotFound(body(code, message, Vec::new())).into()
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ErrorResponse::TooManyRequests(
            body(ErrorCode::TooManyRequests, message, Vec::new()),
            retry_after_secs,
        )
        .into()
    }

    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ErrorResponse::Unavailable(
            body(ErrorCode::ServiceUnavailable, message, Vec::new()),
            retry_after_secs,
        )
        .into()
    }

    /// `500` with a safe message; `cause` goes to the log only.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::from(ErrorResponse::Internal(body(
            ErrorCode::InternalServerError,
            "An internal error occurred.",
            Vec::new(),
        )))
        .with_cause(cause)
    }

    /// Keeps `cause` for the log line the middleware writes.
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(Arc::new(cause.into()));
        self
    }

    /// The status and body, for the spec's examples.
    pub fn parts(&self) -> (u16, &ErrorBody) {
        match &self.response {
            ErrorResponse::BadRequest(body) => (400, body),
            ErrorResponse::Unauthorized(body) => (401, body),
            ErrorResponse::Forbidden(body) => (403, body),
            ErrorResponse::NotFound(body) => (404, body),
            ErrorResponse::Conflict(body) => (409, body),
            ErrorResponse::TooManyRequests(body, _) => (429, body),
            ErrorResponse::Internal(body) => (500, body),
            ErrorResponse::Unavailable(body, _) => (503, body),
        }
    }

    /// The `Retry-After` seconds of a 429 or 503.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match &self.response {
            ErrorResponse::TooManyRequests(_, secs) | ErrorResponse::Unavailable(_, secs) => {
                Some(*secs)
            }
            _ => None,
        }
    }

    /// A response of the given status, for errors raised outside our handlers.
    pub fn for_status(status: poem::http::StatusCode, message: impl Into<String>) -> Self {
        match status.as_u16() {
            401 => Self::unauthorized(message),
            403 => Self::forbidden(message),
            404 => Self::not_found(ErrorCode::ResourceUnknown, message),
            429 => Self::too_many_requests(message, 1),
            503 => Self::unavailable(message, UNAVAILABLE_RETRY_AFTER_SECS),
            400..=499 => Self::bad_request(message),
            _ => ErrorResponse::Internal(body(
                ErrorCode::InternalServerError,
                "An internal error occurred.",
                Vec::new(),
            ))
            .into(),
        }
    }
}

/// How long a caller should wait before retrying when a dependency is down.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        ErrorResponse::meta()
    }

    fn register(registry: &mut Registry) {
        ErrorResponse::register(registry);
    }
}

impl ApiError {
    fn into_parts(self) -> (Response, ErrorReport) {
        let report = ErrorReport {
            body: self.parts().1.clone(),
            cause: self.cause,
        };
        (self.response.into_response(), report)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (mut response, report) = self.into_parts();
        response.extensions_mut().insert(report);
        response
    }
}

impl From<ApiError> for poem::Error {
    /// poem hands an error's own extensions (not its response's) to the middleware, so the
    /// report rides there.
    fn from(error: ApiError) -> Self {
        let (response, report) = error.into_parts();
        let mut error = poem::Error::from_response(response);
        error.set_data(report);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_to_the_published_length() {
        let long = "é".repeat(MESSAGE_MAX_CHARS + 10);
        let error = ApiError::bad_request(long);
        assert_eq!(error.parts().1.message.chars().count(), MESSAGE_MAX_CHARS);
    }
}
