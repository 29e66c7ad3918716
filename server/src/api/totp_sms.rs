//! `:initiate` and `:verify`, the documented endpoints.

use chrono::{DateTime, Utc};
use mfa_totp_application::UseCases;
use mfa_totp_application::initiate::Initiated;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};

use crate::api::params::ChallengeIdParam;
use crate::api::{
    ApiTags, ChallengeStatusDto, EXAMPLE_CHALLENGE_ID, answer, caller_user_id, example_time,
};
use crate::auth::BearerToken;
use crate::http::error::ApiError;
use crate::http::strict_json::{Fields, StrictBody, StrictJson};

pub struct TotpSmsApi {
    pub use_cases: UseCases,
}

/// What the client learns after a code was sent.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct InitiateResponse {
    /// The challenge's id.
    #[oai(validator(max_length = 36))]
    pub challenge_id: String,
    /// `CODE_SENT`.
    pub status: ChallengeStatusDto,
    /// When the challenge itself expires.
    pub expires_at: DateTime<Utc>,
    /// Until when the code that was sent is accepted.
    pub code_expires_at: DateTime<Utc>,
    /// The earliest time another `:initiate` sends an SMS.
    pub resend_available_at: DateTime<Utc>,
    /// How many more SMS this challenge may send.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub sends_remaining: u32,
    /// The phone the code went to, masked (`+44*******123`).
    #[oai(validator(max_length = 16))]
    pub masked_phone_number: String,
}

impl From<Initiated> for InitiateResponse {
    fn from(out: Initiated) -> Self {
        Self {
            challenge_id: out.challenge_id.to_string(),
            status: out.status.into(),
            expires_at: out.expires_at,
            code_expires_at: out.code_expires_at,
            resend_available_at: out.resend_available_at,
            sends_remaining: out.sends_remaining,
            masked_phone_number: out.masked_phone_number,
        }
    }
}

/// The code the user typed.
#[derive(Debug, Object)]
#[oai(example)]
pub struct VerifyRequest {
    /// The one-time password from the SMS: 6 to 8 digits, as configured. Any other value is
    /// answered `INVALID_OTP` without counting as a wrong code.
    #[oai(validator(min_length = 6, max_length = 8, pattern = "^[0-9]{6,8}$"))]
    pub otp: String,
}

impl StrictBody for VerifyRequest {
    fn read(fields: &mut Fields) -> Option<Self> {
        Some(Self {
            otp: fields.string("otp")?,
        })
    }
}

/// The challenge after its code was accepted.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct VerifyResponse {
    /// The challenge's id.
    #[oai(validator(max_length = 36))]
    pub challenge_id: String,
    /// `VERIFIED`.
    pub status: ChallengeStatusDto,
    /// When the code was accepted.
    pub verified_at: DateTime<Utc>,
    /// SHA-256 (lower-case hex) of the authorised context's canonical JSON (RFC 8785):
    /// `{"attributes":{…},"operation":"…"}`, the same as `createChallenge` and
    /// `consumeChallenge` return.
    #[oai(validator(pattern = "^[0-9a-f]{64}$", max_length = 64))]
    pub context_digest: String,
    /// The signed step-up assertion: a compact JWS (`ES256` or `EdDSA`, `typ` `step-up+jwt`)
    /// whose claims are `StepUpAssertionClaims`: who (`sub`) authorised exactly what
    /// (`challenge_id`, `operation`, `context_digest`) for which operation service (`aud`),
    /// how (`amr`, `acr`) and when (`auth_time`, `exp`). Hand it to the operation service;
    /// it verifies it offline with `/.well-known/jwks.json`.
    #[oai(validator(
        max_length = 4096,
        pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
    ))]
    pub assertion: String,
}

impl Example for InitiateResponse {
    fn example() -> Self {
        Self {
            challenge_id: EXAMPLE_CHALLENGE_ID.into(),
            status: ChallengeStatusDto::CodeSent,
            expires_at: example_time(600),
            code_expires_at: example_time(300),
            resend_available_at: example_time(30),
            sends_remaining: 4,
            masked_phone_number: "+44*******123".into(),
        }
    }
}

impl Example for VerifyRequest {
    fn example() -> Self {
        Self {
            otp: "123456".into(),
        }
    }
}

impl Example for VerifyResponse {
    fn example() -> Self {
        Self {
            challenge_id: EXAMPLE_CHALLENGE_ID.into(),
            status: ChallengeStatusDto::Verified,
            verified_at: example_time(45),
            context_digest: crate::api::example_digest(),
            assertion: crate::api::assertions::EXAMPLE_ASSERTION.into(),
        }
    }
}

#[OpenApi(prefix_path = "/internal/v1/mfa/totp-sms", tag = "ApiTags::TotpSms")]
impl TotpSmsApi {
    /// Initiates time-based one-time password SMS challenge.
    ///
    /// This will initiate a time-based one-time password (TOTP) sent as an SMS to the user's
    /// phone number to authorise an operation request. Once the TOTP is verified, using the
    /// 'Verify' endpoint, the user will be able to proceed with the operation. A repeat within
    /// the code's lifetime sends the same code again, after the resend cooldown.
    #[oai(
        path = "/:challengeId/_colon_initiate",
        method = "post",
        operation_id = "initiateTotpSms"
    )]
    async fn initiate(
        &self,
        auth: BearerToken,
        /// The ID is challenge id received during operation initiation which required challenge.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
    ) -> Result<Json<InitiateResponse>, ApiError> {
        let caller = caller_user_id(&auth.0)?;
        let id = challenge_id.0.0;
        let out = answer(
            &self.use_cases,
            self.use_cases.initiate(&auth.0.actor(), &caller, id).await,
        )?;
        Ok(Json(out.into()))
    }

    /// Verifies the time-based one-time password of an SMS challenge.
    ///
    /// Checks the code sent by `:initiate`. A code is accepted once, within its lifetime.
    /// Wrong codes are counted; at the limit the challenge is locked.
    #[oai(
        path = "/:challengeId/_colon_verify",
        method = "post",
        operation_id = "verifyTotpSms"
    )]
    async fn verify(
        &self,
        auth: BearerToken,
        /// The challenge id received during operation initiation.
        #[oai(name = "challengeId")]
        challenge_id: Path<ChallengeIdParam>,
        body: StrictJson<VerifyRequest>,
    ) -> Result<Json<VerifyResponse>, ApiError> {
        let caller = caller_user_id(&auth.0)?;
        let id = challenge_id.0.0;
        let out = answer(
            &self.use_cases,
            self.use_cases
                .verify(&auth.0.actor(), &caller, id, &body.0.otp)
                .await,
        )?;
        Ok(Json(VerifyResponse {
            challenge_id: out.challenge_id.to_string(),
            status: ChallengeStatusDto::Verified,
            verified_at: out.verified_at,
            context_digest: out.context_digest,
            assertion: out.assertion,
        }))
    }
}
