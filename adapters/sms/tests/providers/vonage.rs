//! Vonage's SMS API against a fake on loopback.

use mfa_totp_application::{SmsError, SmsSender};
use mfa_totp_sms::{VonageConfig, VonageSms};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{CODE_TEXT, FormIs, fake_answering, message};

pub const SECRET: &str = "vonage-api-secret-not-for-logs";

pub fn config(base_url: &str) -> VonageConfig {
    VonageConfig {
        base_url: base_url.into(),
        api_key: Some("abcd1234".into()),
        api_secret: Some(SECRET.into()),
        from: Some("MFA".into()),
        ..VonageConfig::default()
    }
}

/// Vonage's reply: HTTP 200 whether or not the message went.
pub fn reply(status: &str, error_text: Option<&str>) -> serde_json::Value {
    let message = match error_text {
        None => json!({
            "to": "447400123123", "message-id": "0A0000000123ABCD1", "status": status,
            "remaining-balance": "3.14159265", "message-price": "0.03330000", "network": "23410",
        }),
        Some(text) => json!({ "status": status, "error-text": text }),
    };
    json!({ "message-count": "1", "messages": [message] })
}

#[tokio::test]
async fn vonage_posts_the_exact_form_and_reads_the_message_id() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(FormIs::of(&[
            ("api_key", "abcd1234"),
            ("api_secret", SECRET),
            ("from", "MFA"),
            ("to", "447400123123"),
            ("text", CODE_TEXT),
        ]))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply("0", None)))
        .expect(1)
        .mount(&fake)
        .await;
    let sent = VonageSms::new(&config(&fake.uri()))
        .unwrap()
        .send(&message())
        .await
        .unwrap();
    assert_eq!(
        (sent.provider, sent.message_id.as_deref()),
        ("vonage", Some("0A0000000123ABCD1"))
    );
}

#[tokio::test]
async fn vonage_unroutable_and_barred_numbers_are_rejected_for_good() {
    for (status, text) in [
        ("6", "Unroutable message - rejected"),
        ("7", "Number barred."),
    ] {
        let fake =
            fake_answering(ResponseTemplate::new(200).set_body_json(reply(status, Some(text))))
                .await;
        let error = VonageSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, SmsError::Rejected(why) if why.contains(text)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn vonage_throttling_internal_errors_and_5xx_are_transient() {
    let replies = [
        ResponseTemplate::new(200).set_body_json(reply("1", Some("Throttled"))),
        ResponseTemplate::new(200).set_body_json(reply("5", Some("Internal Error"))),
        ResponseTemplate::new(502),
    ];
    for reply in replies {
        let fake = fake_answering(reply).await;
        let error = VonageSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert!(matches!(error, SmsError::Unavailable(_)), "{error:?}");
    }
}

#[test]
fn vonage_without_a_required_key_names_it() {
    let missing = |config: VonageConfig| VonageSms::new(&config).err().unwrap();
    let base = config("http://127.0.0.1:1");
    assert_eq!(
        missing(VonageConfig {
            api_key: None,
            ..base.clone()
        }),
        "sms.vonage.api_key"
    );
    assert_eq!(
        missing(VonageConfig {
            api_secret: None,
            ..base.clone()
        }),
        "sms.vonage.api_secret"
    );
    assert_eq!(
        missing(VonageConfig { from: None, ..base }),
        "sms.vonage.from"
    );
}
