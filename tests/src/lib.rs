//! Support for the black-box tests: the real server on port 0 with a fresh database (a
//! SQLite file, or a PostgreSQL database with `MFA_TOTP_TEST_ENGINE=postgres`), an SMS inbox
//! read from the console provider's output, tokens, and a client whose every response is
//! checked against the committed OpenAPI spec. `TEST_LOG=1` shows the servers' logs.

pub mod proxy;
pub mod spec_check;

pub use async_trait::async_trait;

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use mfa_totp_application::{Clock, SmsSender};
use mfa_totp_server::auth::{
    SCOPE_AUDIT_READ, SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE, SCOPE_USERS_WRITE, mint_hs256,
};
use mfa_totp_server::config::LogFormat;
use mfa_totp_server::{Application, Config, Overrides, Settings};
use mfa_totp_sms::{ConsoleLine, ConsoleSms};
pub use mfa_totp_storage::testing::{Engine, TestDatabase};
use serde_json::{Value, json};

pub use spec_check::SpecCheck;

pub const PHONE: &str = "+447400123123";
const TEST_SECRET: &str = "black-box-test-secret-of-at-least-32-bytes";

/// A clock the test moves by hand.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        let now = Utc::now();
        Arc::new(Self(Mutex::new(
            DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap(),
        )))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::TimeDelta::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Everything the console SMS provider printed.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<u8>>>);

impl Write for Inbox {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Inbox {
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The code in the last SMS sent to `phone`.
    pub fn last_code_for(&self, phone: &str) -> Option<String> {
        self.lines()
            .iter()
            .rev()
            .filter_map(|line| ConsoleLine::parse(line))
            .find(|sms| sms.to == phone)
            .and_then(|sms| sms.code().map(str::to_owned))
    }
}

/// How a test wants the server set up.
pub struct Setup {
    pub settings: Settings,
    pub clock: Option<Arc<dyn Clock>>,
    pub sms: Option<Arc<dyn SmsSender>>,
    /// Use the SMS providers `settings` configure instead of the console inbox.
    pub real_sms: bool,
    /// Serve as `serve --dev` does (the development inbox).
    pub development: bool,
}

impl Setup {
    pub fn new(database: &TestDatabase) -> Self {
        Self::new_on(database.url())
    }

    /// Defaults on the database at `url` (one another app of the test already uses).
    pub fn new_on(url: &str) -> Self {
        let mut settings = Settings::default();
        settings.server.port = 0;
        settings.database.url = url.to_owned();
        settings.auth.hs256_secret = Some(TEST_SECRET.into());
        // The development encryption key; the console SMS is replaced by the inbox.
        settings.fill_development_defaults();
        Self {
            settings,
            clock: None,
            sms: None,
            real_sms: false,
            development: false,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub inbox: Inbox,
    pub spec: &'static SpecCheck,
    server: tokio::task::JoinHandle<()>,
    _database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A response, already checked against the spec.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code without its URN prefix, e.g. `CHALLENGE_NOT_FOUND`.
    pub fn code(&self) -> &str {
        self.body["code"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:plmr:mfa-totp:api:")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(
            self.body["requestId"].as_str(),
            self.header("x-request-id"),
            "requestId = X-Request-Id"
        );
    }
}

impl TestApp {
    /// Defaults, a fresh database of the engine `MFA_TOTP_TEST_ENGINE` picks, the console
    /// provider writing to an inbox.
    pub async fn spawn() -> Self {
        let database = TestDatabase::from_env("black-box").await;
        let setup = Setup::new(&database);
        Self::spawn_with(setup, Some(database)).await
    }

    /// Defaults on a fresh database of `engine`, with a clock the test moves by hand.
    pub async fn spawn_on(engine: Engine, test: &str) -> (Self, Arc<ManualClock>) {
        let database = TestDatabase::create(engine, test).await;
        let clock = ManualClock::new();
        let mut setup = Setup::new(&database);
        setup.clock = Some(clock.clone());
        (Self::spawn_with(setup, Some(database)).await, clock)
    }

    /// `configure`d settings on a fresh database of the engine `MFA_TOTP_TEST_ENGINE` picks,
    /// with a clock the test moves by hand.
    pub async fn spawn_configured(
        configure: impl FnOnce(&mut Settings),
    ) -> (Self, Arc<ManualClock>) {
        let database = TestDatabase::from_env("black-box").await;
        let clock = ManualClock::new();
        let mut setup = Setup::new(&database);
        setup.clock = Some(clock.clone());
        configure(&mut setup.settings);
        (Self::spawn_with(setup, Some(database)).await, clock)
    }

    /// Defaults, with a clock the test moves by hand.
    pub async fn spawn_with_clock() -> (Self, Arc<ManualClock>) {
        let database = TestDatabase::from_env("black-box").await;
        let clock = ManualClock::new();
        let mut setup = Setup::new(&database);
        setup.clock = Some(clock.clone());
        (Self::spawn_with(setup, Some(database)).await, clock)
    }

    /// `database` is kept (and a PostgreSQL one dropped) with the app.
    pub async fn spawn_with(setup: Setup, database: Option<TestDatabase>) -> Self {
        init_test_log();
        let inbox = Inbox::default();
        let sms = match (setup.sms, setup.real_sms) {
            (Some(sms), _) => Some(sms),
            (None, true) => None,
            (None, false) => Some(Arc::new(ConsoleSms::to_writer(Arc::new(Mutex::new(
                inbox.clone(),
            )))) as Arc<dyn SmsSender>),
        };
        let mut config = Config::new(setup.settings).expect("the test's settings are valid");
        config.development = setup.development;
        let app = Application::build(
            &config,
            Overrides {
                sms,
                clock: setup.clock,
            },
        )
        .await
        .expect("the app builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let server = tokio::spawn(async move {
            let _ = app.run().await;
        });
        Self {
            base,
            http: reqwest::Client::new(),
            inbox,
            spec: SpecCheck::committed(),
            server,
            _database: database,
        }
    }

    pub fn token(sub: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        mint_hs256(
            TEST_SECRET.as_bytes(),
            "mfa-totp",
            "mfa-totp",
            sub,
            &scopes,
            600,
        )
        .unwrap()
    }

    /// A token with every service scope.
    pub fn service_token() -> String {
        Self::token(
            "operation-service",
            &[
                SCOPE_CHALLENGES_WRITE,
                SCOPE_CHALLENGES_READ,
                SCOPE_USERS_WRITE,
                SCOPE_AUDIT_READ,
            ],
        )
    }

    /// Sends a request and checks the response against the committed spec.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = request.build().unwrap();
        let method = request.method().as_str().to_owned();
        let path = request.url().path().to_owned();
        let response = self.http.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        self.spec.check(&method, &path, status, &headers, &body);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// A POST with a body sent as is, under the given content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: &'static str,
    ) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn put_user(&self, user: &str, phone: &str) -> Reply {
        let path = format!("/internal/v1/mfa/users/{user}");
        self.send(
            self.http
                .put(self.url(&path))
                .bearer_auth(Self::service_token())
                .json(&json!({ "phoneNumber": phone })),
        )
        .await
    }

    /// Creates a challenge for `user` and returns its id.
    pub async fn create_challenge(&self, user: &str) -> String {
        self.create_challenge_for(user, json!({"amount": "120.00"}))
            .await
    }

    /// Creates a challenge for `user` to authorise a `payments.transfer` with `attributes`,
    /// and returns its id.
    pub async fn create_challenge_for(&self, user: &str, attributes: Value) -> String {
        let reply = self
            .post_json(
                "/internal/v1/mfa/challenges",
                &Self::service_token(),
                json!({
                    "subjectUserId": user,
                    "stepUpRequestContext": {"operation": "payments.transfer", "attributes": attributes}
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["challengeId"].as_str().unwrap().to_owned()
    }

    pub async fn initiate(&self, id: &str, user: &str) -> Reply {
        self.post(
            &format!("/internal/v1/mfa/totp-sms/{id}:initiate"),
            &Self::token(user, &[]),
        )
        .await
    }

    /// `:cancel` of the challenge `id`, by the service whose token is `token`.
    pub async fn cancel(&self, id: &str, token: &str) -> Reply {
        self.post(&format!("/internal/v1/mfa/challenges/{id}:cancel"), token)
            .await
    }

    /// `:consume` of the challenge `id`, by the service whose token is `token`.
    pub async fn consume(&self, id: &str, token: &str) -> Reply {
        self.post(&format!("/internal/v1/mfa/challenges/{id}:consume"), token)
            .await
    }

    pub async fn verify(&self, id: &str, user: &str, otp: &str) -> Reply {
        self.post_json(
            &format!("/internal/v1/mfa/totp-sms/{id}:verify"),
            &Self::token(user, &[]),
            json!({ "otp": otp }),
        )
        .await
    }

    /// A user with a phone and a challenge for them whose code was sent; returns the id and code.
    pub async fn challenge_with_code(&self, user: &str) -> (String, String) {
        assert_eq!(self.put_user(user, PHONE).await.status / 100, 2);
        let id = self.create_challenge(user).await;
        let reply = self.initiate(&id, user).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        (
            id,
            self.inbox.last_code_for(PHONE).expect("an SMS with a code"),
        )
    }
}

/// The requests `server` has received, once there are at least `count` (within 5 s).
pub async fn requests_to(server: &wiremock::MockServer, count: usize) -> Vec<wiremock::Request> {
    for _ in 0..250 {
        let requests = server.received_requests().await.unwrap_or_default();
        if requests.len() >= count {
            return requests;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} requests arrived");
}

/// The variable that shows the servers' logs: `TEST_LOG=1 cargo test -p mfa-totp-tests`.
pub const TEST_LOG_VAR: &str = "TEST_LOG";

/// With `TEST_LOG=1` (or `true`), the servers the tests start log to stderr, pretty, filtered
/// by `RUST_LOG`. Without it the tests stay quiet.
pub fn init_test_log() {
    if std::env::var(TEST_LOG_VAR).is_ok_and(|v| v == "1" || v == "true") {
        mfa_totp_server::telemetry::init(LogFormat::Pretty);
    }
}

/// A code that is not `code`.
pub fn other_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}
