//! Challenges, for operation services: create one with its step-up request context, read its
//! status, consume the verified context once, or cancel.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mfa_totp_application::ChallengeView;
use mfa_totp_application::UseCases;
use mfa_totp_application::create_challenge::NewChallenge;
use mfa_totp_domain::{ClientId, Locale, Operation, StepUpContext, UserId};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::params::parsed;
use crate::api::params::{ChallengeIdParam, LocaleRule, OperationRule, Text, UserIdRule};
use crate::api::sms_send::SmsSendDto;
use crate::api::{
    ApiTags, ChallengeStatusDto, EXAMPLE_CHALLENGE_ID, answer, caller_client_id, example_time,
};
use crate::auth::{BearerToken, SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE};
use crate::http::error::ApiError;
use crate::http::strict_json::{Fields, StrictBody, StrictJson};

pub struct ChallengesApi {
    pub use_cases: UseCases,
}

/// What awaits authorisation.
#[derive(Debug, Object)]
#[oai(example)]
pub struct StepUpRequestContext {
    /// The operation to authorise, e.g. `payments.transfer`: 1 to 64 characters, not blank,
    /// no control characters. Surrounding white space is trimmed.
    pub operation: Text<OperationRule>,
    /// Free-form details the operation service wants back once the challenge is verified.
    #[oai(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A new challenge: whose authorisation, for what.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct CreateChallengeRequest {
    /// The user who must authorise the operation (the `sub` of their token): 1 to 128
    /// characters, not blank, no control characters.
    pub subject_user_id: Text<UserIdRule>,
    /// What awaits authorisation; handed back once by `:consume` after verification.
    pub step_up_request_context: StepUpRequestContext,
    /// The language of the SMS (BCP 47, e.g. `de`, `pt-BR`). Without it, the user
    /// directory's locale for the user, then `sms.default_locale`; `pt-BR` falls back to
    /// `pt`, then to the default.
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<Text<LocaleRule>>,
}

impl StrictBody for CreateChallengeRequest {
    fn read(fields: &mut Fields) -> Option<Self> {
        let subject_user_id = fields.string("subjectUserId");
        let locale = fields.optional_string("locale");
        let context = fields.object("stepUpRequestContext", |inner| {
            let operation = inner.string("operation");
            let attributes = inner.optional_map("attributes");
            Some(StepUpRequestContext {
                operation: Text::new(operation?),
                attributes: attributes?.into_iter().collect(),
            })
        });
        Some(Self {
            subject_user_id: Text::new(subject_user_id?),
            step_up_request_context: context?,
            locale: locale?.map(Text::new),
        })
    }
}

impl CreateChallengeRequest {
    /// The use case's command, for the calling `client`: each field parsed by its domain
    /// type, and every field that does not parse refused at once, at its path.
    pub fn into_new_challenge(self, client: ClientId) -> Result<NewChallenge, ApiError> {
        let subject = parsed("subjectUserId", UserId::parse(&self.subject_user_id.0));
        let operation = parsed(
            "stepUpRequestContext.operation",
            Operation::parse(&self.step_up_request_context.operation.0),
        );
        let locale = self
            .locale
            .map(|l| parsed("locale", Locale::parse(&l.0)))
            .transpose();
        match (subject, operation, locale) {
            (Ok(subject), Ok(operation), Ok(locale)) => Ok(NewChallenge {
                client,
                subject,
                operation,
                attributes: self
                    .step_up_request_context
                    .attributes
                    .into_iter()
                    .collect(),
                locale,
            }),
            (subject, operation, locale) => Err(ApiError::for_fields(
                [subject.err(), operation.err(), locale.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

/// A challenge as the operation service sees it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Challenge {
    /// The challenge's id, for `:initiate`, `:verify` and the calls below.
    #[oai(validator(max_length = 36))]
    pub challenge_id: String,
    /// Where the challenge is in its life.
    pub status: ChallengeStatusDto,
    /// The user who must authorise the operation.
    #[oai(validator(max_length = 128))]
    pub subject_user_id: String,
    /// The operation of the step-up request context.
    #[oai(skip_serializing_if_is_none, validator(max_length = 64))]
    pub operation: Option<String>,
    /// When the challenge was created.
    pub created_at: DateTime<Utc>,
    /// When the challenge expires unless verified.
    pub expires_at: DateTime<Utc>,
    /// When the code was accepted; only on a verified challenge.
    #[oai(skip_serializing_if_is_none)]
    pub verified_at: Option<DateTime<Utc>>,
    /// SHA-256 (lower-case hex) of the step-up request context's canonical JSON (RFC 8785):
    /// `{"attributes":{…},"operation":"…"}`. `:verify` and `:consume` return the same value.
    #[oai(
        skip_serializing_if_is_none,
        validator(pattern = "^[0-9a-f]{64}$", max_length = 64)
    )]
    pub context_digest: Option<String>,
    /// The latest SMS send: who carried it and its delivery status. Shown by
    /// `getChallenge` once a send was made.
    #[oai(skip_serializing_if_is_none)]
    pub last_sms: Option<SmsSendDto>,
}

impl From<ChallengeView> for Challenge {
    fn from(view: ChallengeView) -> Self {
        Self {
            challenge_id: view.challenge.id().to_string(),
            status: view.status.into(),
            subject_user_id: view.challenge.subject().to_string(),
            operation: view
                .context
                .as_ref()
                .map(|c| c.operation.as_str().to_owned()),
            context_digest: view.context.as_ref().map(StepUpContext::digest),
            created_at: view.challenge.created_at(),
            expires_at: view.challenge.expires_at(),
            verified_at: view.challenge.verified_at(),
            last_sms: view.last_send.map(Into::into),
        }
    }
}

/// The verified context, handed over once.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ConsumedContext {
    /// The challenge's id.
    #[oai(validator(max_length = 36))]
    pub challenge_id: String,
    /// The user who authorised the operation.
    #[oai(validator(max_length = 128))]
    pub subject_user_id: String,
    /// The context as it was registered.
    pub step_up_request_context: StepUpRequestContext,
    /// When the user's code was accepted.
    pub verified_at: DateTime<Utc>,
    /// Now: the context cannot be consumed again.
    pub consumed_at: DateTime<Utc>,
    /// SHA-256 (lower-case hex) of the context's canonical JSON (RFC 8785):
    /// `{"attributes":{…},"operation":"…"}`. Compute the same over what you are about to
    /// execute and compare: equal means it is exactly what the user authorised.
    #[oai(validator(pattern = "^[0-9a-f]{64}$", max_length = 64))]
    pub context_digest: String,
    /// The signed step-up assertion of the challenge: the header and claims `:verify`
    /// returned, signed again with the active key (an ES256 signature is randomised). Hand
    /// it on, to a ledger or an auditor, as proof of what the user authorised. Its claims
    /// are `StepUpAssertionClaims`.
    #[oai(validator(
        max_length = 4096,
        pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
    ))]
    pub assertion: String,
}

fn example_context() -> StepUpRequestContext {
    StepUpRequestContext {
        operation: Text::new("payments.transfer".into()),
        attributes: BTreeMap::from([("amount".to_owned(), serde_json::json!("120.00"))]),
    }
}

impl Example for StepUpRequestContext {
    fn example() -> Self {
        example_context()
    }
}

impl Example for CreateChallengeRequest {
    fn example() -> Self {
        Self {
            subject_user_id: Text::new("alice".into()),
            step_up_request_context: example_context(),
            locale: Some(Text::new("en-GB".into())),
        }
    }
}

impl Example for Challenge {
    fn example() -> Self {
        Self {
            challenge_id: EXAMPLE_CHALLENGE_ID.into(),
            status: ChallengeStatusDto::Pending,
            subject_user_id: "alice".into(),
            operation: Some("payments.transfer".into()),
            created_at: example_time(0),
            expires_at: example_time(600),
            verified_at: None,
            context_digest: Some(crate::api::example_digest()),
            last_sms: Some(SmsSendDto::example()),
        }
    }
}

impl Example for ConsumedContext {
    fn example() -> Self {
        Self {
            challenge_id: EXAMPLE_CHALLENGE_ID.into(),
            subject_user_id: "alice".into(),
            step_up_request_context: example_context(),
            verified_at: example_time(45),
            consumed_at: example_time(50),
            context_digest: crate::api::example_digest(),
            assertion: crate::api::assertions::EXAMPLE_ASSERTION.into(),
        }
    }
}

#[derive(ApiResponse)]
enum CreatedChallenge {
    /// The challenge was created in status `PENDING`.
    #[oai(status = 201)]
    Created(Json<Challenge>),
}

#[OpenApi(
    prefix_path = "/internal/v1/mfa/challenges",
    tag = "ApiTags::Challenges"
)]
impl ChallengesApi {
    /// Creates a challenge for a step-up request context.
    ///
    /// Registers what awaits authorisation for which user, and returns the challenge the
    /// client then passes to `:initiate` and `:verify`. Needs scope `mfa:challenges:write`.
    #[oai(path = "/", method = "post", operation_id = "createChallenge")]
    async fn create(
        &self,
        auth: BearerToken,
        body: StrictJson<CreateChallengeRequest>,
    ) -> Result<CreatedChallenge, ApiError> {
        auth.0.require_scope(SCOPE_CHALLENGES_WRITE)?;
        let client = caller_client_id(&auth.0)?;
        let new = body.0.into_new_challenge(client)?;
        let created = answer(
            &self.use_cases,
            self.use_cases.create_challenge(&auth.0.actor(), new).await,
        )?;
        Ok(CreatedChallenge::Created(Json(created.into())))
    }

    /// Reads a challenge's status.
    ///
    /// A live challenge past its lifetime reads as `EXPIRED`. Needs scope `mfa:challenges:read`.
    #[oai(path = "/:challengeId", method = "get", operation_id = "getChallenge")]
    async fn get(
        &self,
        auth: BearerToken,
        /// The challenge id returned by `createChallenge`.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
    ) -> Result<Json<Challenge>, ApiError> {
        auth.0.require_scope(SCOPE_CHALLENGES_READ)?;
        let client = caller_client_id(&auth.0)?;
        let id = challenge_id.0.0;
        let view = answer(
            &self.use_cases,
            self.use_cases.get_challenge(&client, id).await,
        )?;
        Ok(Json(view.into()))
    }

    /// Consumes the step-up request context of a verified challenge.
    ///
    /// Answers once with the context that the user authorised; afterwards the context is
    /// gone (`STEP_UP_REQUEST_CONTEXT_NOT_FOUND`), so an operation cannot be authorised twice.
    /// So is a context verified longer ago than `challenge.consume_ttl_secs` (default 300):
    /// `404` with `STEP_UP_REQUEST_CONTEXT_NOT_FOUND`. Only the client that created the
    /// challenge (its token's `sub`) may read, consume or cancel it; others get `403`.
    /// A challenge that is not `VERIFIED` (yet) answers `409` with
    /// `STEP_UP_REQUEST_CONTEXT_NOT_FOUND`; a consumed or cancelled one answers `404`. Needs
    /// scope `mfa:challenges:write`.
    #[oai(
        path = "/:challengeId/_colon_consume",
        method = "post",
        operation_id = "consumeChallenge"
    )]
    async fn consume(
        &self,
        auth: BearerToken,
        /// The challenge id returned by `createChallenge`.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
    ) -> Result<Json<ConsumedContext>, ApiError> {
        auth.0.require_scope(SCOPE_CHALLENGES_WRITE)?;
        let client = caller_client_id(&auth.0)?;
        let id = challenge_id.0.0;
        let out = answer(
            &self.use_cases,
            self.use_cases.consume(&auth.0.actor(), &client, id).await,
        )?;
        Ok(Json(ConsumedContext {
            challenge_id: out.challenge_id.to_string(),
            subject_user_id: out.subject.to_string(),
            step_up_request_context: StepUpRequestContext {
                operation: Text::new(out.operation.as_str().to_owned()),
                attributes: out.attributes.into_iter().collect(),
            },
            verified_at: out.verified_at,
            consumed_at: out.consumed_at,
            context_digest: out.context_digest,
            assertion: out.assertion,
        }))
    }

    /// Cancels a challenge and its step-up request context.
    ///
    /// Works while the challenge is live, or verified but not yet consumed. Needs scope
    /// `mfa:challenges:write`.
    #[oai(
        path = "/:challengeId/_colon_cancel",
        method = "post",
        operation_id = "cancelChallenge"
    )]
    async fn cancel(
        &self,
        auth: BearerToken,
        /// The challenge id returned by `createChallenge`.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
    ) -> Result<Json<Challenge>, ApiError> {
        auth.0.require_scope(SCOPE_CHALLENGES_WRITE)?;
        let client = caller_client_id(&auth.0)?;
        let id = challenge_id.0.0;
        let view = answer(
            &self.use_cases,
            self.use_cases.cancel(&auth.0.actor(), &client, id).await,
        )?;
        Ok(Json(view.into()))
    }
}
