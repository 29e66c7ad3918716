//! Logging to stderr (stdout belongs to the console SMS provider): pretty for development,
//! JSON in production. `RUST_LOG` overrides the default filter. With
//! `telemetry.otlp_endpoint`, spans are exported over OTLP/HTTP too, each request's span a
//! child of the caller's W3C `traceparent`. Every log line of a request carries its
//! `request_id` and `trace_id`.

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::LogFormat;

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
    crate::startup::install_crypto_provider();
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

/// Gives the request's span its trace: the caller's `traceparent` when it is valid, else a
/// new one. Records the trace id on the span (so every log line of the request has it) and
/// returns it.
pub fn trace_request(span: &tracing::Span, headers: &poem::http::HeaderMap) -> String {
    let incoming = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(traceparent_trace_id);
    if PROVIDER.get().is_some() {
        if incoming.is_some() {
            let parent = TraceContextPropagator::new().extract(&Headers(headers));
            let _ = span.set_parent(parent);
        }
        let id = span.context().span().span_context().trace_id();
        if id != TraceId::INVALID {
            let id = id.to_string();
            span.record("trace_id", id.as_str());
            return id;
        }
    }
    let id = incoming.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    span.record("trace_id", id.as_str());
    id
}

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero),
/// lower case.
pub fn traceparent_trace_id(value: &str) -> Option<String> {
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

/// The server's own metrics (their names are an interface: the README lists them).
pub mod metric {
    /// Requests, by `operation` (the spec's operationId, or `other`) and `status`.
    pub const HTTP_REQUESTS: &str = "mfa_totp_http_requests_total";
    /// Request latency, by `operation`.
    pub const HTTP_DURATION: &str = "mfa_totp_http_request_duration_seconds";
}

/// Every metric name the service exports, for the README and the test that keeps them.
pub const METRIC_NAMES: [&str; 14] = [
    metric::HTTP_REQUESTS,
    metric::HTTP_DURATION,
    mfa_totp_application::audit::metric::CHALLENGES_CREATED,
    mfa_totp_application::audit::metric::CHALLENGES_FINISHED,
    mfa_totp_application::audit::metric::CONTEXTS_CONSUMED,
    mfa_totp_application::audit::metric::VERIFICATIONS,
    mfa_totp_application::audit::metric::LIMIT_REFUSALS,
    mfa_totp_application::audit::metric::SMS_SENDS,
    mfa_totp_application::audit::metric::SMS_SEND_DURATION,
    mfa_totp_sms::chain::metric::PROVIDER_SENDS,
    mfa_totp_sms::chain::metric::PROVIDER_DURATION,
    mfa_totp_sms::chain::metric::CIRCUIT_OPEN,
    mfa_totp_storage::metric::QUERY_DURATION,
    mfa_totp_storage::metric::POOL_CONNECTIONS,
];

/// The process's Prometheus recorder, installed on first use. (Tests run many apps in one
/// process: they share it.)
pub fn metrics() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ])
            .expect("static buckets are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test harness): then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        // The recorder keeps every histogram sample until they are folded into the buckets,
        // which a scrape does, or an upkeep: without one, an instance nobody scrapes grows
        // by every request's samples.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread for the metrics upkeep");
        handle
    })
}

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::traceparent_trace_id;

    fn resident_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: u64 = line["VmRSS:".len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    }

    /// Six million histogram samples (8 bytes each, kept until folded into buckets) over
    /// six seconds, never scraped: the process must not keep them all.
    #[test]
    fn histogram_samples_do_not_pile_up_when_nobody_scrapes() {
        super::metrics();
        let histogram = metrics::histogram!("mfa_totp_test_upkeep_seconds");
        let before = resident_bytes();
        for _ in 0..6 {
            for _ in 0..1_000_000 {
                histogram.record(0.001);
            }
            std::thread::sleep(super::UPKEEP_EVERY + std::time::Duration::from_millis(50));
        }
        let grown = resident_bytes().saturating_sub(before);
        assert!(grown < 24 << 20, "the process grew by {} MiB", grown >> 20);
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
        ] {
            assert_eq!(traceparent_trace_id(bad), None, "{bad}");
        }
    }
}
