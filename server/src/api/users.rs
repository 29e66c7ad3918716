//! The SQL user directory's phone numbers.

use mfa_totp_application::{Contact, UseCases};
use mfa_totp_domain::{Locale, PhoneNumber};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::params::{LocaleRule, PhoneNumberRule, Text, UserIdParam, parsed};
use crate::api::{ApiTags, answer};
use crate::auth::{BearerToken, SCOPE_USERS_WRITE};
use crate::http::error::ApiError;
use crate::http::strict_json::{Fields, StrictBody, StrictJson};

pub struct UsersApi {
    pub use_cases: UseCases,
}

/// The user's phone number, to create or replace.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PutUserRequest {
    /// The user's mobile number in E.164 form: `+`, then 8 to 15 digits. It is stored in
    /// its canonical form: a national (trunk) prefix typed after the country code is dropped
    /// as the numbering plan says (`+4407400123123` is stored as `+447400123123`), so that
    /// one phone is one number for every limit. It must also be valid in its country's
    /// numbering plan and of a type that may receive codes (mobile by
    /// default; never premium rate, shared cost, UAN, voicemail or personal), in an allowed
    /// country: otherwise `400` with a field error on `phoneNumber` saying why.
    pub phone_number: Text<PhoneNumberRule>,
    /// The language of the user's SMS (BCP 47, e.g. `de`, `pt-BR`), unless a challenge's
    /// creation request names one.
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<Text<LocaleRule>>,
}

impl StrictBody for PutUserRequest {
    fn read(fields: &mut Fields) -> Option<Self> {
        let phone_number = fields.string("phoneNumber");
        let locale = fields.optional_string("locale");
        Some(Self {
            phone_number: Text::new(phone_number?),
            locale: locale?.map(Text::new),
        })
    }
}

impl TryFrom<PutUserRequest> for Contact {
    type Error = ApiError;

    /// Each field parsed by its domain type; every field that does not parse is refused at
    /// once, at its path, as a number the phone rules refuse is.
    fn try_from(request: PutUserRequest) -> Result<Self, ApiError> {
        let phone = parsed("phoneNumber", PhoneNumber::parse(&request.phone_number.0));
        let locale = request
            .locale
            .map(|l| parsed("locale", Locale::parse(&l.0)))
            .transpose();
        match (phone, locale) {
            (Ok(phone), Ok(locale)) => Ok(Contact { phone, locale }),
            (phone, locale) => Err(ApiError::for_fields(
                [phone.err(), locale.err()].into_iter().flatten().collect(),
            )),
        }
    }
}

/// A user of the SQL user directory.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct User {
    /// The user's id.
    #[oai(validator(max_length = 128))]
    pub user_id: String,
    /// The stored number, masked (`+44*******123`).
    #[oai(validator(max_length = 16))]
    pub masked_phone_number: String,
    /// The user's SMS language, when set.
    #[oai(skip_serializing_if_is_none, validator(max_length = 12))]
    pub locale: Option<String>,
}

impl Example for PutUserRequest {
    fn example() -> Self {
        Self {
            phone_number: Text::new("+447400123123".into()),
            locale: Some(Text::new("en-GB".into())),
        }
    }
}

impl Example for User {
    fn example() -> Self {
        Self {
            user_id: "alice".into(),
            masked_phone_number: "+44*******123".into(),
            locale: Some("en-GB".into()),
        }
    }
}

#[derive(ApiResponse)]
enum PutUserResponse {
    /// The user was replaced.
    #[oai(status = 200)]
    Replaced(Json<User>),
    /// The user was created.
    #[oai(status = 201)]
    Created(Json<User>),
}

#[OpenApi(prefix_path = "/internal/v1/mfa/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// Creates or replaces a user's phone number.
    ///
    /// Feeds the SQL user directory that `:initiate` reads the phone from. Needs scope
    /// `mfa:users:write`.
    #[oai(path = "/:userId", method = "put", operation_id = "putUser")]
    async fn put(
        &self,
        auth: BearerToken,
        /// The user's id, as the `sub` of their tokens.
        #[oai(name = "userId")]
        user_id: Path<UserIdParam>,
        body: StrictJson<PutUserRequest>,
    ) -> Result<PutUserResponse, ApiError> {
        auth.0.require_scope(SCOPE_USERS_WRITE)?;
        let user = user_id.0.0;
        let contact = Contact::try_from(body.0)?;
        let created = answer(
            &self.use_cases,
            self.use_cases.put_user(&user, &contact).await,
        )?;
        let body = Json(User {
            user_id: user.to_string(),
            masked_phone_number: contact.phone.masked(),
            locale: contact.locale.map(|l| l.to_string()),
        });
        Ok(if created {
            PutUserResponse::Created(body)
        } else {
            PutUserResponse::Replaced(body)
        })
    }
}
