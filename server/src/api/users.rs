//! The SQL user directory's phone numbers.

use mfa_totp_application::UseCases;
use mfa_totp_domain::PhoneNumber;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::params::{PhoneNumberRule, Text, UserIdParam};
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
    /// The user's mobile number in E.164 form: `+`, then 8 to 15 digits.
    pub phone_number: Text<PhoneNumberRule>,
}

impl StrictBody for PutUserRequest {
    fn read(fields: &mut Fields) -> Option<Self> {
        Some(Self {
            phone_number: Text::new(fields.string("phoneNumber")?),
        })
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
}

impl Example for PutUserRequest {
    fn example() -> Self {
        Self {
            phone_number: Text::new("+447700900123".into()),
        }
    }
}

impl Example for User {
    fn example() -> Self {
        Self {
            user_id: "alice".into(),
            masked_phone_number: "+44*******123".into(),
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
        let phone = PhoneNumber::parse(&body.0.phone_number.0)
            .map_err(|e| ApiError::bad_request(format!("phoneNumber {e}.")))?;
        let created = answer(
            &self.use_cases,
            self.use_cases.put_user(&user, &phone).await,
        )?;
        let body = Json(User {
            user_id: user.to_string(),
            masked_phone_number: phone.masked(),
        });
        Ok(if created {
            PutUserResponse::Created(body)
        } else {
            PutUserResponse::Replaced(body)
        })
    }
}
