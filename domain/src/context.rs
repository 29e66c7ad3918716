//! The step-up request context: what an operation service is waiting to authorise.

use sha2::{Digest, Sha256};

use crate::names::stored_names;
use crate::{ChallengeId, Locale, Timestamp};

crate::ids::text_id!(
    /// The operation awaiting authorisation (`payments.transfer`, `profile.change-phone`, ...).
    Operation,
    64
);

/// Where a context is in its life. Only an `Active` context can be consumed or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextState {
    Active,
    Consumed,
    Cancelled,
}

stored_names!(ContextState {
    Active = "ACTIVE",
    Consumed = "CONSUMED",
    Cancelled = "CANCELLED",
});

/// The context registered with a challenge, handed back once to the operation service after
/// the challenge is verified.
#[derive(Debug, Clone, PartialEq)]
pub struct StepUpContext {
    pub challenge_id: ChallengeId,
    pub operation: Operation,
    /// Free-form attributes the operation service wants back (amount, payee, ...).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The locale the creation request asked the SMS to be written in.
    pub locale: Option<Locale>,
    pub state: ContextState,
    pub consumed_at: Option<Timestamp>,
}

impl StepUpContext {
    pub fn new(
        challenge_id: ChallengeId,
        operation: Operation,
        attributes: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        Self {
            challenge_id,
            operation,
            attributes,
            locale: None,
            state: ContextState::Active,
            consumed_at: None,
        }
    }

    /// The context with the locale its SMS should be written in.
    pub fn with_locale(self, locale: Option<Locale>) -> Self {
        Self { locale, ..self }
    }

    /// The SHA-256 (lower-case hex) of the context's canonical JSON (RFC 8785, JCS):
    /// `{"attributes":{…},"operation":"…"}`. The operation service computes the same over
    /// what it is about to execute, and compares.
    pub fn digest(&self) -> String {
        let document = serde_json::json!({
            "operation": self.operation.as_str(),
            "attributes": self.attributes,
        });
        let canonical = serde_json_canonicalizer::to_vec(&document)
            .expect("a JSON value always has a canonical form");
        hex::encode(Sha256::digest(canonical))
    }

    pub fn is_active(&self) -> bool {
        self.state == ContextState::Active
    }

    /// The context once handed over to the operation service at `at`.
    pub fn after_consume(&self, at: Timestamp) -> Self {
        Self {
            state: ContextState::Consumed,
            consumed_at: Some(at),
            ..self.clone()
        }
    }

    /// The context once its challenge was cancelled.
    pub fn after_cancel(&self) -> Self {
        Self {
            state: ContextState::Cancelled,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InvalidId;

    #[test]
    fn the_digest_is_sha256_of_the_canonical_json() {
        let attributes = serde_json::json!({"payee": "ACME", "amount": 1.50, "n": 1e21});
        let context = StepUpContext::new(
            ChallengeId::generate(),
            Operation::parse("payments.transfer").unwrap(),
            attributes.as_object().unwrap().clone(),
        );
        // RFC 8785: sorted keys, no white space, ECMAScript number forms.
        let canonical = r#"{"attributes":{"amount":1.5,"n":1e+21,"payee":"ACME"},"operation":"payments.transfer"}"#;
        assert_eq!(context.digest(), hex::encode(Sha256::digest(canonical)));
        assert_eq!(context.digest().len(), 64);
    }

    #[test]
    fn operation_is_trimmed_and_bounded() {
        assert_eq!(
            Operation::parse(" payments.transfer ").unwrap().as_str(),
            "payments.transfer"
        );
        assert_eq!(Operation::parse(" "), Err(InvalidId::Blank));
        assert_eq!(
            Operation::parse(&"x".repeat(65)),
            Err(InvalidId::TooLong { max: 64 })
        );
        assert_eq!(
            Operation::parse("payments.transfer\n"),
            Err(InvalidId::ControlCharacter)
        );
    }

    #[test]
    fn context_state_round_trips_through_its_stored_form() {
        for state in [
            ContextState::Active,
            ContextState::Consumed,
            ContextState::Cancelled,
        ] {
            assert_eq!(state.as_str().parse::<ContextState>(), Ok(state));
        }
        assert!("GONE".parse::<ContextState>().is_err());
    }
}
