//! `Retention` on SQL: each kind of row is deleted a bounded batch at a time, by one
//! statement of the form `DELETE … WHERE key IN (SELECT key … LIMIT n)`. On PostgreSQL the
//! batch is picked `FOR UPDATE SKIP LOCKED`, so purgers on several instances take disjoint
//! rows and never wait on (or deadlock with) each other; SQLite has one writer at a time.
//! A challenge's context and send records go with it (`ON DELETE CASCADE`).

use async_trait::async_trait;
use mfa_totp_application::{Cutoffs, Purged, Retention, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::errors::store_error;
use crate::{SqlStore, millis};

/// `DELETE FROM table WHERE key IN (a batch of rows with column < cutoff)`.
fn batch_delete(
    backend: DatabaseBackend,
    table: &str,
    key: &str,
    column: &str,
    batch: u32,
) -> String {
    let (placeholder, lock) = match backend {
        DatabaseBackend::Postgres => ("$1", " FOR UPDATE SKIP LOCKED"),
        _ => ("?", ""),
    };
    format!(
        "DELETE FROM {table} WHERE ({key}) IN \
         (SELECT {key} FROM {table} WHERE {column} < {placeholder} LIMIT {batch}{lock})"
    )
}

impl SqlStore {
    async fn delete_batch(
        &self,
        table: &str,
        key: &str,
        column: &str,
        before: mfa_totp_domain::Timestamp,
        batch: u32,
    ) -> Result<u64, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            let sql = batch_delete(DatabaseBackend::Sqlite, table, key, column, batch);
            let statement = Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                sql,
                [millis(before).into()],
            );
            return sqlite.execute(statement).await;
        }
        let backend = self.db.get_database_backend();
        let sql = batch_delete(backend, table, key, column, batch);
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [millis(before).into()],
            ))
            .await
            .map_err(store_error)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl Retention for SqlStore {
    #[tracing::instrument(skip_all)]
    async fn purge_batch(&self, cutoffs: &Cutoffs, batch: u32) -> Result<Purged, StoreError> {
        Ok(Purged {
            challenges: self
                .delete_batch(
                    "challenges",
                    "id",
                    "expires_at",
                    cutoffs.challenges_expired_before,
                    batch,
                )
                .await?,
            audit_events: self
                .delete_batch(
                    "audit_events",
                    "id",
                    "occurred_at",
                    cutoffs.events_before,
                    batch,
                )
                .await?,
            limit_windows: self
                .delete_batch(
                    "rate_limits",
                    "kind, limit_key",
                    "window_start",
                    cutoffs.windows_began_before,
                    batch,
                )
                .await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_batches_skip_rows_another_purger_holds() {
        assert_eq!(
            batch_delete(DatabaseBackend::Postgres, "t", "id", "at", 5),
            "DELETE FROM t WHERE (id) IN (SELECT id FROM t WHERE at < $1 LIMIT 5 FOR UPDATE SKIP LOCKED)"
        );
        assert_eq!(
            batch_delete(DatabaseBackend::Sqlite, "t", "a, b", "at", 5),
            "DELETE FROM t WHERE (a, b) IN (SELECT a, b FROM t WHERE at < ? LIMIT 5)"
        );
    }
}
