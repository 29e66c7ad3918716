//! Abuse across challenges: the three attacks a review made, refused by default, and every
//! limit reached, recovered from with a controlled clock, and exact under concurrency (on the
//! engine `MFA_TOTP_TEST_ENGINE` picks; CI runs this suite on both).

use std::collections::BTreeMap;

use mfa_totp_server::Settings;
use mfa_totp_server::config::LimitSettings;
use mfa_totp_tests::{PHONE, Reply, TestApp, other_code};

/// The limit a 429 names, from its message (`Limit phone_sms reached: ...`).
fn limit_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 429, "{}", reply.body);
    let message = reply.body["message"].as_str().unwrap_or_default();
    message
        .strip_prefix("Limit ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("none")
        .to_owned()
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").unwrap().parse().unwrap()
}

/// Every limit off but `kinds`, each set to `max` per `window_secs`.
fn only(kinds: &[&str], max: u32, window_secs: u32) -> impl FnOnce(&mut Settings) {
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    move |settings| {
        let all = [
            "user_wrong_codes",
            "user_challenges",
            "user_sms",
            "phone_sms",
            "global_sms",
        ];
        for kind in all {
            let max = if kinds.iter().any(|k| k == kind) {
                max
            } else {
                0
            };
            let limit = LimitSettings::new(max, window_secs);
            settings.limits.insert(kind.to_string(), limit);
        }
    }
}

/// Attack 1: many challenges for one user, each with fresh guesses. By default the user
/// gets 10 wrong codes in all, then no challenge of theirs verifies, not even with the
/// right code, until the hour is over.
#[tokio::test]
async fn wrong_codes_across_challenges_lock_the_user_out_of_every_challenge() {
    let (app, clock) = TestApp::spawn_configured(|_| {}).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let mut wrong = 0;
    let mut refused = None;
    'attack: for _ in 0..5 {
        let id = app.create_challenge("alice").await;
        assert_eq!(app.initiate(&id, "alice").await.status, 200);
        let code = app.inbox.last_code_for(PHONE).unwrap();
        for _ in 0..5 {
            let reply = app.verify(&id, "alice", &other_code(&code)).await;
            match reply.status {
                400 => wrong += 1,
                _ => {
                    refused = Some((id.clone(), code.clone(), reply));
                    break 'attack;
                }
            }
        }
    }
    assert_eq!(wrong, 10, "10 wrong codes in all, across challenges");
    let (id, code, reply) = refused.expect("the 11th wrong code is refused");
    assert_eq!(limit_of(&reply), "user_wrong_codes");
    assert_eq!(retry_after(&reply), 3600);
    // The right code is refused too: the user is locked out, not just the guess.
    let right = app.verify(&id, "alice", &code).await;
    assert_eq!(limit_of(&right), "user_wrong_codes");

    // An hour later the window is over: a new challenge verifies.
    clock.advance(3600);
    let (id, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
}

/// Attack 2: ten challenges, ten SMS to one phone at once. By default at most five go.
#[tokio::test]
async fn ten_challenges_cannot_text_one_phone_more_than_five_times() {
    let (app, _clock) = TestApp::spawn_configured(|_| {}).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(app.create_challenge("alice").await);
    }
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move { app.initiate(&id, "alice").await })
        })
        .collect();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let reply = task.await.unwrap();
        let outcome = match reply.status {
            200 => "sent".to_owned(),
            _ => limit_of(&reply),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(
        outcomes,
        BTreeMap::from([("phone_sms".to_owned(), 5), ("sent".to_owned(), 5)])
    );
    assert_eq!(app.inbox.lines().len(), 5, "five SMS went out");
}

/// One handset typed three ways (the trunk `0` kept after the country code, once or twice):
/// each is stored, counted and texted as the one canonical number, so 18 users over the
/// variants get the phone's 5 SMS, not 15.
#[tokio::test]
async fn variants_of_one_number_are_one_phone() {
    let (app, _clock) = TestApp::spawn_configured(|_| {}).await;
    let variants = ["+447400123123", "+4407400123123", "+44007400123123"];
    let mut sent = 0;
    for n in 0..18 {
        let user = format!("user-{n}");
        let put = app.put_user(&user, variants[n % 3]).await;
        assert_eq!(put.status, 201, "{}", put.body);
        assert_eq!(put.body["maskedPhoneNumber"], "+44*******123");
        let id = app.create_challenge(&user).await;
        let reply = app.initiate(&id, &user).await;
        match reply.status {
            200 => sent += 1,
            _ => assert_eq!(limit_of(&reply), "phone_sms"),
        }
    }
    assert_eq!(sent, 5);
    let to: Vec<String> = app
        .inbox
        .lines()
        .iter()
        .filter_map(|l| mfa_totp_sms::ConsoleLine::parse(l).map(|sms| sms.to.to_owned()))
        .collect();
    assert_eq!(to, vec!["+447400123123"; 5]);
}

/// Attack 3: premium and special ranges. Refused at `PUT users` with a field error.
#[tokio::test]
async fn premium_and_special_numbers_are_refused_as_phone_numbers() {
    let app = TestApp::spawn().await;
    for number in [
        "+979123456789",   // international premium rate
        "+8823421234",     // international networks
        "+881612345678",   // satellite
        "+19002345678",    // US 1-900 premium rate
        "+449012345678",   // GB premium rate
        "+4918012345",     // DE shared cost
        "+4918500123456",  // DE UAN
        "+49177991234567", // DE voicemail
        "+447012345678",   // GB personal number
        "+447700900123",   // Ofcom's drama range: not a valid number
    ] {
        let reply = app.put_user("mallory", number).await;
        reply.assert_error(400, "BAD_REQUEST");
        assert_eq!(
            reply.body["fieldErrors"][0]["field"], "phoneNumber",
            "{number}"
        );
        let message = reply.body["message"].as_str().unwrap();
        assert!(!message.contains(&number[1..]), "{message}");
    }
    for number in [
        "+447400123456",  // GB mobile
        "+4915123456789", // DE mobile
        "+33612345678",   // FR mobile
        "+12015550123",   // US
        "+919876543210",  // IN mobile
    ] {
        assert_eq!(
            app.put_user("bob", number).await.status / 100,
            2,
            "{number}"
        );
    }
}

/// A number stored before the rules changed is refused again at `:initiate`.
#[tokio::test]
async fn a_stored_number_the_rules_now_refuse_is_refused_at_initiate() {
    let database = mfa_totp_tests::TestDatabase::from_env("black-box").await;
    let before = TestApp::spawn_with(mfa_totp_tests::Setup::new(&database), None).await;
    assert_eq!(before.put_user("alice", PHONE).await.status, 201);
    let mut setup = mfa_totp_tests::Setup::new(&database);
    setup.settings.sms.allowed_countries = vec!["DE".into()];
    let after = TestApp::spawn_with(setup, Some(database)).await;
    let id = after.create_challenge("alice").await;
    let reply = after.initiate(&id, "alice").await;
    reply.assert_error(404, "USER_NOT_FOUND");
    assert!(
        reply.body["message"].as_str().unwrap().contains("(GB)"),
        "{}",
        reply.body
    );
    assert!(after.inbox.lines().is_empty());
    // Support staff see why no code went out.
    let trail = after
        .get(
            &format!("/internal/v1/mfa/challenges/{id}/events"),
            &TestApp::service_token(),
        )
        .await;
    assert_eq!(trail.body["events"][1]["type"], "SEND_FAILED");
    assert_eq!(trail.body["events"][1]["outcome"], "REJECTED");
}

#[tokio::test]
async fn user_challenges_is_reached_and_recovered_from() {
    let (app, clock) = TestApp::spawn_configured(only(&["user_challenges"], 2, 60)).await;
    app.create_challenge("alice").await;
    clock.advance(20);
    app.create_challenge("alice").await;
    let refused = app
        .post_json(
            "/internal/v1/mfa/challenges",
            &TestApp::service_token(),
            serde_json::json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer"}}),
        )
        .await;
    refused.assert_error(429, "TOO_MANY_REQUESTS");
    assert_eq!(limit_of(&refused), "user_challenges");
    assert_eq!(retry_after(&refused), 40, "the window began with the first");
    // Another user is not affected, and neither is another client for alice: the budget
    // is per client and subject, so one client cannot block a user for the others.
    app.create_challenge("bob").await;
    let other_client = TestApp::token(
        "orders-service",
        &["mfa:challenges:write", "mfa:challenges:read"],
    );
    let created = app
        .post_json(
            "/internal/v1/mfa/challenges",
            &other_client,
            serde_json::json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    clock.advance(40);
    app.create_challenge("alice").await;
}

/// Sends one code on a new challenge of `user`; returns the reply.
async fn send_one(app: &TestApp, user: &str) -> Reply {
    let id = app.create_challenge(user).await;
    app.initiate(&id, user).await
}

#[tokio::test]
async fn user_sms_is_reached_and_recovered_from() {
    let (app, clock) = TestApp::spawn_configured(only(&["user_sms"], 2, 60)).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    assert_eq!(send_one(&app, "alice").await.status, 200);
    assert_eq!(send_one(&app, "alice").await.status, 200);
    let refused = send_one(&app, "alice").await;
    assert_eq!(limit_of(&refused), "user_sms");
    assert_eq!(retry_after(&refused), 60);
    clock.advance(60);
    assert_eq!(send_one(&app, "alice").await.status, 200);
    assert_eq!(app.inbox.lines().len(), 3);
}

#[tokio::test]
async fn phone_sms_is_reached_and_recovered_from() {
    let (app, clock) = TestApp::spawn_configured(only(&["phone_sms"], 2, 60)).await;
    // Two users sharing one phone share its limit.
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    assert_eq!(app.put_user("bob", PHONE).await.status, 201);
    assert_eq!(app.put_user("carol", "+447400123456").await.status, 201);
    assert_eq!(send_one(&app, "alice").await.status, 200);
    assert_eq!(send_one(&app, "bob").await.status, 200);
    let refused = send_one(&app, "alice").await;
    assert_eq!(limit_of(&refused), "phone_sms");
    assert_eq!(send_one(&app, "carol").await.status, 200, "another phone");
    clock.advance(60);
    assert_eq!(send_one(&app, "bob").await.status, 200);
}

#[tokio::test]
async fn global_sms_is_reached_and_recovered_from() {
    let (app, clock) = TestApp::spawn_configured(only(&["global_sms"], 2, 60)).await;
    for (user, phone) in [
        ("alice", "+447400123001"),
        ("bob", "+447400123002"),
        ("carol", "+447400123003"),
    ] {
        assert_eq!(app.put_user(user, phone).await.status, 201);
    }
    assert_eq!(send_one(&app, "alice").await.status, 200);
    assert_eq!(send_one(&app, "bob").await.status, 200);
    let refused = send_one(&app, "carol").await;
    assert_eq!(limit_of(&refused), "global_sms");
    assert_eq!(retry_after(&refused), 60);
    clock.advance(60);
    assert_eq!(send_one(&app, "carol").await.status, 200);
}

#[tokio::test]
async fn user_wrong_codes_is_reached_and_recovered_from() {
    let (app, clock) = TestApp::spawn_configured(only(&["user_wrong_codes"], 2, 60)).await;
    let (first, code) = app.challenge_with_code("alice").await;
    let (second, second_code) = app.challenge_with_code("alice").await;
    assert_eq!(
        app.verify(&first, "alice", &other_code(&code)).await.status,
        400
    );
    clock.advance(30);
    assert_eq!(
        app.verify(&second, "alice", &other_code(&second_code))
            .await
            .status,
        400
    );
    let refused = app.verify(&second, "alice", &second_code).await;
    refused.assert_error(429, "TOO_MANY_REQUESTS");
    assert_eq!(limit_of(&refused), "user_wrong_codes");
    assert_eq!(retry_after(&refused), 30);
    // Bob is not locked out by Alice's guesses.
    let (bobs, bobs_code) = app.challenge_with_code("bob").await;
    assert_eq!(app.verify(&bobs, "bob", &bobs_code).await.status, 200);
    clock.advance(30);
    assert_eq!(app.verify(&second, "alice", &second_code).await.status, 200);
}

/// Runs `calls` at once and counts their outcomes: `ok` or the limit that refused.
async fn outcomes<F>(calls: Vec<F>) -> BTreeMap<String, usize>
where
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let tasks: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut counted = BTreeMap::new();
    for task in tasks {
        let reply = task.await.unwrap();
        let outcome = match reply.status {
            200 | 201 => "ok".to_owned(),
            400 => "wrong".to_owned(),
            429 => limit_of(&reply),
            other => format!("{other} {}", reply.body),
        };
        *counted.entry(outcome).or_default() += 1;
    }
    counted
}

/// 50 initiates at once across 20 challenges of one user send exactly `user_sms` SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_sms_holds_exactly_under_concurrency() {
    let (app, _clock) = TestApp::spawn_configured(|s| {
        only(&["user_sms"], 10, 3600)(s);
        s.challenge.resend_cooldown_secs = 0;
    })
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.create_challenge("alice").await);
    }
    let app = std::sync::Arc::new(app);
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let (app, id) = (app.clone(), ids[i % 20].clone());
            async move { app.initiate(&id, "alice").await }
        })
        .collect();
    let counted = outcomes(calls).await;
    assert_eq!(counted.get("ok"), Some(&10), "{counted:?}");
    assert_eq!(counted.get("user_sms"), Some(&40), "{counted:?}");
    assert_eq!(app.inbox.lines().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_challenges_and_global_sms_hold_exactly_under_concurrency() {
    let (app, _clock) =
        TestApp::spawn_configured(only(&["user_challenges", "global_sms"], 7, 3600)).await;
    let app = std::sync::Arc::new(app);
    let creates: Vec<_> = (0..30)
        .map(|_| {
            let app = app.clone();
            async move {
                app.post_json(
                    "/internal/v1/mfa/challenges",
                    &TestApp::service_token(),
                    serde_json::json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer"}}),
                )
                .await
            }
        })
        .collect();
    let counted = outcomes(creates).await;
    assert_eq!(
        counted,
        BTreeMap::from([("ok".to_owned(), 7), ("user_challenges".to_owned(), 23)])
    );

    let mut ids = Vec::new();
    for n in 0..20 {
        let user = format!("user-{n}");
        let phone = format!("+4474001230{n:02}");
        assert_eq!(app.put_user(&user, &phone).await.status, 201);
        ids.push((user.clone(), app.create_challenge(&user).await));
    }
    let sends: Vec<_> = ids
        .into_iter()
        .map(|(user, id)| {
            let app = app.clone();
            async move { app.initiate(&id, &user).await }
        })
        .collect();
    let counted = outcomes(sends).await;
    assert_eq!(
        counted,
        BTreeMap::from([("global_sms".to_owned(), 13), ("ok".to_owned(), 7)])
    );
    assert_eq!(app.inbox.lines().len(), 7);
}

/// 60 wrong codes at once across 10 challenges of one user: exactly `user_wrong_codes` count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_wrong_codes_holds_exactly_under_concurrency() {
    let (app, _clock) = TestApp::spawn_configured(only(&["user_wrong_codes"], 10, 3600)).await;
    let mut challenges = Vec::new();
    for _ in 0..10 {
        challenges.push(app.challenge_with_code("alice").await);
    }
    let app = std::sync::Arc::new(app);
    let calls: Vec<_> = (0..60)
        .map(|i| {
            let app = app.clone();
            let (id, code) = challenges[i % 10].clone();
            async move { app.verify(&id, "alice", &other_code(&code)).await }
        })
        .collect();
    let counted = outcomes(calls).await;
    assert_eq!(
        counted,
        BTreeMap::from([
            ("user_wrong_codes".to_owned(), 50),
            ("wrong".to_owned(), 10)
        ])
    );
}
