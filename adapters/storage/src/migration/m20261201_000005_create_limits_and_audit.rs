//! The limits across challenges and the audit trail.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::idens::*;

/// The limits across challenges (one row per limit and key: its window's start and what was
/// used in it), the audit trail (one row per event, numbered in the order written), and the
/// masked phone each challenge's last code went to (which its later events name).
pub(super) struct CreateLimitsAndAudit;

impl MigrationName for CreateLimitsAndAudit {
    fn name(&self) -> &str {
        "m20261201_000005_create_limits_and_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateLimitsAndAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(string_len(RateLimits::Kind, 32))
                    .col(string_len(RateLimits::LimitKey, 128))
                    .col(big_integer(RateLimits::WindowStart))
                    .col(integer(RateLimits::Used))
                    .primary_key(
                        Index::create()
                            .col(RateLimits::Kind)
                            .col(RateLimits::LimitKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(string_len_null(AuditEvents::ChallengeId, 36))
                    .col(string_len(AuditEvents::Kind, 32))
                    .col(big_integer(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::RequestId, 128))
                    .col(string_len(AuditEvents::SubjectUserId, 128))
                    .col(string_len(AuditEvents::Actor, 128))
                    .col(string_len_null(AuditEvents::MaskedPhone, 16))
                    .col(string_len(AuditEvents::Outcome, 32))
                    .col(string_len_null(AuditEvents::LimitKind, 32))
                    .col(string_len_null(AuditEvents::Provider, 32))
                    .col(string_len_null(AuditEvents::MessageId, 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_by_challenge")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ChallengeId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .add_column(string_len_null(Challenges::SentTo, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .drop_column(Challenges::SentTo)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimits::Table).to_owned())
            .await
    }
}
