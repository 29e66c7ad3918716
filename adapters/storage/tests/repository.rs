//! Repository tests on a real SQLite file (WAL mode), through the ports the use cases see.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use mfa_totp_application::{
    ChallengeRepository, StepUpContextRepository, UserDirectory, UserRegistry,
};
use mfa_totp_crypto::AesGcmCipher;
use mfa_totp_domain::{
    Challenge, ChallengeId, ChallengePolicy, ChallengeStatus, ContextState, Operation, PhoneNumber,
    SendPlan, StepUpContext, Timestamp, TotpPolicy, TotpSecret, UserId,
};
use mfa_totp_storage::{Migrator, PoolSettings, SqlStore, connect};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Fixture {
    store: SqlStore,
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let db = connect(&url, &PoolSettings::default()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let cipher = Arc::new(AesGcmCipher::from_base64_keys([("k1", KEY)], "k1").unwrap());
    Fixture {
        store: SqlStore::new(db.clone(), cipher),
        db,
        _dir: dir,
    }
}

fn t0() -> Timestamp {
    DateTime::from_timestamp_millis(1_800_000_000_123).unwrap()
}

fn new_challenge() -> (Challenge, StepUpContext) {
    let challenge = Challenge::new(
        ChallengeId::generate(),
        UserId::parse("user-1").unwrap(),
        TotpSecret::from_bytes([5; 20]),
        t0(),
        &ChallengePolicy::default(),
    );
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "amount".into(),
        serde_json::json!({"value": 120, "currency": "GBP"}),
    );
    let context = StepUpContext::new(
        challenge.id,
        Operation::parse("payments.transfer").unwrap(),
        attributes,
    );
    (challenge, context)
}

async fn stored(f: &Fixture) -> Challenge {
    let (challenge, context) = new_challenge();
    f.store.insert(&challenge, &context).await.unwrap();
    challenge
}

fn plan_at(challenge: &Challenge, now: Timestamp) -> SendPlan {
    challenge
        .plan_send(now, &ChallengePolicy::default(), &TotpPolicy::default())
        .unwrap()
}

async fn sent(f: &Fixture) -> Challenge {
    let c = stored(f).await;
    assert!(f.store.record_send(c.id, &plan_at(&c, t0())).await.unwrap());
    f.store.find(c.id).await.unwrap().unwrap()
}

#[tokio::test]
async fn sqlite_database_runs_in_wal_mode() {
    let f = fixture().await;
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn inserted_challenge_and_context_read_back_equal() {
    let f = fixture().await;
    let (challenge, context) = new_challenge();
    f.store.insert(&challenge, &context).await.unwrap();
    assert_eq!(
        f.store.find(challenge.id).await.unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(
        f.store.find_context(challenge.id).await.unwrap(),
        Some(context)
    );
}

#[tokio::test]
async fn secret_is_stored_encrypted() {
    let f = fixture().await;
    let c = stored(&f).await;
    let row =
        f.db.query_one_raw(Statement::from_sql_and_values(
            f.db.get_database_backend(),
            "SELECT secret_sealed FROM challenges WHERE id = ?",
            [c.id.to_string().into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let sealed: String = row.try_get_by_index(0).unwrap();
    assert!(sealed.starts_with("k1:"));
    assert!(
        !sealed.contains("BQUFBQUF"),
        "the base64 of the raw secret must not appear"
    );
}

#[tokio::test]
async fn unknown_challenge_is_none() {
    let f = fixture().await;
    assert_eq!(f.store.find(ChallengeId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn record_send_applies_once_per_snapshot() {
    let f = fixture().await;
    let c = stored(&f).await;
    let plan = plan_at(&c, t0());
    assert!(f.store.record_send(c.id, &plan).await.unwrap());
    assert!(
        !f.store.record_send(c.id, &plan).await.unwrap(),
        "a stale snapshot must lose"
    );
    let after = f.store.find(c.id).await.unwrap().unwrap();
    assert_eq!(after.status, ChallengeStatus::CodeSent);
    assert_eq!(after.send_count, 1);
    assert_eq!(after.code, Some(plan.code));
    assert_eq!(after.last_sent_at, Some(t0()));
}

#[tokio::test]
async fn undo_send_restores_the_state_before_the_send() {
    let f = fixture().await;
    let c = stored(&f).await;
    let plan = plan_at(&c, t0());
    assert!(f.store.record_send(c.id, &plan).await.unwrap());
    assert!(f.store.undo_send(&c, &plan).await.unwrap());
    assert_eq!(f.store.find(c.id).await.unwrap().unwrap(), c);
    assert!(
        !f.store.undo_send(&c, &plan).await.unwrap(),
        "undo applies once"
    );
}

#[tokio::test]
async fn failed_attempts_lock_the_challenge_at_the_limit() {
    let f = fixture().await;
    let c = sent(&f).await;
    for expected in 1..=3 {
        assert!(f.store.record_failed_attempt(c.id, 3).await.unwrap());
        let now = f.store.find(c.id).await.unwrap().unwrap();
        assert_eq!(now.failed_attempts, expected);
    }
    let locked = f.store.find(c.id).await.unwrap().unwrap();
    assert_eq!(locked.status, ChallengeStatus::Locked);
    assert!(!f.store.record_failed_attempt(c.id, 3).await.unwrap());
    assert_eq!(
        f.store.find(c.id).await.unwrap().unwrap().failed_attempts,
        3
    );
}

#[tokio::test]
async fn concurrent_failed_attempts_never_count_past_the_limit() {
    let f = fixture().await;
    let c = sent(&f).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = f.store.clone();
            tokio::spawn(async move { store.record_failed_attempt(c.id, 5).await.unwrap() })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        counted += usize::from(task.await.unwrap());
    }
    assert_eq!(counted, 5);
    let after = f.store.find(c.id).await.unwrap().unwrap();
    assert_eq!(
        (after.failed_attempts, after.status),
        (5, ChallengeStatus::Locked)
    );
}

#[tokio::test]
async fn mark_verified_applies_once_and_only_for_the_code_in_play() {
    let f = fixture().await;
    let c = sent(&f).await;
    let code = c.code.unwrap();
    let mut other = code;
    other.step += 1;
    let at = t0() + TimeDelta::seconds(10);
    assert!(!f.store.mark_verified(c.id, other, at).await.unwrap());
    assert!(f.store.mark_verified(c.id, code, at).await.unwrap());
    assert!(!f.store.mark_verified(c.id, code, at).await.unwrap());
    let after = f.store.find(c.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.verified_at),
        (ChallengeStatus::Verified, Some(at))
    );
}

#[tokio::test]
async fn mark_expired_applies_only_past_the_ttl() {
    let f = fixture().await;
    let c = stored(&f).await;
    assert!(
        !f.store
            .mark_expired(c.id, c.expires_at - TimeDelta::milliseconds(1))
            .await
            .unwrap()
    );
    assert!(f.store.mark_expired(c.id, c.expires_at).await.unwrap());
    assert_eq!(
        f.store.find(c.id).await.unwrap().unwrap().status,
        ChallengeStatus::Expired
    );
}

#[tokio::test]
async fn cancel_withdraws_challenge_and_context_together() {
    let f = fixture().await;
    let c = stored(&f).await;
    assert!(
        !f.store
            .cancel(c.id, ChallengeStatus::CodeSent)
            .await
            .unwrap(),
        "stale status loses"
    );
    assert!(
        f.store
            .cancel(c.id, ChallengeStatus::Pending)
            .await
            .unwrap()
    );
    assert_eq!(
        f.store.find(c.id).await.unwrap().unwrap().status,
        ChallengeStatus::Cancelled
    );
    let context = f.store.find_context(c.id).await.unwrap().unwrap();
    assert_eq!(context.state, ContextState::Cancelled);
}

#[tokio::test]
async fn cancel_after_consume_changes_nothing() {
    let f = fixture().await;
    let c = sent(&f).await;
    assert!(
        f.store
            .mark_verified(c.id, c.code.unwrap(), t0())
            .await
            .unwrap()
    );
    assert!(f.store.consume(c.id, t0()).await.unwrap());
    assert!(
        !f.store
            .cancel(c.id, ChallengeStatus::Verified)
            .await
            .unwrap()
    );
    assert_eq!(
        f.store.find(c.id).await.unwrap().unwrap().status,
        ChallengeStatus::Verified,
        "rolled back"
    );
}

#[tokio::test]
async fn consume_needs_a_verified_challenge_and_applies_once() {
    let f = fixture().await;
    let c = sent(&f).await;
    assert!(
        !f.store.consume(c.id, t0()).await.unwrap(),
        "not verified yet"
    );
    assert!(
        f.store
            .mark_verified(c.id, c.code.unwrap(), t0())
            .await
            .unwrap()
    );
    let at = t0() + TimeDelta::seconds(1);
    assert!(f.store.consume(c.id, at).await.unwrap());
    assert!(!f.store.consume(c.id, at).await.unwrap());
    let context = f.store.find_context(c.id).await.unwrap().unwrap();
    assert_eq!(
        (context.state, context.consumed_at),
        (ContextState::Consumed, Some(at))
    );
}

#[tokio::test]
async fn user_directory_upserts_phone_numbers() {
    let f = fixture().await;
    let user = UserId::parse("user-9").unwrap();
    assert_eq!(f.store.phone_number(&user).await.unwrap(), None);
    let first = PhoneNumber::parse("+447700900123").unwrap();
    let second = PhoneNumber::parse("+15555550100").unwrap();
    assert!(f.store.put_phone_number(&user, &first, t0()).await.unwrap());
    assert_eq!(f.store.phone_number(&user).await.unwrap(), Some(first));
    assert!(
        !f.store
            .put_phone_number(&user, &second, t0())
            .await
            .unwrap()
    );
    assert_eq!(f.store.phone_number(&user).await.unwrap(), Some(second));
}

#[tokio::test]
async fn migrations_can_run_twice() {
    let f = fixture().await;
    Migrator::up(&f.db, None).await.unwrap();
    assert!(
        Migrator::get_pending_migrations(&f.db)
            .await
            .unwrap()
            .is_empty()
    );
}
