//! The process's Prometheus recorder, and the names of the metrics it exports.

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
}
