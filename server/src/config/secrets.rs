//! Every secret of the configuration, checked once all layers (defaults, file, environment)
//! are merged, on the bytes it is used as: a `whsec_` webhook secret and each of
//! `crypto.keys` on their decoded bytes, the others as they are. The assertion keys are
//! private keys, checked by parsing them (`validate`); one whose public half is the
//! development key's is a development value.
//!
//! A configured secret is refused, naming its key, when it is empty or blank, has control
//! characters (a NUL, a trailing newline) or surrounding white space, is shorter than its
//! kind needs, or has trivially low entropy: fewer than 8 distinct bytes, one unit repeated,
//! or a run such as `abcdef…`. In production a secret is also refused when it is a public
//! development value in any disguise: with white space, NULs or other case, inside a longer
//! value, or base64 encoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;

use super::mode::{
    DEVELOPMENT_ASSERTION_KEY, DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_CRYPTO_KEY,
    DEVELOPMENT_HS256_SECRET,
};
use super::schema::Settings;

/// The shortest HS256 secret accepted: 256 bits, as RFC 7518 §3.2 asks.
const MIN_HS256_SECRET_BYTES: usize = 32;
/// The shortest SMS provider credential: Vonage's API secrets have 16 characters, Twilio's
/// auth tokens 32.
const MIN_PROVIDER_SECRET_BYTES: usize = 16;
/// The shortest webhook key: Standard Webhooks asks for 24 to 64 bytes.
const MIN_WEBHOOK_KEY_BYTES: usize = 24;
/// Fewer distinct bytes than this is not a secret.
const MIN_DISTINCT_BYTES: usize = 8;

/// One configured secret: its key, and the bytes it is used as.
struct Secret {
    key: String,
    /// As configured (checked for white space and control characters).
    text: String,
    /// As used: decoded where the key says so.
    bytes: Option<Vec<u8>>,
    min_bytes: usize,
}

impl Settings {
    /// Every configured secret that is unusable, one line each, naming its key.
    pub(super) fn weak_secrets(&self) -> Vec<String> {
        self.secrets()
            .iter()
            .filter_map(|secret| {
                secret
                    .weakness()
                    .map(|why| format!("invalid configuration: {}: {why}", secret.key))
            })
            .collect()
    }

    /// Every configured secret that is a public development value, however disguised. An
    /// assertion key is one when its public half is the development key's, whatever its PEM
    /// looks like.
    pub(super) fn development_secrets(&self) -> Vec<String> {
        let development_key =
            mfa_totp_crypto::public_key_of(DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_ASSERTION_KEY)
                .expect("the development assertion key parses");
        let assertion_keys = self.assertion.keys.iter().filter(|(kid, pem)| {
            mfa_totp_crypto::public_key_of(kid, pem.expose_secret())
                .is_ok_and(|key| (&key.x, &key.y) == (&development_key.x, &development_key.y))
        });
        self.secrets()
            .iter()
            .filter(|secret| secret.is_development_value())
            .map(|secret| secret.key.clone())
            .chain(assertion_keys.map(|(kid, _)| format!("assertion.keys.{kid}")))
            .map(|key| format!("{key}: this is a public development value (or one disguised)"))
            .collect()
    }

    fn secrets(&self) -> Vec<Secret> {
        let mut secrets = Vec::new();
        let mut text = |key: &str, value: Option<&secrecy::SecretString>, min_bytes| {
            if let Some(value) = value {
                let text = value.expose_secret().to_owned();
                secrets.push(Secret {
                    key: key.to_owned(),
                    bytes: Some(text.as_bytes().to_vec()),
                    text,
                    min_bytes,
                });
            }
        };
        text(
            "auth.hs256_secret",
            self.auth.hs256_secret.as_ref(),
            MIN_HS256_SECRET_BYTES,
        );
        text(
            "sms.twilio.auth_token",
            self.sms.twilio.auth_token.as_ref(),
            MIN_PROVIDER_SECRET_BYTES,
        );
        text(
            "sms.vonage.api_secret",
            self.sms.vonage.api_secret.as_ref(),
            MIN_PROVIDER_SECRET_BYTES,
        );
        if let Some(value) = &self.sms.webhook.secret {
            secrets.push(webhook_secret("sms.webhook.secret".into(), value));
        }
        for (sub, subscriber) in &self.events.subscribers {
            if let Some(value) = &subscriber.secret {
                let key = format!("events.subscribers.{sub}.secret");
                let secret = webhook_secret(key, value);
                // Only `whsec_` secrets sign events; the adapter names any other.
                secrets.push(match secret.text.starts_with("whsec_") {
                    true => secret,
                    false => Secret {
                        bytes: None,
                        ..secret
                    },
                });
            }
        }
        for (id, value) in &self.crypto.keys {
            let text = value.expose_secret().to_owned();
            secrets.push(Secret {
                key: format!("crypto.keys.{id}"),
                // Undecodable or not 32 bytes: `crypto.keys`' own check names it.
                bytes: STANDARD.decode(&text).ok().filter(|b| b.len() == 32),
                text,
                min_bytes: 32,
            });
        }
        secrets
    }
}

/// A Standard Webhooks secret: a `whsec_` secret is used as the bytes of its base64.
fn webhook_secret(key: String, value: &secrecy::SecretString) -> Secret {
    let text = value.expose_secret().to_owned();
    let (bytes, min_bytes) = match text.strip_prefix("whsec_") {
        // Undecodable: the webhook's own check names it.
        Some(encoded) => (STANDARD.decode(encoded).ok(), MIN_WEBHOOK_KEY_BYTES),
        None => (Some(text.as_bytes().to_vec()), MIN_HS256_SECRET_BYTES),
    };
    Secret {
        key,
        text,
        bytes,
        min_bytes,
    }
}

impl Secret {
    /// Why the secret cannot be used, if it cannot.
    fn weakness(&self) -> Option<String> {
        let text = &self.text;
        if text.is_empty() {
            return Some("is empty".into());
        }
        if text.chars().any(char::is_control) {
            return Some(
                "contains control characters (a NUL, a tab or a newline copied with it?)".into(),
            );
        }
        if text.trim().is_empty() {
            return Some("is blank".into());
        }
        if text.trim() != text {
            return Some("has white space around it (copied with a space?)".into());
        }
        let bytes = self.bytes.as_ref()?;
        if bytes.len() < self.min_bytes {
            return Some(format!(
                "must be at least {} bytes (it has {}); generate one with `openssl rand -base64 48`",
                self.min_bytes,
                bytes.len()
            ));
        }
        if is_trivial(bytes) {
            return Some(
                "has trivially low entropy (few distinct bytes, a repeated unit or a run); \
                 generate one with `openssl rand -base64 48`"
                    .into(),
            );
        }
        None
    }

    /// Whether the secret is, or hides, a public development value.
    fn is_development_value(&self) -> bool {
        let decoded_public: Vec<u8> = STANDARD.decode(DEVELOPMENT_CRYPTO_KEY).unwrap_or_default();
        if self.bytes.as_deref() == Some(decoded_public.as_slice()) {
            return true;
        }
        let public = [
            DEVELOPMENT_HS256_SECRET.as_bytes(),
            DEVELOPMENT_CRYPTO_KEY.as_bytes(),
            decoded_public.as_slice(),
        ];
        let mut seen = vec![normalised(self.text.as_bytes())];
        if let Some(bytes) = &self.bytes {
            seen.push(normalised(bytes));
        }
        let squeezed: String = self.text.chars().filter(|c| !c.is_whitespace()).collect();
        seen.extend(base64_forms(&squeezed).map(|decoded| normalised(&decoded)));
        public.iter().any(|value| {
            let value = normalised(value);
            seen.iter().any(|seen| contains(seen, &value))
        })
    }
}

/// Fewer than [`MIN_DISTINCT_BYTES`] distinct bytes, one unit repeated (`abab…`), or most
/// steps between neighbours the same (`aaaa…`, `abcd…`, `0246…`).
fn is_trivial(bytes: &[u8]) -> bool {
    let mut distinct = [false; 256];
    bytes.iter().for_each(|&b| distinct[b as usize] = true);
    if distinct.iter().filter(|&&d| d).count() < MIN_DISTINCT_BYTES {
        return true;
    }
    let repeated =
        (1..=bytes.len() / 2).any(|unit| bytes.iter().skip(unit).zip(bytes).all(|(a, b)| a == b));
    if repeated {
        return true;
    }
    let steps: Vec<u8> = bytes.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let most_common = (0..=255u8)
        .map(|step| steps.iter().filter(|&&s| s == step).count())
        .max()
        .unwrap_or(0);
    most_common * 2 > steps.len()
}

/// `text` decoded as any of the usual base64 alphabets, padded or not.
fn base64_forms(text: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .into_iter()
        .filter_map(move |engine| engine.decode(text).ok())
}

/// Lower case, without white space, NULs or other control characters.
fn normalised(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && !b.is_ascii_control())
        .map(u8::to_ascii_lowercase)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_secrets_are_told_from_random_ones() {
        for trivial in [
            "a".repeat(32),
            " ".repeat(40),
            "abcdefghijklmnopqrstuvwxyz012345".to_owned(),
            "0123456789".repeat(4),
            "Secret12".repeat(5),
            "ab".repeat(20),
        ] {
            assert!(is_trivial(trivial.as_bytes()), "{trivial:?}");
        }
        for random in [
            "Zq3v9kX2pL7wR4tY8mN1bC6dF0gH5jS2",
            "6f9c0d1e2a3b4c5d6e7f8a9b0c1d2e3f",
            "mfa-totp-development-secret-do-not-use-in-production",
        ] {
            assert!(!is_trivial(random.as_bytes()), "{random:?}");
        }
    }
}
