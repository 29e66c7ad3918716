//! The operator's commands: `--help`, `config check`, `healthcheck`, `purge`.

use std::process::Output;

use crate::support::{BIN, run, start};

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

/// An unreachable PostgreSQL used to say only "pool timed out", and a bad URL was echoed
/// with its password: now the error names host, port and cause, and never the password.
#[test]
fn a_database_that_cannot_be_reached_is_named_by_host_port_and_cause_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[(
            "MFA_TOTP__DATABASE__URL",
            "postgres://mfa:hunter2-password@127.0.0.1:9/mfa",
        )],
    );
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("127.0.0.1:9"), "{all}");
    assert!(all.to_lowercase().contains("refused"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
    for url in [
        "postgress://mfa:hunter2-password@db/mfa",
        "mysql://mfa:hunter2-password@db/mfa",
        "postgres://mfa:hunter2-password@db:port/mfa",
    ] {
        for args in [&["serve", "--dev"][..], &["config", "check", "--dev"]] {
            let out = run(dir.path(), args, &[("MFA_TOTP__DATABASE__URL", url)]);
            let all = text(&out);
            assert!(!out.status.success(), "{url}: {all}");
            assert!(all.contains("database.url"), "{url}: {all}");
            assert!(!all.contains("hunter2"), "{url}: {all}");
        }
    }
}

/// Pretty logs carry colour codes only on a terminal: a file or a pipe gets plain text.
#[test]
fn pretty_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(BIN)
        .current_dir(dir.path())
        .args(["serve", "--dev"])
        .env_remove("MFA_TOTP_CONFIG")
        .env("MFA_TOTP__SERVER__PORT", "0")
        .env("MFA_TOTP__SERVER__LOG_FORMAT", "pretty")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
        let done = line.contains("mfa-totp listening");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let logs = lines.join("\n");
    assert!(logs.contains("mfa-totp listening"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
}
