//! - `cfg(postgres_tests)` when `MFA_TOTP_TEST_POSTGRES_URL` is set: the PostgreSQL tests
//!   run; without it they are `#[ignore]`d with the reason, so the test summary counts them
//!   as ignored, never as passed.
//! - `MFA_TOTP_COMMIT`, the commit the binary is built from (for `mfa_totp_build_info` and
//!   the traces' resource): the variable of that name when set (an image build without
//!   `.git`), else `git rev-parse`, else `unknown`.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=MFA_TOTP_TEST_POSTGRES_URL");
    if std::env::var_os("MFA_TOTP_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    println!("cargo::rerun-if-env-changed=MFA_TOTP_COMMIT");
    let commit = std::env::var("MFA_TOTP_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=MFA_TOTP_COMMIT={}", commit.trim());
    // Built again when HEAD moves: HEAD itself, the branch it names, and the packed refs.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", name.trim()])
            && std::path::Path::new(path.trim()).exists()
        {
            println!("cargo::rerun-if-changed={}", path.trim());
        }
    }
}

/// What `git args` prints, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
        .filter(|s| !s.trim().is_empty())
}
