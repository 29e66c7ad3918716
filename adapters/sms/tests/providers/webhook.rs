//! The generic webhook provider against a fake gateway on loopback.

use std::collections::BTreeMap;

use mfa_totp_application::{SmsError, SmsSender};
use mfa_totp_sms::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use mfa_totp_sms::{WebhookConfig, WebhookSms};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{CODE_TEXT, fake_answering, message};

pub const SECRET: &str = "webhook-secret-not-for-logs";

pub fn config(base_url: &str) -> WebhookConfig {
    WebhookConfig {
        url: Some(format!("{base_url}/send")),
        secret: Some(SECRET.into()),
        headers: BTreeMap::from([("x-gateway-key".to_owned(), "gw-1".to_owned())]),
        ..WebhookConfig::default()
    }
}

/// The receiver's check, as the module docs tell a gateway to do it.
fn signed_correctly(request: &Request) -> bool {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(given)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER))
    else {
        return false;
    };
    let Ok(timestamp) = timestamp.parse::<u64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now.abs_diff(timestamp) < 300 && signature(SECRET.as_bytes(), timestamp, &request.body) == given
}

#[tokio::test]
async fn webhook_posts_signed_json_with_its_static_headers_and_reads_the_message_id() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("content-type", "application/json"))
        .and(header("x-gateway-key", "gw-1"))
        .and(body_json(json!({
            "to": "+447400123123",
            "body": CODE_TEXT,
            "challengeId": "0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10",
            "locale": null,
        })))
        .and(signed_correctly)
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"messageId": "gw-42"})))
        .expect(1)
        .mount(&fake)
        .await;
    let sent = WebhookSms::new(&config(&fake.uri()))
        .unwrap()
        .send(&message())
        .await
        .unwrap();
    assert_eq!(
        (sent.provider, sent.message_id.as_deref()),
        ("webhook", Some("gw-42"))
    );
}

#[test]
fn the_signature_depends_on_secret_timestamp_and_every_byte() {
    let base = signature(b"s", 1_800_000_000, b"{}");
    assert!(base.starts_with("v1=") && base.len() == 3 + 64, "{base}");
    assert_ne!(base, signature(b"t", 1_800_000_000, b"{}"));
    assert_ne!(base, signature(b"s", 1_800_000_001, b"{}"));
    assert_ne!(base, signature(b"s", 1_800_000_000, b"{ }"));
}

#[tokio::test]
async fn webhook_answers_are_classified() {
    for (status, permanent) in [
        (400, true),
        (422, true),
        (503, false),
        (429, false),
        (401, false),
    ] {
        let fake = fake_answering(ResponseTemplate::new(status)).await;
        let error = WebhookSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert_eq!(
            matches!(error, SmsError::Rejected(_)),
            permanent,
            "{status}: {error:?}"
        );
    }
}

#[test]
fn webhook_without_a_required_key_names_it() {
    let missing = |config: WebhookConfig| WebhookSms::new(&config).err().unwrap();
    let base = config("http://127.0.0.1:1");
    assert_eq!(
        missing(WebhookConfig {
            url: None,
            ..base.clone()
        }),
        "sms.webhook.url"
    );
    assert_eq!(
        missing(WebhookConfig {
            secret: None,
            ..base
        }),
        "sms.webhook.secret"
    );
}
