//! The first schema: challenges, their step-up request contexts, and the user directory.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

pub(super) struct CreateTables;

/// Named `migration` in every deployed database: it was first named after the one file all
/// migrations then lived in (`DeriveMigrationName`), and a new name would run it again.
impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "migration"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Challenges::Table)
                    .col(string_len(Challenges::Id, 36).primary_key())
                    .col(string_len(Challenges::SubjectUserId, 128))
                    .col(string_len(Challenges::Status, 16))
                    .col(text(Challenges::SecretSealed))
                    .col(big_integer(Challenges::CreatedAt))
                    .col(big_integer(Challenges::ExpiresAt))
                    .col(big_integer_null(Challenges::CodeStep))
                    .col(big_integer_null(Challenges::CodeIssuedAt))
                    .col(integer(Challenges::SendCount).default(0))
                    .col(big_integer_null(Challenges::LastSentAt))
                    .col(integer(Challenges::FailedAttempts).default(0))
                    .col(big_integer_null(Challenges::VerifiedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_challenges_expires_at")
                    .table(Challenges::Table)
                    .col(Challenges::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StepUpContexts::Table)
                    .col(string_len(StepUpContexts::ChallengeId, 36).primary_key())
                    .col(string_len(StepUpContexts::Operation, 64))
                    .col(text(StepUpContexts::Attributes))
                    .col(string_len(StepUpContexts::State, 16))
                    .col(big_integer(StepUpContexts::CreatedAt))
                    .col(big_integer_null(StepUpContexts::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_step_up_contexts_challenge")
                            .from(StepUpContexts::Table, StepUpContexts::ChallengeId)
                            .to(Challenges::Table, Challenges::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::UserId, 128).primary_key())
                    .col(string_len(Users::PhoneNumber, 16))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StepUpContexts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Challenges::Table).to_owned())
            .await
    }
}
