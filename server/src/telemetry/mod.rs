//! Logging to stderr (stdout belongs to the console SMS provider): pretty for development,
//! JSON in production. `RUST_LOG` overrides the default filter. With
//! `telemetry.otlp_endpoint`, spans are exported over OTLP/HTTP too, each request's span a
//! child of the caller's W3C `traceparent`. Every log line of a request carries its
//! `request_id` and `trace_id`.

mod recorder;
mod trace;

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub use recorder::{METRIC_NAMES, metric, metrics};
pub use trace::{trace_request, traceparent_trace_id};

pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// The span exporter, when `telemetry.otlp_endpoint` is set.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber once (logs only); later calls do nothing.
pub fn init(format: LogFormat) {
    let _ = init_with(format, None);
}

/// Installs the global subscriber once: logs, and spans exported to `otlp_endpoint` (the
/// collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`) when given.
pub fn init_with(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let pretty = (format == LogFormat::Pretty)
        .then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
    });
    let spans = match otlp_endpoint {
        Some(endpoint) => {
            let provider = exporter(endpoint)?;
            let tracer = provider.tracer("mfa-totp");
            let _ = PROVIDER.set(provider);
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

fn exporter(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    crate::tls::install_crypto_provider();
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url.clone())
        .with_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| anyhow::anyhow!("telemetry.otlp_endpoint {url}: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("mfa-totp")
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Exports the spans still buffered (at shutdown).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("warning: exporting the last spans failed: {error}");
    }
}
