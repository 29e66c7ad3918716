//! The purge's indexes.

use sea_orm_migration::prelude::*;

/// What the purge looks rows up by: when events occurred, when limit windows began.
/// (Challenges have had `idx_challenges_expires_at` from the start.)
pub(super) struct AddPurgeIndexes;

impl MigrationName for AddPurgeIndexes {
    fn name(&self) -> &str {
        "m20261201_000006_add_purge_indexes"
    }
}

const PURGE_INDEXES: [(&str, &str, &str); 2] = [
    (
        "idx_audit_events_occurred_at",
        "audit_events",
        "occurred_at",
    ),
    (
        "idx_rate_limits_window_start",
        "rate_limits",
        "window_start",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for AddPurgeIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in PURGE_INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new(table))
                        .col(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in PURGE_INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
