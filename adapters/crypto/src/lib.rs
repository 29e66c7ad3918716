//! The service's keys: AES-256-GCM encryption of TOTP secrets at rest (here), and the
//! signing of step-up assertions (`assertion`).
//!
//! A sealed secret reads `key-id:base64(nonce || ciphertext+tag)`. New secrets are sealed
//! with the active key; any configured key opens what it sealed, so keys can rotate: add a
//! new key, make it active, and keep the old one until its challenges have expired.

mod assertion;

pub use assertion::{
    ASSERTION_TYPE, AssertionKeyError, AssertionKeys, Claims, KeyKind, MAX_ASSERTION_KEYS,
    PublicKey, public_key_of,
};

use std::collections::HashMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mfa_totp_application::{CipherError, SecretCipher};
use mfa_totp_domain::TotpSecret;

const NONCE_LEN: usize = 12;

/// Why a key ring could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyRingError {
    #[error("key '{0}' must be 32 bytes, base64-encoded")]
    BadKey(String),
    #[error("key id '{0}' must be 1 to 32 characters of [A-Za-z0-9_-]")]
    BadKeyId(String),
    #[error("the active key id '{0}' is not among the configured keys")]
    UnknownActiveKey(String),
}

pub struct AesGcmCipher {
    keys: HashMap<String, Aes256Gcm>,
    active: String,
}

impl AesGcmCipher {
    /// Builds the ring from `(key id, base64 key)` pairs; `active` seals new secrets.
    pub fn from_base64_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
        active: &str,
    ) -> Result<Self, KeyRingError> {
        let mut ring = HashMap::new();
        for (id, encoded) in keys {
            let bytes = decode_key(id, encoded)?;
            ring.insert(
                id.to_owned(),
                Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            );
        }
        if !ring.contains_key(active) {
            return Err(KeyRingError::UnknownActiveKey(active.to_owned()));
        }
        Ok(Self {
            keys: ring,
            active: active.to_owned(),
        })
    }
}

/// Checks `(key id, base64 key)` pairs and the active key id as
/// [`AesGcmCipher::from_base64_keys`] does, without building a cipher (configuration checks).
pub fn check_base64_keys<'a>(
    keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    active: &str,
) -> Result<(), KeyRingError> {
    let mut has_active = false;
    for (id, encoded) in keys {
        decode_key(id, encoded)?;
        has_active |= id == active;
    }
    if has_active {
        Ok(())
    } else {
        Err(KeyRingError::UnknownActiveKey(active.to_owned()))
    }
}

/// A key id, of a sealing or a signing key: 1 to 32 of `[A-Za-z0-9_-]`.
fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A key's 32 bytes, once its id and its base64 are checked.
fn decode_key(id: &str, encoded: &str) -> Result<Vec<u8>, KeyRingError> {
    if !valid_key_id(id) {
        return Err(KeyRingError::BadKeyId(id.to_owned()));
    }
    STANDARD
        .decode(encoded.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| KeyRingError::BadKey(id.to_owned()))
}

impl SecretCipher for AesGcmCipher {
    fn seal(&self, secret: &TotpSecret, aad: &[u8]) -> Result<String, CipherError> {
        let cipher = &self.keys[&self.active];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad,
                },
            )
            .map_err(|_| CipherError::Corrupt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{}:{}", self.active, STANDARD.encode(blob)))
    }

    fn open(&self, sealed: &str, aad: &[u8]) -> Result<TotpSecret, CipherError> {
        let (id, encoded) = sealed.split_once(':').ok_or(CipherError::Corrupt)?;
        let cipher = self
            .keys
            .get(id)
            .ok_or_else(|| CipherError::UnknownKey(id.to_owned()))?;
        let blob = STANDARD.decode(encoded).map_err(|_| CipherError::Corrupt)?;
        if blob.len() <= NONCE_LEN {
            return Err(CipherError::Corrupt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CipherError::Corrupt)?;
        TotpSecret::try_from_slice(&plain).ok_or(CipherError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn secret() -> TotpSecret {
        TotpSecret::from_bytes([42; 20])
    }

    #[test]
    fn sealed_secret_opens_with_the_same_aad_and_names_its_key() {
        let ring = AesGcmCipher::from_base64_keys([("k1", K1)], "k1").unwrap();
        let sealed = ring.seal(&secret(), b"challenge-1").unwrap();
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains(&STANDARD.encode(secret().as_bytes())));
        assert_eq!(ring.open(&sealed, b"challenge-1").unwrap(), secret());
    }

    #[test]
    fn sealed_secret_does_not_open_for_another_row() {
        let ring = AesGcmCipher::from_base64_keys([("k1", K1)], "k1").unwrap();
        let sealed = ring.seal(&secret(), b"challenge-1").unwrap();
        assert!(matches!(
            ring.open(&sealed, b"challenge-2"),
            Err(CipherError::Corrupt)
        ));
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let ring = AesGcmCipher::from_base64_keys([("k1", K1)], "k1").unwrap();
        let sealed = ring.seal(&secret(), b"c").unwrap();
        let (id, body) = sealed.split_once(':').unwrap();
        let mut blob = STANDARD.decode(body).unwrap();
        blob[NONCE_LEN] ^= 1;
        let tampered = format!("{id}:{}", STANDARD.encode(blob));
        assert!(matches!(
            ring.open(&tampered, b"c"),
            Err(CipherError::Corrupt)
        ));
    }

    #[test]
    fn rotated_ring_still_opens_secrets_sealed_with_the_old_key() {
        let old = AesGcmCipher::from_base64_keys([("k1", K1)], "k1").unwrap();
        let sealed = old.seal(&secret(), b"c").unwrap();
        let rotated = AesGcmCipher::from_base64_keys([("k1", K1), ("k2", K2)], "k2").unwrap();
        assert_eq!(rotated.open(&sealed, b"c").unwrap(), secret());
        assert!(rotated.seal(&secret(), b"c").unwrap().starts_with("k2:"));
        let only_new = AesGcmCipher::from_base64_keys([("k2", K2)], "k2").unwrap();
        assert!(
            matches!(only_new.open(&sealed, b"c"), Err(CipherError::UnknownKey(id)) if id == "k1")
        );
    }

    #[test]
    fn ring_refuses_short_keys_bad_ids_and_a_missing_active_key() {
        assert_eq!(
            AesGcmCipher::from_base64_keys([("k1", "c2hvcnQ=")], "k1").err(),
            Some(KeyRingError::BadKey("k1".into()))
        );
        assert_eq!(
            AesGcmCipher::from_base64_keys([("a:b", K1)], "a:b").err(),
            Some(KeyRingError::BadKeyId("a:b".into()))
        );
        assert_eq!(
            AesGcmCipher::from_base64_keys([("k1", K1)], "k9").err(),
            Some(KeyRingError::UnknownActiveKey("k9".into()))
        );
    }

    #[test]
    fn the_check_refuses_what_the_ring_refuses_and_passes_what_it_builds() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("k1", "c2hvcnQ=")], "k1"),
            (&[("a:b", K1)], "a:b"),
            (&[("k1", K1)], "k9"),
            (&[("k1", K1), ("k2", K2)], "k2"),
            (&[("k1", K1), ("k2", "not base64!")], "k1"),
        ];
        for (keys, active) in cases {
            assert_eq!(
                check_base64_keys(keys.iter().copied(), active),
                AesGcmCipher::from_base64_keys(keys.iter().copied(), active).map(drop),
                "{keys:?} {active}"
            );
        }
    }
}
