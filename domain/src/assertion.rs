//! A step-up assertion: what a verified challenge proves, as the claims of a token the
//! service signs. Who authorised (`sub`) exactly what (`operation`, `context_digest`), for
//! which operation service (`aud`), how (`amr`, `acr`) and when (`auth_time`).
//!
//! A challenge is verified once, so it earns one assertion: every claim follows from the
//! verified challenge and its context, and `:verify` and `:consume` hand out the same one.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use crate::{Challenge, ChallengeId, ClientId, Operation, StepUpContext, Timestamp, UserId};

/// `amr` (RFC 8176): a one-time password, delivered by SMS.
pub const AMR: [&str; 2] = ["sms", "otp"];

/// Who signs assertions, what `acr` they carry, and how long they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionPolicy {
    /// `iss`.
    pub issuer: String,
    /// From `auth_time` to `exp`.
    pub ttl: TimeDelta,
    /// `acr` for an operation [`Self::acr_by_operation`] does not name.
    pub acr: String,
    /// `acr` by operation name (exact).
    pub acr_by_operation: BTreeMap<String, String>,
}

impl AssertionPolicy {
    /// The default `acr`.
    pub const DEFAULT_ACR: &str = "urn:mfa-totp:acr:sms-otp";
    /// The default lifetime: as long as a verified context may wait for `:consume`.
    pub const DEFAULT_TTL_SECS: u32 = 300;
    /// The longest lifetime: a step-up is proof for one operation, not a session.
    pub const MAX_TTL_SECS: u32 = 3600;

    /// The `acr` of `operation`.
    pub fn acr_for(&self, operation: &Operation) -> &str {
        self.acr_by_operation
            .get(operation.as_str())
            .unwrap_or(&self.acr)
    }

    /// The assertion `challenge` earned, once verified; `None` before.
    pub fn assertion_for(
        &self,
        challenge: &Challenge,
        context: &StepUpContext,
    ) -> Option<StepUpAssertion> {
        let verified_at = challenge.verified_at()?;
        Some(StepUpAssertion {
            id: assertion_id(challenge.id()),
            issuer: self.issuer.clone(),
            subject: challenge.subject().clone(),
            audience: challenge.client().cloned(),
            acr: self.acr_for(&context.operation).to_owned(),
            auth_time: verified_at,
            issued_at: verified_at,
            expires_at: verified_at + self.ttl,
            challenge_id: challenge.id(),
            operation: context.operation.clone(),
            context_digest: context.digest(),
        })
    }
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        Self {
            issuer: "mfa-totp".into(),
            ttl: TimeDelta::seconds(Self::DEFAULT_TTL_SECS.into()),
            acr: Self::DEFAULT_ACR.into(),
            acr_by_operation: BTreeMap::new(),
        }
    }
}

/// The claims of a step-up assertion; `amr` is always [`AMR`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpAssertion {
    /// `jti`: one per challenge ([`assertion_id`]).
    pub id: uuid::Uuid,
    pub issuer: String,
    pub subject: UserId,
    /// The operation service that created the challenge; `None` only for a challenge from
    /// before creators were recorded, whose assertion then names no audience (and a check
    /// of `aud` refuses it).
    pub audience: Option<ClientId>,
    pub acr: String,
    /// When the code was verified.
    pub auth_time: Timestamp,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub challenge_id: ChallengeId,
    pub operation: Operation,
    /// [`StepUpContext::digest`].
    pub context_digest: String,
}

/// The assertion id of a challenge: a UUID (version 8) of the first 16 bytes of
/// SHA-256(`mfa-totp step-up assertion:` + the challenge id). Unique as the challenge id
/// is, and the same each time the one assertion is signed.
pub fn assertion_id(challenge: ChallengeId) -> uuid::Uuid {
    crate::ids::derived_uuid(&format!("mfa-totp step-up assertion:{challenge}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChallengePolicy, ChallengeStatus, SealedSecret};

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn created(id: ChallengeId) -> Challenge {
        Challenge::new(
            id,
            UserId::parse("alice").unwrap(),
            ClientId::parse("payments-service").unwrap(),
            SealedSecret::new("k:sealed".into()),
            now(),
            &ChallengePolicy::default(),
        )
    }

    fn verified(id: ChallengeId) -> Challenge {
        created(id).after_verify(now() + TimeDelta::seconds(42))
    }

    fn context(id: ChallengeId, operation: &str) -> StepUpContext {
        let mut attributes = serde_json::Map::new();
        attributes.insert("amount".into(), "120.00".into());
        StepUpContext::new(id, Operation::parse(operation).unwrap(), attributes)
    }

    #[test]
    fn a_verified_challenge_earns_an_assertion_bound_to_its_context() {
        let id = ChallengeId::generate();
        let policy = AssertionPolicy::default();
        let context = context(id, "payments.transfer");
        let assertion = policy.assertion_for(&verified(id), &context).unwrap();
        let verified_at = now() + TimeDelta::seconds(42);
        assert_eq!(assertion.subject.as_str(), "alice");
        assert_eq!(
            assertion.audience.as_ref().map(ClientId::as_str),
            Some("payments-service")
        );
        assert_eq!(assertion.auth_time, verified_at);
        assert_eq!(assertion.issued_at, verified_at);
        assert_eq!(assertion.expires_at, verified_at + TimeDelta::seconds(300));
        assert_eq!(assertion.challenge_id, id);
        assert_eq!(assertion.context_digest, context.digest());
        assert_eq!(assertion.acr, AssertionPolicy::DEFAULT_ACR);
    }

    #[test]
    fn an_unverified_challenge_earns_none() {
        let id = ChallengeId::generate();
        let created = created(id);
        assert_eq!(created.status(), ChallengeStatus::Pending);
        let policy = AssertionPolicy::default();
        assert_eq!(policy.assertion_for(&created, &context(id, "x")), None);
    }

    #[test]
    fn acr_is_the_operations_own_or_the_default() {
        let mut policy = AssertionPolicy::default();
        policy
            .acr_by_operation
            .insert("payments.transfer".into(), "urn:example:high".into());
        let op = |name| Operation::parse(name).unwrap();
        assert_eq!(policy.acr_for(&op("payments.transfer")), "urn:example:high");
        assert_eq!(
            policy.acr_for(&op("payments")),
            AssertionPolicy::DEFAULT_ACR
        );
        assert_eq!(
            policy.acr_for(&op("payments.transfer.bulk")),
            AssertionPolicy::DEFAULT_ACR
        );
    }

    #[test]
    fn the_assertion_id_is_one_per_challenge() {
        let (a, b) = (ChallengeId::generate(), ChallengeId::generate());
        assert_eq!(assertion_id(a), assertion_id(a));
        assert_ne!(assertion_id(a), assertion_id(b));
        assert_eq!(assertion_id(a).get_version_num(), 8);
    }
}
