//! Every outbound request goes through [`send`]: it runs in a CLIENT span that follows the
//! OpenTelemetry HTTP semantic conventions, and carries the span's W3C `traceparent` to the
//! peer, so a provider's or identity provider's own traces join the request's.

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The methods the semantic conventions know; any other is reported as `_OTHER`.
pub fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("_OTHER")
}

struct Headers<'a>(&'a mut HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Sends `request` to `peer` (`twilio`, `identity-provider`, ...) in a CLIENT span named by
/// its method, with `http.request.method`, `server.address`, `server.port`, `url.full` (without
/// userinfo and query, which may carry credentials), `peer.service`,
/// `http.response.status_code`, and `error.type` with an error status when the request
/// failed or the answer is a 4xx or 5xx. The span ends when the answer's head arrives.
pub async fn send(
    peer: &'static str,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let (client, request) = request.build_split();
    let mut request = request?;
    let method = known_method(request.method().as_str());
    let span = tracing::info_span!(
        target: "mfa_totp_http",
        "outbound request",
        otel.name = if method == "_OTHER" { "HTTP" } else { method },
        otel.kind = "client",
    );
    let context = span.context();
    TraceContextPropagator::new().inject_context(&context, &mut Headers(request.headers_mut()));
    // A span nobody records (no exporter, or not sampled) is not worth its attributes.
    if !context.span().span_context().is_sampled() {
        return client.execute(request).instrument(span).await;
    }
    let url = request.url();
    span.set_attribute("http.request.method", method);
    if method == "_OTHER" {
        span.set_attribute("http.request.method_original", request.method().to_string());
    }
    if let Some(host) = url.host_str() {
        span.set_attribute("server.address", host.to_owned());
    }
    if let Some(port) = url.port_or_known_default() {
        span.set_attribute("server.port", i64::from(port));
    }
    span.set_attribute("url.full", crate::redacted(url.as_str()));
    span.set_attribute("peer.service", peer);
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            let status = response.status().as_u16();
            span.set_attribute("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.set_attribute("error.type", status.to_string());
                span.set_status(Status::error(""));
            }
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "_OTHER"
            };
            span.set_attribute("error.type", kind);
            span.set_status(Status::error(kind));
        }
    }
    result
}
