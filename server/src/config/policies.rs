//! What the configuration means to the domain and the use cases: each section translated
//! into the policy that applies it, once, by the one function that also reports its
//! problems. Bounds the published spec states (`ChallengePolicy::MAX_WAIT_SECS`, ...) are the
//! domain's.

use std::sync::Arc;

use chrono::TimeDelta;
use mfa_totp_application::ClientOperations;
use mfa_totp_application::events::{DeliveryPolicy, Subscriptions};
use mfa_totp_application::purge::RetentionPolicy;
use mfa_totp_domain::{
    AssertionPolicy, ChallengePolicy, ClientId, EventType, Limit, LimitKind, Limits,
    MessageCatalog, NumberType, Operation, OtpAlgorithm, PhonePolicy, TotpPolicy,
};

use super::schema::{LimitSettings, Settings};

/// Every rule the configuration sets, as the domain and the use cases take them.
#[derive(Debug)]
pub struct Policies {
    pub challenge: ChallengePolicy,
    pub totp: TotpPolicy,
    pub limits: Limits,
    pub phones: PhonePolicy,
    pub retention: RetentionPolicy,
    /// The SMS templates, and the attributes each operation's SMS shows.
    pub messages: Arc<MessageCatalog>,
    /// `auth.clients`: which operations each client may create challenges for.
    pub clients: ClientOperations,
    /// `assertion.*` besides the keys: `iss`, `acr`, the lifetime.
    pub assertion: AssertionPolicy,
    /// `events.subscribers.<sub>.events`: who receives which events.
    pub subscriptions: Subscriptions,
    /// `events.*`: attempts, backoff, lease.
    pub delivery: DeliveryPolicy,
}

impl Policies {
    /// The policies `settings` describe, or every problem found on the way, one per section
    /// (each names its key).
    pub fn of(settings: &Settings) -> Result<Self, Vec<String>> {
        let challenge = settings.challenge_policy();
        let totp = settings.totp_policy();
        let limits = settings.limit_policy();
        let phones = settings.phone_policy();
        let retention = settings.retention_policy();
        let messages = super::messages::catalog(&settings.sms);
        let assertion = settings.assertion_policy();
        let events = settings.events_policy();
        match (
            challenge, totp, limits, phones, retention, messages, assertion, events,
        ) {
            (
                Ok(challenge),
                Ok(totp),
                Ok(limits),
                Ok(phones),
                Ok(retention),
                Ok(messages),
                Ok(assertion),
                Ok((subscriptions, delivery)),
            ) => Ok(Self {
                challenge,
                totp,
                limits,
                phones,
                retention,
                messages: Arc::new(messages),
                clients: settings.client_operations(),
                assertion,
                subscriptions,
                delivery,
            }),
            (challenge, totp, limits, phones, retention, messages, assertion, events) => Err([
                challenge.err(),
                totp.err(),
                limits.err(),
                phones.err(),
                retention.err(),
                messages.err(),
                assertion.err(),
                events.err(),
            ]
            .into_iter()
            .flatten()
            .map(|e| format!("{e:#}"))
            .collect()),
        }
    }
}

impl Settings {
    fn client_operations(&self) -> ClientOperations {
        ClientOperations::new(
            self.auth
                .clients
                .iter()
                .map(|(sub, client)| (sub.clone(), client.operations.clone()))
                .collect(),
        )
    }

    /// The challenge limits, within the bounds the published spec states.
    pub(super) fn challenge_policy(&self) -> anyhow::Result<ChallengePolicy> {
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
            (
                "challenge.ttl_secs",
                c.ttl_secs,
                ChallengePolicy::MAX_WAIT_SECS,
            ),
            (
                "challenge.consume_ttl_secs",
                c.consume_ttl_secs,
                ChallengePolicy::MAX_WAIT_SECS,
            ),
            (
                "challenge.resend_cooldown_secs",
                c.resend_cooldown_secs,
                ChallengePolicy::MAX_WAIT_SECS,
            ),
            (
                "challenge.max_sends",
                c.max_sends,
                ChallengePolicy::MAX_SENDS,
            ),
            (
                "challenge.max_failed_attempts",
                c.max_failed_attempts,
                ChallengePolicy::MAX_FAILED_ATTEMPTS,
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

    /// `assertion.*` besides the keys. `iss` and every `acr` are 1 to 256 characters with
    /// no control characters or surrounding white space; the lifetime covers
    /// `challenge.consume_ttl_secs`, so that `:consume` never hands on an expired assertion.
    pub(super) fn events_policy(&self) -> anyhow::Result<(Subscriptions, DeliveryPolicy)> {
        let e = &self.events;
        let bounded = [
            ("events.max_attempts", u64::from(e.max_attempts), 1, 100),
            ("events.backoff_base_ms", e.backoff_base_ms, 1, 3_600_000),
            ("events.backoff_max_ms", e.backoff_max_ms, 1, 86_400_000),
            ("events.timeout_ms", e.timeout_ms, 100, 60_000),
            ("events.poll_interval_ms", e.poll_interval_ms, 10, 60_000),
        ];
        for (key, value, min, max) in bounded {
            if !(min..=max).contains(&value) {
                anyhow::bail!("invalid configuration: {key} must be {min} to {max}");
            }
        }
        if e.backoff_max_ms < e.backoff_base_ms {
            anyhow::bail!(
                "invalid configuration: events.backoff_max_ms must be at least events.backoff_base_ms"
            );
        }
        let mut by_client = std::collections::HashMap::new();
        for (sub, subscriber) in &e.subscribers {
            let key = format!("events.subscribers.{sub}");
            let client = ClientId::parse(sub)
                .map_err(|e| anyhow::anyhow!("invalid configuration: {key}: '{sub}' {e}"))?;
            for (field, missing) in [
                ("url", subscriber.url.is_none()),
                ("secret", subscriber.secret.is_none()),
            ] {
                if missing {
                    anyhow::bail!("invalid configuration: {key}.{field} is required");
                }
            }
            if let Some(secret) = &subscriber.secret
                && mfa_totp_events::signer(secret).is_none()
            {
                anyhow::bail!(
                    "invalid configuration: {key}.secret must be whsec_ then base64 (Standard Webhooks); generate one with `echo whsec_$(openssl rand -base64 32)`"
                );
            }
            let types = match subscriber.events.is_empty() {
                true => EventType::ALL.into_iter().collect(),
                false => subscriber
                    .events
                    .iter()
                    .map(|name| {
                        name.trim().parse::<EventType>().map_err(|_| {
                            anyhow::anyhow!(
                                "invalid configuration: {key}.events: '{name}' is not one of {}",
                                EventType::ALL.map(EventType::as_str).join(", ")
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
            };
            by_client.insert(client, types);
        }
        let millis = std::time::Duration::from_millis;
        let delivery = DeliveryPolicy {
            max_attempts: e.max_attempts,
            backoff_base: millis(e.backoff_base_ms),
            backoff_max: millis(e.backoff_max_ms),
            attempt_timeout: millis(e.timeout_ms),
            ..DeliveryPolicy::default()
        };
        Ok((Subscriptions::new(by_client), delivery))
    }

    pub(super) fn assertion_policy(&self) -> anyhow::Result<AssertionPolicy> {
        let a = &self.assertion;
        let mut acr_by_operation = Vec::new();
        for (name, tree) in &a.acr_by_operation {
            super::messages::flatten_texts(name, tree, &mut acr_by_operation);
        }
        let texts = std::iter::once(("assertion.issuer".to_owned(), &a.issuer))
            .chain(std::iter::once(("assertion.acr".to_owned(), &a.acr)))
            .chain(
                acr_by_operation
                    .iter()
                    .map(|(op, acr)| (format!("assertion.acr_by_operation.{op}"), acr)),
            );
        for (key, text) in texts {
            let sane = (1..=256).contains(&text.chars().count())
                && !text.chars().any(char::is_control)
                && text.trim() == text;
            if !sane {
                anyhow::bail!(
                    "invalid configuration: {key} must be 1 to 256 characters, without control characters or surrounding white space"
                );
            }
        }
        if let Some((op, _)) = acr_by_operation
            .iter()
            .find(|(op, _)| Operation::parse(op).is_err())
        {
            anyhow::bail!(
                "invalid configuration: assertion.acr_by_operation.{op}: '{op}' is not an operation name"
            );
        }
        let consume = self.challenge.consume_ttl_secs;
        if !(consume..=AssertionPolicy::MAX_TTL_SECS).contains(&a.ttl_secs) || a.ttl_secs == 0 {
            anyhow::bail!(
                "invalid configuration: assertion.ttl_secs must be at least challenge.consume_ttl_secs ({consume}), so that :consume hands on a live assertion, and at most {}",
                AssertionPolicy::MAX_TTL_SECS
            );
        }
        Ok(AssertionPolicy {
            issuer: a.issuer.clone(),
            ttl: TimeDelta::seconds(a.ttl_secs.into()),
            acr: a.acr.clone(),
            acr_by_operation: acr_by_operation.into_iter().collect(),
        })
    }

    /// The retention the purge applies.
    pub(super) fn retention_policy(&self) -> anyhow::Result<RetentionPolicy> {
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
        Ok(RetentionPolicy {
            challenges: days(p.challenge_retention_secs, "purge.challenge_retention_secs")?,
            audit_events: days(p.audit_retention_secs, "purge.audit_retention_secs")?,
            longest_window: TimeDelta::seconds(ChallengePolicy::MAX_WAIT_SECS.into()),
            batch_size: p.batch_size,
        })
    }

    /// The limits across challenges; each window is 1 s to a day, so `Retry-After` stays
    /// within the published bound.
    pub(super) fn limit_policy(&self) -> anyhow::Result<Limits> {
        if let Some(unknown) = self
            .limits
            .keys()
            // Exactly the limit's name: it is looked up by it below.
            // Exactly the limit's name: it is looked up by it below.
            .find(|name| !LimitKind::ALL.iter().any(|kind| kind.as_str() == *name))
        {
            let known: Vec<&str> = LimitKind::ALL.iter().map(|k| k.as_str()).collect();
            anyhow::bail!(
                "invalid configuration: limits.{unknown} is no limit (known: {})",
                known.join(", ")
            );
        }
        let mut limits = Limits::default();
        for kind in LimitKind::ALL {
            let default = limits.get(kind);
            let LimitSettings { max, window_secs } =
                self.limits.get(kind.as_str()).copied().unwrap_or_default();
            let max = max.unwrap_or(default.max);
            let window_secs = window_secs.unwrap_or(default.window.num_seconds() as u32);
            if !(1..=ChallengePolicy::MAX_WAIT_SECS).contains(&window_secs) {
                anyhow::bail!(
                    "invalid configuration: limits.{kind}.window_secs must be 1 to {}",
                    ChallengePolicy::MAX_WAIT_SECS
                );
            }
            *limits.get_mut(kind) = Limit::new(max, window_secs);
        }
        Ok(limits)
    }

    /// Which numbers may receive codes: `sms.allowed_number_types` and
    /// `sms.allowed_countries`.
    pub(super) fn phone_policy(&self) -> anyhow::Result<PhonePolicy> {
        let sms = &self.sms;
        let types = sms
            .allowed_number_types
            .iter()
            .map(|name| {
                name.parse::<NumberType>().map_err(|_| {
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

    pub(super) fn totp_policy(&self) -> anyhow::Result<TotpPolicy> {
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
