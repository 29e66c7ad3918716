//! Running the real `mfa-totp` binary: start it on port 0 with JSON logs, learn its port
//! from the log, collect its stdout (the console SMS) and stderr (the logs), mint tokens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mfa_totp_server::auth::{
    SCOPE_AUDIT_READ, SCOPE_CHALLENGES_READ, SCOPE_CHALLENGES_WRITE, SCOPE_USERS_WRITE,
};
use mfa_totp_sms::ConsoleLine;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_mfa-totp");

pub struct Server {
    child: Child,
    pub port: u16,
    pub stdout: mpsc::Receiver<String>,
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with `args` in `dir`, without a config file, with `env` on top of the test's.
pub fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    command(dir, args, env).output().unwrap()
}

/// The binary with `args` in `dir`, with `env` on an environment that names no config file
/// and no collector of the shell's.
fn command(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .args(args)
        .env_remove("MFA_TOTP_CONFIG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// A Twilio (a fake) that takes every message, after `delay`.
pub async fn accepting_twilio(delay: Duration) -> wiremock::MockServer {
    // Not from wiremock's pool, so that dropping it really closes its port.
    let twilio = wiremock::MockServer::builder().start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM1", "status": "queued"}))
                .set_delay(delay),
        )
        .mount(&twilio)
        .await;
    twilio
}

/// `mfa-totp serve --dev` sending through a Twilio (a fake) at `twilio_url`, with `env`.
pub fn start_on_twilio(dir: &std::path::Path, twilio_url: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("MFA_TOTP__SMS__PROVIDER", "twilio"),
        ("MFA_TOTP__SMS__TWILIO__BASE_URL", twilio_url),
        ("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", "AC0123"),
        (
            "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
            "twilio-token-7f3a9c2e41b8",
        ),
        ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
    ];
    all.extend_from_slice(env);
    start(dir, &all)
}

/// `mfa-totp serve --dev`, as the README runs it.
pub fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    start_with(dir, &["serve", "--dev"], env)
}

/// The binary with `args`, on port 0 with JSON logs, once it logs its port.
pub fn start_with(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = command(dir, args, env)
        .env("MFA_TOTP__SERVER__PORT", "0")
        .env("MFA_TOTP__SERVER__LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (port_tx, port_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line.clone());
            let Ok(log) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if log["message"] == "mfa-totp listening" {
                let _ = port_tx.send(log["port"].as_u64().unwrap() as u16);
            }
        }
    });
    let (out_tx, out_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its port");
    Server {
        child,
        port,
        stdout: out_rx,
        logs,
    }
}

/// A caller's view of a running server: its base URL, an HTTP client, the operation
/// service's token and alice's, with alice's phone (`+447400123123`) in the directory.
pub struct Alice {
    pub base: String,
    pub http: reqwest::Client,
    pub service: String,
    pub alice: String,
}

/// Tokens for the service and alice, and alice's phone put into `server`'s directory.
pub async fn with_alice(server: &Server, dir: &std::path::Path) -> Alice {
    mfa_totp_http::install_crypto_provider();
    let (base, http) = (server.base(), reqwest::Client::new());
    let service = service_token(dir);
    let alice = token(dir, &["--sub", "alice"]);
    assert_eq!(
        put_user(&http, &base, &service, "alice", "+447400123123").await,
        201
    );
    Alice {
        base,
        http,
        service,
        alice,
    }
}

/// `mfa-totp token --dev …`: signed with the secret of `serve --dev`.
pub fn token(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(["token", "--dev"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Server {
    /// Sends SIGTERM, as a container runtime does on stop.
    /// The process id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn exit_code_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The code of the next SMS this instance prints, if one comes within a second.
    pub fn next_code(&self) -> Option<String> {
        let line = self.stdout.recv_timeout(Duration::from_secs(1)).ok()?;
        ConsoleLine::parse(&line)?.code().map(str::to_owned)
    }
}

/// A token of the operation service with every service scope.
pub fn service_token(dir: &std::path::Path) -> String {
    token(
        dir,
        &[
            "--sub",
            "payments-service",
            "--scope",
            SCOPE_CHALLENGES_WRITE,
            "--scope",
            SCOPE_CHALLENGES_READ,
            "--scope",
            SCOPE_USERS_WRITE,
            "--scope",
            SCOPE_AUDIT_READ,
        ],
    )
}

/// Asks the instance at `base` for a challenge for `subject`; the response as it came.
pub async fn request_challenge(
    http: &reqwest::Client,
    base: &str,
    service_token: &str,
    subject: &str,
) -> reqwest::Response {
    http.post(format!("{base}/internal/v1/mfa/challenges"))
        .bearer_auth(service_token)
        .json(&json!({
            "subjectUserId": subject,
            "stepUpRequestContext": {"operation": "payments.transfer", "attributes": {"amount": "120.00"}},
        }))
        .send()
        .await
        .unwrap()
}

/// Creates a challenge for `subject` through the instance at `base`; returns its id.
pub async fn create_challenge(
    http: &reqwest::Client,
    base: &str,
    service_token: &str,
    subject: &str,
) -> String {
    let created: Value = request_challenge(http, base, service_token, subject)
        .await
        .json()
        .await
        .unwrap();
    created["challengeId"]
        .as_str()
        .expect("a created challenge")
        .to_owned()
}

/// `PUT` a user's phone through the instance at `base`; returns the status.
pub async fn put_user(
    http: &reqwest::Client,
    base: &str,
    service_token: &str,
    user: &str,
    phone: &str,
) -> u16 {
    http.put(format!("{base}/internal/v1/mfa/users/{user}"))
        .bearer_auth(service_token)
        .json(&json!({ "phoneNumber": phone }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `:initiate` as the user; returns the status.
pub async fn initiate(http: &reqwest::Client, base: &str, user_token: &str, id: &str) -> u16 {
    http.post(format!("{base}/internal/v1/mfa/totp-sms/{id}:initiate"))
        .bearer_auth(user_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `:verify` as the user; returns the body.
pub async fn verify(
    http: &reqwest::Client,
    base: &str,
    user_token: &str,
    id: &str,
    code: &str,
) -> Value {
    http.post(format!("{base}/internal/v1/mfa/totp-sms/{id}:verify"))
        .bearer_auth(user_token)
        .json(&json!({ "otp": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
