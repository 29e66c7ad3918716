//! Logging to stderr (stdout belongs to the console SMS provider): pretty for development
//! (coloured only when stderr is a terminal), JSON in production. `RUST_LOG` overrides the
//! default filter. Every request runs in a SERVER span of the OpenTelemetry HTTP semantic
//! conventions, in the caller's W3C trace (`traceparent`) or a new one; outbound calls in
//! CLIENT spans (see `mfa_totp_http::send`). Spans are exported over OTLP/HTTP when an
//! endpoint is set (see [`export`]). Every JSON log line of a request carries its
//! `request_id` and `trace_id` at the top level.

mod build_info;
mod export;
mod recorder;
mod trace;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub use build_info::{COMMIT, VERSION};
pub use export::shutdown;
pub use recorder::{
    METRIC_NAMES, UPKEEP_EVERY, describe_and_register, metric, metrics, register_operations, render,
};
pub use trace::{finish_server_span, server_span};

pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber once (logs, and spans that go nowhere); later calls do
/// nothing.
pub fn init(format: LogFormat) {
    let _ = init_with(format, None);
}

/// Installs the global subscriber once: logs, and spans exported to `otlp_endpoint` (the
/// collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`) or to the standard
/// `OTEL_EXPORTER_OTLP_*` endpoint.
pub fn init_with(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colour only on a terminal: a file or a log collector would get the escape codes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let pretty = (format == LogFormat::Pretty).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .fmt_fields(PrettyFields)
            .with_writer(std::io::stderr)
    });
    let json = (format == LogFormat::Json).then(json_lines);
    let url = export::traces_url(otlp_endpoint);
    let tracer = export::install(url.as_ref())?.tracer("mfa-totp");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(pretty)
        .with(json)
        .with(spans)
        .try_init();
    Ok(())
}

/// Span fields for people: a span's `otel.name` (`POST /internal/…/{challengeId}:initiate`)
/// as it is; the other `otel.*` fields, which are for the exporter, left out.
struct PrettyFields;

impl<'w> tracing_subscriber::fmt::FormatFields<'w> for PrettyFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: tracing_subscriber::fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut visitor = PrettyVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PrettyVisitor<'w> {
    writer: tracing_subscriber::fmt::format::Writer<'w>,
    first: bool,
    result: std::fmt::Result,
}

impl tracing::field::Visit for PrettyVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        if self.result.is_err() || (name.starts_with("otel.") && name != "otel.name") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if name == "otel.name" || name == "message" {
            write!(self.writer, "{separator}{value:?}")
        } else {
            write!(self.writer, "{separator}{name}={value:?}")
        };
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "otel.name" || field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// One JSON object per line: time, level, target, the event's fields, the span it was
/// written in (`span`, with its fields: a use case's `challenge_id`, say), and the request's
/// `request_id` and `trace_id` on every line written while it runs.
fn json_lines<S>() -> json_subscriber::fmt::Layer<S, fn() -> std::io::Stderr>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let mut layer = json_subscriber::fmt::layer()
        .with_writer(std::io::stderr as fn() -> std::io::Stderr)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);
    let from_request = |pick: fn(&trace::Correlation) -> &String| {
        move |span: &tracing_subscriber::registry::SpanRef<'_, S>| {
            span.scope().find_map(|s| {
                s.extensions()
                    .get::<trace::Correlation>()
                    .map(|c| pick(c).clone())
            })
        }
    };
    let inner = layer.inner_layer_mut();
    inner.add_from_span("request_id", from_request(|c| &c.request_id));
    inner.add_from_span("trace_id", from_request(|c| &c.trace_id));
    layer
}

#[cfg(test)]
mod tests;
