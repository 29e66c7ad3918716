//! Mock wiring shared by the use-case unit tests.

use std::sync::Arc;

use chrono::DateTime;
use mfa_totp_domain::{
    Actor, AssertionPolicy, Challenge, ChallengeId, ChallengePolicy, ChallengeStatus, ClientId,
    ContextState, Limits, Locale, MessageCatalog, MessageSettings, Operation, PhonePolicy,
    SealedSecret, StepUpAssertion, StepUpContext, TemplateKey, Timestamp, TotpPolicy, TotpSecret,
    UserId,
};

use crate::ports::*;
use crate::{ClientOperations, UseCases};

pub fn now() -> Timestamp {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn user() -> UserId {
    UserId::parse("user-1").unwrap()
}

/// The request the use cases run for.
pub fn who() -> Actor {
    Actor::new("req-1", "payments-service")
}

/// The service that created the test challenge.
pub fn client() -> ClientId {
    ClientId::parse("payments-service").unwrap()
}

/// The test challenge's secret, in the clear.
pub fn secret() -> TotpSecret {
    TotpSecret::from_bytes([9; 20])
}

/// A stand-in for the AES-GCM adapter: "seals" as `test:<aad hex>:<secret hex>`, and opens
/// only with the same aad.
pub struct TestCipher;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SecretCipher for TestCipher {
    fn seal(&self, secret: &TotpSecret, aad: &[u8]) -> Result<String, CipherError> {
        Ok(format!("test:{}:{}", hex(aad), hex(secret.as_bytes())))
    }

    fn open(&self, sealed: &str, aad: &[u8]) -> Result<TotpSecret, CipherError> {
        let rest = sealed
            .strip_prefix(&format!("test:{}:", hex(aad)))
            .ok_or(CipherError::Corrupt)?;
        let bytes: Vec<u8> = (0..rest.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&rest[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| CipherError::Corrupt)?;
        TotpSecret::try_from_slice(&bytes).ok_or(CipherError::Corrupt)
    }
}

/// A stand-in for the JWS adapter: "signs" as `test-assertion:<challenge>:<aud>:<digest>:<exp>`.
pub struct TestSigner;

impl AssertionSigner for TestSigner {
    fn sign(&self, a: &StepUpAssertion) -> Result<String, SignError> {
        let aud = a.audience.as_ref().map_or("-", ClientId::as_str);
        Ok(format!(
            "test-assertion:{}:{aud}:{}:{}",
            a.challenge_id,
            a.context_digest,
            a.expires_at.timestamp()
        ))
    }
}

/// A signer whose key is gone: every signature fails.
pub fn failing_signer() -> Arc<dyn AssertionSigner> {
    let mut signer = MockAssertionSigner::new();
    signer
        .expect_sign()
        .returning(|_| Err(SignError("key gone".into())));
    Arc::new(signer)
}

/// What [`TestSigner`] signs for the test challenge, verified at [`now`], with `context`.
pub fn test_assertion(context: &StepUpContext) -> String {
    let expires = now() + AssertionPolicy::default().ttl;
    format!(
        "test-assertion:{}:{}:{}:{}",
        challenge_id(),
        client().as_str(),
        context.digest(),
        expires.timestamp()
    )
}

/// The built-in templates, and `payments.linked` showing `amount` and `payee`.
pub fn catalog() -> MessageCatalog {
    MessageCatalog::new(MessageSettings {
        default_locale: Locale::parse("en").unwrap(),
        templates: vec![(
            TemplateKey {
                locale: Locale::parse("en").unwrap(),
                operation: Some("payments.linked".into()),
            },
            "{code} pays {amount} to {payee}".into(),
        )],
        required_attributes: [(
            "payments.linked".to_owned(),
            vec!["amount".to_owned(), "payee".to_owned()],
        )]
        .into(),
        app_name: "Test".into(),
        webotp_domain: None,
        android_app_hash: None,
        max_attribute_length: 40,
        attribute_kinds: std::collections::BTreeMap::new(),
        max_segments: 3,
    })
    .unwrap()
}

pub fn challenge_id() -> ChallengeId {
    ChallengeId::parse("7b0d5c9e-8f7c-4a8e-9d4b-3f1f6a2b1c00").unwrap()
}

/// The test challenge, created a minute ago, brought to `status` through the state machine
/// (a code sent 40 s ago; verified, locked or cancelled just now).
pub fn challenge(status: ChallengeStatus) -> Challenge {
    let policy = ChallengePolicy::default();
    let created = now() - chrono::TimeDelta::seconds(60);
    let sealed = TestCipher
        .seal(&secret(), challenge_id().to_string().as_bytes())
        .unwrap();
    let pending = Challenge::new(
        challenge_id(),
        user(),
        client(),
        SealedSecret::new(sealed),
        created,
        &policy,
    );
    let sent_at = now() - chrono::TimeDelta::seconds(40);
    let code_sent = || {
        let plan = pending
            .plan_send(sent_at, &policy, &TotpPolicy::default())
            .unwrap();
        pending.after_send(&plan)
    };
    match status {
        ChallengeStatus::Pending => pending,
        ChallengeStatus::CodeSent => code_sent(),
        ChallengeStatus::Verified => code_sent().after_verify(now()),
        ChallengeStatus::Locked => (0..policy.max_failed_attempts)
            .fold(code_sent(), |c, _| c.after_failed_attempt(&policy)),
        ChallengeStatus::Expired => pending.after_expiry(),
        ChallengeStatus::Cancelled => pending.after_cancel(now()).unwrap(),
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
    pub user_reader: MockUserDirectoryReader,
    pub user_writer: MockUserDirectoryWriter,
    pub sms: MockSmsSender,
    pub sends: MockSmsSendLog,
    pub audit: MockAuditLog,
    pub limits: Limits,
    pub clients: ClientOperations,
    /// Who receives which events (none unless a test subscribes someone).
    pub subscriptions: crate::events::Subscriptions,
    pub now: Timestamp,
    /// Signs step-up assertions ([`TestSigner`] unless a test puts a mock in).
    pub signer: Arc<dyn AssertionSigner>,
    /// What `find_with_context` returns, from [`Mocks::with_challenge`] and
    /// [`Mocks::with_context`].
    challenge: Option<Challenge>,
    context: Option<ContextState>,
}

impl Mocks {
    pub fn new() -> Self {
        Self {
            challenges: MockChallengeRepository::new(),
            user_reader: MockUserDirectoryReader::new(),
            user_writer: MockUserDirectoryWriter::new(),
            sms: MockSmsSender::new(),
            sends: {
                // Recording a send is a side effect every use case may have; tests that
                // check it replace this mock.
                let mut sends = MockSmsSendLog::new();
                sends.expect_log_send().returning(|_, _| Ok(()));
                sends.expect_last_send().returning(|_| Ok(None));
                sends
            },
            audit: MockAuditLog::new(),
            limits: Limits::default(),
            clients: ClientOperations::default(),
            subscriptions: Default::default(),
            now: now(),
            signer: Arc::new(TestSigner),
            challenge: None,
            context: None,
        }
    }

    /// Expects `find` (and `find_with_context`) of the test challenge to return `c` (any
    /// number of times).
    pub fn with_challenge(mut self, c: Challenge) -> Self {
        self.challenge = Some(c.clone());
        self.challenges
            .expect_find()
            .returning(move |_| Ok(Some(c.clone())));
        self
    }

    /// Makes `find_with_context` return a context in `state` beside the challenge.
    pub fn with_context(mut self, state: ContextState) -> Self {
        self.context = Some(state);
        self
    }

    /// Runs the use case at `at` instead of [`now`].
    pub fn at(mut self, at: Timestamp) -> Self {
        self.now = at;
        self
    }

    pub fn build(mut self) -> UseCases {
        if let Some(c) = self.challenge.take() {
            let state = self.context;
            self.challenges
                .expect_find_with_context()
                .returning(move |_| Ok(Some((c.clone(), state.map(context)))));
        }
        let mut clock = MockClock::new();
        let at = self.now;
        clock.expect_now().returning(move || at);
        UseCases {
            challenges: Arc::new(self.challenges),
            user_reader: Arc::new(self.user_reader),
            user_writer: Arc::new(self.user_writer),
            sms: Arc::new(self.sms),
            sends: Arc::new(self.sends),
            audit: Arc::new(self.audit),
            clock: Arc::new(clock),
            cipher: Arc::new(TestCipher),
            messages: Arc::new(catalog()),
            policy: ChallengePolicy::default(),
            totp: TotpPolicy::default(),
            limits: self.limits,
            phones: PhonePolicy::default(),
            clients: self.clients,
            signer: self.signer,
            assertions: AssertionPolicy::default(),
            subscriptions: self.subscriptions,
        }
    }
}

/// What a change the use case applies is, read from the change itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Insert,
    Send,
    UndoSend,
    WrongCode,
    Verify,
    Expire,
    Cancel,
    Consume,
}

pub fn kind(change: &ChallengeChange) -> Kind {
    use mfa_totp_domain::AuditKind;
    if change.guard.is_none() {
        return Kind::Insert;
    }
    if change
        .context
        .as_ref()
        .is_some_and(|c| c.state == ContextState::Consumed)
    {
        return Kind::Consume;
    }
    match (
        change.challenge.status(),
        change.events.first().map(|e| e.kind),
    ) {
        (ChallengeStatus::Cancelled, _) => Kind::Cancel,
        (ChallengeStatus::Expired, _) => Kind::Expire,
        (_, Some(AuditKind::Verified)) => Kind::Verify,
        (_, Some(AuditKind::VerifyFailed)) => Kind::WrongCode,
        _ if !change.refunds.is_empty() => Kind::UndoSend,
        _ => Kind::Send,
    }
}

/// How many times a use case on the default policy decides a change again.
pub fn race_retries() -> usize {
    crate::race_retries(&ChallengePolicy::default())
}
