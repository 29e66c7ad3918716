//! The audit trail of a challenge, for support staff: why a user did or did not get a code.

use chrono::{DateTime, Utc};
use mfa_totp_application::UseCases;
use mfa_totp_domain::{AuditEvent, AuditKind, AuditOutcome as DomainOutcome, LimitKind};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object, OpenApi};

use crate::api::params::{ChallengeIdParam, MaskedPhoneRule, RequestIdRule, Text, UserIdRule};
use crate::api::sms_send::{DeliveryStatusDto, SendOutcomeDto};
use crate::api::{ApiTags, ChallengeStatusDto, EXAMPLE_CHALLENGE_ID, answer, example_time};
use crate::auth::{BearerToken, SCOPE_AUDIT_READ};
use crate::http::error::ApiError;

pub struct AuditApi {
    pub use_cases: UseCases,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "AuditEventType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditEventType {
    ChallengeCreated,
    /// A provider accepted the SMS (`provider`, `messageId`).
    CodeSent,
    /// No provider took the SMS (`outcome` says how: `REJECTED` for this number, `UNKNOWN`
    /// when it may have gone out, `UNAVAILABLE`; `provider` and `errorCode` say who and why).
    SendFailed,
    /// A wrong code.
    VerifyFailed,
    Verified,
    /// The challenge locked after too many wrong codes.
    Locked,
    Expired,
    Cancelled,
    Consumed,
    /// A limit across challenges refused the request (`limit`).
    LimitHit,
    /// The provider reported on the message's delivery (`outcome`: the status reported;
    /// `errorCode`: the provider's, e.g. Twilio's `30008`).
    DeliveryReported,
    /// An event pushed to the operation service that created the challenge was given up
    /// after `events.max_attempts` (`outcome` `GAVE_UP`; `messageId`: the event's
    /// `webhook-id`; `errorCode`: the last attempt's failure, e.g. `HTTP 500`, `timeout`).
    EventUndelivered,
}

/// The result in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "AuditOutcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditOutcome {
    /// The challenge was created.
    Pending,
    /// A code went out (the challenge's status after a send).
    CodeSent,
    Accepted,
    Rejected,
    Unavailable,
    /// A provider may have sent the SMS but did not confirm it.
    Unknown,
    /// Delivery reports: the status the provider reported.
    Queued,
    Sent,
    PartiallyDelivered,
    Delivered,
    Undelivered,
    Failed,
    InvalidOtp,
    Verified,
    Locked,
    Expired,
    Cancelled,
    Consumed,
    TooManyRequests,
    /// An event's delivery stopped after its last attempt.
    GaveUp,
}

/// A limit across challenges, by its configuration name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "LimitName", rename_all = "snake_case")]
pub enum LimitName {
    UserWrongCodes,
    UserChallenges,
    UserSms,
    PhoneSms,
    GlobalSms,
}

/// One event of a challenge's audit trail. It never holds a code or a full phone number.
#[derive(Debug, Object)]
#[oai(rename = "AuditEvent", rename_all = "camelCase", example)]
pub struct AuditEventDto {
    /// What happened.
    #[oai(rename = "type")]
    pub event_type: AuditEventType,
    /// When it happened (the service's clock).
    pub occurred_at: DateTime<Utc>,
    /// The request that caused it (`X-Request-Id`).
    pub request_id: Text<RequestIdRule>,
    /// The challenge's subject.
    pub subject_user_id: Text<UserIdRule>,
    /// The token subject that made the request: the operation service, or the user.
    pub actor: Text<UserIdRule>,
    /// The masked phone, when a phone was involved.
    #[oai(skip_serializing_if_is_none)]
    pub masked_phone_number: Option<Text<MaskedPhoneRule>>,
    /// The result: the challenge's status after the event, the send's outcome,
    /// `INVALID_OTP`, or `TOO_MANY_REQUESTS`.
    pub outcome: AuditOutcome,
    /// The limit that refused the request, for `LIMIT_HIT`.
    #[oai(skip_serializing_if_is_none)]
    pub limit: Option<LimitName>,
    /// The SMS provider that carried the message, for `CODE_SENT`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub provider: Option<String>,
    /// The provider's id of the message, for `CODE_SENT` and `DELIVERY_REPORTED`; the
    /// event's `webhook-id`, for `EVENT_UNDELIVERED`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 128))]
    pub message_id: Option<String>,
    /// The provider's error code, for `SEND_FAILED` and `DELIVERY_REPORTED` (Twilio's
    /// `21614`, Vonage's `6`, `HTTP 503`, ...).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub error_code: Option<String>,
    /// How many identical refusals in a row this event stands for: a refusal repeated with
    /// nothing else in between is counted here instead of written again. 1 for any other
    /// event.
    #[oai(validator(minimum(value = "1"), maximum(value = "2147483647")))]
    pub repeats: u32,
    /// When the last of the repeats happened, when there was more than one.
    #[oai(skip_serializing_if_is_none)]
    pub last_occurred_at: Option<DateTime<Utc>>,
}

/// A challenge's audit trail, oldest first.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ChallengeEvents {
    /// A hyphenated UUID.
    #[oai(validator(max_length = 36))]
    pub challenge_id: String,
    /// Oldest first; the newest 1000 when there are more.
    #[oai(validator(max_items = 1000))]
    pub events: Vec<AuditEventDto>,
}

/// A challenge's status as the audit trail names it: the same words as `ChallengeStatus`.
impl From<ChallengeStatusDto> for AuditOutcome {
    fn from(status: ChallengeStatusDto) -> Self {
        match status {
            ChallengeStatusDto::Pending => Self::Pending,
            ChallengeStatusDto::CodeSent => Self::CodeSent,
            ChallengeStatusDto::Verified => Self::Verified,
            ChallengeStatusDto::Locked => Self::Locked,
            ChallengeStatusDto::Expired => Self::Expired,
            ChallengeStatusDto::Cancelled => Self::Cancelled,
        }
    }
}

/// A send's outcome as the audit trail names it: the same words as `SmsSendOutcome`.
impl From<SendOutcomeDto> for AuditOutcome {
    fn from(outcome: SendOutcomeDto) -> Self {
        match outcome {
            SendOutcomeDto::Accepted => Self::Accepted,
            SendOutcomeDto::Rejected => Self::Rejected,
            SendOutcomeDto::Unavailable => Self::Unavailable,
            SendOutcomeDto::Unknown => Self::Unknown,
        }
    }
}

/// A delivery report's status as the audit trail names it: the same words as
/// `SmsDeliveryStatus`.
impl From<DeliveryStatusDto> for AuditOutcome {
    fn from(status: DeliveryStatusDto) -> Self {
        match status {
            DeliveryStatusDto::Queued => Self::Queued,
            DeliveryStatusDto::Sent => Self::Sent,
            DeliveryStatusDto::PartiallyDelivered => Self::PartiallyDelivered,
            DeliveryStatusDto::Delivered => Self::Delivered,
            DeliveryStatusDto::Undelivered => Self::Undelivered,
            DeliveryStatusDto::Failed => Self::Failed,
        }
    }
}

impl From<DomainOutcome> for AuditOutcome {
    fn from(outcome: DomainOutcome) -> Self {
        match outcome {
            DomainOutcome::Status(status) => ChallengeStatusDto::from(status).into(),
            DomainOutcome::Send(outcome) => SendOutcomeDto::from(outcome).into(),
            DomainOutcome::Delivery(status) => DeliveryStatusDto::from(status).into(),
            DomainOutcome::InvalidOtp => Self::InvalidOtp,
            DomainOutcome::Consumed => Self::Consumed,
            DomainOutcome::TooManyRequests => Self::TooManyRequests,
            DomainOutcome::GaveUp => Self::GaveUp,
        }
    }
}

impl From<AuditEvent> for AuditEventDto {
    fn from(event: AuditEvent) -> Self {
        Self {
            event_type: match event.kind {
                AuditKind::ChallengeCreated => AuditEventType::ChallengeCreated,
                AuditKind::CodeSent => AuditEventType::CodeSent,
                AuditKind::SendFailed => AuditEventType::SendFailed,
                AuditKind::VerifyFailed => AuditEventType::VerifyFailed,
                AuditKind::Verified => AuditEventType::Verified,
                AuditKind::Locked => AuditEventType::Locked,
                AuditKind::Expired => AuditEventType::Expired,
                AuditKind::Cancelled => AuditEventType::Cancelled,
                AuditKind::Consumed => AuditEventType::Consumed,
                AuditKind::LimitHit => AuditEventType::LimitHit,
                AuditKind::DeliveryReported => AuditEventType::DeliveryReported,
                AuditKind::EventUndelivered => AuditEventType::EventUndelivered,
            },
            occurred_at: event.at,
            request_id: Text::new(event.request_id),
            subject_user_id: Text::new(event.subject.to_string()),
            actor: Text::new(event.actor),
            masked_phone_number: event.masked_phone.map(Text::new),
            outcome: event.outcome.into(),
            limit: event.limit.map(|l| match l {
                LimitKind::UserWrongCodes => LimitName::UserWrongCodes,
                LimitKind::UserChallenges => LimitName::UserChallenges,
                LimitKind::UserSms => LimitName::UserSms,
                LimitKind::PhoneSms => LimitName::PhoneSms,
                LimitKind::GlobalSms => LimitName::GlobalSms,
            }),
            provider: event.provider,
            message_id: event.message_id,
            error_code: event.error_code,
            repeats: event.repeats.max(1),
            last_occurred_at: event.last_at,
        }
    }
}

impl Example for AuditEventDto {
    fn example() -> Self {
        Self {
            event_type: AuditEventType::CodeSent,
            occurred_at: example_time(5),
            request_id: Text::new(crate::http::request_id::EXAMPLE.into()),
            subject_user_id: Text::new("alice".into()),
            actor: Text::new("alice".into()),
            masked_phone_number: Some(Text::new("+44*******123".into())),
            outcome: AuditOutcome::Accepted,
            limit: None,
            provider: Some("twilio".into()),
            message_id: Some("SM0123456789abcdef0123456789abcdef".into()),
            error_code: None,
            repeats: 1,
            last_occurred_at: None,
        }
    }
}

impl Example for ChallengeEvents {
    fn example() -> Self {
        Self {
            challenge_id: EXAMPLE_CHALLENGE_ID.into(),
            events: vec![
                AuditEventDto {
                    event_type: AuditEventType::ChallengeCreated,
                    occurred_at: example_time(0),
                    actor: Text::new("payments-service".into()),
                    masked_phone_number: None,
                    outcome: AuditOutcome::Pending,
                    provider: None,
                    message_id: None,
                    ..AuditEventDto::example()
                },
                AuditEventDto::example(),
                AuditEventDto {
                    event_type: AuditEventType::LimitHit,
                    occurred_at: example_time(40),
                    outcome: AuditOutcome::TooManyRequests,
                    limit: Some(LimitName::PhoneSms),
                    provider: None,
                    message_id: None,
                    repeats: 3,
                    last_occurred_at: Some(example_time(52)),
                    ..AuditEventDto::example()
                },
            ],
        }
    }
}

#[OpenApi(prefix_path = "/internal/v1/mfa/challenges", tag = "ApiTags::Audit")]
impl AuditApi {
    /// Lists a challenge's audit events, oldest first.
    ///
    /// For support staff: each change of the challenge, each SMS sent or failed, each
    /// delivery report, and each refusal by a limit across challenges, with the request that
    /// caused it. Events hold masked phones only, never a code. A refusal repeated with
    /// nothing else in between is one event with its `repeats` count, so refusals cannot
    /// push a change out of the trail; beyond 1000 events, the newest 1000. Needs scope
    /// `mfa:audit:read`; any client with it may read any challenge's events.
    #[oai(
        path = "/:challengeId/events",
        method = "get",
        operation_id = "listChallengeEvents"
    )]
    async fn events(
        &self,
        auth: BearerToken,
        /// The challenge id returned by `createChallenge`.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
    ) -> Result<Json<ChallengeEvents>, ApiError> {
        auth.0.require_scope(SCOPE_AUDIT_READ)?;
        let id = challenge_id.0.0;
        let events = answer(&self.use_cases, self.use_cases.challenge_events(id).await)?;
        Ok(Json(ChallengeEvents {
            challenge_id: id.to_string(),
            events: events.into_iter().map(AuditEventDto::from).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    /// `ChallengeEvents.events` publishes `maxItems = 1000` as a literal (validators take no
    /// constants): it must say what storage returns.
    #[test]
    fn the_published_bound_is_what_a_read_returns() {
        assert_eq!(mfa_totp_application::MAX_EVENTS, 1000);
    }
}
