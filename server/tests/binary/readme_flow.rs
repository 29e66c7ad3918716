//! The `mfa-totp` binary as a newcomer runs it: no config, SQLite file, console SMS on
//! stdout. Walks the README's flow (token, user, challenge, initiate, verify) over HTTP.

use std::process::Command;
use std::time::Duration;

use mfa_totp_sms::ConsoleLine;
use serde_json::{Value, json};

use crate::support::{
    Alice, BIN, create_challenge, initiate, request_challenge, service_token, start, verify,
    with_alice,
};

#[tokio::test]
async fn readme_flow_walks_to_verified_with_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    assert!(
        dir.path().join("mfa-totp.db").exists(),
        "SQLite file created by default"
    );
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir.path()).await;

    let id = &create_challenge(&http, &base, &service, "alice").await;

    assert_eq!(initiate(&http, &base, &alice, id).await, 200);
    let sms = server
        .stdout
        .recv_timeout(Duration::from_secs(5))
        .expect("one SMS line on stdout");
    let sms = ConsoleLine::parse(&sms).expect("console SMS format");
    assert_eq!(sms.to, "+447400123123");
    let code = sms.code().expect("a code in the SMS");

    let verified = verify(&http, &base, &alice, id, code).await;
    assert_eq!(verified["status"], "VERIFIED");
    // 4b. The assertion verifies with the key set the binary publishes.
    let assertion = verified["assertion"].as_str().expect("an assertion");
    let keys: jsonwebtoken::jwk::JwkSet = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(keys.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["payments-service"]);
    validation.set_issuer(&["mfa-totp"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .expect("the assertion verifies")
        .claims;
    assert_eq!(claims["challenge_id"], id.as_str());
    assert_eq!(claims["context_digest"], verified["contextDigest"]);

    let wrong = http
        .post(format!("{base}/internal/v1/mfa/totp-sms/{id}:verify"))
        .bearer_auth(&alice)
        .json(&json!({"otp": "000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let consumed = http
        .post(format!("{base}/internal/v1/mfa/challenges/{id}:consume"))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(consumed.status(), 200);
    // 6. Support staff read what happened.
    let trail: Value = http
        .get(format!("{base}/internal/v1/mfa/challenges/{id}/events"))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["CHALLENGE_CREATED", "CODE_SENT", "VERIFIED", "CONSUMED"]
    );
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("DEVELOPMENT MODE") && logs.contains("auth.hs256_secret, crypto.keys"),
        "serve --dev says loudly what it filled in"
    );
    assert!(logs.contains("+44*******123"), "logs name the phone masked");
    assert!(
        !logs.contains("+447400123123"),
        "no full phone number in the logs"
    );
    assert!(!logs.contains(code), "no code in the logs");
    let signature = assertion.rsplit_once('.').unwrap().1;
    assert!(!logs.contains(signature), "no assertion in the logs");
    let audit: Vec<&str> = logs.lines().filter(|l| l.contains("audit event")).collect();
    for event in ["CHALLENGE_CREATED", "CODE_SENT", "VERIFIED", "CONSUMED"] {
        assert_eq!(
            audit.iter().filter(|l| l.contains(event)).count(),
            1,
            "one {event} audit line in {audit:?}"
        );
    }
}

/// A limit set through its environment variable alone, as the README shows for load tests
/// (here the opposite: one challenge per user).
#[tokio::test]
async fn a_limit_is_set_by_its_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("MFA_TOTP__LIMITS__USER_CHALLENGES__MAX", "1")],
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    mfa_totp_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let service = service_token(dir.path());
    create_challenge(&http, &base, &service, "alice").await;
    let refused = request_challenge(&http, &base, &service, "alice").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "3600");
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("user_challenges"),
        "{body}"
    );
}

#[tokio::test]
async fn an_error_is_logged_once_with_its_request_id_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    mfa_totp_http::install_crypto_provider();
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/internal/v1/mfa/challenges/0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10",
            server.base()
        ))
        .bearer_auth("not-a-jwt")
        .header("x-request-id", "log-once-1")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["requestId"], "log-once-1", "stamped into the body");
    // The log line is written after the response; give the reader a moment.
    let mine = || -> Vec<Value> {
        let logs = server.logs.lock().unwrap();
        logs.iter()
            .filter(|line| line.contains("log-once-1"))
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    for _ in 0..50 {
        if !mine().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = mine();
    assert_eq!(lines.len(), 1, "one line per request: {lines:?}");
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[0]["code"], "urn:plmr:mfa-totp:api:UNAUTHORIZED");
    assert!(
        lines[0]["cause"].as_str().unwrap().contains("InvalidToken"),
        "the cause is logged: {}",
        lines[0]
    );
}

#[tokio::test]
async fn secrets_that_look_like_numbers_are_used_verbatim() {
    let secret = "0071928364550019283746501928374650.57";
    let out = Command::new(BIN)
        .args(["token", "--sub", "x"])
        .env("MFA_TOTP__AUTH__HS256_SECRET", secret)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let verifier = mfa_totp_server::auth::TokenVerifier::new(
        &mfa_totp_server::auth::VerificationKey::Hs256(secret.as_bytes().to_vec()),
        mfa_totp_server::auth::TokenRules::from(&mfa_totp_server::config::AuthSettings::default()),
    )
    .unwrap();
    assert_eq!(verifier.verify(token.trim()).await.unwrap().subject, "x");
}

#[test]
fn a_wrong_config_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["serve", "--dev"])
        .env("MFA_TOTP__SERVER__PORT", "not-a-port")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.port"), "{stderr}");
}

#[test]
fn openapi_subcommand_prints_the_committed_spec() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/mfa-totp.json"
    ))
    .unwrap();
    assert!(
        out.stdout == committed,
        "run `mfa-totp openapi > openapi/mfa-totp.json`"
    );
}

#[test]
fn sms_test_reports_each_provider_of_the_chain_configured_by_environment() {
    let out = Command::new(BIN)
        .args(["sms", "test", "--to", "+447400123123"])
        .env("MFA_TOTP__SMS__CHAIN", "twilio,console")
        .env("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", "AC0123")
        .env(
            "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
            "twilio-token-not-for-output",
        )
        .env("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006")
        // Nothing listens on port 9: the first provider fails, the second carries it.
        .env("MFA_TOTP__SMS__TWILIO__BASE_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("twilio: failed"), "{stdout}");
    assert!(stdout.contains("console: accepted"), "{stdout}");
    assert!(stdout.contains("delivered through console"), "{stdout}");
    assert!(!stdout.contains("twilio-token-not-for-output"));
}

#[test]
fn a_chosen_sms_provider_without_its_keys_stops_the_binary_naming_the_key() {
    let out = Command::new(BIN)
        .args(["sms", "test", "--to", "+447400123123"])
        .env("MFA_TOTP__SMS__PROVIDER", "vonage")
        .env("MFA_TOTP__SMS__VONAGE__API_KEY", "k")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sms.vonage.api_secret"), "{stderr}");
}

#[test]
fn sms_render_previews_a_linked_operations_message_with_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mfa-totp.toml");
    std::fs::write(
        &config,
        "[sms]\nwebotp_domain = \"bank.example\"\n\
         [sms.operations.payments.transfer]\nrequired_attributes = [\"amount\", \"currency\", \"payee\"]\n\
         [sms.templates.de.payments]\n\
         transfer = \"{code} ist Ihr Code, um {amount} {currency} an {payee} zu zahlen.\"\n\
         [sms.templates.en.payments]\n\
         transfer = \"{code} is your code to pay {amount} {currency} to {payee}.\"\n",
    )
    .unwrap();
    let render = |extra: &[&str]| {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["sms", "render", "--operation", "payments.transfer"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = render(&[
        "--locale",
        "de",
        "--attr",
        "amount=120.00",
        "--attr",
        "currency=EUR",
        "--attr",
        "payee=ACME GmbH",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "123456 ist Ihr Code, um 120.00 EUR an ACME GmbH zu zahlen.\n\n@bank.example #123456\n\
         ---\nlocale: de\nencoding: GSM-7\nsegments: 1 (81 septets)\n"
    );
    let missing = render(&["--attr", "amount=1"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--attr currency is missing"), "{stderr}");
}

#[test]
fn start_up_warns_about_a_template_longer_than_two_segments() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "Your code is {{code}}. {}",
        "Please read this carefully. ".repeat(12)
    );
    let server = start(
        dir.path(),
        &[("MFA_TOTP__SMS__TEMPLATES__EN__DEFAULT", &long)],
    );
    let logs = server.logs.lock().unwrap().join("\n");
    let warning = logs
        .lines()
        .find(|line| line.contains("more than 2 SMS segments"))
        .unwrap_or_else(|| panic!("no warning in {logs}"));
    assert!(warning.contains("sms.templates.en.default"), "{warning}");
    assert!(warning.contains("\"segments\":3"), "{warning}");
    assert!(
        !logs.contains("sms.templates.de.default"),
        "the short ones pass"
    );
}
