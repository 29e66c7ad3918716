//! The event outbox: events with a subscriber are written with their change, claimed oldest
//! first and one per challenge at a time, leased, and settled only by the claim that holds
//! them; concurrent claimers never take one event twice; the expiry sweep finds live
//! challenges past their TTL.

use std::collections::HashSet;

use mfa_totp_application::{AuditLog, ChallengeChange, ChallengeRepository, EventOutbox};
use mfa_totp_domain::{AuditKind, AuditOutcome, ChallengeStatus, ClientId};

use super::*;

fn subscriber() -> Option<ClientId> {
    Some(ClientId::parse("payments-service").unwrap())
}

/// A stored challenge with `kinds` as events for its subscriber (one change each).
async fn with_events(f: &Fixture, kinds: &[AuditKind]) -> ChallengeId {
    let (challenge, context) = new_challenge();
    let id = challenge.id();
    f.store
        .apply(&ChallengeChange::insert(challenge.clone(), context))
        .await
        .unwrap()
        .inserted();
    let mut before = challenge;
    for kind in kinds {
        let after = before.after_expiry();
        let event = event_of(*kind, Some(id)).notifying(subscriber());
        let change = ChallengeChange::update(&before, after.clone()).recording(vec![event]);
        assert!(f.store.apply(&change).await.unwrap().applied());
        before = after;
    }
    id
}

fn later(ms: i64) -> Timestamp {
    t0() + TimeDelta::milliseconds(ms)
}

pub async fn events_are_claimed_in_order_per_challenge_and_settled_by_their_claim(f: Fixture) {
    let a = with_events(&f, &[AuditKind::Verified, AuditKind::Consumed]).await;
    let b = with_events(&f, &[AuditKind::Cancelled]).await;
    // An event nobody subscribes to is no entry.
    f.store
        .record(&event_of(AuditKind::LimitHit, Some(b)))
        .await
        .unwrap();

    let first = f.store.claim(later(1), later(30_000), 10).await.unwrap();
    let claimed: Vec<(ChallengeId, AuditKind, u32)> = first
        .iter()
        .map(|c| (c.event.challenge_id.unwrap(), c.event.kind, c.attempt))
        .collect();
    assert_eq!(
        claimed,
        [(a, AuditKind::Verified, 1), (b, AuditKind::Cancelled, 1)],
        "one event per challenge, oldest first"
    );
    assert_eq!(first[0].event.subscriber, subscriber());
    // Leased: nothing more is due, even for another claimer.
    assert!(
        f.store
            .claim(later(2), later(30_000), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // `a`'s first event delivered: its second is due; `b`'s failed, due again later.
    f.store.delivered(first[0].row).await.unwrap();
    f.store
        .retry_at(first[1].row, 1, later(5_000))
        .await
        .unwrap();
    let second = f.store.claim(later(3), later(30_000), 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].event.kind, AuditKind::Consumed);

    // `b` again at its time: attempt 2. A retry by the stale attempt 1 changes nothing.
    let again = f
        .store
        .claim(later(5_000), later(40_000), 10)
        .await
        .unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 2));
    f.store
        .retry_at(again[0].row, 1, later(5_001))
        .await
        .unwrap();
    assert!(
        f.store
            .claim(later(6_000), later(50_000), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Given up by its claim: settled, with its EVENT_UNDELIVERED beside it.
    let record = event_of(AuditKind::EventUndelivered, Some(b));
    let record = mfa_totp_domain::AuditEvent {
        outcome: AuditOutcome::GaveUp,
        ..record
    };
    f.store.give_up(again[0].row, 2, &record).await.unwrap();
    f.store.delivered(second[0].row).await.unwrap();
    assert!(
        f.store
            .claim(later(100_000), later(200_000), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let kinds: Vec<AuditKind> = f
        .store
        .events(b)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            AuditKind::Cancelled,
            AuditKind::LimitHit,
            AuditKind::EventUndelivered
        ]
    );

    // A lease that ran out (a crashed instance) is claimed again: attempt 2, same row.
    let c = with_events(&f, &[AuditKind::Locked]).await;
    let taken = f.store.claim(later(1), later(1_000), 10).await.unwrap();
    assert_eq!(taken[0].event.challenge_id, Some(c));
    let retaken = f.store.claim(later(1_001), later(2_000), 10).await.unwrap();
    assert_eq!((retaken[0].row, retaken[0].attempt), (taken[0].row, 2));
}

pub async fn concurrent_claimers_take_each_event_once(f: Fixture) {
    let mut ids = HashSet::new();
    for _ in 0..60 {
        ids.insert(with_events(&f, &[AuditKind::Cancelled]).await);
    }
    let claimers = (0..6).map(|_| {
        let store = f.store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim(later(1), later(60_000), 7).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for claimed in batch {
                    store.delivered(claimed.row).await.unwrap();
                    mine.push(claimed.event.challenge_id.unwrap());
                }
            }
        })
    });
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    assert_eq!(all.len(), 60, "each event claimed exactly once");
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), ids);
}

pub async fn the_sweep_finds_live_challenges_past_their_ttl(f: Fixture) {
    let live = stored(&f).await;
    let verified = verified(&f).await;
    let expires = live.expires_at();
    let just_before = expires - TimeDelta::milliseconds(1);
    assert!(
        f.store
            .find_overdue(just_before, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let overdue = f.store.find_overdue(expires, 10).await.unwrap();
    let found: Vec<ChallengeId> = overdue.iter().map(|c| c.id()).collect();
    assert!(found.contains(&live.id()));
    assert!(
        !found.contains(&verified.id()),
        "a verified challenge is not live"
    );
    let expired = overdue.into_iter().find(|c| c.id() == live.id()).unwrap();
    assert_eq!(expired.status(), ChallengeStatus::Pending);
    let change = ChallengeChange::update(&expired, expired.after_expiry());
    assert!(f.store.apply(&change).await.unwrap().applied());
    let after = f.store.find_overdue(expires, 10).await.unwrap();
    assert!(after.iter().all(|c| c.id() != live.id()));
}
