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

/// How a send ended, in one word, with the provider's code.
pub fn class(
    result: &Result<mfa_totp_application::SentSms, SmsError>,
) -> (&'static str, Option<String>) {
    match result {
        Ok(_) => ("accepted", None),
        Err(SmsError::Refused(a)) => ("refused", a.code.clone()),
        Err(SmsError::Unknown(a)) => ("unknown", a.code.clone()),
        Err(SmsError::Unavailable(a)) => ("failed", a.code.clone()),
    }
}

/// The provider-outcome table of the README, for Twilio: each documented answer, classified.
#[tokio::test]
async fn twilio_answers_are_classified_by_their_documented_meaning() {
    let html = || {
        ResponseTemplate::new(400)
            .set_body_raw("<html><body>Bad gateway</body></html>", "text/html")
    };
    let cases: Vec<(ResponseTemplate, &str, Option<&str>)> = vec![
        // Refused for this number: final, another provider would be told the same.
        (
            refusal(
                21211,
                "The 'To' number 5551234567 is not a valid phone number.",
            ),
            "refused",
            Some("21211"),
        ),
        (
            refusal(21614, "'To' number is not a valid mobile number"),
            "refused",
            Some("21614"),
        ),
        (
            refusal(21635, "'To' number cannot be a landline."),
            "refused",
            Some("21635"),
        ),
        (
            refusal(21266, "'To' and 'From' number cannot be the same"),
            "refused",
            Some("21266"),
        ),
        (
            refusal(21610, "Attempt to send to unsubscribed recipient"),
            "refused",
            Some("21610"),
        ),
        (
            refusal(
                21408,
                "Permission to send an SMS has not been enabled for the region",
            ),
            "refused",
            Some("21408"),
        ),
        (
            refusal(
                21617,
                "The concatenated message body exceeds the 1600 character limit",
            ),
            "refused",
            Some("21617"),
        ),
        // Our account or sender: the provider failed.
        (
            refusal(
                21606,
                "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
            ),
            "failed",
            Some("21606"),
        ),
        (
            refusal(21659, "'From' is not a Twilio phone number"),
            "failed",
            Some("21659"),
        ),
        (
            ResponseTemplate::new(401).set_body_json(refused(20003, 401, "Authenticate")),
            "failed",
            Some("HTTP 401"),
        ),
        (
            ResponseTemplate::new(404).set_body_json(refused(
                20404,
                404,
                "The requested resource was not found",
            )),
            "failed",
            Some("20404"),
        ),
        (
            ResponseTemplate::new(429).set_body_json(refused(20429, 429, "Too Many Requests")),
            "failed",
            Some("HTTP 429"),
        ),
        (
            ResponseTemplate::new(503).set_body_json(refused(20500, 503, "Service unavailable")),
            "failed",
            Some("HTTP 503"),
        ),
        (html(), "failed", Some("HTTP 400")),
        // A proxy that gave up waiting: Twilio may have taken it.
        (ResponseTemplate::new(504), "unknown", Some("HTTP 504")),
        // Any 2xx: taken, whatever the body says.
        (
            ResponseTemplate::new(201).set_body_json(accepted("queued")),
            "accepted",
            None,
        ),
        (
            ResponseTemplate::new(201).set_body_json(accepted("failed")),
            "accepted",
            None,
        ),
        (
            ResponseTemplate::new(201).set_body_raw("<html>ok</html>", "text/html"),
            "accepted",
            None,
        ),
        (ResponseTemplate::new(200), "accepted", None),
    ];
    for (reply, want, code) in cases {
        let fake = fake_answering(reply).await;
        let result = TwilioSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await;
        assert_eq!(
            class(&result),
            (want, code.map(str::to_owned)),
            "{result:?}"
        );
        if let Err(error) = &result {
            assert!(!error.to_string().contains("5551234567"), "{error}");
        }
    }
}

fn refusal(code: u64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(refused(code, 400, message))
}

/// Twilio's real 21211 text quotes the number: what the error keeps has it redacted.
#[tokio::test]
async fn twilio_error_text_that_quotes_the_number_is_redacted() {
    let fake = fake_answering(refusal(
        21211,
        "The 'To' number 5551234567 is not a valid phone number.",
    ))
    .await;
    let error = TwilioSms::new(&config(&fake.uri()))
        .unwrap()
        .send(&message())
        .await
        .unwrap_err();
    assert_eq!(
        error.answer().detail,
        "HTTP 400: The 'To' number [number] is not a valid phone number."
    );
}

/// A request that timed out after it was sent may have been taken: unknown. One that never
/// connected was not: failed.
#[tokio::test]
async fn twilio_timeouts_are_unknown_and_refused_connections_failed() {
    let slow = fake_answering(
        ResponseTemplate::new(201)
            .set_body_json(accepted("queued"))
            .set_delay(std::time::Duration::from_millis(500)),
    )
    .await;
    let result = TwilioSms::new(&TwilioConfig {
        timeout_ms: 100,
        ..config(&slow.uri())
    })
    .unwrap()
    .send(&message())
    .await;
    assert_eq!(class(&result).0, "unknown", "{result:?}");
    let closed = TwilioSms::new(&config("http://127.0.0.1:9"))
        .unwrap()
        .send(&message())
        .await;
    assert_eq!(class(&closed).0, "failed", "{closed:?}");
}

#[test]
fn twilio_without_a_required_key_names_it() {
    let missing = |config: TwilioConfig| TwilioSms::new(&config).err().unwrap().to_string();
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
