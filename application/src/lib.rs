//! Use cases of mfa-totp and the ports they drive. One file per use case; each has its own
//! error enum, which the HTTP layer maps to the contract's codes in one place.

pub mod access;
pub mod cancel;
pub mod consume;
pub mod create_challenge;
pub mod get_challenge;
pub mod initiate;
pub mod ports;
pub mod put_user;
pub mod verify;

#[cfg(test)]
mod test_support;

use std::sync::Arc;

use mfa_totp_domain::{ChallengePolicy, TotpPolicy};

pub use ports::{
    ChallengeRepository, CipherError, Clock, OutboundSms, SecretCipher, SentSms, SmsError,
    SmsSender, StepUpContextRepository, StoreError, UserDirectory, UserRegistry,
};

/// How long a caller should wait before retrying when a dependency is down.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// The ports and policies every use case runs on. Cheap to clone.
#[derive(Clone)]
pub struct UseCases {
    pub challenges: Arc<dyn ChallengeRepository>,
    pub contexts: Arc<dyn StepUpContextRepository>,
    pub users: Arc<dyn UserDirectory>,
    pub registry: Arc<dyn UserRegistry>,
    pub sms: Arc<dyn SmsSender>,
    pub clock: Arc<dyn Clock>,
    pub policy: ChallengePolicy,
    pub totp: TotpPolicy,
}

/// A conditional update that lost a race is retried on fresh state this many times. Each
/// loss means another request changed the challenge, so a few rounds reach a settled state.
pub(crate) const MAX_RACE_RETRIES: usize = 8;

/// Seconds to put in `Retry-After`, rounded up, at least 1.
pub(crate) fn retry_after_secs(delta: chrono::TimeDelta) -> u64 {
    let millis = delta.num_milliseconds().max(0) as u64;
    millis.div_ceil(1000).max(1)
}
