//! One test per outcome of `:initiate`.

use mfa_totp_domain::{ChallengePolicy, ContextState, Locale, PhoneNumber, TotpPolicy};

use super::*;
use crate::SentSms;
use crate::test_support::*;

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+447400123123").unwrap()
}

fn contact(locale: Option<&str>) -> Contact {
    Contact {
        phone: phone(),
        locale: locale.map(|l| Locale::parse(l).unwrap()),
    }
}

fn ready() -> Mocks {
    let mut m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Pending))
        .with_context(ContextState::Active);
    m.user_reader
        .expect_contact()
        .returning(|_| Ok(Some(contact(None))));
    m
}

/// Runs `:initiate` by the subject on the test challenge and returns its error.
async fn initiate_err(m: Mocks) -> InitiateError {
    m.build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .expect_err("initiate should fail")
}

fn sent_ok() -> Result<SentSms, SmsError> {
    Ok(SentSms::by("mock", None))
}

#[tokio::test]
async fn initiate_records_the_send_and_texts_the_current_code() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let sent = &ch.challenge;
            kind(ch) == Kind::Send && sent.code().unwrap().issued_at == now() && ch.guard == Some(0)
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let expected = TotpPolicy::default().code_at(&secret(), TotpPolicy::default().step_at(now()));
    m.sms
        .expect_send()
        .withf(move |sms| {
            sms.to == phone()
                && sms.body.contains(expected.expose())
                && sms.send_id == format!("{}.1", challenge_id())
        })
        .times(1)
        .returning(|_| sent_ok());
    let out = m
        .build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .unwrap();
    assert_eq!(out.status, ChallengeStatus::CodeSent);
    assert_eq!(out.masked_phone_number, "+44*******123");
    assert_eq!(out.sends_remaining, 4);
    assert_eq!(
        out.resend_available_at,
        now() + chrono::TimeDelta::seconds(30)
    );
}

#[tokio::test]
async fn initiate_resends_the_same_code_within_its_ttl() {
    let c = challenge(ChallengeStatus::CodeSent);
    let issued = c.code().unwrap();
    let code = TotpPolicy::default().code_at(&secret(), issued.step);
    let mut m = Mocks::new()
        .with_challenge(c)
        .with_context(ContextState::Active);
    m.user_reader
        .expect_contact()
        .returning(|_| Ok(Some(contact(None))));
    m.challenges
        .expect_apply()
        .withf(move |ch| {
            let sent = &ch.challenge;
            kind(ch) == Kind::Send && sent.code() == Some(issued)
        })
        .returning(|_| Ok(Change::Applied));
    m.sms
        .expect_send()
        .withf(move |sms| sms.body.contains(code.expose()))
        .times(1)
        .returning(|_| sent_ok());
    m.build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn initiate_of_an_unknown_challenge_is_challenge_not_found() {
    let mut m = Mocks::new();
    m.challenges
        .expect_find_with_context()
        .returning(|_| Ok(None));
    let err = initiate_err(m).await;
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn initiate_by_another_user_is_subject_mismatch() {
    let m = Mocks::new().with_challenge(challenge(ChallengeStatus::Pending));
    let other = UserId::parse("someone-else").unwrap();
    let err = m
        .build()
        .initiate(&who(), &other, challenge_id())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::SubjectMismatch)
    ));
}

#[tokio::test]
async fn initiate_after_the_context_was_consumed_is_context_not_found() {
    let m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Verified))
        .with_context(ContextState::Consumed);
    let err = initiate_err(m).await;
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::ContextNotFound)
    ));
}

#[tokio::test]
async fn initiate_of_a_verified_challenge_is_challenge_not_found() {
    let m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Verified))
        .with_context(ContextState::Active);
    let err = initiate_err(m).await;
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn initiate_past_the_ttl_marks_the_challenge_expired() {
    let mut m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Pending))
        .with_context(ContextState::Active)
        .at(now() + chrono::TimeDelta::minutes(10));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Expire)
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = initiate_err(m).await;
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::ChallengeNotFound)
    ));
}

#[tokio::test]
async fn initiate_for_a_user_without_phone_is_user_not_found() {
    let mut m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Pending))
        .with_context(ContextState::Active);
    m.user_reader.expect_contact().returning(|_| Ok(None));
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::UserNotFound));
}

#[tokio::test]
async fn initiate_within_the_cooldown_is_refused_until_the_cooldown_ends() {
    let c = challenge(ChallengeStatus::CodeSent);
    let ready_at = c.last_sent_at().unwrap() + chrono::TimeDelta::seconds(30);
    let m = Mocks::new()
        .with_challenge(c)
        .with_context(ContextState::Active)
        .at(ready_at - chrono::TimeDelta::milliseconds(19_500));
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::Cooldown { ready_at: at } if at == ready_at));
}

#[tokio::test]
async fn initiate_past_the_send_cap_is_refused_until_the_challenge_expires() {
    let policy = ChallengePolicy::default();
    let mut c = challenge(ChallengeStatus::Pending);
    let mut at = now();
    for _ in 0..policy.max_sends {
        let plan = c.plan_send(at, &policy, &TotpPolicy::default()).unwrap();
        c = c.after_send(&plan);
        at += policy.resend_cooldown;
    }
    let expiry = c.expires_at();
    let m = Mocks::new()
        .with_challenge(c)
        .with_context(ContextState::Active)
        .at(at);
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::SendCapReached { until } if until == expiry));
}

#[tokio::test]
async fn initiate_undoes_the_recorded_send_when_the_provider_is_down() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().returning(|_| {
        Err(SmsError::Unavailable(crate::ProviderAnswer::new(
            "twilio", None, "timeout",
        )))
    });
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::UndoSend)
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::Sms(SmsError::Unavailable(_))));
}

/// A refusal of the number, or a send that may have gone out: the send stands (cooldown, cap
/// and limits charged), never undone; the event and the record name the provider's code.
#[tokio::test]
async fn initiate_keeps_the_send_charged_when_the_number_is_refused_or_the_outcome_unknown() {
    for error in [
        SmsError::Refused(crate::ProviderAnswer::new(
            "twilio",
            Some("21635".into()),
            "landline",
        )),
        SmsError::Unknown(crate::ProviderAnswer::new("twilio", None, "timed out")),
    ] {
        let mut m = ready();
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Send)
            .times(1)
            .returning(|_| Ok(Change::Applied));
        let answer = error.clone();
        m.sms.expect_send().returning(move |_| Err(answer.clone()));
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::UndoSend)
            .never();
        let outcome = error.outcome();
        let code = error.answer().code.clone();
        let mut sends = crate::ports::MockSmsSendLog::new();
        sends
            .expect_log_send()
            .withf(move |send, event| {
                send.outcome == outcome
                    && send.provider.as_deref() == Some("twilio")
                    && send.error_code == code
                    && event.error_code == code
                    && event.provider.as_deref() == Some("twilio")
            })
            .times(1)
            .returning(|_, _| Ok(()));
        m.sends = sends;
        let err = initiate_err(m).await;
        match error {
            SmsError::Refused(_) => {
                assert!(
                    matches!(err, InitiateError::Sms(SmsError::Refused(_))),
                    "{err:?}"
                )
            }
            _ => assert!(
                matches!(err, InitiateError::Unconfirmed { ready_at }
                    if ready_at == now() + ChallengePolicy::default().resend_cooldown),
                "{err:?}"
            ),
        }
    }
}

#[tokio::test]
async fn initiate_retries_on_fresh_state_after_losing_a_race() {
    let mut m = ready();
    let mut seq = mockall::Sequence::new();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Change::Stale));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().times(1).returning(|_| sent_ok());
    m.build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn initiate_reports_unavailable_storage() {
    let mut m = Mocks::new();
    m.challenges
        .expect_find_with_context()
        .returning(|_| Err(unavailable()));
    let err = initiate_err(m).await;
    assert!(matches!(
        err,
        InitiateError::Access(AccessError::Store(StoreError::Unavailable(_)))
    ));
}

#[tokio::test]
async fn initiate_records_who_carried_the_send() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().returning(|_| {
        Ok(SentSms {
            attempts: 2,
            chain_position: 1,
            ..SentSms::by("vonage", Some("V-1".into()))
        })
    });
    let mut sends = crate::ports::MockSmsSendLog::new();
    sends
        .expect_log_send()
        .withf(|s, _| {
            s.outcome == mfa_totp_domain::SendOutcome::Accepted
                && s.provider.as_deref() == Some("vonage")
                && s.message_id.as_deref() == Some("V-1")
                && (s.chain_position, s.attempts) == (Some(1), 2)
                && s.sent_at == now()
        })
        .times(1)
        .returning(|_, _| Ok(()));
    m.sends = sends;
    m.build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn initiate_records_a_send_no_provider_could_take() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .returning(|_| Ok(Change::Applied));
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::UndoSend)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().returning(|_| {
        Err(SmsError::Unavailable(crate::ProviderAnswer::new(
            "vonage",
            Some("HTTP 503".into()),
            "all down",
        )))
    });
    let mut sends = crate::ports::MockSmsSendLog::new();
    sends
        .expect_log_send()
        .withf(|s, _| {
            s.outcome == mfa_totp_domain::SendOutcome::Unavailable
                && s.provider.as_deref() == Some("vonage")
                && s.error_code.as_deref() == Some("HTTP 503")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    m.sends = sends;
    initiate_err(m).await;
}

/// The user's locale picks the template, unless the creation request named one.
#[tokio::test]
async fn the_sms_is_written_in_the_requested_then_the_users_locale() {
    for (requested, user_locale, expected) in [
        (None, Some("de"), ("de", "Ihr Bestätigungscode")),
        (Some("en"), Some("de"), ("en", "Your verification code")),
        (None, None, ("en", "Your verification code")),
    ] {
        let mut m = Mocks::new();
        let requested = requested.map(|l| Locale::parse(l).unwrap());
        m.challenges.expect_find_with_context().returning(move |_| {
            Ok(Some((
                challenge(ChallengeStatus::Pending),
                Some(context(ContextState::Active).with_locale(requested.clone())),
            )))
        });
        m.user_reader
            .expect_contact()
            .returning(move |_| Ok(Some(contact(user_locale))));
        m.challenges
            .expect_apply()
            .withf(|c| kind(c) == Kind::Send)
            .returning(|_| Ok(Change::Applied));
        m.sms
            .expect_send()
            .withf(move |sms| {
                sms.locale.as_deref() == Some(expected.0) && sms.body.starts_with(expected.1)
            })
            .times(1)
            .returning(|_| sent_ok());
        m.build()
            .initiate(&who(), &user(), challenge_id())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn initiate_takes_user_phone_and_global_sms_with_the_recorded_send() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let charges = &ch.charges;
            kind(ch) == Kind::Send && {
                let kinds: Vec<_> = charges.iter().map(|c| (c.kind, c.amount)).collect();
                kinds
                    == [
                        (mfa_totp_domain::LimitKind::UserSms, 1),
                        (mfa_totp_domain::LimitKind::PhoneSms, 1),
                        (mfa_totp_domain::LimitKind::GlobalSms, 1),
                    ]
            }
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().times(1).returning(|_| sent_ok());
    m.build()
        .initiate(&who(), &user(), challenge_id())
        .await
        .unwrap();
}

#[tokio::test]
async fn initiate_refused_by_a_limit_sends_nothing_and_records_the_hit() {
    let reached = mfa_totp_domain::LimitReached {
        kind: mfa_totp_domain::LimitKind::PhoneSms,
        retry_at: now() + chrono::TimeDelta::minutes(42),
    };
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .returning(move |_| Ok(Change::Limited(reached)));
    m.sms.expect_send().never();
    m.audit
        .expect_record()
        .withf(|e| {
            e.kind == mfa_totp_domain::AuditKind::LimitHit
                && e.limit == Some(mfa_totp_domain::LimitKind::PhoneSms)
                && e.masked_phone.as_deref() == Some("+44*******123")
                && e.outcome.as_str() == "TOO_MANY_REQUESTS"
        })
        .times(1)
        .returning(|_| Ok(()));
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::Limited(r) if r == reached));
}

#[tokio::test]
async fn initiate_to_a_stored_number_the_rules_now_refuse_sends_nothing() {
    let mut m = Mocks::new()
        .with_challenge(challenge(ChallengeStatus::Pending))
        .with_context(ContextState::Active);
    m.user_reader.expect_contact().returning(|_| {
        Ok(Some(Contact {
            phone: PhoneNumber::parse("+979123456789").unwrap(),
            locale: None,
        }))
    });
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .never();
    m.sms.expect_send().never();
    m.audit
        .expect_record()
        .withf(|e| {
            e.kind == mfa_totp_domain::AuditKind::SendFailed
                && e.outcome.as_str() == "REJECTED"
                && e.masked_phone.as_deref() == Some("+97*******789")
        })
        .times(1)
        .returning(|_| Ok(()));
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::PhoneRefused(_)));
}

#[tokio::test]
async fn a_failed_send_refunds_the_charges_it_took_and_is_audited() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .returning(|_| Ok(Change::Applied));
    m.sms.expect_send().returning(|_| {
        Err(SmsError::Unavailable(crate::ProviderAnswer::new(
            "twilio",
            None,
            "connection refused",
        )))
    });
    m.challenges
        .expect_apply()
        .withf(|ch| {
            let charges = &ch.refunds;
            kind(ch) == Kind::UndoSend && charges.len() == 3
        })
        .times(1)
        .returning(|_| Ok(Change::Applied));
    let mut sends = crate::ports::MockSmsSendLog::new();
    sends
        .expect_log_send()
        .withf(|_, event| {
            event.kind == mfa_totp_domain::AuditKind::SendFailed
                && event.outcome.as_str() == "UNAVAILABLE"
        })
        .times(1)
        .returning(|_, _| Ok(()));
    m.sends = sends;
    let err = initiate_err(m).await;
    assert!(matches!(err, InitiateError::Sms(SmsError::Unavailable(_))));
}

#[tokio::test]
async fn initiate_that_loses_every_race_is_contended_and_sends_nothing() {
    let mut m = ready();
    m.challenges
        .expect_apply()
        .withf(|c| kind(c) == Kind::Send)
        .times(race_retries())
        .returning(|_| Ok(Change::Stale));
    m.sms.expect_send().never();
    assert!(matches!(initiate_err(m).await, InitiateError::Contended));
}
