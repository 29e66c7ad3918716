//! Messages people can trust, end to end: a dynamically linked operation's SMS names its
//! amount and payee in the user's language (read from the fake provider's request), its
//! creation refuses missing or unshowable attributes at their paths, and the context digest
//! is the same on create, verify and consume.

use mfa_totp_server::config::{SmsProvider, SmsSettings};
use mfa_totp_tests::{PHONE, Setup, TestApp, TestDatabase};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::MockServer;

use crate::fakes::{last_text, twilio_accepting, twilio_config};

const PAY: &str = "payments.transfer";

/// The server with English and German templates for `payments.transfer`, which shows
/// amount, currency and payee, sending through a fake Twilio.
async fn app(fake: &MockServer) -> TestApp {
    app_configured(fake, |_| {}).await
}

/// [`app`], with `tweak` applied to its SMS settings.
async fn app_configured(fake: &MockServer, tweak: impl FnOnce(&mut SmsSettings)) -> TestApp {
    let database = TestDatabase::from_env("messages").await;
    let mut setup = Setup::new(&database);
    let sms = &mut setup.settings.sms;
    sms.provider = SmsProvider::Twilio;
    sms.twilio = twilio_config(&fake.uri());
    sms.templates = serde_json::from_value(json!({
        "en": {"payments": {"transfer":
            "{code} is your code to pay {amount} {currency} to {payee}. It expires in {minutes} minutes. Never share it."}},
        "de": {"payments": {"transfer":
            "{code} ist Ihr Code, um {amount} {currency} an {payee} zu zahlen. Er läuft in {minutes} Minuten ab. Geben Sie ihn niemals weiter."}},
    }))
    .unwrap();
    sms.operations = serde_json::from_value(json!({
        "payments": {"transfer": {"required_attributes": ["amount", "currency", "payee"]}},
    }))
    .unwrap();
    sms.webotp_domain = Some("bank.example".into());
    tweak(sms);
    setup.real_sms = true;
    TestApp::spawn_with(setup, Some(database)).await
}

fn payment() -> Value {
    json!({"amount": "120.00", "currency": "GBP", "payee": "ACME Ltd"})
}

async fn create(app: &TestApp, attributes: Value, locale: Option<&str>) -> mfa_totp_tests::Reply {
    let mut body = json!({
        "subjectUserId": "alice",
        "stepUpRequestContext": {"operation": PAY, "attributes": attributes},
    });
    if let Some(locale) = locale {
        body["locale"] = json!(locale);
    }
    app.post_json(
        "/internal/v1/mfa/challenges",
        &TestApp::service_token(),
        body,
    )
    .await
}

async fn put_alice(app: &TestApp, locale: &str) {
    let reply = app
        .send(
            app.http
                .put(app.url("/internal/v1/mfa/users/alice"))
                .bearer_auth(TestApp::service_token())
                .json(&json!({"phoneNumber": PHONE, "locale": locale})),
        )
        .await;
    assert_eq!(reply.status / 100, 2, "{}", reply.body);
    assert_eq!(reply.body["locale"], locale);
}

/// Initiates a new challenge for the payment, asking for `locale`; returns the SMS text the
/// fake Twilio received and the code in it.
async fn sent_for(app: &TestApp, fake: &MockServer, locale: Option<&str>) -> (String, String) {
    let created = create(app, payment(), locale).await;
    let id = created.body["challengeId"].as_str().unwrap().to_owned();
    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let body = last_text(fake, "Body").await;
    let code = mfa_totp_sms::code_in(&body).unwrap().to_owned();
    (body, code)
}

#[tokio::test]
async fn the_sms_names_amount_and_payee_in_the_users_then_the_requested_locale() {
    let fake = twilio_accepting().await;
    let app = app(&fake).await;
    put_alice(&app, "de-AT").await;

    let (body, code) = sent_for(&app, &fake, None).await;
    assert_eq!(
        body,
        format!(
            "{code} ist Ihr Code, um 120.00 GBP an ACME Ltd zu zahlen. Er läuft in 5 Minuten ab. \
             Geben Sie ihn niemals weiter.\n\n@bank.example #{code}"
        )
    );

    let (body, code) = sent_for(&app, &fake, Some("en-GB")).await;
    assert_eq!(
        body,
        format!(
            "{code} is your code to pay 120.00 GBP to ACME Ltd. It expires in 5 minutes. \
             Never share it.\n\n@bank.example #{code}"
        )
    );
}

#[tokio::test]
async fn missing_blank_or_unshowable_attributes_are_refused_at_their_paths() {
    let fake = twilio_accepting().await;
    let app = app(&fake).await;
    let reply = create(
        &app,
        json!({"currency": " ", "payee": "Pay https://evil.example"}),
        None,
    )
    .await;
    reply.assert_error(400, "BAD_REQUEST");
    let fields: Vec<(String, String)> = reply.body["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let urn = |code: &str| format!("urn:plmr:mfa-totp:api:{code}");
    assert_eq!(
        fields,
        [
            (
                "stepUpRequestContext.attributes.amount".into(),
                urn("NOT_NULL")
            ),
            (
                "stepUpRequestContext.attributes.currency".into(),
                urn("NOT_BLANK")
            ),
            (
                "stepUpRequestContext.attributes.payee".into(),
                urn("NOT_BLANK")
            ),
        ]
    );
    assert!(
        reply.body["message"].as_str().unwrap().contains("link"),
        "{}",
        reply.body
    );
    create(&app, payment(), Some("klingon-x"))
        .await
        .assert_error(400, "BAD_REQUEST");
    assert!(fake.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_context_digest_is_the_same_on_create_verify_and_consume() {
    let fake = twilio_accepting().await;
    let app = app(&fake).await;
    put_alice(&app, "en").await;
    let attributes =
        json!({"payee": "Zoë & Co", "currency": "GBP", "amount": 120.5, "note": {"b": 2, "a": 1}});
    let created = create(&app, attributes, None).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["challengeId"].as_str().unwrap().to_owned();
    let digest = created.body["contextDigest"].as_str().unwrap().to_owned();
    // RFC 8785 by hand: keys sorted at every level, no white space, numbers as ECMAScript.
    let canonical = r#"{"attributes":{"amount":120.5,"currency":"GBP","note":{"a":1,"b":2},"payee":"Zoë & Co"},"operation":"payments.transfer"}"#;
    assert_eq!(digest, hex::encode(Sha256::digest(canonical)));

    assert_eq!(app.initiate(&id, "alice").await.status, 200);
    let code = mfa_totp_sms::code_in(&last_text(&fake, "Body").await)
        .unwrap()
        .to_owned();
    let read = app
        .get(
            &format!("/internal/v1/mfa/challenges/{id}"),
            &TestApp::service_token(),
        )
        .await;
    assert_eq!(read.body["contextDigest"], digest.as_str());
    // "ë" is outside GSM 03.38: the message goes as UCS-2, 70 units a segment, so two.
    assert_eq!(read.body["lastSms"]["segments"], 2);
    let verified = app.verify(&id, "alice", &code).await;
    assert_eq!(verified.body["contextDigest"], digest.as_str());
    // Nothing after creation changes the context: a new phone and locale for the user, a
    // second challenge for another payment.
    put_alice(&app, "de").await;
    assert_eq!(create(&app, payment(), None).await.status, 201);
    let consumed = app.consume(&id, &TestApp::service_token()).await;
    assert_eq!(consumed.body["contextDigest"], digest.as_str());
    assert_eq!(
        consumed.body["stepUpRequestContext"]["attributes"]["payee"],
        "Zoë & Co"
    );
}

/// Two contexts never share a digest: a repeated key is refused (a parser that keeps the
/// first would read another context), and so is a number that `:consume` could not return
/// exactly as the digest covers it (beyond 2^53, `1.0`, `-0`, `1e2`), each at its path.
/// What is taken, `:consume` returns, and its canonical JSON hashes to the digest.
#[tokio::test]
async fn a_context_digest_covers_exactly_what_consume_returns() {
    let app = TestApp::spawn().await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let repeated = app
        .post_raw(
            "/internal/v1/mfa/challenges",
            &TestApp::service_token(),
            "application/json",
            r#"{"subjectUserId":"alice","stepUpRequestContext":{"operation":"payments.transfer","attributes":{"amount":"1","amount":"1000"}}}"#,
        )
        .await;
    repeated.assert_error(400, "BAD_REQUEST");
    assert!(
        repeated.body["message"]
            .as_str()
            .unwrap()
            .contains("\"amount\" appears twice"),
        "{}",
        repeated.body
    );
    for (raw, canonical) in [
        ("9007199254740993", "9007199254740992"),
        ("1.0", "1"),
        ("-0", "0"),
        ("1e2", "100"),
    ] {
        let body = format!(
            r#"{{"subjectUserId":"alice","stepUpRequestContext":{{"operation":"payments.transfer","attributes":{{"ref":{{"n":[{raw}]}}}}}}}}"#
        );
        let reply = app
            .send(
                app.http
                    .post(app.url("/internal/v1/mfa/challenges"))
                    .bearer_auth(TestApp::service_token())
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        reply.assert_error(400, "BAD_REQUEST");
        let field = &reply.body["fieldErrors"][0];
        assert_eq!(
            field["field"], "stepUpRequestContext.attributes.ref.n[0]",
            "{raw}"
        );
        assert!(
            field["message"].as_str().unwrap().contains(canonical),
            "{raw}: {field}"
        );
    }
    let mut digests = Vec::new();
    for attributes in [
        json!({"n": 9007199254740991u64}),
        json!({"n": 9007199254740990u64}),
        json!({"n": "1"}),
        json!({"n": 1}),
        json!({"n": 1.5}),
    ] {
        let created = app
            .post_json(
                "/internal/v1/mfa/challenges",
                &TestApp::service_token(),
                json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer", "attributes": attributes}}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["challengeId"].as_str().unwrap().to_owned();
        let digest = created.body["contextDigest"].as_str().unwrap().to_owned();
        assert_eq!(app.initiate(&id, "alice").await.status, 200);
        let code = app.inbox.last_code_for(PHONE).unwrap();
        assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
        let consumed = app.consume(&id, &TestApp::service_token()).await;
        let returned = &consumed.body["stepUpRequestContext"];
        let canonical = serde_json_canonicalizer::to_vec(&json!({
            "operation": returned["operation"],
            "attributes": returned["attributes"],
        }))
        .unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(canonical)),
            digest,
            "{attributes}"
        );
        assert_eq!(returned["attributes"], attributes);
        digests.push(digest);
    }
    let mut unique = digests.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), digests.len());
}

/// What an SMS shows passes an allow-list a phone cannot turn into a link, a phone number
/// or a code: each payee below is refused at its path and no SMS goes out; real payees pass
/// and are shown. A message longer than `sms.max_segments` (3) is refused as a whole.
#[tokio::test]
async fn attributes_shown_in_an_sms_can_carry_no_link_number_or_code() {
    let fake = twilio_accepting().await;
    let app = app(&fake).await;
    put_alice(&app, "en").await;
    for payee in [
        "@evil.com/login",
        "evil。com",
        "evil．com",
        "evil[.]com",
        "пример.рф/login",
        "Call 08001234567 now",
        "tel:+442079460018",
        "Your code is 000000",
        "@bank.example #000000",
        "\u{3164}",
        "\u{2800}",
        "ACME 😀",
    ] {
        let reply = create(
            &app,
            json!({"amount": "120.00", "currency": "GBP", "payee": payee}),
            None,
        )
        .await;
        reply.assert_error(400, "BAD_REQUEST");
        assert_eq!(
            reply.body["fieldErrors"][0]["field"], "stepUpRequestContext.attributes.payee",
            "{payee}: {}",
            reply.body
        );
    }
    for amount in ["08001234567", "000000"] {
        create(
            &app,
            json!({"amount": amount, "currency": "GBP", "payee": "ACME Ltd"}),
            None,
        )
        .await
        .assert_error(400, "BAD_REQUEST");
    }
    for payee in ["ACME Ltd", "Müller & Söhne GmbH", "O'Brien"] {
        let created = create(
            &app,
            json!({"amount": "1,234.56", "currency": "GBP", "payee": payee}),
            None,
        )
        .await;
        assert_eq!(created.status, 201, "{payee}: {}", created.body);
        let id = created.body["challengeId"].as_str().unwrap();
        assert_eq!(app.initiate(id, "alice").await.status, 200);
        assert!(last_text(&fake, "Body").await.contains(payee), "{payee}");
    }
    // Forty letters outside GSM 03.38: the message goes as UCS-2 and takes 3 segments,
    // past a limit of 2, so the challenge is refused as a whole.
    let strict = app_configured(&fake, |sms| sms.max_segments = 2).await;
    put_alice(&strict, "en").await;
    let reply = create(
        &strict,
        json!({"amount": "1,234.56", "currency": "GBP", "payee": "Ж".repeat(40)}),
        None,
    )
    .await;
    reply.assert_error(400, "BAD_REQUEST");
    let field = &reply.body["fieldErrors"][0];
    assert_eq!(field["field"], "stepUpRequestContext.attributes");
    assert!(
        field["message"].as_str().unwrap().contains("3 segments"),
        "{field}"
    );
    let short = create(&strict, payment(), None).await;
    assert_eq!(short.status, 201, "{}", short.body);
}
