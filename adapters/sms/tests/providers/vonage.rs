//! Vonage's SMS API against a fake on loopback.

use mfa_totp_application::SmsSender;
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

/// The provider-outcome table of the README, for Vonage: each documented answer, classified.
#[tokio::test]
async fn vonage_answers_are_classified_by_their_documented_meaning() {
    let status =
        |code: &str, text: &str| ResponseTemplate::new(200).set_body_json(reply(code, Some(text)));
    let cases: Vec<(ResponseTemplate, &str, Option<&str>)> =
        vec![
        (status("3", "Invalid to address"), "refused", Some("3")),
        (status("6", "Unroutable message - rejected"), "refused", Some("6")),
        (status("7", "Number barred."), "refused", Some("7")),
        (status("29", "Non White-listed Destination - rejected"), "refused", Some("29")),
        (status("33", "Number de-activated"), "refused", Some("33")),
        (status("1", "Throttled"), "failed", Some("1")),
        (status("4", "Bad Credentials"), "failed", Some("4")),
        (status("5", "Internal Error"), "failed", Some("5")),
        (status("9", "Partner quota exceeded"), "failed", Some("9")),
        (status("15", "Illegal Sender Address - rejected"), "failed", Some("15")),
        (ResponseTemplate::new(502), "failed", Some("HTTP 502")),
        (ResponseTemplate::new(401), "failed", Some("HTTP 401")),
        (ResponseTemplate::new(504), "unknown", Some("HTTP 504")),
        (ResponseTemplate::new(200).set_body_json(reply("0", None)), "accepted", None),
        (ResponseTemplate::new(200).set_body_raw("<html>ok</html>", "text/html"), "accepted", None),
        // A long text in two parts, the first taken: taken.
        (
            ResponseTemplate::new(200).set_body_json(json!({"message-count": "2", "messages": [
                {"status": "0", "message-id": "A1"}, {"status": "5", "error-text": "Internal Error"}
            ]})),
            "accepted",
            None,
        ),
    ];
    for (answer, want, code) in cases {
        let fake = fake_answering(answer).await;
        let result = VonageSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&message())
            .await;
        assert_eq!(
            crate::twilio::class(&result),
            (want, code.map(str::to_owned)),
            "{result:?}"
        );
    }
}

/// A text that needs UCS-2 goes with `type=unicode`, as Vonage's spec requires; a GSM-7 text
/// without it.
#[tokio::test]
async fn vonage_sends_non_latin_text_as_unicode() {
    for (text, unicode) in [
        ("Code 482913 für Łukasz Żółć", true),
        ("Κωδικός 482913", true),
        ("Ваш код 482913", true),
        ("رمزك 482913", true),
        (CODE_TEXT, false),
        ("Code 482913 für Müller", false),
    ] {
        let mut fields = vec![
            ("api_key", "abcd1234"),
            ("api_secret", SECRET),
            ("from", "MFA"),
            ("to", "447400123123"),
            ("text", text),
        ];
        if unicode {
            fields.push(("type", "unicode"));
        }
        let fake = MockServer::start().await;
        Mock::given(method("POST"))
            .and(FormIs::of(&fields))
            .respond_with(ResponseTemplate::new(200).set_body_json(reply("0", None)))
            .expect(1)
            .mount(&fake)
            .await;
        let sms = mfa_totp_application::OutboundSms {
            body: text.into(),
            ..message()
        };
        VonageSms::new(&config(&fake.uri()))
            .unwrap()
            .send(&sms)
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn vonage_without_a_required_key_names_it() {
    let missing = |config: VonageConfig| VonageSms::new(&config).err().unwrap().to_string();
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
