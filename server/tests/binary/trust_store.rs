//! A machine (or an image) without CA certificates: building an HTTP client used to panic
//! there ("No CA certificates were loaded from the system"), so `serve` with Twilio exited
//! 101, even for an `http://` provider, and the image's own `HEALTHCHECK` failed. Here the
//! binary runs with an empty trust store (`SSL_CERT_FILE` an empty file, `SSL_CERT_DIR` an
//! empty folder, which the system loader then reads instead of the system's).

use std::time::Duration;

use crate::support::{accepting_twilio, run, start_on_twilio};

/// The variables that point the system's trust store at nothing, under `dir`.
fn empty_trust_store(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let file = dir.join("empty-ca.pem");
    std::fs::write(&file, "").unwrap();
    let folder = dir.join("empty-ca.d");
    std::fs::create_dir_all(&folder).unwrap();
    vec![
        ("SSL_CERT_FILE", file.display().to_string()),
        ("SSL_CERT_DIR", folder.display().to_string()),
    ]
}

/// Plain-http providers and the healthcheck need no trust store: the server starts, is
/// ready, sends, and `mfa-totp healthcheck` (the image's HEALTHCHECK) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ca_certificates_plain_http_serves_and_the_healthcheck_passes() {
    let twilio = accepting_twilio(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let trust = empty_trust_store(dir.path());
    let env: Vec<(&str, &str)> = trust.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = start_on_twilio(dir.path(), &twilio.uri(), &env);
    let port = server.port.to_string();
    let mut probe_env = env.clone();
    probe_env.push(("MFA_TOTP__SERVER__PORT", &port));
    let probe = run(dir.path(), &["healthcheck"], &probe_env);
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let alice = crate::support::with_alice(&server, dir.path()).await;
    let id =
        crate::support::create_challenge(&alice.http, &alice.base, &alice.service, "alice").await;
    let sent = crate::support::initiate(&alice.http, &alice.base, &alice.alice, &id).await;
    assert_eq!(sent, 200);
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1);
}

/// An `https` provider without a trust store is a start-up error naming its setting, not a
/// panic (exit code 101); `config check`, which builds no client, still passes.
#[test]
fn without_ca_certificates_an_https_provider_is_a_named_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let trust = empty_trust_store(dir.path());
    let cases: [(&str, &[(&str, &str)]); 3] = [
        (
            "sms.twilio.base_url",
            &[
                ("MFA_TOTP__SMS__PROVIDER", "twilio"),
                ("MFA_TOTP__SMS__TWILIO__ACCOUNT_SID", "AC0123"),
                (
                    "MFA_TOTP__SMS__TWILIO__AUTH_TOKEN",
                    "twilio-token-7f3a9c2e41b8",
                ),
                ("MFA_TOTP__SMS__TWILIO__FROM", "+15005550006"),
            ],
        ),
        (
            "sms.vonage.base_url",
            &[
                ("MFA_TOTP__SMS__PROVIDER", "vonage"),
                ("MFA_TOTP__SMS__VONAGE__API_KEY", "key"),
                ("MFA_TOTP__SMS__VONAGE__API_SECRET", "vonage-secret-5d2e8b"),
                ("MFA_TOTP__SMS__VONAGE__FROM", "MFA"),
            ],
        ),
        (
            "sms.webhook.url",
            &[
                ("MFA_TOTP__SMS__PROVIDER", "webhook"),
                ("MFA_TOTP__SMS__WEBHOOK__URL", "https://gateway.example/sms"),
                (
                    "MFA_TOTP__SMS__WEBHOOK__SECRET",
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                ),
            ],
        ),
    ];
    for (setting, provider) in cases {
        let mut env: Vec<(&str, &str)> = trust.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(provider);
        env.push(("MFA_TOTP__SERVER__PORT", "0"));
        let checked = run(dir.path(), &["config", "check", "--dev"], &env);
        assert!(
            checked.status.success(),
            "{setting}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
        for args in [
            &["serve", "--dev"][..],
            &["sms", "test", "--to", "+447400123123"],
        ] {
            let out = run(dir.path(), args, &env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?} {setting}: {stderr}");
            assert!(
                stderr.contains(setting) && stderr.contains("CA certificate"),
                "{args:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

/// The OTLP exporter's client follows the same rule: an https collector without a trust
/// store is a start-up error naming what set it, `telemetry.otlp_endpoint` or the standard
/// variable.
#[test]
fn without_ca_certificates_an_https_collector_is_a_named_start_up_error() {
    for setting in [
        "MFA_TOTP__TELEMETRY__OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let trust = empty_trust_store(dir.path());
        let mut env: Vec<(&str, &str)> = trust.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push((setting, "https://127.0.0.1:1"));
        env.push(("MFA_TOTP__SERVER__PORT", "0"));
        let out = run(dir.path(), &["serve", "--dev"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{setting}: {stderr}");
        let named = match setting {
            "MFA_TOTP__TELEMETRY__OTLP_ENDPOINT" => "telemetry.otlp_endpoint",
            other => other,
        };
        assert!(
            stderr.contains(named) && stderr.contains("CA certificate"),
            "{setting}: {stderr}"
        );
    }
}
