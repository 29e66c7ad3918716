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
    let read = Settings::read_all(file);
    let mut problems = read.all_problems();
    let Some(settings) = &read.settings else {
        return Checked {
            effective: None,
            problems,
        };
    };
    if mode == Mode::Production {
        problems.extend(
            settings
                .production_gaps()
                .into_iter()
                .map(|gap| read.sources.annotate(&format!("production: {gap}"))),
        );
    }
    Checked {
        effective: Some(redacted(settings)),
        problems,
    }
}

/// The settings as `Debug` prints them (secrets are `SecretString`s, which print
/// `[REDACTED]`), with every URL's userinfo and query redacted and every configured header
/// value hidden: they often carry credentials (`?api_key=`, `Authorization`).
fn redacted(settings: &Settings) -> String {
    let mut text = format!("{settings:#?}");
    let sms = &settings.sms;
    let urls = [
        Some(&settings.database.url),
        settings.auth.jwks_url.as_ref(),
        Some(&sms.twilio.base_url),
        sms.twilio.status_callback.as_ref(),
        Some(&sms.vonage.base_url),
        sms.webhook.url.as_ref(),
        settings.telemetry.otlp_endpoint.as_ref(),
    ];
    let subscribers = settings.events.subscribers.values();
    for url in urls
        .into_iter()
        .flatten()
        .chain(subscribers.filter_map(|s| s.url.as_ref()))
    {
        text = text.replace(
            &format!("{url:?}"),
            &format!("{:?}", mfa_totp_http::redacted(url)),
        );
    }
    for (name, value) in &sms.webhook.headers {
        text = text.replace(
            &format!("{name:?}: {value:?}"),
            &format!("{name:?}: \"[REDACTED]\""),
        );
    }
    text
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
        let pem = include_str!("../../testdata/assertion-k1.pem");
        let (_dir, path) = file(&format!(
            "[database]\nurl = \"postgres://mfa:hunter2-password@db:5432/mfa\"\n\
             [auth]\nhs256_secret = \"a-configured-secret-of-at-least-32-bytes\"\n\
             [crypto]\nactive_key_id = \"k1\"\n\
             [crypto.keys]\nk1 = \"xY7jUEakXjXzn8pBUXZ0yyotjWIJKcLUBqfWKczI7pQ=\"\n\
             [assertion]\nactive_key_id = \"a1\"\n\
             [assertion.keys]\na1 = \"\"\"\n{pem}\"\"\"\n\
             [sms]\nprovider = \"twilio\"\n\
             [sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"twilio-token-value\"\nfrom = \"+15005550006\"\n",
        ));
        let checked = check(Some(&path), Mode::Production);
        assert_eq!(checked.problems, Vec::<String>::new());
        let effective = checked.effective.unwrap();
        for secret in [
            "hunter2-password",
            "a-configured-secret",
            "AAECAwQFBgcICQ",
            "twilio-token-value",
            pem.lines().nth(1).unwrap(),
        ] {
            assert!(!effective.contains(secret), "{secret} in {effective}");
        }
        assert!(
            effective.contains("postgres://[REDACTED]@db:5432/mfa"),
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
        let max_sends = checked
            .problems
            .iter()
            .find(|p| p.contains("challenge.max_sends"))
            .unwrap();
        assert!(
            max_sends.contains("[set in ") && max_sends.contains("mfa-totp.toml"),
            "{max_sends}"
        );
        let unreadable = check(Some(&file("[challenge\n").1), Mode::Development);
        assert_eq!(unreadable.problems.len(), 1);
        assert!(unreadable.effective.is_none());
    }

    /// Headers, URL userinfo and query strings are credentials as often as not.
    #[test]
    fn every_header_value_url_userinfo_and_query_is_redacted() {
        let (_dir, path) = file(
            "[database]\nurl = \"postgres://mfa:db-pass-1@db/mfa?password=db-pass-2\"\n\
             [auth]\njwks_url = \"https://idp.example/jwks?api_key=jwks-key-3\"\n\
             [telemetry]\notlp_endpoint = \"https://user:otlp-pass-4@otel:4318?token=otlp-5\"\n\
             [sms]\nprovider = \"webhook\"\n\
             [sms.webhook]\nurl = \"https://gw.example/sms?api_key=gw-key-6\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
             [sms.webhook.headers]\nAuthorization = \"Bearer header-7\"\nX-Api-Key = \"header-8\"\n",
        );
        let checked = check(Some(&path), Mode::Development);
        let effective = checked.effective.expect("readable");
        for secret in [
            "db-pass-1",
            "db-pass-2",
            "jwks-key-3",
            "otlp-pass-4",
            "otlp-5",
            "gw-key-6",
            "header-7",
            "header-8",
        ] {
            assert!(!effective.contains(secret), "{secret} in {effective}");
        }
        assert!(
            effective.contains("https://gw.example/sms?[REDACTED]"),
            "{effective}"
        );
    }

    /// Every value that does not deserialise is named at once, with the file it came from,
    /// and an enum lists its valid names.
    #[test]
    fn every_unreadable_value_is_named_at_once_with_its_source() {
        let (_dir, path) = file(
            "[server]\nport = \"eighty\"\nprot = 1\n\
             [challenge]\nmax_sends = 1000\n\
             [sms]\nprovider = \"twillio\"\n\
             [auth]\npublic_key_algorithm = \"HS256\"\n",
        );
        let checked = check(Some(&path), Mode::Production);
        let all = checked.problems.join("\n");
        let unreadable = ["invalid type", "unknown field", "is not one of"];
        assert_eq!(
            checked
                .problems
                .iter()
                .filter(|p| unreadable.iter().any(|u| p.contains(u)))
                .count(),
            4,
            "{all}"
        );
        for named in [
            "server.port",
            "server.prot",
            "sms.provider",
            "'twillio' is not one of console, twilio, vonage, webhook",
            "auth.public_key_algorithm",
            "'HS256' is not one of RS256, ES256",
            "challenge.max_sends must be at most",
        ] {
            assert!(all.contains(named), "{named} not in:\n{all}");
        }
        assert!(
            checked
                .problems
                .iter()
                .filter(|p| !p.contains("production:"))
                .all(|p| p.contains("mfa-totp.toml")),
            "each names its file:\n{all}"
        );
        assert!(!all.contains("variant constructor"), "{all}");
    }
}
