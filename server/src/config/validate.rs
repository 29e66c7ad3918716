//! Validation: what serde cannot check, ranges and relations between keys, and that each
//! chosen SMS provider has its keys. It checks values; it builds no adapter. Every problem
//! is named at once, each with its key.

use std::path::Path;

use secrecy::ExposeSecret;

use super::policies::Policies;
use super::schema::{Settings, SmsProvider, SmsSettings};

/// The bounds of `server.max_header_bytes`: hyper's smallest read buffer, and 1 MiB.
const MIN_HEADER_BYTES: usize = 8192;
const MAX_HEADER_BYTES: usize = 1 << 20;

/// A validated configuration: the settings, and the policies they describe.
#[derive(Debug)]
pub struct Config {
    pub settings: Settings,
    pub policies: Policies,
    /// `serve --dev` (`Config::for_mode`): what only development serves (the inbox) is on.
    pub development: bool,
}

impl Config {
    /// Reads and validates the layers. `file` is the optional config file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let read = Settings::read_all(file);
        let problems = read.all_problems();
        match read.settings {
            Some(settings) if problems.is_empty() => Self::new(settings),
            _ => anyhow::bail!("{}", problems.join("\n")),
        }
    }

    /// Validates `settings`: every problem is named at once.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let policies = settings.validated()?;
        Ok(Self {
            settings,
            policies,
            development: false,
        })
    }
}

impl Settings {
    /// The policies the settings describe, or every problem of the configuration at once.
    pub(super) fn validated(&self) -> anyhow::Result<Policies> {
        let mut problems = self.problems_of_values();
        match Policies::of(self) {
            Ok(policies) if problems.is_empty() => return Ok(policies),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
        anyhow::bail!("{}", problems.join("\n"))
    }

    /// Every problem of the configuration, one per group of keys.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.problems_of_values();
        problems.extend(Policies::of(self).err().unwrap_or_default());
        problems
    }

    /// The problems no policy reports: the server, the database, the keys and the SMS
    /// providers' keys.
    fn problems_of_values(&self) -> Vec<String> {
        let mut problems = self.weak_secrets();
        problems.extend(self.check_urls());
        problems.extend(
            [
                self.check_server_database_and_keys(),
                self.check_crypto_keys(),
                self.check_assertion_keys(),
                check_sms_keys(&self.sms),
            ]
            .into_iter()
            .filter_map(|checked| checked.err().map(|e| format!("{e:#}"))),
        );
        problems
    }

    fn check_server_database_and_keys(&self) -> anyhow::Result<()> {
        let server = &self.server;
        let at_least_one = [
            (
                "server.header_read_timeout_secs",
                server.header_read_timeout_secs,
            ),
            (
                "server.body_read_timeout_secs",
                server.body_read_timeout_secs,
            ),
            ("server.idle_timeout_secs", server.idle_timeout_secs),
            ("server.max_connections", server.max_connections as u64),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            anyhow::bail!("invalid configuration: {key} must be at least 1");
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&server.max_header_bytes) {
            anyhow::bail!(
                "invalid configuration: server.max_header_bytes must be {MIN_HEADER_BYTES} to {MAX_HEADER_BYTES}"
            );
        }
        let auth = &self.auth;
        if auth.max_token_bytes < 512 || auth.max_token_bytes + 1024 > server.max_header_bytes {
            anyhow::bail!(
                "invalid configuration: auth.max_token_bytes must be 512 to server.max_header_bytes - 1024 ({})",
                server.max_header_bytes.saturating_sub(1024)
            );
        }
        if auth.leeway_secs > 300 {
            anyhow::bail!("invalid configuration: auth.leeway_secs must be at most 300");
        }
        if auth.scope_claims.is_empty() {
            anyhow::bail!("invalid configuration: auth.scope_claims must name at least one claim");
        }
        if self.database.max_connections == 0 {
            anyhow::bail!("invalid configuration: database.max_connections must be at least 1");
        }
        if let Some(active) = &self.crypto.active_key_id
            && !self.crypto.keys.contains_key(active)
        {
            anyhow::bail!(
                "invalid configuration: crypto.active_key_id '{active}' is not among crypto.keys"
            );
        }
        if self.crypto.active_key_id.is_none() && !self.crypto.keys.is_empty() {
            anyhow::bail!(
                "invalid configuration: crypto.active_key_id is required when crypto.keys are set"
            );
        }
        let token_keys = self.auth.token_keys();
        if token_keys.len() > 1 {
            anyhow::bail!(
                "invalid configuration: {} are all set; tokens are checked with one of them",
                token_keys.join(", ")
            );
        }
        if self.auth.max_token_lifetime_secs == 0 {
            anyhow::bail!("invalid configuration: auth.max_token_lifetime_secs must be at least 1");
        }
        Ok(())
    }
}

impl Settings {
    /// Each of `crypto.keys` is base64 of 32 bytes, under a lower-case key id.
    fn check_crypto_keys(&self) -> anyhow::Result<()> {
        // An active key id outside `crypto.keys` is reported with the other keys.
        let Some(active) = (self.crypto.active_key_id.as_ref())
            .filter(|active| self.crypto.keys.contains_key(*active))
        else {
            return Ok(());
        };
        mfa_totp_crypto::check_base64_keys(
            self.crypto
                .keys
                .iter()
                .map(|(id, key)| (id.as_str(), key.expose_secret())),
            active,
        )
        .map_err(|e| anyhow::anyhow!("invalid configuration: crypto.keys: {e}"))
    }
}

impl Settings {
    /// Each of `assertion.keys` is a PKCS#8 PEM private key that signs (EC P-256 or
    /// Ed25519), under a key id; `assertion.active_key_id` names one of them.
    fn check_assertion_keys(&self) -> anyhow::Result<()> {
        let a = &self.assertion;
        if a.keys.len() > mfa_totp_crypto::MAX_ASSERTION_KEYS {
            anyhow::bail!(
                "invalid configuration: assertion.keys: {} keys; at most {} (the JWKS publishes every one)",
                a.keys.len(),
                mfa_totp_crypto::MAX_ASSERTION_KEYS
            );
        }
        for (kid, pem) in &a.keys {
            mfa_totp_crypto::public_key_of(kid, pem.expose_secret())
                .map_err(|e| anyhow::anyhow!("invalid configuration: assertion.keys.{kid}: {e}"))?;
        }
        match &a.active_key_id {
            Some(active) if !a.keys.contains_key(active) => anyhow::bail!(
                "invalid configuration: assertion.active_key_id '{active}' is not among assertion.keys"
            ),
            None if !a.keys.is_empty() => anyhow::bail!(
                "invalid configuration: assertion.active_key_id is required when assertion.keys are set"
            ),
            _ => Ok(()),
        }
    }
}

/// Each provider of `sms.provider` / `sms.chain` has the keys it needs.
fn check_sms_keys(sms: &SmsSettings) -> anyhow::Result<()> {
    for provider in sms.providers() {
        let checked = match provider {
            SmsProvider::Console => Ok(()),
            SmsProvider::Twilio => sms.twilio.check(),
            SmsProvider::Vonage => sms.vonage.check(),
            SmsProvider::Webhook => sms.webhook.check(),
        };
        if let Err(key) = checked {
            anyhow::bail!(
                "invalid configuration: {key} is required for the {} SMS provider",
                provider.name()
            );
        }
    }
    Ok(())
}
