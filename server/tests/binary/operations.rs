//! The operator's commands: `--help`, `config check`, `healthcheck`, `purge`.

use std::process::{Command, Output};

use crate::support::{BIN, start};

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("MFA_TOTP_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"], &[]);
    assert!(out.status.success());
    let help = text(&out);
    for command in [
        "serve",
        "migrate",
        "purge",
        "config",
        "healthcheck",
        "openapi",
        "sms",
        "token",
    ] {
        assert!(help.contains(command), "{command} in {help}");
    }
    let out = run(dir.path(), &["config", "check", "--help"], &[]);
    assert!(text(&out).contains("secrets redacted"), "{}", text(&out));
}

#[test]
fn config_check_prints_the_effective_values_or_names_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = run(
        dir.path(),
        &["config", "check", "--dev"],
        &[("MFA_TOTP__LIMITS__GLOBAL_SMS__MAX", "100")],
    );
    assert!(good.status.success(), "{}", text(&good));
    let printed = text(&good);
    assert!(
        printed.contains("configuration OK") && printed.contains("max: Some(\n"),
        "{printed}"
    );

    let bad = run(
        dir.path(),
        &["config", "check"],
        &[
            ("MFA_TOTP__CHALLENGE__MAX_SENDS", "0"),
            ("MFA_TOTP__PURGE__BATCH_SIZE", "0"),
            (
                "MFA_TOTP__AUTH__HS256_SECRET",
                "a-configured-secret-of-at-least-32-bytes",
            ),
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    let printed = text(&bad);
    for named in [
        "challenge.max_sends",
        "purge.batch_size",
        "production: crypto.active_key_id",
    ] {
        assert!(printed.contains(named), "{named} in {printed}");
    }
    assert!(
        !printed.contains("a-configured-secret"),
        "the secret is redacted: {printed}"
    );
}

#[tokio::test]
async fn healthcheck_answers_for_a_running_instance_and_fails_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let url = format!("{}/health/ready", server.base());
    let up = run(dir.path(), &["healthcheck", "--url", &url], &[]);
    assert!(up.status.success(), "{}", text(&up));
    let port = server.port.to_string();
    let by_config = run(
        dir.path(),
        &["healthcheck"],
        &[("MFA_TOTP__SERVER__PORT", &port)],
    );
    assert!(by_config.status.success(), "{}", text(&by_config));
    drop(server);
    let down = run(
        dir.path(),
        &["healthcheck", "--url", &url, "--timeout-secs", "1"],
        &[],
    );
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
}

#[test]
fn purge_runs_once_and_says_what_it_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["purge"],
        &[("MFA_TOTP__SERVER__LOG_FORMAT", "json")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("purged 0 challenges, 0 audit events, 0 limit windows"),
        "{}",
        text(&out)
    );
}
