//! The SQL user directory: user id → E.164 phone.

use async_trait::async_trait;
use mfa_totp_application::{StoreError, UserDirectoryReader, UserDirectoryWriter};
use mfa_totp_domain::{PhoneNumber, Timestamp, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TryInsertResult};

use crate::entities::user;
use crate::errors::store_error;
use crate::{SqlStore, millis};

#[async_trait]
impl UserDirectoryReader for SqlStore {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn phone_number(&self, user_id: &UserId) -> Result<Option<PhoneNumber>, StoreError> {
        let Some(row) = user::Entity::find_by_id(user_id.as_str())
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        PhoneNumber::parse(&row.phone_number)
            .map(Some)
            .map_err(|_| {
                StoreError::Unexpected(anyhow::anyhow!(
                    "stored phone of user {user_id} is not E.164"
                ))
            })
    }
}

#[async_trait]
impl UserDirectoryWriter for SqlStore {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn put_phone_number(
        &self,
        user_id: &UserId,
        phone: &PhoneNumber,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // Insert, or learn from the conflict that the user exists and update it. Each step
        // is one statement, so two concurrent PUTs cannot both report "created".
        let row = user::ActiveModel {
            user_id: Set(user_id.as_str().to_owned()),
            phone_number: Set(phone.as_e164().to_owned()),
            created_at: Set(millis(now)),
            updated_at: Set(millis(now)),
        };
        let inserted = user::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        if matches!(inserted, TryInsertResult::Inserted(1)) {
            return Ok(true);
        }
        user::Entity::update_many()
            .col_expr(user::Column::PhoneNumber, Expr::value(phone.as_e164()))
            .col_expr(user::Column::UpdatedAt, Expr::value(millis(now)))
            .filter(user::Column::UserId.eq(user_id.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(false)
    }
}
