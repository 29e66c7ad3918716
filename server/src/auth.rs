//! Bearer JWT authentication: HS256 with a shared secret, RS256/ES256 with a public key, or
//! RS256/ES256 keys from the identity provider's JWKS. `exp`, `nbf`, `iss`, `aud` and the
//! lifetime are always checked. `sub` is the caller's id (a user id, or the calling service);
//! `scope` or `scp` carries the service scopes.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use mfa_totp_domain::{ClientId, Operation, UserId};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use serde::{Deserialize, Serialize};

use crate::http::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};
use crate::jwks::Jwks;

pub const SCOPE_CHALLENGES_WRITE: &str = "mfa:challenges:write";
pub const SCOPE_CHALLENGES_READ: &str = "mfa:challenges:read";
pub const SCOPE_USERS_WRITE: &str = "mfa:users:write";
pub const SCOPE_AUDIT_READ: &str = "mfa:audit:read";

/// The claims `mfa-totp token` mints.
#[derive(Debug, Serialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// The claims read from a token, in the shapes identity providers send them: `iss`, `aud`
/// (a string or an array) and `nbf` are checked by `jsonwebtoken`; scopes come as a
/// space-separated `scope` (RFC 8693), or as `scp`, an array (Okta, Keycloak) or a
/// space-separated string (Azure AD).
#[derive(Debug, Deserialize)]
struct ReceivedClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    scope: Option<Words>,
    #[serde(default)]
    scp: Option<Words>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Words {
    Text(String),
    List(Vec<String>),
}

impl Words {
    fn into_words(self) -> Vec<String> {
        match self {
            Self::Text(text) => text.split_whitespace().map(str::to_owned).collect(),
            Self::List(list) => list,
        }
    }
}

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

/// `auth.clients.<sub>.operations`: the operations a client may create challenges for. A
/// client without an entry may create challenges for any operation.
#[derive(Debug, Default)]
pub struct ClientOperations(BTreeMap<String, Vec<String>>);

impl ClientOperations {
    pub fn new(allowed: BTreeMap<String, Vec<String>>) -> Self {
        Self(allowed)
    }

    pub fn may_create(&self, client: &ClientId, operation: &Operation) -> bool {
        self.0
            .get(client.as_str())
            .is_none_or(|allowed| allowed.iter().any(|op| op == operation.as_str()))
    }
}

/// Why a token was refused. Every one answers 401, except keys that cannot be fetched (503).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error(
        "the token's sub is not canonical: blank, surrounded by white space, with control characters or too long"
    )]
    NonCanonicalSubject,
    #[error("the token lives longer than auth.max_token_lifetime_secs ({max_secs} s)")]
    TooLongLived { max_secs: u64 },
    #[error("the token names no key (kid) and the keys come from a JWKS")]
    MissingKeyId,
    #[error("the JWKS has no usable key {0:?}")]
    UnknownKey(String),
    #[error("the JWKS could not be fetched: {0}")]
    KeysUnavailable(String),
}

/// How tokens are checked.
pub enum VerificationKey {
    Hs256(Vec<u8>),
    Rs256Pem(String),
    Es256Pem(String),
}

/// What every token must satisfy, whatever its key.
struct ClaimRules {
    issuer: String,
    audience: String,
    max_lifetime_secs: u64,
}

impl ClaimRules {
    const LEEWAY_SECS: u64 = 30;

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = Self::LEEWAY_SECS;
        validation
    }

    /// What the signature check leaves: the lifetime and the subject.
    fn caller(&self, claims: ReceivedClaims) -> Result<Caller, TokenError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let from = claims.iat.map_or(now, |iat| iat.min(now));
        if claims.exp.saturating_sub(from) > self.max_lifetime_secs + Self::LEEWAY_SECS {
            return Err(TokenError::TooLongLived {
                max_secs: self.max_lifetime_secs,
            });
        }
        if !is_canonical_subject(&claims.sub) {
            return Err(TokenError::NonCanonicalSubject);
        }
        let scopes = claims
            .scope
            .into_iter()
            .chain(claims.scp)
            .flat_map(Words::into_words)
            .collect();
        Ok(Caller {
            subject: claims.sub,
            scopes,
            request_id: String::new(),
        })
    }
}

/// A `sub` is taken exactly as sent, never trimmed: it must be a user id as the API would
/// store it, so `" alice "` cannot act as `alice`.
pub fn is_canonical_subject(sub: &str) -> bool {
    UserId::parse(sub).is_ok_and(|id| id.as_str() == sub)
}

enum Keys {
    Fixed {
        key: DecodingKey,
        validation: Validation,
    },
    Jwks {
        keys: Box<Jwks>,
        rs256: Validation,
        es256: Validation,
    },
}

pub struct TokenVerifier {
    keys: Keys,
    rules: ClaimRules,
}

/// `auth.max_token_lifetime_secs` by default.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECS: u64 = 86_400;

impl TokenVerifier {
    /// One fixed key, and the default maximum lifetime.
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
        let rules = ClaimRules {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            max_lifetime_secs: DEFAULT_MAX_TOKEN_LIFETIME_SECS,
        };
        Ok(Self {
            keys: Keys::Fixed {
                key,
                validation: rules.validation(algorithm),
            },
            rules,
        })
    }

    /// RS256 and ES256 keys from a JWKS endpoint, picked by the token's `kid`.
    pub fn from_jwks(keys: Jwks, issuer: &str, audience: &str) -> Self {
        let rules = ClaimRules {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            max_lifetime_secs: DEFAULT_MAX_TOKEN_LIFETIME_SECS,
        };
        Self {
            keys: Keys::Jwks {
                keys: Box::new(keys),
                rs256: rules.validation(Algorithm::RS256),
                es256: rules.validation(Algorithm::ES256),
            },
            rules,
        }
    }

    /// Tokens whose `exp` lies further ahead than this (from `iat`, or from now) are refused.
    pub fn with_max_lifetime_secs(mut self, secs: u64) -> Self {
        self.rules.max_lifetime_secs = secs;
        self
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let claims = match &self.keys {
            Keys::Fixed { key, validation } => decode::<ReceivedClaims>(token, key, validation)?,
            Keys::Jwks { keys, rs256, es256 } => {
                let kid = decode_header(token)?.kid.ok_or(TokenError::MissingKeyId)?;
                let key = keys.key(&kid).await?;
                let validation = match key.algorithm {
                    Algorithm::ES256 => es256,
                    _ => rs256,
                };
                decode::<ReceivedClaims>(token, &key.key, validation)?
            }
        }
        .claims;
        self.rules.caller(claims)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"secret";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerificationKey::Hs256(SECRET.to_vec()), "iss", "aud").unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// An HS256 token with these claims over the defaults (sub u, iss, aud, exp in a minute).
    fn token_with(overrides: Value) -> String {
        let mut claims = json!({"sub": "u", "exp": now() + 60, "iss": "iss", "aud": "aud"});
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn minted_token_verifies_with_its_subject_and_scopes() {
        let token = mint_hs256(
            SECRET,
            "iss",
            "aud",
            "user-1",
            &["a".into(), "b".into()],
            60,
        )
        .unwrap();
        let caller = verifier().verify(&token).await.unwrap();
        assert_eq!(caller.subject, "user-1");
        assert!(caller.require_scope("b").is_ok());
        assert!(caller.require_scope("c").is_err());
    }

    #[tokio::test]
    async fn tokens_with_wrong_secret_issuer_audience_or_expiry_are_refused() {
        for token in [
            mint_hs256(b"other", "iss", "aud", "u", &[], 60).unwrap(),
            mint_hs256(SECRET, "other", "aud", "u", &[], 60).unwrap(),
            mint_hs256(SECRET, "iss", "other", "u", &[], 60).unwrap(),
            token_with(json!({"exp": 1_000})),
        ] {
            assert!(verifier().verify(&token).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_token_not_valid_before_a_future_nbf_is_refused() {
        let early = token_with(json!({"nbf": now() + 300}));
        assert!(verifier().verify(&early).await.is_err());
        let ready = token_with(json!({"nbf": now() - 5}));
        assert!(verifier().verify(&ready).await.is_ok());
    }

    #[tokio::test]
    async fn a_token_living_past_the_maximum_lifetime_is_refused() {
        let century = token_with(json!({"exp": now() + 100 * 365 * 86_400}));
        assert!(matches!(
            verifier().verify(&century).await,
            Err(TokenError::TooLongLived { .. })
        ));
        let short = verifier().with_max_lifetime_secs(600);
        let hour = token_with(json!({"exp": now() + 3600}));
        assert!(short.verify(&hour).await.is_err());
        let issued_long_ago = token_with(json!({"iat": now() - 3000, "exp": now() + 60}));
        assert!(
            short.verify(&issued_long_ago).await.is_err(),
            "the lifetime counts from iat"
        );
        assert!(short.verify(&token_with(json!({}))).await.is_ok());
    }

    #[tokio::test]
    async fn a_non_canonical_sub_is_refused_not_trimmed() {
        for sub in [" alice ", "alice\n", "", "   ", "al\u{0}ice"] {
            let token = token_with(json!({ "sub": sub }));
            assert!(
                matches!(
                    verifier().verify(&token).await,
                    Err(TokenError::NonCanonicalSubject)
                ),
                "{sub:?}"
            );
        }
        let long = "a".repeat(UserId::MAX_LEN + 1);
        assert!(
            verifier()
                .verify(&token_with(json!({ "sub": long })))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn aud_may_be_an_array_and_scopes_may_come_as_scp() {
        let token = token_with(json!({"aud": ["other", "aud"], "scp": ["a", "b"]}));
        let caller = verifier().verify(&token).await.unwrap();
        assert!(caller.require_scope("a").is_ok() && caller.require_scope("b").is_ok());
        let azure = token_with(json!({"scp": "c d"}));
        assert!(
            verifier()
                .verify(&azure)
                .await
                .unwrap()
                .require_scope("d")
                .is_ok()
        );
        let both = token_with(json!({"scope": "e", "scp": ["f"]}));
        let caller = verifier().verify(&both).await.unwrap();
        assert!(caller.require_scope("e").is_ok() && caller.require_scope("f").is_ok());
        let elsewhere = token_with(json!({"aud": ["other", "third"]}));
        assert!(verifier().verify(&elsewhere).await.is_err());
    }

    fn signed(algorithm: Algorithm, private_pem: &str, iss: &str) -> String {
        let claims = json!({"sub": "u", "exp": now() + 60, "iss": iss, "aud": "aud"});
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        };
        encode(&Header::new(algorithm), &claims, &key).unwrap()
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_verify_with_their_public_keys_only() {
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
        assert_eq!(rs.verify(&rs_token).await.unwrap().subject, "u");
        assert_eq!(es.verify(&es_token).await.unwrap().subject, "u");
        assert!(rs.verify(&es_token).await.is_err());
        assert!(es.verify(&rs_token).await.is_err());
        let other_issuer = signed(Algorithm::ES256, &read("es256-test-private.pem"), "other");
        assert!(es.verify(&other_issuer).await.is_err());
        let hs = mint_hs256(SECRET, "iss", "aud", "u", &[], 60).unwrap();
        assert!(rs.verify(&hs).await.is_err(), "no algorithm confusion");
    }

    #[tokio::test]
    async fn a_token_without_iat_is_accepted() {
        let token = token_with(json!({"iat": null}));
        assert_eq!(verifier().verify(&token).await.unwrap().subject, "u");
    }
}
