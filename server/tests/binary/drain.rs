//! Rolling the service: SIGTERM stops accepting connections at once, lets the request in
//! flight finish (an `:initiate` held up by a slow SMS provider answers 200), closes the
//! pool and exits 0.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Alice, create_challenge, initiate, start_on_twilio, with_alice};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    let slow_twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM1", "status": "queued"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&slow_twilio)
        .await;
    let twilio_url = slow_twilio.uri();
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_on_twilio(
        dir.path(),
        &twilio_url,
        &[("MFA_TOTP__SERVER__SHUTDOWN_GRACE_SECS", "5")],
    );
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir.path()).await;
    let id = create_challenge(&http, &base, &service, "alice").await;

    let in_flight = {
        let (http, base, alice, id) = (http.clone(), base.clone(), alice.clone(), id.clone());
        tokio::spawn(async move { initiate(&http, &base, &alice, &id).await })
    };
    // The request reaches the slow provider, then the stop signal comes.
    while slow_twilio.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let address = base.trim_start_matches("http://").to_owned();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "new connections are refused while draining"
    );
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the request in flight finished"
    );
    assert_eq!(server.exit_code_within(Duration::from_secs(5)), Some(0));
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("database pool closed"), "{logs}");
}

/// A request still in flight when the grace period runs out is cut off: the service says
/// how many, and exits non-zero (a deploy tool then sees that the roll lost requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_off_at_the_end_of_the_grace_period_are_counted_and_exit_non_zero() {
    let stuck_twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM1", "status": "queued"}))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&stuck_twilio)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_on_twilio(
        dir.path(),
        &stuck_twilio.uri(),
        &[
            ("MFA_TOTP__SERVER__SHUTDOWN_GRACE_SECS", "1"),
            ("MFA_TOTP__SMS__TWILIO__TIMEOUT_MS", "20000"),
        ],
    );
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir.path()).await;
    let id = create_challenge(&http, &base, &service, "alice").await;
    let in_flight = {
        let (http, base, alice, id) = (http.clone(), base.clone(), alice.clone(), id.clone());
        tokio::spawn(async move { initiate(&http, &base, &alice, &id).await })
    };
    while stuck_twilio.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.terminate();
    let code = server.exit_code_within(Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("1 requests cut off"), "{logs}");
    assert!(!logs.contains("requests drained"), "{logs}");
    in_flight.abort();
}
