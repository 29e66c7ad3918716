//! One row per SMS send.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

/// One row per SMS send: who carried it and what its provider reported later.
pub(super) struct CreateSmsSends;

impl MigrationName for CreateSmsSends {
    fn name(&self) -> &str {
        "m20261130_000002_create_sms_sends"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateSmsSends {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SmsSends::Table)
                    .col(string_len(SmsSends::Id, 36).primary_key())
                    .col(string_len(SmsSends::ChallengeId, 36))
                    .col(string_len(SmsSends::Outcome, 16))
                    .col(string_len_null(SmsSends::Provider, 16))
                    .col(string_len_null(SmsSends::MessageId, 128))
                    .col(integer_null(SmsSends::ChainPosition))
                    .col(integer(SmsSends::Attempts))
                    .col(big_integer(SmsSends::LatencyMs))
                    .col(string_len_null(SmsSends::DeliveryStatus, 16))
                    .col(big_integer(SmsSends::SentAt))
                    .col(big_integer(SmsSends::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sms_sends_challenge")
                            .from(SmsSends::Table, SmsSends::ChallengeId)
                            .to(Challenges::Table, Challenges::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sms_sends_challenge")
                    .table(SmsSends::Table)
                    .col(SmsSends::ChallengeId)
                    .col(SmsSends::SentAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sms_sends_message")
                    .table(SmsSends::Table)
                    .col(SmsSends::Provider)
                    .col(SmsSends::MessageId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SmsSends::Table).to_owned())
            .await
    }
}
