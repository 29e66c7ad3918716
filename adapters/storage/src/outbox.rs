//! The event outbox on SQL: audit events with a subscriber, delivered from the trail. A claim
//! is one `UPDATE … RETURNING` that takes the oldest due events, counts an attempt and leases
//! each until `lease_until`. On PostgreSQL it skips rows another instance is claiming
//! (`FOR UPDATE SKIP LOCKED`), so a fleet delivers each event once; SQLite has one writer.
//! An event is due only while no older event of its challenge is still pending: a challenge's
//! events go out in order, whichever instance takes them.

use async_trait::async_trait;
use mfa_totp_application::{ClaimedEvent, EventOutbox, StoreError};
use mfa_totp_domain::{AuditEvent, Timestamp};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, Statement, TransactionTrait, Value};

use crate::audit::{DELIVERED, GAVE_UP, PENDING, insert_events, to_domain};
use crate::entities::audit_event;
use crate::errors::store_error;
use crate::{SqlStore, millis};

/// The claim, in PostgreSQL's dialect (`$n`); SQLite reads `?n` and takes no row locks.
const CLAIM: &str = "UPDATE audit_events \
    SET delivery_attempts = delivery_attempts + 1, delivery_due_at = $1 \
    WHERE id IN (SELECT e.id FROM audit_events e \
        WHERE e.delivery_state = 'PENDING' AND e.delivery_due_at <= $2 \
        AND NOT EXISTS (SELECT 1 FROM audit_events p WHERE p.delivery_state = 'PENDING' \
            AND p.challenge_id = e.challenge_id AND p.id < e.id) \
        ORDER BY e.id LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING *";

/// An outbox entry's state moves only from `PENDING`, and a retry or give-up only by the
/// claim that counted attempt `$3`: a claim whose lease ran out (and was taken over) writes
/// nothing.
const SETTLE: &str = "UPDATE audit_events SET delivery_state = $1, delivery_due_at = $2 \
    WHERE id = $4 AND delivery_state = 'PENDING' AND ($3 IS NULL OR delivery_attempts = $3)";

fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    match backend {
        DatabaseBackend::Postgres => Statement::from_sql_and_values(backend, sql, values),
        _ => {
            let sql = sql.replace(" FOR UPDATE SKIP LOCKED", "").replace('$', "?");
            Statement::from_sql_and_values(backend, sql, values)
        }
    }
}

/// Moves entry `row` to `state`, due at `due` (`NULL` once settled): `true` when it moved.
async fn settle(
    db: &impl ConnectionTrait,
    row: i64,
    state: &str,
    due: Option<i64>,
    attempt: Option<u32>,
) -> Result<bool, StoreError> {
    let values = vec![
        state.into(),
        due.into(),
        attempt.map(|a| a as i32).into(),
        row.into(),
    ];
    let result = db
        .execute_raw(statement(db.get_database_backend(), SETTLE, values))
        .await
        .map_err(store_error)?;
    Ok(result.rows_affected() == 1)
}

#[async_trait]
impl EventOutbox for SqlStore {
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        batch: u32,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        let values = vec![
            millis(lease_until).into(),
            millis(now).into(),
            i64::from(batch).into(),
        ];
        let backend = self.db.get_database_backend();
        let mut rows = audit_event::Entity::find()
            .from_raw_sql(statement(backend, CLAIM, values))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        rows.sort_by_key(|row| row.id);
        rows.into_iter()
            .map(|row| {
                let (id, attempt) = (row.id, row.delivery_attempts.max(1) as u32);
                Ok(ClaimedEvent {
                    row: id,
                    event: to_domain(row)?,
                    attempt,
                })
            })
            .collect()
    }

    async fn delivered(&self, row: i64) -> Result<(), StoreError> {
        settle(&self.db, row, DELIVERED, None, None).await.map(drop)
    }

    async fn retry_at(&self, row: i64, attempt: u32, due: Timestamp) -> Result<(), StoreError> {
        settle(&self.db, row, PENDING, Some(millis(due)), Some(attempt))
            .await
            .map(drop)
    }

    async fn give_up(&self, row: i64, attempt: u32, record: &AuditEvent) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        if settle(&txn, row, GAVE_UP, None, Some(attempt)).await? {
            insert_events(&txn, std::slice::from_ref(record)).await?;
        }
        txn.commit().await.map_err(store_error)
    }
}
