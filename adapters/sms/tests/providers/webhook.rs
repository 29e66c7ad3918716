//! The generic webhook provider against a fake gateway on loopback.

use std::collections::BTreeMap;

use mfa_totp_application::SmsSender;
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

/// What a receiver using the Standard Webhooks library finds: a valid signature over the
/// bytes it received, and the send's id. With a `whsec_` secret the library reads the key
/// from the base64; with any other, the receiver gives it the secret's bytes.
#[tokio::test]
async fn webhook_requests_verify_with_the_standard_webhooks_library() {
    use base64::Engine;
    let key = b"a-gateway-key-of-32-random-bytes";
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    for (secret, receiver) in [
        (
            whsec.clone(),
            standardwebhooks::Webhook::new(&whsec).unwrap(),
        ),
        (
            SECRET.to_owned(),
            standardwebhooks::Webhook::from_bytes(SECRET.as_bytes().to_vec()).unwrap(),
        ),
    ] {
        let fake = fake_answering(ResponseTemplate::new(202)).await;
        WebhookSms::new(&WebhookConfig {
            secret: Some(secret.into()),
            ..config(&fake.uri())
        })
        .unwrap()
        .send(&message())
        .await
        .unwrap();
        let request = &fake.received_requests().await.unwrap()[0];
        receiver
            .verify(&request.body, &request.headers)
            .expect("the library accepts the request");
        assert_eq!(
            request.headers["webhook-id"].to_str().unwrap(),
            message().send_id
        );
        let mut tampered = request.body.clone();
        tampered.push(b' ');
        assert!(receiver.verify(&tampered, &request.headers).is_err());
    }
    assert!(
        WebhookSms::new(&WebhookConfig {
            secret: Some("whsec_not base64!".into()),
            ..config("http://127.0.0.1:1")
        })
        .is_err(),
        "a whsec_ secret must be base64"
    );
}

/// A retry of one send carries the same `webhook-id`, so that the gateway can drop it if the
/// first attempt got through; another send has another.
#[tokio::test]
async fn a_retried_send_keeps_its_webhook_id() {
    use mfa_totp_sms::{ChainLink, Resilience, SmsChain};
    use std::sync::Arc;
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&fake)
        .await;
    let resilience = Resilience {
        min_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(2),
        ..Resilience::default()
    };
    let webhook = Arc::new(WebhookSms::new(&config(&fake.uri())).unwrap());
    let chain = SmsChain::new(
        vec![ChainLink::new("webhook", webhook, &resilience)],
        &resilience,
    );
    chain.send(&message()).await.unwrap();
    let second = mfa_totp_application::OutboundSms {
        send_id: "0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10.2".into(),
        ..message()
    };
    chain.send(&second).await.unwrap();
    let ids: Vec<String> = fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            message().send_id.as_str(),
            message().send_id.as_str(),
            second.send_id.as_str()
        ]
    );
}

/// A redirect is not followed: the message, its signature and the gateway's key would go to
/// a host nobody configured. The send failed at this provider.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let elsewhere = fake_answering(ResponseTemplate::new(202)).await;
    for status in [301, 302, 307, 308] {
        let gateway = fake_answering(
            ResponseTemplate::new(status)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .await;
        let result = WebhookSms::new(&config(&gateway.uri()))
            .unwrap()
            .send(&message())
            .await;
        assert_eq!(
            crate::twilio::class(&result),
            ("failed", Some(format!("HTTP {status}"))),
            "{status}"
        );
    }
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

/// 2xx taken; 4xx the gateway's judgement of this message, final (a number it refuses with
/// 403 or 404 must not count against the gateway); 401, 407, 408, 429 and 5xx the gateway's
/// failure; 504 unknown.
#[tokio::test]
async fn webhook_answers_are_classified() {
    for (status, want) in [
        (400, "refused"),
        (403, "refused"),
        (404, "refused"),
        (409, "refused"),
        (422, "refused"),
        (401, "failed"),
        (407, "failed"),
        (408, "failed"),
        (429, "failed"),
        (500, "failed"),
        (503, "failed"),
        (504, "unknown"),
        (200, "accepted"),
        (202, "accepted"),
        (204, "accepted"),
    ] {
        let fake = fake_answering(ResponseTemplate::new(status)).await;
        let result = WebhookSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await;
        let code = (want != "accepted").then(|| format!("HTTP {status}"));
        assert_eq!(
            crate::twilio::class(&result),
            (want, code),
            "{status}: {result:?}"
        );
    }
}

#[test]
fn webhook_without_a_required_key_names_it() {
    let missing = |config: WebhookConfig| WebhookSms::new(&config).err().unwrap().to_string();
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
