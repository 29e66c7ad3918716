//! Fresh databases for tests (feature `testing`): a SQLite file in a temporary directory, or
//! a new PostgreSQL database on the server that `MFA_TOTP_TEST_POSTGRES_URL` names, dropped
//! again when the test is done. Each test gets its own, so tests never see each other's rows.

use std::io::Write;

use sea_orm::{ConnectionTrait, Database};

/// The variable that enables the PostgreSQL runs: a URL of a role that may create
/// databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "MFA_TOTP_TEST_POSTGRES_URL";
/// The variable that picks the black-box suite's engine: `sqlite` (default) or `postgres`.
pub const ENGINE_VAR: &str = "MFA_TOTP_TEST_ENGINE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine `MFA_TOTP_TEST_ENGINE` asks for.
    pub fn from_env() -> Self {
        match std::env::var(ENGINE_VAR).as_deref() {
            Err(_) | Ok("" | "sqlite") => Self::Sqlite,
            Ok("postgres") => Self::Postgres,
            Ok(other) => panic!("{ENGINE_VAR}={other}: expected sqlite or postgres"),
        }
    }
}

/// The PostgreSQL server URL. Without it, a test that asks for PostgreSQL fails, saying how
/// to set it: the PostgreSQL tests are `#[ignore]`d unless the variable was set when they
/// were built (`cfg(postgres_tests)`, from each test crate's build script).
pub fn postgres_url(test: &str) -> String {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{test} needs PostgreSQL: set {POSTGRES_URL_VAR}, e.g. \
                 postgres://postgres@127.0.0.1:5432/postgres"
            )
        })
}

/// Whether PostgreSQL is configured (for benchmarks, which measure what they can).
pub fn postgres_configured() -> bool {
    std::env::var(POSTGRES_URL_VAR).is_ok_and(|url| !url.is_empty())
}

/// One test's database.
pub struct TestDatabase {
    url: String,
    /// The server URL and the name of the database to drop at the end.
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh, empty database on `engine` for `test`. PostgreSQL without its URL fails the
    /// test, naming it.
    pub async fn create(engine: Engine, test: &str) -> Self {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let server = postgres_url(test);
                let name = format!("mfa_totp_test_{}", unique_suffix());
                let admin = Database::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={server}: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("CREATE DATABASE");
                admin.close().await.ok();
                Self {
                    url: with_database(&server, &name),
                    postgres: Some((server, name)),
                    _dir: None,
                }
            }
        }
    }

    /// Like [`Self::create`] on the engine `MFA_TOTP_TEST_ENGINE` picks.
    pub async fn from_env(test: &str) -> Self {
        Self::create(Engine::from_env(), test).await
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop is synchronous; a short-lived runtime on its own thread does the async work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let admin = Database::connect(&server).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(std::io::stderr(), "could not drop a test database");
        }
    }
}

/// The `host:port` of a URL (`postgres://user@host:port/db` → `host:port`).
pub fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `url` with its `host:port` replaced by `host_port`.
pub fn with_host_port(url: &str, host_port_value: &str) -> String {
    url.replacen(host_port(url), host_port_value, 1)
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A unique, lower-case, identifier-safe suffix.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }
}
