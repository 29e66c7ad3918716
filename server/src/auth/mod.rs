//! Authentication and who may call what, in one wing:
//! - `token`: a bearer token's signature and claims (`TokenVerifier`);
//! - `jwks`: the identity provider's keys (`auth.jwks_url`);
//! - `keys`: the verifier that config picks;
//! - `mint`: tokens for local use (`mfa-totp token`);
//! - `error`: why a token was refused, one type for all of them.
//!
//! - `caller`: who is calling, and the scopes.
//!
//! Here: the `bearerAuth` scheme that checks the token of each operation.

mod caller;
mod error;
pub mod jwks;
pub mod keys;
pub mod mint;
pub mod token;

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

pub use caller::{
    Caller, SCOPE_AUDIT_READ, SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE, SCOPE_USERS_WRITE,
};
pub use error::TokenError;
pub use keys::build_verifier;
pub use mint::mint_hs256;
pub use token::{TokenRules, TokenVerifier, VerificationKey, is_canonical_subject};

use crate::http::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};

/// `Authorization: Bearer <JWT>`: a signed JWT (JWS) checked as RFC8725 (JWT Best Current
/// Practices) asks. The key is fixed by configuration (an HS256 secret, an RS256/ES256 public
/// key, or the identity provider's JWKS, picked by `kid`) and the algorithm is the key's,
/// never the token's, so `alg: none` and algorithm confusion are refused. `exp`, `iss` and
/// `aud` (a string or an array) are required, `nbf` is checked, a token living longer than
/// the configured maximum is refused, and `sub` must be canonical (never trimmed). Scopes
/// come in `scope` or `scp`.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_token"
)]
pub struct BearerToken(pub Caller);

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let verifier = req.data::<Arc<TokenVerifier>>().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("no TokenVerifier in the request data"))
    })?;
    let request_id = crate::http::request_id::RequestId::of(req);
    let caller = verifier.verify(&bearer.token).await.map_err(|e| {
        let error = match &e {
            TokenError::KeysUnavailable(_) => ApiError::unavailable(
                "The keys to check the bearer token with cannot be fetched.",
                UNAVAILABLE_RETRY_AFTER_SECS,
            ),
            _ => ApiError::unauthorized("The bearer token is invalid or expired."),
        };
        poem::Error::from(error.with_cause(e))
    })?;
    Ok(caller.with_request_id(request_id))
}
