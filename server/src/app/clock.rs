//! The real clock.

use mfa_totp_application::Clock;

/// The system time, truncated to milliseconds (the stored precision), so that a value read
/// back from the database equals the one the use case decided with.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> mfa_totp_domain::Timestamp {
        let now = chrono::Utc::now();
        chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }
}
