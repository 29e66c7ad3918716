//! `StepUpContextRepository` on SQL.

use async_trait::async_trait;
use mfa_totp_application::{StepUpContextRepository, StoreError};
use mfa_totp_domain::{
    AuditEvent, ChallengeId, ChallengeStatus, ContextState, Operation, StepUpContext, Timestamp,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::entities::{challenge, step_up_context};
use crate::errors::store_error;
use crate::{SqlStore, from_millis, millis};

pub(crate) fn to_domain(
    id: ChallengeId,
    row: step_up_context::Model,
) -> Result<StepUpContext, StoreError> {
    let bad =
        |what: String| StoreError::Unexpected(anyhow::anyhow!("stored context of {id}: {what}"));
    let attributes = match serde_json::from_str(&row.attributes).map_err(|e| bad(e.to_string()))? {
        serde_json::Value::Object(map) => map,
        _ => return Err(bad("attributes are not an object".into())),
    };
    Ok(StepUpContext {
        challenge_id: id,
        operation: Operation::parse(&row.operation).map_err(|e| bad(e.to_string()))?,
        attributes,
        locale: row
            .locale
            .as_deref()
            .map(mfa_totp_domain::Locale::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        state: row
            .state
            .parse()
            .map_err(|e: mfa_totp_domain::UnknownName| bad(e.to_string()))?,
        consumed_at: row.consumed_at.map(from_millis).transpose()?,
    })
}

#[async_trait]
impl StepUpContextRepository for SqlStore {
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn find_context(&self, id: ChallengeId) -> Result<Option<StepUpContext>, StoreError> {
        crate::first_row(
            step_up_context::Entity::find_by_id(id.to_string()),
            self.reads(),
        )
        .await
        .map_err(store_error)?
        .map(|row| to_domain(id, row))
        .transpose()
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn consume(
        &self,
        id: ChallengeId,
        now: Timestamp,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let verified = Query::select()
            .column(challenge::Column::Id)
            .from(challenge::Entity)
            .and_where(challenge::Column::Id.eq(id.to_string()))
            .and_where(challenge::Column::Status.eq(ChallengeStatus::Verified.as_str()))
            .to_owned();
        let result = step_up_context::Entity::update_many()
            .col_expr(
                step_up_context::Column::State,
                Expr::value(ContextState::Consumed.as_str()),
            )
            .col_expr(
                step_up_context::Column::ConsumedAt,
                Expr::value(millis(now)),
            )
            .filter(step_up_context::Column::ChallengeId.eq(id.to_string()))
            .filter(step_up_context::Column::State.eq(ContextState::Active.as_str()))
            .filter(step_up_context::Column::ChallengeId.in_subquery(verified));
        let txn = self.db.begin().await.map_err(store_error)?;
        if result.exec(&txn).await.map_err(store_error)?.rows_affected != 1 {
            txn.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        crate::audit::insert_events(&txn, std::slice::from_ref(event)).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }
}
