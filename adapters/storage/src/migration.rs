//! Schema migrations, the same for SQLite and PostgreSQL. Applied at start-up and by
//! `mfa-totp migrate`, through [`migrate`].

use sea_orm::{
    DatabaseBackend, DatabaseConnection, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// The PostgreSQL advisory lock that serialises migrations ("mfa-totp" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d66_612d_746f_7470;

/// Applies pending migrations, in one transaction, so instances that start at once take
/// turns: on PostgreSQL the transaction holds an advisory lock, on SQLite it is `BEGIN
/// IMMEDIATE` (the file's write lock, waited for up to the busy timeout). The second instance
/// waits for the first to commit and then finds nothing to do. Both engines' DDL is
/// transactional, so a failed migration leaves nothing half-applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let options = TransactionOptions {
        sqlite_transaction_mode: (backend == DatabaseBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await?;
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(CreateSmsSends),
            Box::new(AddChallengeClient),
            Box::new(AddLocalesAndSegments),
            Box::new(CreateLimitsAndAudit),
            Box::new(AddPurgeIndexes),
        ]
    }
}

#[derive(DeriveIden)]
enum Challenges {
    Table,
    Id,
    SubjectUserId,
    Status,
    SecretSealed,
    CreatedAt,
    ExpiresAt,
    CodeStep,
    CodeIssuedAt,
    SendCount,
    LastSentAt,
    FailedAttempts,
    VerifiedAt,
    ClientId,
    SentTo,
}

#[derive(DeriveIden)]
enum StepUpContexts {
    Table,
    ChallengeId,
    Operation,
    Attributes,
    State,
    CreatedAt,
    ConsumedAt,
    Locale,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UserId,
    PhoneNumber,
    CreatedAt,
    UpdatedAt,
    Locale,
}

#[derive(DeriveIden)]
enum SmsSends {
    Table,
    Id,
    ChallengeId,
    Outcome,
    Provider,
    MessageId,
    ChainPosition,
    Attempts,
    LatencyMs,
    Segments,
    DeliveryStatus,
    SentAt,
    UpdatedAt,
}

/// One row per SMS send: who carried it and what its provider reported later.
struct CreateSmsSends;

/// `DeriveMigrationName` names a migration after its file, which the first one already
/// took (as `migration`, in every deployed database), so this one is named by hand.
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

/// The SMS language asked by a challenge's creation request and known of a user, and the
/// segment count of each send (1 for earlier sends: the one English text they all used).
struct AddLocalesAndSegments;

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

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Kind,
    LimitKey,
    WindowStart,
    Used,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    ChallengeId,
    Kind,
    OccurredAt,
    RequestId,
    SubjectUserId,
    Actor,
    MaskedPhone,
    Outcome,
    LimitKind,
    Provider,
    MessageId,
}

/// The limits across challenges (one row per limit and key: its window's start and what was
/// used in it), the audit trail (one row per event, numbered in the order written), and the
/// masked phone each challenge's last code went to (which its later events name).
struct CreateLimitsAndAudit;

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

/// What the purge looks rows up by: when events occurred, when limit windows began.
/// (Challenges have had `idx_challenges_expires_at` from the start.)
struct AddPurgeIndexes;

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

/// The service that created each challenge (its token's `sub`). Rows from before have none,
/// and any client with the scopes may act on them, as before.
struct AddChallengeClient;

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

#[derive(DeriveMigrationName)]
struct CreateTables;

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
