//! Storage decides no rule: it writes what the domain decided, over the version it was
//! decided on. So the one thing to show of it is that concurrent deciders cannot both win:
//! requests of every kind (sends, wrong and right codes, cancels, consumes) race on one
//! challenge, each reading it, letting the domain decide, and writing over the version it
//! read, deciding again when it lost, as the use cases do. Then:
//! - every version from 1 to the last was written by exactly one request;
//! - the stored challenge and context are what the last winner decided;
//! - the audit trail holds the events of the winners and of no loser.

use mfa_totp_application::{AuditLog, ChallengeChange, ChallengeRepository, Change};
use mfa_totp_domain::{AuditKind, ChallengePolicy, StepUpContext, TotpPolicy};

use super::{Fixture, event_of, stored, t0};

#[derive(Debug, Clone, Copy)]
enum Request {
    Send,
    WrongCode,
    RightCode,
    Cancel,
    Consume,
}

const REQUESTS: [Request; 5] = [
    Request::Send,
    Request::WrongCode,
    Request::RightCode,
    Request::Cancel,
    Request::Consume,
];

/// The change `request` makes of what was read, as the domain decides it, or `None` when
/// the domain refuses it.
fn decide(
    request: Request,
    read: &(mfa_totp_domain::Challenge, Option<StepUpContext>),
    policy: &ChallengePolicy,
) -> Option<ChallengeChange> {
    let (c, context) = read;
    let context = context.as_ref().expect("every challenge has a context");
    let now = t0();
    let event = |kind| vec![event_of(kind, Some(c.id()))];
    match request {
        Request::Send => {
            let plan = c.plan_send(now, policy, &TotpPolicy::default()).ok()?;
            Some(
                ChallengeChange::update(c, c.after_send(&plan))
                    .recording(event(AuditKind::CodeSent)),
            )
        }
        Request::WrongCode => {
            c.verifiable_code(now, policy).ok()?;
            Some(
                ChallengeChange::update(c, c.after_failed_attempt(policy))
                    .recording(event(AuditKind::VerifyFailed)),
            )
        }
        Request::RightCode => {
            c.verifiable_code(now, policy).ok()?;
            Some(
                ChallengeChange::update(c, c.after_verify(now))
                    .recording(event(AuditKind::Verified)),
            )
        }
        Request::Cancel => {
            let cancelled = c.after_cancel(now).ok().filter(|_| context.is_active())?;
            Some(
                ChallengeChange::update(c, cancelled)
                    .with_context(context.after_cancel())
                    .recording(event(AuditKind::Cancelled)),
            )
        }
        Request::Consume => {
            c.consumable(now, policy)
                .ok()
                .filter(|_| context.is_active())?;
            Some(
                ChallengeChange::update(c, c.after_consume())
                    .with_context(context.after_consume(now))
                    .recording(event(AuditKind::Consumed)),
            )
        }
    }
}

pub(super) async fn concurrent_deciders_apply_one_change_per_version(f: Fixture) {
    let policy = ChallengePolicy {
        resend_cooldown: chrono::TimeDelta::zero(),
        ..ChallengePolicy::default()
    };
    for round in 0..4 {
        let c = stored(&f).await;
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = f.store.clone();
                let id = c.id();
                // Sends and wrong codes first, so that lives get somewhere before they end.
                let request = REQUESTS[(i * 7 + round) % REQUESTS.len()];
                tokio::spawn(async move {
                    let mut won = Vec::new();
                    for _ in 0..100 {
                        let read = store.find_with_context(id).await.unwrap().unwrap();
                        let Some(change) = decide(request, &read, &policy) else {
                            break;
                        };
                        match store.apply(&change).await.unwrap() {
                            Change::Applied => won.push(change),
                            Change::Stale => continue,
                            Change::Limited(reached) => panic!("no limits here: {reached:?}"),
                        }
                        if !matches!(request, Request::Send | Request::WrongCode) {
                            break;
                        }
                    }
                    won
                })
            })
            .collect();
        let mut won: Vec<ChallengeChange> = Vec::new();
        for task in tasks {
            won.extend(task.await.unwrap());
        }
        won.sort_by_key(|change| change.challenge.version());
        let versions: Vec<u32> = won.iter().map(|w| w.challenge.version()).collect();
        let expected: Vec<u32> = (1..=won.len() as u32).collect();
        assert_eq!(versions, expected, "one winner per version");
        let last = won.last().expect("some request wins");
        let (challenge, context) = f.store.find_with_context(c.id()).await.unwrap().unwrap();
        assert_eq!(challenge, last.challenge);
        let last_context = won.iter().rev().find_map(|w| w.context.clone());
        if let Some(expected) = last_context {
            assert_eq!(context, Some(expected));
        }
        // The winners' events, in the order they won; none of a loser's.
        let written: Vec<AuditKind> = f
            .store
            .events(c.id())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        let decided: Vec<AuditKind> = won.iter().map(|w| w.events[0].kind).collect();
        assert_eq!(written, decided);
    }
}
