//! Use cases of mfa-totp and the ports they drive. One file per use case; each has its own
//! error enum, which the HTTP layer maps to the contract's codes in one place.

pub mod access;
pub mod audit;
pub mod cancel;
mod clients;
pub mod consume;
pub mod create_challenge;
pub mod delivery;
pub mod events;
pub mod get_challenge;
pub mod initiate;
pub mod ports;
pub mod purge;
pub mod put_user;
pub mod verify;
mod view;

#[cfg(test)]
mod test_support;

use std::sync::Arc;

use mfa_totp_domain::{
    AssertionPolicy, ChallengePolicy, Limits, MessageCatalog, PhonePolicy, TotpPolicy,
};

pub use clients::ClientOperations;
pub use ports::{
    AssertionSigner, AuditLog, ChallengeChange, ChallengeRepository, Change, CipherError,
    ClaimedEvent, Clock, Contact, Cutoffs, DeliveryReport, DeliveryUpdate, EventError, EventOutbox,
    EventSender, MAX_EVENTS, OutboundSms, PoolGauges, ProviderAnswer, Purged, ReadinessCheck,
    Retention, SecretCipher, SentSms, SignError, SmsError, SmsSendLog, SmsSender, StoreError,
    UserDirectoryReader, UserDirectoryWriter,
};
pub use view::ChallengeView;

/// The ports and policies every use case runs on. Cheap to clone.
#[derive(Clone)]
pub struct UseCases {
    pub challenges: Arc<dyn ChallengeRepository>,
    pub user_reader: Arc<dyn UserDirectoryReader>,
    pub user_writer: Arc<dyn UserDirectoryWriter>,
    pub sms: Arc<dyn SmsSender>,
    pub sends: Arc<dyn SmsSendLog>,
    pub audit: Arc<dyn AuditLog>,
    pub clock: Arc<dyn Clock>,
    /// Seals new TOTP secrets; only `:initiate` and `:verify` open them.
    pub cipher: Arc<dyn SecretCipher>,
    /// The SMS templates, and the attributes each operation's SMS shows.
    pub messages: Arc<MessageCatalog>,
    pub policy: ChallengePolicy,
    pub totp: TotpPolicy,
    /// The limits across challenges.
    pub limits: Limits,
    /// Which phone numbers may receive codes.
    pub phones: PhonePolicy,
    /// Which operations each client may create challenges for.
    pub clients: ClientOperations,
    /// Signs the step-up assertion that `:verify` and `:consume` hand out.
    pub signer: Arc<dyn AssertionSigner>,
    /// What that assertion claims besides the challenge: `iss`, `acr`, its lifetime.
    pub assertions: AssertionPolicy,
    /// Which operation services receive which events of the challenges they created.
    pub subscriptions: events::Subscriptions,
}

/// How many times a change that lost a race is decided again under `policy`. Each loss
/// means another change of the same challenge was applied, and a challenge takes at most
/// one per send and per wrong code, and a few more to end: so a request that keeps losing to
/// a crowd (80 parallel guesses) still reaches a settled state, and answers it, not a 5xx.
pub(crate) fn race_retries(policy: &ChallengePolicy) -> usize {
    8 + (policy.max_failed_attempts + policy.max_sends) as usize
}

impl UseCases {
    pub(crate) fn race_retries(&self) -> usize {
        race_retries(&self.policy)
    }
}
