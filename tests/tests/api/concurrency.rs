//! Limits hold when requests race on one challenge. Each test runs on both engines: SQLite
//! (WAL) and PostgreSQL (`MFA_TOTP_TEST_POSTGRES_URL`; ignored, and counted so, without it).

use std::collections::BTreeMap;
use std::sync::Arc;

use mfa_totp_tests::{ManualClock, PHONE, TestApp, other_code};

/// Runs `n` copies of `call` at once and counts the `(status, code)` they got.
async fn race<F, Fut>(app: &Arc<TestApp>, n: usize, call: F) -> BTreeMap<(u16, String), usize>
where
    F: Fn(Arc<TestApp>) -> Fut,
    Fut: std::future::Future<Output = mfa_totp_tests::Reply> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(call(app.clone()))).collect();
    let mut outcomes = BTreeMap::new();
    for task in tasks {
        let reply = task.await.unwrap();
        *outcomes
            .entry((reply.status, reply.code().to_owned()))
            .or_default() += 1;
    }
    outcomes
}

fn outcome(status: u16, code: &str) -> (u16, String) {
    (status, code.to_owned())
}

/// Runs each listed `async fn(Arc<TestApp>, Arc<ManualClock>)` once per engine.
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let (app, clock) = mfa_totp_tests::TestApp::spawn_on(
                        mfa_totp_tests::Engine::Sqlite, stringify!($test)).await;
                    super::$test(std::sync::Arc::new(app), clock).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(
                    not(postgres_tests),
                    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
                )]
                async fn $test() {
                    let (app, clock) = mfa_totp_tests::TestApp::spawn_on(
                        mfa_totp_tests::Engine::Postgres, stringify!($test)).await;
                    super::$test(std::sync::Arc::new(app), clock).await;
                }
            )*
        }
    };
}

on_both_engines!(
    concurrent_wrong_codes_never_count_past_the_limit,
    concurrent_right_codes_are_accepted_exactly_once,
    concurrent_initiates_respect_the_cooldown_and_the_send_cap,
);

async fn concurrent_wrong_codes_never_count_past_the_limit(
    app: Arc<TestApp>,
    _clock: Arc<ManualClock>,
) {
    let (id, code) = app.challenge_with_code("alice").await;
    let wrong = other_code(&code);
    // Each write is decided on the version read, so 75 of the 80 lose a race at least once
    // and decide again on what the winner left: none of them may end in a 5xx.
    let outcomes = race(&app, 80, |app| {
        let (id, wrong) = (id.clone(), wrong.clone());
        async move { app.verify(&id, "alice", &wrong).await }
    })
    .await;
    assert_eq!(
        outcomes.get(&outcome(400, "INVALID_OTP")),
        Some(&5),
        "exactly the limit's worth of wrong codes count: {outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&outcome(429, "TOO_MANY_REQUESTS")),
        Some(&75),
        "the rest see the lockout: {outcomes:?}"
    );
    // Locked for good: even the right code is refused now.
    app.verify(&id, "alice", &code)
        .await
        .assert_error(429, "TOO_MANY_REQUESTS");
}

async fn concurrent_right_codes_are_accepted_exactly_once(
    app: Arc<TestApp>,
    _clock: Arc<ManualClock>,
) {
    let (id, code) = app.challenge_with_code("alice").await;
    let outcomes = race(&app, 30, |app| {
        let (id, code) = (id.clone(), code.clone());
        async move { app.verify(&id, "alice", &code).await }
    })
    .await;
    assert_eq!(outcomes.get(&outcome(200, "")), Some(&1), "{outcomes:?}");
    assert_eq!(
        outcomes.get(&outcome(404, "CHALLENGE_NOT_FOUND")),
        Some(&29),
        "{outcomes:?}"
    );
    // And never later either.
    app.verify(&id, "alice", &code)
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");
}

async fn concurrent_initiates_respect_the_cooldown_and_the_send_cap(
    app: Arc<TestApp>,
    clock: Arc<ManualClock>,
) {
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    // Seven bursts, each after the 30 s cooldown: one SMS per burst until the cap of 5.
    for burst in 1..=7 {
        let outcomes = race(&app, 20, |app| {
            let id = id.clone();
            async move { app.initiate(&id, "alice").await }
        })
        .await;
        let sent = usize::from(burst <= 5);
        assert_eq!(
            outcomes.get(&outcome(200, "")).copied().unwrap_or(0),
            sent,
            "burst {burst}: {outcomes:?}"
        );
        assert_eq!(
            outcomes.get(&outcome(429, "TOO_MANY_REQUESTS")),
            Some(&(20 - sent)),
            "burst {burst}: {outcomes:?}"
        );
        assert_eq!(
            app.inbox.lines().len(),
            burst.min(5),
            "SMS after burst {burst}"
        );
        clock.advance(31);
    }
}
