//! The SQL user directory's phone numbers.

use mfa_totp_application::UseCases;
use mfa_totp_domain::{PhoneNumber, UserId};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::auth::{BearerToken, SCOPE_USERS_WRITE};
use crate::http::error::ApiError;
use crate::http::strict_json::{Fields, StrictBody, StrictJson};

pub struct UsersApi {
    pub use_cases: UseCases,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PutUserRequest {
    /// The user's mobile number in E.164 form.
    #[oai(validator(pattern = r"^\+[1-9][0-9]{7,14}$"))]
    pub phone_number: String,
}

impl StrictBody for PutUserRequest {
    fn read(fields: &mut Fields) -> Option<Self> {
        Some(Self {
            phone_number: fields.string("phoneNumber")?,
        })
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    /// The stored number, masked (`+44*******123`).
    pub masked_phone_number: String,
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
        user_id: Path<String>,
        body: StrictJson<PutUserRequest>,
    ) -> Result<PutUserResponse, ApiError> {
        auth.0.require_scope(SCOPE_USERS_WRITE)?;
        let user =
            UserId::parse(&user_id).map_err(|e| ApiError::bad_request(format!("userId {e}.")))?;
        let phone = PhoneNumber::parse(&body.0.phone_number)
            .map_err(|e| ApiError::bad_request(format!("phoneNumber {e}.")))?;
        let created = self.use_cases.put_user(&user, &phone).await?;
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
