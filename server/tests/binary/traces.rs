//! Traces: the caller's W3C `traceparent` names the request's trace in every log line of the
//! request, and with `telemetry.otlp_endpoint` the request's span is exported over OTLP/HTTP
//! in that trace, to a small receiver on loopback.

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Alice, create_challenge, start, start_on_twilio, with_alice};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// An OTLP/HTTP collector that takes every export.
async fn otlp_receiver() -> MockServer {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    receiver
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_s_span_is_exported_in_the_caller_s_trace_and_its_logs_name_it() {
    let receiver = otlp_receiver().await;
    let endpoint = receiver.uri();
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(
        dir.path(),
        &[("MFA_TOTP__TELEMETRY__OTLP_ENDPOINT", &endpoint)],
    );
    mfa_totp_http::install_crypto_provider();
    let http = reqwest::Client::new();
    let response = http
        .get(format!(
            "{}/internal/v1/mfa/challenges/not-a-uuid",
            server.base()
        ))
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "traced-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The log line of the request's outcome is written after the response.
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        let logs = server.logs.lock().unwrap();
        let lines: Vec<&String> = logs.iter().filter(|l| l.contains("traced-1")).collect();
        assert!(!lines.is_empty(), "no log line of the request");
        for line in lines {
            assert!(line.contains(TRACE_ID), "the trace id in {line}");
        }
    }
    // Stopping flushes the spans.
    server.terminate();
    assert_eq!(server.exit_code_within(Duration::from_secs(10)), Some(0));
    let exported = receiver.received_requests().await.unwrap();
    assert!(!exported.is_empty(), "no span reached the receiver");
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        exported.iter().any(|r| {
            r.headers
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap_or_default().contains("protobuf"))
                && r.body.windows(16).any(|w| w == trace_bytes.as_slice())
        }),
        "an OTLP protobuf export carries the caller's trace id"
    );
}

#[tokio::test]
async fn without_a_traceparent_each_request_gets_its_own_trace_id_in_its_logs() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    mfa_totp_http::install_crypto_provider();
    let http = reqwest::Client::new();
    for id in ["untraced-1", "untraced-2"] {
        http.get(format!("{}/health/live", server.base()))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = server.logs.lock().unwrap();
    let trace_of = |id: &str| -> String {
        let line = logs.iter().find(|l| l.contains(id)).expect("a log line");
        let log: serde_json::Value = serde_json::from_str(line).unwrap();
        log["trace_id"].as_str().expect("a trace id").to_owned()
    };
    let (a, b) = (trace_of("untraced-1"), trace_of("untraced-2"));
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

/// Every JSON line an `:initiate` writes (its use case's, the SMS provider's, the audit
/// trail's and the outcome's) carries the request's `request_id` and `trace_id` at the top
/// level; and Twilio gets a `traceparent` in the same trace, from a span of its own.
#[tokio::test]
async fn every_line_of_a_request_carries_its_ids_and_the_provider_gets_its_trace() {
    let twilio = crate::support::accepting_twilio(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start_on_twilio(dir.path(), &twilio.uri(), &[]);
    let caller: Alice = with_alice(&server, dir.path()).await;
    let id = create_challenge(&caller.http, &caller.base, &caller.service, "alice").await;
    let response = caller
        .http
        .post(format!(
            "{}/internal/v1/mfa/totp-sms/{id}:initiate",
            caller.base
        ))
        .bearer_auth(&caller.alice)
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "initiate-traced")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines: Vec<serde_json::Value> = server
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["request_id"] == "initiate-traced")
        .collect();
    for wanted in ["SMS accepted", "audit event", "request finished"] {
        assert!(
            of_request.iter().any(|line| line["message"] == wanted),
            "no line '{wanted}' with the request id at the top level: {of_request:#?}"
        );
    }
    for line in &of_request {
        assert_eq!(line["trace_id"], TRACE_ID, "{line}");
    }
    // Every line in the trace is a line of this request.
    let in_trace = lines.iter().filter(|l| l["trace_id"] == TRACE_ID).count();
    assert_eq!(in_trace, of_request.len());

    let sent = twilio.received_requests().await.unwrap();
    let traceparent = sent[0]
        .headers
        .get("traceparent")
        .expect("a traceparent to Twilio")
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(
        parts[1], TRACE_ID,
        "Twilio's request is in the caller's trace"
    );
    assert_ne!(
        parts[2], "00f067aa0ba902b7",
        "the parent is the service's own CLIENT span, not the caller's"
    );
    assert_eq!(parts[3], "01", "the caller's sampled flag is passed on");
}

/// The standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` names the collector when the
/// service's own key is not set, `OTEL_EXPORTER_OTLP_HEADERS` goes with each export,
/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the resource, and
/// `service.version` is added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_otel_variables_name_the_collector_and_the_resource() {
    let receiver = otlp_receiver().await;
    let endpoint = receiver.uri();
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "mfa-totp-eu-west"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k-7f3a"),
        ],
    );
    mfa_totp_http::install_crypto_provider();
    let response = reqwest::Client::new()
        .get(format!("{}/health/live", server.base()))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.terminate();
    assert_eq!(server.exit_code_within(Duration::from_secs(10)), Some(0));
    let exports = receiver.received_requests().await.unwrap();
    assert!(
        exports.iter().all(|r| r
            .headers
            .get("x-collector-key")
            .is_some_and(|v| v == "k-7f3a")),
        "OTEL_EXPORTER_OTLP_HEADERS is not on every export"
    );
    let bodies: Vec<Vec<u8>> = exports.into_iter().map(|r| r.body).collect();
    let has = |text: &str| {
        bodies
            .iter()
            .any(|b| b.windows(text.len()).any(|w| w == text.as_bytes()))
    };
    assert!(
        !bodies.is_empty(),
        "nothing exported to OTEL_EXPORTER_OTLP_ENDPOINT"
    );
    for text in [
        "mfa-totp-eu-west",
        "deployment.environment.name",
        "staging",
        "service.version",
        "GET /health/live",
        "http.route",
    ] {
        assert!(has(text), "{text} is not in the export");
    }
    assert!(!has("unknown_service"), "the service name was not taken");
}
