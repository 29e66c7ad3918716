//! `mfa-totp config check`: every problem of a configuration at once, and the effective
//! values with every secret redacted.

use super::mode::Mode;
use super::schema::Settings;

/// What `config check` found: the effective values (printable) and each problem.
pub struct Checked {
    pub effective: Option<String>,
    pub problems: Vec<String>,
}

/// Loads the layers (defaults, `file`, environment) and checks what `serve` would check,
/// without touching the network or the database.
pub fn check(file: Option<&std::path::Path>, mode: Mode) -> Checked {
    let settings = match Settings::read(file) {
        Ok(settings) => settings,
        Err(error) => {
            return Checked {
                effective: None,
                problems: vec![format!("{error:#}")],
            };
        }
    };
    let mut problems = settings.problems();
    if mode == Mode::Production {
        problems.extend(
            settings
                .production_gaps()
                .into_iter()
                .map(|gap| format!("production: {gap}")),
        );
    }
    Checked {
        effective: Some(redacted(&settings)),
        problems,
    }
}

/// The settings as `Debug` prints them (secrets are `SecretString`s, which print
/// `[REDACTED]`), with a password in `database.url` redacted too.
fn redacted(settings: &Settings) -> String {
    let text = format!("{settings:#?}");
    match reqwest::Url::parse(&settings.database.url) {
        Ok(url) if url.password().is_some_and(|p| !p.is_empty()) => {
            let password = url.password().unwrap_or_default();
            text.replace(&format!(":{password}@"), ":[REDACTED]@")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa-totp.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_good_file_has_no_problem_and_its_secrets_are_redacted() {
        let (_dir, path) = file(
            "[database]\nurl = \"postgres://mfa:hunter2-password@db:5432/mfa\"\n\
             [auth]\nhs256_secret = \"a-configured-secret-of-at-least-32-bytes\"\n\
             [crypto]\nactive_key_id = \"k1\"\n\
             [crypto.keys]\nk1 = \"xY7jUEakXjXzn8pBUXZ0yyotjWIJKcLUBqfWKczI7pQ=\"\n\
             [sms]\nprovider = \"twilio\"\n\
             [sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"twilio-token-value\"\nfrom = \"+15005550006\"\n",
        );
        let checked = check(Some(&path), Mode::Production);
        assert_eq!(checked.problems, Vec::<String>::new());
        let effective = checked.effective.unwrap();
        for secret in [
            "hunter2-password",
            "a-configured-secret",
            "AAECAwQFBgcICQ",
            "twilio-token-value",
        ] {
            assert!(!effective.contains(secret), "{secret} in {effective}");
        }
        assert!(
            effective.contains("postgres://mfa:[REDACTED]@db:5432/mfa"),
            "{effective}"
        );
        assert!(
            effective.contains("max_failed_attempts: 5"),
            "effective values: {effective}"
        );
    }

    #[test]
    fn a_bad_file_names_each_problem() {
        let (_dir, path) = file(
            "[challenge]\nmax_sends = 0\n[limits.user_sms]\nwindow_secs = 0\n\
             [sms]\nallowed_countries = [\"XX\"]\n",
        );
        let checked = check(Some(&path), Mode::Production);
        let all = checked.problems.join("\n");
        for named in [
            "challenge.max_sends",
            "limits.user_sms.window_secs",
            "sms.allowed_countries",
            "production: auth.hs256_secret",
            "production: crypto.active_key_id",
        ] {
            assert!(all.contains(named), "{named} not in:\n{all}");
        }
        let unreadable = check(Some(&file("[challenge\n").1), Mode::Development);
        assert_eq!(unreadable.problems.len(), 1);
        assert!(unreadable.effective.is_none());
    }
}
