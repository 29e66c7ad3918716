//! The audit trail on SQL. Events of a change are inserted in the change's transaction by
//! the repository methods; [`AuditLog`] writes refusals and reads a challenge's events.

use async_trait::async_trait;
use mfa_totp_application::{AuditLog, StoreError};
use mfa_totp_domain::{
    AuditEvent, AuditOutcome, ChallengeId, ClientId, LimitKind, UnknownName, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::connect::begin_immediate;
use crate::entities::audit_event::{self, Column};
use crate::entities::challenge;
use crate::errors::store_error;
use crate::{SqlStore, from_millis, millis};

/// The delivery states of an outbox entry.
pub(crate) const PENDING: &str = "PENDING";
pub(crate) const DELIVERED: &str = "DELIVERED";
pub(crate) const GAVE_UP: &str = "GAVE_UP";

pub(crate) async fn insert_events(
    db: &impl ConnectionTrait,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let Some(insert) = insert_statement(events) else {
        return Ok(());
    };
    insert
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// One `INSERT` of `events`, if there are any.
pub(crate) fn insert_statement(
    events: &[AuditEvent],
) -> Option<sea_orm::InsertMany<audit_event::ActiveModel>> {
    if events.is_empty() {
        return None;
    }
    let rows = events.iter().map(|e| audit_event::ActiveModel {
        id: NotSet,
        challenge_id: Set(e.challenge_id.map(|id| id.to_string())),
        kind: Set(e.kind.as_str().to_owned()),
        occurred_at: Set(millis(e.at)),
        request_id: Set(e.request_id.clone()),
        subject_user_id: Set(e.subject.as_str().to_owned()),
        actor: Set(e.actor.clone()),
        masked_phone: Set(e.masked_phone.clone()),
        outcome: Set(e.outcome.as_str().to_owned()),
        limit_kind: Set(e.limit.map(|l| l.as_str().to_owned())),
        provider: Set(e.provider.clone()),
        message_id: Set(e.message_id.clone()),
        error_code: Set(e.error_code.clone()),
        repeats: Set(e.repeats.min(i32::MAX as u32) as i32),
        last_occurred_at: Set(e.last_at.map(millis)),
        subscriber: Set(e.subscriber.as_ref().map(|s| s.to_string())),
        delivery_state: Set(e.subscriber.as_ref().map(|_| PENDING.to_owned())),
        delivery_attempts: Set(0),
        delivery_due_at: Set(e.subscriber.as_ref().map(|_| millis(e.at))),
    });
    Some(audit_event::Entity::insert_many(rows))
}

/// `event` counted on the stored event `id`, which it repeats.
pub(crate) fn repeat_statement(
    id: i64,
    event: &AuditEvent,
) -> sea_orm::UpdateMany<audit_event::Entity> {
    audit_event::Entity::update_many()
        .col_expr(
            Column::Repeats,
            sea_orm::sea_query::ExprTrait::add(Expr::col(Column::Repeats), 1),
        )
        .col_expr(Column::LastOccurredAt, Expr::value(millis(event.at)))
        .filter(Column::Id.eq(id))
}

pub(crate) fn to_domain(row: audit_event::Model) -> Result<AuditEvent, StoreError> {
    let bad = |what: String| {
        StoreError::Unexpected(anyhow::anyhow!("stored audit event {}: {what}", row.id))
    };
    Ok(AuditEvent {
        kind: row
            .kind
            .parse()
            .map_err(|e: UnknownName| bad(e.to_string()))?,
        at: from_millis(row.occurred_at)?,
        challenge_id: row
            .challenge_id
            .as_deref()
            .map(ChallengeId::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        subject: UserId::parse(&row.subject_user_id).map_err(|e| bad(e.to_string()))?,
        limit: row
            .limit_kind
            .as_deref()
            .map(str::parse::<LimitKind>)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        request_id: row.request_id,
        actor: row.actor,
        masked_phone: row.masked_phone,
        outcome: row
            .outcome
            .parse::<AuditOutcome>()
            .map_err(|e| bad(e.to_string()))?,
        provider: row.provider,
        message_id: row.message_id,
        error_code: row.error_code,
        repeats: row.repeats.max(1) as u32,
        last_at: row.last_occurred_at.map(from_millis).transpose()?,
        subscriber: row
            .subscriber
            .as_deref()
            .map(ClientId::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
    })
}

#[async_trait]
impl AuditLog for SqlStore {
    /// An event that repeats its challenge's newest event ([`AuditEvent::repeats`]: a
    /// refusal, a replayed delivery report) is counted on that event; any other is a new
    /// row. One transaction that holds the challenge's row (PostgreSQL) or the write lock
    /// (SQLite, `BEGIN IMMEDIATE`) from the read of the newest event to the write, so that
    /// events racing each other still count on one row.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.record(event).await;
        }
        let Some(challenge_id) = event.challenge_id else {
            return insert_events(&self.db, std::slice::from_ref(event)).await;
        };
        let txn = begin_immediate(&self.db).await.map_err(store_error)?;
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            challenge::Entity::find_by_id(challenge_id.to_string())
                .select_only()
                .column(challenge::Column::Id)
                .lock_exclusive()
                .into_tuple::<String>()
                .one(&txn)
                .await
                .map_err(store_error)?;
        }
        let newest = audit_event::Entity::find()
            .filter(Column::ChallengeId.eq(challenge_id.to_string()))
            .order_by_desc(Column::Id)
            .one(&txn)
            .await
            .map_err(store_error)?;
        let repeated = match newest {
            Some(row) => {
                let id = row.id;
                event.repeats(&to_domain(row)?).then_some(id)
            }
            None => None,
        };
        match repeated {
            Some(id) => {
                repeat_statement(id, event)
                    .exec(&txn)
                    .await
                    .map_err(store_error)?;
            }
            None => insert_events(&txn, std::slice::from_ref(event)).await?,
        }
        txn.commit().await.map_err(store_error)
    }

    /// The newest [`MAX_EVENTS`](mfa_totp_application::MAX_EVENTS), oldest first.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn events(&self, id: ChallengeId) -> Result<Vec<AuditEvent>, StoreError> {
        let mut events = audit_event::Entity::find()
            .filter(Column::ChallengeId.eq(id.to_string()))
            .order_by_desc(Column::Id)
            .limit(mfa_totp_application::MAX_EVENTS)
            .all(self.reads())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(to_domain)
            .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }
}
