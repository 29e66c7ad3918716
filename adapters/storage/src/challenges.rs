//! `ChallengeRepository` on SQL. Each change is a conditional UPDATE whose WHERE clause is
//! the snapshot the domain decided on; `rows_affected == 1` means this request won.

use async_trait::async_trait;
use mfa_totp_application::{ChallengeRepository, Change, StoreError};
use mfa_totp_domain::{
    AuditEvent, Challenge, ChallengeId, ChallengeRecord, ChallengeStatus, ClientId, ContextState,
    IssuedCode, LimitCharge, SealedSecret, SendPlan, StepUpContext, Timestamp, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait, UpdateMany,
};

use crate::entities::{challenge, step_up_context};
use crate::errors::store_error;
use crate::{SqlStore, audit, from_millis, limits, millis};

const LIVE: [ChallengeStatus; 2] = [ChallengeStatus::Pending, ChallengeStatus::CodeSent];
/// The states `Challenge::after_cancel` allows.
const CANCELLABLE: [ChallengeStatus; 3] = [
    ChallengeStatus::Pending,
    ChallengeStatus::CodeSent,
    ChallengeStatus::Verified,
];

fn status_in(statuses: &[ChallengeStatus]) -> SimpleExpr {
    challenge::Column::Status.is_in(statuses.iter().map(|s| s.as_str()))
}

fn id_is(id: ChallengeId) -> SimpleExpr {
    challenge::Column::Id.eq(id.to_string())
}

fn unexpected(message: String) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(message))
}

/// Runs a conditional update and says whether it changed the row.
async fn applied(
    db: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<challenge::Entity>,
) -> Result<bool, StoreError> {
    let result = update.exec(db).await.map_err(store_error)?;
    Ok(result.rows_affected == 1)
}

impl SqlStore {
    /// One change in one transaction: the limit charges first (every change takes limit rows
    /// before the challenge row, so concurrent changes on PostgreSQL cannot deadlock), then
    /// the conditional `update`, then the audit events. Nothing is written unless all of it is.
    async fn change(
        &self,
        charges: &[LimitCharge],
        update: sea_orm::UpdateMany<challenge::Entity>,
        events: &[AuditEvent],
    ) -> Result<Change, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        if let Some(reached) = limits::charge_all(&txn, charges).await? {
            txn.rollback().await.map_err(store_error)?;
            return Ok(Change::Limited(reached));
        }
        if !applied(&txn, update).await? {
            txn.rollback().await.map_err(store_error)?;
            return Ok(Change::Stale);
        }
        audit::insert_events(&txn, events).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(Change::Applied)
    }

    fn to_domain(&self, row: challenge::Model) -> Result<Challenge, StoreError> {
        let id = ChallengeId::parse(&row.id)
            .map_err(|_| unexpected(format!("stored id '{}' is not a UUID", row.id)))?;
        let code = match (row.code_step, row.code_issued_at) {
            (Some(step), Some(at)) => Some(IssuedCode {
                step: u64::try_from(step)
                    .map_err(|_| unexpected(format!("negative code step on {id}")))?,
                issued_at: from_millis(at)?,
            }),
            _ => None,
        };
        let count = |value: i32, what: &str| {
            u32::try_from(value).map_err(|_| unexpected(format!("negative {what} on {id}")))
        };
        let record = ChallengeRecord {
            subject: UserId::parse(&row.subject_user_id)
                .map_err(|e| unexpected(format!("stored subject of {id}: {e}")))?,
            status: row
                .status
                .parse()
                .map_err(|e: mfa_totp_domain::UnknownName| unexpected(e.to_string()))?,
            client: row
                .client_id
                .as_deref()
                .map(ClientId::parse)
                .transpose()
                .map_err(|e| unexpected(format!("stored client of {id}: {e}")))?,
            secret: SealedSecret::new(row.secret_sealed),
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            code,
            send_count: count(row.send_count, "send count")?,
            last_sent_at: row.last_sent_at.map(from_millis).transpose()?,
            failed_attempts: count(row.failed_attempts, "failed attempts")?,
            verified_at: row.verified_at.map(from_millis).transpose()?,
            sent_to: row.sent_to,
            id,
        };
        Challenge::restore(record).map_err(|e| unexpected(format!("stored challenge {id}: {e}")))
    }
}

#[async_trait]
impl ChallengeRepository for SqlStore {
    #[tracing::instrument(skip_all, fields(challenge_id = %challenge.id()))]
    async fn insert(
        &self,
        challenge: &Challenge,
        context: &StepUpContext,
        charges: &[LimitCharge],
        event: &AuditEvent,
    ) -> Result<Change, StoreError> {
        let id = challenge.id().to_string();
        let code = challenge.code();
        let row = challenge::ActiveModel {
            id: Set(id.clone()),
            subject_user_id: Set(challenge.subject().as_str().to_owned()),
            status: Set(challenge.status().as_str().to_owned()),
            secret_sealed: Set(challenge.secret().as_str().to_owned()),
            client_id: Set(challenge.client().map(|c| c.as_str().to_owned())),
            created_at: Set(millis(challenge.created_at())),
            expires_at: Set(millis(challenge.expires_at())),
            code_step: Set(code.map(|c| c.step as i64)),
            code_issued_at: Set(code.map(|c| millis(c.issued_at))),
            send_count: Set(challenge.send_count() as i32),
            last_sent_at: Set(challenge.last_sent_at().map(millis)),
            failed_attempts: Set(challenge.failed_attempts() as i32),
            verified_at: Set(challenge.verified_at().map(millis)),
            sent_to: Set(challenge.sent_to().map(str::to_owned)),
        };
        let context_row = step_up_context::ActiveModel {
            challenge_id: Set(id),
            operation: Set(context.operation.as_str().to_owned()),
            attributes: Set(serde_json::Value::Object(context.attributes.clone()).to_string()),
            state: Set(context.state.as_str().to_owned()),
            locale: Set(context.locale.as_ref().map(ToString::to_string)),
            created_at: Set(millis(challenge.created_at())),
            consumed_at: Set(context.consumed_at.map(millis)),
        };
        let txn = self.db.begin().await.map_err(store_error)?;
        if let Some(reached) = limits::charge_all(&txn, charges).await? {
            txn.rollback().await.map_err(store_error)?;
            return Ok(Change::Limited(reached));
        }
        challenge::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        step_up_context::Entity::insert(context_row)
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        audit::insert_events(&txn, std::slice::from_ref(event)).await?;
        txn.commit().await.map_err(store_error)?;
        Ok(Change::Applied)
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn find(&self, id: ChallengeId) -> Result<Option<Challenge>, StoreError> {
        crate::first_row(challenge::Entity::find_by_id(id.to_string()), self.reads())
            .await
            .map_err(store_error)?
            .map(|row| self.to_domain(row))
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn find_with_context(
        &self,
        id: ChallengeId,
    ) -> Result<Option<(Challenge, Option<StepUpContext>)>, StoreError> {
        let Some((row, context)) = challenge::Entity::find_by_id(id.to_string())
            .find_also_related(step_up_context::Entity)
            .all(self.reads())
            .await
            .map_err(store_error)?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let context = context
            .map(|row| crate::contexts::to_domain(id, row))
            .transpose()?;
        Ok(Some((self.to_domain(row)?, context)))
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn record_send(
        &self,
        id: ChallengeId,
        plan: &SendPlan,
        charges: &[LimitCharge],
    ) -> Result<Change, StoreError> {
        let update = SendColumns {
            status: ChallengeStatus::CodeSent,
            code: Some(plan.code),
            send_count: Expr::col(challenge::Column::SendCount).add(1),
            last_sent_at: Some(plan.sent_at),
            sent_to: match &plan.sent_to {
                Some(to) => Expr::value(to.clone()),
                None => Expr::col(challenge::Column::SentTo),
            },
        }
        .update()
        .filter(id_is(id))
        .filter(status_in(&LIVE))
        .filter(challenge::Column::SendCount.eq(plan.expected_send_count as i32));
        self.change(charges, update, &[]).await
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %before.id()))]
    async fn undo_send(
        &self,
        before: &Challenge,
        plan: &SendPlan,
        charges: &[LimitCharge],
    ) -> Result<bool, StoreError> {
        let update = SendColumns {
            status: before.status(),
            code: before.code(),
            send_count: Expr::value(before.send_count() as i32),
            last_sent_at: before.last_sent_at(),
            sent_to: Expr::value(before.sent_to().map(str::to_owned)),
        }
        .update()
        .filter(id_is(before.id()))
        .filter(challenge::Column::Status.eq(ChallengeStatus::CodeSent.as_str()))
        .filter(challenge::Column::SendCount.eq(plan.expected_send_count as i32 + 1))
        .filter(challenge::Column::LastSentAt.eq(millis(plan.sent_at)))
        // A wrong code counted since the send would be lost, and the row left `PENDING`
        // with a failed attempt; such a send stays recorded instead.
        .filter(challenge::Column::FailedAttempts.eq(before.failed_attempts() as i32));
        // Refunds first: limit rows before the challenge row, as every change takes them.
        let txn = self.db.begin().await.map_err(store_error)?;
        limits::refund_all(&txn, charges).await?;
        if !applied(&txn, update).await? {
            txn.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn record_failed_attempt(
        &self,
        id: ChallengeId,
        max_failed: u32,
        charges: &[LimitCharge],
        events: &[AuditEvent],
    ) -> Result<Change, StoreError> {
        let max = max_failed as i32;
        let next_status = Expr::case(
            Expr::col(challenge::Column::FailedAttempts).add(1).gte(max),
            ChallengeStatus::Locked.as_str(),
        )
        .finally(Expr::col(challenge::Column::Status));
        let update = challenge::Entity::update_many()
            .col_expr(
                challenge::Column::FailedAttempts,
                Expr::col(challenge::Column::FailedAttempts).add(1),
            )
            .col_expr(challenge::Column::Status, next_status.into())
            .filter(id_is(id))
            .filter(challenge::Column::Status.eq(ChallengeStatus::CodeSent.as_str()))
            .filter(challenge::Column::FailedAttempts.lt(max));
        self.change(charges, update, events).await
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn mark_verified(
        &self,
        id: ChallengeId,
        code: IssuedCode,
        now: Timestamp,
        charges: &[LimitCharge],
        event: &AuditEvent,
    ) -> Result<Change, StoreError> {
        let update = challenge::Entity::update_many()
            .col_expr(
                challenge::Column::Status,
                Expr::value(ChallengeStatus::Verified.as_str()),
            )
            .col_expr(challenge::Column::VerifiedAt, Expr::value(millis(now)))
            .filter(id_is(id))
            .filter(challenge::Column::Status.eq(ChallengeStatus::CodeSent.as_str()))
            .filter(challenge::Column::CodeStep.eq(code.step as i64))
            .filter(challenge::Column::CodeIssuedAt.eq(millis(code.issued_at)))
            .filter(challenge::Column::ExpiresAt.gt(millis(now)));
        self.change(charges, update, std::slice::from_ref(event))
            .await
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn mark_expired(
        &self,
        id: ChallengeId,
        now: Timestamp,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let update = challenge::Entity::update_many()
            .col_expr(
                challenge::Column::Status,
                Expr::value(ChallengeStatus::Expired.as_str()),
            )
            .filter(id_is(id))
            .filter(status_in(&LIVE))
            .filter(challenge::Column::ExpiresAt.lte(millis(now)));
        let change = self
            .change(&[], update, std::slice::from_ref(event))
            .await?;
        Ok(change == Change::Applied)
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn cancel(
        &self,
        id: ChallengeId,
        read_as: ChallengeStatus,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let challenge_cancelled = applied(
            &txn,
            challenge::Entity::update_many()
                .col_expr(
                    challenge::Column::Status,
                    Expr::value(ChallengeStatus::Cancelled.as_str()),
                )
                .filter(id_is(id))
                .filter(challenge::Column::Status.eq(read_as.as_str()))
                .filter(status_in(&CANCELLABLE)),
        )
        .await?;
        let context_cancelled = challenge_cancelled
            && step_up_context::Entity::update_many()
                .col_expr(
                    step_up_context::Column::State,
                    Expr::value(ContextState::Cancelled.as_str()),
                )
                .filter(step_up_context::Column::ChallengeId.eq(id.to_string()))
                .filter(step_up_context::Column::State.eq(ContextState::Active.as_str()))
                .exec(&txn)
                .await
                .map_err(store_error)?
                .rows_affected
                == 1;
        if context_cancelled {
            audit::insert_events(&txn, std::slice::from_ref(event)).await?;
            txn.commit().await.map_err(store_error)?;
        } else {
            txn.rollback().await.map_err(store_error)?;
        }
        Ok(context_cancelled)
    }
}

/// The columns a send changes: the status, the code in play, the count, when and to whom.
/// `record_send` writes them after a send, `undo_send` puts back the values before it.
struct SendColumns {
    status: ChallengeStatus,
    code: Option<IssuedCode>,
    send_count: SimpleExpr,
    last_sent_at: Option<Timestamp>,
    sent_to: SimpleExpr,
}

impl SendColumns {
    fn update(self) -> UpdateMany<challenge::Entity> {
        challenge::Entity::update_many()
            .col_expr(challenge::Column::Status, Expr::value(self.status.as_str()))
            .col_expr(
                challenge::Column::CodeStep,
                Expr::value(self.code.map(|c| c.step as i64)),
            )
            .col_expr(
                challenge::Column::CodeIssuedAt,
                Expr::value(self.code.map(|c| millis(c.issued_at))),
            )
            .col_expr(challenge::Column::SendCount, self.send_count)
            .col_expr(
                challenge::Column::LastSentAt,
                Expr::value(self.last_sent_at.map(millis)),
            )
            .col_expr(challenge::Column::SentTo, self.sent_to)
    }
}
