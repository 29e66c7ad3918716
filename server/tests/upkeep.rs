//! The metrics recorder's upkeep, in a process of its own: the test reads the process's
//! resident memory, which tests running beside it in one process would move too.

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

/// Six million histogram samples (8 bytes each, kept until folded into buckets) over six
/// seconds, never scraped: the process must not keep them all.
#[test]
fn histogram_samples_do_not_pile_up_when_nobody_scrapes() {
    mfa_totp_server::telemetry::metrics();
    let histogram = metrics::histogram!("mfa_totp_test_upkeep_seconds");
    let before = resident_bytes();
    for _ in 0..6 {
        for _ in 0..1_000_000 {
            histogram.record(0.001);
        }
        std::thread::sleep(
            mfa_totp_server::telemetry::UPKEEP_EVERY + std::time::Duration::from_millis(50),
        );
    }
    let grown = resident_bytes().saturating_sub(before);
    println!("the process grew by {} MiB", grown >> 20);
    assert!(grown < 24 << 20, "the process grew by {} MiB", grown >> 20);
}
