//! One test per outcome of `:verify`.

use mfa_totp_domain::{Challenge, ChallengeStatus, ContextState, IssuedCode, TotpPolicy};

use super::*;
use crate::StoreError;
use crate::ports::MockAssertionSigner;
use crate::test_support::*;

fn code_sent() -> Challenge {
    challenge(ChallengeStatus::CodeSent)
}

fn issued() -> IssuedCode {
    code_sent().code().unwrap()
}

fn right_code() -> String {
    TotpPolicy::default()
        .code_at(&secret(), issued().step)
        .expose()
        .to_owned()
}

fn wrong_code() -> String {
    let right: u32 = right_code().parse().unwrap();
    format!("{:06}", (right + 1) % 1_000_000)
}

/// Runs `:verify` by the subject on the test challenge and returns its error.
async fn verify_err(m: Mocks, otp: &str) -> VerifyError {
    m.build()
        .verify(&who(), &user(), challenge_id(), otp)
        .await
        .expect_err("verify should fail")
}

fn ready(c: Challenge) -> Mocks {
    Mocks::new()
        .with_challenge(c)
        .with_context(ContextState::Active)
}

#[tokio::test]
async fn verify_accepts_the_code_in_play_once() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let code = &ch.challenge.code().unwrap();
            let at = &ch.challenge.verified_at().unwrap();
            kind(ch) == Kind::Verify && *code == issued() && *at == now()
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let out = m
        .build()
        .verify(&who(), &user(), challenge_id(), &right_code())
        .await
        .unwrap();
    assert_eq!(out.verified_at, now());
    assert_eq!(
        out.assertion,
        test_assertion(&context(ContextState::Active))
    );
}

#[tokio::test]
async fn verify_that_cannot_sign_its_assertion_writes_nothing() {
    let mut m = ready(code_sent());
    m.challenges.expect_apply().times(0);
    m.signer = failing_signer();
    let err = verify_err(m, &right_code()).await;
    assert!(matches!(err, VerifyError::Store(StoreError::Unexpected(_))));
}

#[tokio::test]
async fn a_wrong_code_is_signed_nothing() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .returning(|_| Ok(Change::Applied));
    let mut signer = MockAssertionSigner::new();
    signer.expect_sign().times(0);
    m.signer = std::sync::Arc::new(signer);
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_counts_a_wrong_code_as_invalid_otp() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let max = &5u32;
            kind(ch) == Kind::WrongCode && *max == 5
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_refuses_a_malformed_code_without_counting_it() {
    let m = ready(code_sent());
    let err = verify_err(m, "12ab56").await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_after_the_code_ttl_is_invalid_otp() {
    let code_expiry = issued().issued_at + chrono::TimeDelta::minutes(5);
    let err = verify_err(ready(code_sent()).at(code_expiry), &right_code()).await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_before_any_code_was_sent_is_invalid_otp() {
    let err = verify_err(ready(challenge(ChallengeStatus::Pending)), "123456").await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_on_a_locked_challenge_is_too_many_requests() {
    let err = verify_err(ready(challenge(ChallengeStatus::Locked)), &right_code()).await;
    let expiry = challenge(ChallengeStatus::Locked).expires_at();
    assert!(matches!(err, VerifyError::Locked { until } if until == expiry));
    assert_eq!(expiry, now() + chrono::TimeDelta::seconds(540));
}

#[tokio::test]
async fn verify_that_loses_the_race_to_the_lock_reports_the_lock() {
    let mut m = Mocks::new().with_context(ContextState::Active);
    let mut seq = mockall::Sequence::new();
    m.challenges
        .expect_find_with_context()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some((code_sent(), Some(context(ContextState::Active))))));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::WrongCode)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Change::Stale));
    m.challenges
        .expect_find_with_context()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Ok(Some((
                challenge(ChallengeStatus::Locked),
                Some(context(ContextState::Active)),
            )))
        });
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(err, VerifyError::Locked { .. }));
}

#[tokio::test]
async fn verify_that_loses_the_race_to_another_verify_is_challenge_not_found() {
    let mut m = Mocks::new().with_context(ContextState::Active);
    let mut seq = mockall::Sequence::new();
    m.challenges
        .expect_find_with_context()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some((code_sent(), Some(context(ContextState::Active))))));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Verify)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Change::Stale));
    m.challenges
        .expect_find_with_context()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Ok(Some((
                challenge(ChallengeStatus::Verified),
                Some(context(ContextState::Active)),
            )))
        });
    let err = verify_err(m, &right_code()).await;
    assert!(matches!(
        err,
        VerifyError::Access(AccessError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn verify_past_the_challenge_ttl_marks_it_expired() {
    let mut m = ready(code_sent()).at(now() + chrono::TimeDelta::minutes(10));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Expire)
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = verify_err(m, &right_code()).await;
    assert!(matches!(
        err,
        VerifyError::Access(AccessError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn verify_by_another_user_is_subject_mismatch() {
    let other = UserId::parse("mallory").unwrap();
    let err = ready(code_sent())
        .build()
        .verify(&who(), &other, challenge_id(), &right_code())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        VerifyError::Access(AccessError::SubjectMismatch)
    ));
}

#[tokio::test]
async fn verify_after_cancel_is_context_not_found() {
    let m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Cancelled))
        .with_context(ContextState::Cancelled);
    let err = verify_err(m, &right_code()).await;
    assert!(matches!(
        err,
        VerifyError::Access(AccessError::ContextNotFound)
    ));
}

#[tokio::test]
async fn verify_reports_unavailable_storage() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::WrongCode)
        .returning(|_| Err(unavailable()));
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(
        err,
        VerifyError::Store(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_right_code_passes_through_the_users_wrong_code_window_taking_nothing() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let charges = &ch.charges;
            let event = &ch.events[0];
            kind(ch) == Kind::Verify && {
                charges.len() == 1
                    && charges[0].kind == mfa_totp_domain::LimitKind::UserWrongCodes
                    && charges[0].amount == 0
                    && event.kind == mfa_totp_domain::AuditKind::Verified
                    && event.request_id == "req-1"
            }
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    m.build()
        .verify(&who(), &user(), challenge_id(), &right_code())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_code_takes_one_from_the_window_and_the_fifth_is_audited_as_locking() {
    let four_wrong = (0..4).fold(code_sent(), |c, _| {
        c.after_failed_attempt(&mfa_totp_domain::ChallengePolicy::default())
    });
    let mut m = ready(four_wrong);
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let charges = &ch.charges;
            let events = &ch.events;
            kind(ch) == Kind::WrongCode && {
                let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
                charges.len() == 1
                    && charges[0].amount == 1
                    && kinds
                        == [
                            mfa_totp_domain::AuditKind::VerifyFailed,
                            mfa_totp_domain::AuditKind::Locked,
                        ]
            }
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn a_user_at_the_wrong_code_limit_is_refused_and_the_hit_recorded() {
    let reached = mfa_totp_domain::LimitReached {
        kind: mfa_totp_domain::LimitKind::UserWrongCodes,
        retry_at: now() + chrono::TimeDelta::minutes(20),
    };
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Verify)
        .returning(move |_| Ok(Change::Limited(reached)));
    m.audit
        .expect_record()
        .withf(|e| {
            e.kind == mfa_totp_domain::AuditKind::LimitHit
                && e.limit == Some(mfa_totp_domain::LimitKind::UserWrongCodes)
                && e.challenge_id == Some(challenge_id())
        })
        .times(1)
        .returning(|_| Ok(()));
    let err = verify_err(m, &right_code()).await;
    assert!(matches!(err, VerifyError::Limited(r) if r == reached));
}

#[tokio::test]
async fn with_the_limit_off_a_wrong_code_takes_nothing_from_any_window() {
    let mut m = ready(code_sent());
    m.limits = mfa_totp_domain::Limits::off();
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let charges = &ch.charges;
            kind(ch) == Kind::WrongCode && charges.is_empty()
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = verify_err(m, &wrong_code()).await;
    assert!(matches!(err, VerifyError::InvalidOtp));
}

#[tokio::test]
async fn verify_that_loses_every_race_is_contended() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Verify)
        .times(race_retries())
        .returning(|_| Ok(Change::Stale));
    assert!(matches!(
        verify_err(m, &right_code()).await,
        VerifyError::Contended
    ));
}

#[tokio::test]
async fn a_wrong_code_that_loses_every_race_is_contended() {
    let mut m = ready(code_sent());
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::WrongCode)
        .times(race_retries())
        .returning(|_| Ok(Change::Stale));
    assert!(matches!(
        verify_err(m, &wrong_code()).await,
        VerifyError::Contended
    ));
}
