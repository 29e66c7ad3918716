//! Events pushed to operation services: each reaches the service that created the challenge,
//! and no other; signed as Standard Webhooks (checked with the official crate); in order per
//! challenge; retried with the same `webhook-id`; given up after `events.max_attempts`, in
//! the audit trail and the metrics. And the development inbox, which only `--dev` serves.

use std::time::Duration;

use mfa_totp_server::config::{Settings, SubscriberSettings};
use mfa_totp_storage::testing::TestDatabase;
use mfa_totp_tests::{ManualClock, PHONE, Setup, TestApp, other_code, requests_to};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2Vjb25kLXN1YnNjcmliZXItc2VjcmV0LWtleQ==";

/// The service every `TestApp::service_token` speaks for.
const CREATOR: &str = "operation-service";

fn subscribe(settings: &mut Settings, sub: &str, url: &str, secret: &str, events: &[&str]) {
    settings.events.subscribers.insert(
        sub.into(),
        SubscriberSettings {
            url: Some(url.into()),
            secret: Some(secret.into()),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
        },
    );
    settings.events.poll_interval_ms = 20;
    settings.events.backoff_base_ms = 50;
    settings.events.backoff_max_ms = 200;
    settings.events.timeout_ms = 2000;
}

/// An app with `configure`d settings on a fresh database, on the real clock, or on `clock`.
async fn spawn(
    configure: impl FnOnce(&mut Settings),
    clock: Option<&std::sync::Arc<ManualClock>>,
) -> TestApp {
    let database = TestDatabase::from_env("events").await;
    let mut setup = Setup::new(&database);
    configure(&mut setup.settings);
    setup.clock = clock.map(|c| c.clone() as _);
    TestApp::spawn_with(setup, Some(database)).await
}

/// A received event: its id, its body, checked with the official Standard Webhooks verifier.
fn verified(request: &wiremock::Request, secret: &str) -> (String, Value) {
    let mut headers = http::HeaderMap::new();
    for (name, value) in request.headers.iter() {
        headers.insert(name.clone(), value.clone());
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&request.body, &headers)
        .expect("a valid Standard Webhooks signature");
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    (id, serde_json::from_slice(&request.body).unwrap())
}

/// The events `receiver` got so far (each verified), once there are at least `count`.
async fn received(receiver: &MockServer, secret: &str, count: usize) -> Vec<(String, Value)> {
    let requests = requests_to(receiver, count).await;
    requests.iter().map(|r| verified(r, secret)).collect()
}

async fn accepting() -> MockServer {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    receiver
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn events_reach_their_creator_only_signed_and_in_order() {
    let (creator, other) = (accepting().await, accepting().await);
    let app = spawn(
        |s| {
            subscribe(s, CREATOR, &creator.uri(), SECRET, &[]);
            subscribe(s, "other-service", &other.uri(), OTHER_SECRET, &[]);
        },
        None,
    )
    .await;
    let (id, code) = app.challenge_with_code("alice").await;
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
    let consumed = app.consume(&id, &TestApp::service_token()).await;
    assert_eq!(consumed.status, 200, "{}", consumed.body);
    let cancelled = app.create_challenge("alice").await;
    let reply = app.cancel(&cancelled, &TestApp::service_token()).await;
    assert_eq!(reply.status / 100, 2, "{}", reply.body);

    let events = received(&creator, SECRET, 3).await;
    let of = |challenge: &str| -> Vec<&(String, Value)> {
        events
            .iter()
            .filter(|(_, e)| e["data"]["challengeId"] == challenge)
            .collect()
    };
    let first: Vec<&str> = of(&id)
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        first,
        ["challenge.verified", "challenge.consumed"],
        "in order"
    );
    assert_eq!(of(&cancelled)[0].1["type"], "challenge.cancelled");
    let view = app
        .get(
            &format!("/internal/v1/mfa/challenges/{id}"),
            &TestApp::service_token(),
        )
        .await;
    let data = &of(&id)[0].1["data"];
    assert_eq!(data["subjectUserId"], "alice");
    assert_eq!(data["operation"], "payments.transfer");
    assert_eq!(data["contextDigest"], view.body["contextDigest"]);
    assert!(of(&id)[0].1["timestamp"].as_str().unwrap().ends_with('Z'));
    let ids: std::collections::HashSet<&String> = events.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), events.len(), "one id per event");

    // Another client's subscriber hears nothing of these challenges.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(other.received_requests().await.unwrap().len(), 0);
    assert_eq!(
        creator.received_requests().await.unwrap().len(),
        3,
        "each once"
    );
}

#[tokio::test]
async fn a_subscriber_gets_only_the_types_it_named_and_locks_and_expiries_are_pushed() {
    let creator = accepting().await;
    let clock = ManualClock::new();
    let app = spawn(
        |s| {
            subscribe(
                s,
                CREATOR,
                &creator.uri(),
                SECRET,
                &["challenge.locked", "challenge.expired"],
            )
        },
        Some(&clock),
    )
    .await;
    let (locked, code) = app.challenge_with_code("bob").await;
    for _ in 0..5 {
        app.verify(&locked, "bob", &other_code(&code)).await;
    }
    let (verified_id, code) = app.challenge_with_code("carol").await;
    assert_eq!(app.verify(&verified_id, "carol", &code).await.status, 200);
    let forgotten = app.create_challenge("dave").await;
    let events = received(&creator, SECRET, 1).await;
    assert_eq!(types(&events), ["challenge.locked"]);
    // Nobody touches `forgotten`: the sweep expires it once its TTL has passed.
    clock.advance(11 * 60);
    let events = received(&creator, SECRET, 2).await;
    assert_eq!(types(&events)[1], "challenge.expired");
    assert_eq!(events[1].1["data"]["challengeId"], forgotten.as_str());
    let view = app
        .get(
            &format!("/internal/v1/mfa/challenges/{forgotten}"),
            &TestApp::service_token(),
        )
        .await;
    assert_eq!(view.body["status"], "EXPIRED");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        creator.received_requests().await.unwrap().len(),
        2,
        "no verified event"
    );
}

#[tokio::test]
async fn a_refused_event_is_retried_with_its_id_and_given_up_after_the_limit() {
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>down</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&flaky)
        .await;
    let app = spawn(|s| subscribe(s, CREATOR, &flaky.uri(), SECRET, &[]), None).await;
    let id = app.create_challenge("erin").await;
    app.cancel(&id, &TestApp::service_token()).await;
    let attempts = received(&flaky, SECRET, 2).await;
    assert_eq!(
        attempts[0].0, attempts[1].0,
        "the same webhook-id on the retry"
    );
    assert_eq!(attempts[0].1, attempts[1].1, "the same body");

    // A receiver that always fails: given up after `max_attempts`, audited and counted.
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&down)
        .await;
    let app = spawn(
        |s| {
            subscribe(s, CREATOR, &down.uri(), SECRET, &[]);
            s.events.max_attempts = 3;
        },
        None,
    )
    .await;
    let gave_up_before = gave_up(&app).await;
    let id = app.create_challenge("frank").await;
    app.cancel(&id, &TestApp::service_token()).await;
    let mut trail = Value::Null;
    for _ in 0..250 {
        trail = app
            .get(
                &format!("/internal/v1/mfa/challenges/{id}/events"),
                &TestApp::service_token(),
            )
            .await
            .body;
        if trail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "EVENT_UNDELIVERED")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let given_up = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "EVENT_UNDELIVERED")
        .unwrap_or_else(|| panic!("no EVENT_UNDELIVERED in {trail}"));
    assert_eq!(given_up["outcome"], "GAVE_UP");
    assert_eq!(given_up["errorCode"], "HTTP 503");
    let requests = down.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "exactly max_attempts attempts");
    assert_eq!(
        given_up["messageId"],
        requests[0].headers["webhook-id"].to_str().unwrap()
    );
    assert!(gave_up(&app).await > gave_up_before);
}

/// `mfa_totp_event_deliveries_total{type="challenge.cancelled",outcome="gave_up"}`.
async fn gave_up(app: &TestApp) -> f64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with("mfa_totp_event_deliveries_total")
                && l.contains("outcome=\"gave_up\"")
                && l.contains("type=\"challenge.cancelled\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn the_development_inbox_shows_codes_newest_first_and_production_has_no_inbox() {
    let database = TestDatabase::from_env("inbox").await;
    let mut setup = Setup::new(&database);
    setup.development = true;
    let dev = TestApp::spawn_with(setup, Some(database)).await;
    let (first, _) = dev.challenge_with_code("gina").await;
    let (second, code) = dev.challenge_with_code("gina").await;
    let page = dev.http.get(dev.url("/dev/inbox")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/dev/inbox/messages"));
    let messages: Value = dev
        .http
        .get(dev.url("/dev/inbox/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = messages["entries"].as_array().unwrap();
    assert_eq!(entries[0]["challengeId"], second.as_str(), "newest first");
    assert_eq!(entries[1]["challengeId"], first.as_str());
    assert_eq!(entries[0]["code"], code.as_str());
    assert_eq!(
        entries[0]["to"],
        format!("{}*******{}", &PHONE[..3], &PHONE[PHONE.len() - 3..])
    );

    let production = TestApp::spawn().await;
    for path in ["/dev/inbox", "/dev/inbox/messages"] {
        let reply = production
            .send(production.http.get(production.url(path)))
            .await;
        reply.assert_error(404, "RESOURCE_UNKNOWN");
    }
}

#[tokio::test]
async fn a_subscriber_that_hangs_does_not_hold_up_another_ones_events() {
    let hanging = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(30)))
        .mount(&hanging)
        .await;
    let fast = accepting().await;
    let app = spawn(
        |s| {
            subscribe(s, "slow-service", &hanging.uri(), OTHER_SECRET, &[]);
            subscribe(s, CREATOR, &fast.uri(), SECRET, &[]);
            s.events.timeout_ms = 60_000;
        },
        None,
    )
    .await;
    let slow = TestApp::token(
        "slow-service",
        &[
            mfa_totp_server::auth::SCOPE_CHALLENGES_WRITE,
            mfa_totp_server::auth::SCOPE_CHALLENGES_READ,
        ],
    );
    let create = |token: String| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/internal/v1/mfa/challenges",
                    &token,
                    serde_json::json!({
                        "subjectUserId": "hana",
                        "stepUpRequestContext": {"operation": "payments.transfer", "attributes": {}}
                    }),
                )
                .await;
            let id = reply.body["challengeId"].as_str().unwrap().to_owned();
            app.cancel(&id, &token).await;
            id
        }
    };
    create(slow).await;
    assert_eq!(
        requests_to(&hanging, 1).await.len(),
        1,
        "the slow one is held"
    );
    let id = create(TestApp::service_token()).await;
    let events = received(&fast, SECRET, 1).await;
    assert_eq!(events[0].1["data"]["challengeId"], id.as_str());
}
