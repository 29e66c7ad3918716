//! `/metrics` of the real binary after a full flow: every documented metric name is there
//! (a renamed one fails this test), each moved exactly as the flow did, and no label holds a
//! user id, phone number or code. With `server.admin_port` the metrics move there.

use std::collections::BTreeMap;

use mfa_totp_sms::code_in;

use crate::support::{
    Alice, create_challenge, initiate, request_challenge, start, start_on_twilio, verify,
    with_alice,
};

/// `name{sorted labels}` → value, for every sample line.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let key = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => series.to_owned(),
            };
            Some((key, value.parse().ok()?))
        })
        .collect()
}

async fn scrape(url: &str) -> (u16, String) {
    mfa_totp_http::install_crypto_provider();
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn a_full_flow_moves_every_documented_metric() {
    let twilio = crate::support::accepting_twilio(std::time::Duration::ZERO).await;
    let twilio_url = twilio.uri();
    let dir = tempfile::tempdir().unwrap();
    let server = start_on_twilio(
        dir.path(),
        &twilio_url,
        &[("MFA_TOTP__LIMITS__USER_CHALLENGES__MAX", "1")],
    );
    let Alice {
        base,
        http,
        service,
        alice,
    } = with_alice(&server, dir.path()).await;
    let id = create_challenge(&http, &base, &service, "alice").await;
    assert_eq!(initiate(&http, &base, &alice, &id).await, 200);
    let requests = twilio.received_requests().await.unwrap();
    let form: BTreeMap<String, String> = serde_urlencoded::from_bytes(&requests[0].body).unwrap();
    let code = code_in(&form["Body"]).unwrap().to_owned();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        verify(&http, &base, &alice, &id, &wrong).await["code"],
        "urn:plmr:mfa-totp:api:INVALID_OTP"
    );
    assert_eq!(
        verify(&http, &base, &alice, &id, &code).await["status"],
        "VERIFIED"
    );
    let consumed = http
        .post(format!("{base}/internal/v1/mfa/challenges/{id}:consume"))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(consumed.status(), 200);
    let refused = request_challenge(&http, &base, &service, "alice").await;
    assert_eq!(refused.status(), 429);

    let (status, text) = scrape(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    // The identity provider's metrics exist with `auth.jwks_url` (tests/tests/api/tokens.rs).
    let jwks = [
        mfa_totp_server::telemetry::metric::JWKS_FETCHES,
        mfa_totp_server::telemetry::metric::JWKS_LAST_SUCCESS,
    ];
    for name in mfa_totp_server::telemetry::METRIC_NAMES
        .into_iter()
        .filter(|name| !jwks.contains(name))
    {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} is documented but not exported:\n{text}"
        );
    }
    let got = samples(&text);
    for (series, value) in [
        ("mfa_totp_challenges_created_total", 1.0),
        (
            "mfa_totp_challenges_finished_total{state=\"verified\"}",
            1.0,
        ),
        ("mfa_totp_contexts_consumed_total", 1.0),
        ("mfa_totp_verifications_total{outcome=\"verified\"}", 1.0),
        ("mfa_totp_verifications_total{outcome=\"invalid_otp\"}", 1.0),
        (
            "mfa_totp_limit_refusals_total{limit=\"user_challenges\"}",
            1.0,
        ),
        (
            "mfa_totp_sms_sends_total{outcome=\"accepted\",provider=\"twilio\"}",
            1.0,
        ),
        (
            "mfa_totp_sms_provider_sends_total{outcome=\"accepted\",provider=\"twilio\"}",
            1.0,
        ),
        ("mfa_totp_sms_circuit_open{provider=\"twilio\"}", 0.0),
        (
            "mfa_totp_http_requests_total{operation=\"initiateTotpSms\",status=\"200\"}",
            1.0,
        ),
        (
            "mfa_totp_http_requests_total{operation=\"verifyTotpSms\",status=\"400\"}",
            1.0,
        ),
        (
            "mfa_totp_http_requests_total{operation=\"verifyTotpSms\",status=\"200\"}",
            1.0,
        ),
        (
            "mfa_totp_http_requests_total{operation=\"createChallenge\",status=\"429\"}",
            1.0,
        ),
        (
            "mfa_totp_http_request_duration_seconds_count{operation=\"verifyTotpSms\"}",
            2.0,
        ),
        (
            "mfa_totp_sms_provider_duration_seconds_count{provider=\"twilio\"}",
            1.0,
        ),
    ] {
        assert_eq!(got.get(series), Some(&value), "{series} in:\n{text}");
    }
    assert!(
        got.keys().any(
            |k| k.starts_with("mfa_totp_db_query_duration_seconds_count{statement=\"update\"}")
        ),
        "query latency by statement"
    );
    assert!(got.contains_key("mfa_totp_db_pool_connections{state=\"idle\"}"));
    for secret in ["alice", "447400123123", code.as_str(), &id] {
        assert!(!text.contains(secret), "{secret} in a label:\n{text}");
    }
}

/// The names are an interface: the README's table lists each one the service exports.
#[test]
fn the_readme_documents_every_metric() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for name in mfa_totp_server::telemetry::METRIC_NAMES {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "{name} is not in the README"
        );
    }
}

#[tokio::test]
async fn with_an_admin_port_the_metrics_are_served_there_only() {
    let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin_port = admin.local_addr().unwrap().port().to_string();
    drop(admin);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("MFA_TOTP__SERVER__ADMIN_PORT", &admin_port)]);
    let (status, body) = scrape(&format!("{}/metrics", server.base())).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("RESOURCE_UNKNOWN"));
    let (status, text) = scrape(&format!("http://127.0.0.1:{admin_port}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("# TYPE mfa_totp_db_pool_connections gauge"),
        "{text}"
    );
}

/// Before any request, every series whose labels are known exists at 0, so that the first
/// increments count in `rate()` and an error ratio is 0, not empty; every family has HELP
/// text; the process metrics and the build info are there.
#[tokio::test]
async fn before_any_request_every_known_series_is_there_at_0_with_help_text() {
    let twilio = crate::support::accepting_twilio(std::time::Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start_on_twilio(
        dir.path(),
        &twilio.uri(),
        &[("MFA_TOTP__SMS__CHAIN", "twilio,console")],
    );
    let (status, text) = scrape(&format!("{}/metrics", server.base())).await;
    assert_eq!(status, 200);
    let got = samples(&text);
    let mut zero = vec![
        "mfa_totp_challenges_created_total".to_owned(),
        "mfa_totp_contexts_consumed_total".to_owned(),
        "mfa_totp_http_requests_total{operation=\"initiateTotpSms\",status=\"200\"}".to_owned(),
        "mfa_totp_http_requests_total{operation=\"verifyTotpSms\",status=\"503\"}".to_owned(),
        "mfa_totp_http_requests_total{operation=\"createChallenge\",status=\"429\"}".to_owned(),
        "mfa_totp_http_request_duration_seconds_count{operation=\"getChallenge\"}".to_owned(),
        "mfa_totp_db_query_duration_seconds_count{statement=\"delete\"}".to_owned(),
    ];
    for state in ["verified", "locked", "expired", "cancelled"] {
        zero.push(format!(
            "mfa_totp_challenges_finished_total{{state=\"{state}\"}}"
        ));
    }
    for outcome in ["verified", "invalid_otp", "limited"] {
        zero.push(format!(
            "mfa_totp_verifications_total{{outcome=\"{outcome}\"}}"
        ));
    }
    for limit in [
        "user_wrong_codes",
        "user_challenges",
        "user_sms",
        "phone_sms",
        "global_sms",
    ] {
        zero.push(format!(
            "mfa_totp_limit_refusals_total{{limit=\"{limit}\"}}"
        ));
    }
    for provider in ["twilio", "console"] {
        for outcome in ["accepted", "rejected", "unavailable", "unknown"] {
            zero.push(format!(
                "mfa_totp_sms_sends_total{{outcome=\"{outcome}\",provider=\"{provider}\"}}"
            ));
        }
        for outcome in ["accepted", "rejected", "failed", "unknown", "skipped"] {
            zero.push(format!(
                "mfa_totp_sms_provider_sends_total{{outcome=\"{outcome}\",provider=\"{provider}\"}}"
            ));
        }
        zero.push(format!(
            "mfa_totp_sms_circuit_open{{provider=\"{provider}\"}}"
        ));
        zero.push(format!(
            "mfa_totp_sms_provider_duration_seconds_count{{provider=\"{provider}\"}}"
        ));
        zero.push(format!(
            "mfa_totp_sms_send_duration_seconds_count{{provider=\"{provider}\"}}"
        ));
    }
    for series in &zero {
        assert_eq!(got.get(series.as_str()), Some(&0.0), "{series} in:\n{text}");
    }
    // Each histogram's buckets cover its range: an SMS send or an `:initiate` can take tens
    // of seconds, a SQLite read tens of microseconds.
    for bucket in [
        "mfa_totp_sms_send_duration_seconds_bucket{le=\"60\",provider=\"twilio\"}",
        "mfa_totp_sms_provider_duration_seconds_bucket{le=\"120\",provider=\"twilio\"}",
        "mfa_totp_http_request_duration_seconds_bucket{le=\"60\",operation=\"initiateTotpSms\"}",
        "mfa_totp_db_query_duration_seconds_bucket{le=\"0.00005\",statement=\"select\"}",
    ] {
        assert!(got.contains_key(bucket), "{bucket} in:\n{text}");
    }
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(got.get(name).is_some_and(|v| *v >= 0.0), "{name}:\n{text}");
    }
    assert!(
        got.get("process_resident_memory_bytes")
            .is_some_and(|v| *v > 1e6)
    );
    let build = got
        .keys()
        .find(|k| k.starts_with("mfa_totp_build_info{"))
        .expect("mfa_totp_build_info");
    assert!(build.contains("version=\"0.1.0\""), "{build}");
    assert!(build.contains("commit=\""), "{build}");
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        let help = text
            .lines()
            .find(|l| l.starts_with(&format!("# HELP {name} ")))
            .unwrap_or_else(|| panic!("no HELP for {name}"));
        assert!(help.len() > format!("# HELP {name} ").len() + 10, "{help}");
    }
}
