//! `cfg(postgres_tests)` when `MFA_TOTP_TEST_POSTGRES_URL` is set: the PostgreSQL tests run;
//! without it they are `#[ignore]`d with the reason, so the test summary counts them as
//! ignored, never as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=MFA_TOTP_TEST_POSTGRES_URL");
    if std::env::var_os("MFA_TOTP_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
