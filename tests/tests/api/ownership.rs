//! What a service may do with challenges: only the client that created a challenge (its
//! token's `sub`) reads, consumes or cancels it; `auth.clients.<sub>.operations` limits what
//! it may create; a verified context lapses after `challenge.consume_ttl_secs`; and reads,
//! consumes and cancels never open the sealed secret, so they survive a key retirement.

use std::collections::BTreeMap;

use mfa_totp_server::auth::{SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE};
use mfa_totp_server::config::ClientSettings;
use mfa_totp_storage::testing::TestDatabase;
use mfa_totp_tests::{ManualClock, Setup, TestApp};
use serde_json::json;

fn other_service() -> String {
    TestApp::token(
        "another-service",
        &[SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE],
    )
}

fn consume_path(id: &str) -> String {
    format!("/internal/v1/mfa/challenges/{id}:consume")
}

#[tokio::test]
async fn only_the_creating_client_reads_consumes_or_cancels_a_challenge() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);

    let other = other_service();
    let path = format!("/internal/v1/mfa/challenges/{id}");
    app.get(&path, &other).await.assert_error(403, "FORBIDDEN");
    app.post(&consume_path(&id), &other)
        .await
        .assert_error(403, "FORBIDDEN");
    app.post(&format!("{path}:cancel"), &other)
        .await
        .assert_error(403, "FORBIDDEN");

    let owner = TestApp::service_token();
    assert_eq!(app.get(&path, &owner).await.body["status"], "VERIFIED");
    assert_eq!(app.post(&consume_path(&id), &owner).await.status, 200);
}

#[tokio::test]
async fn a_client_creates_challenges_only_for_its_allowed_operations() {
    let database = TestDatabase::from_env("allow-list").await;
    let mut setup = Setup::new(&database);
    setup.settings.auth.clients = BTreeMap::from([(
        "operation-service".to_owned(),
        ClientSettings {
            operations: vec!["payments.transfer".into()],
        },
    )]);
    let app = TestApp::spawn_with(setup, Some(database)).await;
    let create = |operation: &str| json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": operation, "attributes": {}}});
    let path = "/internal/v1/mfa/challenges";
    let service = TestApp::service_token();
    assert_eq!(
        app.post_json(path, &service, create("payments.transfer"))
            .await
            .status,
        201
    );
    app.post_json(path, &service, create("profile.phone.change"))
        .await
        .assert_error(403, "FORBIDDEN");
    let unlisted = other_service();
    assert_eq!(
        app.post_json(path, &unlisted, create("profile.phone.change"))
            .await
            .status,
        201,
        "a client without an entry may create any operation"
    );
}

#[tokio::test]
async fn a_verified_context_lapses_after_the_consume_ttl() {
    let (app, clock) = TestApp::spawn_with_clock().await;
    let service = TestApp::service_token();
    let (late, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&late, "alice", &code).await.status, 200);
    let (in_time, code) = app.challenge_with_code("bob").await;
    assert_eq!(app.verify(&in_time, "bob", &code).await.status, 200);

    clock.advance(299);
    assert_eq!(
        app.post(&consume_path(&in_time), &service).await.status,
        200
    );
    clock.advance(1);
    app.post(&consume_path(&late), &service)
        .await
        .assert_error(404, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
}

const OLD_KEY: &str = "xY7jUEakXjXzn8pBUXZ0yyotjWIJKcLUBqfWKczI7pQ=";
const NEW_KEY: &str = "Ac84Wd9HjWMUeD1XPDp2jB3HD82K+4h23vkm2p4Bb48=";

fn with_keys(setup: &mut Setup, active: &str, keys: &[(&str, &str)]) {
    setup.settings.crypto.active_key_id = Some(active.to_owned());
    setup.settings.crypto.keys = keys
        .iter()
        .map(|(id, key)| ((*id).to_owned(), (*key).into()))
        .collect();
}

#[tokio::test]
async fn reads_consumes_and_cancels_work_after_the_sealing_key_is_retired() {
    let database = TestDatabase::from_env("key-retirement").await;
    let url = database.url().to_owned();
    let clock = ManualClock::new();
    let mut setup = Setup::new(&database);
    setup.clock = Some(clock.clone());
    with_keys(&mut setup, "k1", &[("k1", OLD_KEY)]);
    let before = TestApp::spawn_with(setup, Some(database)).await;
    let (consumed, code) = before.challenge_with_code("alice").await;
    assert_eq!(before.verify(&consumed, "alice", &code).await.status, 200);
    let (cancelled, code) = before.challenge_with_code("bob").await;
    assert_eq!(before.verify(&cancelled, "bob", &code).await.status, 200);

    // The README's rotation: k2 becomes active, and once nothing sealed with k1 needs
    // opening, k1 is removed. Verified challenges are past needing their secret.
    let mut after = Setup::new_on(&url);
    after.clock = Some(clock);
    with_keys(&mut after, "k2", &[("k2", NEW_KEY)]);
    let after = TestApp::spawn_with(after, None).await;
    let service = TestApp::service_token();
    let read = after
        .get(&format!("/internal/v1/mfa/challenges/{consumed}"), &service)
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(
        after.post(&consume_path(&consumed), &service).await.status,
        200
    );
    let cancel = after.cancel(&cancelled, &service).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "CANCELLED");
}
