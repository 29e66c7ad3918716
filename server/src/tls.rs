//! TLS for every client and pool of the process: ring as the one rustls crypto provider.

/// Installs ring as the one rustls crypto provider (for sqlx, reqwest and the OTLP exporter
/// alike). Later calls do nothing.
pub fn install_crypto_provider() {
    mfa_totp_http::install_crypto_provider();
}
