//! Every outbound HTTP client of the process (SMS providers, the identity provider's JWKS,
//! the OTLP exporter, `mfa-totp healthcheck`) is built here, so that they share three rules:
//!
//! - **Building a client never panics.** A plain `http://` URL needs no trust store: its
//!   client loads none, so a container without CA certificates still probes itself and talks
//!   to a sidecar. An `https://` URL loads the system's store (or `SSL_CERT_FILE` /
//!   `SSL_CERT_DIR`); when that is empty the error names the setting that needs TLS.
//! - **No redirect is followed.** A redirect would carry a signed message, credentials or
//!   configured headers to a host nobody configured.
//! - **Timeouts bound every request**, connect included.
//!
//! [`send`] sends a request in a CLIENT span and carries its `traceparent` to the peer.
//!
//! [`redacted`] prints a URL without its userinfo and query, which may carry credentials.

mod traced;

use std::time::Duration;

pub use traced::{known_method, send};

use reqwest::Url;

/// Why a client could not be built: the message names the setting and says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClientError {}

/// What a client is for: the setting that holds its URL (`sms.twilio.base_url`), the URL,
/// and the timeout of each request.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub setting: &'a str,
    pub url: &'a str,
    pub timeout: Duration,
}

impl<'a> Target<'a> {
    pub fn new(setting: &'a str, url: &'a str, timeout: Duration) -> Self {
        Self {
            setting,
            url,
            timeout,
        }
    }

    fn needs_tls(&self) -> Result<bool, ClientError> {
        let url = Url::parse(self.url).map_err(|e| {
            ClientError(format!(
                "{} is not a URL ({e}): {}",
                self.setting,
                redacted(self.url)
            ))
        })?;
        match url.scheme() {
            "https" => Ok(true),
            "http" => Ok(false),
            other => Err(ClientError(format!(
                "{}: the scheme must be http or https, not '{other}'",
                self.setting
            ))),
        }
    }

    fn refused(&self, error: impl std::fmt::Display) -> ClientError {
        ClientError(format!(
            "{} ({}) needs TLS, but no usable CA certificate was found ({error}): install the \
             system's CA certificates (Debian: ca-certificates), or point SSL_CERT_FILE at a \
             PEM bundle",
            self.setting,
            redacted(self.url)
        ))
    }
}

/// Installs ring as the process's one rustls crypto provider; later calls do nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An async client for `target`: see the crate's rules.
pub fn client(target: Target<'_>) -> Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let builder = reqwest::Client::builder()
        .timeout(target.timeout)
        .connect_timeout(target.timeout)
        .redirect(reqwest::redirect::Policy::none());
    let builder = if target.needs_tls()? {
        builder
    } else {
        builder.tls_certs_only(std::iter::empty())
    };
    builder.build().map_err(|e| target.refused(chain(&e)))
}

/// A blocking client for `target` (the OTLP exporter's), built on a thread of its own as
/// reqwest requires outside a runtime.
pub fn blocking_client(target: Target<'_>) -> Result<reqwest::blocking::Client, ClientError> {
    install_crypto_provider();
    let tls = target.needs_tls()?;
    let timeout = target.timeout;
    let built = std::thread::spawn(move || {
        let builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        let builder = if tls {
            builder
        } else {
            builder.tls_certs_only(std::iter::empty())
        };
        builder.build().map_err(|e| chain(&e))
    })
    .join()
    .map_err(|_| {
        ClientError(format!(
            "{}: building its HTTP client panicked",
            target.setting
        ))
    })?;
    built.map_err(|e| target.refused(e))
}

/// `url` without its userinfo, query and fragment, for logs and `config check`:
/// `postgres://mfa:pw@db/mfa?password=x` prints `postgres://[REDACTED]@db/mfa?[REDACTED]`.
/// Text that does not parse as a URL is redacted whole, but for its scheme.
pub fn redacted(url: &str) -> String {
    const HIDDEN: &str = "[REDACTED]";
    let Ok(mut parsed) = Url::parse(url) else {
        return match url.split_once("://") {
            Some((scheme, _))
                if scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!("{scheme}://{HIDDEN}")
            }
            _ => HIDDEN.to_owned(),
        };
    };
    let had_userinfo = !parsed.username().is_empty() || parsed.password().is_some();
    let had_query = parsed.query().is_some();
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    let mut text = parsed.to_string();
    // The URL type adds a `/` to an empty path; the text as configured has none.
    let configured_path = url.split(['?', '#']).next().unwrap_or_default();
    if parsed.path() == "/" && !configured_path.ends_with('/') && text.ends_with('/') {
        text.pop();
    }
    if had_userinfo && let Some(at) = text.find("://").map(|i| i + 3) {
        text.insert_str(at, &format!("{HIDDEN}@"));
    }
    if had_query {
        text.push('?');
        text.push_str(HIDDEN);
    }
    text
}

/// An error with its causes, on one line (`error: cause: cause`).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_scheme_host_port_and_path_only() {
        for (url, expected) in [
            (
                "postgres://mfa:hunter2@db:5432/mfa?sslmode=require&password=x",
                "postgres://[REDACTED]@db:5432/mfa?[REDACTED]",
            ),
            (
                "https://idp.example/jwks?api_key=s3cr3t",
                "https://idp.example/jwks?[REDACTED]",
            ),
            (
                "https://user@gw.example/sms",
                "https://[REDACTED]@gw.example/sms",
            ),
            ("http://collector:4318", "http://collector:4318"),
            (
                "sqlite://mfa-totp.db?mode=rwc",
                "sqlite://mfa-totp.db?[REDACTED]",
            ),
            ("not a url with pw", "[REDACTED]"),
            ("postgress://u:pw@h:x/db", "postgress://[REDACTED]"),
        ] {
            assert_eq!(redacted(url), expected, "{url}");
        }
    }

    #[test]
    fn a_scheme_other_than_http_or_https_names_the_setting() {
        let error = client(Target::new(
            "sms.webhook.url",
            "ftp://h/x",
            Duration::from_secs(1),
        ))
        .unwrap_err();
        assert!(error.0.contains("sms.webhook.url"), "{error}");
    }
}
