//! `mfa-totp healthcheck`: a running instance's readiness, for container health checks.

use std::time::Duration;

use anyhow::Context;

use crate::config::ServerSettings;

/// The readiness URL of the instance `server` describes (a wildcard host is probed on
/// loopback).
pub fn ready_url(server: &ServerSettings) -> String {
    let host = match server.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        host => host,
    };
    format!("http://{host}:{}/health/ready", server.port)
}

/// `Ok` with a line to print when `url` answers 2xx within `timeout`; the error says what
/// it answered.
pub async fn probe(url: &str, timeout: Duration) -> anyhow::Result<String> {
    // A plain-http probe of loopback: its client loads no trust store, so the image's
    // HEALTHCHECK works whatever CA certificates it has.
    let client = mfa_totp_http::client(mfa_totp_http::Target::new(
        "the readiness URL",
        url,
        timeout,
    ))?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("{url}: {status}"))
    } else {
        anyhow::bail!(
            "{url}: {status} {}",
            response.text().await.unwrap_or_default()
        )
    }
}
