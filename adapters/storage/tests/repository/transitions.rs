//! One rule, one truth: each conditional UPDATE repeats, in SQL, a decision the domain
//! makes (which states accept a code, the lock threshold, which states may be cancelled or
//! sent to). This property ties the two copies together on both engines.
//!
//! For a random life of a challenge (sends, undone sends, wrong and right codes, expiry,
//! cancel, consume, at random times), each event is decided by the domain and applied
//! through the repository, as the use cases do:
//! - where the domain allows it, the repository applies it, and the row it leaves equals
//!   the state the domain's transition returns;
//! - where the domain refuses it because of the challenge's state (not the clock, which the
//!   use cases check before they write), the repository refuses it too and changes nothing.

use chrono::TimeDelta;
use mfa_totp_application::{ChallengeRepository, StepUpContextRepository};
use mfa_totp_domain::{
    Challenge, ChallengePolicy, ConsumeRefused, ContextState, IssuedCode, SendPlan, SendRefused,
    StepUpContext, Timestamp, TotpPolicy, VerifyRefused,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{ChangeExt, Engine, Fixture, fixture, new_challenge, t0};

#[derive(Debug, Clone, Copy)]
enum Event {
    Send,
    UndoLastSend,
    WrongCode,
    RightCode,
    Expire,
    Cancel,
    Consume,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => Just(Event::Send),
        1 => Just(Event::UndoLastSend),
        3 => Just(Event::WrongCode),
        1 => Just(Event::RightCode),
        1 => Just(Event::Expire),
        1 => Just(Event::Cancel),
        1 => Just(Event::Consume),
    ]
}

/// Seconds between events: mostly within the cooldown and code TTL, sometimes far beyond.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 0i64..45, 1 => 0i64..400]
}

/// Small limits, so that lives reach the send cap and the lock.
fn policy() -> ChallengePolicy {
    ChallengePolicy {
        max_failed_attempts: 3,
        max_sends: 3,
        ..ChallengePolicy::default()
    }
}

/// The challenge and context as the domain says they stand, and the last send to undo.
struct Model {
    challenge: Challenge,
    context: StepUpContext,
    last_send: Option<(Challenge, SendPlan)>,
}

/// What the repository said, what the domain expects it to leave, and the send to undo.
struct Step {
    applied: bool,
    expected: Option<(Challenge, StepUpContext)>,
    sent: Option<SendPlan>,
}

impl Step {
    fn refused() -> Self {
        Self {
            applied: false,
            expected: None,
            sent: None,
        }
    }
}

async fn apply(f: &Fixture, model: &Model, event: Event, now: Timestamp) -> Option<Step> {
    let (policy, totp) = (policy(), TotpPolicy::default());
    let c = &model.challenge;
    let id = c.id();
    let store = &f.store;
    let changed = |challenge: Challenge| Some((challenge, model.context.clone()));
    let expire = || async {
        Step {
            applied: store.mark_expired(id, now, &super::event()).await.unwrap(),
            expected: changed(c.after_expiry()),
            sent: None,
        }
    };
    let step = match event {
        Event::Send => match c.plan_send(now, &policy, &totp) {
            Ok(plan) => Step {
                applied: store.record_send(id, &plan, &[]).await.unwrap().applied(),
                expected: changed(c.after_send(&plan)),
                sent: Some(plan),
            },
            Err(SendRefused::Expired) => expire().await,
            Err(SendRefused::Finished(_)) => {
                // A plan as if the state allowed one: the UPDATE must refuse it.
                let plan = SendPlan {
                    code: IssuedCode {
                        step: totp.step_at(now),
                        issued_at: now,
                    },
                    is_new_code: true,
                    sent_at: now,
                    expected_send_count: c.send_count(),
                    sent_to: None,
                };
                Step {
                    applied: store.record_send(id, &plan, &[]).await.unwrap().applied(),
                    ..Step::refused()
                }
            }
            Err(SendRefused::Cooldown { .. } | SendRefused::SendCapReached { .. }) => return None,
        },
        Event::UndoLastSend => {
            // An undo applies while the row is exactly what that send left.
            let (before, plan) = model.last_send.as_ref()?;
            let applied = store.undo_send(before, plan, &[]).await.unwrap();
            if *c == before.after_send(plan) {
                Step {
                    applied,
                    expected: changed(before.clone()),
                    sent: None,
                }
            } else {
                Step {
                    applied,
                    ..Step::refused()
                }
            }
        }
        Event::WrongCode | Event::RightCode => match c.verifiable_code(now, &policy) {
            Ok(code) if matches!(event, Event::RightCode) => Step {
                applied: store
                    .mark_verified(id, code, now, &[], &super::event())
                    .await
                    .unwrap()
                    .applied(),
                expected: changed(c.after_verify(now)),
                sent: None,
            },
            Ok(_) => Step {
                applied: store
                    .record_failed_attempt(id, policy.max_failed_attempts, &[], &[])
                    .await
                    .unwrap()
                    .applied(),
                expected: changed(c.after_failed_attempt(&policy)),
                sent: None,
            },
            Err(VerifyRefused::Expired) => expire().await,
            Err(VerifyRefused::CodeExpired) => return None,
            Err(
                VerifyRefused::Locked { .. }
                | VerifyRefused::Finished(_)
                | VerifyRefused::NoCodeSent,
            ) => {
                let code = c.code().unwrap_or(IssuedCode {
                    step: totp.step_at(now),
                    issued_at: now,
                });
                let applied = if matches!(event, Event::RightCode) {
                    store
                        .mark_verified(id, code, now, &[], &super::event())
                        .await
                        .unwrap()
                        .applied()
                } else {
                    store
                        .record_failed_attempt(id, policy.max_failed_attempts, &[], &[])
                        .await
                        .unwrap()
                        .applied()
                };
                Step {
                    applied,
                    ..Step::refused()
                }
            }
        },
        Event::Expire if !c.status().is_terminal() && now >= c.expires_at() => expire().await,
        Event::Expire => Step {
            applied: store.mark_expired(id, now, &super::event()).await.unwrap(),
            ..Step::refused()
        },
        Event::Cancel => match c.after_cancel(now) {
            Ok(cancelled) if model.context.is_active() => Step {
                applied: store.cancel(id, c.status(), &super::event()).await.unwrap(),
                expected: Some((cancelled, model.context.after_cancel())),
                sent: None,
            },
            // Past its TTL but not yet marked: the use case refuses before it writes.
            Err(_) if !c.status().is_terminal() => return None,
            _ => Step {
                applied: store.cancel(id, c.status(), &super::event()).await.unwrap(),
                ..Step::refused()
            },
        },
        Event::Consume => match c.consumable(now, &ChallengePolicy::default()) {
            // Verified too long ago: the use case refuses before it writes.
            Err(ConsumeRefused::Lapsed { .. }) => return None,
            Ok(_) if model.context.is_active() => Step {
                applied: store.consume(id, now, &super::event()).await.unwrap(),
                expected: Some((c.clone(), model.context.after_consume(now))),
                sent: None,
            },
            _ => Step {
                applied: store.consume(id, now, &super::event()).await.unwrap(),
                ..Step::refused()
            },
        },
    };
    Some(step)
}

async fn live_through(f: &Fixture, events: &[(Event, i64)]) {
    let (challenge, context) = new_challenge();
    f.store
        .insert(&challenge, &context, &[], &super::event())
        .await
        .unwrap()
        .inserted();
    let mut model = Model {
        challenge,
        context,
        last_send: None,
    };
    let mut now = t0();
    for (i, &(event, gap)) in events.iter().enumerate() {
        now += TimeDelta::seconds(gap);
        let Some(step) = apply(f, &model, event, now).await else {
            continue;
        };
        let what = format!("event {i} ({event:?} at +{}s)", (now - t0()).num_seconds());
        assert_eq!(
            step.applied,
            step.expected.is_some(),
            "{what}: the repository and the domain disagree on whether it applies, from {:?}",
            model.challenge
        );
        let id = model.challenge.id();
        if let Some((challenge, context)) = step.expected {
            if let Some(plan) = step.sent {
                model.last_send = Some((model.challenge.clone(), plan));
            }
            model.challenge = challenge;
            model.context = context;
        }
        let row = f.store.find(id).await.unwrap().unwrap();
        assert_eq!(row, model.challenge, "{what}: the challenge row");
        let context_row = f.store.find_context(id).await.unwrap().unwrap();
        assert_eq!(context_row, model.context, "{what}: the context row");
        assert_eq!(
            context_row.state == ContextState::Consumed,
            context_row.consumed_at.is_some()
        );
    }
}

/// Runs the property on `engine`, on one database, a fresh challenge per case.
fn repository_leaves_the_state_the_domain_returns(engine: Engine) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = runtime.block_on(fixture(
        engine,
        "repository_leaves_the_state_the_domain_returns",
    ));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let lives = proptest::collection::vec((event(), gap()), 1..24);
    runner
        .run(&lives, |events| {
            runtime.block_on(live_through(&f, &events));
            Ok(())
        })
        .unwrap();
}

#[test]
fn sqlite_repository_leaves_the_state_the_domain_returns() {
    repository_leaves_the_state_the_domain_returns(Engine::Sqlite);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
)]
fn postgres_repository_leaves_the_state_the_domain_returns() {
    repository_leaves_the_state_the_domain_returns(Engine::Postgres);
}
