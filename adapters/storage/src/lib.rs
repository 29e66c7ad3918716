//! SeaORM storage adapter: challenges, step-up request contexts and the SQL user directory,
//! on SQLite (the embedded default, WAL mode) or PostgreSQL, with one set of migrations.
//!
//! Timestamps are stored as UTC milliseconds (BIGINT), so both engines compare them alike.
//! Every change of a challenge is one short transaction written over the version it was
//! decided on, so any number of server instances stay correct.

mod audit;
mod challenges;
mod connect;
mod contexts;
mod entities;
mod errors;
mod limits;
pub mod migration;
mod outbox;
mod postgres;
mod retention;
mod sends;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod users;

use std::sync::Arc;

use mfa_totp_application::{PoolGauges, ReadinessCheck};
use sea_orm::DatabaseConnection;

pub use connect::{PoolSettings, connect, metric};
pub use migration::{Migrator, migrate};

/// The SQL store. It implements `ChallengeRepository` (challenges with their step-up
/// contexts), `UserDirectoryReader` and `UserDirectoryWriter`, `SmsSendLog`, `AuditLog`,
/// `Retention`, and `ReadinessCheck` as `database`. TOTP
/// secrets arrive sealed and are stored as they are.
#[derive(Clone)]
pub struct SqlStore {
    /// Every write, and every read a write depends on, goes through this pool, except
    /// where [`SqlStore::sqlite`] serves them.
    db: DatabaseConnection,
    /// Reads that stand alone: another pool on a SQLite file ([`open`]).
    readers: Option<DatabaseConnection>,
    /// On SQLite, the changes and the reads of the hot paths, without a hand-off per
    /// statement ([`open`]).
    sqlite: Option<Arc<sqlite::Sqlite>>,
    /// The directory of a database that was asked for in memory, while the store lives.
    _scratch: Option<Arc<tempfile::TempDir>>,
}

impl SqlStore {
    /// A store with one pool for everything.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            readers: None,
            sqlite: None,
            _scratch: None,
        }
    }

    /// A store with no database: every call answers `Unavailable`. It serves what needs the
    /// store's type and never a query, such as the published spec (`mfa-totp openapi`).
    pub fn disconnected() -> Self {
        Self::new(DatabaseConnection::default())
    }

    /// The pool for reads that stand alone.
    fn reads(&self) -> &DatabaseConnection {
        self.readers.as_ref().unwrap_or(&self.db)
    }

    /// The pool that writes (migrations run on it).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pools: connections in use finish their statement first.
    pub async fn close(&self) {
        if let Some(sqlite) = &self.sqlite {
            sqlite.close();
        }
        if let Some(readers) = &self.readers {
            let _ = readers.clone().close().await;
        }
        let _ = self.db.clone().close().await;
    }
}

impl PoolGauges for SqlStore {
    /// Sets `mfa_totp_db_pool_connections` from the pools as they are now.
    fn record_pool_gauges(&self) {
        match &self.readers {
            Some(readers) => connect::record_pool_gauges(&[&self.db, readers]),
            None => connect::record_pool_gauges(&[&self.db]),
        }
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

/// Opens the store on `url`. On SQLite, changes go to one thread that owns the write
/// connection, each whole, and the hot reads run on the caller's thread (see `sqlite`); a
/// pool of `pool.max_connections` serves the other reads, and one connection of its own the
/// other writes and the migrations. A database asked for in memory is a file in a temporary
/// directory, which goes when the store does: every connection must see the same one.
/// Elsewhere one pool does everything, and each change is one statement.
pub async fn open(url: &str, pool: &PoolSettings) -> Result<SqlStore, sea_orm::DbErr> {
    if !url.starts_with("sqlite:") {
        return Ok(SqlStore::new(connect(url, pool).await?));
    }
    let (path, scratch) = if connect::is_sqlite_file(url) {
        (sqlite_path(url), None)
    } else {
        let dir = tempfile::tempdir()
            .map_err(|e| sea_orm::DbErr::Custom(format!("a scratch directory: {e}")))?;
        (dir.path().join("memory.db"), Some(Arc::new(dir)))
    };
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let writer = PoolSettings {
        max_connections: 1,
        ..*pool
    };
    // The first connection creates the file and switches it to WAL.
    let db = connect(&url, &writer).await?;
    let reads = connect(&url, pool).await?;
    let engine = crate::sqlite::Sqlite::open(&path, pool.max_connections as usize)
        .map_err(|e| sea_orm::DbErr::Custom(format!("{:#}", anyhow::Error::from(e))))?;
    Ok(SqlStore {
        db,
        readers: Some(reads),
        sqlite: Some(Arc::new(engine)),
        _scratch: scratch,
    })
}

/// The file a `sqlite:` URL names: what comes after the scheme, before any options.
fn sqlite_path(url: &str) -> std::path::PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// The first row `select` finds, read without `LIMIT`: sea-query binds a limit as a
/// parameter, and SQLite plans `LIMIT ?` by the value bound to it, so a statement with one
/// is prepared again each time it runs (a fifth of a read's time in the profile; see
/// BENCHMARKS.md). Only for selects of a few rows: by key, or one challenge's sends.
async fn first_row<E: sea_orm::EntityTrait>(
    select: sea_orm::Select<E>,
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Option<E::Model>, sea_orm::DbErr> {
    Ok(select.all(db).await?.into_iter().next())
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
