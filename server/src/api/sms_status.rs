//! Delivery reports from SMS providers: Twilio's `StatusCallback`, authenticated by its
//! `X-Twilio-Signature` (no bearer token: Twilio cannot hold one).

use mfa_totp_application::{DeliveryReport, UseCases};
use mfa_totp_domain::Actor;
use mfa_totp_sms::twilio::{delivery_status, is_twilio_signature};
use poem_openapi::auth::ApiKey;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme};
use secrecy::SecretString;

use crate::api::{ApiTags, answer};
use crate::http::error::ApiError;
use crate::http::form::FormPairs;
use crate::http::request_id::RequestId;

/// What checks Twilio's callbacks: the auth token, and the callback URL exactly as Twilio was
/// given it (`sms.twilio.status_callback`), which the signature covers.
pub struct TwilioCallback {
    pub auth_token: SecretString,
    pub url: String,
}

pub struct SmsStatusApi {
    pub use_cases: UseCases,
    /// `None` when Twilio or its status callback is not configured: every callback is refused.
    pub twilio: Option<TwilioCallback>,
}

/// Twilio's status callback, form-encoded. Twilio sends more parameters (`AccountSid`,
/// `From`, `To`, `ErrorCode`, ...); all of them are covered by the signature.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TwilioStatus {
    /// The message's id, as Twilio answered the send.
    #[oai(
        rename = "MessageSid",
        validator(max_length = 64, pattern = "^[A-Za-z0-9]+$")
    )]
    pub message_sid: String,
    /// `queued`, `sending`, `sent`, `partially_delivered`, `delivered`, `undelivered`,
    /// `failed`, ...: a status the service does not know is taken and changes nothing.
    #[oai(
        rename = "MessageStatus",
        validator(max_length = 32, pattern = "^[a-z_]+$")
    )]
    pub message_status: String,
    /// Twilio's error code for an undelivered or failed message (`30008`); kept on the send
    /// and in the audit trail.
    #[oai(
        rename = "ErrorCode",
        skip_serializing_if_is_none,
        validator(max_length = 16, pattern = "^[0-9]{1,16}$")
    )]
    pub error_code: Option<String>,
}

impl Example for TwilioStatus {
    fn example() -> Self {
        Self {
            message_sid: "SM0123456789abcdef0123456789abcdef".into(),
            message_status: "undelivered".into(),
            error_code: Some("30008".into()),
        }
    }
}

/// `X-Twilio-Signature`: Twilio's HMAC-SHA1 signature of the callback URL and its sorted
/// form parameters, under the account's auth token. Checked against the body by the handler.
#[derive(SecurityScheme)]
#[oai(
    rename = "twilioSignature",
    ty = "api_key",
    key_name = "X-Twilio-Signature",
    key_in = "header"
)]
pub struct TwilioSignature(ApiKey);

#[derive(ApiResponse)]
enum Recorded {
    /// The report was taken (a report about an unknown message changes nothing).
    #[oai(status = 204)]
    Recorded,
}

#[OpenApi(prefix_path = "/internal/v1/mfa/sms", tag = "ApiTags::Sms")]
impl SmsStatusApi {
    /// Receives Twilio's delivery report for a message.
    ///
    /// Twilio posts here when `sms.twilio.status_callback` names this URL. The request must
    /// carry `X-Twilio-Signature` (HMAC-SHA1 of the URL and the sorted parameters under the
    /// auth token): without the header it is refused with 401, with one that does not match
    /// (over the configured URL, with or without its default port, as Twilio's own validator
    /// accepts) with 403. A message's status only moves forward (queued, sent,
    /// partially delivered, then a final one), so a late or replayed report changes nothing;
    /// every report of a known message is written to its challenge's audit trail with its
    /// `ErrorCode`.
    #[oai(
        path = "/twilio/status",
        method = "post",
        operation_id = "twilioStatusCallback"
    )]
    async fn twilio_status(
        &self,
        request: &poem::Request,
        signature: TwilioSignature,
        body: FormPairs<TwilioStatus>,
    ) -> Result<Recorded, ApiError> {
        let signed = self.twilio.as_ref().is_some_and(|twilio| {
            is_twilio_signature(
                &twilio.auth_token,
                &twilio.url,
                &body.pairs,
                &signature.0.key,
            )
        });
        if !signed {
            return Err(bad_signature());
        }
        let (Some(message_id), Some(status)) = (body.get("MessageSid"), body.get("MessageStatus"))
        else {
            return Err(ApiError::bad_request(
                "MessageSid and MessageStatus are required.",
            ));
        };
        let Some(status) = delivery_status(status) else {
            // A status Twilio added since: taken (so that Twilio does not retry it), and
            // nothing changes.
            tracing::info!(
                status,
                "a Twilio status this service does not know: ignored"
            );
            return Ok(Recorded::Recorded);
        };
        let report = DeliveryReport {
            provider: "twilio".into(),
            message_id: message_id.to_owned(),
            status,
            error_code: body.get("ErrorCode").map(str::to_owned),
        };
        let who = Actor::new(RequestId::of(request), "twilio");
        answer(
            &self.use_cases,
            self.use_cases.record_delivery(&who, report).await,
        )?;
        Ok(Recorded::Recorded)
    }
}

pub fn bad_signature() -> ApiError {
    ApiError::forbidden("The X-Twilio-Signature is missing or does not match the request.")
}
