//! Step-up assertions as compact JWS, signed with the service's own keys (ES256 on P-256, or
//! EdDSA on Ed25519), and the public half of every configured key as a JWKS.
//!
//! Keys are PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), by key id. New assertions are signed
//! with the active key; every configured key is published, so that assertions signed before
//! a rotation keep verifying until they expire.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mfa_totp_application::{AssertionSigner, SignError};
use mfa_totp_domain::{AMR, StepUpAssertion};
use serde::{Deserialize, Serialize};

/// The JOSE header's `typ` (explicit typing, RFC 8725 §3.11): a verifier that checks it
/// cannot take another JWT of ours for an assertion.
pub const ASSERTION_TYPE: &str = "step-up+jwt";

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
}

/// A public key as the JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// `ES256` or `EdDSA`.
    pub alg: &'static str,
    /// `EC` or `OKP`.
    pub kty: &'static str,
    /// `P-256` or `Ed25519`.
    pub crv: &'static str,
    /// base64url, unpadded.
    pub x: String,
    /// base64url, unpadded; EC only.
    pub y: Option<String>,
}

/// One configured key.
struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    public: PublicKey,
}

/// The configured keys, and the one that signs.
pub struct AssertionKeys {
    keys: Vec<SigningKey>,
    active: usize,
}

impl AssertionKeys {
    /// The ring of `(key id, PKCS#8 PEM)` pairs; `active` signs new assertions. Each key
    /// signs and verifies a probe before it is taken, so a key whose public half would not
    /// verify its own signatures never gets published.
    pub fn from_pem_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
        active: &str,
    ) -> Result<Self, AssertionKeyError> {
        let keys = keys
            .into_iter()
            .map(|(kid, pem)| parse_key(kid, pem))
            .collect::<Result<Vec<_>, _>>()?;
        let active = keys
            .iter()
            .position(|key| key.kid == active)
            .ok_or_else(|| AssertionKeyError::UnknownActiveKey(active.to_owned()))?;
        Ok(Self { keys, active })
    }

    /// The public half of every configured key, the active one first.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = self.keys.iter().map(|k| k.public.clone()).collect();
        keys.swap(0, self.active);
        keys
    }

    /// The id of the key that signs.
    pub fn active_key_id(&self) -> &str {
        &self.keys[self.active].kid
    }
}

/// The public key of one `(key id, PKCS#8 PEM)` pair, once the pair is checked as
/// [`AssertionKeys::from_pem_keys`] checks it (configuration checks; comparing with a
/// public development key).
pub fn public_key_of(kid: &str, pem: &str) -> Result<PublicKey, AssertionKeyError> {
    parse_key(kid, pem).map(|key| key.public)
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
            .sign(&Claims::of(assertion))
            .map_err(|e| SignError(e.to_string()))
    }
}

impl SigningKey {
    fn sign(&self, claims: &impl Serialize) -> jsonwebtoken::errors::Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some(ASSERTION_TYPE.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// A key id as `crypto.keys` takes them: 1 to 32 of `[A-Za-z0-9_-]`.
fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse_key(kid: &str, pem: &str) -> Result<SigningKey, AssertionKeyError> {
    if !valid_kid(kid) {
        return Err(AssertionKeyError::BadKeyId(kid.to_owned()));
    }
    // A PEM in an environment variable often arrives with its line breaks escaped.
    let pem = pem.replace("\\n", "\n");
    let pem = pem.trim();
    let named = |error: fn(String) -> AssertionKeyError| error(kid.to_owned());
    if pem.is_empty() {
        return Err(named(AssertionKeyError::Empty));
    }
    let label = pem
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label);
    match label {
        Some("PRIVATE KEY") => {}
        Some("EC PRIVATE KEY") => return Err(named(AssertionKeyError::Sec1)),
        Some("ENCRYPTED PRIVATE KEY") => return Err(named(AssertionKeyError::Encrypted)),
        Some(_) => return Err(named(AssertionKeyError::Unsupported)),
        None => return Err(named(AssertionKeyError::NotPem)),
    }
    let candidates = [
        (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
        (Algorithm::EdDSA, EncodingKey::from_ed_pem(pem.as_bytes())),
    ];
    for (algorithm, encoding) in candidates {
        let Ok(encoding) = encoding else { continue };
        let Ok(jwk) = Jwk::from_encoding_key(&encoding, algorithm) else {
            continue;
        };
        let Some(public) = public_key(kid, algorithm, &jwk) else {
            continue;
        };
        let key = SigningKey {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            public,
        };
        if key.verifies_its_own_signature(&jwk) {
            return Ok(key);
        }
    }
    Err(named(AssertionKeyError::Unsupported))
}

impl SigningKey {
    /// Signs a probe and verifies it with the public half that would be published.
    fn verifies_its_own_signature(&self, jwk: &Jwk) -> bool {
        #[derive(Serialize, Deserialize)]
        struct Probe {
            probe: String,
        }
        let Ok(decoding) = DecodingKey::from_jwk(jwk) else {
            return false;
        };
        let Ok(token) = self.sign(&Probe {
            probe: "mfa-totp".into(),
        }) else {
            return false;
        };
        let mut validation = Validation::new(self.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Probe>(&token, &decoding, &validation).is_ok()
    }
}

fn public_key(kid: &str, algorithm: Algorithm, jwk: &Jwk) -> Option<PublicKey> {
    let public = |alg, kty, crv, x: &str, y: Option<&str>| PublicKey {
        kid: kid.to_owned(),
        alg,
        kty,
        crv,
        x: x.to_owned(),
        y: y.map(str::to_owned),
    };
    match (&jwk.algorithm, algorithm) {
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256)
            if ec.curve == EllipticCurve::P256 =>
        {
            Some(public("ES256", "EC", "P-256", &ec.x, Some(&ec.y)))
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA)
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Some(public("EdDSA", "OKP", "Ed25519", &okp.x, None))
        }
        _ => None,
    }
}

impl PublicKey {
    /// The key as a JWK, with `use: sig` (for verifying in tests and tools).
    pub fn to_jwk(&self) -> Jwk {
        let mut value = serde_json::json!({
            "kid": self.kid,
            "alg": self.alg,
            "kty": self.kty,
            "crv": self.crv,
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
        let alg = if key.alg == "ES256" {
            Algorithm::ES256
        } else {
            Algorithm::EdDSA
        };
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.set_audience(&["payments-service"]);
        jsonwebtoken::decode::<Claims>(token, &decoding, &validation).map(|data| data.claims)
    }

    #[test]
    fn es256_and_eddsa_keys_sign_what_their_published_halves_verify() {
        for (pem, alg, kty) in [(ES256_A, "ES256", "EC"), (ED25519, "EdDSA", "OKP")] {
            let keys = AssertionKeys::from_pem_keys([("k1", pem)], "k1").unwrap();
            let public = &keys.public_keys()[0];
            assert_eq!((public.alg, public.kty), (alg, kty));
            let token = keys.sign(&assertion()).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some("k1"));
            assert_eq!(header.typ.as_deref(), Some(ASSERTION_TYPE));
            let claims = verified(&token, public).unwrap();
            assert_eq!(claims, Claims::of(&assertion_with_id(&claims)));
        }
    }

    /// [`assertion`] again, with the challenge id `claims` name (each call makes a new one).
    fn assertion_with_id(claims: &Claims) -> StepUpAssertion {
        let id = ChallengeId::parse(&claims.challenge_id).unwrap();
        let mut a = assertion();
        a.challenge_id = id;
        a.id = mfa_totp_domain::assertion_id(id);
        a
    }

    #[test]
    fn the_same_assertion_signs_to_the_same_token() {
        let keys = AssertionKeys::from_pem_keys([("k1", ES256_A)], "k1").unwrap();
        let a = assertion();
        assert_eq!(keys.sign(&a).unwrap(), keys.sign(&a).unwrap());
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
