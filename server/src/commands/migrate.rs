//! `mfa-totp migrate`: the migrations alone.

use anyhow::Context;

use crate::app::adapters::connect_database;
use crate::config::DatabaseSettings;

/// Applies the pending migrations and returns.
pub async fn migrate(database: &DatabaseSettings) -> anyhow::Result<()> {
    mfa_totp_http::install_crypto_provider();
    let db = connect_database(database).await?;
    mfa_totp_storage::migrate(&db)
        .await
        .context("migrations failed")
}
