//! Slow and silent clients on loopback (slowloris): partial headers, a stalled body and an
//! idle keep-alive connection are each closed within their configured time, other clients
//! are served meanwhile, and connections beyond `server.max_connections` wait.

use std::time::{Duration, Instant};

use mfa_totp_storage::testing::TestDatabase;
use mfa_totp_tests::{Setup, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every timeout is 1 s here; a closed connection must be seen within this.
const CLOSED_WITHIN: Duration = Duration::from_millis(2500);

async fn app(max_connections: usize) -> TestApp {
    let database = TestDatabase::from_env("slow-clients").await;
    let mut setup = Setup::new(&database);
    let server = &mut setup.settings.server;
    server.header_read_timeout_secs = 1;
    server.body_read_timeout_secs = 1;
    server.idle_timeout_secs = 1;
    server.max_connections = max_connections;
    TestApp::spawn_with(setup, Some(database)).await
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.base.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// A connection that has sent `start` (part of a request, or a whole one).
async fn sent(app: &TestApp, start: &[u8]) -> TcpStream {
    let mut stream = connect(app).await;
    stream.write_all(start).await.unwrap();
    stream
}

/// The connection, trickling `trickle`, is closed in time; returns what it received.
async fn closed_in_time(mut stream: TcpStream, trickle: &[u8]) -> String {
    let (took, received) = until_closed(&mut stream, trickle).await;
    assert!(took < CLOSED_WITHIN, "closed after {took:?}");
    received
}

/// Reads (and keeps writing `trickle`, one piece every 200 ms) until the server closes the
/// connection; returns how long that took, and what the server sent.
async fn until_closed(stream: &mut TcpStream, trickle: &[u8]) -> (Duration, String) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(10) {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) if !trickle.is_empty() => {
                if stream.write_all(trickle).await.is_err() {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&received).into_owned(),
    )
}

/// Another client, on a connection of its own, is served at once.
async fn served_now(app: &TestApp) {
    let started = Instant::now();
    // No pooled connection: the server closes idle ones after 1 s here.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let status = fresh
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "other clients are served meanwhile"
    );
}

#[tokio::test]
async fn headers_trickled_byte_by_byte_are_cut_off_at_the_header_timeout() {
    let app = app(64).await;
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(sent(&app, b"GET /health/live HTTP/1.1\r\nHost: x\r\n").await);
    }
    served_now(&app).await;
    for stream in slow {
        closed_in_time(stream, b"X").await;
    }
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_at_the_body_timeout() {
    let app = app(64).await;
    let stream = sent(
        &app,
        b"POST /internal/v1/mfa/challenges HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"subj",
    )
    .await;
    served_now(&app).await;
    closed_in_time(stream, b" ").await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let app = app(64).await;
    let stream = sent(&app, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n").await;
    served_now(&app).await;
    let response = closed_in_time(stream, b"").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = app(2).await;
    let _silent = [connect(&app).await, connect(&app).await];
    let started = Instant::now();
    let status = app
        .http
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "served once a silent connection timed out");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the third connection waited: {:?}",
        started.elapsed()
    );
}
