//! Limits across challenges and the audit trail, on both engines: each charge is one
//! conditional statement in the change's transaction, and each event is written with its
//! change or not at all.

use std::sync::Arc;

use chrono::TimeDelta;
use mfa_totp_application::{AuditLog, ChallengeChange, ChallengeRepository, Change};
use mfa_totp_domain::{
    AuditEvent, AuditKind, ChallengeStatus, LimitCharge, LimitKey, LimitKind, LimitReached, Limits,
    PhoneNumber, Timestamp, UserId,
};

use super::*;

fn limits(max: u32, window_secs: u32) -> Limits {
    let mut limits = Limits::off();
    for kind in LimitKind::ALL {
        *limits.get_mut(kind) = mfa_totp_domain::Limit::new(max, window_secs);
    }
    limits
}

fn user() -> UserId {
    UserId::parse("user-1").unwrap()
}

fn challenge_charge(limits: &Limits, at: Timestamp) -> Vec<LimitCharge> {
    limits
        .charge(LimitKind::UserChallenges, LimitKey::user(&user()), 1, at)
        .into_iter()
        .collect()
}

/// Inserts a new challenge for `user-1` at `at`, charged to `user_challenges`.
async fn create(store: &SqlStore, limits: &Limits, at: Timestamp) -> Change {
    let (challenge, context) = new_challenge();
    let event = event_of(AuditKind::ChallengeCreated, Some(challenge.id()));
    let change = ChallengeChange::insert(challenge, context)
        .charging(challenge_charge(limits, at))
        .recording(vec![event]);
    store.apply(&change).await.unwrap()
}

async fn count(f: &Fixture, table: &str) -> i64 {
    let row =
        f.db.query_one_raw(Statement::from_string(
            f.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

pub async fn a_limit_admits_max_then_refuses_until_its_window_ends(f: Fixture) {
    let limits = limits(3, 60);
    for i in 0..3 {
        let at = t0() + TimeDelta::seconds(i * 10);
        assert_eq!(create(&f.store, &limits, at).await, Change::Applied, "{i}");
    }
    let late = t0() + TimeDelta::seconds(59);
    assert_eq!(
        create(&f.store, &limits, late).await,
        Change::Limited(LimitReached {
            kind: LimitKind::UserChallenges,
            retry_at: t0() + TimeDelta::seconds(60),
        })
    );
    // The window started at the first charge; at its end a new one starts.
    let next = t0() + TimeDelta::seconds(60);
    assert_eq!(create(&f.store, &limits, next).await, Change::Applied);
    assert_eq!(count(&f, "challenges").await, 4);
    assert_eq!(count(&f, "audit_events").await, 4);
}

pub async fn concurrent_charges_never_pass_the_limit(f: Fixture) {
    let limits = limits(10, 3600);
    let store = Arc::new(f.store.clone());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { create(&store, &limits, t0()).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Change::Applied => applied += 1,
            Change::Limited(reached) => assert_eq!(reached.kind, LimitKind::UserChallenges),
            Change::Stale => panic!("an insert is never stale"),
        }
    }
    assert_eq!(applied, 10);
    assert_eq!(count(&f, "challenges").await, 10);
    assert_eq!(count(&f, "audit_events").await, 10);
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+447400123456").unwrap()
}

/// Records the first send of `c` (planned at [`t0`]) with `charges`.
async fn send_charged(f: &Fixture, c: &Challenge, charges: &[LimitCharge]) -> Change {
    let change =
        ChallengeChange::update(c, c.after_send(&plan_at(c, t0()))).charging(charges.to_vec());
    f.store.apply(&change).await.unwrap()
}

pub async fn a_refused_change_writes_nothing_and_takes_no_other_charge(f: Fixture) {
    let mut limits = limits(0, 60);
    limits.user_sms = mfa_totp_domain::Limit::new(1, 60);
    limits.phone_sms = mfa_totp_domain::Limit::new(2, 60);
    let first = stored(&f).await;
    let charges = limits.sms_charges(&user(), &phone(), t0());
    assert_eq!(charges.len(), 2);
    assert!(send_charged(&f, &first, &charges).await.applied());
    // user_sms is used up: the send is refused, and phone_sms keeps its second unit.
    let second = stored(&f).await;
    let refused = send_charged(&f, &second, &charges).await;
    assert_eq!(
        refused,
        Change::Limited(LimitReached {
            kind: LimitKind::UserSms,
            retry_at: t0() + TimeDelta::seconds(60),
        })
    );
    let unchanged = f.store.find(second.id()).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.status(), unchanged.send_count()),
        (ChallengeStatus::Pending, 0)
    );
    let phone_only: Vec<_> = charges
        .iter()
        .filter(|c| c.kind == LimitKind::PhoneSms)
        .cloned()
        .collect();
    assert!(send_charged(&f, &second, &phone_only).await.applied());
    let third = stored(&f).await;
    assert!(matches!(
        send_charged(&f, &third, &phone_only).await,
        Change::Limited(LimitReached {
            kind: LimitKind::PhoneSms,
            ..
        })
    ));
}

pub async fn undo_send_refunds_its_charges(f: Fixture) {
    let mut limits = limits(0, 60);
    limits.user_sms = mfa_totp_domain::Limit::new(1, 60);
    let charges = limits.sms_charges(&user(), &phone(), t0());
    for _ in 0..3 {
        let c = stored(&f).await;
        let sent = c.after_send(&plan_at(&c, t0()).to(&phone()));
        let send = ChallengeChange::update(&c, sent.clone()).charging(charges.clone());
        assert!(f.store.apply(&send).await.unwrap().applied());
        assert_eq!(
            f.store.find(c.id()).await.unwrap().unwrap().sent_to(),
            Some("+44*******456")
        );
        // The provider failed: the send is undone and its unit given back, so the next
        // round's send fits the limit of 1 again.
        let undo =
            ChallengeChange::update(&sent, sent.after_undo_send(&c)).refunding(charges.clone());
        assert!(f.store.apply(&undo).await.unwrap().applied());
        let undone = f.store.find(c.id()).await.unwrap().unwrap();
        assert_eq!(
            (undone.sent_to(), undone.send_count(), undone.version()),
            (None, 0, 2),
            "restored with the rest"
        );
    }
}

pub async fn a_zero_charge_takes_nothing_but_is_refused_at_the_limit(f: Fixture) {
    let limits = limits(2, 60);
    let key = || LimitKey::user(&user());
    let wrong = |at| -> Vec<_> {
        limits
            .charge(LimitKind::UserWrongCodes, key(), 1, at)
            .into_iter()
            .collect()
    };
    let check = |at| -> Vec<_> {
        limits
            .charge(LimitKind::UserWrongCodes, key(), 0, at)
            .into_iter()
            .collect()
    };
    let c = sent(&f).await;
    // A right code takes nothing: two wrong codes still fit after it is checked.
    let v = sent(&f).await;
    let verify = |c: &Challenge| {
        ChallengeChange::update(c, c.after_verify(t0()))
            .charging(check(t0()))
            .recording(vec![event()])
    };
    assert!(f.store.apply(&verify(&v)).await.unwrap().applied());
    let policy = ChallengePolicy::default();
    let mut c = c;
    for _ in 0..2 {
        let after = c.after_failed_attempt(&policy);
        let change = ChallengeChange::update(&c, after.clone()).charging(wrong(t0()));
        assert!(f.store.apply(&change).await.unwrap().applied());
        c = after;
    }
    let d = sent(&f).await;
    let refused = f.store.apply(&verify(&d)).await.unwrap();
    assert!(matches!(refused, Change::Limited(r) if r.kind == LimitKind::UserWrongCodes));
    assert_eq!(
        f.store.find(d.id()).await.unwrap().unwrap().status(),
        ChallengeStatus::CodeSent
    );
}

pub async fn events_are_written_with_their_change_and_read_oldest_first(f: Fixture) {
    let (challenge, context) = new_challenge();
    let id = challenge.id();
    let created = event_of(AuditKind::ChallengeCreated, Some(id));
    f.store
        .apply(
            &ChallengeChange::insert(challenge.clone(), context).recording(vec![created.clone()]),
        )
        .await
        .unwrap()
        .inserted();
    let sent = challenge.after_send(&plan_at(&challenge, t0()));
    assert!(transition(&f, &challenge, &sent).await);
    let wrong = vec![
        event_of(AuditKind::VerifyFailed, Some(id)),
        event_of(AuditKind::Locked, Some(id)),
    ];
    let lock = ChallengePolicy {
        max_failed_attempts: 1,
        ..ChallengePolicy::default()
    };
    let change = ChallengeChange::update(&sent, sent.after_failed_attempt(&lock)).recording(wrong);
    assert!(f.store.apply(&change).await.unwrap().applied());
    let refusal = event_of(AuditKind::LimitHit, Some(id)).with_limit(LimitKind::GlobalSms);
    f.store.record(&refusal).await.unwrap();
    let kinds: Vec<AuditKind> = f
        .store
        .events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            AuditKind::ChallengeCreated,
            AuditKind::VerifyFailed,
            AuditKind::Locked,
            AuditKind::LimitHit
        ]
    );
    let read = f.store.events(id).await.unwrap();
    assert_eq!(read[0], created);
    assert_eq!(read[3], refusal);
}

/// A refusal that repeats the newest event is counted on it, also when many come at once;
/// any change in between starts a new event, so a flood of refusals never hides it.
pub async fn repeated_refusals_are_counted_on_one_event(f: Fixture) {
    let (challenge, context) = new_challenge();
    let id = challenge.id();
    let created = event_of(AuditKind::ChallengeCreated, Some(id));
    f.store
        .apply(
            &ChallengeChange::insert(challenge.clone(), context.clone()).recording(vec![created]),
        )
        .await
        .unwrap()
        .inserted();
    let refusal = event_of(AuditKind::LimitHit, Some(id)).with_limit(LimitKind::PhoneSms);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = f.store.clone();
            let refusal = refusal.clone();
            tokio::spawn(async move { store.record(&refusal).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let later = AuditEvent {
        at: t0() + TimeDelta::seconds(9),
        ..refusal.clone()
    };
    f.store.record(&later).await.unwrap();
    let events = f.store.events(id).await.unwrap();
    let hits: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.kind == AuditKind::LimitHit)
        .collect();
    assert_eq!(hits.len(), 1, "41 racing refusals, one row");
    assert_eq!(hits[0].repeats, 41);
    assert_eq!(events.last().unwrap().last_at, Some(later.at));
    // Another limit, then a change: each its own event, in order.
    let other = event_of(AuditKind::LimitHit, Some(id)).with_limit(LimitKind::GlobalSms);
    f.store.record(&other).await.unwrap();
    let cancelled = event_of(AuditKind::Cancelled, Some(id));
    let cancel = ChallengeChange::update(&challenge, challenge.after_cancel(t0()).unwrap())
        .with_context(context.after_cancel())
        .recording(vec![cancelled]);
    assert!(f.store.apply(&cancel).await.unwrap().applied());
    f.store.record(&refusal).await.unwrap();
    let kinds: Vec<(AuditKind, u32)> = f
        .store
        .events(id)
        .await
        .unwrap()
        .iter()
        .skip(1 + hits.len())
        .map(|e| (e.kind, e.repeats))
        .collect();
    assert_eq!(
        kinds,
        [
            (AuditKind::LimitHit, 1),
            (AuditKind::Cancelled, 1),
            (AuditKind::LimitHit, 1)
        ]
    );
}

pub async fn a_change_that_does_not_apply_writes_no_event(f: Fixture) {
    let c = stored(&f).await;
    let id = c.id();
    let sent = c.after_send(&plan_at(&c, t0()));
    assert!(transition(&f, &c, &sent).await);
    // Decided on the version before the send: stale, so neither its row nor its event is
    // written.
    let expire = ChallengeChange::update(&c, c.after_expiry())
        .recording(vec![event_of(AuditKind::Expired, Some(id))]);
    assert_eq!(f.store.apply(&expire).await.unwrap(), Change::Stale);
    // Refused by a limit: the same. Another challenge of the user took the one wrong code
    // the window allows.
    let mut limits = limits(0, 60);
    limits.user_wrong_codes = mfa_totp_domain::Limit::new(1, 60);
    let wrong = || -> Vec<_> {
        limits
            .charge(LimitKind::UserWrongCodes, LimitKey::user(&user()), 1, t0())
            .into_iter()
            .collect()
    };
    let policy = ChallengePolicy::default();
    let other = super::sent(&f).await;
    let first =
        ChallengeChange::update(&other, other.after_failed_attempt(&policy)).charging(wrong());
    assert!(f.store.apply(&first).await.unwrap().applied());
    let counted = ChallengeChange::update(&sent, sent.after_failed_attempt(&policy))
        .charging(wrong())
        .recording(vec![event_of(AuditKind::VerifyFailed, Some(id))]);
    assert!(matches!(
        f.store.apply(&counted).await.unwrap(),
        Change::Limited(_)
    ));
    assert_eq!(f.store.find(id).await.unwrap().unwrap(), sent);
    let kinds: Vec<AuditKind> = f
        .store
        .events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    // `stored` wrote its creation event without a challenge id: none of this challenge's.
    assert_eq!(kinds, []);
}
