//! Who is calling, once the token checked out, and the scopes a token may grant.

use std::collections::HashSet;

use crate::http::error::ApiError;

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
    /// The caller a checked token names: its `sub` and the scopes it grants.
    pub fn new(subject: String, scopes: HashSet<String>) -> Self {
        Self {
            subject,
            scopes,
            request_id: String::new(),
        }
    }

    /// The same caller, making the request `request_id`.
    pub fn with_request_id(self, request_id: String) -> Self {
        Self { request_id, ..self }
    }

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
