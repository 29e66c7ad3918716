//! The chain over real HTTP: Twilio first, Vonage second, each against its own fake.

use std::sync::Arc;
use std::time::Duration;

use mfa_totp_application::{SmsError, SmsSender};
use mfa_totp_sms::{ChainLink, Resilience, SmsChain, TwilioConfig, TwilioSms, VonageSms};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{captured_logs, fake_answering, message};
use crate::{twilio, vonage};

fn quick() -> Resilience {
    Resilience {
        attempts: 2,
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        breaker_failures: 2,
        breaker_cool_off: Duration::from_millis(300),
    }
}

fn chain(twilio_config: TwilioConfig, vonage_uri: &str, resilience: Resilience) -> SmsChain {
    let links = vec![
        ChainLink::new(
            "twilio",
            Arc::new(TwilioSms::new(&twilio_config).unwrap()),
            &resilience,
        ),
        ChainLink::new(
            "vonage",
            Arc::new(VonageSms::new(&vonage::config(vonage_uri)).unwrap()),
            &resilience,
        ),
    ];
    SmsChain::new(links, &resilience)
}

fn twilio_down() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_json(twilio::refused(20500, 503, "Service unavailable"))
}

async fn vonage_ok() -> MockServer {
    fake_answering(ResponseTemplate::new(200).set_body_json(vonage::reply("0", None))).await
}

#[tokio::test]
async fn a_dead_primary_gives_way_to_the_next_provider_after_its_retries() {
    let (primary, secondary) = (fake_answering(twilio_down()).await, vonage_ok().await);
    let chain = chain(twilio::config(&primary.uri()), &secondary.uri(), quick());
    let sent = chain.send(&message()).await.unwrap();
    assert_eq!(
        (sent.provider, sent.chain_position, sent.attempts),
        ("vonage", 1, 1)
    );
    assert_eq!(
        primary.received_requests().await.unwrap().len(),
        2,
        "tried twice"
    );
}

#[tokio::test]
async fn a_transient_failure_is_retried_on_the_same_provider() {
    let primary = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_down())
        .up_to_n_times(1)
        .mount(&primary)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(twilio::accepted("queued")))
        .mount(&primary)
        .await;
    let secondary = vonage_ok().await;
    let chain = chain(twilio::config(&primary.uri()), &secondary.uri(), quick());
    let sent = chain.send(&message()).await.unwrap();
    assert_eq!(
        (sent.provider, sent.chain_position, sent.attempts),
        ("twilio", 0, 2)
    );
    assert!(secondary.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_permanent_rejection_of_the_number_stops_the_chain() {
    let primary = fake_answering(ResponseTemplate::new(400).set_body_json(twilio::refused(
        21211,
        400,
        "Invalid 'To'",
    )))
    .await;
    let secondary = vonage_ok().await;
    let chain = chain(twilio::config(&primary.uri()), &secondary.uri(), quick());
    let error = chain.send(&message()).await.unwrap_err();
    assert!(matches!(error, SmsError::Refused(_)), "{error:?}");
    assert_eq!(
        primary.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
    assert!(
        secondary.received_requests().await.unwrap().is_empty(),
        "not tried"
    );
}

/// A Twilio that takes the request and answers after 5 s, and a config that waits 100 ms.
async fn silent_twilio() -> (MockServer, TwilioConfig) {
    let silent = fake_answering(
        ResponseTemplate::new(201)
            .set_body_json(twilio::accepted("queued"))
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    let config = TwilioConfig {
        timeout_ms: 100,
        ..twilio::config(&silent.uri())
    };
    (silent, config)
}

/// A provider that took the request but did not answer in time may have sent the SMS: the
/// chain stops there rather than send the code twice.
#[tokio::test]
async fn a_provider_that_times_out_is_unknown_and_not_tried_elsewhere() {
    let (primary, config) = silent_twilio().await;
    let secondary = vonage_ok().await;
    let error = chain(config, &secondary.uri(), quick())
        .send(&message())
        .await
        .unwrap_err();
    assert!(matches!(error, SmsError::Unknown(_)), "{error:?}");
    assert_eq!(
        primary.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
    assert!(
        secondary.received_requests().await.unwrap().is_empty(),
        "not failed over"
    );
}

/// Silence is the provider's failure: unknown outcomes open its breaker like failures, so
/// later sends go to the next provider at once (each unknown one itself is not moved on).
#[tokio::test]
async fn unknown_outcomes_open_the_breaker_and_later_sends_fail_over() {
    let (silent, config) = silent_twilio().await;
    let secondary = vonage_ok().await;
    let chain = chain(config, &secondary.uri(), quick());
    for _ in 0..2 {
        let error = chain.send(&message()).await.unwrap_err();
        assert!(matches!(error, SmsError::Unknown(_)), "{error:?}");
    }
    assert!(
        !chain.links()[0].is_available(),
        "two unknowns open the breaker"
    );
    assert_eq!(chain.send(&message()).await.unwrap().provider, "vonage");
    assert_eq!(silent.received_requests().await.unwrap().len(), 2);
}

/// A 2xx with a body that is not Twilio's: Twilio took the message. No retry, no failover,
/// so the code goes out once.
#[tokio::test]
async fn a_2xx_with_an_unreadable_body_is_accepted_once() {
    let primary = fake_answering(
        ResponseTemplate::new(201).set_body_raw("<html>Created</html>", "text/html"),
    )
    .await;
    let secondary = vonage_ok().await;
    let sent = chain(twilio::config(&primary.uri()), &secondary.uri(), quick())
        .send(&message())
        .await
        .unwrap();
    assert_eq!((sent.provider, sent.message_id), ("twilio", None));
    assert_eq!(primary.received_requests().await.unwrap().len(), 1);
    assert!(secondary.received_requests().await.unwrap().is_empty());
}

/// No number can open a breaker: refusals of a landline, of the sender's own number, ...
/// leave the provider available to everyone else.
#[tokio::test]
async fn refusals_of_a_number_never_open_the_breaker() {
    for code in [21635, 21266, 21211] {
        let primary = fake_answering(
            ResponseTemplate::new(400).set_body_json(twilio::refused(code, 400, "refused")),
        )
        .await;
        let secondary = vonage_ok().await;
        let chain = chain(twilio::config(&primary.uri()), &secondary.uri(), quick());
        for _ in 0..10 {
            let error = chain.send(&message()).await.unwrap_err();
            assert!(matches!(error, SmsError::Refused(_)), "{error:?}");
        }
        assert!(chain.links()[0].is_available(), "{code} opened the breaker");
        assert_eq!(primary.received_requests().await.unwrap().len(), 10);
        assert!(secondary.received_requests().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_breaker_skips_a_dead_provider_then_lets_it_back_after_the_cool_off() {
    let primary = fake_answering(twilio_down()).await;
    let secondary = vonage_ok().await;
    let resilience = Resilience {
        attempts: 1,
        ..quick()
    };
    let chain = chain(twilio::config(&primary.uri()), &secondary.uri(), resilience);
    for _ in 0..2 {
        assert_eq!(chain.send(&message()).await.unwrap().provider, "vonage");
    }
    assert!(
        !chain.links()[0].is_available(),
        "two failures open the breaker"
    );
    assert_eq!(chain.send(&message()).await.unwrap().provider, "vonage");
    assert_eq!(
        primary.received_requests().await.unwrap().len(),
        2,
        "an open breaker sends nothing"
    );

    primary.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(twilio::accepted("queued")))
        .mount(&primary)
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        chain.links()[0].is_available(),
        "half-open after the cool-off"
    );
    for _ in 0..2 {
        assert_eq!(chain.send(&message()).await.unwrap().provider, "twilio");
    }
}

#[tokio::test]
async fn every_provider_down_is_unavailable_naming_each() {
    let primary = fake_answering(twilio_down()).await;
    let secondary = fake_answering(
        ResponseTemplate::new(200).set_body_json(vonage::reply("5", Some("Internal Error"))),
    )
    .await;
    let error = chain(twilio::config(&primary.uri()), &secondary.uri(), quick())
        .send(&message())
        .await
        .unwrap_err();
    let SmsError::Unavailable(cause) = error else {
        panic!("{error:?}");
    };
    let text = cause.to_string();
    assert!(text.contains("twilio") && text.contains("vonage"), "{text}");
}

#[tokio::test]
async fn logs_name_provider_outcome_and_masked_number_but_no_secret_code_or_number() {
    let mut sms = message();
    // A number of its own, to find this test's lines among the others'.
    sms.to = mfa_totp_domain::PhoneNumber::parse("+447400123456").unwrap();
    let primary = fake_answering(twilio_down()).await;
    let secondary = vonage_ok().await;
    chain(twilio::config(&primary.uri()), &secondary.uri(), quick())
        .send(&sms)
        .await
        .unwrap();

    // A refusal whose text quotes the number, as Twilio's 21211 does.
    let quoting = fake_answering(ResponseTemplate::new(400).set_body_json(twilio::refused(
        21211,
        400,
        "The 'To' number +447400123456 is not a valid phone number.",
    )))
    .await;
    chain(twilio::config(&quoting.uri()), &secondary.uri(), quick())
        .send(&sms)
        .await
        .unwrap_err();

    let logs = captured_logs();
    assert!(logs.contains("The 'To' number [number] is not"), "{logs}");
    let mine: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("+44*******456"))
        .collect();
    assert!(
        mine.iter().any(|l| l.contains("twilio")) && mine.iter().any(|l| l.contains("vonage")),
        "{logs}"
    );
    // Every test's lines: none holds a secret, a code or a full number.
    for secret in [
        "twilio-auth-token-not-for-logs",
        vonage::SECRET,
        "482913",
        "+447400123456",
        "447400123456",
        "+447400123123",
    ] {
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
}
