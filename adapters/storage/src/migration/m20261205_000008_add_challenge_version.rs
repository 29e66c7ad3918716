//! Each challenge's version: the guard every change is written under.

use sea_orm_migration::prelude::*;

use super::idens::*;

/// `challenges.version`: how many changes the challenge has had (`Challenge::version`). A
/// change is written only over the version it was decided on. Rows from before start at 0.
pub(super) struct AddChallengeVersion;

impl MigrationName for AddChallengeVersion {
    fn name(&self) -> &str {
        "m20261205_000008_add_challenge_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddChallengeVersion {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .add_column(
                        ColumnDef::new(Challenges::Version)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .drop_column(Challenges::Version)
                    .to_owned(),
            )
            .await
    }
}
