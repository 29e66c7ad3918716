//! Every error code the API can produce today, produced for real over HTTP, each response in
//! the contract's shape (checked against the committed spec by the shared client).

use std::sync::Arc;

use down_provider::FailingSms;
use mfa_totp_server::auth::SCOPE_CHALLENGES_READ;
use mfa_totp_tests::{PHONE, Setup, TestApp, TestDatabase, other_code};
use serde_json::json;

mod down_provider {
    //! An SMS provider that is down, to reach `SERVICE_UNAVAILABLE`.
    use mfa_totp_application::{OutboundSms, ProviderAnswer, SentSms, SmsError, SmsSender};

    pub struct FailingSms;

    #[mfa_totp_tests::async_trait]
    impl SmsSender for FailingSms {
        async fn send(&self, _sms: &OutboundSms) -> Result<SentSms, SmsError> {
            Err(SmsError::Unavailable(ProviderAnswer::new(
                "fake",
                None,
                "provider down",
            )))
        }
    }
}

const CHALLENGES: &str = "/internal/v1/mfa/challenges";

#[tokio::test]
async fn malformed_json_is_bad_request() {
    let app = TestApp::spawn().await;
    let reply = app
        .post_raw(
            CHALLENGES,
            &TestApp::service_token(),
            "application/json",
            "{\"subjectUserId\": ",
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn missing_and_null_fields_are_named_not_null() {
    let app = TestApp::spawn().await;
    let reply = app
        .post_json(
            CHALLENGES,
            &TestApp::service_token(),
            json!({"subjectUserId": null, "stepUpRequestContext": {}}),
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
    let fields: Vec<(&str, &str)> = reply.body["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("subjectUserId", "urn:plmr:mfa-totp:api:NOT_NULL"),
            (
                "stepUpRequestContext.operation",
                "urn:plmr:mfa-totp:api:NOT_NULL"
            ),
        ]
    );
}

#[tokio::test]
async fn blank_fields_are_not_blank() {
    let app = TestApp::spawn().await;
    let (id, _) = app.challenge_with_code("alice").await;
    let reply = app.verify(&id, "alice", "   ").await;
    reply.assert_error(400, "BAD_REQUEST");
    assert_eq!(
        reply.body["fieldErrors"][0]["code"],
        "urn:plmr:mfa-totp:api:NOT_BLANK"
    );
    assert_eq!(reply.body["fieldErrors"][0]["field"], "otp");
}

#[tokio::test]
async fn a_number_where_a_string_is_due_is_refused() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    let reply = app
        .post_json(
            &format!("/internal/v1/mfa/totp-sms/{id}:verify"),
            &TestApp::token("alice", &[]),
            json!({"otp": code.parse::<u32>().unwrap()}),
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("otp must be a string")
    );
}

#[tokio::test]
async fn wrong_content_type_is_bad_request() {
    let app = TestApp::spawn().await;
    let reply = app
        .post_raw(CHALLENGES, &TestApp::service_token(), "text/plain", "{}")
        .await;
    reply.assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn a_challenge_id_that_is_not_a_uuid_is_bad_request() {
    let app = TestApp::spawn().await;
    app.initiate("not-a-uuid", "alice")
        .await
        .assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn a_phone_that_is_not_e164_is_bad_request() {
    let app = TestApp::spawn().await;
    app.put_user("alice", "07700 900123")
        .await
        .assert_error(400, "BAD_REQUEST");
}

#[tokio::test]
async fn missing_invalid_and_foreign_tokens_are_unauthorized() {
    let app = TestApp::spawn().await;
    let no_token = app
        .send(app.http.post(app.url(CHALLENGES)).json(&json!({})))
        .await;
    no_token.assert_error(401, "UNAUTHORIZED");
    app.post_json(CHALLENGES, "not-a-jwt", json!({}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    let foreign =
        mfa_totp_server::auth::mint_hs256(b"another-secret", "mfa-totp", "mfa-totp", "x", &[], 60)
            .unwrap();
    app.post_json(CHALLENGES, &foreign, json!({}))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_token_without_the_scope_is_forbidden() {
    let app = TestApp::spawn().await;
    let reader = TestApp::token("svc", &[SCOPE_CHALLENGES_READ]);
    app.post_json(
        CHALLENGES,
        &reader,
        json!({"subjectUserId": "a", "stepUpRequestContext": {"operation": "x"}}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn another_user_gets_subject_mismatch() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    app.initiate(&id, "mallory")
        .await
        .assert_error(403, "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID");
    app.verify(&id, "mallory", &code)
        .await
        .assert_error(403, "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID");
}

#[tokio::test]
async fn unknown_challenge_is_challenge_not_found() {
    let app = TestApp::spawn().await;
    let id = "7b0d5c9e-8f7c-4a8e-9d4b-3f1f6a2b1c00";
    app.initiate(id, "alice")
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");
    app.get(&format!("{CHALLENGES}/{id}"), &TestApp::service_token())
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");
}

#[tokio::test]
async fn expired_challenge_is_challenge_not_found_and_reads_expired() {
    let (app, clock) = TestApp::spawn_with_clock().await;
    let (id, code) = app.challenge_with_code("alice").await;
    clock.advance(601);
    app.verify(&id, "alice", &code)
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");
    let status = app
        .get(&format!("{CHALLENGES}/{id}"), &TestApp::service_token())
        .await;
    assert_eq!(status.body["status"], "EXPIRED");
}

#[tokio::test]
async fn consumed_context_is_step_up_request_context_not_found() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
    assert_eq!(
        app.post(
            &format!("{CHALLENGES}/{id}:consume"),
            &TestApp::service_token()
        )
        .await
        .status,
        200
    );
    app.initiate(&id, "alice")
        .await
        .assert_error(404, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
}

#[tokio::test]
async fn user_without_phone_is_user_not_found() {
    let app = TestApp::spawn().await;
    let id = app.create_challenge("nobody").await;
    app.initiate(&id, "nobody")
        .await
        .assert_error(404, "USER_NOT_FOUND");
    assert!(app.inbox.lines().is_empty());
}

#[tokio::test]
async fn unknown_route_and_internal_paths_are_resource_unknown() {
    let app = TestApp::spawn().await;
    app.send(app.http.get(app.url("/internal/v1/nothing")))
        .await
        .assert_error(404, "RESOURCE_UNKNOWN");
    let (id, _) = app.challenge_with_code("alice").await;
    app.post(
        &format!("/internal/v1/mfa/totp-sms/{id}/_colon_initiate"),
        &TestApp::token("alice", &[]),
    )
    .await
    .assert_error(404, "RESOURCE_UNKNOWN");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let id = "7b0d5c9e-8f7c-4a8e-9d4b-3f1f6a2b1c00";
    let reply = app
        .send(
            app.http
                .get(app.url(&format!("/internal/v1/mfa/totp-sms/{id}:verify"))),
        )
        .await;
    reply.assert_error(405, "BAD_REQUEST");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = app
        .send(app.http.delete(app.url(&format!("{CHALLENGES}/{id}"))))
        .await;
    assert_eq!(
        (reply.status, reply.header("allow")),
        (405, Some("GET, HEAD"))
    );
}

#[tokio::test]
async fn wrong_code_is_invalid_otp() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    app.verify(&id, "alice", &other_code(&code))
        .await
        .assert_error(400, "INVALID_OTP");
    app.verify(&id, "alice", "12ab56")
        .await
        .assert_error(400, "INVALID_OTP");
    assert_eq!(
        app.verify(&id, "alice", &code).await.status,
        200,
        "a malformed code is not counted"
    );
}

#[tokio::test]
async fn verify_locks_challenge_after_fifth_wrong_code() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    for _ in 0..5 {
        app.verify(&id, "alice", &other_code(&code))
            .await
            .assert_error(400, "INVALID_OTP");
    }
    let locked = app.verify(&id, "alice", &code).await;
    locked.assert_error(429, "TOO_MANY_REQUESTS");
    assert!(
        locked
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let status = app
        .get(&format!("{CHALLENGES}/{id}"), &TestApp::service_token())
        .await;
    assert_eq!(status.body["status"], "LOCKED");
}

#[tokio::test]
async fn resend_within_the_cooldown_is_too_many_requests() {
    let app = TestApp::spawn().await;
    let (id, _) = app.challenge_with_code("alice").await;
    let reply = app.initiate(&id, "alice").await;
    reply.assert_error(429, "TOO_MANY_REQUESTS");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(app.inbox.lines().len(), 1);
}

#[tokio::test]
async fn sixth_send_is_too_many_requests() {
    let (app, clock) = TestApp::spawn_with_clock().await;
    let (id, _) = app.challenge_with_code("alice").await;
    for _ in 0..4 {
        clock.advance(31);
        assert_eq!(app.initiate(&id, "alice").await.status, 200);
    }
    clock.advance(31);
    app.initiate(&id, "alice")
        .await
        .assert_error(429, "TOO_MANY_REQUESTS");
    assert_eq!(app.inbox.lines().len(), 5);
}

#[tokio::test]
async fn sms_provider_down_is_service_unavailable_and_the_send_is_not_counted() {
    let database = TestDatabase::from_env("sms_provider_down").await;
    let mut setup = Setup::new(&database);
    setup.sms = Some(Arc::new(FailingSms));
    let app = TestApp::spawn_with(setup, Some(database)).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    let reply = app.initiate(&id, "alice").await;
    reply.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(reply.header("retry-after").is_some());
    let status = app
        .get(&format!("{CHALLENGES}/{id}"), &TestApp::service_token())
        .await;
    assert_eq!(
        status.body["status"], "PENDING",
        "the failed send was undone"
    );
}

#[tokio::test]
async fn a_secret_sealed_with_a_removed_key_is_an_internal_error_without_internals() {
    let database = TestDatabase::from_env("removed_key").await;
    let mut setup = Setup::new(&database);
    setup.settings.crypto.active_key_id = Some("k1".into());
    setup.settings.crypto.keys.insert(
        "k1".into(),
        "xY7jUEakXjXzn8pBUXZ0yyotjWIJKcLUBqfWKczI7pQ=".into(),
    );
    let first = TestApp::spawn_with(setup, None).await;
    assert_eq!(first.put_user("alice", PHONE).await.status, 201);
    let id = first.create_challenge("alice").await;
    drop(first);

    let mut setup = Setup::new(&database);
    setup.settings.crypto.active_key_id = Some("k2".into());
    setup.settings.crypto.keys.insert(
        "k2".into(),
        "Q/Wzaf24venRN0bWmrIhi2B9/LntHvhnQQ/fBrcBk70=".into(),
    );
    let second = TestApp::spawn_with(setup, None).await;
    let reply = second.initiate(&id, "alice").await;
    reply.assert_error(500, "INTERNAL_SERVER_ERROR");
    assert_eq!(reply.body["message"], "An internal error occurred.");
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(70 * 1024);
    let reply = app
        .post_json(
            CHALLENGES,
            &TestApp::service_token(),
            json!({"subjectUserId": "a", "stepUpRequestContext": {"operation": "x", "attributes": {"blob": big}}}),
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("65536 bytes")
    );
}

#[tokio::test]
async fn consuming_before_verification_finds_no_verified_context() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    let consume = format!("{CHALLENGES}/{id}:consume");
    let early = app.post(&consume, &TestApp::service_token()).await;
    early.assert_error(409, "STEP_UP_REQUEST_CONTEXT_NOT_FOUND");
    assert!(
        early.body["message"]
            .as_str()
            .unwrap()
            .contains("CODE_SENT"),
        "{}",
        early.body
    );
    // Nothing was used up: the challenge still verifies and its context is consumed once.
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
    assert_eq!(
        app.post(&consume, &TestApp::service_token()).await.status,
        200
    );
}

/// A body field that does not parse by its domain type is refused at its path, like a
/// refused one: every such field at once, each with its field error.
#[tokio::test]
async fn malformed_body_fields_are_refused_each_with_its_field_error() {
    let app = TestApp::spawn().await;
    let reply = app
        .send(
            app.http
                .put(app.url("/internal/v1/mfa/users/alice"))
                .bearer_auth(TestApp::service_token())
                .json(&json!({"phoneNumber": "0044 7400 123123", "locale": "not a locale"})),
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
    assert_eq!(fields(&reply), ["phoneNumber", "locale"], "{}", reply.body);
    assert_eq!(
        reply.body["fieldErrors"][0]["code"],
        "urn:plmr:mfa-totp:api:NOT_BLANK"
    );

    let reply = app
        .post_json(
            "/internal/v1/mfa/challenges",
            &TestApp::service_token(),
            json!({
                "subjectUserId": "al\u{7}ice",
                "stepUpRequestContext": {"operation": "payments\u{0}transfer"},
                "locale": "x",
            }),
        )
        .await;
    reply.assert_error(400, "BAD_REQUEST");
    assert_eq!(
        fields(&reply),
        ["subjectUserId", "stepUpRequestContext.operation", "locale"],
        "{}",
        reply.body
    );
}

/// The paths of a reply's field errors, in order.
fn fields(reply: &mfa_totp_tests::Reply) -> Vec<&str> {
    reply.body["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect()
}
