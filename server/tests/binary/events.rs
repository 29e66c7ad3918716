//! Events from the real binary to a receiver on loopback: a fleet of two instances on one
//! PostgreSQL database delivers each of 1000 events once, and all of them after the
//! receiver was down for a while; and an instance killed while a delivery is in flight
//! resends that event, with the same `webhook-id`, after it restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mfa_totp_storage::testing::{Engine, TestDatabase};
use poem::listener::TcpListener;
use poem::{EndpointExt, Request, handler, post, web::Data};
use reqwest::Client;
use tokio::sync::mpsc;

use crate::support::{Server, create_challenge, service_token, start_with};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver does with a request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    /// Holds the request (the sender is killed meanwhile).
    Hold,
}

#[derive(Clone)]
struct Receiver {
    /// Every request, verified with the official Standard Webhooks library: (id, body).
    got: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    answer: Arc<Mutex<Answer>>,
    arrivals: mpsc::UnboundedSender<String>,
}

#[handler]
async fn receive(
    request: &Request,
    body: poem::Body,
    Data(receiver): Data<&Receiver>,
) -> poem::http::StatusCode {
    let body = body.into_bytes().await.unwrap();
    let mut headers = http::HeaderMap::new();
    for (name, value) in request.headers() {
        headers.insert(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&body, &headers)
        .expect("a valid signature");
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    let answer = *receiver.answer.lock().unwrap();
    let _ = receiver.arrivals.send(id.clone());
    if answer == Answer::Hold {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    receiver
        .got
        .lock()
        .unwrap()
        .push((id, serde_json::from_slice(&body).unwrap()));
    poem::http::StatusCode::NO_CONTENT
}

impl Receiver {
    fn new(answer: Answer) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (arrivals, rx) = mpsc::unbounded_channel();
        let receiver = Self {
            got: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
            arrivals,
        };
        (receiver, rx)
    }

    /// Serves on `port` until `stop` fires; in-flight requests finish first.
    fn serve(&self, port: u16) -> tokio::sync::oneshot::Sender<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = post(receive).data(self.clone());
        tokio::spawn(
            poem::Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_secs(5)),
                ),
        );
        stop
    }

    fn ids(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A config file subscribing `payments-service` (the `service_token`'s sub) at `port`.
fn config(dir: &std::path::Path, port: u16, timeout_ms: u64) -> String {
    let path = dir.join("events.toml");
    std::fs::write(
        &path,
        format!(
            "[events]\npoll_interval_ms = 20\nbackoff_base_ms = 100\nbackoff_max_ms = 500\n\
             timeout_ms = {timeout_ms}\n\
             [events.subscribers.payments-service]\nurl = \"http://127.0.0.1:{port}/events\"\n\
             secret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn delivered_by(server: &Server) -> usize {
    server
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("\"event delivered\""))
        .count()
}

async fn cancel(http: &Client, base: &str, token: &str, id: &str) {
    let response = http
        .post(format!("{base}/internal/v1/mfa/challenges/{id}:cancel"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
)]
async fn a_fleet_delivers_each_event_once_and_all_after_the_receiver_comes_back() {
    const CHANGES: usize = 1000;
    let database = TestDatabase::create(Engine::Postgres, "fleet-events").await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (receiver, _arrivals) = Receiver::new(Answer::Accept);
    let mut stop = Some(receiver.serve(port));
    let file = config(dir.path(), port, 2000);
    let env = [
        ("MFA_TOTP__DATABASE__URL", database.url()),
        ("MFA_TOTP_CONFIG", file.as_str()),
    ];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start_with(dir.path(), &["serve", "--dev"], &env));
        let b = s.spawn(|| start_with(dir.path(), &["serve", "--dev"], &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    mfa_totp_http::install_crypto_provider();
    let token = service_token(dir.path());
    let http = Client::new();
    let bases = [a.base(), b.base()];
    let mut ids = Vec::new();
    for batch in 0..(CHANGES / 50) {
        if batch == 6 {
            // The receiver goes down for a while, with 300 events sent and 700 to come.
            let _ = stop.take().unwrap().send(());
        }
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let (http, token) = (http.clone(), token.clone());
                let (create_via, cancel_via) = (bases[i % 2].clone(), bases[(i + 1) % 2].clone());
                tokio::spawn(async move {
                    let id =
                        create_challenge(&http, &create_via, &token, &format!("user-{batch}-{i}"))
                            .await;
                    cancel(&http, &cancel_via, &token, &id).await;
                    id
                })
            })
            .collect();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let while_down = receiver.ids().len();
    assert!(
        while_down < CHANGES,
        "the receiver was down for part of them"
    );
    let _stop = receiver.serve(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.ids().len() < CHANGES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got.lock().unwrap().clone();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &got {
        *per_id.entry(id).or_default() += 1;
    }
    assert_eq!(per_id.len(), CHANGES, "every event arrived");
    assert!(per_id.values().all(|n| *n == 1), "each event once");
    let mut challenges: Vec<&str> = got
        .iter()
        .map(|(_, e)| e["data"]["challengeId"].as_str().unwrap())
        .collect();
    challenges.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(challenges, expected, "one challenge.cancelled per change");
    assert!(got.iter().all(|(_, e)| e["type"] == "challenge.cancelled"));
    let (by_a, by_b) = (delivered_by(&a), delivered_by(&b));
    assert_eq!(
        by_a + by_b,
        CHANGES,
        "the instances delivered {by_a} + {by_b}"
    );
    assert!(
        by_a > 0 && by_b > 0,
        "both instances claim: {by_a} + {by_b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_instance_resends_the_event_in_flight_with_its_id_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (receiver, mut arrivals) = Receiver::new(Answer::Hold);
    let _stop = receiver.serve(port);
    let file = config(dir.path(), port, 3000);
    let env = [("MFA_TOTP_CONFIG", file.as_str())];
    let server = start_with(dir.path(), &["serve", "--dev"], &env);
    mfa_totp_http::install_crypto_provider();
    let token = service_token(dir.path());
    let http = Client::new();
    let id = create_challenge(&http, &server.base(), &token, "alice").await;
    cancel(&http, &server.base(), &token, &id).await;
    let first = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
        .await
        .expect("the event arrives")
        .unwrap();
    // Killed (SIGKILL) between "sent" and "recorded".
    drop(server);
    *receiver.answer.lock().unwrap() = Answer::Accept;
    let restarted = start_with(dir.path(), &["serve", "--dev"], &env);
    let again = tokio::time::timeout(Duration::from_secs(20), arrivals.recv())
        .await
        .expect("the event is sent again after the restart")
        .unwrap();
    assert_eq!(again, first, "the same webhook-id");
    let deadline = Instant::now() + Duration::from_secs(5);
    while receiver.ids().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.ids(), [first]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while delivered_by(&restarted) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivered_by(&restarted), 1, "recorded as delivered");
}
