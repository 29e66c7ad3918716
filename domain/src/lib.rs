//! The mfa-totp domain: identifiers, the challenge state machine, the step-up request
//! context and the TOTP maths. Pure code: time comes in as an argument, nothing here does I/O.

pub mod assertion;
pub mod audit;
pub mod challenge;
pub mod context;
pub mod events;
pub mod ids;
pub mod limits;
pub mod message;
pub mod names;
pub mod phone;
pub mod sms;
pub mod totp;

pub use assertion::{AMR, AssertionPolicy, StepUpAssertion, assertion_id};
pub use audit::{Actor, AuditEvent, AuditKind, AuditOutcome};
pub use challenge::{
    CancelRefused, Challenge, ChallengePolicy, ChallengeRecord, ChallengeStatus, ConsumeRefused,
    InvalidChallenge, IssuedCode, SendPlan, SendRefused, VerifyRefused,
};
pub use context::{ContextState, Operation, StepUpContext};
pub use events::{ChallengeEvent, EventType, event_id};
pub use ids::{ChallengeId, ClientId, InvalidId, TEXT_PATTERN, UserId, parse_text};
pub use limits::{Limit, LimitCharge, LimitKey, LimitKind, LimitReached, Limits};
pub use message::{
    AttributeKind, AttributeProblem, CatalogError, Encoding, InvalidLocale, Locale, MessageCatalog,
    MessageCost, MessageSettings, RenderedSms, Template, TemplateError, TemplateKey,
};
pub use names::UnknownName;
pub use phone::{InvalidPhoneNumber, NumberType, PhoneNumber, PhonePolicy, PhoneRefused};
pub use sms::{DeliveryStatus, SendOutcome, SmsSend, redact_numbers};
pub use totp::{InvalidOtp, OtpAlgorithm, OtpCode, SealedSecret, TotpPolicy, TotpSecret};

/// The instant type used across the domain (UTC, millisecond precision once stored).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
