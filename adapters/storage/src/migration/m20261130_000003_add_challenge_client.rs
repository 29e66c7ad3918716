//! The service that created each challenge.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

/// The service that created each challenge (its token's `sub`). Rows from before have none,
/// and any client with the scopes may act on them, as before.
pub(super) struct AddChallengeClient;

impl MigrationName for AddChallengeClient {
    fn name(&self) -> &str {
        "m20261130_000003_add_challenge_client"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddChallengeClient {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .add_column(string_len_null(Challenges::ClientId, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .drop_column(Challenges::ClientId)
                    .to_owned(),
            )
            .await
    }
}
