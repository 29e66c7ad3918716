//! Logging to stderr (stdout belongs to the console SMS provider): pretty for development
//! (coloured only when stderr is a terminal), JSON in production. `RUST_LOG` overrides the default filter. With
//! `telemetry.otlp_endpoint`, spans are exported over OTLP/HTTP too, each request's span a
//! child of the caller's W3C `traceparent`. Every log line of a request carries its
//! `request_id` and `trace_id`.

mod export;
mod recorder;
mod trace;

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub use export::shutdown;
pub use recorder::{METRIC_NAMES, metric, metrics};
pub use trace::{trace_request, traceparent_trace_id};

pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber once (logs only); later calls do nothing.
pub fn init(format: LogFormat) {
    let _ = init_with(format, None);
}

/// Installs the global subscriber once: logs, and spans exported to `otlp_endpoint` (the
/// collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`) when given.
pub fn init_with(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colour only on a terminal: a file or a log collector would get the escape codes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let pretty = (format == LogFormat::Pretty).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(std::io::stderr)
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
    });
    let spans = match otlp_endpoint {
        Some(endpoint) => {
            let tracer = export::install(endpoint)?.tracer("mfa-totp");
            Some(tracing_opentelemetry::layer().with_tracer(tracer))
        }
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(pretty)
        .with(json)
        .with(spans)
        .try_init();
    Ok(())
}
