//! Ports: the small traits the use cases need from the outside world. Adapters implement
//! them; the use cases' unit tests get mockall mocks of each.

use async_trait::async_trait;
use mfa_totp_domain::{
    AuditEvent, Challenge, ChallengeEvent, ChallengeId, ClientId, DeliveryStatus, LimitCharge,
    LimitReached, Locale, PhoneNumber, SmsSend, StepUpAssertion, StepUpContext, Timestamp,
    TotpSecret, UserId, redact_numbers,
};

/// A storage failure. `Unavailable` means "retry later" (the database cannot be reached);
/// anything else is `Unexpected`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("storage failed")]
    Unexpected(#[source] anyhow::Error),
}

/// What became of a change: applied (with its charges and audit events), stale (the row
/// changed since it was read: reload and decide again), or refused by a limit across
/// challenges. A change that is not applied writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Applied,
    Stale,
    Limited(LimitReached),
}

/// One change the domain decided, as storage applies it: the challenge as it stands after
/// the change (at its next [`Challenge::version`]), its step-up context when the change
/// touches it, the limit charges it costs, the charges it gives back, and the audit events
/// that record it. Storage decides nothing: it writes all of it, in one transaction, or
/// nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeChange {
    /// The version the change was decided on; `None` for a new challenge.
    pub guard: Option<u32>,
    pub challenge: Challenge,
    /// The context as it stands after the change (a new challenge's, or one consumed or
    /// cancelled); `None` leaves it as it is.
    pub context: Option<StepUpContext>,
    pub charges: Vec<LimitCharge>,
    pub refunds: Vec<LimitCharge>,
    pub events: Vec<AuditEvent>,
}

impl ChallengeChange {
    /// A new challenge with its context.
    pub fn insert(challenge: Challenge, context: StepUpContext) -> Self {
        Self {
            guard: None,
            challenge,
            context: Some(context),
            charges: Vec::new(),
            refunds: Vec::new(),
            events: Vec::new(),
        }
    }

    /// `before` becomes `after` (a transition of it), if it is still stored as `before`.
    pub fn update(before: &Challenge, after: Challenge) -> Self {
        debug_assert_eq!(after.version(), before.version() + 1, "not a transition");
        Self {
            guard: Some(before.version()),
            challenge: after,
            context: None,
            charges: Vec::new(),
            refunds: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn with_context(self, context: StepUpContext) -> Self {
        Self {
            context: Some(context),
            ..self
        }
    }

    pub fn charging(self, charges: Vec<LimitCharge>) -> Self {
        Self { charges, ..self }
    }

    pub fn refunding(self, refunds: Vec<LimitCharge>) -> Self {
        Self { refunds, ..self }
    }

    pub fn recording(self, events: Vec<AuditEvent>) -> Self {
        Self { events, ..self }
    }
}

/// Challenges with their step-up contexts: the aggregate is read once and changed by
/// [`ChallengeChange`]s, each in one trip to the database.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ChallengeRepository: Send + Sync + 'static {
    async fn find(&self, id: ChallengeId) -> Result<Option<Challenge>, StoreError>;

    /// The challenge and its step-up request context, in one read: what every request
    /// about a challenge starts with.
    async fn find_with_context(
        &self,
        id: ChallengeId,
    ) -> Result<Option<(Challenge, Option<StepUpContext>)>, StoreError>;

    /// Applies `change`: the charges first (a refused one → `Limited`), then the challenge
    /// (inserted, or written over the version of [`ChallengeChange::guard`]: another
    /// version → `Stale`), its context, the refunds and the events. A change that is not
    /// applied writes nothing.
    async fn apply(&self, change: &ChallengeChange) -> Result<Change, StoreError>;

    /// At most `batch` challenges still stored as live (`PENDING`, `CODE_SENT`) whose TTL
    /// ended before `now`, soonest expired first: those the expiry sweep marks `EXPIRED`.
    async fn find_overdue(&self, now: Timestamp, batch: u32) -> Result<Vec<Challenge>, StoreError>;
}

/// The most events one read returns: a challenge has a few dozen at most (repeated refusals
/// are one event with a count).
pub const MAX_EVENTS: u64 = 1000;

/// The audit trail's own writes and reads. Events of a change are written by the change.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Records an event that goes with no change (a refusal by a limit, a delivery report).
    /// One that repeats the challenge's newest event (kind, outcome, limit, actor, error
    /// code) is counted on it (`repeats`, `last_at`), so that no flood of them can push a
    /// later change out of the trail.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The challenge's newest [`MAX_EVENTS`] events, oldest first.
    async fn events(&self, id: ChallengeId) -> Result<Vec<AuditEvent>, StoreError>;
}

/// One event of the outbox, claimed for delivery: its audit row, the event, and which
/// attempt this is (from 1). The attempt number fences the claim: a retry or give-up is
/// written only by the claim that still holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEvent {
    pub row: i64,
    pub event: AuditEvent,
    pub attempt: u32,
}

/// The outbox: audit events with a subscriber, delivered from the trail. Any number of
/// instances claim from it at once; each event goes to one of them at a time.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EventOutbox: Send + Sync + 'static {
    /// Claims at most `batch` events due at `now`, oldest first, leased until `lease_until`
    /// (when another instance may claim them again: after a crash). Only the oldest
    /// undelivered event of a challenge is ever due, so a challenge's events go out in order.
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        batch: u32,
    ) -> Result<Vec<ClaimedEvent>, StoreError>;

    /// The event reached its subscriber.
    async fn delivered(&self, row: i64) -> Result<(), StoreError>;

    /// The attempt failed; the event is due again at `due`.
    async fn retry_at(&self, row: i64, attempt: u32, due: Timestamp) -> Result<(), StoreError>;

    /// The event is given up, and `record` (its `EVENT_UNDELIVERED`) written in the same
    /// transaction.
    async fn give_up(&self, row: i64, attempt: u32, record: &AuditEvent) -> Result<(), StoreError>;
}

/// Why an event did not reach its subscriber: a short code for the trail and the metrics
/// (`HTTP 500`, `timeout`, `connect`, `unsubscribed`) and a detail for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct EventError {
    pub code: String,
    pub detail: String,
    /// Nothing to retry: the subscriber is no longer configured.
    pub permanent: bool,
}

/// Pushes an event to the operation service that subscribed to it.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EventSender: Send + Sync + 'static {
    async fn deliver(
        &self,
        subscriber: &ClientId,
        event: &ChallengeEvent,
    ) -> Result<(), EventError>;
}

/// The read side of the user directory: where a user's phone number comes from.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserDirectoryReader: Send + Sync + 'static {
    /// The user's phone (and language), or `None` for an unknown user or one without a phone.
    async fn contact(&self, user: &UserId) -> Result<Option<Contact>, StoreError>;
}

/// How to reach a user: the phone, and the language their SMS should be written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub phone: PhoneNumber,
    pub locale: Option<Locale>,
}

/// The write side of the user directory we ship (the SQL one).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserDirectoryWriter: Send + Sync + 'static {
    /// Creates or replaces the user's phone and locale. Returns `true` when the user is new.
    async fn put_contact(
        &self,
        user: &UserId,
        contact: &Contact,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// One text to one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    pub to: PhoneNumber,
    /// Contains the code: never log it.
    pub body: String,
    /// The challenge the code belongs to (webhook gateways receive it).
    pub challenge_id: ChallengeId,
    /// The recipient's language (BCP 47), when known.
    pub locale: Option<String>,
    /// This send's key, the same on every retry of it at every provider, so that a receiver
    /// can de-duplicate: `{challengeId}.{n}`, `n` the send's number in its challenge (the
    /// webhook's `webhook-id`).
    pub send_id: String,
}

/// What the provider that carried a message said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub provider: &'static str,
    pub message_id: Option<String>,
    /// Requests made to that provider for this message (retries included).
    pub attempts: u32,
    /// Its place in the configured chain, from 0.
    pub chain_position: usize,
}

impl SentSms {
    /// The longest message id kept (the stored column's width).
    pub const MAX_MESSAGE_ID_LEN: usize = 128;

    /// A message `provider` accepted at the first attempt, as the only provider. A message id
    /// is kept only when it is 1 to [`Self::MAX_MESSAGE_ID_LEN`] characters of
    /// `[A-Za-z0-9._:-]`: what a provider answers is input like any other, and an id that is
    /// too long, or holds anything else (a number, a line break), is dropped, not stored.
    pub fn by(provider: &'static str, message_id: Option<String>) -> Self {
        let usable = |id: &String| {
            (1..=Self::MAX_MESSAGE_ID_LEN).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        };
        let message_id = match message_id {
            Some(id) if usable(&id) => Some(id),
            Some(_) => {
                tracing::warn!(provider, "the provider's message id is unusable: not kept");
                None
            }
            None => None,
        };
        Self {
            provider,
            message_id,
            attempts: 1,
            chain_position: 0,
        }
    }
}

/// What a provider answered when it did not accept a message: who, its own error code, and
/// its text with every number in it redacted (providers quote the number they refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAnswer {
    pub provider: &'static str,
    /// Twilio's `code`, Vonage's `status`, `HTTP 503`, ...: `None` when there was no answer.
    pub code: Option<String>,
    pub detail: String,
}

impl ProviderAnswer {
    /// The longest error code kept (the stored column's width).
    pub const MAX_CODE_LEN: usize = 32;
    /// The longest detail kept.
    pub const MAX_DETAIL_CHARS: usize = 300;

    /// The answer as it may be kept and logged: `detail` with [`redact_numbers`] applied and
    /// cut to [`Self::MAX_DETAIL_CHARS`]; `code` cut to [`Self::MAX_CODE_LEN`] characters of
    /// `[A-Za-z0-9 ._-]`, others dropped (a provider's answer is input like any other).
    pub fn new(provider: &'static str, code: Option<String>, detail: impl AsRef<str>) -> Self {
        let code = code
            .map(|code| {
                code.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || " ._-".contains(*c))
                    .take(Self::MAX_CODE_LEN)
                    .collect::<String>()
            })
            .filter(|code| !code.trim().is_empty());
        let detail: String = redact_numbers(detail.as_ref())
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_DETAIL_CHARS)
            .collect();
        Self {
            provider,
            code,
            detail,
        }
    }
}

impl std::fmt::Display for ProviderAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} (code {code}): {}", self.provider, self.detail),
            None => write!(f, "{}: {}", self.provider, self.detail),
        }
    }
}

/// A send a provider did not accept, classified by what it means for the send (see the
/// README's provider-outcome table).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmsError {
    /// The provider refused the message for this number (invalid, a landline, unsubscribed,
    /// the sender's own number, ...). Another provider would be told the same: final for the
    /// send, never retried, never failed over, and charged like a send.
    #[error("SMS refused for this number: {0}")]
    Refused(ProviderAnswer),
    /// The request may have reached the provider, which did not say whether it took it (a
    /// timeout or a dropped connection after the request went out). The SMS may be on its
    /// way: not retried anywhere, and charged like a send.
    #[error("SMS outcome unknown: {0}")]
    Unknown(ProviderAnswer),
    /// The provider failed (unreachable, 5xx, 429, a problem of our account with it): no SMS
    /// went out. The next provider may carry the message; the send is not charged.
    #[error("SMS provider unavailable: {0}")]
    Unavailable(ProviderAnswer),
}

impl SmsError {
    pub fn answer(&self) -> &ProviderAnswer {
        match self {
            Self::Refused(answer) | Self::Unknown(answer) | Self::Unavailable(answer) => answer,
        }
    }

    /// How the send ended, as its record keeps it.
    pub fn outcome(&self) -> mfa_totp_domain::SendOutcome {
        use mfa_totp_domain::SendOutcome;
        match self {
            Self::Refused(_) => SendOutcome::Rejected,
            Self::Unknown(_) => SendOutcome::Unknown,
            Self::Unavailable(_) => SendOutcome::Unavailable,
        }
    }
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError>;
}

/// The record of every SMS send, and the delivery reports providers send back later.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SmsSendLog: Send + Sync + 'static {
    /// Records the send and its audit event (`CODE_SENT` or `SEND_FAILED`) together.
    async fn log_send(&self, send: &SmsSend, event: &AuditEvent) -> Result<(), StoreError>;

    /// The latest send of the challenge, if any.
    async fn last_send(&self, id: ChallengeId) -> Result<Option<SmsSend>, StoreError>;

    /// Applies a delivery report to the send `provider` knows as `message_id`: its status
    /// moves only forward ([`DeliveryStatus::replaces`]), in one conditional `UPDATE`, and its
    /// error code is kept. `None` when no such send exists.
    async fn update_delivery(
        &self,
        report: &DeliveryReport,
        at: Timestamp,
    ) -> Result<Option<DeliveryUpdate>, StoreError>;
}

/// A provider's report on a message it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub provider: String,
    pub message_id: String,
    pub status: DeliveryStatus,
    /// The provider's error code (Twilio's `ErrorCode`, e.g. `30008`), when it gave one.
    pub error_code: Option<String>,
}

/// What a delivery report found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryUpdate {
    /// The challenge the send belongs to.
    pub challenge_id: ChallengeId,
    /// Whether the status moved; a report of a status the send is past changes nothing.
    pub applied: bool,
}

/// What a purge deletes: challenges (with their contexts and send records) that expired
/// before `challenges_expired_before`, audit events from before `events_before`, and limit
/// windows that began before `windows_began_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub challenges_expired_before: Timestamp,
    pub events_before: Timestamp,
    pub windows_began_before: Timestamp,
}

/// Rows one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub challenges: u64,
    pub audit_events: u64,
    pub limit_windows: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.challenges + self.audit_events + self.limit_windows
    }
}

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, other: Self) {
        self.challenges += other.challenges;
        self.audit_events += other.audit_events;
        self.limit_windows += other.limit_windows;
    }
}

/// Deletes what outlived its retention, a bounded batch at a time, so that no statement
/// holds a long lock. Safe to run from several instances at once: a row two of them pick is
/// deleted once.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Retention: Send + Sync + 'static {
    /// Deletes at most `batch` rows of each kind.
    async fn purge_batch(&self, cutoffs: &Cutoffs, batch: u32) -> Result<Purged, StoreError>;
}

/// A dependency the service needs before it takes traffic: the database, and later the SMS
/// providers. The readiness probe asks each one.
#[async_trait]
pub trait ReadinessCheck: Send + Sync + 'static {
    /// What is checked, as the probe names it: `database`, ...
    fn name(&self) -> &'static str;

    /// Whether the dependency answers now.
    async fn is_ready(&self) -> bool;
}

/// The connection pools' gauges, set from the pools as they are at each scrape of
/// `GET /metrics`.
pub trait PoolGauges: Send + Sync + 'static {
    fn record_pool_gauges(&self);
}

/// The time. Tests control it.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("unknown key id '{0}'")]
    UnknownKey(String),
    #[error("ciphertext is malformed or was tampered with")]
    Corrupt,
}

/// Encrypts TOTP secrets at rest. `aad` binds a ciphertext to its row (the challenge id).
#[cfg_attr(test, mockall::automock)]
pub trait SecretCipher: Send + Sync + 'static {
    /// Returns an opaque string that names the key it was sealed with.
    fn seal(&self, secret: &TotpSecret, aad: &[u8]) -> Result<String, CipherError>;
    fn open(&self, sealed: &str, aad: &[u8]) -> Result<TotpSecret, CipherError>;
}

/// Why a step-up assertion could not be signed (a key the configuration checks should have
/// refused).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the step-up assertion: {0}")]
pub struct SignError(pub String);

/// Signs step-up assertions with the service's active key.
#[cfg_attr(test, mockall::automock)]
pub trait AssertionSigner: Send + Sync + 'static {
    /// The assertion as a compact JWS (`header.payload.signature`).
    fn sign(&self, assertion: &StepUpAssertion) -> Result<String, SignError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_message_id_is_kept_only_when_usable() {
        let id = |raw: &str| SentSms::by("webhook", Some(raw.to_owned())).message_id;
        for kept in [
            "SM0123456789abcdef0123456789abcdef",
            "0A0000000123ABCD1",
            "gw-42:a.b_c",
        ] {
            assert_eq!(id(kept).as_deref(), Some(kept));
        }
        for dropped in [
            "",
            &"x".repeat(129),
            "a b",
            "id\nINFO forged line",
            "+447400123123",
            "é",
        ] {
            assert_eq!(id(dropped), None, "{dropped:?}");
        }
    }

    #[test]
    fn a_providers_answer_is_bounded_and_redacted() {
        let answer = ProviderAnswer::new(
            "vonage",
            Some(format!("{}\n<b>", "7".repeat(40))),
            format!("Number 447400123123 barred\n{}", "x".repeat(400)),
        );
        assert_eq!(answer.code.as_deref(), Some("7".repeat(32).as_str()));
        assert!(
            answer.detail.starts_with("Number [number] barred"),
            "{}",
            answer.detail
        );
        assert!(!answer.detail.contains('\n'));
        assert_eq!(
            answer.detail.chars().count(),
            ProviderAnswer::MAX_DETAIL_CHARS
        );
        assert_eq!(ProviderAnswer::new("x", Some("<>".into()), "").code, None);
    }
}
