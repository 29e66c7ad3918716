//! Switching SMS providers is a config change: the real server, configured for `twilio`, or
//! for a `twilio,vonage` chain, delivers the code through fakes of those providers on
//! loopback, and the user verifies with the code read from the fake's captured request.

use mfa_totp_server::config::{LimitSettings, SmsProvider};
use mfa_totp_sms::{TwilioConfig, VonageConfig};
use mfa_totp_tests::{PHONE, Setup, TestApp, TestDatabase, requests_to};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::{last_text, twilio_accepting, twilio_config};

fn vonage_config(base_url: &str) -> VonageConfig {
    VonageConfig {
        base_url: base_url.into(),
        api_key: Some("key".into()),
        api_secret: Some("vonage-secret-5d2e8b".into()),
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

/// Twilio's error body for `code`.
fn twilio_refusal(code: u64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": 400,
    }))
}

/// A number the provider refuses (here a landline, Twilio 21635, or the sender's own number,
/// 21266): `USER_NOT_FOUND`, and the send counts (cooldown, limits), so that repeating it
/// costs the user, not the service. It is neither retried nor failed over, and no number
/// opens the breaker: readiness stays up and other users still get their codes.
#[tokio::test]
async fn a_number_the_provider_refuses_is_final_charged_and_cannot_switch_sms_off() {
    for (code, text) in [
        (21635, "'To' number cannot be a landline."),
        (
            21266,
            "'To' and 'From' number cannot be the same: +447400123123",
        ),
    ] {
        let twilio = MockServer::start().await;
        Mock::given(method("POST"))
            .and(wiremock::matchers::body_string_contains(
                "To=%2B447400123123",
            ))
            .respond_with(twilio_refusal(code, text))
            .mount(&twilio)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(json!({"sid": "SM2", "status": "queued"})),
            )
            .mount(&twilio)
            .await;
        let vonage = MockServer::start().await;
        let app = app_with(
            &[SmsProvider::Twilio, SmsProvider::Vonage],
            &twilio.uri(),
            &vonage.uri(),
        )
        .await;
        assert_eq!(app.put_user("mallory", PHONE).await.status, 201);
        assert_eq!(app.put_user("bob", "+447400123999").await.status, 201);
        // The default `phone_sms` limit is 5 an hour: the refusals use it up.
        for _ in 0..5 {
            let id = app.create_challenge("mallory").await;
            app.initiate(&id, "mallory")
                .await
                .assert_error(404, "USER_NOT_FOUND");
            let last = last_sms(&app, &id).await;
            assert_eq!(
                (&last["outcome"], &last["provider"], &last["errorCode"]),
                (
                    &json!("REJECTED"),
                    &json!("twilio"),
                    &json!(code.to_string())
                )
            );
            // The refused send counts: the cooldown holds, and no request goes out.
            app.initiate(&id, "mallory")
                .await
                .assert_error(429, "TOO_MANY_REQUESTS");
            let events = app
                .get(
                    &format!("/internal/v1/mfa/challenges/{id}/events"),
                    &TestApp::service_token(),
                )
                .await;
            let failed = events.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["type"] == "SEND_FAILED")
                .cloned()
                .unwrap();
            assert_eq!(
                (
                    &failed["outcome"],
                    &failed["provider"],
                    &failed["errorCode"]
                ),
                (
                    &json!("REJECTED"),
                    &json!("twilio"),
                    &json!(code.to_string())
                )
            );
        }
        let id = app.create_challenge("mallory").await;
        let limited = app.initiate(&id, "mallory").await;
        limited.assert_error(429, "TOO_MANY_REQUESTS");
        assert!(
            limited.body["message"]
                .as_str()
                .unwrap()
                .contains("phone_sms")
        );
        assert_eq!(
            twilio.received_requests().await.unwrap().len(),
            5,
            "one request per send: no retry, none past the limit"
        );
        assert!(
            vonage.received_requests().await.unwrap().is_empty(),
            "no failover"
        );
        assert_eq!(app.get("/health/ready", "").await.status, 200);
        let id = app.create_challenge("bob").await;
        assert_eq!(
            app.initiate(&id, "bob").await.status,
            200,
            "bob still gets codes"
        );
        assert_eq!(last_sms(&app, &id).await["provider"], "twilio");
    }
}

/// The `phone_sms` limit at 2 an hour, with Twilio and Vonage configured.
async fn app_with_phone_limit(twilio: &str, vonage: &str) -> TestApp {
    let database = TestDatabase::from_env("sms_outcomes").await;
    let mut setup = Setup::new(&database);
    setup.settings.sms.chain = vec![SmsProvider::Twilio, SmsProvider::Vonage];
    setup.settings.sms.twilio = TwilioConfig {
        timeout_ms: 300,
        ..twilio_config(twilio)
    };
    setup.settings.sms.vonage = vonage_config(vonage);
    setup
        .settings
        .limits
        .insert("phone_sms".into(), LimitSettings::new(2, 3600));
    setup.real_sms = true;
    TestApp::spawn_with(setup, Some(database)).await
}

/// A provider that may have sent the SMS (it took the request, then timed out) is not
/// retried elsewhere, and the send is charged: two slow sends use the phone's budget of 2.
/// A 2xx with a body that is not Twilio's is a send too, made once.
#[tokio::test]
async fn an_unknown_outcome_is_charged_and_never_sent_twice() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM1", "status": "queued"}))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .mount(&slow)
        .await;
    let vonage = MockServer::start().await;
    let app = app_with_phone_limit(&slow.uri(), &vonage.uri()).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    for _ in 0..2 {
        let id = app.create_challenge("alice").await;
        let reply = app.initiate(&id, "alice").await;
        reply.assert_error(503, "SERVICE_UNAVAILABLE");
        assert_eq!(
            reply.header("retry-after"),
            Some("30"),
            "the send's cooldown"
        );
        assert_eq!(last_sms(&app, &id).await["outcome"], "UNKNOWN");
    }
    let id = app.create_challenge("alice").await;
    let refused = app.initiate(&id, "alice").await;
    refused.assert_error(429, "TOO_MANY_REQUESTS");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("phone_sms"),
        "{}",
        refused.body
    );
    assert_eq!(slow.received_requests().await.unwrap().len(), 2, "no retry");
    assert!(
        vonage.received_requests().await.unwrap().is_empty(),
        "no failover"
    );

    let html = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_raw("<html>Created</html>", "text/html"))
        .mount(&html)
        .await;
    let vonage = MockServer::start().await;
    let app = app_with_phone_limit(&html.uri(), &vonage.uri()).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    assert_eq!(
        html.received_requests().await.unwrap().len(),
        1,
        "sent once"
    );
    assert!(vonage.received_requests().await.unwrap().is_empty());
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
    report_signed_over(app, sid, status, &[], token, CALLBACK).await
}

/// A Twilio status callback with `extra` parameters, its signature computed over `url`.
async fn report_signed_over(
    app: &TestApp,
    sid: &str,
    status: &str,
    extra: &[(&str, &str)],
    token: Option<&str>,
    url: &str,
) -> mfa_totp_tests::Reply {
    let params: Vec<(String, String)> = [
        ("AccountSid", "AC0123"),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("To", "+447400123123"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut request = app
        .http
        .post(app.url("/internal/v1/mfa/sms/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap());
    if let Some(token) = token {
        let signature = mfa_totp_sms::twilio::twilio_signature(&token.into(), url, &params);
        request = request.header("x-twilio-signature", signature);
    }
    app.send(request).await
}

async fn app_with_callback(twilio: &MockServer, test: &str) -> TestApp {
    app_with_callback_and(twilio, test, |_| {}).await
}

async fn app_with_callback_and(
    twilio: &MockServer,
    test: &str,
    configure: impl FnOnce(&mut mfa_totp_server::config::Settings),
) -> TestApp {
    let database = TestDatabase::from_env(test).await;
    let mut setup = Setup::new(&database);
    configure(&mut setup.settings);
    setup.settings.sms.chain = vec![SmsProvider::Twilio];
    setup.settings.sms.twilio = TwilioConfig {
        status_callback: Some(CALLBACK.into()),
        ..twilio_config(&twilio.uri())
    };
    setup.real_sms = true;
    TestApp::spawn_with(setup, Some(database)).await
}

#[tokio::test]
async fn a_signed_twilio_status_callback_sets_the_delivery_status_and_a_bad_one_is_forbidden() {
    let twilio = twilio_accepting().await;
    let app = app_with_callback(&twilio, "twilio_callback").await;
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
        report(&app, "SM1", "delivered", Some("twilio-token-7f3a9c2e41b8"))
            .await
            .status,
        204
    );
    assert_eq!(last_sms(&app, &id).await["deliveryStatus"], "DELIVERED");
}

#[tokio::test]
async fn an_undelivered_report_is_pushed_to_the_creator_as_sms_undelivered() {
    let twilio = twilio_accepting().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let app = app_with_callback_and(&twilio, "sms_undelivered", |s| {
        s.events.poll_interval_ms = 20;
        s.events.subscribers.insert(
            "operation-service".into(),
            mfa_totp_server::config::SubscriberSettings {
                url: Some(receiver.uri()),
                secret: Some(secret.into()),
                events: vec!["sms.undelivered".into()],
            },
        );
    })
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let token = Some("twilio-token-7f3a9c2e41b8");
    assert_eq!(report(&app, "SM1", "sent", token).await.status, 204);
    let undelivered = report_signed_over(
        &app,
        "SM1",
        "undelivered",
        &[("ErrorCode", "30008")],
        token,
        CALLBACK,
    )
    .await;
    assert_eq!(undelivered.status, 204);
    requests_to(&receiver, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one event: `sent` is no event");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["type"], "sms.undelivered");
    assert_eq!(body["data"]["challengeId"], id.as_str());
    assert_eq!(body["data"]["deliveryStatus"], "UNDELIVERED");
    assert_eq!(body["data"]["errorCode"], "30008");
}

/// A status only moves forward: a late or replayed `queued` or `sent` after `delivered`
/// changes nothing; `partially_delivered` and statuses Twilio adds later are taken; every
/// report is in the audit trail with Twilio's `ErrorCode`; Twilio's signature over the URL
/// with `:443` is accepted as its own validator accepts it.
#[tokio::test]
async fn delivery_reports_only_move_forward_and_are_audited_with_their_error_code() {
    let twilio = twilio_accepting().await;
    let app = app_with_callback(&twilio, "twilio_callback_order").await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let with_port = "https://mfa.example:443/internal/v1/mfa/sms/twilio/status";
    type Step<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let steps: [Step; 6] = [
        ("sent", &[], CALLBACK, "SENT"),
        ("partially_delivered", &[], with_port, "PARTIALLY_DELIVERED"),
        (
            "undelivered",
            &[("ErrorCode", "30008")],
            CALLBACK,
            "UNDELIVERED",
        ),
        ("queued", &[], CALLBACK, "UNDELIVERED"),
        ("sent", &[], with_port, "UNDELIVERED"),
        (
            "some_status_twilio_adds_later",
            &[],
            CALLBACK,
            "UNDELIVERED",
        ),
    ];
    for (status, extra, url, after) in steps {
        let reply = report_signed_over(
            &app,
            "SM1",
            status,
            extra,
            Some("twilio-token-7f3a9c2e41b8"),
            url,
        )
        .await;
        assert_eq!(reply.status, 204, "{status}: {}", reply.body);
        assert_eq!(
            last_sms(&app, &id).await["deliveryStatus"],
            after,
            "{status}"
        );
    }
    let last = last_sms(&app, &id).await;
    assert_eq!(
        (&last["provider"], &last["errorCode"]),
        (&json!("twilio"), &json!("30008"))
    );
    let events = app
        .get(
            &format!("/internal/v1/mfa/challenges/{id}/events"),
            &TestApp::service_token(),
        )
        .await;
    let reports: Vec<(String, Option<String>)> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "DELIVERY_REPORTED")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["errorCode"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        reports,
        [
            ("SENT".to_owned(), None),
            ("PARTIALLY_DELIVERED".to_owned(), None),
            ("UNDELIVERED".to_owned(), Some("30008".to_owned())),
            ("QUEUED".to_owned(), None),
            ("SENT".to_owned(), None),
        ]
    );
}

#[tokio::test]
async fn without_twilio_configured_every_status_callback_is_forbidden() {
    let app = TestApp::spawn().await;
    report(&app, "SM1", "delivered", Some("twilio-token-7f3a9c2e41b8"))
        .await
        .assert_error(403, "FORBIDDEN");
}

/// With every provider's circuit open no code can go out: `:initiate` says so, but the
/// instance stays ready (every instance shares the providers; the rest of the API works),
/// and liveness stays trivial.
#[tokio::test]
async fn every_circuit_open_fails_sends_but_keeps_the_instance_ready() {
    let app = app_with(
        &[SmsProvider::Twilio, SmsProvider::Vonage],
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
    )
    .await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let id = app.create_challenge("alice").await;
    // Three failed sends open each breaker (Resilience::breaker_failures).
    for _ in 0..4 {
        app.initiate(&id, "alice")
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
    }
    assert_eq!(app.get("/health/ready", "").await.status, 200);
    assert_eq!(app.get("/health/live", "").await.status, 200);
    let metrics = app.get("/metrics", "").await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains(r#"mfa_totp_sms_circuit_open{provider="twilio"} 1"#),
        "{text}"
    );
}

/// A provider's answer is input like any other: a gateway that answers a message id of 300
/// characters, or one with a line break, or a Vonage status far past any real one, still
/// gets its send recorded (the id dropped, the code cut), on either engine.
#[tokio::test]
async fn hostile_provider_answers_are_bounded_before_they_are_stored() {
    for id in ["g".repeat(300), "gw-1\nINFO forged".to_owned()] {
        let gateway = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202).set_body_json(json!({"messageId": id})))
            .mount(&gateway)
            .await;
        let database = TestDatabase::from_env("hostile_answers").await;
        let mut setup = Setup::new(&database);
        setup.settings.sms.chain = vec![SmsProvider::Webhook];
        setup.settings.sms.webhook = mfa_totp_sms::WebhookConfig {
            url: Some(format!("{}/send", gateway.uri())),
            secret: Some("whsec_Z2F0ZXdheS1zZWNyZXQtb2YtMzItYnl0ZXMtbG9uZyE=".into()),
            ..mfa_totp_sms::WebhookConfig::default()
        };
        setup.real_sms = true;
        let app = TestApp::spawn_with(setup, Some(database)).await;
        assert_eq!(app.put_user("alice", PHONE).await.status, 201);
        let challenge = app.create_challenge("alice").await;
        assert_eq!(app.initiate(&challenge, "alice").await.status, 200);
        let last = last_sms(&app, &challenge).await;
        assert_eq!(
            (&last["outcome"], &last["provider"]),
            (&json!("ACCEPTED"), &json!("webhook"))
        );
        let events = app
            .get(
                &format!("/internal/v1/mfa/challenges/{challenge}/events"),
                &TestApp::service_token(),
            )
            .await;
        let sent = &events.body["events"][1];
        assert_eq!(sent["type"], "CODE_SENT", "{}", events.body);
        assert_eq!(sent.get("messageId"), None);
    }

    let vonage = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{"status": "9".repeat(200), "error-text": "x".repeat(5000)}],
        })))
        .mount(&vonage)
        .await;
    let app = app_with(&[SmsProvider::Vonage], "http://127.0.0.1:9", &vonage.uri()).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let challenge = app.create_challenge("alice").await;
    app.initiate(&challenge, "alice")
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
    let last = last_sms(&app, &challenge).await;
    assert_eq!(last["outcome"], "UNAVAILABLE");
    assert_eq!(last["errorCode"], "9".repeat(32));
}
