//! Rolling the service: SIGTERM stops accepting connections at once, lets the request in
//! flight finish (an `:initiate` held up by a slow SMS provider answers 200), closes the
//! pool and exits 0; a request still in flight at the end of the grace period is counted
//! and the exit code says so.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::support::{
    Alice, Server, accepting_twilio, create_challenge, initiate, start_on_twilio, with_alice,
};

/// A server whose Twilio answers after `twilio_delay`, with `env`, and an `:initiate` of
/// alice's that has reached Twilio and is waiting for it: then SIGTERM. Returns the server,
/// its base URL, the request in flight and the Twilio (which must outlive the request).
async fn terminate_while_initiating(
    dir: &std::path::Path,
    twilio_delay: Duration,
    env: &[(&str, &str)],
) -> (Server, String, JoinHandle<u16>, wiremock::MockServer) {
    let twilio = accepting_twilio(twilio_delay).await;
    let server = start_on_twilio(dir, &twilio.uri(), env);
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir).await;
    let id = create_challenge(&http, &base, &service, "alice").await;
    let in_flight = {
        let base = base.clone();
        tokio::spawn(async move { initiate(&http, &base, &alice, &id).await })
    };
    while twilio.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.terminate();
    (server, base, in_flight, twilio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base, in_flight, _twilio) = terminate_while_initiating(
        dir.path(),
        Duration::from_millis(1500),
        &[("MFA_TOTP__SERVER__SHUTDOWN_GRACE_SECS", "5")],
    )
    .await;
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
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _, in_flight, _twilio) = terminate_while_initiating(
        dir.path(),
        Duration::from_secs(30),
        &[
            ("MFA_TOTP__SERVER__SHUTDOWN_GRACE_SECS", "1"),
            ("MFA_TOTP__SMS__TWILIO__TIMEOUT_MS", "20000"),
        ],
    )
    .await;
    let code = server.exit_code_within(Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("1 requests cut off"), "{logs}");
    assert!(!logs.contains("requests drained"), "{logs}");
    in_flight.abort();
}
