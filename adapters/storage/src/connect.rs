//! Opening the pool: pool limits from config, and SQLite in WAL mode with a busy timeout so
//! concurrent writers wait instead of failing.

use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it fails (fail fast).
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// Connects to `url` (`sqlite://...` or `postgres://...`).
///
/// Several processes that open a fresh SQLite file at the same moment can be told "database
/// is locked" while one of them switches it to WAL, without SQLite waiting out the busy
/// timeout. Such a connect is tried again, until `pool.connect_timeout` has passed.
pub async fn connect(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection, DbErr> {
    let deadline = Instant::now() + pool.connect_timeout;
    loop {
        match connect_once(url, pool).await {
            Err(error) if is_sqlite_busy(&error) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

fn is_sqlite_busy(error: &DbErr) -> bool {
    let DbErr::Conn(RuntimeErr::SqlxError(e)) = error else {
        return false;
    };
    matches!(e.as_ref(), sea_orm::sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6")))
}

async fn connect_once(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .min_connections(0)
        .acquire_timeout(pool.acquire_timeout)
        .connect_timeout(pool.connect_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}
