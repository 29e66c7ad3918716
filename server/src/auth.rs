//! Bearer JWT authentication: HS256 with a shared secret, or RS256/ES256 with a public key;
//! `exp`, `iss` and `aud` are always checked. `sub` is the caller's user id; `scope` (space
//! separated) carries the service scopes.

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;

pub const SCOPE_CHALLENGES_WRITE: &str = "mfa:challenges:write";
pub const SCOPE_CHALLENGES_READ: &str = "mfa:challenges:read";
pub const SCOPE_USERS_WRITE: &str = "mfa:users:write";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    /// Not required: identity providers usually set it, but it is not checked.
    #[serde(default)]
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// Who is calling, once the token checked out.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    scopes: HashSet<String>,
}

impl Caller {
    /// `403 FORBIDDEN` unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }
}

/// How tokens are checked.
pub enum VerificationKey {
    Hs256(Vec<u8>),
    Rs256Pem(String),
    Es256Pem(String),
}

pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(
        key: &VerificationKey,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        let (key, algorithm) = match key {
            VerificationKey::Hs256(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            VerificationKey::Rs256Pem(pem) => {
                (DecodingKey::from_rsa_pem(pem.as_bytes())?, Algorithm::RS256)
            }
            VerificationKey::Es256Pem(pem) => {
                (DecodingKey::from_ec_pem(pem.as_bytes())?, Algorithm::ES256)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 30;
        Ok(Self { key, validation })
    }

    pub fn verify(&self, token: &str) -> Result<Caller, jsonwebtoken::errors::Error> {
        let claims = decode::<Claims>(token, &self.key, &self.validation)?.claims;
        Ok(Caller {
            subject: claims.sub,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        })
    }
}

/// Mints HS256 tokens for local use (`mfa-totp token`).
pub fn mint_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    subject: &str,
    scopes: &[String],
    ttl_secs: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now + ttl_secs,
        iat: now,
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        scope: scopes.join(" "),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// `Authorization: Bearer <JWT>`: a signed JWT (JWS) checked as RFC8725 (JWT Best Current
/// Practices) asks. The algorithm is fixed by configuration (HS256, RS256 or ES256), never
/// taken from the token, so `alg: none` and algorithm confusion are refused; `exp`, `iss`
/// and `aud` are always checked.
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
    verifier.verify(&bearer.token).map_err(|e| {
        ApiError::unauthorized("The bearer token is invalid or expired.")
            .with_cause(e)
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerificationKey::Hs256(b"secret".to_vec()), "iss", "aud").unwrap()
    }

    #[test]
    fn minted_token_verifies_with_its_subject_and_scopes() {
        let token = mint_hs256(
            b"secret",
            "iss",
            "aud",
            "user-1",
            &["a".into(), "b".into()],
            60,
        )
        .unwrap();
        let caller = verifier().verify(&token).unwrap();
        assert_eq!(caller.subject, "user-1");
        assert!(caller.require_scope("b").is_ok());
        assert!(caller.require_scope("c").is_err());
    }

    #[test]
    fn tokens_with_wrong_secret_issuer_audience_or_expiry_are_refused() {
        for token in [
            mint_hs256(b"other", "iss", "aud", "u", &[], 60),
            mint_hs256(b"secret", "other", "aud", "u", &[], 60),
            mint_hs256(b"secret", "iss", "other", "u", &[], 60),
        ] {
            assert!(verifier().verify(&token.unwrap()).is_err());
        }
        let expired = Claims {
            sub: "u".into(),
            exp: 1_000,
            iat: 0,
            iss: "iss".into(),
            aud: "aud".into(),
            scope: String::new(),
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert!(verifier().verify(&token).is_err());
    }

    fn signed(algorithm: Algorithm, private_pem: &str, iss: &str) -> String {
        let now = chrono::Utc::now().timestamp() as u64;
        let claims = Claims {
            sub: "u".into(),
            exp: now + 60,
            iat: now,
            iss: iss.into(),
            aud: "aud".into(),
            scope: String::new(),
        };
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        };
        encode(&Header::new(algorithm), &claims, &key).unwrap()
    }

    #[test]
    fn rs256_and_es256_tokens_verify_with_their_public_keys_only() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let read = |name: &str| std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap();
        let rs = TokenVerifier::new(
            &VerificationKey::Rs256Pem(read("rs256-test-public.pem")),
            "iss",
            "aud",
        )
        .unwrap();
        let es = TokenVerifier::new(
            &VerificationKey::Es256Pem(read("es256-test-public.pem")),
            "iss",
            "aud",
        )
        .unwrap();
        let rs_token = signed(Algorithm::RS256, &read("rs256-test-private.pem"), "iss");
        let es_token = signed(Algorithm::ES256, &read("es256-test-private.pem"), "iss");
        assert_eq!(rs.verify(&rs_token).unwrap().subject, "u");
        assert_eq!(es.verify(&es_token).unwrap().subject, "u");
        assert!(rs.verify(&es_token).is_err());
        assert!(es.verify(&rs_token).is_err());
        assert!(
            es.verify(&signed(
                Algorithm::ES256,
                &read("es256-test-private.pem"),
                "other"
            ))
            .is_err()
        );
        let hs = mint_hs256(b"secret", "iss", "aud", "u", &[], 60).unwrap();
        assert!(rs.verify(&hs).is_err(), "no algorithm confusion");
    }

    #[test]
    fn a_token_without_iat_is_accepted() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let claims = serde_json::json!({"sub": "u", "exp": exp, "iss": "iss", "aud": "aud"});
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(verifier().verify(&token).unwrap().subject, "u");
    }
}
