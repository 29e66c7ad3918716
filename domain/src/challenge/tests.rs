//! State machine tests: unit cases for each refusal, and properties over time.

use chrono::{DateTime, TimeDelta};
use proptest::prelude::*;

use super::*;
use crate::{ClientId, SealedSecret, TotpPolicy};

fn t0() -> Timestamp {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn pending() -> Challenge {
    Challenge::new(
        ChallengeId::generate(),
        UserId::parse("user-1").unwrap(),
        ClientId::parse("payments-service").unwrap(),
        SealedSecret::new("k1:sealed".into()),
        t0(),
        &ChallengePolicy::default(),
    )
}

fn sent(challenge: Challenge, plan: SendPlan) -> Challenge {
    challenge.after_send(&plan)
}

/// A challenge that reached `status` through the state machine, at `t0()`.
fn in_status(status: ChallengeStatus) -> Challenge {
    let code_sent = || {
        let c = pending();
        let plan = c
            .plan_send(t0(), &policy(), &TotpPolicy::default())
            .unwrap();
        c.after_send(&plan)
    };
    match status {
        ChallengeStatus::Pending => pending(),
        ChallengeStatus::CodeSent => code_sent(),
        ChallengeStatus::Verified => code_sent().after_verify(t0()),
        ChallengeStatus::Locked => (0..policy().max_failed_attempts)
            .fold(code_sent(), |c, _| c.after_failed_attempt(&policy())),
        ChallengeStatus::Expired => pending().after_expiry(),
        ChallengeStatus::Cancelled => pending().after_cancel(t0()).unwrap(),
    }
}

fn policy() -> ChallengePolicy {
    ChallengePolicy::default()
}

#[test]
fn new_challenge_is_pending_and_expires_after_the_ttl() {
    let c = pending();
    assert_eq!(c.status(), ChallengeStatus::Pending);
    assert_eq!(c.expires_at(), t0() + TimeDelta::minutes(10));
    assert_eq!(
        c.status_at(t0() + TimeDelta::minutes(10)),
        ChallengeStatus::Expired
    );
}

#[test]
fn first_send_issues_a_new_code_at_the_current_step() {
    let plan = pending()
        .plan_send(t0(), &policy(), &TotpPolicy::default())
        .unwrap();
    assert!(plan.is_new_code);
    assert_eq!(plan.code.step, 1_800_000_000 / 30);
    assert_eq!(plan.expected_send_count, 0);
}

#[test]
fn resend_within_code_ttl_sends_the_same_code() {
    let totp = TotpPolicy::default();
    let first = pending().plan_send(t0(), &policy(), &totp).unwrap();
    let c = sent(pending(), first.clone());
    let again = c.plan_send(t0() + secs(120), &policy(), &totp).unwrap();
    assert!(!again.is_new_code);
    assert_eq!(again.code, first.code);
}

#[test]
fn resend_after_code_ttl_issues_a_new_code() {
    let totp = TotpPolicy::default();
    let first = pending().plan_send(t0(), &policy(), &totp).unwrap();
    let c = sent(pending(), first.clone());
    let later = c.plan_send(t0() + secs(301), &policy(), &totp).unwrap();
    assert!(later.is_new_code);
    assert_ne!(later.code.step, first.code.step);
}

#[test]
fn resend_within_cooldown_is_refused_with_the_time_left() {
    let totp = TotpPolicy::default();
    let c = sent(
        pending(),
        pending().plan_send(t0(), &policy(), &totp).unwrap(),
    );
    assert_eq!(
        c.plan_send(t0() + secs(10), &policy(), &totp),
        Err(SendRefused::Cooldown {
            ready_at: t0() + secs(30)
        })
    );
}

#[test]
fn send_cap_refuses_the_sixth_send() {
    let totp = TotpPolicy::default();
    let mut c = pending();
    for i in 0..5 {
        let plan = c.plan_send(t0() + secs(31 * i), &policy(), &totp).unwrap();
        c = sent(c, plan);
    }
    let now = t0() + secs(31 * 5);
    assert_eq!(
        c.plan_send(now, &policy(), &totp),
        Err(SendRefused::SendCapReached {
            until: c.expires_at()
        })
    );
}

#[test]
fn send_on_an_expired_challenge_asks_to_mark_it_expired() {
    let later = t0() + TimeDelta::minutes(11);
    assert_eq!(
        pending().plan_send(later, &policy(), &TotpPolicy::default()),
        Err(SendRefused::Expired)
    );
}

#[test]
fn send_on_a_finished_challenge_is_refused() {
    for status in [
        ChallengeStatus::Verified,
        ChallengeStatus::Locked,
        ChallengeStatus::Cancelled,
        ChallengeStatus::Expired,
    ] {
        let c = in_status(status);
        assert_eq!(
            c.plan_send(t0(), &policy(), &TotpPolicy::default()),
            Err(SendRefused::Finished(status))
        );
    }
}

#[test]
fn verify_before_any_send_has_no_code_to_match() {
    assert_eq!(
        pending().verifiable_code(t0(), &policy()),
        Err(VerifyRefused::NoCodeSent)
    );
}

#[test]
fn verify_after_code_ttl_reports_the_code_expired() {
    let c = sent(
        pending(),
        pending()
            .plan_send(t0(), &policy(), &TotpPolicy::default())
            .unwrap(),
    );
    assert!(c.verifiable_code(t0() + secs(299), &policy()).is_ok());
    assert_eq!(
        c.verifiable_code(t0() + secs(300), &policy()),
        Err(VerifyRefused::CodeExpired)
    );
}

#[test]
fn verify_on_locked_and_finished_challenges_is_refused() {
    let locked = in_status(ChallengeStatus::Locked);
    assert_eq!(
        locked.verifiable_code(t0(), &policy()),
        Err(VerifyRefused::Locked {
            until: locked.expires_at()
        })
    );
    let verified = in_status(ChallengeStatus::Verified);
    assert_eq!(
        verified.verifiable_code(t0(), &policy()),
        Err(VerifyRefused::Finished(ChallengeStatus::Verified))
    );
    assert_eq!(
        pending().verifiable_code(t0() + TimeDelta::minutes(10), &policy()),
        Err(VerifyRefused::Expired)
    );
}

#[test]
fn fifth_wrong_code_locks_the_challenge() {
    let mut c = in_status(ChallengeStatus::CodeSent);
    for _ in 0..4 {
        c = c.after_failed_attempt(&policy());
        assert_eq!(c.status(), ChallengeStatus::CodeSent);
    }
    let locked = c.after_failed_attempt(&policy());
    assert_eq!(
        (locked.status(), locked.failed_attempts()),
        (ChallengeStatus::Locked, 5)
    );
}

#[test]
fn cancel_is_allowed_while_live_or_verified_only() {
    for status in ChallengeStatus::ALL {
        let cancelled = in_status(status).after_cancel(t0());
        match status {
            ChallengeStatus::Pending | ChallengeStatus::CodeSent | ChallengeStatus::Verified => {
                assert_eq!(cancelled.unwrap().status(), ChallengeStatus::Cancelled);
            }
            finished => assert_eq!(cancelled, Err(CancelRefused(finished))),
        }
    }
    assert_eq!(
        pending().after_cancel(t0() + TimeDelta::minutes(10)),
        Err(CancelRefused(ChallengeStatus::Expired))
    );
}

#[test]
fn a_code_sent_challenge_at_the_limit_of_wrong_codes_is_locked() {
    // Stored under a higher limit than the one configured now.
    let mut c = in_status(ChallengeStatus::CodeSent);
    for _ in 0..3 {
        c = c.after_failed_attempt(&policy());
    }
    let stricter = ChallengePolicy {
        max_failed_attempts: 3,
        ..policy()
    };
    assert_eq!(
        c.verifiable_code(t0(), &stricter),
        Err(VerifyRefused::Locked {
            until: c.expires_at()
        })
    );
}

#[test]
fn only_a_verified_challenge_is_consumable() {
    for status in ChallengeStatus::ALL {
        let consumable = in_status(status).consumable(t0(), &policy());
        if status == ChallengeStatus::Verified {
            assert_eq!(consumable, Ok(t0()));
        } else {
            assert_eq!(consumable, Err(ConsumeRefused::NotVerified(status)));
        }
    }
}

#[test]
fn a_verified_context_lapses_after_the_consume_ttl() {
    let c = in_status(ChallengeStatus::Verified);
    let ttl = policy().consume_ttl;
    assert_eq!(c.consumable(t0() + ttl - secs(1), &policy()), Ok(t0()));
    assert_eq!(
        c.consumable(t0() + ttl, &policy()),
        Err(ConsumeRefused::Lapsed { verified_at: t0() })
    );
}

#[test]
fn send_figures_follow_the_last_send() {
    let c = in_status(ChallengeStatus::CodeSent);
    assert_eq!(c.sends_remaining(&policy()), 4);
    assert_eq!(c.resend_available_at(&policy()), Some(t0() + secs(30)));
    assert_eq!(c.code_expires_at(&policy()), Some(t0() + secs(300)));
    assert_eq!(pending().code_expires_at(&policy()), None);
}

#[test]
fn every_transition_moves_the_version_by_one() {
    let c = pending();
    assert_eq!(c.version(), 0);
    let plan = c
        .plan_send(t0(), &policy(), &TotpPolicy::default())
        .unwrap();
    let code_sent = c.after_send(&plan);
    let transitions = [
        code_sent.clone(),
        code_sent.after_failed_attempt(&policy()),
        code_sent.after_verify(t0()),
        c.after_expiry(),
        c.after_cancel(t0()).unwrap(),
        code_sent.after_undo_send(&c),
    ];
    let from = [0, 1, 1, 0, 0, 1];
    for (after, from) in transitions.iter().zip(from) {
        assert_eq!(after.version(), from + 1, "{after:?}");
    }
    let verified = code_sent.after_verify(t0());
    assert_eq!(verified.after_consume().version(), verified.version() + 1);
    assert_eq!(
        Challenge::restore(verified.to_record()).unwrap().version(),
        verified.version()
    );
}

#[test]
fn undoing_a_send_gives_back_the_send_fields_and_keeps_the_rest() {
    let c = pending();
    let plan = c
        .plan_send(t0(), &policy(), &TotpPolicy::default())
        .unwrap()
        .to(&crate::PhoneNumber::parse("+447400123456").unwrap());
    let undone = c.after_send(&plan).after_undo_send(&c);
    assert_eq!(
        (
            undone.status(),
            undone.code(),
            undone.send_count(),
            undone.last_sent_at(),
            undone.sent_to()
        ),
        (ChallengeStatus::Pending, None, 0, None, None)
    );
    assert_eq!(undone.version(), 2);
    assert_eq!(Challenge::restore(undone.to_record()), Ok(undone));
}

#[test]
fn restore_accepts_every_reachable_state_and_refuses_impossible_ones() {
    for status in ChallengeStatus::ALL {
        let c = in_status(status);
        assert_eq!(Challenge::restore(c.to_record()), Ok(c));
    }
    let pending_with_a_code = ChallengeRecord {
        failed_attempts: 1,
        ..pending().to_record()
    };
    assert_eq!(
        Challenge::restore(pending_with_a_code),
        Err(InvalidChallenge::PendingWithHistory(
            ChallengeStatus::Pending
        ))
    );
    let sent_without_count = ChallengeRecord {
        send_count: 0,
        ..in_status(ChallengeStatus::CodeSent).to_record()
    };
    assert_eq!(
        Challenge::restore(sent_without_count),
        Err(InvalidChallenge::SendsDisagree)
    );
    let verified_without_time = ChallengeRecord {
        verified_at: None,
        ..in_status(ChallengeStatus::Verified).to_record()
    };
    assert_eq!(
        Challenge::restore(verified_without_time),
        Err(InvalidChallenge::VerificationDisagrees(
            ChallengeStatus::Verified
        ))
    );
    let backwards = ChallengeRecord {
        expires_at: t0(),
        ..pending().to_record()
    };
    assert_eq!(
        Challenge::restore(backwards),
        Err(InvalidChallenge::ExpiresBeforeCreated)
    );
}

#[test]
fn status_round_trips_through_its_stored_form() {
    for status in ChallengeStatus::ALL {
        assert_eq!(status.as_str().parse::<ChallengeStatus>(), Ok(status));
    }
}

proptest! {
    /// Whatever the timing of initiates, no more than `max_sends` SMS go out, no two within
    /// the cooldown, and every code sent stays the same for its whole TTL.
    #[test]
    fn sends_respect_cap_cooldown_and_code_ttl(gaps in proptest::collection::vec(0i64..200, 1..30)) {
        let policy = policy();
        let totp = TotpPolicy::default();
        let mut c = pending();
        let mut now = t0();
        let mut sent_at: Vec<Timestamp> = Vec::new();
        for gap in gaps {
            now += secs(gap);
            if let Ok(plan) = c.plan_send(now, &policy, &totp) {
                if let Some(prev) = c.code() {
                    prop_assert_eq!(plan.is_new_code, now >= prev.issued_at + policy.code_ttl);
                }
                c = sent(c, plan);
                sent_at.push(now);
            }
        }
        prop_assert!(sent_at.len() as u32 <= policy.max_sends);
        prop_assert!(sent_at.iter().all(|at| *at < c.expires_at()));
        for pair in sent_at.windows(2) {
            prop_assert!(pair[1] - pair[0] >= policy.resend_cooldown);
        }
    }

    /// A code is verifiable exactly while both it and the challenge are alive.
    #[test]
    fn code_is_verifiable_only_within_its_ttl(offset in 0i64..1_000) {
        let policy = policy();
        let c = sent(pending(), pending().plan_send(t0(), &policy, &TotpPolicy::default()).unwrap());
        let now = t0() + secs(offset);
        let ok = c.verifiable_code(now, &policy).is_ok();
        prop_assert_eq!(ok, offset < 300);
    }
}

/// One event of a challenge's life, for the property below.
#[derive(Debug, Clone, Copy)]
enum Event {
    Send,
    WrongCode,
    RightCode,
    Cancel,
}

proptest! {
    /// Whatever happens to a challenge, and when, it stays a state `restore` accepts.
    #[test]
    fn every_reachable_state_restores(
        events in proptest::collection::vec(
            (prop_oneof![Just(Event::Send), Just(Event::WrongCode), Just(Event::RightCode), Just(Event::Cancel)], 0i64..200),
            0..20,
        )
    ) {
        let (policy, totp) = (policy(), TotpPolicy::default());
        let mut c = pending();
        let mut now = t0();
        for (event, gap) in events {
            now += secs(gap);
            let next = match event {
                Event::Send => match c.plan_send(now, &policy, &totp) {
                    Ok(plan) => Some(c.after_send(&plan)),
                    Err(SendRefused::Expired) => Some(c.after_expiry()),
                    Err(_) => None,
                },
                Event::WrongCode => c.verifiable_code(now, &policy).ok().map(|_| c.after_failed_attempt(&policy)),
                Event::RightCode => c.verifiable_code(now, &policy).ok().map(|_| c.after_verify(now)),
                Event::Cancel => c.after_cancel(now).ok(),
            };
            if let Some(next) = next {
                c = next;
            }
            prop_assert_eq!(Challenge::restore(c.to_record()), Ok(c.clone()));
        }
    }
}
