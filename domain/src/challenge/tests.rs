//! State machine tests: unit cases for each refusal, and properties over time.

use chrono::{DateTime, TimeDelta};
use proptest::prelude::*;

use super::*;

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
        TotpSecret::from_bytes([7; 20]),
        t0(),
        &ChallengePolicy::default(),
    )
}

/// Applies a plan the way the storage adapter does.
fn sent(mut challenge: Challenge, plan: SendPlan) -> Challenge {
    challenge.status = ChallengeStatus::CodeSent;
    challenge.code = Some(plan.code);
    challenge.send_count += 1;
    challenge.last_sent_at = Some(plan.sent_at);
    challenge
}

fn policy() -> ChallengePolicy {
    ChallengePolicy::default()
}

#[test]
fn new_challenge_is_pending_and_expires_after_the_ttl() {
    let c = pending();
    assert_eq!(c.status, ChallengeStatus::Pending);
    assert_eq!(c.expires_at, t0() + TimeDelta::minutes(10));
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
    let c = sent(pending(), first);
    let again = c.plan_send(t0() + secs(120), &policy(), &totp).unwrap();
    assert!(!again.is_new_code);
    assert_eq!(again.code, first.code);
}

#[test]
fn resend_after_code_ttl_issues_a_new_code() {
    let totp = TotpPolicy::default();
    let first = pending().plan_send(t0(), &policy(), &totp).unwrap();
    let c = sent(pending(), first);
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
            retry_after: secs(20)
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
            retry_after: c.expires_at - now
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
        let c = Challenge {
            status,
            ..pending()
        };
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
    let locked = Challenge {
        status: ChallengeStatus::Locked,
        ..pending()
    };
    assert_eq!(
        locked.verifiable_code(t0(), &policy()),
        Err(VerifyRefused::Locked)
    );
    let verified = Challenge {
        status: ChallengeStatus::Verified,
        ..pending()
    };
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
    let mut c = sent(
        pending(),
        pending()
            .plan_send(t0(), &policy(), &TotpPolicy::default())
            .unwrap(),
    );
    c.failed_attempts = 3;
    assert_eq!(
        c.status_after_failed_attempt(&policy()),
        ChallengeStatus::CodeSent
    );
    c.failed_attempts = 4;
    assert_eq!(
        c.status_after_failed_attempt(&policy()),
        ChallengeStatus::Locked
    );
}

#[test]
fn cancel_is_allowed_while_live_or_verified_only() {
    assert!(pending().can_cancel(t0()));
    assert!(
        Challenge {
            status: ChallengeStatus::Verified,
            ..pending()
        }
        .can_cancel(t0())
    );
    assert!(
        !Challenge {
            status: ChallengeStatus::Locked,
            ..pending()
        }
        .can_cancel(t0())
    );
    assert!(!pending().can_cancel(t0() + TimeDelta::minutes(10)));
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
                if let Some(prev) = c.code {
                    prop_assert_eq!(plan.is_new_code, now >= prev.issued_at + policy.code_ttl);
                }
                c = sent(c, plan);
                sent_at.push(now);
            }
        }
        prop_assert!(sent_at.len() as u32 <= policy.max_sends);
        prop_assert!(sent_at.iter().all(|at| *at < c.expires_at));
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
