//! Providers' error codes, repeated refusals counted on one audit row, and room for the
//! delivery status `PARTIALLY_DELIVERED`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

/// The provider's error code of a send and of an audit event (why it refused a send, or
/// could not deliver it), and on an audit event the count of identical refusals it stands
/// for and when the last of them happened.
pub(super) struct AddErrorCodesAndRepeats;

impl MigrationName for AddErrorCodesAndRepeats {
    fn name(&self) -> &str {
        "m20261205_000007_add_error_codes_and_repeats"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddErrorCodesAndRepeats {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `PARTIALLY_DELIVERED` is longer than the 16 characters the column was made for
        // (SQLite does not enforce a length).
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .alter_table(
                    Table::alter()
                        .table(SmsSends::Table)
                        .modify_column(string_len_null(SmsSends::DeliveryStatus, 32))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(SmsSends::Table)
                    .add_column(string_len_null(SmsSends::ErrorCode, 32))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            string_len_null(AuditEvents::ErrorCode, 32),
            integer(AuditEvents::Repeats).default(1).to_owned(),
            big_integer_null(AuditEvents::LastOccurredAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (SmsSends::Table.into_iden(), SmsSends::ErrorCode.into_iden()),
            (
                AuditEvents::Table.into_iden(),
                AuditEvents::ErrorCode.into_iden(),
            ),
            (
                AuditEvents::Table.into_iden(),
                AuditEvents::Repeats.into_iden(),
            ),
            (
                AuditEvents::Table.into_iden(),
                AuditEvents::LastOccurredAt.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
