//! `SmsSendLog` on SQL: one row per send, and delivery reports matched by provider and
//! message id.

use async_trait::async_trait;
use mfa_totp_application::{DeliveryReport, DeliveryUpdate, SmsSendLog, StoreError};
use mfa_totp_domain::{AuditEvent, ChallengeId, DeliveryStatus, SmsSend, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::entities::sms_send;
use crate::errors::store_error;
use crate::{SqlStore, from_millis, millis};

pub(crate) fn to_domain(row: sms_send::Model) -> Result<SmsSend, StoreError> {
    let bad = |what: String| {
        StoreError::Unexpected(anyhow::anyhow!("stored SMS send {}: {what}", row.id))
    };
    Ok(SmsSend {
        challenge_id: ChallengeId::parse(&row.challenge_id).map_err(|e| bad(e.to_string()))?,
        outcome: row
            .outcome
            .parse()
            .map_err(|e: mfa_totp_domain::UnknownName| bad(e.to_string()))?,
        provider: row.provider.clone(),
        message_id: row.message_id.clone(),
        chain_position: row.chain_position.map(|p| p.max(0) as u32),
        attempts: row.attempts.max(0) as u32,
        latency_ms: row.latency_ms.max(0) as u64,
        segments: row.segments.max(0) as u32,
        delivery: row
            .delivery_status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: mfa_totp_domain::UnknownName| bad(e.to_string()))?,
        sent_at: from_millis(row.sent_at)?,
        error_code: row.error_code.clone(),
    })
}

/// The record of one send.
pub(crate) fn insert_statement(send: &SmsSend) -> sea_orm::Insert<sms_send::ActiveModel> {
    sms_send::Entity::insert(sms_send::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        challenge_id: Set(send.challenge_id.to_string()),
        outcome: Set(send.outcome.as_str().to_owned()),
        provider: Set(send.provider.clone()),
        message_id: Set(send.message_id.clone()),
        chain_position: Set(send.chain_position.map(|p| p as i32)),
        attempts: Set(send.attempts as i32),
        latency_ms: Set(send.latency_ms as i64),
        segments: Set(send.segments as i32),
        delivery_status: Set(send.delivery.map(|d| d.as_str().to_owned())),
        sent_at: Set(millis(send.sent_at)),
        updated_at: Set(millis(send.sent_at)),
        error_code: Set(send.error_code.clone()),
    })
}

/// The challenge a stored send belongs to.
pub(crate) fn send_challenge(send_id: &str, challenge_id: &str) -> Result<ChallengeId, StoreError> {
    ChallengeId::parse(challenge_id)
        .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("stored SMS send {send_id}: {e}")))
}

/// The delivery report applied to the send `send_id`: its status moves only forward, from
/// none yet or from an earlier stage, and the provider's error code is kept.
pub(crate) fn delivery_statement(
    send_id: &str,
    report: &DeliveryReport,
    at: Timestamp,
) -> sea_orm::UpdateMany<sms_send::Entity> {
    let earlier: Vec<&str> = report
        .status
        .replaces()
        .into_iter()
        .map(DeliveryStatus::as_str)
        .collect();
    let mut update = sms_send::Entity::update_many()
        .col_expr(
            sms_send::Column::DeliveryStatus,
            Expr::value(report.status.as_str()),
        )
        .col_expr(sms_send::Column::UpdatedAt, Expr::value(millis(at)));
    if let Some(code) = &report.error_code {
        update = update.col_expr(sms_send::Column::ErrorCode, Expr::value(code.as_str()));
    }
    update.filter(sms_send::Column::Id.eq(send_id)).filter(
        Condition::any()
            .add(sms_send::Column::DeliveryStatus.is_null())
            .add(sms_send::Column::DeliveryStatus.is_in(earlier)),
    )
}

#[async_trait]
impl SmsSendLog for SqlStore {
    #[tracing::instrument(skip_all, fields(challenge_id = %send.challenge_id))]
    async fn log_send(&self, send: &SmsSend, event: &AuditEvent) -> Result<(), StoreError> {
        match &self.sqlite {
            Some(sqlite) => sqlite.log_send(send, event).await,
            None => crate::postgres::log_send(&self.db, send, event).await,
        }
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn last_send(&self, id: ChallengeId) -> Result<Option<SmsSend>, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.last_send(id);
        }
        crate::first_row(
            sms_send::Entity::find()
                .filter(sms_send::Column::ChallengeId.eq(id.to_string()))
                .order_by_desc(sms_send::Column::SentAt)
                .order_by_desc(sms_send::Column::Id),
            self.reads(),
        )
        .await
        .map_err(store_error)?
        .map(to_domain)
        .transpose()
    }

    #[tracing::instrument(skip_all, fields(provider = %report.provider))]
    async fn update_delivery(
        &self,
        report: &DeliveryReport,
        at: Timestamp,
    ) -> Result<Option<DeliveryUpdate>, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.update_delivery(report, at).await;
        }
        let send = sms_send::Entity::find()
            .filter(sms_send::Column::Provider.eq(report.provider.as_str()))
            .filter(sms_send::Column::MessageId.eq(report.message_id.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        let Some(send) = send else {
            return Ok(None);
        };
        let challenge_id = send_challenge(&send.id, &send.challenge_id)?;
        let result = delivery_statement(&send.id, report, at)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(Some(DeliveryUpdate {
            challenge_id,
            applied: result.rows_affected > 0,
        }))
    }
}
