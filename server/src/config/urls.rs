//! Every URL of the configuration, parsed without connecting: `database.url` (its scheme,
//! host and port), the identity provider's JWKS and the SMS providers' URLs (`https`, or
//! plain `http` on loopback only), the OTLP collector's. Errors show URLs redacted
//! (`mfa_totp_http::redacted`): no userinfo, no query.

use std::net::IpAddr;

use url::Url;

use super::schema::{Settings, SmsProvider};

/// The schemes `database.url` may have.
const DATABASE_SCHEMES: &str = "sqlite:, postgres: or postgresql:";

impl Settings {
    /// One line per URL that is wrong, naming its key.
    pub(super) fn check_urls(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(problem) = check_database_url(&self.database.url) {
            problems.push(format!("invalid configuration: database.url: {problem}"));
        }
        let mut secure = vec![("auth.jwks_url", self.auth.jwks_url.as_deref())];
        for provider in self.sms.providers() {
            match provider {
                SmsProvider::Twilio => {
                    secure.push(("sms.twilio.base_url", Some(&self.sms.twilio.base_url)));
                }
                SmsProvider::Vonage => {
                    secure.push(("sms.vonage.base_url", Some(&self.sms.vonage.base_url)));
                }
                SmsProvider::Webhook => {
                    secure.push(("sms.webhook.url", self.sms.webhook.url.as_deref()));
                }
                SmsProvider::Console => {}
            }
        }
        for (key, url) in secure {
            if let Some(url) = url
                && let Err(problem) = check_https_url(url)
            {
                problems.push(format!("invalid configuration: {key}: {problem}"));
            }
        }
        for (sub, subscriber) in &self.events.subscribers {
            if let Some(url) = &subscriber.url
                && let Err(problem) = check_https_url(url)
            {
                problems.push(format!(
                    "invalid configuration: events.subscribers.{sub}.url: {problem}"
                ));
            }
        }
        let plain = [
            (
                "sms.twilio.status_callback",
                self.sms.twilio.status_callback.as_deref(),
            ),
            (
                "telemetry.otlp_endpoint",
                self.telemetry.otlp_endpoint.as_deref(),
            ),
        ];
        for (key, url) in plain {
            if let Some(url) = url
                && let Err(problem) = parse_http_url(url)
            {
                problems.push(format!("invalid configuration: {key}: {problem}"));
            }
        }
        problems
    }
}

/// `sqlite:<path>[?mode=...]`, or `postgres://[user[:password]@]host[:port]/database[?...]`.
pub fn check_database_url(url: &str) -> Result<(), String> {
    let shown = mfa_totp_http::redacted(url);
    let parsed = Url::parse(url).map_err(|e| format!("{shown} is not a URL ({e})"))?;
    match parsed.scheme() {
        "sqlite" => {
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(format!("{shown} names no database file"));
            }
            Ok(())
        }
        "postgres" | "postgresql" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(format!("{shown} names no host"));
            }
            if parsed.port() == Some(0) {
                return Err(format!("{shown}: port 0 is not a port"));
            }
            Ok(())
        }
        other => Err(format!(
            "{shown}: the scheme '{other}:' is not one of {DATABASE_SCHEMES}"
        )),
    }
}

/// An `http` or `https` URL with a host.
fn parse_http_url(url: &str) -> Result<Url, String> {
    let shown = mfa_totp_http::redacted(url);
    let parsed = Url::parse(url).map_err(|e| format!("{shown} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{shown}: the scheme must be http or https, not '{}'",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown} names no host"));
    }
    Ok(parsed)
}

/// An `https` URL, or plain `http` to loopback (a sidecar, a test double): what crosses a
/// network carries credentials, codes or the keys that tokens are checked with.
fn check_https_url(url: &str) -> Result<(), String> {
    let parsed = parse_http_url(url)?;
    if parsed.scheme() == "https" || is_loopback(&parsed) {
        Ok(())
    } else {
        Err(format!(
            "{} must be https (plain http is accepted on loopback only)",
            mfa_totp_http::redacted(url)
        ))
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_checked_without_connecting() {
        for good in [
            "sqlite://mfa-totp.db?mode=rwc",
            "sqlite:mfa.db",
            "postgres://mfa:pw@db:5432/mfa?sslmode=verify-full",
            "postgresql://db/mfa",
        ] {
            assert_eq!(check_database_url(good), Ok(()), "{good}");
        }
        for (bad, named) in [
            ("postgress://mfa:hunter2@db/mfa", "postgress:"),
            ("not-a-url", "not a URL"),
            ("mysql://mfa:hunter2@db/mfa", "mysql:"),
            ("postgres://mfa:hunter2@db:fivefour/mfa", "not a URL"),
            ("postgres:///mfa", "no host"),
            ("sqlite://", "no database file"),
        ] {
            let problem = check_database_url(bad).unwrap_err();
            assert!(problem.contains(named), "{bad}: {problem}");
            assert!(!problem.contains("hunter2"), "{bad}: {problem}");
        }
    }

    #[test]
    fn secure_urls_are_https_but_on_loopback() {
        for good in [
            "https://idp.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]/jwks",
            "http://localhost/x",
        ] {
            assert_eq!(check_https_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "ftp://idp/jwks",
            "jwks",
        ] {
            assert!(check_https_url(bad).is_err(), "{bad}");
        }
    }
}
