//! Step-up assertions: the keys that verify them (`/.well-known/jwks.json`), and their
//! claims as the spec documents them (`StepUpAssertionClaims`).

use mfa_totp_crypto::{KeyKind, PublicKey};
use mfa_totp_domain::{AssertionPolicy, ChallengeId, ClientId, Operation, StepUpAssertion, UserId};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::api::{ApiTags, EXAMPLE_CHALLENGE_ID, example_digest, example_time};
use crate::config::{DEVELOPMENT_ASSERTION_KEY, DEVELOPMENT_ASSERTION_KEY_ID};

/// How long a client may cache the key set. A new key is published this long before it
/// signs (README, "Rotating the assertion key").
pub const JWKS_MAX_AGE_SECS: u32 = 300;

/// The pattern of a compact JWS: three base64url parts.
pub const JWS_PATTERN: &str = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$";

pub struct KeysApi {
    jwks: Jwks,
}

impl KeysApi {
    pub fn new(keys: &[PublicKey]) -> Self {
        Self {
            jwks: Jwks {
                keys: keys.iter().map(Jwk::from).collect(),
            },
        }
    }
}

/// The public keys that verify step-up assertions (RFC 7517 JWK Set).
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Jwks {
    /// Every configured assertion key, the active one first.
    #[oai(validator(max_items = 64))]
    pub keys: Vec<Jwk>,
}

/// One public key: EC P-256 for `ES256`, or Ed25519 (`OKP`) for `EdDSA`.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Jwk {
    /// The key id: the `kid` in the assertion's JOSE header.
    #[oai(validator(max_length = 32, pattern = "^[A-Za-z0-9_-]{1,32}$"))]
    pub kid: String,
    /// The key type: `EC` or `OKP`.
    pub kty: KeyType,
    /// The algorithm the key signs with: `ES256` or `EdDSA`.
    pub alg: KeyAlgorithm,
    /// The curve: `P-256` or `Ed25519`.
    pub crv: KeyCurve,
    /// `sig`: the key verifies signatures.
    #[oai(rename = "use", validator(max_length = 3, pattern = "^sig$"))]
    pub use_: String,
    /// The public key (EC: its x coordinate), base64url.
    #[oai(validator(max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$"))]
    pub x: String,
    /// EC only: the y coordinate, base64url.
    #[oai(
        skip_serializing_if_is_none,
        validator(max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")
    )]
    pub y: Option<String>,
}

/// A JWK's key type (RFC 7518 §6.1, RFC 8037 §2).
#[derive(Debug, Clone, Copy, Enum)]
pub enum KeyType {
    #[oai(rename = "EC")]
    Ec,
    #[oai(rename = "OKP")]
    Okp,
}

/// The signature algorithm of an assertion key (RFC 7518 §3.4, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, Enum)]
pub enum KeyAlgorithm {
    #[oai(rename = "ES256")]
    Es256,
    #[oai(rename = "EdDSA")]
    EdDsa,
}

/// The curve of an assertion key.
#[derive(Debug, Clone, Copy, Enum)]
pub enum KeyCurve {
    #[oai(rename = "P-256")]
    P256,
    #[oai(rename = "Ed25519")]
    Ed25519,
}

impl From<&PublicKey> for Jwk {
    fn from(key: &PublicKey) -> Self {
        let (kty, alg, crv) = match key.kind {
            KeyKind::Es256 => (KeyType::Ec, KeyAlgorithm::Es256, KeyCurve::P256),
            KeyKind::EdDsa => (KeyType::Okp, KeyAlgorithm::EdDsa, KeyCurve::Ed25519),
        };
        Self {
            kid: key.kid.clone(),
            kty,
            alg,
            crv,
            use_: "sig".into(),
            x: key.x.clone(),
            y: key.y.clone(),
        }
    }
}

impl Example for Jwk {
    /// The development key's public half.
    fn example() -> Self {
        let key =
            mfa_totp_crypto::public_key_of(DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_ASSERTION_KEY)
                .expect("the development key parses");
        Jwk::from(&key)
    }
}

impl Example for Jwks {
    fn example() -> Self {
        Self {
            keys: vec![Jwk::example()],
        }
    }
}

#[derive(ApiResponse)]
enum JwksResponse {
    /// The key set. Cache it for at most `max-age`; fetch it again when an assertion names
    /// a `kid` it does not hold.
    #[oai(status = 200)]
    Keys(
        Json<Jwks>,
        /// `public, max-age=300`.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

#[OpenApi(tag = "ApiTags::Assertions")]
impl KeysApi {
    /// The public keys that verify step-up assertions.
    ///
    /// A JWK Set (RFC 7517) of every configured assertion key, the active one first: an
    /// operation service verifies an assertion offline with the key its header's `kid`
    /// names. A retired key stays published until the last assertion it signed has expired.
    /// No token is needed.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks"
    )]
    async fn jwks(&self) -> JwksResponse {
        JwksResponse::Keys(
            Json(self.jwks.clone()),
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        )
    }
}

/// The claims of a step-up assertion: the payload of the compact JWS (RFC 7515) that
/// `:verify` and `:consume` return as `assertion`. Its JOSE header names `alg` (`ES256` or
/// `EdDSA`), `kid` (a key of `/.well-known/jwks.json`) and `typ` `step-up+jwt`.
///
/// An operation service checks, before it executes an operation on the strength of an
/// assertion: the signature, with the key `kid` names and only the algorithms `ES256` and
/// `EdDSA`; `iss`; `aud` (its own client id); `exp`; `challenge_id` (the challenge it
/// created for this operation); and `context_digest` (the digest of exactly what it is
/// about to execute). An assertion is valid until `exp` and may be presented more than
/// once: where the operation must happen once, `:consume` the challenge as well.
#[derive(Debug, Object)]
#[oai(example)]
pub struct StepUpAssertionClaims {
    /// `assertion.issuer`.
    #[oai(validator(max_length = 256))]
    pub iss: String,
    /// The subject: the user who typed the code (the challenge's `subjectUserId`).
    #[oai(validator(max_length = 128))]
    pub sub: String,
    /// The operation service that created the challenge (its token's `sub`). Absent only
    /// for a challenge created before creators were recorded.
    #[oai(skip_serializing_if_is_none, validator(max_length = 128))]
    pub aud: Option<String>,
    /// How the user authenticated (RFC 8176): always `["sms", "otp"]`.
    #[oai(validator(min_items = 2, max_items = 2))]
    pub amr: Vec<AmrValue>,
    /// The authentication context class: `assertion.acr_by_operation.<operation>`, or
    /// `assertion.acr` (`urn:mfa-totp:acr:sms-otp` by default).
    #[oai(validator(max_length = 256))]
    pub acr: String,
    /// When the code was verified (seconds since the epoch).
    #[oai(validator(minimum(value = "0"), maximum(value = "253402300799")))]
    pub auth_time: i64,
    /// When the assertion was issued: the verification (seconds since the epoch).
    #[oai(validator(minimum(value = "0"), maximum(value = "253402300799")))]
    pub iat: i64,
    /// When it expires: `auth_time` + `assertion.ttl_secs` (seconds since the epoch).
    #[oai(validator(minimum(value = "0"), maximum(value = "253402300799")))]
    pub exp: i64,
    /// The assertion's id, one per challenge: `:verify` and `:consume` hand out the same
    /// claims.
    #[oai(validator(max_length = 36, pattern = "^[0-9a-f-]{36}$"))]
    pub jti: String,
    /// The challenge that was verified.
    #[oai(validator(max_length = 36, pattern = "^[0-9a-f-]{36}$"))]
    pub challenge_id: String,
    /// The operation that was authorised (`stepUpRequestContext.operation`).
    #[oai(validator(max_length = 64))]
    pub operation: String,
    /// `contextDigest`: SHA-256 (lower-case hex) of the authorised context's canonical JSON
    /// (RFC 8785).
    #[oai(validator(pattern = "^[0-9a-f]{64}$", max_length = 64))]
    pub context_digest: String,
}

/// An `amr` value (RFC 8176).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AmrValue {
    Sms,
    Otp,
}

impl Example for StepUpAssertionClaims {
    fn example() -> Self {
        let claims = mfa_totp_crypto::Claims::of(&example_claims());
        Self {
            iss: claims.iss,
            sub: claims.sub,
            aud: claims.aud,
            amr: vec![AmrValue::Sms, AmrValue::Otp],
            acr: claims.acr,
            auth_time: claims.auth_time,
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti,
            challenge_id: claims.challenge_id,
            operation: claims.operation,
            context_digest: claims.context_digest,
        }
    }
}

/// The claims of the spec's example assertion: `alice` verified the example challenge of
/// `payments-service` 45 s after its birth.
fn example_claims() -> StepUpAssertion {
    let id = ChallengeId::parse(EXAMPLE_CHALLENGE_ID).expect("a UUID");
    let verified_at = example_time(45);
    let policy = AssertionPolicy::default();
    StepUpAssertion {
        id: mfa_totp_domain::assertion_id(id),
        issuer: policy.issuer.clone(),
        subject: UserId::parse("alice").expect("a user id"),
        audience: Some(ClientId::parse("payments-service").expect("a client id")),
        acr: policy.acr.clone(),
        auth_time: verified_at,
        issued_at: verified_at,
        expires_at: verified_at + policy.ttl,
        challenge_id: id,
        operation: Operation::parse("payments.transfer").expect("an operation"),
        context_digest: example_digest(),
    }
}

/// The spec's example assertion: [`example_claims`] signed with the development key, once.
/// An ES256 signature is randomised, so the published one is kept here; a test checks that
/// it verifies with the development key and that its header and claims are what the signer
/// makes of the example claims today.
pub const EXAMPLE_ASSERTION: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldiIsInR5cCI6InN0ZXAtdXArand0In0.eyJpc3MiOiJtZmEtdG90cCIsInN1YiI6ImFsaWNlIiwiYXVkIjoicGF5bWVudHMtc2VydmljZSIsImFtciI6WyJzbXMiLCJvdHAiXSwiYWNyIjoidXJuOm1mYS10b3RwOmFjcjpzbXMtb3RwIiwiYXV0aF90aW1lIjoxNzk1MDAwMDQ1LCJpYXQiOjE3OTUwMDAwNDUsImV4cCI6MTc5NTAwMDM0NSwianRpIjoiN2Y0MzE3OGItYzc0OS04Y2I1LThhOGUtNDQ4ZDA3ZWExM2ZhIiwiY2hhbGxlbmdlX2lkIjoiMGI2ZjFjMWUtMmY0ZC00YzQzLTlhNTEtNmQxZjBmN2YyYTEwIiwib3BlcmF0aW9uIjoicGF5bWVudHMudHJhbnNmZXIiLCJjb250ZXh0X2RpZ2VzdCI6ImI2YTk5NDg1YzZhMDE2NzlkZTRhYmI4MjgxODQxNDRiOGVhZjk2NWUyM2MwZWNhN2Q3YzkwODI1OGJjOTE4ZWIifQ.YZqPioKvdEy1yykNRjfLO6Rlf5WgwxFLQX_PnlmP0udqHjFlIc9cvH7ZxPRuYuXqTcKKfTeSmg1k9ssudXgYSA";

#[cfg(test)]
mod tests {
    use mfa_totp_application::AssertionSigner;
    use mfa_totp_crypto::AssertionKeys;

    use super::*;

    fn signed_part(token: &str) -> &str {
        token.rsplit_once('.').expect("a JWS").0
    }

    #[test]
    fn the_published_bound_on_keys_is_the_one_configuration_enforces() {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::app::published_spec().unwrap()).unwrap();
        let max = &spec["components"]["schemas"]["Jwks"]["properties"]["keys"]["maxItems"];
        assert_eq!(
            max.as_u64(),
            Some(mfa_totp_crypto::MAX_ASSERTION_KEYS as u64)
        );
    }

    #[test]
    fn the_example_assertion_is_the_example_claims_signed_by_the_development_key() {
        let keys = AssertionKeys::from_pem_keys(
            [(DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_ASSERTION_KEY)],
            DEVELOPMENT_ASSERTION_KEY_ID,
        )
        .unwrap();
        let fresh = keys.sign(&example_claims()).unwrap();
        assert_eq!(
            signed_part(EXAMPLE_ASSERTION),
            signed_part(&fresh),
            "{fresh}"
        );
        let public = &keys.public_keys()[0];
        let key = jsonwebtoken::DecodingKey::from_jwk(&public.to_jwk()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(public.kind.algorithm());
        validation.validate_exp = false;
        validation.set_audience(&["payments-service"]);
        let claims =
            jsonwebtoken::decode::<mfa_totp_crypto::Claims>(EXAMPLE_ASSERTION, &key, &validation)
                .expect("the example verifies with the development key")
                .claims;
        assert_eq!(claims, mfa_totp_crypto::Claims::of(&example_claims()));
    }
}
