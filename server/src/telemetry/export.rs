//! The process's tracer provider. Every request gets a real W3C trace and span id, exported
//! or not, so that its log lines, its `traceparent` to providers and its spans agree. Spans
//! go out over OTLP/HTTP when `telemetry.otlp_endpoint` (or the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) names a collector.
//! The resource honours `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, and adds
//! `service.version` and `service.instance.id` unless they set them; `OTEL_SDK_DISABLED=true`
//! exports nothing.

use std::sync::OnceLock;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

/// The provider, kept for [`shutdown`].
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The name the service reports when `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` give
/// none.
const SERVICE_NAME: &str = "mfa-totp";

/// Where spans go: the OTLP/HTTP traces URL, and the setting or variable that named it.
pub(super) struct TracesUrl {
    pub setting: &'static str,
    pub url: String,
}

/// Where spans go: `configured` (the collector's base URL), else the standard variables;
/// `None` when nothing is set or `OTEL_SDK_DISABLED=true`.
pub(super) fn traces_url(configured: Option<&str>) -> Option<TracesUrl> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let base = |url: &str| format!("{}/v1/traces", url.trim_end_matches('/'));
    let named = |setting: &'static str, url: String| TracesUrl { setting, url };
    configured
        .map(|url| named("telemetry.otlp_endpoint", base(url)))
        .or_else(|| {
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .map(|url| named("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url))
        })
        .or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|url| named("OTEL_EXPORTER_OTLP_ENDPOINT", base(&url)))
        })
}

/// Builds the provider once (exporting to `traces_url` when given) and keeps it.
pub(super) fn install(
    traces_url: Option<&TracesUrl>,
) -> anyhow::Result<&'static SdkTracerProvider> {
    if let Some(provider) = PROVIDER.get() {
        return Ok(provider);
    }
    let builder = SdkTracerProvider::builder().with_resource(resource());
    let provider = match traces_url {
        // The sampler comes from `OTEL_TRACES_SAMPLER`, parent-based always-on by default.
        Some(url) => builder.with_batch_exporter(exporter(url)?).build(),
        // Nothing records a span nobody exports; a caller's sampled flag is still passed on.
        None => builder
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
            .build(),
    };
    Ok(PROVIDER.get_or_init(|| provider))
}

fn exporter(
    TracesUrl { setting, url }: &TracesUrl,
) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let timeout = std::time::Duration::from_secs(5);
    let client = mfa_totp_http::blocking_client(mfa_totp_http::Target::new(setting, url, timeout))?;
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(url)
        .with_timeout(timeout)
        .build()
        .map_err(|e| anyhow::anyhow!("{setting} {}: {e}", mfa_totp_http::redacted(url)))
}

/// The standard resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the SDK's own),
/// with this service's name, version and instance id where they left them out.
pub(super) fn resource() -> Resource {
    let standard = Resource::builder().build();
    let named = standard
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    let mut builder = Resource::builder();
    if !named {
        builder = builder.with_service_name(SERVICE_NAME);
    }
    let missing = |key: &'static str| standard.get(&Key::from_static_str(key)).is_none();
    if missing("service.version") {
        builder =
            builder.with_attribute(KeyValue::new("service.version", super::build_info::VERSION));
    }
    if missing("service.instance.id") {
        builder = builder.with_attribute(KeyValue::new(
            "service.instance.id",
            uuid::Uuid::new_v4().to_string(),
        ));
    }
    builder.build()
}

/// Exports the spans still buffered (at shutdown).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("warning: exporting the last spans failed: {error}");
    }
}
