//! What the HTTP providers share: a client bounded by the provider's timeout, and how a
//! request that did not complete is reported. Whether a reply is transient (the next
//! provider of the chain may carry the message) or permanent is each provider's own call.

use std::time::Duration;

use mfa_totp_application::SmsError;

/// A client for one provider: `timeout` bounds each request, connect included. TLS runs on
/// ring, installed here if the process has no rustls provider yet (the server installs the
/// same one at start-up).
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .expect("a reqwest client with only timeouts set builds")
}

/// The request did not complete (timeout, connect error, unreadable reply): transient.
pub(crate) fn transport(provider: &str, error: reqwest::Error) -> SmsError {
    // Without the URL: a provider's URL may carry an account id.
    SmsError::Unavailable(anyhow::anyhow!("{provider}: {}", error.without_url()))
}
