//! Events pushed to operation services. Which audited change is an event is the domain's
//! rule ([`EventType::of`]); who receives it is the challenge's creator, when it subscribes.
//! The event is marked with its subscriber before the change is applied, so that storage
//! writes it with the change, in one transaction: the audit trail is the outbox. The
//! [`Dispatcher`] then delivers it, at least once, in order per challenge, with exponential
//! backoff and jitter, and gives it up after [`DeliveryPolicy::max_attempts`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use mfa_totp_domain::{
    Actor, AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeEvent, ClientId, EventType,
    event_id,
};

use crate::audit::log_event;
use crate::{
    ChallengeChange, Change, ClaimedEvent, EventError, EventOutbox, EventSender, StoreError,
    UseCases,
};

/// Which events each operation service receives, by the `sub` of its tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    by_client: HashMap<ClientId, BTreeSet<EventType>>,
}

impl Subscriptions {
    pub fn new(by_client: HashMap<ClientId, BTreeSet<EventType>>) -> Self {
        Self { by_client }
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.values().all(BTreeSet::is_empty)
    }

    /// Who `event` of `challenge` is pushed to: its creator, if it subscribes to the event's
    /// type. Never another client.
    pub fn subscriber(&self, challenge: &Challenge, event: &AuditEvent) -> Option<ClientId> {
        let kind = EventType::of(event)?;
        let creator = challenge.client()?;
        self.by_client
            .get(creator)
            .is_some_and(|types| types.contains(&kind))
            .then(|| creator.clone())
    }

    /// `events` of `challenge`, each marked with its subscriber.
    pub fn mark(&self, challenge: &Challenge, events: &[AuditEvent]) -> Vec<AuditEvent> {
        events
            .iter()
            .map(|e| e.clone().notifying(self.subscriber(challenge, e)))
            .collect()
    }
}

/// The metric of deliveries, by `type` and `outcome` (`delivered`, `failed` for an attempt
/// that will be retried, `gave_up`).
pub const EVENT_DELIVERIES: &str = "mfa_totp_event_deliveries_total";

/// Registers [`EVENT_DELIVERIES`] at 0 for every type and outcome.
pub fn describe_and_register() {
    metrics::describe_counter!(
        EVENT_DELIVERIES,
        "Attempts to push an event to an operation service, by type and outcome (delivered, failed: retried later, gave_up: stopped after events.max_attempts)."
    );
    for kind in EventType::ALL {
        for outcome in ["delivered", "failed", "gave_up"] {
            metrics::counter!(EVENT_DELIVERIES, "type" => kind.as_str(), "outcome" => outcome)
                .increment(0);
        }
    }
}

impl UseCases {
    /// Applies `change`, its events marked with their subscribers first.
    pub(crate) async fn apply(&self, change: &ChallengeChange) -> Result<Change, StoreError> {
        if self.subscriptions.is_empty() {
            return self.challenges.apply(change).await;
        }
        let marked = ChallengeChange {
            events: self.subscriptions.mark(&change.challenge, &change.events),
            ..change.clone()
        };
        self.challenges.apply(&marked).await
    }

    /// Marks at most `batch` live challenges past their TTL `EXPIRED`, each audited (and
    /// pushed as `challenge.expired`) like an expiry a request finds. Returns how many.
    pub async fn expire_overdue(&self, batch: u32) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let overdue = self.challenges.find_overdue(now, batch).await?;
        let who = Actor::new(format!("expiry-{}", now.timestamp_millis()), SYSTEM_ACTOR);
        for challenge in &overdue {
            self.expire(&who, challenge, now).await?;
        }
        Ok(overdue.len())
    }
}

/// The actor of what the service does on its own: expiring challenges, giving events up.
pub const SYSTEM_ACTOR: &str = "mfa-totp";

/// How events are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts before an event is given up.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each, up to `backoff_max`,
    /// and each wait is drawn between half of it and all of it (jitter).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The longest one attempt takes (connect included).
    pub attempt_timeout: Duration,
    /// The most events one instance delivers at once (each of another challenge).
    pub batch: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 15,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            attempt_timeout: Duration::from_secs(10),
            batch: 32,
        }
    }
}

impl DeliveryPolicy {
    /// How long a claim holds an event: twice what an attempt can take, so that only a
    /// crashed instance's events are claimed again.
    pub fn lease(&self) -> Duration {
        self.attempt_timeout * 2
    }

    /// The wait after failed attempt `attempt` (from 1), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.backoff_base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(self.backoff_max)
    }

    /// [`Self::backoff`] with jitter: `fraction` (in `[0, 1)`) of its second half added to
    /// its first half.
    pub fn jittered(&self, attempt: u32, fraction: f64) -> Duration {
        let wait = self.backoff(attempt);
        wait / 2 + (wait / 2).mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// A random fraction in `[0, 1)` for jitter.
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Delivers the outbox: claims due events ([`Self::claim_due`]) and pushes each
/// ([`Self::deliver`]).
pub struct Dispatcher {
    pub use_cases: UseCases,
    pub outbox: Arc<dyn EventOutbox>,
    pub sender: Arc<dyn EventSender>,
    pub policy: DeliveryPolicy,
}

impl Dispatcher {
    /// Claims at most `room` due events (at most one per challenge), each leased for
    /// [`DeliveryPolicy::lease`], for [`Self::deliver`] to take one by one. The caller
    /// delivers them concurrently and claims again as deliveries finish, so that a
    /// subscriber that hangs holds up only its own events.
    pub async fn claim_due(&self, room: u32) -> Result<Vec<ClaimedEvent>, StoreError> {
        let now = self.use_cases.clock.now();
        let lease_until = now + self.policy.lease();
        self.outbox.claim(now, lease_until, room).await
    }

    /// Pushes one claimed event and settles it: delivered, due again after a jittered
    /// backoff, or given up (audited) after its last attempt.
    pub async fn deliver(&self, claimed: ClaimedEvent) -> Result<(), StoreError> {
        let ClaimedEvent {
            row,
            event: audited,
            attempt,
        } = claimed;
        // Only an event of a type this version pushes is ever marked; an entry that is not
        // one (written by a version that pushed more) has nothing to push.
        let (Some(kind), Some(challenge_id), Some(subscriber)) = (
            EventType::of(&audited),
            audited.challenge_id,
            audited.subscriber.clone(),
        ) else {
            return self.outbox.delivered(row).await;
        };
        let id = event_id(challenge_id, row);
        let result = match self
            .use_cases
            .challenges
            .find_with_context(challenge_id)
            .await?
        {
            Some((_, Some(context))) => {
                let event = ChallengeEvent {
                    id: id.clone(),
                    event_type: kind,
                    at: audited.at,
                    challenge_id,
                    subject: audited.subject.clone(),
                    operation: context.operation.as_str().to_owned(),
                    context_digest: context.digest(),
                    delivery: match audited.outcome {
                        AuditOutcome::Delivery(status) => {
                            Some((status, audited.error_code.clone()))
                        }
                        _ => None,
                    },
                };
                self.sender.deliver(&subscriber, &event).await
            }
            _ => Err(EventError {
                code: "purged".into(),
                detail: "the challenge or its context is no longer stored".into(),
                permanent: true,
            }),
        };
        let count = |outcome: &'static str| {
            metrics::counter!(EVENT_DELIVERIES, "type" => kind.as_str(), "outcome" => outcome)
                .increment(1);
        };
        let error = match result {
            Ok(()) => {
                self.outbox.delivered(row).await?;
                count("delivered");
                tracing::info!(event_id = %id, event_type = kind.as_str(), subscriber = %subscriber, challenge_id = %challenge_id, attempt, "event delivered");
                return Ok(());
            }
            Err(error) => error,
        };
        if error.permanent || attempt >= self.policy.max_attempts {
            let now = self.use_cases.clock.now();
            let record = AuditEvent::new(
                AuditKind::EventUndelivered,
                now,
                &Actor::new(id.clone(), SYSTEM_ACTOR),
                Some(challenge_id),
                &audited.subject,
                AuditOutcome::GaveUp,
            )
            .with_message(None, Some(id.clone()))
            .with_error_code(Some(error.code.clone()));
            self.outbox.give_up(row, attempt, &record).await?;
            count("gave_up");
            log_event(&record);
            tracing::warn!(event_id = %id, event_type = kind.as_str(), subscriber = %subscriber, challenge_id = %challenge_id, attempt, error = %error, "event given up");
            return Ok(());
        }
        let wait = self.policy.jittered(attempt, random_fraction());
        let due = self.use_cases.clock.now() + wait;
        self.outbox.retry_at(row, attempt, due).await?;
        count("failed");
        tracing::info!(event_id = %id, event_type = kind.as_str(), subscriber = %subscriber, attempt, retry_in_ms = wait.as_millis() as u64, error = %error, "event delivery failed; will retry");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use mfa_totp_domain::{ChallengeStatus, ContextState};

    use super::*;
    use crate::ports::{MockEventOutbox, MockEventSender};
    use crate::test_support::*;

    fn subscribed(types: &[EventType]) -> Subscriptions {
        Subscriptions::new(HashMap::from([(client(), types.iter().copied().collect())]))
    }

    fn audited(kind: AuditKind, outcome: AuditOutcome) -> AuditEvent {
        AuditEvent::new(kind, now(), &who(), Some(challenge_id()), &user(), outcome)
    }

    fn verified_event() -> AuditEvent {
        audited(
            AuditKind::Verified,
            AuditOutcome::Status(ChallengeStatus::Verified),
        )
    }

    #[test]
    fn only_the_creator_receives_and_only_what_it_subscribed_to() {
        let challenge = challenge(ChallengeStatus::Verified);
        let verified = verified_event();
        let subscriptions = subscribed(&[EventType::ChallengeVerified]);
        assert_eq!(
            subscriptions.subscriber(&challenge, &verified),
            Some(client())
        );
        let locked = audited(
            AuditKind::Locked,
            AuditOutcome::Status(ChallengeStatus::Locked),
        );
        assert_eq!(subscriptions.subscriber(&challenge, &locked), None);
        let sent = audited(
            AuditKind::CodeSent,
            AuditOutcome::Status(ChallengeStatus::CodeSent),
        );
        assert_eq!(
            subscribed(&EventType::ALL).subscriber(&challenge, &sent),
            None
        );
        let others = Subscriptions::new(HashMap::from([(
            ClientId::parse("someone-else").unwrap(),
            EventType::ALL.into_iter().collect(),
        )]));
        assert_eq!(others.subscriber(&challenge, &verified), None);
        assert!(Subscriptions::default().is_empty());
    }

    #[tokio::test]
    async fn a_change_is_applied_with_its_events_marked_for_the_subscriber() {
        let mut mocks = Mocks::new();
        mocks.subscriptions = subscribed(&[EventType::ChallengeCancelled]);
        mocks
            .challenges
            .expect_apply()
            .withf(|change| {
                change.events.len() == 1 && change.events[0].subscriber == Some(client())
            })
            .times(1)
            .returning(|_| Ok(Change::Applied));
        let use_cases = mocks.build();
        let before = challenge(ChallengeStatus::Pending);
        let after = before.after_cancel(now()).unwrap();
        let event = audited(
            AuditKind::Cancelled,
            AuditOutcome::Status(ChallengeStatus::Cancelled),
        );
        let change = ChallengeChange::update(&before, after).recording(vec![event]);
        assert_eq!(use_cases.apply(&change).await.unwrap(), Change::Applied);
    }

    fn claimed(attempt: u32) -> ClaimedEvent {
        ClaimedEvent {
            row: 41,
            event: verified_event().notifying(Some(client())),
            attempt,
        }
    }

    fn dispatcher(
        outbox: MockEventOutbox,
        answer: Result<(), EventError>,
        seen: Arc<Mutex<Vec<ChallengeEvent>>>,
    ) -> Dispatcher {
        let mut sender = MockEventSender::new();
        sender.expect_deliver().returning(move |_, event| {
            seen.lock().unwrap().push(event.clone());
            answer.clone()
        });
        Dispatcher {
            use_cases: Mocks::new()
                .with_challenge(challenge(ChallengeStatus::Verified))
                .with_context(ContextState::Active)
                .build(),
            outbox: Arc::new(outbox),
            sender: Arc::new(sender),
            policy: DeliveryPolicy {
                max_attempts: 3,
                ..DeliveryPolicy::default()
            },
        }
    }

    /// Claims (room for 32) and delivers each, as the server's loop does.
    async fn deliver_due(dispatcher: &Dispatcher) {
        for claimed in dispatcher.claim_due(32).await.unwrap() {
            dispatcher.deliver(claimed).await.unwrap();
        }
    }

    fn claiming(attempt: u32) -> MockEventOutbox {
        let mut outbox = MockEventOutbox::new();
        outbox
            .expect_claim()
            .withf(|at, until, room| {
                *at == now() && *until == now() + chrono::TimeDelta::seconds(20) && *room == 32
            })
            .times(1)
            .returning(move |_, _, _| Ok(vec![claimed(attempt)]));
        outbox
    }

    fn refused() -> EventError {
        EventError {
            code: "HTTP 500".into(),
            detail: "the subscriber answered 500".into(),
            permanent: false,
        }
    }

    #[tokio::test]
    async fn a_delivered_event_names_its_challenge_context_and_stable_id() {
        let mut outbox = claiming(1);
        outbox
            .expect_delivered()
            .withf(|row| *row == 41)
            .times(1)
            .returning(|_| Ok(()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let dispatcher = dispatcher(outbox, Ok(()), seen.clone());
        deliver_due(&dispatcher).await;
        let event = seen.lock().unwrap()[0].clone();
        assert_eq!(event.id, event_id(challenge_id(), 41));
        assert_eq!(event.event_type, EventType::ChallengeVerified);
        assert_eq!(
            (event.challenge_id, &event.subject),
            (challenge_id(), &user())
        );
        assert_eq!(event.operation, "payments.transfer");
        assert_eq!(event.context_digest, context(ContextState::Active).digest());
        assert_eq!(event.at, now());
    }

    #[tokio::test]
    async fn a_failed_attempt_is_retried_after_a_jittered_backoff() {
        let mut outbox = claiming(2);
        // Attempt 2 failed: 10 s doubled from 5 s, drawn between 5 and 10 s.
        outbox
            .expect_retry_at()
            .withf(|row, attempt, due| {
                let wait = *due - now();
                *row == 41
                    && *attempt == 2
                    && wait >= chrono::TimeDelta::seconds(5)
                    && wait <= chrono::TimeDelta::seconds(10)
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let dispatcher = dispatcher(outbox, Err(refused()), Default::default());
        deliver_due(&dispatcher).await;
    }

    #[tokio::test]
    async fn the_last_failed_attempt_gives_the_event_up_in_the_trail() {
        let mut outbox = claiming(3);
        outbox
            .expect_give_up()
            .withf(|row, attempt, record| {
                *row == 41
                    && *attempt == 3
                    && record.kind == AuditKind::EventUndelivered
                    && record.outcome == AuditOutcome::GaveUp
                    && record.error_code.as_deref() == Some("HTTP 500")
                    && record.message_id == Some(event_id(challenge_id(), 41))
                    && record.actor == SYSTEM_ACTOR
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let dispatcher = dispatcher(outbox, Err(refused()), Default::default());
        deliver_due(&dispatcher).await;
    }

    #[tokio::test]
    async fn an_unsubscribed_or_purged_event_is_given_up_at_its_first_attempt() {
        let gives_up = |code: &'static str| {
            let mut outbox = claiming(1);
            outbox
                .expect_give_up()
                .withf(move |_, attempt, record| {
                    *attempt == 1 && record.error_code.as_deref() == Some(code)
                })
                .times(1)
                .returning(|_, _, _| Ok(()));
            outbox
        };
        let unsubscribed = EventError {
            code: "unsubscribed".into(),
            detail: "events.subscribers.x is not configured".into(),
            permanent: true,
        };
        let dispatcher = dispatcher(
            gives_up("unsubscribed"),
            Err(unsubscribed),
            Default::default(),
        );
        deliver_due(&dispatcher).await;

        let mut mocks = Mocks::new();
        mocks
            .challenges
            .expect_find_with_context()
            .returning(|_| Ok(None));
        let mut sender = MockEventSender::new();
        sender.expect_deliver().never();
        let purged = Dispatcher {
            use_cases: mocks.build(),
            outbox: Arc::new(gives_up("purged")),
            sender: Arc::new(sender),
            policy: DeliveryPolicy::default(),
        };
        deliver_due(&purged).await;
    }

    #[test]
    fn with_the_defaults_an_event_is_given_up_after_2_7_to_5_4_hours_of_waits() {
        let policy = DeliveryPolicy::default();
        let retries = 1..policy.max_attempts;
        let longest: Duration = retries.clone().map(|n| policy.backoff(n)).sum();
        let shortest: Duration = retries.map(|n| policy.jittered(n, 0.0)).sum();
        assert_eq!(longest, Duration::from_secs(19_515));
        assert_eq!(shortest, Duration::from_millis(9_757_500));
        assert_eq!(policy.lease(), Duration::from_secs(20));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_within_half_of_it() {
        let policy = DeliveryPolicy {
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            ..DeliveryPolicy::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.backoff(200), Duration::from_secs(60));
        assert_eq!(policy.jittered(3, 0.0), Duration::from_secs(10));
        assert_eq!(policy.jittered(3, 1.0), Duration::from_secs(20));
        let fractions: Vec<f64> = (0..50).map(|_| random_fraction()).collect();
        assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(fractions.windows(2).any(|w| w[0] != w[1]), "jitter varies");
    }
}
