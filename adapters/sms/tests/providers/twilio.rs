//! Twilio Programmable Messaging against a fake on loopback.

use mfa_totp_application::{SmsError, SmsSender};
use mfa_totp_sms::{TwilioConfig, TwilioSms};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{CODE_TEXT, FormIs, fake_answering, message};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-not-for-logs";
const PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

pub fn config(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        base_url: base_url.into(),
        account_sid: Some(SID.into()),
        auth_token: Some(TOKEN.into()),
        from: Some("+15005550006".into()),
        ..TwilioConfig::default()
    }
}

/// `Authorization: Basic base64(AccountSid:AuthToken)`.
fn basic_auth() -> String {
    use base64::Engine;
    let raw = format!("{SID}:{TOKEN}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Twilio's answer to an accepted message.
pub fn accepted(status: &str) -> serde_json::Value {
    json!({
        "account_sid": SID, "api_version": "2010-04-01", "body": CODE_TEXT,
        "direction": "outbound-api", "error_code": null, "error_message": null,
        "from": "+15005550006", "messaging_service_sid": null, "num_media": "0",
        "num_segments": "1", "price": null, "price_unit": "USD",
        "sid": "SM0123456789abcdef0123456789abcdef", "status": status, "to": "+447400123123",
        "uri": format!("/2010-04-01/Accounts/{SID}/Messages/SM0123456789abcdef0123456789abcdef.json"),
    })
}

/// Twilio's error body.
pub fn refused(code: u64, status: u16, message: &str) -> serde_json::Value {
    json!({
        "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status,
    })
}

#[tokio::test]
async fn twilio_posts_the_exact_form_with_basic_auth_and_reads_the_sid() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", basic_auth().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(FormIs::of(&[
            ("To", "+447400123123"),
            ("Body", CODE_TEXT),
            ("From", "+15005550006"),
            (
                "StatusCallback",
                "https://mfa.example/internal/v1/mfa/sms/twilio/status",
            ),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(accepted("queued")))
        .expect(1)
        .mount(&fake)
        .await;
    let twilio = TwilioSms::new(&TwilioConfig {
        status_callback: Some("https://mfa.example/internal/v1/mfa/sms/twilio/status".into()),
        ..config(&fake.uri())
    })
    .unwrap();
    let sent = twilio.send(&message()).await.unwrap();
    assert_eq!(sent.provider, "twilio");
    assert_eq!(
        sent.message_id.as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
}

#[tokio::test]
async fn twilio_sends_through_a_messaging_service_instead_of_a_number() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(FormIs::of(&[
            ("To", "+447400123123"),
            ("Body", CODE_TEXT),
            ("MessagingServiceSid", "MG0123"),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(accepted("accepted")))
        .expect(1)
        .mount(&fake)
        .await;
    let twilio = TwilioSms::new(&TwilioConfig {
        from: None,
        messaging_service_sid: Some("MG0123".into()),
        ..config(&fake.uri())
    })
    .unwrap();
    twilio.send(&message()).await.unwrap();
}

#[tokio::test]
async fn twilio_invalid_or_non_mobile_numbers_are_rejected_for_good() {
    for code in [21211, 21614] {
        let fake = fake_answering(ResponseTemplate::new(400).set_body_json(refused(
            code,
            400,
            "The 'To' number is not a valid phone number.",
        )))
        .await;
        let error = TwilioSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, SmsError::Rejected(why) if why.contains(&code.to_string())),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn twilio_server_errors_throttling_and_failed_messages_are_transient() {
    let replies = [
        ResponseTemplate::new(503).set_body_json(refused(20500, 503, "Service unavailable")),
        ResponseTemplate::new(429).set_body_json(refused(20429, 429, "Too Many Requests")),
        ResponseTemplate::new(401).set_body_json(refused(20003, 401, "Authenticate")),
        ResponseTemplate::new(201).set_body_json(accepted("failed")),
    ];
    for reply in replies {
        let fake = fake_answering(reply).await;
        let error = TwilioSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await
            .unwrap_err();
        assert!(matches!(error, SmsError::Unavailable(_)), "{error:?}");
    }
}

#[test]
fn twilio_without_a_required_key_names_it() {
    let missing = |config: TwilioConfig| TwilioSms::new(&config).err().unwrap();
    let base = config("http://127.0.0.1:1");
    assert_eq!(
        missing(TwilioConfig {
            account_sid: None,
            ..base.clone()
        }),
        "sms.twilio.account_sid"
    );
    assert_eq!(
        missing(TwilioConfig {
            auth_token: None,
            ..base.clone()
        }),
        "sms.twilio.auth_token"
    );
    assert!(missing(TwilioConfig { from: None, ..base }).starts_with("sms.twilio.from"));
}
