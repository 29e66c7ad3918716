//! Limits hold when requests race on one challenge (embedded SQLite, WAL, one instance).

use std::collections::BTreeMap;
use std::sync::Arc;

use mfa_totp_tests::{TestApp, other_code};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_never_count_past_the_limit() {
    let app = Arc::new(TestApp::spawn().await);
    let (id, code) = app.challenge_with_code("alice").await;
    let wrong = other_code(&code);
    let outcomes = race(&app, 30, |app| {
        let (id, wrong) = (id.clone(), wrong.clone());
        async move { app.verify(&id, "alice", &wrong).await }
    })
    .await;
    assert_eq!(
        outcomes.get(&outcome(400, "INVALID_OTP")),
        Some(&5),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&outcome(429, "TOO_MANY_REQUESTS")),
        Some(&25),
        "{outcomes:?}"
    );
    app.verify(&id, "alice", &code)
        .await
        .assert_error(429, "TOO_MANY_REQUESTS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_are_accepted_exactly_once() {
    let app = Arc::new(TestApp::spawn().await);
    let (id, code) = app.challenge_with_code("alice").await;
    let outcomes = race(&app, 20, |app| {
        let (id, code) = (id.clone(), code.clone());
        async move { app.verify(&id, "alice", &code).await }
    })
    .await;
    assert_eq!(outcomes.get(&outcome(200, "")), Some(&1), "{outcomes:?}");
    assert_eq!(
        outcomes.get(&outcome(404, "CHALLENGE_NOT_FOUND")),
        Some(&19),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_initiates_send_one_sms_within_the_cooldown() {
    let app = Arc::new(TestApp::spawn().await);
    assert_eq!(
        app.put_user("alice", mfa_totp_tests::PHONE).await.status,
        201
    );
    let id = app.create_challenge("alice").await;
    let outcomes = race(&app, 20, |app| {
        let id = id.clone();
        async move { app.initiate(&id, "alice").await }
    })
    .await;
    assert_eq!(outcomes.get(&outcome(200, "")), Some(&1), "{outcomes:?}");
    assert_eq!(
        outcomes.get(&outcome(429, "TOO_MANY_REQUESTS")),
        Some(&19),
        "{outcomes:?}"
    );
    assert_eq!(app.inbox.lines().len(), 1);
}
