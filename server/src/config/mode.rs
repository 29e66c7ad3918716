//! Production versus development: production (the default) refuses missing or public
//! development keys and console SMS; development (`serve --dev`) fills them in.

use super::schema::{Settings, SmsProvider};
use super::validate::Config;

/// The public HS256 secret that `serve --dev` and `token --dev` use when none is configured.
/// A production start refuses it.
pub const DEVELOPMENT_HS256_SECRET: &str = "mfa-totp-development-secret-do-not-use-in-production";
/// The public secret-encryption key (base64 of 32 bytes) that `serve --dev` uses when none is
/// configured. A production start refuses it.
pub const DEVELOPMENT_CRYPTO_KEY: &str = "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtISEhISE=";
/// The key id of [`DEVELOPMENT_CRYPTO_KEY`].
pub const DEVELOPMENT_CRYPTO_KEY_ID: &str = "dev";

/// The public assertion-signing key (EC P-256, PKCS#8) that `serve --dev` uses when none is
/// configured. A production start refuses it, and any key with its public half.
pub const DEVELOPMENT_ASSERTION_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgR6lOpMd/LmI+P05S
tBDp90XM3yaoZPZKw1NqRZywrzqhRANCAAQK7XKeezWiwQCgkCsjxOSIr0tBNY32
9idXJRoQYHaIDO/bAMXIXLYsaj+RBqm1Vfp+uwSCTm/cojiIta/fgZi0
-----END PRIVATE KEY-----
";
/// The key id of [`DEVELOPMENT_ASSERTION_KEY`].
pub const DEVELOPMENT_ASSERTION_KEY_ID: &str = "dev";

/// Production (the default) refuses development keys and console SMS; development
/// (`serve --dev`) fills them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Production,
    Development,
}

impl Settings {
    /// What stops a production start, one line per key: a missing or public development
    /// token key, encryption key or assertion key, and console SMS.
    pub fn production_gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        let auth = &self.auth;
        if !auth.has_token_key() {
            gaps.push(
                "auth.hs256_secret, auth.public_key_pem or auth.jwks_url: no key to check bearer tokens with"
                    .to_owned(),
            );
        }
        if self.crypto.active_key_id.is_none() {
            gaps.push(
                "crypto.active_key_id and crypto.keys: no key to seal TOTP secrets with".to_owned(),
            );
        }
        if self.assertion.active_key_id.is_none() {
            gaps.push(
                "assertion.active_key_id and assertion.keys: no key to sign step-up assertions with"
                    .to_owned(),
            );
        }
        gaps.extend(self.development_secrets());
        if self.sms.providers().contains(&SmsProvider::Console) {
            gaps.push(
                "sms.provider (or sms.chain): console prints codes to stdout; configure twilio, vonage or webhook"
                    .to_owned(),
            );
        }
        gaps
    }

    /// Fills in what is not configured with the public development keys and console SMS
    /// (`serve --dev`); what is configured stays. Returns the keys it filled in.
    pub fn fill_development_defaults(&mut self) -> Vec<&'static str> {
        let mut filled = Vec::new();
        if !self.auth.has_token_key() {
            self.auth.hs256_secret = Some(DEVELOPMENT_HS256_SECRET.into());
            filled.push("auth.hs256_secret");
        }
        if self.crypto.active_key_id.is_none() {
            self.crypto.active_key_id = Some(DEVELOPMENT_CRYPTO_KEY_ID.into());
            self.crypto.keys.insert(
                DEVELOPMENT_CRYPTO_KEY_ID.into(),
                DEVELOPMENT_CRYPTO_KEY.into(),
            );
            filled.push("crypto.keys");
        }
        if self.assertion.active_key_id.is_none() {
            self.assertion.active_key_id = Some(DEVELOPMENT_ASSERTION_KEY_ID.into());
            self.assertion.keys.insert(
                DEVELOPMENT_ASSERTION_KEY_ID.into(),
                DEVELOPMENT_ASSERTION_KEY.into(),
            );
            filled.push("assertion.keys");
        }
        if self.sms.providers() == [SmsProvider::Console] {
            filled.push("sms.provider");
        }
        filled
    }
}

impl Config {
    /// The configuration `serve` runs with: in production, every gap is refused in one
    /// message; in development the gaps are filled (and named in the returned list).
    pub fn for_mode(mut self, mode: Mode) -> anyhow::Result<(Self, Vec<&'static str>)> {
        match mode {
            Mode::Production => {
                let gaps = self.settings.production_gaps();
                if !gaps.is_empty() {
                    anyhow::bail!(
                        "refusing to start in production mode:\n  - {}\n\
                         Configure these keys (see SECURITY.md), or run `mfa-totp serve --dev` \
                         for local development with public keys and console SMS.",
                        gaps.join("\n  - ")
                    );
                }
                Ok((self, Vec::new()))
            }
            Mode::Development => {
                let filled = self.settings.fill_development_defaults();
                self.development = true;
                Ok((self, filled))
            }
        }
    }
}
