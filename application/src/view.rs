//! A challenge as an operation service sees it: the read of `getChallenge`, and the answer
//! of create and cancel.

use mfa_totp_domain::{Challenge, ChallengeStatus, StepUpContext};

/// A challenge as of now, with its context.
#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub challenge: Challenge,
    /// The status as of the read: a live challenge past its TTL reads as `EXPIRED`.
    pub status: ChallengeStatus,
    pub context: Option<StepUpContext>,
}
