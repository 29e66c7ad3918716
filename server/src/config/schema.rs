//! The configuration's schema: every key, its type and its default, as serde reads the
//! layers. What the values must satisfy is checked in `validate`; what they mean to the
//! domain is built in `policies`.

use std::collections::BTreeMap;

use mfa_totp_domain::{AssertionPolicy, ChallengePolicy, PhonePolicy};
use secrecy::SecretString;
use serde::Deserialize;

/// An enum read from its names: a wrong name is answered with the valid ones
/// (`'twillio' is not one of console, twilio, vonage, webhook`), not a Rust type's name.
macro_rules! one_of {
    ($enum:ident { $($name:literal => $variant:ident),+ $(,)? }) => {
        impl TryFrom<String> for $enum {
            type Error = String;

            fn try_from(name: String) -> Result<Self, String> {
                match name.as_str() {
                    $($name => Ok(Self::$variant),)+
                    _ => Err(format!(
                        "'{name}' is not one of {}",
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub sms: SmsSettings,
    pub auth: AuthSettings,
    pub challenge: ChallengeSettings,
    pub crypto: CryptoSettings,
    pub assertion: AssertionSettings,
    /// `limits.<name>.max` and `limits.<name>.window_secs`, by the limit's name
    /// (`user_sms`, `phone_sms`, ...); a limit not named keeps its default.
    pub limits: BTreeMap<String, LimitSettings>,
    pub purge: PurgeSettings,
    pub telemetry: TelemetrySettings,
    pub events: EventsSettings,
}

/// `events.*`: events pushed to the operation services that created the challenges.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// `events.subscribers.<sub>`, by the `sub` of the operation service's tokens.
    pub subscribers: BTreeMap<String, SubscriberSettings>,
    /// Attempts before an event is given up (audited as `EVENT_UNDELIVERED`).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each, up to
    /// `backoff_max_ms`, and each wait is drawn between half of it and all of it.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Each attempt's limit, connect included. A claim holds an event for twice this.
    pub timeout_ms: u64,
    /// How often each instance looks for events due (and for challenges to expire).
    pub poll_interval_ms: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        let policy = mfa_totp_application::events::DeliveryPolicy::default();
        Self {
            subscribers: BTreeMap::new(),
            max_attempts: policy.max_attempts,
            backoff_base_ms: policy.backoff_base.as_millis() as u64,
            backoff_max_ms: policy.backoff_max.as_millis() as u64,
            timeout_ms: policy.attempt_timeout.as_millis() as u64,
            poll_interval_ms: 500,
        }
    }
}

/// One operation service's subscription.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriberSettings {
    /// Where its events are `POST`ed: `https`, or plain `http` on loopback.
    pub url: Option<String>,
    /// `whsec_` and the base64 of 24 to 64 random bytes (Standard Webhooks).
    pub secret: Option<SecretString>,
    /// The event types it receives; empty: all of them.
    pub events: Vec<String>,
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
    /// The most a request's line and headers may take; a longer head is answered 431 and
    /// the connection closed. It bounds each connection's read buffer.
    pub max_header_bytes: usize,
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
            max_header_bytes: 16 * 1024,
            shutdown_grace_secs: 10,
            admin_port: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum LogFormat {
    Pretty,
    Json,
}

one_of!(LogFormat {
    "pretty" => Pretty,
    "json" => Json,
});

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
    /// The most segments a challenge's SMS may take, its attributes filled in (1-10).
    pub max_segments: u32,
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
            max_segments: 3,
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
#[serde(try_from = "String")]
pub enum SmsProvider {
    /// Prints each SMS to stdout. A development tool.
    #[default]
    Console,
    Twilio,
    Vonage,
    Webhook,
}

one_of!(SmsProvider {
    "console" => Console,
    "twilio" => Twilio,
    "vonage" => Vonage,
    "webhook" => Webhook,
});

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
pub(super) fn string_list<'de, D: serde::Deserializer<'de>>(
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
    /// The shortest time between two fetches of the JWKS, whether they succeed or fail (an
    /// unknown `kid` refetches it, at most this often).
    pub jwks_min_refresh_secs: u64,
    /// Readiness fails when the JWKS has not been fetched successfully for this long.
    pub jwks_max_stale_secs: u64,
    /// The clock skew allowed on `exp`, `nbf` and the token's lifetime.
    pub leeway_secs: u64,
    /// The claims that grant scopes: a space-separated string or an array each. Add `roles`
    /// for Entra ID application tokens. A list in TOML, or `a,b` from the environment.
    #[serde(deserialize_with = "string_list")]
    pub scope_claims: Vec<String>,
    /// Longer bearer tokens are refused before they are parsed.
    pub max_token_bytes: usize,
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
            jwks_max_stale_secs: 86_400,
            leeway_secs: 30,
            scope_claims: vec!["scope".into(), "scp".into()],
            max_token_bytes: 8192,
            max_token_lifetime_secs: 86_400,
            issuer: "mfa-totp".into(),
            audience: "mfa-totp".into(),
            token_ttl_secs: 3600,
            clients: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum PublicKeyAlgorithm {
    Rs256,
    Es256,
}

one_of!(PublicKeyAlgorithm {
    "RS256" => Rs256,
    "ES256" => Es256,
});

impl AuthSettings {
    /// Whether any way of checking tokens is configured.
    pub(super) fn has_token_key(&self) -> bool {
        !self.token_keys().is_empty()
    }

    /// The token keys configured, by their key names.
    pub(super) fn token_keys(&self) -> Vec<&'static str> {
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

/// `assertion.*`: the signed step-up assertion that `:verify` and `:consume` return.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssertionSettings {
    /// `iss`.
    pub issuer: String,
    /// From `auth_time` to `exp`: at least `challenge.consume_ttl_secs` (so that `:consume`
    /// hands on a live assertion), at most an hour.
    pub ttl_secs: u32,
    /// `acr` of an operation that `acr_by_operation` does not name.
    pub acr: String,
    /// `assertion.acr_by_operation.<operation>`: `acr` by exact operation name.
    pub acr_by_operation: BTreeMap<String, TemplateTree>,
    /// The key id that signs new assertions. Key ids are lower case.
    pub active_key_id: Option<String>,
    /// Key id → private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`): EC P-256 (ES256)
    /// or Ed25519 (EdDSA). Every key is published at `/.well-known/jwks.json`.
    pub keys: BTreeMap<String, SecretString>,
}

impl Default for AssertionSettings {
    fn default() -> Self {
        let policy = AssertionPolicy::default();
        Self {
            issuer: policy.issuer,
            ttl_secs: AssertionPolicy::DEFAULT_TTL_SECS,
            acr: policy.acr,
            acr_by_operation: BTreeMap::new(),
            active_key_id: None,
            keys: BTreeMap::new(),
        }
    }
}

/// A template (or an `acr`), or the next level of an operation's dotted name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TemplateTree {
    Text(String),
    Tree(BTreeMap<String, TemplateTree>),
}

/// An operation's settings, or the next level of its dotted name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OperationTree {
    Operation(OperationSettings),
    Tree(BTreeMap<String, OperationTree>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSettings {
    /// The context attributes the operation's SMS shows, and its creation requires.
    #[serde(deserialize_with = "string_list")]
    pub required_attributes: Vec<String>,
    /// What each of them may hold: `amount`, `currency`, `name` or `text` (the default: an
    /// amount, a currency code or a name).
    #[serde(default)]
    pub attribute_kinds: BTreeMap<String, String>,
}
