//! Step-up assertions as compact JWS, signed with the service's own keys (ES256 on P-256, or
//! EdDSA on Ed25519), and the public half of every configured key as a JWKS.
//!
//! Keys are PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), by key id, read once at start-up by
//! RustCrypto's `p256` / `ed25519-dalek` and signed with by `ring` (ES256 in 18 µs, against
//! 137 µs for `p256`; BENCHMARKS.md). New assertions are signed with the active key; every
//! configured key is published, so that assertions signed before a rotation keep verifying
//! until they expire.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mfa_totp_application::{AssertionSigner, SignError};
use mfa_totp_domain::{AMR, StepUpAssertion};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use serde::{Deserialize, Serialize};

/// The JOSE header's `typ` (explicit typing, RFC 8725 §3.11): a verifier that checks it
/// cannot take another JWT of ours for an assertion.
pub const ASSERTION_TYPE: &str = "step-up+jwt";

/// The most keys a ring holds: the JWKS publishes every one (the spec's `maxItems`).
pub const MAX_ASSERTION_KEYS: usize = 64;

/// Why a configured key cannot sign assertions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssertionKeyError {
    #[error("key id '{0}' must be 1 to 32 characters of [A-Za-z0-9_-]")]
    BadKeyId(String),
    #[error("key '{0}' is empty")]
    Empty(String),
    #[error(
        "key '{0}' is not a PEM private key (expected -----BEGIN PRIVATE KEY-----, PKCS#8); generate one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"
    )]
    NotPem(String),
    #[error(
        "key '{0}' is a SEC1 EC key (-----BEGIN EC PRIVATE KEY-----); convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt`"
    )]
    Sec1(String),
    #[error(
        "key '{0}' is encrypted; give it unencrypted (`openssl pkcs8 -topk8 -nocrypt`) and protect it as a secret"
    )]
    Encrypted(String),
    #[error(
        "key '{0}' is not a valid EC P-256 key (ES256) or Ed25519 key (EdDSA); other curves and RSA are not offered"
    )]
    Unsupported(String),
    #[error("the active key id '{0}' is not among the configured keys")]
    UnknownActiveKey(String),
    #[error("{0} keys are configured; at most {MAX_ASSERTION_KEYS} are published")]
    TooMany(usize),
}

/// The kinds of key offered; each names its algorithm, key type and curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ES256: ECDSA on P-256 with SHA-256.
    Es256,
    /// EdDSA on Ed25519.
    EdDsa,
}

impl KeyKind {
    /// The JOSE `alg`.
    pub fn alg(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The JWK `kty`.
    pub fn kty(self) -> &'static str {
        match self {
            Self::Es256 => "EC",
            Self::EdDsa => "OKP",
        }
    }

    /// The JWK `crv`.
    pub fn crv(self) -> &'static str {
        match self {
            Self::Es256 => "P-256",
            Self::EdDsa => "Ed25519",
        }
    }

    /// The algorithm a verifier pins for a key of this kind.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// A public key as the JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub kind: KeyKind,
    /// base64url, unpadded.
    pub x: String,
    /// base64url, unpadded; EC only.
    pub y: Option<String>,
}

/// A private key, parsed once, as `ring` signs with it.
enum Signer {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// One configured key.
struct SigningKey {
    /// The JOSE header, base64url-encoded once: `{"alg":…,"kid":…,"typ":"step-up+jwt"}`.
    header: String,
    signer: Signer,
    public: PublicKey,
}

/// The configured keys, and the one that signs.
pub struct AssertionKeys {
    keys: Vec<SigningKey>,
    active: usize,
    random: SystemRandom,
}

impl AssertionKeys {
    /// The ring of `(key id, PKCS#8 PEM)` pairs; `active` signs new assertions. Each key
    /// signs a probe that the public half it would publish must verify (checked by another
    /// implementation, RustCrypto's, through jsonwebtoken) before it is taken.
    pub fn from_pem_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
        active: &str,
    ) -> Result<Self, AssertionKeyError> {
        let random = SystemRandom::new();
        let keys = keys
            .into_iter()
            .map(|(kid, pem)| parse_key(kid, pem, &random))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() > MAX_ASSERTION_KEYS {
            return Err(AssertionKeyError::TooMany(keys.len()));
        }
        let active = keys
            .iter()
            .position(|key| key.public.kid == active)
            .ok_or_else(|| AssertionKeyError::UnknownActiveKey(active.to_owned()))?;
        Ok(Self {
            keys,
            active,
            random,
        })
    }

    /// The public half of every configured key, the active one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = self.keys.iter().map(|k| k.public.clone()).collect();
        keys.swap(0, self.active);
        keys
    }
}

/// The public key of one `(key id, PKCS#8 PEM)` pair, once the pair is checked as
/// [`AssertionKeys::from_pem_keys`] checks it (configuration checks; comparing with a
/// public development key).
pub fn public_key_of(kid: &str, pem: &str) -> Result<PublicKey, AssertionKeyError> {
    parse_key(kid, pem, &SystemRandom::new()).map(|key| key.public)
}

/// The claims as the JWS payload carries them. The names are the contract (the spec's
/// `StepUpAssertionClaims`).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aud: Option<String>,
    pub amr: Vec<String>,
    pub acr: String,
    pub auth_time: i64,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub challenge_id: String,
    pub operation: String,
    pub context_digest: String,
}

impl Claims {
    pub fn of(assertion: &StepUpAssertion) -> Self {
        Self {
            iss: assertion.issuer.clone(),
            sub: assertion.subject.as_str().to_owned(),
            aud: assertion.audience.as_ref().map(|c| c.as_str().to_owned()),
            amr: AMR.map(str::to_owned).to_vec(),
            acr: assertion.acr.clone(),
            auth_time: assertion.auth_time.timestamp(),
            iat: assertion.issued_at.timestamp(),
            exp: assertion.expires_at.timestamp(),
            jti: assertion.id.hyphenated().to_string(),
            challenge_id: assertion.challenge_id.to_string(),
            operation: assertion.operation.as_str().to_owned(),
            context_digest: assertion.context_digest.clone(),
        }
    }
}

impl AssertionSigner for AssertionKeys {
    fn sign(&self, assertion: &StepUpAssertion) -> Result<String, SignError> {
        self.keys[self.active]
            .sign(&Claims::of(assertion), &self.random)
            .map_err(SignError)
    }
}

impl SigningKey {
    /// `header.payload.signature`, each part base64url (RFC 7515 §7.1).
    fn sign(&self, claims: &impl Serialize, random: &SystemRandom) -> Result<String, String> {
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let mut token = format!("{}.{}", self.header, B64.encode(payload));
        let signature = match &self.signer {
            Signer::Es256(key) => key
                .sign(random, token.as_bytes())
                .map_err(|_| "ECDSA signing failed".to_owned())?
                .as_ref()
                .to_vec(),
            Signer::EdDsa(key) => key.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        token.push_str(&B64.encode(signature));
        Ok(token)
    }

    /// Signs a probe and verifies it with the public half that would be published, by
    /// RustCrypto's implementation (jsonwebtoken's), not ring's.
    fn verifies_its_own_signature(&self, random: &SystemRandom) -> bool {
        #[derive(Serialize, Deserialize)]
        struct Probe {
            probe: String,
        }
        let Ok(decoding) = DecodingKey::from_jwk(&self.public.to_jwk()) else {
            return false;
        };
        let probe = Probe {
            probe: "mfa-totp".into(),
        };
        let Ok(token) = self.sign(&probe, random) else {
            return false;
        };
        let mut validation = Validation::new(self.public.kind.algorithm());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Probe>(&token, &decoding, &validation).is_ok()
    }
}

/// The PEM's label and its base64 body re-wrapped at 64 columns, whatever the wrapping,
/// line endings, indentation or escaped line breaks (`\n`) it came with.
fn normalised_pem(pem: &str) -> Option<(String, String)> {
    let pem = pem.replace("\\n", "\n");
    let pem = pem.trim();
    let rest = pem.strip_prefix("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    let (body, _) = rest.split_once(&format!("-----END {label}-----"))?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap_or_default())
        .collect();
    let text = format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    );
    Some((label.to_owned(), text))
}

fn parse_key(kid: &str, pem: &str, random: &SystemRandom) -> Result<SigningKey, AssertionKeyError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::DecodePrivateKey;
    if !crate::valid_key_id(kid) {
        return Err(AssertionKeyError::BadKeyId(kid.to_owned()));
    }
    let named = |error: fn(String) -> AssertionKeyError| error(kid.to_owned());
    if pem.trim().is_empty() {
        return Err(named(AssertionKeyError::Empty));
    }
    let Some((label, pem)) = normalised_pem(pem) else {
        return Err(named(AssertionKeyError::NotPem));
    };
    match label.as_str() {
        "PRIVATE KEY" => {}
        "EC PRIVATE KEY" => return Err(named(AssertionKeyError::Sec1)),
        "ENCRYPTED PRIVATE KEY" => return Err(named(AssertionKeyError::Encrypted)),
        _ => return Err(named(AssertionKeyError::Unsupported)),
    }
    let public = |kind, x: &[u8], y: Option<&[u8]>| PublicKey {
        kid: kid.to_owned(),
        kind,
        x: B64.encode(x),
        y: y.map(|y| B64.encode(y)),
    };
    let parsed = if let Ok(secret) = p256::SecretKey::from_pkcs8_pem(&pem) {
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(named(AssertionKeyError::Unsupported));
        };
        EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            point.as_bytes(),
            random,
        )
        .ok()
        .map(|pair| (Signer::Es256(pair), public(KeyKind::Es256, x, Some(y))))
    } else if let Ok(secret) = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem) {
        let x = secret.verifying_key().to_bytes();
        Ed25519KeyPair::from_seed_and_public_key(&secret.to_bytes(), &x)
            .ok()
            .map(|pair| (Signer::EdDsa(pair), public(KeyKind::EdDsa, &x, None)))
    } else {
        None
    };
    let Some((signer, public)) = parsed else {
        return Err(named(AssertionKeyError::Unsupported));
    };
    let header = serde_json::json!({ "alg": public.kind.alg(), "kid": kid, "typ": ASSERTION_TYPE });
    let key = SigningKey {
        header: B64.encode(header.to_string()),
        signer,
        public,
    };
    if key.verifies_its_own_signature(random) {
        Ok(key)
    } else {
        Err(named(AssertionKeyError::Unsupported))
    }
}

impl PublicKey {
    /// The key as a JWK, with `use: sig` (for verifying in tests and tools).
    pub fn to_jwk(&self) -> Jwk {
        let mut value = serde_json::json!({
            "kid": self.kid,
            "alg": self.kind.alg(),
            "kty": self.kind.kty(),
            "crv": self.kind.crv(),
            "x": self.x,
            "use": "sig",
        });
        if let Some(y) = &self.y {
            value["y"] = y.clone().into();
        }
        let mut jwk: Jwk = serde_json::from_value(value).expect("a JWK of known fields");
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};
    use mfa_totp_domain::{
        AssertionPolicy, Challenge, ChallengeId, ChallengePolicy, ClientId, Operation,
        SealedSecret, StepUpContext, UserId,
    };

    const ES256_A: &str = include_str!("../testdata/es256-a.pem");
    const ES256_B: &str = include_str!("../testdata/es256-b.pem");
    const ED25519: &str = include_str!("../testdata/ed25519.pem");

    fn assertion() -> StepUpAssertion {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let id = ChallengeId::generate();
        let challenge = Challenge::new(
            id,
            UserId::parse("alice").unwrap(),
            ClientId::parse("payments-service").unwrap(),
            SealedSecret::new("k:x".into()),
            at,
            &ChallengePolicy::default(),
        )
        .after_verify(at + TimeDelta::seconds(5));
        let context = StepUpContext::new(
            id,
            Operation::parse("payments.transfer").unwrap(),
            serde_json::Map::new(),
        );
        AssertionPolicy::default()
            .assertion_for(&challenge, &context)
            .unwrap()
    }

    /// The token's claims, checked with `key` as a verifier would (no time checks: the
    /// assertion is from 2027).
    fn verified(token: &str, key: &PublicKey) -> jsonwebtoken::errors::Result<Claims> {
        let decoding = DecodingKey::from_jwk(&key.to_jwk())?;
        let mut validation = Validation::new(key.kind.algorithm());
        validation.validate_exp = false;
        validation.set_audience(&["payments-service"]);
        jsonwebtoken::decode::<Claims>(token, &decoding, &validation).map(|data| data.claims)
    }

    #[test]
    fn es256_and_eddsa_keys_sign_what_their_published_halves_verify() {
        for (pem, kind) in [(ES256_A, KeyKind::Es256), (ED25519, KeyKind::EdDsa)] {
            let keys = AssertionKeys::from_pem_keys([("k1", pem)], "k1").unwrap();
            let public = &keys.public_keys()[0];
            assert_eq!(public.kind, kind);
            let a = assertion();
            let token = keys.sign(&a).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, kind.algorithm());
            assert_eq!(header.kid.as_deref(), Some("k1"));
            assert_eq!(header.typ.as_deref(), Some(ASSERTION_TYPE));
            assert_eq!(verified(&token, public).unwrap(), Claims::of(&a));
        }
    }

    /// Signed twice, an assertion has the same header and claims; an EdDSA signature is
    /// the same too, an ES256 one is randomised.
    #[test]
    fn the_same_assertion_signs_to_the_same_header_and_claims() {
        let signed_part = |token: &str| token.rsplit_once('.').unwrap().0.to_owned();
        for pem in [ES256_A, ED25519] {
            let keys = AssertionKeys::from_pem_keys([("k1", pem)], "k1").unwrap();
            let a = assertion();
            let (one, two) = (keys.sign(&a).unwrap(), keys.sign(&a).unwrap());
            assert_eq!(signed_part(&one), signed_part(&two));
            assert_eq!(one == two, pem == ED25519);
        }
    }

    #[test]
    fn a_tampered_claim_fails_the_signature() {
        let keys = AssertionKeys::from_pem_keys([("k1", ES256_A)], "k1").unwrap();
        let token = keys.sign(&assertion()).unwrap();
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sub"] = "mallory".into();
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
        let tampered = format!("{head}.{forged}.{signature}");
        assert!(verified(&token, &keys.public_keys()[0]).is_ok());
        assert!(verified(&tampered, &keys.public_keys()[0]).is_err());
    }

    #[test]
    fn every_key_is_published_and_the_active_one_signs() {
        let keys = AssertionKeys::from_pem_keys(
            [("old", ES256_A), ("new", ES256_B), ("ed", ED25519)],
            "new",
        )
        .unwrap();
        let kids: Vec<String> = keys.public_keys().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["new", "old", "ed"]);
        let token = keys.sign(&assertion()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("new"));
        // Signed by `new`: the public half of `old` does not verify it.
        let old = keys
            .public_keys()
            .into_iter()
            .find(|k| k.kid == "old")
            .unwrap();
        assert!(verified(&token, &old).is_err());
    }

    #[test]
    fn escaped_line_breaks_are_read_as_line_breaks() {
        let escaped = ES256_A.trim().replace('\n', "\\n");
        let public = public_key_of("k1", &escaped).unwrap();
        assert_eq!(public, public_key_of("k1", ES256_A).unwrap());
    }

    #[test]
    fn keys_that_cannot_sign_are_named_with_why() {
        let cases = [
            ("", AssertionKeyError::Empty("k".into())),
            ("   \n", AssertionKeyError::Empty("k".into())),
            ("not a key", AssertionKeyError::NotPem("k".into())),
            (
                include_str!("../testdata/es256-sec1.pem"),
                AssertionKeyError::Sec1("k".into()),
            ),
            (
                include_str!("../testdata/es256-encrypted.pem"),
                AssertionKeyError::Encrypted("k".into()),
            ),
            (
                include_str!("../testdata/es384.pem"),
                AssertionKeyError::Unsupported("k".into()),
            ),
            (
                include_str!("../testdata/rsa2048.pem"),
                AssertionKeyError::Unsupported("k".into()),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                AssertionKeyError::Unsupported("k".into()),
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                AssertionKeyError::Unsupported("k".into()),
            ),
        ];
        for (pem, expected) in cases {
            assert_eq!(public_key_of("k", pem).err(), Some(expected), "{pem:?}");
        }
        assert_eq!(
            public_key_of("bad id!", ES256_A).err(),
            Some(AssertionKeyError::BadKeyId("bad id!".into()))
        );
        assert_eq!(
            AssertionKeys::from_pem_keys([("k1", ES256_A)], "k2").err(),
            Some(AssertionKeyError::UnknownActiveKey("k2".into()))
        );
    }
}
