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

    /// The numbers in `attributes` that the digest would not cover exactly as `:consume`
    /// returns them, by path (`amount`, `items[0].price`), each with the form the digest
    /// would see. A number is exact when its JSON form (what `:consume` returns) is its
    /// RFC 8785 form (what the digest covers): `1.5`, `120`, `-3`. Not exact: `1.0` and `1e2`
    /// (digested as `1` and `100`), `-0` (as `0`), and integers beyond 2^53
    /// (`9007199254740993`, digested as `9007199254740992`). Refusing them makes two
    /// contexts with one digest the same context.
    pub fn inexact_numbers(
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (name, value) in attributes {
            inexact_in(value, name.clone(), &mut found);
        }
        found
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

fn inexact_in(value: &serde_json::Value, path: String, found: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            let canonical = serde_json_canonicalizer::to_string(value)
                .unwrap_or_else(|_| "no exact form".into());
            if number.to_string() != canonical {
                found.push((path, canonical));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                inexact_in(item, format!("{path}[{i}]"), found);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                inexact_in(item, format!("{path}.{name}"), found);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
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
    fn numbers_that_would_not_be_digested_as_written_are_found() {
        let attributes = serde_json::from_str::<serde_json::Value>(
            r#"{"ok":[1.5,120,-3,0,0.1,9007199254740991],"one":1.0,"big":9007199254740993,
                "neg":-0,"exp":1e2,"deep":{"x":[2.50,2.0]},"text":"1.0"}"#,
        )
        .unwrap();
        let found = StepUpContext::inexact_numbers(attributes.as_object().unwrap());
        assert_eq!(
            found,
            [
                ("big".to_owned(), "9007199254740992".to_owned()),
                ("deep.x[1]".to_owned(), "2".to_owned()),
                ("exp".to_owned(), "100".to_owned()),
                ("neg".to_owned(), "0".to_owned()),
                ("one".to_owned(), "1".to_owned()),
            ]
        );
    }

    /// What `:consume` returns digests to the context's digest, for every exact context:
    /// two contexts that differ in what `:consume` returns differ in their digest.
    #[test]
    fn exact_contexts_that_differ_have_different_digests() {
        let digest = |text: &str| {
            let attributes: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).unwrap();
            assert!(
                StepUpContext::inexact_numbers(&attributes).is_empty(),
                "{text}"
            );
            StepUpContext::new(
                ChallengeId::generate(),
                Operation::parse("payments.transfer").unwrap(),
                attributes,
            )
            .digest()
        };
        let all = [
            r#"{"amount":9007199254740991}"#,
            r#"{"amount":9007199254740990}"#,
            r#"{"amount":1}"#,
            r#"{"amount":"1"}"#,
            r#"{"amount":0}"#,
            r#"{"amount":1.5}"#,
        ]
        .map(digest);
        let mut unique = all.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
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
