//! Opening the pool: pool limits from config, and SQLite in WAL mode with a busy timeout so
//! concurrent writers wait instead of failing.

use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    RuntimeErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

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

/// A SQLite database that other connections can share: a file, not `:memory:`.
pub(crate) fn is_sqlite_file(url: &str) -> bool {
    url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=memory")
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// Each SQLite connection's page cache, in KiB.
pub(crate) const SQLITE_PAGE_CACHE_KIB: u32 = 512;

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
        // A ping on every checkout is a round trip more for every statement (sqlx's
        // default). Only a connection idle long enough to have been dropped by the server,
        // a proxy or a firewall is pinged; one that fails in use is closed by the pool, and
        // its request answers 503.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Each connection keeps its own page cache (2 MiB by default): 512 KiB keeps
                // the B-tree's inner pages, and the leaves a point read touches come from the
                // OS's cache of the file. Eleven connections cost 6 MiB instead of 22.
                .pragma("cache_size", format!("-{SQLITE_PAGE_CACHE_KIB}"))
        });
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(|info| record_statement(&info.statement.sql, info.elapsed));
    Ok(db)
}

/// The storage metrics (their names are an interface: the README lists them).
pub mod metric {
    /// Each SQL statement's time, by `statement` (`select`, `insert`, `update`, `delete`,
    /// `other`).
    pub const QUERY_DURATION: &str = "mfa_totp_db_query_duration_seconds";
    /// The pool's connections, by `state` (`in_use`, `idle`), as of the last scrape.
    pub const POOL_CONNECTIONS: &str = "mfa_totp_db_pool_connections";

    /// The `statement` of [`QUERY_DURATION`].
    pub const STATEMENTS: [&str; 5] = ["select", "insert", "update", "delete", "other"];

    /// Describes these metrics (their HELP text) and registers each series.
    pub fn describe_and_register() {
        metrics::describe_histogram!(
            QUERY_DURATION,
            metrics::Unit::Seconds,
            "Time each SQL statement took, by statement (its first keyword)."
        );
        metrics::describe_gauge!(
            POOL_CONNECTIONS,
            "The database pools' connections, by state (in_use, idle), as of the last scrape."
        );
        for statement in STATEMENTS {
            let _ = metrics::histogram!(QUERY_DURATION, "statement" => statement);
        }
        for state in ["in_use", "idle"] {
            metrics::gauge!(POOL_CONNECTIONS, "state" => state).increment(0.0);
        }
    }
}

/// Records one statement's time, by its kind.
pub(crate) fn record_statement(sql: &str, elapsed: Duration) {
    metrics::histogram!(metric::QUERY_DURATION, "statement" => statement_kind(sql))
        .record(elapsed.as_secs_f64());
}

/// What a statement does, from its first word: a fixed vocabulary, never the text.
fn statement_kind(sql: &str) -> &'static str {
    let first = sql.split_whitespace().next().unwrap_or_default();
    metric::STATEMENTS
        .into_iter()
        .find(|kind| first.eq_ignore_ascii_case(kind))
        .unwrap_or("other")
}

/// Sets the pool gauges from the pools as they are now (the writer's and the readers').
/// A transaction that holds the write lock from its first statement on SQLite (`BEGIN
/// IMMEDIATE`, waited for up to the busy timeout), so that what it reads before it writes
/// cannot change under it. On PostgreSQL, a plain transaction: its callers lock rows.
pub(crate) async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DatabaseBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

pub fn record_pool_gauges(pools: &[&DatabaseConnection]) {
    let (mut size, mut idle) = (0, 0);
    for db in pools {
        let (s, i) = pool_state(db);
        size += s;
        idle += i;
    }
    let idle = idle as f64;
    metrics::gauge!(metric::POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size) - idle);
    metrics::gauge!(metric::POOL_CONNECTIONS, "state" => "idle").set(idle);
}

/// A pool's connections, and how many of them are idle.
fn pool_state(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sqlite_url_names_its_file() {
        for (url, path) in [
            (
                "sqlite:///var/lib/mfa/db.sqlite?mode=rwc",
                "/var/lib/mfa/db.sqlite",
            ),
            ("sqlite://data/mfa.db", "data/mfa.db"),
            ("sqlite:mfa.db?mode=rwc", "mfa.db"),
        ] {
            assert_eq!(
                crate::sqlite_path(url),
                std::path::PathBuf::from(path),
                "{url}"
            );
        }
    }

    #[test]
    fn statements_are_named_by_their_first_word_only() {
        assert_eq!(
            super::statement_kind("  SELECT * FROM challenges"),
            "select"
        );
        assert_eq!(super::statement_kind("insert into x"), "insert");
        assert_eq!(super::statement_kind("BEGIN"), "other");
        assert_eq!(super::statement_kind(""), "other");
    }
}
