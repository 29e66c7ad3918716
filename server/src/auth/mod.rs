//! Authentication and who may call what, in one wing:
//! - `token`: a bearer token's signature and claims (`TokenVerifier`);
//! - `jwks`: the identity provider's keys (`auth.jwks_url`);
//! - `keys`: the verifier that config picks;
//! - `mint`: tokens for local use (`mfa-totp token`);
//! - `error`: why a token was refused, one type for all of them.
//!
//! Here: the scopes, the caller a checked token names, and the `bearerAuth` scheme that
//! checks it for each operation.

mod error;
pub mod jwks;
pub mod keys;
pub mod mint;
pub mod token;

use std::collections::HashSet;
use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

pub use error::TokenError;
pub use keys::build_verifier;
pub use mint::mint_hs256;
pub use token::{TokenRules, TokenVerifier, VerificationKey, is_canonical_subject};

use crate::http::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};

pub const SCOPE_CHALLENGES_WRITE: &str = "mfa:challenges:write";
pub const SCOPE_CHALLENGES_READ: &str = "mfa:challenges:read";
pub const SCOPE_USERS_WRITE: &str = "mfa:users:write";
pub const SCOPE_AUDIT_READ: &str = "mfa:audit:read";

/// Who is calling, once the token checked out.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's `sub`, exactly as sent (it is refused unless canonical).
    pub subject: String,
    scopes: HashSet<String>,
    /// The request's id (`X-Request-Id`), which audit events carry.
    pub request_id: String,
}

impl Caller {
    /// Who the audit trail says made the request.
    pub fn actor(&self) -> mfa_totp_domain::Actor {
        mfa_totp_domain::Actor::new(self.request_id.clone(), self.subject.clone())
    }

    /// `403 FORBIDDEN` unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }
}

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
    let request_id = req
        .data::<crate::http::request_id::RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
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
    Ok(Caller {
        request_id,
        ..caller
    })
}
