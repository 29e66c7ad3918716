//! Spans out over OTLP/HTTP, when `telemetry.otlp_endpoint` is set: the process's one
//! exporter, and its flush at shutdown.

use std::sync::OnceLock;

use opentelemetry_sdk::trace::SdkTracerProvider;

/// The span exporter, when `telemetry.otlp_endpoint` is set.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (a request's span then takes its trace from the exporter).
pub(super) fn is_exporting() -> bool {
    PROVIDER.get().is_some()
}

/// Builds the exporter to `endpoint` (the collector's OTLP/HTTP base URL) and keeps it for
/// [`shutdown`]; returns it, to make the tracer from.
pub(super) fn install(endpoint: &str) -> anyhow::Result<&'static SdkTracerProvider> {
    let provider = exporter(endpoint)?;
    Ok(PROVIDER.get_or_init(|| provider))
}

fn exporter(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let timeout = std::time::Duration::from_secs(5);
    let client = mfa_totp_http::blocking_client(mfa_totp_http::Target::new(
        "telemetry.otlp_endpoint",
        &url,
        timeout,
    ))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(url.clone())
        .with_timeout(timeout)
        .build()
        .map_err(|e| {
            anyhow::anyhow!(
                "telemetry.otlp_endpoint {}: {e}",
                mfa_totp_http::redacted(&url)
            )
        })?;
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
