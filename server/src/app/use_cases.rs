//! The use cases on their adapters: the SQL store serves every storage port; the SMS
//! sender, the clock, the cipher and the assertion signer are given; the policies come from
//! the configuration.

use std::sync::Arc;

use mfa_totp_application::{AssertionSigner, Clock, SecretCipher, SmsSender, UseCases};
use mfa_totp_storage::SqlStore;

use crate::config::Policies;

/// The adapters the use cases run on, besides the store.
pub struct Adapters {
    pub sms: Arc<dyn SmsSender>,
    pub clock: Arc<dyn Clock>,
    pub cipher: Arc<dyn SecretCipher>,
    pub signer: Arc<dyn AssertionSigner>,
}

pub fn wire(store: &SqlStore, adapters: Adapters, policies: &Policies) -> UseCases {
    UseCases {
        challenges: Arc::new(store.clone()),
        user_reader: Arc::new(store.clone()),
        user_writer: Arc::new(store.clone()),
        sms: adapters.sms,
        sends: Arc::new(store.clone()),
        audit: Arc::new(store.clone()),
        clock: adapters.clock,
        cipher: adapters.cipher,
        messages: policies.messages.clone(),
        policy: policies.challenge,
        totp: policies.totp,
        limits: policies.limits,
        phones: policies.phones.clone(),
        clients: policies.clients.clone(),
        signer: adapters.signer,
        assertions: policies.assertion.clone(),
        subscriptions: policies.subscriptions.clone(),
    }
}
