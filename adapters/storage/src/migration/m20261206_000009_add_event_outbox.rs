//! The event outbox: an audit event with a subscriber is an event to push, and its row keeps
//! the delivery's state. The outbox is the trail itself, so an event is written by the change
//! it reports, in the same transaction, on both engines.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::AuditEvents;
use super::m20261205_000008_add_challenge_version::APPLY;

/// `audit_events.subscriber` (the client the event is pushed to), `delivery_state`
/// (`PENDING`, `DELIVERED`, `GAVE_UP`; `NULL` for an event nobody receives),
/// `delivery_attempts` and `delivery_due_at` (when it may be claimed: its time, then the end
/// of a claim's lease, then the next retry). Two partial indexes keep the dispatcher's claim
/// and the expiry sweep to the rows they want; and on PostgreSQL `mfa_totp_apply` writes the
/// new columns.
pub(super) struct AddEventOutbox;

const INDEXES: [&str; 3] = [
    "CREATE INDEX audit_events_outbox_due ON audit_events (delivery_due_at) \
     WHERE delivery_state = 'PENDING'",
    "CREATE INDEX audit_events_outbox_by_challenge ON audit_events (challenge_id, id) \
     WHERE delivery_state = 'PENDING'",
    "CREATE INDEX challenges_live_by_expiry ON challenges (expires_at) \
     WHERE status IN ('PENDING', 'CODE_SENT')",
];

/// Migration 8's audit insert, and what this one makes of it.
const EVENTS_INSERT: [(&str, &str); 3] = [
    (
        "e.repeats, e.last_occurred_at\n    FROM",
        "e.repeats, e.last_occurred_at, e.subscriber,\n        \
         CASE WHEN e.subscriber IS NULL THEN NULL ELSE 'PENDING' END,\n        \
         CASE WHEN e.subscriber IS NULL THEN NULL ELSE e.occurred_at END\n    FROM",
    ),
    (
        "error_code, repeats,\n        last_occurred_at)\n",
        "error_code, repeats,\n        last_occurred_at, subscriber, delivery_state, delivery_due_at)\n",
    ),
    (
        "error_code text, repeats int, last_occurred_at bigint);",
        "error_code text, repeats int, last_occurred_at bigint, subscriber text);",
    ),
];

/// `mfa_totp_apply` as migration 8 made it, writing the outbox columns too.
fn apply_function() -> String {
    EVENTS_INSERT
        .iter()
        .fold(APPLY.to_owned(), |sql, (from, to)| {
            assert!(sql.contains(from), "migration 8's function changed: {from}");
            sql.replacen(from, to, 1)
        })
}

impl MigrationName for AddEventOutbox {
    fn name(&self) -> &str {
        "m20261206_000009_add_event_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddEventOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for mut column in [
            string_len_null(AuditEvents::Subscriber, 128),
            string_len_null(AuditEvents::DeliveryState, 16),
            integer(AuditEvents::DeliveryAttempts).default(0).to_owned(),
            big_integer_null(AuditEvents::DeliveryDueAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        for index in INDEXES {
            db.execute_unprepared(index).await?;
        }
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(&apply_function()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(APPLY).await?;
        }
        for name in [
            "audit_events_outbox_due",
            "audit_events_outbox_by_challenge",
            "challenges_live_by_expiry",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        for column in [
            AuditEvents::Subscriber,
            AuditEvents::DeliveryState,
            AuditEvents::DeliveryAttempts,
            AuditEvents::DeliveryDueAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_function_writes_the_outbox_columns() {
        let sql = super::apply_function();
        assert!(sql.contains("subscriber, delivery_state, delivery_due_at)"));
        assert!(sql.contains("last_occurred_at bigint, subscriber text);"));
    }
}
