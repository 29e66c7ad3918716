//! Logging to stderr (stdout belongs to the console SMS provider): pretty for development,
//! JSON in production. `RUST_LOG` overrides the default filter.

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber once; later calls do nothing.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
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
        handle
    })
}
