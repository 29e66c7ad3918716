//! Each request's SERVER span, as the OpenTelemetry HTTP semantic conventions name it, in the
//! caller's trace when its W3C `traceparent` is valid, else in a new one; and the ids every
//! log line of the request carries.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

/// A request's `traceparent` (W3C Trace Context) as the propagator reads it.
struct Headers<'a>(&'a poem::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The ids of the request a span belongs to, kept on its span for the log lines.
#[derive(Debug, Clone)]
pub(super) struct Correlation {
    pub request_id: String,
    pub trace_id: String,
}

/// The request's SERVER span: named `METHOD route` (`route` is the spec's template, `None`
/// when no route matches: then just `METHOD`), with the request attributes of the HTTP
/// semantic conventions. Its trace is the caller's when `traceparent` is valid.
pub fn server_span(req: &poem::Request, request_id: &str, route: Option<&str>) -> tracing::Span {
    let method = mfa_totp_http::known_method(req.method().as_str());
    let shown = if method == "_OTHER" { "HTTP" } else { method };
    let name = match route {
        Some(route) => format!("{shown} {route}"),
        None => shown.to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    let headers = req.headers();
    if headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(traceparent_trace_id)
        .is_some()
    {
        let _ = span.set_parent(TraceContextPropagator::new().extract(&Headers(headers)));
    }
    let trace_id = trace_id(&span);
    span.record("trace_id", trace_id.as_str());
    correlate(
        &span,
        Correlation {
            request_id: request_id.to_owned(),
            trace_id,
        },
    );
    // A span nobody records (no exporter, or not sampled) is not worth its attributes.
    if !is_recorded(&span) {
        return span;
    }
    span.set_attribute("http.request.method", method);
    if method == "_OTHER" {
        span.set_attribute(
            "http.request.method_original",
            bounded(req.method().as_str()),
        );
    }
    span.set_attribute("url.path", bounded(req.uri().path()));
    span.set_attribute("url.scheme", "http");
    if let Some(route) = route {
        span.set_attribute("http.route", route.to_owned());
    }
    let version = match req.version() {
        poem::http::Version::HTTP_10 => "1.0",
        poem::http::Version::HTTP_2 => "2",
        _ => "1.1",
    };
    span.set_attribute("network.protocol.version", version);
    if let Some(host) = headers.get("host").and_then(|v| v.to_str().ok()) {
        let (address, port) = match host.rsplit_once(':') {
            Some((address, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                (address, port.parse::<i64>().ok())
            }
            _ => (host, None),
        };
        span.set_attribute("server.address", bounded(address));
        if let Some(port) = port {
            span.set_attribute("server.port", port);
        }
    }
    if let Some(peer) = req.remote_addr().as_socket_addr() {
        span.set_attribute("client.address", peer.ip().to_string());
        span.set_attribute("network.peer.address", peer.ip().to_string());
        span.set_attribute("network.peer.port", i64::from(peer.port()));
    }
    if let Some(agent) = headers.get("user-agent").and_then(|v| v.to_str().ok()) {
        span.set_attribute("user_agent.original", bounded(agent));
    }
    span
}

/// The most of a caller's text that a span keeps: a header can be 16 KiB, and every
/// exported span would carry it.
pub(super) const MAX_ATTRIBUTE_BYTES: usize = 512;

/// `text`, cut to [`MAX_ATTRIBUTE_BYTES`] at a character boundary.
fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_ATTRIBUTE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Records the response on the request's span: its status code, and an error status with
/// `error.type` on a 5xx (a 4xx is the caller's error, not the server's).
pub fn finish_server_span(span: &tracing::Span, status: u16) {
    if !is_recorded(span) {
        return;
    }
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_attribute("error.type", status.to_string());
        span.set_status(Status::error(""));
    }
}

/// Whether the span's trace is sampled, so that its attributes reach an exporter.
fn is_recorded(span: &tracing::Span) -> bool {
    span.context().span().span_context().is_sampled()
}

/// The span's trace id: the exporter's (the caller's, or a new one). A random one only when
/// no tracer is installed (a test harness's subscriber).
fn trace_id(span: &tracing::Span) -> String {
    let id = span.context().span().span_context().trace_id();
    if id == TraceId::INVALID {
        uuid::Uuid::new_v4().simple().to_string()
    } else {
        id.to_string()
    }
}

/// Keeps the request's ids on its span, where the JSON log lines find them.
fn correlate(span: &tracing::Span, ids: Correlation) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
            && let Some(span) = registry.span(id)
        {
            span.extensions_mut().insert(ids);
        }
    });
}

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero),
/// lower case. Stricter than the propagator, which takes ids of any length up to theirs.
fn traceparent_trace_id(value: &str) -> Option<String> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| trace.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{MAX_ATTRIBUTE_BYTES, bounded, traceparent_trace_id};

    #[test]
    fn bounded_text_is_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let cut = bounded(&"é".repeat(MAX_ATTRIBUTE_BYTES));
        assert_eq!(cut.len(), MAX_ATTRIBUTE_BYTES);
        let odd = format!("a{}", "é".repeat(MAX_ATTRIBUTE_BYTES));
        assert_eq!(bounded(&odd).len(), MAX_ATTRIBUTE_BYTES - 1);
    }

    #[test]
    fn a_valid_traceparent_gives_its_trace_id_and_anything_else_none() {
        assert_eq!(
            traceparent_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // The propagator alone would take these: ids shorter than theirs, a sign.
            "00-4bf9-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
        ] {
            assert_eq!(traceparent_trace_id(bad), None, "{bad}");
        }
    }
}
