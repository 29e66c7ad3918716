//! SMS locales and segment counts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

/// The SMS language asked by a challenge's creation request and known of a user, and the
/// segment count of each send (1 for earlier sends: the one English text they all used).
pub(super) struct AddLocalesAndSegments;

impl MigrationName for AddLocalesAndSegments {
    fn name(&self) -> &str {
        "m20261130_000004_add_locales_and_segments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddLocalesAndSegments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StepUpContexts::Table)
                    .add_column(string_len_null(StepUpContexts::Locale, 35))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Users::Locale, 35))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SmsSends::Table)
                    .add_column(integer(SmsSends::Segments).default(1))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (
                StepUpContexts::Table.into_iden(),
                StepUpContexts::Locale.into_iden(),
            ),
            (Users::Table.into_iden(), Users::Locale.into_iden()),
            (SmsSends::Table.into_iden(), SmsSends::Segments.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
