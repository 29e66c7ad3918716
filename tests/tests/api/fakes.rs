//! Fake SMS providers on loopback, shared by the suites that send real HTTP to them.

use std::collections::BTreeMap;

use mfa_totp_sms::TwilioConfig;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Twilio's keys, pointed at a fake at `base_url`.
pub fn twilio_config(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        base_url: base_url.into(),
        account_sid: Some("AC0123".into()),
        auth_token: Some("twilio-token-7f3a9c2e41b8".into()),
        from: Some("+15005550006".into()),
        ..TwilioConfig::default()
    }
}

/// A fake Twilio that accepts every message.
pub async fn twilio_accepting() -> MockServer {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1", "status": "queued"})),
        )
        .mount(&fake)
        .await;
    fake
}

/// The text field of the last form a fake received.
pub async fn last_text(fake: &MockServer, field: &str) -> String {
    let requests = fake.received_requests().await.unwrap();
    let last = requests.last().expect("the fake received the SMS");
    let form: BTreeMap<String, String> = serde_urlencoded::from_bytes(&last.body).unwrap();
    form[field].clone()
}
