//! Checking a bearer token: the signature with the one configured key (an HS256 secret, an
//! RS256/ES256 public key, or the identity provider's JWKS by `kid`), then the claims every
//! token must satisfy, whatever its key.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use mfa_totp_domain::UserId;
use serde::Deserialize;

use super::caller::Caller;
use super::error::TokenError;
use super::jwks::Jwks;
use crate::config::AuthSettings;

/// The claims read from a token, in the shapes identity providers send them: `iss`, `aud`
/// (a string or an array) and `nbf` are checked by `jsonwebtoken`; the scopes are read from
/// the claims of `auth.scope_claims`, each a space-separated string (RFC 8693 `scope`, Entra
/// ID's `scp`) or an array (Okta and Keycloak `scp`, Entra ID's application `roles`).
#[derive(Debug, Deserialize)]
struct ReceivedClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Words {
    Text(String),
    List(Vec<String>),
}

impl Words {
    /// A string splits on ASCII spaces only (RFC 6749 §3.3: `scope-token *( SP scope-token )`),
    /// so a no-break space or any other Unicode space joins words instead of splitting them;
    /// an array's items are taken whole.
    fn into_words(self) -> Vec<String> {
        match self {
            Self::Text(text) => text
                .split(' ')
                .filter(|word| !word.is_empty())
                .map(str::to_owned)
                .collect(),
            Self::List(list) => list,
        }
    }
}

/// How tokens are checked.
pub enum VerificationKey {
    Hs256(Vec<u8>),
    Rs256Pem(String),
    Es256Pem(String),
}

/// What every token must satisfy, whatever its key: `auth.issuer`, `auth.audience`,
/// `auth.max_token_lifetime_secs`, `auth.leeway_secs` and `auth.max_token_bytes`; and
/// where its scopes are (`auth.scope_claims`).
#[derive(Debug, Clone)]
pub struct TokenRules {
    pub issuer: String,
    pub audience: String,
    /// Tokens whose `exp` lies further ahead than this (from `iat`, or from now) are refused.
    pub max_lifetime_secs: u64,
    /// The clock skew allowed on `exp`, `nbf` and the lifetime.
    pub leeway_secs: u64,
    /// The claims that carry scopes, in order.
    pub scope_claims: Vec<String>,
    /// Longer tokens are refused before they are parsed.
    pub max_token_bytes: usize,
}

impl From<&AuthSettings> for TokenRules {
    fn from(auth: &AuthSettings) -> Self {
        Self {
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            max_lifetime_secs: auth.max_token_lifetime_secs,
            leeway_secs: auth.leeway_secs,
            scope_claims: auth.scope_claims.clone(),
            max_token_bytes: auth.max_token_bytes,
        }
    }
}

impl TokenRules {
    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        validation
    }

    /// What the signature check leaves: the lifetime, the subject and the scopes.
    fn caller(&self, mut claims: ReceivedClaims) -> Result<Caller, TokenError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let from = claims.iat.map_or(now, |iat| iat.min(now));
        if claims.exp.saturating_sub(from) > self.max_lifetime_secs + self.leeway_secs {
            return Err(TokenError::TooLongLived {
                max_secs: self.max_lifetime_secs,
            });
        }
        if !is_canonical_subject(&claims.sub) {
            return Err(TokenError::NonCanonicalSubject);
        }
        let scopes = self
            .scope_claims
            .iter()
            .filter_map(|name| claims.other.remove(name))
            .filter_map(|value| serde_json::from_value::<Words>(value).ok())
            .flat_map(Words::into_words)
            .collect();
        Ok(Caller::new(claims.sub, scopes))
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
        keys: Jwks,
        rs256: Validation,
        es256: Validation,
    },
}

pub struct TokenVerifier {
    keys: Keys,
    rules: TokenRules,
}

impl TokenVerifier {
    /// One fixed key.
    pub fn new(
        key: &VerificationKey,
        rules: TokenRules,
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
        Ok(Self {
            keys: Keys::Fixed {
                key,
                validation: rules.validation(algorithm),
            },
            rules,
        })
    }

    /// RS256 and ES256 keys from a JWKS endpoint, picked by the token's `kid`.
    pub fn from_jwks(keys: Jwks, rules: TokenRules) -> Self {
        Self {
            keys: Keys::Jwks {
                keys,
                rs256: rules.validation(Algorithm::RS256),
                es256: rules.validation(Algorithm::ES256),
            },
            rules,
        }
    }

    /// The identity provider's keys, when tokens are checked with them: readiness asks how
    /// old they are.
    pub fn jwks(&self) -> Option<&Jwks> {
        match &self.keys {
            Keys::Jwks { keys, .. } => Some(keys),
            Keys::Fixed { .. } => None,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        if token.len() > self.rules.max_token_bytes {
            return Err(TokenError::TooLarge {
                max: self.rules.max_token_bytes,
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::mint::mint_hs256;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"secret";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerificationKey::Hs256(SECRET.to_vec()), rules()).unwrap()
    }

    fn rules() -> TokenRules {
        TokenRules::from(&AuthSettings {
            issuer: "iss".into(),
            audience: "aud".into(),
            ..AuthSettings::default()
        })
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
        let short = TokenVerifier::new(
            &VerificationKey::Hs256(SECRET.to_vec()),
            TokenRules {
                max_lifetime_secs: 600,
                ..rules()
            },
        )
        .unwrap();
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
            rules(),
        )
        .unwrap();
        let es = TokenVerifier::new(
            &VerificationKey::Es256Pem(read("es256-test-public.pem")),
            rules(),
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
    }

    /// The attack: the public key is public, so an attacker signs HS256 with its PEM bytes as
    /// the secret. A verifier that took the algorithm from the token would accept that.
    #[tokio::test]
    async fn an_hs256_token_signed_with_the_public_key_as_secret_is_refused() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        for (name, key) in [
            (
                "rs256-test-public.pem",
                VerificationKey::Rs256Pem as fn(String) -> _,
            ),
            ("es256-test-public.pem", VerificationKey::Es256Pem),
        ] {
            let pem = std::fs::read_to_string(format!("{fixtures}/{name}")).unwrap();
            let forged = mint_hs256(pem.as_bytes(), "iss", "aud", "u", &[], 60).unwrap();
            let as_hs256 =
                TokenVerifier::new(&VerificationKey::Hs256(pem.clone().into_bytes()), rules())
                    .unwrap();
            assert!(
                as_hs256.verify(&forged).await.is_ok(),
                "the forgery is a valid HS256 token under the PEM bytes"
            );
            let verifier = TokenVerifier::new(&key(pem), rules()).unwrap();
            assert!(
                matches!(verifier.verify(&forged).await, Err(TokenError::Invalid(_))),
                "{name}: no algorithm confusion"
            );
        }
    }

    #[tokio::test]
    async fn a_token_without_iat_is_accepted() {
        let token = token_with(json!({"iat": null}));
        assert_eq!(verifier().verify(&token).await.unwrap().subject, "u");
    }

    fn verifier_with(change: impl FnOnce(&mut AuthSettings)) -> TokenVerifier {
        let mut auth = AuthSettings {
            issuer: "iss".into(),
            audience: "aud".into(),
            ..AuthSettings::default()
        };
        change(&mut auth);
        TokenVerifier::new(
            &VerificationKey::Hs256(SECRET.to_vec()),
            TokenRules::from(&auth),
        )
        .unwrap()
    }

    /// Entra ID's application tokens carry their permissions in `roles`: read when
    /// `auth.scope_claims` names it, and only then.
    #[tokio::test]
    async fn scopes_come_from_the_configured_claims_such_as_entra_roles() {
        let entra = token_with(json!({"roles": ["mfa:challenges:read"]}));
        let default = verifier().verify(&entra).await.unwrap();
        assert!(default.require_scope("mfa:challenges:read").is_err());
        let with_roles = verifier_with(|auth| {
            auth.scope_claims = vec!["scope".into(), "scp".into(), "roles".into()];
        });
        let caller = with_roles.verify(&entra).await.unwrap();
        assert!(caller.require_scope("mfa:challenges:read").is_ok());
    }

    /// Scopes split on ASCII spaces only: a no-break space (or any other Unicode space)
    /// joins two words into one scope that grants nothing.
    #[tokio::test]
    async fn scopes_split_on_ascii_spaces_only() {
        for joined in [
            "a\u{a0}mfa:challenges:read",
            "a\u{3000}mfa:challenges:read",
            "a\tmfa:challenges:read",
        ] {
            let token = token_with(json!({ "scope": joined }));
            let caller = verifier().verify(&token).await.unwrap();
            assert!(
                caller.require_scope("mfa:challenges:read").is_err(),
                "{joined:?}"
            );
        }
        let token = token_with(json!({"scope": "a  mfa:challenges:read "}));
        let caller = verifier().verify(&token).await.unwrap();
        assert!(caller.require_scope("mfa:challenges:read").is_ok());
    }

    /// A zero-width space, a byte-order mark or a bidirectional control makes another
    /// identity that looks the same: refused.
    #[tokio::test]
    async fn a_sub_with_format_characters_is_refused() {
        for sub in [
            "al\u{200b}ice",
            "\u{feff}alice",
            "alice\u{202e}",
            "al\u{ad}ice",
            "alice\u{e0041}",
        ] {
            let token = token_with(json!({ "sub": sub }));
            assert!(
                matches!(
                    verifier().verify(&token).await,
                    Err(TokenError::NonCanonicalSubject)
                ),
                "{sub:?}"
            );
        }
    }

    /// `auth.leeway_secs` is the clock skew allowed on `exp` (30 s by default).
    #[tokio::test]
    async fn the_leeway_is_configurable() {
        let just_expired = token_with(json!({"exp": now() - 20}));
        assert!(
            verifier().verify(&just_expired).await.is_ok(),
            "within 30 s"
        );
        let strict = verifier_with(|auth| auth.leeway_secs = 0);
        assert!(strict.verify(&just_expired).await.is_err());
    }

    /// A token over `auth.max_token_bytes` is refused before it is parsed, and a huge `kid`
    /// is shown cut short.
    #[tokio::test]
    async fn an_oversized_token_is_refused_before_parsing() {
        let huge = token_with(json!({"pad": "x".repeat(10_000)}));
        assert!(matches!(
            verifier().verify(&huge).await,
            Err(TokenError::TooLarge { max: 8192 })
        ));
        let shown = TokenError::UnknownKey(TokenError::shown(&"k".repeat(150_000))).to_string();
        assert!(shown.len() < 200, "{}", shown.len());
    }
}
