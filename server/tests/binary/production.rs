//! Production is the default: `serve` refuses development keys, empty or short secrets and
//! console SMS, naming each key; `serve --dev` fills in only what is not configured.

use std::process::{Command, Output};

use crate::support::{BIN, start, start_with};

const SECRET: &str = "a-configured-secret-of-at-least-32-bytes";
const KEY: &str = "xY7jUEakXjXzn8pBUXZ0yyotjWIJKcLUBqfWKczI7pQ=";
const ASSERTION_KEY: &str = include_str!("../../testdata/assertion-k1.pem");

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .current_dir(dir.path())
        .args(args)
        .env("MFA_TOTP__SERVER__PORT", "0")
        .env_remove("MFA_TOTP_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[track_caller]
fn refused(out: &Output, names: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must not start: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "names {name}: {stderr}");
    }
}

/// A non-console provider; nothing need listen for the server to start.
const TWILIO: [(&str, &str); 4] = [
    ("MFA_TOTP__SMS__PROVIDER", "twilio"),
    ("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", "AC0123"),
    (
        "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
        "twilio-token-7f3a9c2e41b8",
    ),
    ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
];

#[test]
fn serve_without_keys_is_refused_naming_each_missing_key() {
    for args in [&["serve"][..], &[]] {
        refused(
            &run(args, &[]),
            &[
                "auth.hs256_secret",
                "crypto.active_key_id",
                "assertion.active_key_id",
                "sms.provider",
                "serve --dev",
            ],
        );
    }
}

#[test]
fn development_keys_and_console_sms_are_refused_in_production() {
    let dev_secret = mfa_totp_server::config::DEVELOPMENT_HS256_SECRET;
    let dev_key = mfa_totp_server::config::DEVELOPMENT_CRYPTO_KEY;
    let out = run(
        &["serve"],
        &[
            ("MFA_TOTP__AUTH__HS256_SECRET", dev_secret),
            ("MFA_TOTP__CRYPTO__ACTIVE_KEY_ID", "k1"),
            ("MFA_TOTP__CRYPTO__KEYS__K1", dev_key),
            ("MFA_TOTP__ASSERTION__ACTIVE_KEY_ID", "k1"),
            (
                "MFA_TOTP__ASSERTION__KEYS__K1",
                mfa_totp_server::config::DEVELOPMENT_ASSERTION_KEY,
            ),
            ("MFA_TOTP__SMS__PROVIDER", "console"),
        ],
    );
    refused(
        &out,
        &[
            "auth.hs256_secret: this is a public development value",
            "crypto.keys.k1: this is a public development value",
            "assertion.keys.k1: this is a public development value",
            "sms.provider",
        ],
    );
}

/// The finding: the development secret with a trailing space or newline started in
/// production, and a token signed with the public secret then wrote a user.
#[test]
fn the_development_secret_in_disguise_is_refused_in_production() {
    let dev_secret = mfa_totp_server::config::DEVELOPMENT_HS256_SECRET;
    for disguised in [
        format!("{dev_secret} "),
        format!("{dev_secret}\n"),
        format!(" {dev_secret}"),
        dev_secret.to_uppercase(),
    ] {
        let out = run(
            &["serve"],
            &[
                ("MFA_TOTP__AUTH__HS256_SECRET", disguised.as_str()),
                ("MFA_TOTP__CRYPTO__ACTIVE_KEY_ID", "k1"),
                ("MFA_TOTP__CRYPTO__KEYS__K1", KEY),
            ],
        );
        refused(&out, &["auth.hs256_secret"]);
    }
}

#[test]
fn an_empty_or_short_secret_is_refused_in_every_mode() {
    for args in [
        &["serve"][..],
        &["serve", "--dev"],
        &["token", "--sub", "x"],
    ] {
        refused(
            &run(args, &[("MFA_TOTP__AUTH__HS256_SECRET", "")]),
            &["auth.hs256_secret (MFA_TOTP__AUTH__HS256_SECRET): set but empty"],
        );
        refused(
            &run(args, &[("MFA_TOTP__AUTH__HS256_SECRET", "short-secret")]),
            &["auth.hs256_secret: must be at least 32 bytes"],
        );
    }
}

#[tokio::test]
async fn token_falls_back_to_the_development_secret_only_with_dev() {
    refused(&run(&["token", "--sub", "x"], &[]), &["--dev"]);
    refused(
        &run(
            &["token", "--dev", "--sub", "x", "--ttl-secs", "86401"],
            &[],
        ),
        &["auth.max_token_lifetime_secs"],
    );
    let out = run(&["token", "--dev", "--sub", "x"], &[]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let verifier = mfa_totp_server::auth::TokenVerifier::new(
        &mfa_totp_server::auth::VerificationKey::Hs256(
            mfa_totp_server::config::DEVELOPMENT_HS256_SECRET
                .as_bytes()
                .to_vec(),
        ),
        mfa_totp_server::auth::TokenRules::from(&mfa_totp_server::config::AuthSettings::default()),
    )
    .unwrap();
    assert_eq!(verifier.verify(token.trim()).await.unwrap().subject, "x");
}

async fn status_of_users_put(port: u16, token: &str) -> u16 {
    reqwest::Client::new()
        .put(format!(
            "http://127.0.0.1:{port}/internal/v1/mfa/users/alice"
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({"phoneNumber": "+447400123123"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn mint(secret: &str) -> String {
    mfa_totp_server::auth::mint_hs256(
        secret.as_bytes(),
        "mfa-totp",
        "mfa-totp",
        "payments-service",
        &[mfa_totp_server::auth::SCOPE_USERS_WRITE.to_owned()],
        60,
    )
    .unwrap()
}

#[tokio::test]
async fn a_configured_production_start_serves_and_refuses_the_development_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("MFA_TOTP__AUTH__HS256_SECRET", SECRET),
        ("MFA_TOTP__CRYPTO__ACTIVE_KEY_ID", "k1"),
        ("MFA_TOTP__CRYPTO__KEYS__K1", KEY),
        ("MFA_TOTP__ASSERTION__ACTIVE_KEY_ID", "a1"),
        ("MFA_TOTP__ASSERTION__KEYS__A1", ASSERTION_KEY),
    ];
    env.extend(TWILIO);
    let server = start_with(dir.path(), &["serve"], &env);
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(!logs.contains("DEVELOPMENT"), "{logs}");
    mfa_totp_http::install_crypto_provider();
    let dev = mint(mfa_totp_server::config::DEVELOPMENT_HS256_SECRET);
    assert_eq!(status_of_users_put(server.port, &dev).await, 401);
    assert_eq!(status_of_users_put(server.port, &mint(SECRET)).await, 201);
}

#[tokio::test]
async fn dev_mode_keeps_what_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("MFA_TOTP__AUTH__HS256_SECRET", SECRET)]);
    let logs = server.logs.lock().unwrap().join("\n");
    assert!(logs.contains("DEVELOPMENT MODE"), "{logs}");
    assert!(
        logs.contains("crypto.keys, assertion.keys, sms.provider")
            && !logs.contains("auth.hs256_secret,"),
        "{logs}"
    );
    mfa_totp_http::install_crypto_provider();
    let dev = mint(mfa_totp_server::config::DEVELOPMENT_HS256_SECRET);
    assert_eq!(status_of_users_put(server.port, &dev).await, 401);
    assert_eq!(status_of_users_put(server.port, &mint(SECRET)).await, 201);
}
