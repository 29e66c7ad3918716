//! The documented flow end to end: user, challenge, initiate, verify, status, consume.

use mfa_totp_sms::ConsoleLine;
use mfa_totp_tests::{PHONE, TestApp};
use serde_json::json;

#[tokio::test]
async fn full_flow_reaches_verified_and_hands_the_context_over_once() {
    let app = TestApp::spawn().await;
    let service = TestApp::service_token();

    let user = app.put_user("alice", PHONE).await;
    assert_eq!(user.status, 201);
    assert_eq!(user.body["maskedPhoneNumber"], "+44*******123");

    let created = app
        .post_json(
            "/internal/v1/mfa/challenges",
            &service,
            json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer", "attributes": {"amount": "120.00", "payee": "bob"}}}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["status"], "PENDING");
    let id = created.body["challengeId"].as_str().unwrap().to_owned();

    let initiated = app.initiate(&id, "alice").await;
    assert_eq!(initiated.status, 200, "{}", initiated.body);
    assert_eq!(initiated.body["status"], "CODE_SENT");
    assert_eq!(initiated.body["maskedPhoneNumber"], "+44*******123");
    assert_eq!(initiated.body["sendsRemaining"], 4);
    let sms = app.inbox.lines();
    assert_eq!(sms.len(), 1);
    let line = ConsoleLine::parse(&sms[0]).expect("a console SMS line");
    assert_eq!(line.to, PHONE);
    let code = app.inbox.last_code_for(PHONE).unwrap();

    let verified = app.verify(&id, "alice", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["status"], "VERIFIED");

    let status = app
        .get(&format!("/internal/v1/mfa/challenges/{id}"), &service)
        .await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "VERIFIED");
    assert_eq!(status.body["operation"], "payments.transfer");

    let consumed = app.consume(&id, &service).await;
    assert_eq!(consumed.status, 200, "{}", consumed.body);
    assert_eq!(consumed.body["subjectUserId"], "alice");
    assert_eq!(
        consumed.body["stepUpRequestContext"]["attributes"]["payee"],
        "bob"
    );

    let again = app.consume(&id, &service).await;
    again.assert_error(404, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
}

#[tokio::test]
async fn a_code_is_accepted_only_once() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
    app.verify(&id, "alice", &code)
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");
}

#[tokio::test]
async fn resend_after_the_cooldown_sends_the_same_code() {
    let (app, clock) = TestApp::spawn_with_clock().await;
    let (id, first) = app.challenge_with_code("alice").await;
    clock.advance(31);
    let again = app.initiate(&id, "alice").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(app.inbox.lines().len(), 2);
    assert_eq!(app.inbox.last_code_for(PHONE).unwrap(), first);
    assert_eq!(app.verify(&id, "alice", &first).await.status, 200);
}

#[tokio::test]
async fn after_the_code_ttl_a_new_code_replaces_the_old_one() {
    let (app, clock) = TestApp::spawn_with_clock().await;
    let (id, first) = app.challenge_with_code("alice").await;
    clock.advance(301);
    app.verify(&id, "alice", &first)
        .await
        .assert_error(400, "INVALID_OTP");
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let second = app.inbox.last_code_for(PHONE).unwrap();
    if second != first {
        app.verify(&id, "alice", &first)
            .await
            .assert_error(400, "INVALID_OTP");
    }
    assert_eq!(app.verify(&id, "alice", &second).await.status, 200);
}

#[tokio::test]
async fn cancel_withdraws_the_challenge_and_its_context() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    let service = TestApp::service_token();
    let cancelled = app.cancel(&id, &service).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "CANCELLED");
    app.verify(&id, "alice", &code)
        .await
        .assert_error(404, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
    app.consume(&id, &service)
        .await
        .assert_error(404, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
}

#[tokio::test]
async fn putting_a_user_again_replaces_the_phone() {
    let app = TestApp::spawn().await;
    assert_eq!(app.put_user("alice", "+12015550123").await.status, 201);
    let replaced = app.put_user("alice", PHONE).await;
    assert_eq!(replaced.status, 200);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    assert!(app.inbox.last_code_for(PHONE).is_some());
}

#[tokio::test]
async fn health_probes_answer() {
    let app = TestApp::spawn().await;
    let live = app.send(app.http.get(app.url("/health/live"))).await;
    assert_eq!(
        (live.status, live.body["status"].as_str()),
        (200, Some("UP"))
    );
    let ready = app.send(app.http.get(app.url("/health/ready"))).await;
    assert_eq!(ready.status, 200);
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_generated_otherwise() {
    let app = TestApp::spawn().await;
    let echoed = app
        .send(
            app.http
                .get(app.url("/nope"))
                .header("X-Request-Id", "trace-123"),
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-123"));
    assert_eq!(echoed.body["requestId"], "trace-123");
    let replaced = app
        .send(
            app.http
                .get(app.url("/nope"))
                .header("X-Request-Id", "has spaces"),
        )
        .await;
    assert_ne!(replaced.header("x-request-id"), Some("has spaces"));
    assert_eq!(
        replaced.body["requestId"].as_str(),
        replaced.header("x-request-id")
    );
}

#[tokio::test]
async fn user_ids_may_contain_colons() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("tenant-7:alice").await;
    assert_eq!(app.verify(&id, "tenant-7:alice", &code).await.status, 200);
    assert_eq!(
        app.put_user("tenant-7:alice", PHONE).await.status,
        200,
        "replaced, not misrouted"
    );
}

#[tokio::test]
async fn a_percent_encoded_colon_reaches_the_custom_method() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    let reply = app
        .post_json(
            &format!("/internal/v1/mfa/totp-sms/{id}%3Averify"),
            &TestApp::token("alice", &[]),
            serde_json::json!({ "otp": code }),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (200, Some("VERIFIED"))
    );
}
