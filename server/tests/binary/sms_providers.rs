//! The real binary, configured only by `MFA_TOTP__…` environment variables, sends the code
//! through a fake Twilio on loopback; once that fake is gone, the `twilio,vonage` chain
//! still delivers through the fake Vonage.

use std::collections::BTreeMap;

use mfa_totp_sms::code_in;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Alice, create_challenge, initiate, start, verify, with_alice};

/// A field of the last form `fake` received.
async fn last_field(fake: &MockServer, field: &str) -> String {
    let requests = fake.received_requests().await.unwrap();
    let form: BTreeMap<String, String> =
        serde_urlencoded::from_bytes(&requests.last().expect("an SMS reached the fake").body)
            .unwrap();
    form[field].clone()
}

#[tokio::test]
async fn configured_by_environment_the_binary_sends_through_twilio_and_fails_over_to_vonage() {
    let twilio = crate::support::accepting_twilio(std::time::Duration::ZERO).await;
    let vonage = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{"to": "447400123123", "message-id": "V1", "status": "0"}],
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
            (
                "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
                "twilio-token-7f3a9c2e41b8",
            ),
            ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
            ("MFA_TOTP__SMS__TWILIO__TIMEOUT_MS", "500"),
            ("MFA_TOTP__SMS__VONAGE__BASE_URL", &vonage_url),
            ("MFA_TOTP__SMS__VONAGE__API_KEY", "key"),
            ("MFA_TOTP__SMS__VONAGE__API_SECRET", "vonage-secret-5d2e8b"),
            ("MFA_TOTP__SMS__VONAGE__FROM", "MFA"),
        ],
    );
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir.path()).await;

    // Through Twilio, the first of the chain.
    let id = create_challenge(&http, &base, &service, "alice").await;
    assert_eq!(initiate(&http, &base, &alice, &id).await, 200);
    let code = code_in(&last_field(&twilio, "Body").await)
        .unwrap()
        .to_owned();
    assert_eq!(
        verify(&http, &base, &alice, &id, &code).await["status"],
        "VERIFIED"
    );
    assert!(vonage.received_requests().await.unwrap().is_empty());

    // The fake Twilio goes away: nothing listens on its port now. Vonage carries the next.
    drop(twilio);
    let id = create_challenge(&http, &base, &service, "alice").await;
    assert_eq!(initiate(&http, &base, &alice, &id).await, 200);
    let code = code_in(&last_field(&vonage, "text").await)
        .unwrap()
        .to_owned();
    assert_eq!(
        verify(&http, &base, &alice, &id, &code).await["status"],
        "VERIFIED"
    );

    let logs = server.logs.lock().unwrap().join("\n");
    for secret in [
        "twilio-token-7f3a9c2e41b8",
        "vonage-secret-5d2e8b",
        "+447400123123",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}
