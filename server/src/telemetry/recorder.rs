//! The process's Prometheus recorder, and the names of the metrics it exports.

use metrics_exporter_prometheus::Matcher;

/// The server's own metrics (their names are an interface: the README lists them).
pub mod metric {
    /// Requests, by `operation` (the spec's operationId, or `other`) and `status`.
    pub const HTTP_REQUESTS: &str = "mfa_totp_http_requests_total";
    /// Request latency, by `operation`.
    pub const HTTP_DURATION: &str = "mfa_totp_http_request_duration_seconds";
    /// 1, with the binary's `version` and `commit` as labels.
    pub const BUILD_INFO: &str = "mfa_totp_build_info";
    /// When the identity provider's keys were last fetched (Unix seconds; with
    /// `auth.jwks_url`).
    pub const JWKS_LAST_SUCCESS: &str = "mfa_totp_jwks_last_success_timestamp_seconds";
    /// Fetches of the identity provider's keys, by `outcome` (`success`, `failure`).
    pub const JWKS_FETCHES: &str = "mfa_totp_jwks_fetches_total";
}

/// Every metric name the service exports, for the README and the test that keeps them.
pub const METRIC_NAMES: [&str; 17] = [
    metric::HTTP_REQUESTS,
    metric::HTTP_DURATION,
    metric::BUILD_INFO,
    metric::JWKS_LAST_SUCCESS,
    metric::JWKS_FETCHES,
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

/// The process's Prometheus recorder, installed on first use, with the process metrics
/// and `mfa_totp_build_info` described. (Tests run many apps in one process: they share
/// it.)
pub fn metrics() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let mut builder = metrics_exporter_prometheus::PrometheusBuilder::new();
        for (name, buckets) in BUCKETS {
            builder = builder
                .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
                .expect("static buckets are valid");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test harness): then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        process().describe();
        metrics::describe_gauge!(
            metric::BUILD_INFO,
            "Always 1: the version and commit of the running binary, as labels."
        );
        metrics::gauge!(metric::BUILD_INFO, "version" => super::VERSION, "commit" => super::COMMIT)
            .set(1.0);
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

/// The standard process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds`, `process_start_time_seconds`, ...), read at each scrape.
fn process() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Every metric as of now, in Prometheus' text format: the process metrics are read first.
pub fn render() -> String {
    let handle = metrics();
    process().collect();
    handle.render()
}

/// Describes every metric of the service (its HELP text) and registers at 0 every series
/// whose labels are known before the first event: outcomes, states, limits, statements and
/// the configured SMS `providers` (see [`register_operations`] for the HTTP ones). A series
/// that appears on first use hides its first increments from `rate()` and `increase()`.
pub fn describe_and_register(providers: &[&'static str]) {
    metrics();
    metrics::describe_counter!(
        metric::HTTP_REQUESTS,
        "HTTP requests answered, by operation (the spec's operationId, or other) and status."
    );
    metrics::describe_histogram!(
        metric::HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response, by operation."
    );
    metrics::describe_gauge!(
        metric::JWKS_LAST_SUCCESS,
        "When the identity provider's keys were last fetched, in Unix seconds (with auth.jwks_url)."
    );
    metrics::describe_counter!(
        metric::JWKS_FETCHES,
        "Fetches of the identity provider's keys, by outcome (with auth.jwks_url)."
    );
    mfa_totp_application::audit::metric::describe_and_register(providers);
    mfa_totp_sms::chain::metric::describe();
    mfa_totp_storage::metric::describe_and_register();
}

/// Registers at 0 each of `operations`' documented statuses (operationId, and the statuses
/// its spec lists), and its latency histogram: an error ratio is then 0, not empty, until
/// the first error.
pub fn register_operations<'a>(operations: impl IntoIterator<Item = (&'a str, &'a [String])>) {
    metrics();
    for (operation, statuses) in operations {
        for status in statuses {
            metrics::counter!(
                metric::HTTP_REQUESTS,
                "operation" => operation.to_owned(),
                "status" => status.clone()
            )
            .increment(0);
        }
        let _ = metrics::histogram!(metric::HTTP_DURATION, "operation" => operation.to_owned());
    }
}

/// Buckets that cover each histogram's real range; the others keep the exporter's default.
const BUCKETS: &[(&str, &[f64])] = &[
    // From a health probe (well under a millisecond) to an `:initiate` whose SMS went
    // through timeouts, retries and failovers (tens of seconds).
    (
        metric::HTTP_DURATION,
        &[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            20.0, 30.0, 60.0,
        ],
    ),
    // A provider answers in tens to hundreds of milliseconds; with a 5 s timeout, a retry
    // and a failover to two more providers, a send can take over 30 s.
    (
        mfa_totp_application::audit::metric::SMS_SEND_DURATION,
        SMS_BUCKETS,
    ),
    (mfa_totp_sms::chain::metric::PROVIDER_DURATION, SMS_BUCKETS),
    // A point read on SQLite takes tens of microseconds; a write waits up to the 10 s busy
    // timeout.
    (
        mfa_totp_storage::metric::QUERY_DURATION,
        &[
            0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
];

const SMS_BUCKETS: &[f64] = &[
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
