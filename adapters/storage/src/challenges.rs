//! `ChallengeRepository` on SQL. A change arrives decided: storage writes the challenge as
//! the domain left it, over the version it was decided on (`WHERE version = guard`), with
//! its charges, refunds and audit events, in one transaction. It decides no rule itself.

use async_trait::async_trait;
use mfa_totp_application::{ChallengeChange, ChallengeRepository, Change, StoreError};
use mfa_totp_domain::{
    Challenge, ChallengeId, ChallengeRecord, ChallengeStatus, ClientId, IssuedCode, SealedSecret,
    StepUpContext, Timestamp, UserId,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, Insert, QueryFilter, Set, UpdateMany};

use crate::entities::{challenge, step_up_context};
use crate::errors::store_error;
use crate::{SqlStore, from_millis, millis};

fn unexpected(message: String) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(message))
}

/// The challenge's row as the domain left it.
fn challenge_row(c: &Challenge) -> challenge::ActiveModel {
    let code = c.code();
    challenge::ActiveModel {
        id: Set(c.id().to_string()),
        subject_user_id: Set(c.subject().as_str().to_owned()),
        status: Set(c.status().as_str().to_owned()),
        secret_sealed: Set(c.secret().as_str().to_owned()),
        client_id: Set(c.client().map(|c| c.as_str().to_owned())),
        created_at: Set(millis(c.created_at())),
        expires_at: Set(millis(c.expires_at())),
        code_step: Set(code.map(|c| c.step as i64)),
        code_issued_at: Set(code.map(|c| millis(c.issued_at))),
        send_count: Set(c.send_count() as i32),
        last_sent_at: Set(c.last_sent_at().map(millis)),
        failed_attempts: Set(c.failed_attempts() as i32),
        verified_at: Set(c.verified_at().map(millis)),
        sent_to: Set(c.sent_to().map(str::to_owned)),
        version: Set(c.version() as i32),
    }
}

/// The context's row as the domain left it.
fn context_row(c: &StepUpContext, created_at: i64) -> step_up_context::ActiveModel {
    step_up_context::ActiveModel {
        challenge_id: Set(c.challenge_id.to_string()),
        operation: Set(c.operation.as_str().to_owned()),
        attributes: Set(serde_json::Value::Object(c.attributes.clone()).to_string()),
        state: Set(c.state.as_str().to_owned()),
        locale: Set(c.locale.as_ref().map(ToString::to_string)),
        created_at: Set(created_at),
        consumed_at: Set(c.consumed_at.map(millis)),
    }
}

/// A new challenge's row.
pub(crate) fn insert_challenge(c: &Challenge) -> Insert<challenge::ActiveModel> {
    challenge::Entity::insert(challenge_row(c))
}

/// A new challenge's context.
pub(crate) fn insert_context(
    c: &StepUpContext,
    created_at: i64,
) -> Insert<step_up_context::ActiveModel> {
    step_up_context::Entity::insert(context_row(c, created_at))
}

/// The challenge as the domain left it, over the version `guard` (it changes one row, or
/// none when another change came first). What never changes is not written.
pub(crate) fn update_challenge(c: &Challenge, guard: u32) -> UpdateMany<challenge::Entity> {
    let mut row = challenge_row(c);
    for immutable in [
        challenge::Column::Id,
        challenge::Column::SubjectUserId,
        challenge::Column::SecretSealed,
        challenge::Column::ClientId,
        challenge::Column::CreatedAt,
        challenge::Column::ExpiresAt,
    ] {
        row.not_set(immutable);
    }
    challenge::Entity::update_many()
        .set(row)
        .filter(challenge::Column::Id.eq(c.id().to_string()))
        .filter(challenge::Column::Version.eq(guard as i32))
}

/// The context's state as the domain left it (written under its challenge's guard).
pub(crate) fn update_context(c: &StepUpContext) -> UpdateMany<step_up_context::Entity> {
    step_up_context::Entity::update_many()
        .col_expr(
            step_up_context::Column::State,
            sea_orm::sea_query::Expr::value(c.state.as_str()),
        )
        .col_expr(
            step_up_context::Column::ConsumedAt,
            sea_orm::sea_query::Expr::value(c.consumed_at.map(millis)),
        )
        .filter(step_up_context::Column::ChallengeId.eq(c.challenge_id.to_string()))
}

pub(crate) fn to_domain(row: challenge::Model) -> Result<Challenge, StoreError> {
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
        version: u32::try_from(row.version)
            .map_err(|_| unexpected(format!("negative version on {id}")))?,
        id,
    };
    Challenge::restore(record).map_err(|e| unexpected(format!("stored challenge {id}: {e}")))
}

#[async_trait]
impl ChallengeRepository for SqlStore {
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn find(&self, id: ChallengeId) -> Result<Option<Challenge>, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.find(id);
        }
        crate::first_row(challenge::Entity::find_by_id(id.to_string()), self.reads())
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    async fn find_with_context(
        &self,
        id: ChallengeId,
    ) -> Result<Option<(Challenge, Option<StepUpContext>)>, StoreError> {
        if let Some(sqlite) = &self.sqlite {
            return sqlite.find_with_context(id);
        }
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
        Ok(Some((to_domain(row)?, context)))
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %change.challenge.id()))]
    async fn apply(&self, change: &ChallengeChange) -> Result<Change, StoreError> {
        match &self.sqlite {
            Some(sqlite) => sqlite.apply(change).await,
            None => crate::postgres::apply(&self.db, change).await,
        }
    }

    /// Read on the writing pool: a sweep must see the changes just written.
    async fn find_overdue(&self, now: Timestamp, batch: u32) -> Result<Vec<Challenge>, StoreError> {
        use sea_orm::{QueryOrder, QuerySelect};
        let live = [ChallengeStatus::Pending, ChallengeStatus::CodeSent].map(|s| s.as_str());
        challenge::Entity::find()
            .filter(challenge::Column::Status.is_in(live))
            .filter(challenge::Column::ExpiresAt.lte(millis(now)))
            .order_by_asc(challenge::Column::ExpiresAt)
            .limit(u64::from(batch))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(to_domain)
            .collect()
    }
}
