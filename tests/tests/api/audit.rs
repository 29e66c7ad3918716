//! The audit trail, read as support staff read it: every event of a full flow once, in
//! order, with the request that caused it, and never a code or a full number.

use mfa_totp_server::config::SmsProvider;
use mfa_totp_tests::{PHONE, Setup, TestApp, TestDatabase, other_code};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{last_text, twilio_config};

fn events_path(id: &str) -> String {
    format!("/internal/v1/mfa/challenges/{id}/events")
}

async fn events(app: &TestApp, id: &str) -> Vec<Value> {
    let reply = app.get(&events_path(id), &TestApp::service_token()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["challengeId"], id);
    reply.body["events"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// An app whose SMS go to a fake Twilio over real HTTP, with a clock the test moves.
async fn app_on_twilio(
    twilio: &MockServer,
) -> (TestApp, std::sync::Arc<mfa_totp_tests::ManualClock>) {
    let database = TestDatabase::from_env("audit").await;
    let clock = mfa_totp_tests::ManualClock::new();
    let mut setup = Setup::new(&database);
    setup.settings.sms.chain = vec![SmsProvider::Twilio];
    setup.settings.sms.twilio = twilio_config(&twilio.uri());
    setup
        .settings
        .limits
        .entry("phone_sms".into())
        .or_default()
        .max = Some(3);
    setup.real_sms = true;
    setup.clock = Some(clock.clone());
    (TestApp::spawn_with(setup, Some(database)).await, clock)
}

async fn twilio_answering(status: u16, body: Value) -> MockServer {
    let fake = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&fake)
        .await;
    fake
}

fn code_in(text: &str) -> String {
    mfa_totp_sms::code_in(text).unwrap().to_owned()
}

#[tokio::test]
async fn a_full_flow_audits_every_event_once() {
    let twilio = twilio_answering(201, json!({"sid": "SM42", "status": "queued"})).await;
    let (app, clock) = app_on_twilio(&twilio).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let service = TestApp::service_token();

    // Created, sent, a wrong code, verified, consumed.
    let done = app.create_challenge("alice").await;
    let initiate = app
        .send(
            app.http
                .post(app.url(&format!("/internal/v1/mfa/totp-sms/{done}:initiate")))
                .bearer_auth(TestApp::token("alice", &[]))
                .header("x-request-id", "support-case-1"),
        )
        .await;
    assert_eq!(initiate.status, 200);
    let code = code_in(&last_text(&twilio, "Body").await);
    assert_eq!(
        app.verify(&done, "alice", &other_code(&code)).await.status,
        400
    );
    assert_eq!(app.verify(&done, "alice", &code).await.status, 200);
    let consume = format!("/internal/v1/mfa/challenges/{done}:consume");
    assert_eq!(app.post(&consume, &service).await.status, 200);

    // Locked after five wrong codes.
    let locked = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&locked, "alice").await.status, 200);
    let locked_code = code_in(&last_text(&twilio, "Body").await);
    for _ in 0..5 {
        let wrong = other_code(&locked_code);
        assert_eq!(app.verify(&locked, "alice", &wrong).await.status, 400);
    }

    // Cancelled.
    let cancelled = app.create_challenge("alice").await;
    let cancel = format!("/internal/v1/mfa/challenges/{cancelled}:cancel");
    assert_eq!(app.post(&cancel, &service).await.status, 200);

    // A limit hit: phone_sms is 3 here and two went out.
    let limited = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&limited, "alice").await.status, 200);
    let refused = app.initiate(&limited, "alice").await;
    assert_eq!(refused.status, 429);
    let refused = {
        clock.advance(31);
        app.initiate(&limited, "alice").await
    };
    refused.assert_error(429, "TOO_MANY_REQUESTS");

    // Expired: touched after its lifetime.
    clock.advance(600);
    app.initiate(&limited, "alice")
        .await
        .assert_error(404, "CHALLENGE_NOT_FOUND");

    let flow = events(&app, &done).await;
    assert_eq!(
        types(&flow),
        [
            "CHALLENGE_CREATED",
            "CODE_SENT",
            "VERIFY_FAILED",
            "VERIFIED",
            "CONSUMED"
        ]
    );
    let sent = &flow[1];
    assert_eq!(sent["requestId"], "support-case-1");
    assert_eq!(sent["provider"], "twilio");
    assert_eq!(sent["messageId"], "SM42");
    assert_eq!(sent["maskedPhoneNumber"], "+44*******123");
    assert_eq!(sent["actor"], "alice");
    assert_eq!(sent["subjectUserId"], "alice");
    assert_eq!(flow[0]["actor"], "operation-service");
    assert_eq!(flow[0]["outcome"], "PENDING");
    assert_eq!(
        flow[0].get("maskedPhoneNumber"),
        None,
        "no phone before a send"
    );
    assert_eq!(flow[2]["outcome"], "INVALID_OTP");
    // After the send, every event names the phone the code went to.
    for event in &flow[1..] {
        assert_eq!(event["maskedPhoneNumber"], "+44*******123", "{event}");
    }

    let lock = events(&app, &locked).await;
    assert_eq!(
        types(&lock),
        [
            "CHALLENGE_CREATED",
            "CODE_SENT",
            "VERIFY_FAILED",
            "VERIFY_FAILED",
            "VERIFY_FAILED",
            "VERIFY_FAILED",
            "VERIFY_FAILED",
            "LOCKED"
        ]
    );
    assert_eq!(
        types(&events(&app, &cancelled).await),
        ["CHALLENGE_CREATED", "CANCELLED"]
    );
    let limit = events(&app, &limited).await;
    // The first refusal was the cooldown (per challenge, not audited as a limit across
    // challenges); the second, phone_sms.
    assert_eq!(
        types(&limit),
        ["CHALLENGE_CREATED", "CODE_SENT", "LIMIT_HIT", "EXPIRED"]
    );
    assert_eq!(limit[2]["limit"], "phone_sms");
    assert_eq!(limit[2]["outcome"], "TOO_MANY_REQUESTS");
    assert_eq!(limit[2]["maskedPhoneNumber"], "+44*******123");
    assert_eq!(
        limit[3]["maskedPhoneNumber"], "+44*******123",
        "EXPIRED too"
    );
    assert_eq!(lock[7]["maskedPhoneNumber"], "+44*******123", "LOCKED too");

    // Nothing anywhere in the trail holds a code or the full number.
    for id in [&done, &locked, &cancelled, &limited] {
        let text = serde_json::to_string(&events(&app, id).await).unwrap();
        assert!(!text.contains(&PHONE[1..]), "full number in {text}");
        for secret in [&code, &locked_code] {
            assert!(!text.contains(secret.as_str()), "a code in {text}");
        }
    }
}

#[tokio::test]
async fn a_send_no_provider_took_is_audited_with_its_outcome() {
    let twilio = twilio_answering(
        400,
        json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
    )
    .await;
    let (app, _clock) = app_on_twilio(&twilio).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    app.initiate(&id, "alice")
        .await
        .assert_error(404, "USER_NOT_FOUND");
    let trail = events(&app, &id).await;
    assert_eq!(types(&trail), ["CHALLENGE_CREATED", "SEND_FAILED"]);
    assert_eq!(trail[1]["outcome"], "REJECTED");
    assert_eq!(trail[1]["maskedPhoneNumber"], "+44*******123");
}

#[tokio::test]
async fn events_need_the_audit_scope_and_a_known_challenge() {
    let app = TestApp::spawn().await;
    let id = app.create_challenge("alice").await;
    let without = TestApp::token("operation-service", &["mfa:challenges:read"]);
    app.get(&events_path(&id), &without)
        .await
        .assert_error(403, "FORBIDDEN");
    // Support staff may read any client's challenge.
    let support = TestApp::token("support-desk", &["mfa:audit:read"]);
    let reply = app.get(&events_path(&id), &support).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["events"][0]["type"], "CHALLENGE_CREATED");
    app.get(
        &events_path("00000000-0000-4000-8000-000000000000"),
        &support,
    )
    .await
    .assert_error(404, "CHALLENGE_NOT_FOUND");
}

/// 1100 refusals by a limit cannot push a later change out of the trail: repeated, they are
/// one `LIMIT_HIT` with its count and the time of the last, and the `CANCELLED` after them
/// is in the trail.
#[tokio::test]
async fn a_flood_of_refusals_is_one_event_and_hides_no_later_change() {
    let (app, _clock) = TestApp::spawn_configured(|settings| {
        settings.limits.insert(
            "user_sms".into(),
            mfa_totp_server::config::LimitSettings::new(1, 3600),
        );
    })
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let first = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&first, "alice").await.status, 200);
    let id = app.create_challenge("alice").await;
    let app = std::sync::Arc::new(app);
    for _ in 0..110 {
        let batch: Vec<_> = (0..10)
            .map(|_| {
                let (app, id) = (app.clone(), id.clone());
                tokio::spawn(async move { app.initiate(&id, "alice").await.status })
            })
            .collect();
        for task in batch {
            assert_eq!(task.await.unwrap(), 429);
        }
    }
    let cancelled = app.cancel(&id, &TestApp::service_token()).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let trail = events(&app, &id).await;
    assert_eq!(
        types(&trail),
        ["CHALLENGE_CREATED", "LIMIT_HIT", "CANCELLED"]
    );
    assert_eq!(trail[1]["repeats"], 1100);
    assert_eq!(trail[1]["limit"], "user_sms");
    assert!(trail[1]["lastOccurredAt"].is_string(), "{}", trail[1]);
    assert_eq!(trail[0]["repeats"], 1);
}
