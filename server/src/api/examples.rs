//! The fixed values the spec's examples show: one challenge, born at one instant.

use chrono::{DateTime, Utc};
use mfa_totp_domain::Timestamp;

/// The challenge id the spec's examples show.
pub const EXAMPLE_CHALLENGE_ID: &str = "0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10";

/// A fixed instant for the spec's examples, `offset_secs` after the example challenge's birth.
pub fn example_time(offset_secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000 + offset_secs, 0).expect("a valid timestamp")
}

/// The digest of the spec's example context (`payments.transfer`, amount `120.00`).
pub fn example_digest() -> String {
    let attributes = serde_json::json!({"amount": "120.00"});
    mfa_totp_domain::StepUpContext::new(
        mfa_totp_domain::ChallengeId::parse(EXAMPLE_CHALLENGE_ID).expect("a UUID"),
        mfa_totp_domain::Operation::parse("payments.transfer").expect("an operation"),
        attributes.as_object().cloned().unwrap_or_default(),
    )
    .digest()
}

/// The instant the spec's examples are answered at; refusals in them end at later
/// `example_time`s.
pub fn example_now() -> Timestamp {
    example_time(0)
}
