//! SeaORM storage adapter: challenges, step-up request contexts and the SQL user directory,
//! on SQLite (the embedded default, WAL mode) or PostgreSQL, with one set of migrations.
//!
//! Timestamps are stored as UTC milliseconds (BIGINT), so both engines compare them alike.
//! Every state change is one conditional UPDATE (or one short transaction that starts with
//! one), so any number of server instances stay correct.

mod audit;
mod challenges;
mod connect;
mod contexts;
mod entities;
mod errors;
mod limits;
pub mod migration;
mod retention;
mod sends;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

use mfa_totp_application::ReadinessCheck;
use sea_orm::DatabaseConnection;

pub use connect::{PoolSettings, connect, metric};
pub use migration::{Migrator, migrate};

/// The SQL store. It implements `ChallengeRepository`, `StepUpContextRepository`,
/// `UserDirectoryReader` and `UserDirectoryWriter`, and `ReadinessCheck` as `database`. TOTP
/// secrets arrive sealed and are stored as they are.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Sets the pool gauges (`mfa_totp_db_pool_connections`) from the pool as it is now.
    pub fn record_pool_gauges(&self) {
        connect::record_pool_gauges(&self.db);
    }

    /// Closes the pool: connections in use finish their statement first.
    pub async fn close(&self) {
        let _ = self.db.clone().close().await;
    }
}

#[async_trait::async_trait]
impl ReadinessCheck for SqlStore {
    fn name(&self) -> &'static str {
        "database"
    }

    /// Whether the database answers a trivial query.
    async fn is_ready(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}

fn millis(ts: mfa_totp_domain::Timestamp) -> i64 {
    ts.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<mfa_totp_domain::Timestamp, mfa_totp_application::StoreError> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| {
        mfa_totp_application::StoreError::Unexpected(anyhow::anyhow!(
            "stored timestamp {ms} is out of range"
        ))
    })
}
