//! The tables' and columns' names, which every migration shares.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub(super) enum Challenges {
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
    Version,
}

#[derive(DeriveIden)]
pub(super) enum StepUpContexts {
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
pub(super) enum Users {
    Table,
    UserId,
    PhoneNumber,
    CreatedAt,
    UpdatedAt,
    Locale,
}

#[derive(DeriveIden)]
pub(super) enum SmsSends {
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
    ErrorCode,
}

#[derive(DeriveIden)]
pub(super) enum RateLimits {
    Table,
    Kind,
    LimitKey,
    WindowStart,
    Used,
}

#[derive(DeriveIden)]
pub(super) enum AuditEvents {
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
    ErrorCode,
    Repeats,
    LastOccurredAt,
    Subscriber,
    DeliveryState,
    DeliveryAttempts,
    DeliveryDueAt,
}
