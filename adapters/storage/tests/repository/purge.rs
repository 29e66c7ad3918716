//! The purge on both engines: two purgers at the same moment delete exactly what outlived
//! its retention, each row once, in small batches, and nothing younger.

use std::sync::Arc;

use chrono::TimeDelta;
use mfa_totp_application::purge::{Purger, RetentionPolicy};
use mfa_totp_application::{AuditLog, Clock, Purged};
use mfa_totp_domain::{
    AuditKind, Limit, LimitKey, LimitKind, Limits, SendOutcome, SmsSend, Timestamp, UserId,
};

use super::*;

struct At(Timestamp);

impl Clock for At {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A challenge that expired `age` before the purge (at [`t0`]), with a send record.
async fn challenge_aged(f: &Fixture, age: TimeDelta) -> ChallengeId {
    let created = t0() - age - TimeDelta::minutes(10);
    let (challenge, context) = new_challenge();
    let challenge = Challenge::restore(ChallengeRecord {
        created_at: created,
        expires_at: created + TimeDelta::minutes(10),
        ..challenge.to_record()
    })
    .unwrap();
    f.store
        .apply(
            &ChallengeChange::insert(challenge.clone(), context)
                .recording(vec![event_of(AuditKind::ChallengeCreated, None)]),
        )
        .await
        .unwrap()
        .inserted();
    let send = SmsSend {
        challenge_id: challenge.id(),
        outcome: SendOutcome::Accepted,
        provider: Some("console".into()),
        message_id: None,
        chain_position: Some(0),
        attempts: 1,
        latency_ms: 1,
        delivery: None,
        sent_at: created,
        segments: 1,
        error_code: None,
    };
    f.store
        .log_send(&send, &event_of(AuditKind::CodeSent, None))
        .await
        .unwrap();
    challenge.id()
}

async fn rows(f: &Fixture, sql: &str) -> i64 {
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

pub async fn two_purgers_at_once_delete_what_outlived_its_retention_once(f: Fixture) {
    let mut old = Vec::new();
    for _ in 0..23 {
        old.push(challenge_aged(&f, TimeDelta::days(8)).await);
    }
    let mut young = Vec::new();
    for _ in 0..4 {
        young.push(challenge_aged(&f, TimeDelta::days(6)).await);
    }
    // Every insert and send above wrote an event at t0: young. 19 more from 91 days ago.
    for _ in 0..19 {
        let mut old_event = event_of(AuditKind::Verified, None);
        old_event.at = t0() - TimeDelta::days(91);
        f.store.record(&old_event).await.unwrap();
    }
    // 11 limit windows that began two days ago, 3 that began an hour ago.
    let limits = {
        let mut limits = Limits::off();
        *limits.get_mut(LimitKind::UserSms) = Limit::new(5, 3600);
        limits
    };
    for (n, age) in (0..14).map(|n| {
        (
            n,
            if n < 11 {
                TimeDelta::days(2)
            } else {
                TimeDelta::hours(1)
            },
        )
    }) {
        let user = UserId::parse(&format!("user-{n}")).unwrap();
        let charge = limits
            .charge(LimitKind::UserSms, LimitKey::user(&user), 1, t0() - age)
            .unwrap();
        let c = stored(&f).await;
        let send =
            ChallengeChange::update(&c, c.after_send(&plan_at(&c, t0()))).charging(vec![charge]);
        assert!(f.store.apply(&send).await.unwrap().applied());
    }
    let events_before = rows(&f, "SELECT COUNT(*) AS n FROM audit_events").await;

    let purger = |store: SqlStore| Purger {
        store: Arc::new(store),
        clock: Arc::new(At(t0())),
        policy: RetentionPolicy {
            batch_size: 4,
            ..RetentionPolicy::default()
        },
    };
    // Two instances: each with its own pool on the same database, purging at once.
    let other = connect(f._database.url(), &PoolSettings::default())
        .await
        .unwrap();
    let (a, b) = (purger(f.store.clone()), purger(SqlStore::new(other)));
    let (a, b) = tokio::join!(
        tokio::spawn(async move { a.purge().await }),
        tokio::spawn(async move { b.purge().await })
    );
    let mut purged = a.unwrap().unwrap();
    purged += b.unwrap().unwrap();

    assert_eq!(
        purged,
        Purged {
            challenges: 23,
            audit_events: 19,
            limit_windows: 11
        }
    );
    for id in &old {
        assert!(f.store.find(*id).await.unwrap().is_none());
        assert!(
            f.store.last_send(*id).await.unwrap().is_none(),
            "sends go with it"
        );
        assert_eq!(
            rows(
                &f,
                &format!("SELECT COUNT(*) AS n FROM step_up_contexts WHERE challenge_id = '{id}'")
            )
            .await,
            0,
            "so does the context"
        );
    }
    for id in &young {
        assert!(f.store.find(*id).await.unwrap().is_some());
        assert!(f.store.last_send(*id).await.unwrap().is_some());
    }
    assert_eq!(
        rows(&f, "SELECT COUNT(*) AS n FROM audit_events").await,
        events_before - 19
    );
    assert_eq!(rows(&f, "SELECT COUNT(*) AS n FROM rate_limits").await, 3);
    // Nothing is left to purge.
    assert_eq!(
        purger(f.store.clone()).purge().await.unwrap(),
        Purged::default()
    );
}
