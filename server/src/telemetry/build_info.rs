//! What this binary is: its version and the commit it was built from (see `build.rs`).

/// The workspace's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit, `unknown` when it was built outside a checkout without `MFA_TOTP_COMMIT`.
pub const COMMIT: &str = env!("MFA_TOTP_COMMIT");
