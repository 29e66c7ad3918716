//! `mfa-totp purge`: deletes what outlived its retention, now, to the end.

use std::sync::Arc;

use anyhow::Context;
use mfa_totp_application::Purged;
use mfa_totp_application::purge::Purger;
use mfa_totp_storage::{SqlStore, migrate};

use crate::app::SystemClock;
use crate::app::adapters::connect_database;
use crate::config::Config;

/// Purges once, to the end. Safe while instances run: they take turns by batch.
pub async fn purge(config: &Config) -> anyhow::Result<Purged> {
    mfa_totp_http::install_crypto_provider();
    let database = &config.settings.database;
    let db = connect_database(database).await?;
    if database.migrate_on_start {
        migrate(&db).await.context("migrations failed")?;
    }
    let store = SqlStore::new(db);
    let purger = Purger {
        store: Arc::new(store.clone()),
        clock: Arc::new(SystemClock),
        policy: config.policies.retention,
    };
    let purged = purger.purge().await.context("purge failed")?;
    store.close().await;
    Ok(purged)
}
