//! Switching SMS providers is a config change: the real server, configured for `twilio`, or
//! for a `twilio,vonage` chain, delivers the code through fakes of those providers on
//! loopback, and the user verifies with the code read from the fake's captured request.

use mfa_totp_server::config::SmsProvider;
use mfa_totp_sms::{TwilioConfig, VonageConfig};
use mfa_totp_tests::{PHONE, Setup, TestApp, TestDatabase};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{last_text, twilio_accepting, twilio_config};

fn vonage_config(base_url: &str) -> VonageConfig {
    VonageConfig {
        base_url: base_url.into(),
        api_key: Some("key".into()),
        api_secret: Some("secret".into()),
        from: Some("MFA".into()),
        ..VonageConfig::default()
    }
}

fn code_in(text: &str) -> String {
    mfa_totp_sms::code_in(text)
        .expect("a code in the text")
        .to_owned()
}

async fn app_with(providers: &[SmsProvider], twilio: &str, vonage: &str) -> TestApp {
    let database = TestDatabase::from_env("sms_providers").await;
    let mut setup = Setup::new(&database);
    setup.settings.sms.chain = providers.to_vec();
    setup.settings.sms.twilio = twilio_config(twilio);
    setup.settings.sms.vonage = vonage_config(vonage);
    setup.real_sms = true;
    TestApp::spawn_with(setup, Some(database)).await
}

#[tokio::test]
async fn configured_for_twilio_the_code_goes_through_twilio() {
    let twilio = twilio_accepting().await;
    let app = app_with(&[SmsProvider::Twilio], &twilio.uri(), "http://127.0.0.1:9").await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let code = code_in(&last_text(&twilio, "Body").await);
    let verified = app.verify(&id, "alice", &code).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    let last = last_sms(&app, &id).await;
    assert_eq!(last["provider"], "twilio");
    assert_eq!(last["outcome"], "ACCEPTED");
}

/// `lastSms` of the challenge, as `getChallenge` shows it.
async fn last_sms(app: &TestApp, id: &str) -> serde_json::Value {
    let challenge = app
        .get(
            &format!("/internal/v1/mfa/challenges/{id}"),
            &TestApp::service_token(),
        )
        .await;
    challenge.body["lastSms"].clone()
}

#[tokio::test]
async fn with_twilio_down_a_twilio_vonage_chain_delivers_through_vonage() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&twilio)
        .await;
    let vonage = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{"to": "447400123123", "message-id": "V1", "status": "0"}],
        })))
        .mount(&vonage)
        .await;
    let app = app_with(
        &[SmsProvider::Twilio, SmsProvider::Vonage],
        &twilio.uri(),
        &vonage.uri(),
    )
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let code = code_in(&last_text(&vonage, "text").await);
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
    assert_eq!(
        last_sms(&app, &id).await["provider"],
        "vonage",
        "the second carried it"
    );
}

#[tokio::test]
async fn a_number_the_provider_refuses_for_good_is_user_not_found_and_costs_no_send() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "message": "The 'To' number is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400,
        })))
        .mount(&twilio)
        .await;
    let app = app_with(&[SmsProvider::Twilio], &twilio.uri(), "http://127.0.0.1:9").await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    app.initiate(&id, "alice")
        .await
        .assert_error(404, "USER_NOT_FOUND");
    let status = app
        .get(
            &format!("/internal/v1/mfa/challenges/{id}"),
            &TestApp::service_token(),
        )
        .await;
    assert_eq!(
        status.body["status"], "PENDING",
        "the failed send was undone"
    );
    assert_eq!(status.body["lastSms"]["outcome"], "REJECTED");
}

#[tokio::test]
async fn every_provider_down_is_service_unavailable_with_retry_after() {
    let app = app_with(
        &[SmsProvider::Twilio, SmsProvider::Vonage],
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    )
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    let reply = app.initiate(&id, "alice").await;
    reply.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(reply.header("retry-after").is_some());
}

const CALLBACK: &str = "https://mfa.example/internal/v1/mfa/sms/twilio/status";

/// A Twilio status callback for `sid`, signed with `token` (or not at all).
async fn report(
    app: &TestApp,
    sid: &str,
    status: &str,
    token: Option<&str>,
) -> mfa_totp_tests::Reply {
    let params: Vec<(String, String)> = [
        ("AccountSid", "AC0123"),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("To", "+447400123123"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut request = app
        .http
        .post(app.url("/internal/v1/mfa/sms/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap());
    if let Some(token) = token {
        let signature = mfa_totp_sms::twilio::twilio_signature(&token.into(), CALLBACK, &params);
        request = request.header("x-twilio-signature", signature);
    }
    app.send(request).await
}

#[tokio::test]
async fn a_signed_twilio_status_callback_sets_the_delivery_status_and_a_bad_one_is_forbidden() {
    let twilio = twilio_accepting().await;
    let database = TestDatabase::from_env("twilio_callback").await;
    let mut setup = Setup::new(&database);
    setup.settings.sms.chain = vec![SmsProvider::Twilio];
    setup.settings.sms.twilio = TwilioConfig {
        status_callback: Some(CALLBACK.into()),
        ..twilio_config(&twilio.uri())
    };
    setup.real_sms = true;
    let app = TestApp::spawn_with(setup, Some(database)).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    assert_eq!(last_text(&twilio, "StatusCallback").await, CALLBACK);
    assert_eq!(last_sms(&app, &id).await.get("deliveryStatus"), None);

    report(&app, "SM1", "delivered", Some("wrong-token"))
        .await
        .assert_error(403, "FORBIDDEN");
    report(&app, "SM1", "delivered", None)
        .await
        .assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        last_sms(&app, &id).await.get("deliveryStatus"),
        None,
        "nothing changed"
    );

    assert_eq!(
        report(&app, "SM1", "delivered", Some("token")).await.status,
        204
    );
    assert_eq!(last_sms(&app, &id).await["deliveryStatus"], "DELIVERED");
}

#[tokio::test]
async fn without_twilio_configured_every_status_callback_is_forbidden() {
    let app = TestApp::spawn().await;
    report(&app, "SM1", "delivered", Some("token"))
        .await
        .assert_error(403, "FORBIDDEN");
}

/// With every provider's circuit open no code can go out: readiness says so (`sms`), and
/// liveness stays trivial.
#[tokio::test]
async fn every_circuit_open_is_not_ready() {
    let app = app_with(
        &[SmsProvider::Twilio, SmsProvider::Vonage],
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    )
    .await;
    assert_eq!(app.get("/health/ready", "").await.status, 200);
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    // Three failed sends open each breaker (Resilience::breaker_failures).
    for _ in 0..3 {
        app.initiate(&id, "alice")
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
    }
    let ready = app.get("/health/ready", "").await;
    ready.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(
        ready.body["message"].as_str().unwrap().contains("sms"),
        "{}",
        ready.body
    );
    assert_eq!(app.get("/health/live", "").await.status, 200);
}
