//! The real binary, configured only by `MFA_TOTP__…` environment variables, sends the code
//! through a fake Twilio on loopback; once that fake is gone, the `twilio,vonage` chain
//! still delivers through the fake Vonage.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{create_challenge, service_token, start, token};

/// A field of the last form `fake` received.
async fn last_field(fake: &MockServer, field: &str) -> String {
    let requests = fake.received_requests().await.unwrap();
    let form: BTreeMap<String, String> =
        serde_urlencoded::from_bytes(&requests.last().expect("an SMS reached the fake").body)
            .unwrap();
    form[field].clone()
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .expect("a code")
        .to_owned()
}

#[tokio::test]
async fn configured_by_environment_the_binary_sends_through_twilio_and_fails_over_to_vonage() {
    // Not from wiremock's pool, so that dropping it really closes its port.
    let twilio = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1", "status": "queued"})),
        )
        .mount(&twilio)
        .await;
    let vonage = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{"to": "447700900123", "message-id": "V1", "status": "0"}],
        })))
        .mount(&vonage)
        .await;
    let (twilio_url, vonage_url) = (twilio.uri(), vonage.uri());
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("MFA_TOTP__SMS__CHAIN", "twilio,vonage"),
            ("MFA_TOTP__SMS__TWILIO__BASE_URL", &twilio_url),
            ("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", "AC0123"),
            ("MFA_TOTP__SMS__TWILIO__AUTH_TOKEN", "twilio-token"),
            ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
            ("MFA_TOTP__SMS__TWILIO__TIMEOUT_MS", "500"),
            ("MFA_TOTP__SMS__VONAGE__BASE_URL", &vonage_url),
            ("MFA_TOTP__SMS__VONAGE__API_KEY", "key"),
            ("MFA_TOTP__SMS__VONAGE__API_SECRET", "vonage-secret"),
            ("MFA_TOTP__SMS__VONAGE__FROM", "MFA"),
        ],
    );
    mfa_totp_server::startup::install_crypto_provider();
    let (base, http) = (server.base(), reqwest::Client::new());
    let service = service_token(dir.path());
    let alice = token(dir.path(), &["--sub", "alice"]);
    let put = http
        .put(format!("{base}/internal/v1/mfa/users/alice"))
        .bearer_auth(&service)
        .json(&json!({"phoneNumber": "+447700900123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let walk = |code_from: &'static str| {
        let (http, base, service, alice) =
            (http.clone(), base.clone(), service.clone(), alice.clone());
        async move {
            let id = create_challenge(&http, &base, &service, "alice").await;
            let initiated = http
                .post(format!("{base}/internal/v1/mfa/totp-sms/{id}:initiate"))
                .bearer_auth(&alice)
                .send()
                .await
                .unwrap();
            assert_eq!(initiated.status(), 200, "{code_from}");
            (id, code_from)
        }
    };
    let verify = |id: String, code: String| {
        let (http, base, alice) = (http.clone(), base.clone(), alice.clone());
        async move {
            let verified: Value = http
                .post(format!("{base}/internal/v1/mfa/totp-sms/{id}:verify"))
                .bearer_auth(&alice)
                .json(&json!({"otp": code}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(verified["status"], "VERIFIED", "{verified}");
        }
    };

    let (id, _) = walk("twilio").await;
    verify(id, code_in(&last_field(&twilio, "Body").await)).await;
    assert!(vonage.received_requests().await.unwrap().is_empty());

    drop(twilio); // the fake Twilio goes away: nothing listens on its port now
    let (id, _) = walk("vonage").await;
    verify(id, code_in(&last_field(&vonage, "text").await)).await;

    let logs = server.logs.lock().unwrap().join("\n");
    for secret in ["twilio-token", "vonage-secret", "+447700900123"] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}
