//! A challenge as an operation service sees it: the read of `getChallenge`, and the answer
//! of create and cancel.

use mfa_totp_domain::{Challenge, ChallengeStatus, SmsSend, StepUpContext};

/// A challenge as of now, with its context.
#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub challenge: Challenge,
    /// The status as of the read: a live challenge past its TTL reads as `EXPIRED`.
    pub status: ChallengeStatus,
    pub context: Option<StepUpContext>,
    /// The latest SMS send, when the read asked for it (`getChallenge`).
    pub last_send: Option<SmsSend>,
}
