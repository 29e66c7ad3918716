//! Repository tests through the ports the use cases see, written once and run on both
//! engines: a real SQLite file (WAL mode) and a fresh PostgreSQL database per test (when
//! `MFA_TOTP_TEST_POSTGRES_URL` is set when they are built; otherwise each PostgreSQL test is
//! ignored, and the summary counts it so).

use chrono::{DateTime, TimeDelta};
use mfa_totp_application::{
    ChallengeChange, ChallengeRepository, Change, Contact, DeliveryReport, DeliveryUpdate,
    SmsSendLog, UserDirectoryReader, UserDirectoryWriter,
};
use mfa_totp_domain::{
    Actor, AuditEvent, AuditKind, Challenge, ChallengeId, ChallengePolicy, ChallengeRecord,
    ChallengeStatus, ClientId, ContextState, DeliveryStatus, Locale, Operation, PhoneNumber,
    SealedSecret, SendOutcome, SendPlan, SmsSend, StepUpContext, Timestamp, TotpPolicy, UserId,
};
use mfa_totp_storage::testing::{Engine, TestDatabase};
use mfa_totp_storage::{Migrator, PoolSettings, SqlStore, connect, migrate, open};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

mod limits;
mod outbox;
mod purge;
mod transitions;

use limits::{
    a_change_that_does_not_apply_writes_no_event,
    a_limit_admits_max_then_refuses_until_its_window_ends,
    a_refused_change_writes_nothing_and_takes_no_other_charge,
    a_zero_charge_takes_nothing_but_is_refused_at_the_limit,
    concurrent_charges_never_pass_the_limit,
    events_are_written_with_their_change_and_read_oldest_first,
    repeated_refusals_are_counted_on_one_event, undo_send_refunds_its_charges,
};
use outbox::{
    concurrent_claimers_take_each_event_once,
    events_are_claimed_in_order_per_challenge_and_settled_by_their_claim,
    the_sweep_finds_live_challenges_past_their_ttl,
};
use purge::two_purgers_at_once_delete_what_outlived_its_retention_once;
use transitions::concurrent_deciders_apply_one_change_per_version;

struct Fixture {
    engine: Engine,
    store: SqlStore,
    db: DatabaseConnection,
    _database: TestDatabase,
}

/// A migrated store on a fresh database of `engine`, opened as the server opens it: on
/// SQLite, one writer and a pool of readers.
async fn fixture(engine: Engine, test: &str) -> Fixture {
    let database = TestDatabase::create(engine, test).await;
    let store = open(database.url(), &PoolSettings::default())
        .await
        .unwrap();
    let db = store.writer().clone();
    migrate(&db).await.unwrap();
    Fixture {
        engine,
        store,
        db,
        _database: database,
    }
}

/// Runs each listed `async fn(Fixture)` as one test per engine: `sqlite::name`, `postgres::name`.
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let f = super::fixture(super::Engine::Sqlite, stringify!($test)).await;
                    super::$test(f).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(
                    not(postgres_tests),
                    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
                )]
                async fn $test() {
                    let f = super::fixture(super::Engine::Postgres, stringify!($test)).await;
                    super::$test(f).await;
                }
            )*
        }
    };
}

on_both_engines!(
    inserted_challenge_and_context_read_back_equal,
    sealed_secret_and_client_are_stored_as_given,
    unknown_challenge_is_none,
    a_change_applies_once_per_version,
    every_transition_reads_back_as_the_domain_left_it,
    a_stale_guard_writes_nothing,
    concurrent_wrong_codes_count_exactly_the_limit,
    cancel_writes_challenge_and_context_together,
    consume_writes_the_context_under_the_challenges_guard,
    concurrent_deciders_apply_one_change_per_version,
    racing_cancels_and_consumes_let_exactly_one_win,
    user_directory_upserts_phone_numbers_and_locales,
    concurrent_puts_of_a_new_user_report_one_creation,
    migrations_can_run_twice,
    concurrent_migrations_take_turns,
    timestamps_keep_milliseconds_and_drop_finer_precision,
    attributes_keep_unicode_and_nesting,
    sms_sends_are_recorded_and_take_delivery_reports,
    a_limit_admits_max_then_refuses_until_its_window_ends,
    concurrent_charges_never_pass_the_limit,
    a_refused_change_writes_nothing_and_takes_no_other_charge,
    undo_send_refunds_its_charges,
    a_zero_charge_takes_nothing_but_is_refused_at_the_limit,
    events_are_written_with_their_change_and_read_oldest_first,
    repeated_refusals_are_counted_on_one_event,
    a_change_that_does_not_apply_writes_no_event,
    two_purgers_at_once_delete_what_outlived_its_retention_once,
    events_are_claimed_in_order_per_challenge_and_settled_by_their_claim,
    concurrent_claimers_take_each_event_once,
    the_sweep_finds_live_challenges_past_their_ttl,
);

/// What the tests expect of a change that must apply.
trait ChangeExt {
    fn applied(self) -> bool;
    fn inserted(self);
}

impl ChangeExt for Change {
    fn applied(self) -> bool {
        match self {
            Change::Applied => true,
            Change::Stale => false,
            Change::Limited(reached) => panic!("unexpected limit refusal: {reached:?}"),
        }
    }

    fn inserted(self) {
        assert_eq!(self, Change::Applied);
    }
}

/// An audit event of the test challenge's user, as a use case would write it.
fn event() -> AuditEvent {
    event_of(AuditKind::Verified, None)
}

fn event_of(kind: AuditKind, challenge: Option<ChallengeId>) -> AuditEvent {
    AuditEvent::new(
        kind,
        t0(),
        &Actor::new("req-1", "payments-service"),
        challenge,
        &UserId::parse("user-1").unwrap(),
        mfa_totp_domain::AuditOutcome::Status(ChallengeStatus::Verified),
    )
}

fn t0() -> Timestamp {
    DateTime::from_timestamp_millis(1_800_000_000_123).unwrap()
}

fn new_challenge() -> (Challenge, StepUpContext) {
    let challenge = Challenge::new(
        ChallengeId::generate(),
        UserId::parse("user-1").unwrap(),
        ClientId::parse("payments-service").unwrap(),
        SealedSecret::new("k1:sealed-by-the-application".into()),
        t0(),
        &ChallengePolicy::default(),
    );
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "amount".into(),
        serde_json::json!({"value": 120, "currency": "GBP"}),
    );
    let context = StepUpContext::new(
        challenge.id(),
        Operation::parse("payments.transfer").unwrap(),
        attributes,
    )
    .with_locale(Some(Locale::parse("de-CH").unwrap()));
    (challenge, context)
}

async fn stored(f: &Fixture) -> Challenge {
    let (challenge, context) = new_challenge();
    f.store
        .apply(&ChallengeChange::insert(challenge.clone(), context).recording(vec![event()]))
        .await
        .unwrap()
        .inserted();
    challenge
}

fn plan_at(challenge: &Challenge, now: Timestamp) -> SendPlan {
    challenge
        .plan_send(now, &ChallengePolicy::default(), &TotpPolicy::default())
        .unwrap()
}

/// Writes `after` over `before`, as a use case does; whether it applied.
async fn transition(f: &Fixture, before: &Challenge, after: &Challenge) -> bool {
    f.store
        .apply(&ChallengeChange::update(before, after.clone()))
        .await
        .unwrap()
        .applied()
}

/// A challenge whose code was sent and accepted.
async fn verified(f: &Fixture) -> Challenge {
    let c = sent(f).await;
    let after = c.after_verify(t0());
    assert!(transition(f, &c, &after).await);
    after
}

async fn sent(f: &Fixture) -> Challenge {
    let c = stored(f).await;
    let after = c.after_send(&plan_at(&c, t0()));
    assert!(transition(f, &c, &after).await);
    f.store.find(c.id()).await.unwrap().unwrap()
}

async fn context_of(f: &Fixture, c: &Challenge) -> StepUpContext {
    f.store
        .find_with_context(c.id())
        .await
        .unwrap()
        .unwrap()
        .1
        .unwrap()
}

/// The value of SQLite's `PRAGMA name` on a connection of the store's writer pool.
async fn sqlite_pragma<T: sea_orm::TryGetable>(f: &Fixture, name: &str) -> T {
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

#[tokio::test]
async fn sqlite_database_runs_in_wal_mode() {
    let f = fixture(Engine::Sqlite, "wal").await;
    assert_eq!(sqlite_pragma::<String>(&f, "journal_mode").await, "wal");
}

/// Eleven connections (a writer, ten readers) at SQLite's default of 2 MiB each took a
/// third of the server's memory: each keeps 512 KiB.
#[tokio::test]
async fn sqlite_connections_keep_a_small_page_cache() {
    let f = fixture(Engine::Sqlite, "cache_size").await;
    let kib: i64 = sqlite_pragma(&f, "cache_size").await;
    assert_eq!(kib, -512, "negative: KiB");
}

async fn inserted_challenge_and_context_read_back_equal(f: Fixture) {
    let (challenge, context) = new_challenge();
    f.store
        .apply(&ChallengeChange::insert(challenge.clone(), context.clone()))
        .await
        .unwrap()
        .inserted();
    assert_eq!(
        f.store.find(challenge.id()).await.unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(
        f.store.find_with_context(challenge.id()).await.unwrap(),
        Some((challenge, Some(context)))
    );
}

async fn sealed_secret_and_client_are_stored_as_given(f: Fixture) {
    let c = stored(&f).await;
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            format!(
                "SELECT secret_sealed, client_id FROM challenges WHERE id = '{}'",
                c.id()
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let sealed: String = row.try_get_by_index(0).unwrap();
    let client: String = row.try_get_by_index(1).unwrap();
    assert_eq!(sealed, c.secret().as_str());
    assert_eq!(client, "payments-service");
    // A row from before clients were recorded reads back without one: any client may act.
    f.db.execute_unprepared(&format!(
        "UPDATE challenges SET client_id = NULL WHERE id = '{}'",
        c.id()
    ))
    .await
    .unwrap();
    let legacy = f.store.find(c.id()).await.unwrap().unwrap();
    assert_eq!(legacy.client(), None);
    assert!(legacy.is_owned_by(&ClientId::parse("anyone").unwrap()));
}

async fn unknown_challenge_is_none(f: Fixture) {
    assert_eq!(f.store.find(ChallengeId::generate()).await.unwrap(), None);
    assert_eq!(
        f.store
            .find_with_context(ChallengeId::generate())
            .await
            .unwrap(),
        None
    );
}

async fn a_change_applies_once_per_version(f: Fixture) {
    let c = stored(&f).await;
    let plan = plan_at(&c, t0());
    let after = c.after_send(&plan);
    assert!(transition(&f, &c, &after).await);
    assert!(
        !transition(&f, &c, &after).await,
        "a change decided on an older version must lose"
    );
    let back = f.store.find(c.id()).await.unwrap().unwrap();
    assert_eq!(back, after);
    assert_eq!((back.version(), back.send_count()), (1, 1));
}

async fn every_transition_reads_back_as_the_domain_left_it(f: Fixture) {
    let policy = ChallengePolicy {
        max_failed_attempts: 2,
        ..ChallengePolicy::default()
    };
    let c = stored(&f).await;
    let sent = c.after_send(&plan_at(&c, t0()));
    let undone = sent.after_undo_send(&c);
    let resent = undone.after_send(&plan_at(&undone, t0() + TimeDelta::seconds(1)));
    let wrong = resent.after_failed_attempt(&policy);
    let locked = wrong.after_failed_attempt(&policy);
    let mut before = c;
    for after in [sent, undone, resent, wrong, locked] {
        assert!(transition(&f, &before, &after).await, "{after:?}");
        assert_eq!(f.store.find(after.id()).await.unwrap().unwrap(), after);
        before = after;
    }
    assert_eq!(before.status(), ChallengeStatus::Locked);
    assert_eq!(before.version(), 5);
}

async fn a_stale_guard_writes_nothing(f: Fixture) {
    let c = stored(&f).await;
    let plan = plan_at(&c, t0());
    let sent = c.after_send(&plan);
    assert!(transition(&f, &c, &sent).await);
    let wrong = sent.after_failed_attempt(&ChallengePolicy::default());
    assert!(transition(&f, &sent, &wrong).await);
    // The undo was decided on the version the send left: a wrong code came since.
    let undo = ChallengeChange::update(&sent, sent.after_undo_send(&c))
        .recording(vec![event_of(AuditKind::SendFailed, Some(c.id()))]);
    assert_eq!(f.store.apply(&undo).await.unwrap(), Change::Stale);
    assert_eq!(f.store.find(c.id()).await.unwrap().unwrap(), wrong);
    let events = mfa_totp_application::AuditLog::events(&f.store, c.id())
        .await
        .unwrap();
    assert!(
        events.iter().all(|e| e.kind != AuditKind::SendFailed),
        "{events:?}"
    );
}

async fn concurrent_wrong_codes_count_exactly_the_limit(f: Fixture) {
    let c = sent(&f).await;
    let id = c.id();
    let policy = ChallengePolicy::default();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = f.store.clone();
            tokio::spawn(async move {
                // What `:verify` does: read, let the domain decide, write over the version
                // read; a stale write decides again on what the winner left.
                loop {
                    let before = store.find(id).await.unwrap().unwrap();
                    if before.verifiable_code(t0(), &policy).is_err() {
                        return false;
                    }
                    let change =
                        ChallengeChange::update(&before, before.after_failed_attempt(&policy));
                    if store.apply(&change).await.unwrap().applied() {
                        return true;
                    }
                }
            })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        counted += usize::from(task.await.unwrap());
    }
    assert_eq!(counted, 5);
    let after = f.store.find(c.id()).await.unwrap().unwrap();
    assert_eq!(
        (after.failed_attempts(), after.status(), after.version()),
        (5, ChallengeStatus::Locked, 6)
    );
}

async fn cancel_writes_challenge_and_context_together(f: Fixture) {
    let c = stored(&f).await;
    let context = context_of(&f, &c).await;
    let cancelled = c.after_cancel(t0()).unwrap();
    let change = ChallengeChange::update(&c, cancelled.clone())
        .with_context(context.after_cancel())
        .recording(vec![event_of(AuditKind::Cancelled, Some(c.id()))]);
    assert_eq!(f.store.apply(&change).await.unwrap(), Change::Applied);
    assert_eq!(f.store.apply(&change).await.unwrap(), Change::Stale);
    let (back, back_context) = f.store.find_with_context(c.id()).await.unwrap().unwrap();
    assert_eq!(back, cancelled);
    assert_eq!(back_context.unwrap().state, ContextState::Cancelled);
}

async fn consume_writes_the_context_under_the_challenges_guard(f: Fixture) {
    let c = verified(&f).await;
    let context = context_of(&f, &c).await;
    let at = t0() + TimeDelta::seconds(1);
    let consume =
        ChallengeChange::update(&c, c.after_consume()).with_context(context.after_consume(at));
    assert_eq!(f.store.apply(&consume).await.unwrap(), Change::Applied);
    assert_eq!(f.store.apply(&consume).await.unwrap(), Change::Stale);
    // A cancel decided before the consume loses, and changes nothing.
    let cancel = ChallengeChange::update(&c, c.after_cancel(at).unwrap())
        .with_context(context.after_cancel());
    assert_eq!(f.store.apply(&cancel).await.unwrap(), Change::Stale);
    let (back, back_context) = f.store.find_with_context(c.id()).await.unwrap().unwrap();
    assert_eq!(back.status(), ChallengeStatus::Verified);
    let back_context = back_context.unwrap();
    assert_eq!(
        (back_context.state, back_context.consumed_at),
        (ContextState::Consumed, Some(at))
    );
}

fn contact(phone: &str, locale: Option<&str>) -> Contact {
    Contact {
        phone: PhoneNumber::parse(phone).unwrap(),
        locale: locale.map(|l| Locale::parse(l).unwrap()),
    }
}

async fn user_directory_upserts_phone_numbers_and_locales(f: Fixture) {
    let user = UserId::parse("user-9").unwrap();
    assert_eq!(f.store.contact(&user).await.unwrap(), None);
    let first = contact("+447400123123", Some("pt-BR"));
    let second = contact("+15555550100", None);
    assert!(f.store.put_contact(&user, &first, t0()).await.unwrap());
    assert_eq!(f.store.contact(&user).await.unwrap(), Some(first));
    assert!(!f.store.put_contact(&user, &second, t0()).await.unwrap());
    assert_eq!(f.store.contact(&user).await.unwrap(), Some(second));
}

async fn migrations_can_run_twice(f: Fixture) {
    Migrator::up(&f.db, None).await.unwrap();
    assert!(
        Migrator::get_pending_migrations(&f.db)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_puts_of_a_new_user_report_one_creation(f: Fixture) {
    let user = UserId::parse("user-race").unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = f.store.clone();
            let user = user.clone();
            tokio::spawn(async move {
                let phone = contact(&format!("+4474001231{i:02}"), None);
                store.put_contact(&user, &phone, t0()).await.unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap());
    }
    assert_eq!(created, 1);
    assert!(f.store.contact(&user).await.unwrap().is_some());
}

async fn concurrent_migrations_take_turns(f: Fixture) {
    // Sixteen pools on another fresh database, as sixteen instances starting at once.
    let database = TestDatabase::create(f.engine, "concurrent_migrations_take_turns").await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let url = database.url().to_owned();
            tokio::spawn(async move {
                let db = connect(&url, &PoolSettings::default()).await.unwrap();
                let result = migrate(&db).await;
                db.close().await.unwrap();
                result
            })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("every instance's migration succeeds");
    }
    let db = connect(database.url(), &PoolSettings::default())
        .await
        .unwrap();
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        Migrator::get_applied_migrations(&db).await.unwrap().len(),
        Migrator::migrations().len()
    );
}

async fn timestamps_keep_milliseconds_and_drop_finer_precision(f: Fixture) {
    // Both engines store UTC milliseconds; a finer instant comes back truncated, alike.
    let fine = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
    let (challenge, context) = new_challenge();
    let challenge = Challenge::restore(ChallengeRecord {
        created_at: fine,
        ..challenge.to_record()
    })
    .unwrap();
    f.store
        .apply(&ChallengeChange::insert(challenge.clone(), context))
        .await
        .unwrap()
        .inserted();
    let back = f.store.find(challenge.id()).await.unwrap().unwrap();
    assert_eq!(
        back.created_at().timestamp_millis(),
        fine.timestamp_millis()
    );
    assert_eq!(back.created_at().timestamp_subsec_nanos(), 123_000_000);
}

async fn attributes_keep_unicode_and_nesting(f: Fixture) {
    let (challenge, _) = new_challenge();
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "payee".into(),
        serde_json::json!({"name": "Zoë 👩‍💻 Ünïcode", "list": [1, 2.5, null, true], "empty": {}, "nul": "a\u{0}b\\u0000\"'; --"}),
    );
    let context = StepUpContext::new(
        challenge.id(),
        Operation::parse("payments.transfer").unwrap(),
        attributes.clone(),
    );
    f.store
        .apply(&ChallengeChange::insert(challenge.clone(), context))
        .await
        .unwrap()
        .inserted();
    let back = context_of(&f, &challenge).await;
    assert_eq!(back.attributes, attributes);
}

async fn racing_cancels_and_consumes_let_exactly_one_win(f: Fixture) {
    let c = verified(&f).await;
    let context = context_of(&f, &c).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = f.store.clone();
            let (c, context) = (c.clone(), context.clone());
            tokio::spawn(async move {
                let (what, change) = if i % 2 == 0 {
                    (
                        "consume",
                        ChallengeChange::update(&c, c.after_consume())
                            .with_context(context.after_consume(t0())),
                    )
                } else {
                    (
                        "cancel",
                        ChallengeChange::update(&c, c.after_cancel(t0()).unwrap())
                            .with_context(context.after_cancel()),
                    )
                };
                (what, store.apply(&change).await.unwrap().applied())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (what, won) = task.await.unwrap();
        if won {
            winners.push(what);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (challenge, context) = f.store.find_with_context(c.id()).await.unwrap().unwrap();
    let context = context.unwrap();
    match winners[0] {
        "consume" => assert_eq!(
            (context.state, challenge.status()),
            (ContextState::Consumed, ChallengeStatus::Verified)
        ),
        _ => assert_eq!(
            (context.state, challenge.status()),
            (ContextState::Cancelled, ChallengeStatus::Cancelled)
        ),
    }
}

async fn sms_sends_are_recorded_and_take_delivery_reports(f: Fixture) {
    let c = stored(&f).await;
    assert_eq!(f.store.last_send(c.id()).await.unwrap(), None);
    let failed = SmsSend {
        challenge_id: c.id(),
        outcome: SendOutcome::Unavailable,
        provider: None,
        message_id: None,
        chain_position: None,
        attempts: 0,
        latency_ms: 1_500,
        delivery: None,
        sent_at: t0(),
        segments: 1,
        error_code: Some("HTTP 503".into()),
    };
    let carried = SmsSend {
        outcome: SendOutcome::Accepted,
        provider: Some("twilio".into()),
        message_id: Some("SM1".into()),
        chain_position: Some(0),
        attempts: 2,
        latency_ms: 120,
        sent_at: t0() + TimeDelta::seconds(31),
        segments: 3,
        error_code: None,
        ..failed.clone()
    };
    f.store.log_send(&failed, &event()).await.unwrap();
    f.store.log_send(&carried, &event()).await.unwrap();
    assert_eq!(
        f.store.last_send(c.id()).await.unwrap(),
        Some(carried.clone())
    );
    let at = t0() + TimeDelta::seconds(40);
    let report = |provider: &str, id: &str, status, code: Option<&str>| DeliveryReport {
        provider: provider.into(),
        message_id: id.into(),
        status,
        error_code: code.map(str::to_owned),
    };
    let found = |applied| {
        Some(DeliveryUpdate {
            challenge_id: c.id(),
            applied,
        })
    };
    let apply = |r: DeliveryReport| {
        let store = f.store.clone();
        async move { store.update_delivery(&r, at).await.unwrap() }
    };
    let delivery = || async { f.store.last_send(c.id()).await.unwrap().unwrap() };
    assert_eq!(
        apply(report("twilio", "SM1", DeliveryStatus::Sent, None)).await,
        found(true)
    );
    assert_eq!(
        apply(report(
            "twilio",
            "SM1",
            DeliveryStatus::PartiallyDelivered,
            None
        ))
        .await,
        found(true)
    );
    assert_eq!(
        apply(report(
            "twilio",
            "SM1",
            DeliveryStatus::Undelivered,
            Some("30008")
        ))
        .await,
        found(true)
    );
    let last = delivery().await;
    assert_eq!(
        (last.delivery, last.error_code.as_deref()),
        (Some(DeliveryStatus::Undelivered), Some("30008"))
    );
    // Late or replayed reports of an earlier stage, or another final status, change nothing.
    for status in [
        DeliveryStatus::Queued,
        DeliveryStatus::Sent,
        DeliveryStatus::PartiallyDelivered,
        DeliveryStatus::Delivered,
    ] {
        assert_eq!(
            apply(report("twilio", "SM1", status, None)).await,
            found(false),
            "{status}"
        );
    }
    assert_eq!(delivery().await.delivery, Some(DeliveryStatus::Undelivered));
    assert_eq!(
        apply(report("vonage", "SM1", DeliveryStatus::Failed, None)).await,
        None,
        "another provider's id"
    );
    assert_eq!(
        apply(report("twilio", "SM2", DeliveryStatus::Failed, None)).await,
        None
    );
}
