//! What the HTTP providers share: a client bounded by the provider's timeout, and how a
//! request that did not complete, or an HTTP status, is classified. What a provider's own
//! error codes mean is each provider's call (see the README's provider-outcome table).

use std::time::Duration;

use mfa_totp_application::{ProviderAnswer, SmsError};
use reqwest::StatusCode;

/// Why a provider could not be set up: a required key is missing or wrong (its name), or
/// its HTTP client could not be built (a whole sentence naming the setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    Missing(String),
    Client(String),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(key) | Self::Client(key) => f.write_str(key),
        }
    }
}

impl From<String> for SetupError {
    fn from(key: String) -> Self {
        Self::Missing(key)
    }
}

impl From<&str> for SetupError {
    fn from(key: &str) -> Self {
        Self::Missing(key.to_owned())
    }
}

/// A client for one provider, whose URL is the setting `setting`: `timeout_ms` bounds each
/// request, connect included, and no redirect is followed (a redirect would carry the
/// message, the signature and the configured headers to a host nobody configured; a 3xx is
/// the provider failing). An `http://` URL needs no trust store; an `https://` one without
/// CA certificates is an error naming `setting` (see `mfa_totp_http`).
pub(crate) fn client(
    setting: &str,
    url: &str,
    timeout_ms: u64,
) -> Result<reqwest::Client, SetupError> {
    mfa_totp_http::client(mfa_totp_http::Target::new(
        setting,
        url,
        Duration::from_millis(timeout_ms),
    ))
    .map_err(|e| SetupError::Client(e.0))
}

/// The request did not complete. Before the connection was made (refused, DNS, TLS), nothing
/// reached the provider: it failed. After, the request may have been taken (a timeout
/// waiting for the answer, a connection dropped mid-answer): the outcome is unknown.
pub(crate) fn transport(provider: &'static str, error: reqwest::Error) -> SmsError {
    let connect = error.is_connect();
    // Without the URL: a provider's URL may carry an account id.
    let answer = ProviderAnswer::new(provider, None, mfa_totp_http::chain(&error.without_url()));
    if connect {
        SmsError::Unavailable(answer)
    } else {
        SmsError::Unknown(answer)
    }
}

/// An HTTP status that says the provider, not the message, is the problem: 429 (our rate),
/// 401 / 407 (our credentials), 408 and every 5xx but 504. A 504 comes from a proxy
/// that gave up waiting for the provider, which may have taken the request: unknown.
/// `None` for any other status: the provider's own answer decides.
pub(crate) fn provider_side(provider: &'static str, status: StatusCode) -> Option<SmsError> {
    let answer = || status_answer(provider, status, "");
    match status.as_u16() {
        504 => Some(SmsError::Unknown(answer())),
        401 | 407 | 408 | 429 | 500..=599 => Some(SmsError::Unavailable(answer())),
        _ => None,
    }
}

/// The provider's answer whose code is the HTTP status (`HTTP 503`): for answers that carry
/// no error code of the provider's own.
pub(crate) fn status_answer(
    provider: &'static str,
    status: StatusCode,
    detail: impl AsRef<str>,
) -> ProviderAnswer {
    ProviderAnswer::new(provider, Some(format!("HTTP {}", status.as_u16())), detail)
}

/// `status` and the first bytes of a body that is not the provider's documented answer (an
/// HTML page of a proxy, say): what an error keeps of it.
pub(crate) fn unreadable(status: StatusCode, body: &str) -> String {
    let start: String = body.chars().take(80).collect();
    format!(
        "HTTP {}: unexpected answer: {}",
        status.as_u16(),
        start.trim()
    )
}
