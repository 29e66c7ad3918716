//! Mock wiring shared by the use-case unit tests.

use std::sync::Arc;

use chrono::DateTime;
use mfa_totp_domain::{
    Challenge, ChallengeId, ChallengePolicy, ChallengeStatus, ContextState, Operation,
    StepUpContext, Timestamp, TotpPolicy, TotpSecret, UserId,
};

use crate::UseCases;
use crate::ports::*;

pub fn now() -> Timestamp {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn user() -> UserId {
    UserId::parse("user-1").unwrap()
}

pub fn challenge_id() -> ChallengeId {
    ChallengeId::parse("7b0d5c9e-8f7c-4a8e-9d4b-3f1f6a2b1c00").unwrap()
}

pub fn challenge(status: ChallengeStatus) -> Challenge {
    Challenge {
        status,
        ..Challenge::new(
            challenge_id(),
            user(),
            TotpSecret::from_bytes([9; 20]),
            now() - chrono::TimeDelta::seconds(60),
            &ChallengePolicy::default(),
        )
    }
}

pub fn context(state: ContextState) -> StepUpContext {
    StepUpContext {
        state,
        ..StepUpContext::new(
            challenge_id(),
            Operation::parse("payments.transfer").unwrap(),
            serde_json::Map::new(),
        )
    }
}

pub fn unavailable() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("connection refused"))
}

pub struct Mocks {
    pub challenges: MockChallengeRepository,
    pub contexts: MockStepUpContextRepository,
    pub users: MockUserDirectory,
    pub registry: MockUserRegistry,
    pub sms: MockSmsSender,
}

impl Mocks {
    pub fn new() -> Self {
        Self {
            challenges: MockChallengeRepository::new(),
            contexts: MockStepUpContextRepository::new(),
            users: MockUserDirectory::new(),
            registry: MockUserRegistry::new(),
            sms: MockSmsSender::new(),
        }
    }

    /// Expects `find` of the test challenge to return `c` (any number of times).
    pub fn with_challenge(mut self, c: Challenge) -> Self {
        self.challenges
            .expect_find()
            .returning(move |_| Ok(Some(c.clone())));
        self
    }

    pub fn with_context(mut self, state: ContextState) -> Self {
        self.contexts
            .expect_find_context()
            .returning(move |_| Ok(Some(context(state))));
        self
    }

    pub fn build(self) -> UseCases {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        UseCases {
            challenges: Arc::new(self.challenges),
            contexts: Arc::new(self.contexts),
            users: Arc::new(self.users),
            registry: Arc::new(self.registry),
            sms: Arc::new(self.sms),
            clock: Arc::new(clock),
            policy: ChallengePolicy::default(),
            totp: TotpPolicy::default(),
        }
    }
}
