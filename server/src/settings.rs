//! Configuration: built-in defaults, then an optional file (`--config` or
//! `MFA_TOTP_CONFIG`), then `MFA_TOTP__SECTION__KEY` environment variables. A wrong value
//! stops start-up with a message that names the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::TimeDelta;
use config::{Config, Environment, File};
use mfa_totp_domain::{
    ChallengePolicy, Limit, LimitKind, Limits, NumberType, OtpAlgorithm, PhonePolicy, TotpPolicy,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::serve::ConnectionLimits;
pub use crate::messages::{OperationTree, TemplateTree};

/// The public HS256 secret that `serve --dev` and `token --dev` use when none is configured.
/// A production start refuses it.
pub const DEVELOPMENT_HS256_SECRET: &str = "mfa-totp-development-secret-do-not-use-in-production";
/// The public secret-encryption key (base64 of 32 bytes) that `serve --dev` uses when none is
/// configured. A production start refuses it.
pub const DEVELOPMENT_CRYPTO_KEY: &str = "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtISEhISE=";
/// The key id of [`DEVELOPMENT_CRYPTO_KEY`].
pub const DEVELOPMENT_CRYPTO_KEY_ID: &str = "dev";
/// The shortest HS256 secret accepted: 256 bits, as RFC 7518 §3.2 asks.
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// The environment variables that configure the service start with this.
const ENV_PREFIX: &str = "MFA_TOTP__";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub sms: SmsSettings,
    pub auth: AuthSettings,
    pub challenge: ChallengeSettings,
    pub crypto: CryptoSettings,
    pub limits: LimitsSettings,
    pub purge: PurgeSettings,
    pub telemetry: TelemetrySettings,
}

/// Where spans go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// An OpenTelemetry collector's OTLP/HTTP base URL (`http://otel-collector:4318`):
    /// spans are exported to `<it>/v1/traces`. None: no export.
    pub otlp_endpoint: Option<String>,
}

/// How long rows are kept, and how the purge runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeSettings {
    /// Challenges (with contexts and send records) are deleted this long after they expired.
    pub challenge_retention_secs: u64,
    /// Audit events are deleted this long after they occurred.
    pub audit_retention_secs: u64,
    /// How often each instance purges; 0: never in the background (`mfa-totp purge` only).
    pub interval_secs: u64,
    /// Rows one statement deletes.
    pub batch_size: u32,
}

impl Default for PurgeSettings {
    fn default() -> Self {
        Self {
            challenge_retention_secs: 7 * 86_400,
            audit_retention_secs: 90 * 86_400,
            interval_secs: 3600,
            batch_size: 1000,
        }
    }
}

/// `limits.<name>.max` and `limits.<name>.window_secs`, one per [`LimitKind`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    pub user_wrong_codes: LimitSettings,
    pub user_challenges: LimitSettings,
    pub user_sms: LimitSettings,
    pub phone_sms: LimitSettings,
    pub global_sms: LimitSettings,
}

/// One limit: `max` per `window_secs`; `max = 0` turns it off. Either may be set alone
/// (`MFA_TOTP__LIMITS__PHONE_SMS__MAX=0`); the other keeps the limit's default.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    pub max: Option<u32>,
    pub window_secs: Option<u32>,
}

impl LimitSettings {
    pub fn new(max: u32, window_secs: u32) -> Self {
        Self {
            max: Some(max),
            window_secs: Some(window_secs),
        }
    }
}

impl LimitsSettings {
    pub fn get(&self, kind: LimitKind) -> LimitSettings {
        match kind {
            LimitKind::UserWrongCodes => self.user_wrong_codes,
            LimitKind::UserChallenges => self.user_challenges,
            LimitKind::UserSms => self.user_sms,
            LimitKind::PhoneSms => self.phone_sms,
            LimitKind::GlobalSms => self.global_sms,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub log_format: LogFormat,
    /// The request line and headers must arrive within this.
    pub header_read_timeout_secs: u64,
    /// The whole body must arrive within this, from the end of the headers.
    pub body_read_timeout_secs: u64,
    /// A keep-alive connection with no new request this long after a response is closed.
    pub idle_timeout_secs: u64,
    /// Connections beyond this wait in the listen backlog.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT, requests in flight get this long to finish.
    pub shutdown_grace_secs: u64,
    /// When set, `/metrics` is served on this port (same host) and not on `port`.
    pub admin_port: Option<u16>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            log_format: LogFormat::Pretty,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            shutdown_grace_secs: 10,
            admin_port: None,
        }
    }
}

impl ServerSettings {
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read: Duration::from_secs(self.header_read_timeout_secs),
            body_read: Duration::from_secs(self.body_read_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://mfa-totp.db?mode=rwc".into(),
            max_connections: 10,
            acquire_timeout_ms: 3000,
            migrate_on_start: true,
        }
    }
}

/// `sms.*`: one provider (`sms.provider`), or a failover chain (`sms.chain`), and each
/// provider's own keys; the messages' templates and what they show.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    /// Takes precedence over `provider`; tried in order. `twilio,vonage` in the environment,
    /// a list in TOML.
    #[serde(deserialize_with = "comma_list")]
    pub chain: Vec<SmsProvider>,
    pub twilio: mfa_totp_sms::TwilioConfig,
    pub vonage: mfa_totp_sms::VonageConfig,
    pub webhook: mfa_totp_sms::WebhookConfig,
    /// The locale of an SMS when neither the request nor the user directory names one.
    pub default_locale: String,
    /// `sms.templates.<locale>.default` and `sms.templates.<locale>.<operation>`.
    pub templates: BTreeMap<String, TemplateTree>,
    /// `sms.operations.<operation>.required_attributes`.
    pub operations: BTreeMap<String, OperationTree>,
    /// `{app}` in templates.
    pub app_name: String,
    /// Appends the WebOTP / iOS autofill line `@<domain> #<code>`.
    pub webotp_domain: Option<String>,
    /// Appends the Android SMS Retriever app hash (11 characters).
    pub android_app_hash: Option<String>,
    /// The longest attribute value an SMS shows.
    pub max_attribute_length: usize,
    /// ISO 3166-1 alpha-2 regions numbers may be in (`["GB", "DE"]`, or `GB,DE` in the
    /// environment); empty: any, except non-geographic numbers (`001`, which can be listed).
    #[serde(deserialize_with = "string_list")]
    pub allowed_countries: Vec<String>,
    /// The number types that may receive codes (`mobile`, `fixed_line_or_mobile`, ...).
    #[serde(deserialize_with = "string_list")]
    pub allowed_number_types: Vec<String>,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            provider: SmsProvider::default(),
            chain: Vec::new(),
            twilio: Default::default(),
            vonage: Default::default(),
            webhook: Default::default(),
            default_locale: "en".into(),
            templates: BTreeMap::new(),
            operations: BTreeMap::new(),
            app_name: "mfa-totp".into(),
            webotp_domain: None,
            android_app_hash: None,
            max_attribute_length: 40,
            allowed_countries: Vec::new(),
            allowed_number_types: PhonePolicy::DEFAULT_TYPES.map(String::from).to_vec(),
        }
    }
}

impl SmsSettings {
    /// The providers to try, in order.
    pub fn providers(&self) -> Vec<SmsProvider> {
        if self.chain.is_empty() {
            vec![self.provider]
        } else {
            self.chain.clone()
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Prints each SMS to stdout. A development tool.
    #[default]
    Console,
    Twilio,
    Vonage,
    Webhook,
}

impl SmsProvider {
    pub fn name(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
            Self::Webhook => "webhook",
        }
    }
}

/// A list of strings from TOML, or `a,b` from an environment variable.
pub(crate) fn string_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::List(names) => names,
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// SMS providers from a TOML list, or `a,b` from an environment variable.
fn comma_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SmsProvider>, D::Error> {
    use serde::de::{Error, IntoDeserializer};
    string_list(deserializer)?
        .into_iter()
        .map(|name| {
            SmsProvider::deserialize(name.as_str().into_deserializer())
                .map_err(|e: serde::de::value::Error| D::Error::custom(e))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub hs256_secret: Option<SecretString>,
    /// A PEM public key to check tokens with. Set one of `hs256_secret`, `public_key_pem`,
    /// `jwks_url`.
    pub public_key_pem: Option<String>,
    pub public_key_algorithm: PublicKeyAlgorithm,
    /// The identity provider's JWKS (RS256 and ES256 keys picked by `kid`); when set,
    /// tokens are checked with its keys.
    pub jwks_url: Option<String>,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_cache_secs: u64,
    /// The shortest time between two fetches of the JWKS (an unknown `kid` refetches it).
    pub jwks_min_refresh_secs: u64,
    pub issuer: String,
    pub audience: String,
    /// Tokens whose `exp` lies further ahead than this (from `iat`, or from now) are refused.
    pub max_token_lifetime_secs: u64,
    /// Lifetime of tokens minted by `mfa-totp token`.
    pub token_ttl_secs: u64,
    /// Per calling service (its token's `sub`): the operations it may create challenges for.
    pub clients: BTreeMap<String, ClientSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientSettings {
    /// A list in TOML, or `a,b` from an environment variable.
    #[serde(deserialize_with = "string_list")]
    pub operations: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            public_key_pem: None,
            public_key_algorithm: PublicKeyAlgorithm::Rs256,
            jwks_url: None,
            jwks_cache_secs: 300,
            jwks_min_refresh_secs: 10,
            max_token_lifetime_secs: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME_SECS,
            issuer: "mfa-totp".into(),
            audience: "mfa-totp".into(),
            token_ttl_secs: 3600,
            clients: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum PublicKeyAlgorithm {
    Rs256,
    Es256,
}

impl AuthSettings {
    /// Whether any way of checking tokens is configured.
    fn has_token_key(&self) -> bool {
        !self.token_keys().is_empty()
    }

    /// The token keys configured, by their key names.
    fn token_keys(&self) -> Vec<&'static str> {
        [
            ("auth.hs256_secret", self.hs256_secret.is_some()),
            ("auth.public_key_pem", self.public_key_pem.is_some()),
            ("auth.jwks_url", self.jwks_url.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeSettings {
    pub ttl_secs: u32,
    /// How long after verification the context may be consumed.
    pub consume_ttl_secs: u32,
    pub code_ttl_secs: u32,
    pub max_failed_attempts: u32,
    pub resend_cooldown_secs: u32,
    pub max_sends: u32,
    pub otp_digits: u8,
    pub otp_step_secs: u32,
    pub otp_algorithm: String,
}

impl Default for ChallengeSettings {
    fn default() -> Self {
        let policy = ChallengePolicy::default();
        Self {
            ttl_secs: policy.challenge_ttl.num_seconds() as u32,
            consume_ttl_secs: policy.consume_ttl.num_seconds() as u32,
            code_ttl_secs: policy.code_ttl.num_seconds() as u32,
            max_failed_attempts: policy.max_failed_attempts,
            resend_cooldown_secs: policy.resend_cooldown.num_seconds() as u32,
            max_sends: policy.max_sends,
            otp_digits: 6,
            otp_step_secs: 30,
            otp_algorithm: "SHA1".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoSettings {
    /// The key id that seals new secrets. Key ids are lower case.
    pub active_key_id: Option<String>,
    /// Key id → base64 of 32 random bytes.
    pub keys: BTreeMap<String, SecretString>,
}

impl Settings {
    /// Loads and validates the layers. `file` is the optional config file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let settings = Self::read(file)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The layers, deserialised but not yet validated.
    pub fn read(file: Option<&Path>) -> anyhow::Result<Self> {
        refuse_empty_environment_values(std::env::vars_os())?;
        let mut builder = Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            // No `try_parsing`: it would turn a secret such as `007` or `1e5` into a number
            // and back. Typed keys parse from the string when they are deserialised.
            Environment::with_prefix("MFA_TOTP")
                .prefix_separator("__")
                .separator("__"),
        );
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(settings)
    }

    /// Checks what serde cannot: ranges and relations between keys. Names every problem.
    pub fn validate(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{}", problems.join("\n"))
        }
    }

    /// Every problem of the configuration, one per group of keys.
    pub fn problems(&self) -> Vec<String> {
        [
            self.check_server_database_and_keys(),
            self.challenge_policy().map(drop),
            crate::sms::build_sender(&self.sms).map(drop),
            crate::messages::catalog(&self.sms).map(drop),
            self.totp_policy().map(drop),
            self.limits().map(drop),
            self.phone_policy().map(drop),
            self.retention_policy().map(drop),
        ]
        .into_iter()
        .filter_map(|checked| checked.err().map(|e| format!("{e:#}")))
        .collect()
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
        if let Some(secret) = &self.auth.hs256_secret
            && secret.expose_secret().len() < MIN_HS256_SECRET_BYTES
        {
            anyhow::bail!(
                "invalid configuration: auth.hs256_secret must be at least {MIN_HS256_SECRET_BYTES} bytes \
                 (it has {}); generate one with `openssl rand -base64 48`",
                secret.expose_secret().len()
            );
        }
        Ok(())
    }

    /// What stops a production start, one line per key: a missing or public development
    /// token key or encryption key, and console SMS.
    pub fn production_gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        let auth = &self.auth;
        if !auth.has_token_key() {
            gaps.push(
                "auth.hs256_secret, auth.public_key_pem or auth.jwks_url: no key to check bearer tokens with"
                    .to_owned(),
            );
        } else if auth
            .hs256_secret
            .as_ref()
            .is_some_and(|s| s.expose_secret() == DEVELOPMENT_HS256_SECRET)
        {
            gaps.push("auth.hs256_secret: this is the public development secret".to_owned());
        }
        if self.crypto.active_key_id.is_none() {
            gaps.push(
                "crypto.active_key_id and crypto.keys: no key to seal TOTP secrets with".to_owned(),
            );
        }
        if let Some((id, _)) = self
            .crypto
            .keys
            .iter()
            .find(|(_, key)| key.expose_secret() == DEVELOPMENT_CRYPTO_KEY)
        {
            gaps.push(format!(
                "crypto.keys.{id}: this is the public development key"
            ));
        }
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
        if self.sms.providers() == [SmsProvider::Console] {
            filled.push("sms.provider");
        }
        filled
    }

    /// The settings `serve` runs with: in production, every gap is refused in one message;
    /// in development the gaps are filled (and named in the returned list).
    pub fn for_mode(mut self, mode: Mode) -> anyhow::Result<(Self, Vec<&'static str>)> {
        match mode {
            Mode::Production => {
                let gaps = self.production_gaps();
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
                let filled = self.fill_development_defaults();
                Ok((self, filled))
            }
        }
    }

    /// The challenge limits, within the bounds the published spec states.
    pub fn challenge_policy(&self) -> anyhow::Result<ChallengePolicy> {
        let c = &self.challenge;
        let positive = [
            ("challenge.ttl_secs", c.ttl_secs),
            ("challenge.consume_ttl_secs", c.consume_ttl_secs),
            ("challenge.code_ttl_secs", c.code_ttl_secs),
            ("challenge.max_failed_attempts", c.max_failed_attempts),
            ("challenge.max_sends", c.max_sends),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            anyhow::bail!("invalid configuration: {key} must be at least 1");
        }
        let bounded = [
            ("challenge.ttl_secs", c.ttl_secs, MAX_WAIT_SECS),
            (
                "challenge.consume_ttl_secs",
                c.consume_ttl_secs,
                MAX_WAIT_SECS,
            ),
            (
                "challenge.resend_cooldown_secs",
                c.resend_cooldown_secs,
                MAX_WAIT_SECS,
            ),
            ("challenge.max_sends", c.max_sends, MAX_SENDS),
            (
                "challenge.max_failed_attempts",
                c.max_failed_attempts,
                MAX_FAILED_ATTEMPTS,
            ),
        ];
        if let Some((key, _, max)) = bounded.iter().find(|(_, v, max)| v > max) {
            anyhow::bail!("invalid configuration: {key} must be at most {max}");
        }
        if c.code_ttl_secs > c.ttl_secs {
            anyhow::bail!(
                "invalid configuration: challenge.code_ttl_secs must not exceed challenge.ttl_secs"
            );
        }
        Ok(ChallengePolicy {
            challenge_ttl: TimeDelta::seconds(c.ttl_secs.into()),
            consume_ttl: TimeDelta::seconds(c.consume_ttl_secs.into()),
            code_ttl: TimeDelta::seconds(c.code_ttl_secs.into()),
            max_failed_attempts: c.max_failed_attempts,
            resend_cooldown: TimeDelta::seconds(c.resend_cooldown_secs.into()),
            max_sends: c.max_sends,
        })
    }

    /// The retention the purge applies.
    pub fn retention_policy(&self) -> anyhow::Result<mfa_totp_application::purge::RetentionPolicy> {
        let p = &self.purge;
        if p.batch_size == 0 || p.batch_size > 100_000 {
            anyhow::bail!("invalid configuration: purge.batch_size must be 1 to 100000");
        }
        let days = |secs: u64, key: &str| {
            i64::try_from(secs)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .ok_or_else(|| anyhow::anyhow!("invalid configuration: {key} is too large"))
        };
        Ok(mfa_totp_application::purge::RetentionPolicy {
            challenges: days(p.challenge_retention_secs, "purge.challenge_retention_secs")?,
            audit_events: days(p.audit_retention_secs, "purge.audit_retention_secs")?,
            longest_window: TimeDelta::seconds(MAX_WAIT_SECS.into()),
            batch_size: p.batch_size,
        })
    }

    /// The limits across challenges; each window is 1 s to a day, so `Retry-After` stays
    /// within the published bound.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        for kind in LimitKind::ALL {
            let default = Limits::default().get(kind);
            let LimitSettings { max, window_secs } = self.limits.get(kind);
            let max = max.unwrap_or(default.max);
            let window_secs = window_secs.unwrap_or(default.window.num_seconds() as u32);
            if !(1..=MAX_WAIT_SECS).contains(&window_secs) {
                anyhow::bail!(
                    "invalid configuration: limits.{kind}.window_secs must be 1 to {MAX_WAIT_SECS}"
                );
            }
            *limits.get_mut(kind) = Limit::new(max, window_secs);
        }
        Ok(limits)
    }

    /// Which numbers may receive codes: `sms.allowed_number_types` and
    /// `sms.allowed_countries`.
    pub fn phone_policy(&self) -> anyhow::Result<PhonePolicy> {
        let sms = &self.sms;
        let types = sms
            .allowed_number_types
            .iter()
            .map(|name| {
                NumberType::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = NumberType::ALL.iter().map(|t| t.as_str()).collect();
                    anyhow::anyhow!(
                        "invalid configuration: sms.allowed_number_types: unknown type '{name}' (known: {})",
                        known.join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if types.is_empty() {
            anyhow::bail!(
                "invalid configuration: sms.allowed_number_types must name at least one type"
            );
        }
        if let Some(bad) = sms
            .allowed_countries
            .iter()
            .find(|c| !PhonePolicy::is_known_country(&c.to_ascii_uppercase()))
        {
            anyhow::bail!(
                "invalid configuration: sms.allowed_countries: '{bad}' is not an ISO 3166-1 alpha-2 region (or 001)"
            );
        }
        let countries = (!sms.allowed_countries.is_empty()).then(|| sms.allowed_countries.clone());
        Ok(PhonePolicy::new(types, countries))
    }

    pub fn totp_policy(&self) -> anyhow::Result<TotpPolicy> {
        let c = &self.challenge;
        let algorithm: OtpAlgorithm = c
            .otp_algorithm
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid configuration: challenge.otp_algorithm: {e}"))?;
        TotpPolicy::new(c.otp_digits, c.otp_step_secs.into(), algorithm).map_err(|e| {
            anyhow::anyhow!("invalid configuration: challenge.otp_digits/otp_step_secs: {e}")
        })
    }
}

/// Production (the default) refuses development keys and console SMS; development
/// (`serve --dev`) fills them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Production,
    Development,
}

/// An empty `MFA_TOTP__…` variable is an error naming it: it must never count as a
/// configured value (an empty secret would sign tokens anyone can forge).
fn refuse_empty_environment_values(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> anyhow::Result<()> {
    let empty: Vec<String> = vars
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(ENV_PREFIX))
        .map(|name| {
            let key = name[ENV_PREFIX.len()..].replace("__", ".").to_lowercase();
            format!("{name} ({key})")
        })
        .collect();
    if empty.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "invalid configuration: {} set but empty; give it a value or unset it",
            empty.join(", ")
        )
    }
}

/// The longest a challenge lives, and the longest cooldown: one day. Every `Retry-After` the
/// service sends is at most this, and the spec says so.
pub const MAX_WAIT_SECS: u32 = 86_400;
/// The most SMS one challenge may send; the spec's bound on `sendsRemaining`.
pub const MAX_SENDS: u32 = 100;
/// The most wrong codes one challenge may take before it locks.
pub const MAX_FAILED_ATTEMPTS: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_design() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.challenge_policy().unwrap(), ChallengePolicy::default());
        assert_eq!(s.database.url, "sqlite://mfa-totp.db?mode=rwc");
    }

    #[test]
    fn validation_names_the_key_at_fault() {
        let mut s = Settings::default();
        s.challenge.code_ttl_secs = 900;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("challenge.code_ttl_secs")
        );
        let mut s = Settings::default();
        s.challenge.otp_digits = 4;
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("challenge.otp_digits")
        );
        let mut s = Settings::default();
        s.crypto.active_key_id = Some("k9".into());
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("crypto.active_key_id")
        );
    }

    #[test]
    fn limits_beyond_what_the_spec_states_are_refused() {
        type Change = fn(&mut ChallengeSettings);
        let cases: [(&str, Change); 3] = [
            ("challenge.ttl_secs", |c| c.ttl_secs = MAX_WAIT_SECS + 1),
            ("challenge.resend_cooldown_secs", |c| {
                c.resend_cooldown_secs = MAX_WAIT_SECS + 1
            }),
            ("challenge.max_sends", |c| c.max_sends = MAX_SENDS + 1),
        ];
        for (key, change) in cases {
            let mut s = Settings::default();
            change(&mut s.challenge);
            let error = s.validate().unwrap_err().to_string();
            assert!(error.contains(key) && error.contains("at most"), "{error}");
        }
    }

    #[test]
    fn an_sms_chain_comes_from_a_toml_list_and_the_provider_keys_are_read() {
        let s = load_toml(
            "[sms]\nchain = [\"twilio\", \"vonage\"]\n\
             [sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\n\
             [sms.vonage]\napi_key = \"k\"\napi_secret = \"s\"\nfrom = \"MFA\"\n",
        )
        .unwrap();
        assert_eq!(
            s.sms.providers(),
            [SmsProvider::Twilio, SmsProvider::Vonage]
        );
        assert_eq!(s.sms.twilio.account_sid.as_deref(), Some("AC1"));
    }

    #[test]
    fn an_sms_chain_comes_from_a_comma_list_in_the_environment() {
        let chain: SmsSettings = serde_json::from_value(serde_json::json!({
            "chain": "webhook, console",
        }))
        .unwrap();
        assert_eq!(
            chain.providers(),
            [SmsProvider::Webhook, SmsProvider::Console]
        );
        let wrong =
            serde_json::from_value::<SmsSettings>(serde_json::json!({"chain": "twilio,sinch"}));
        assert!(wrong.unwrap_err().to_string().contains("sinch"));
    }

    #[test]
    fn a_chosen_sms_provider_without_its_keys_stops_start_up_naming_the_key() {
        let error =
            load_toml("[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("sms.twilio.auth_token"), "{error}");
        let error = load_toml("[sms]\nchain = [\"vonage\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sms.vonage.api_key"), "{error}");
    }

    fn load_toml(text: &str) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa-totp.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(&path))
    }

    #[test]
    fn limits_and_phone_rules_come_from_the_config_and_bad_values_name_their_key() {
        let s = load_toml(
            "[limits.phone_sms]\nmax = 0\nwindow_secs = 60\n\
             [limits.global_sms]\nmax = 100\nwindow_secs = 10\n\
             [sms]\nallowed_countries = [\"GB\", \"de\"]\n\
             allowed_number_types = [\"mobile\"]\n",
        )
        .unwrap();
        let limits = s.limits().unwrap();
        assert_eq!(limits.phone_sms.max, 0, "off");
        assert_eq!(limits.global_sms, Limit::new(100, 10));
        assert_eq!(
            limits.user_sms,
            Limit::new(10, 3600),
            "untouched: the default"
        );
        let phones = s.phone_policy().unwrap();
        let de = mfa_totp_domain::PhoneNumber::parse("+4915123456789").unwrap();
        let us = mfa_totp_domain::PhoneNumber::parse("+12015550123").unwrap();
        assert_eq!(phones.check(&de), Ok(()));
        assert!(phones.check(&us).is_err(), "neither listed nor mobile");

        // A wrong value stops loading, naming its key.
        let error = load_toml("[limits.user_sms]\nmax = 3\nwindow_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.user_sms.window_secs"), "{error}");
        let half = load_toml("[limits.user_sms]\nmax = 3\n").unwrap();
        assert_eq!(half.limits().unwrap().user_sms, Limit::new(3, 3600));
        let error = load_toml("[sms]\nallowed_number_types = [\"mobiel\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sms.allowed_number_types") && error.contains("mobiel"));
        let error = load_toml("[sms]\nallowed_countries = \"GB,XX\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sms.allowed_countries") && error.contains("XX"));
    }

    #[test]
    fn one_token_key_at_a_time() {
        let error = load_toml(
            "[auth]\nhs256_secret = \"a-configured-secret-of-at-least-32-bytes\"\n\
             jwks_url = \"https://idp.example/jwks\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("auth.hs256_secret, auth.jwks_url are all set"),
            "{error}"
        );
    }

    #[test]
    fn a_config_file_overrides_the_defaults() {
        let s = load_toml("[challenge]\nmax_sends = 2\n[database]\nurl = \"sqlite::memory:\"\n")
            .unwrap();
        assert_eq!(s.challenge.max_sends, 2);
        assert_eq!(s.database.url, "sqlite::memory:");
        assert_eq!(
            s.challenge.max_failed_attempts, 5,
            "untouched keys keep their defaults"
        );
    }

    #[test]
    fn a_config_file_with_a_wrong_value_or_unknown_key_names_it() {
        let wrong = load_toml("[server]\nport = \"eighty\"\n")
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("server.port"), "{wrong}");
        let unknown = load_toml("[challenge]\nmax_sendz = 2\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("max_sendz"), "{unknown}");
    }
}
