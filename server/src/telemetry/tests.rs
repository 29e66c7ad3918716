//! The spans a request makes, as an exporter receives them: the SERVER span named and
//! attributed as the OpenTelemetry HTTP semantic conventions say, in the caller's trace, and
//! a CLIENT span under it for an outbound call, whose `traceparent` reaches the peer.

use std::collections::HashMap;

use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn attributes(span: &SpanData) -> HashMap<String, Value> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.clone()))
        .collect()
}

/// Runs `request` through `server_span`, an outbound POST to a peer answering
/// `peer_status`, and `finish_server_span(status)`; returns the spans and the peer's
/// `traceparent`.
async fn spans_of(
    request: poem::Request,
    route: Option<&str>,
    peer_status: u16,
    status: u16,
) -> (Vec<SpanData>, String) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);
    let peer = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(peer_status))
        .mount(&peer)
        .await;
    mfa_totp_http::install_crypto_provider();
    let client = reqwest::Client::new();
    let span = super::server_span(&request, "req-1", route);
    {
        use tracing::Instrument;
        let url = format!(
            "{}/2010-04-01/Accounts/AC1/Messages.json?secret=1",
            peer.uri()
        );
        mfa_totp_http::send("twilio", client.post(url))
            .instrument(span.clone())
            .await
            .unwrap();
    }
    super::finish_server_span(&span, status);
    drop(span);
    provider.force_flush().unwrap();
    let received = peer.received_requests().await.unwrap();
    let traceparent = received[0].headers["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    (exporter.get_finished_spans().unwrap(), traceparent)
}

fn initiate_request() -> poem::Request {
    poem::Request::builder()
        .method(poem::http::Method::POST)
        .uri_str("/internal/v1/mfa/totp-sms/0b6f3c1e-6a43-4b6e-9d38-3f2b8c1d2e4f:initiate")
        .header("traceparent", TRACEPARENT)
        .header("host", "mfa.internal:8080")
        .header("user-agent", "payments/1.2")
        .finish()
}

#[tokio::test]
async fn a_request_is_a_server_span_named_by_its_route_with_a_client_span_under_it() {
    let route = "/internal/v1/mfa/totp-sms/{challengeId}:initiate";
    let (spans, traceparent) = spans_of(initiate_request(), Some(route), 201, 200).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("a SERVER span");
    assert_eq!(server.name, format!("POST {route}"));
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(server.status, Status::Unset);
    let attrs = attributes(server);
    for (key, value) in [
        ("http.request.method", Value::from("POST")),
        ("http.route", Value::from(route)),
        (
            "url.path",
            Value::from("/internal/v1/mfa/totp-sms/0b6f3c1e-6a43-4b6e-9d38-3f2b8c1d2e4f:initiate"),
        ),
        ("url.scheme", Value::from("http")),
        ("http.response.status_code", Value::I64(200)),
        ("server.address", Value::from("mfa.internal")),
        ("server.port", Value::I64(8080)),
        ("user_agent.original", Value::from("payments/1.2")),
        ("network.protocol.version", Value::from("1.1")),
    ] {
        assert_eq!(attrs.get(key), Some(&value), "{key} in {attrs:?}");
    }
    assert!(!attrs.contains_key("error.type"));

    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("a CLIENT span");
    assert_eq!(client.name, "POST");
    assert_eq!(client.parent_span_id, server.span_context.span_id());
    assert_eq!(client.status, Status::Unset);
    let attrs = attributes(client);
    assert_eq!(attrs.get("http.request.method"), Some(&Value::from("POST")));
    assert_eq!(attrs.get("peer.service"), Some(&Value::from("twilio")));
    assert_eq!(attrs.get("server.address"), Some(&Value::from("127.0.0.1")));
    assert_eq!(
        attrs.get("http.response.status_code"),
        Some(&Value::I64(201))
    );
    let url = attrs["url.full"].as_str();
    assert!(
        url.ends_with("/2010-04-01/Accounts/AC1/Messages.json?[REDACTED]"),
        "{url}"
    );
    assert_eq!(
        traceparent,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            client.span_context.span_id()
        ),
        "the peer's parent is the CLIENT span"
    );
}

#[tokio::test]
async fn a_5xx_is_an_error_of_the_server_span_and_a_peer_s_5xx_of_the_client_span() {
    let route = "/internal/v1/mfa/totp-sms/{challengeId}:initiate";
    let (spans, _) = spans_of(initiate_request(), Some(route), 503, 503).await;
    for kind in [SpanKind::Server, SpanKind::Client] {
        let span = spans.iter().find(|s| s.span_kind == kind).unwrap();
        assert!(
            matches!(span.status, Status::Error { .. }),
            "{kind:?}: {:?}",
            span.status
        );
        assert_eq!(
            attributes(span).get("error.type"),
            Some(&Value::from("503")),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_4xx_is_not_the_server_s_error_and_an_unknown_route_or_method_is_named_plainly() {
    let (spans, _) = spans_of(initiate_request(), None, 200, 404).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.name, "POST");
    assert_eq!(server.status, Status::Unset);
    assert!(!attributes(server).contains_key("http.route"));

    let odd = poem::Request::builder()
        .method(poem::http::Method::from_bytes(b"PURGE").unwrap())
        .uri_str("/anything")
        .finish();
    let (spans, _) = spans_of(odd, None, 200, 400).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(server.name, "HTTP");
    let attrs = attributes(server);
    assert_eq!(
        attrs.get("http.request.method"),
        Some(&Value::from("_OTHER"))
    );
    assert_eq!(
        attrs.get("http.request.method_original"),
        Some(&Value::from("PURGE"))
    );
}

/// What a caller sends is bounded in the span: a 12 KiB user agent, host or path does not
/// ride along on every export.
#[tokio::test]
async fn a_caller_s_long_headers_and_path_are_cut_in_the_span() {
    let long = "Mozilla/5.0 ".repeat(1024);
    let request = poem::Request::builder()
        .method(poem::http::Method::GET)
        .uri_str(format!("/{}", "a".repeat(12 * 1024)))
        .header("user-agent", long.as_str())
        .header("host", "h".repeat(12 * 1024))
        .finish();
    let (spans, _) = spans_of(request, None, 200, 200).await;
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    let attrs = attributes(server);
    for key in ["user_agent.original", "url.path", "server.address"] {
        let value = attrs[key].as_str();
        assert!(
            !value.is_empty() && value.len() <= super::trace::MAX_ATTRIBUTE_BYTES,
            "{key}: {} bytes",
            value.len()
        );
    }
    assert!(
        attrs["user_agent.original"]
            .as_str()
            .starts_with("Mozilla/5.0 Mozilla")
    );
}

/// Pretty lines show a span by its name for people and its ids, without the fields that
/// are for the exporter; and an outcome line names the method and path.
#[test]
fn pretty_lines_name_the_span_and_leave_out_the_exporter_s_fields() {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(super::PrettyFields)
            .with_writer(move || sink.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(
            "request",
            otel.name = "POST /c/{id}:verify",
            otel.kind = "server",
            request_id = "r-1",
            trace_id = tracing::field::Empty,
        );
        span.record("trace_id", "4bf9");
        let _entered = span.enter();
        tracing::info!(status = 200, path = "/c/42:verify", "request finished");
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains(r#"request{POST /c/{id}:verify request_id="r-1" trace_id="4bf9"}: "#),
        "{text}"
    );
    assert!(
        text.contains(r#"request finished status=200 path="/c/42:verify""#),
        "{text}"
    );
    assert!(!text.contains("otel"), "{text}");
}
