//! The SQL user directory: user id → E.164 phone and, optionally, locale.

use async_trait::async_trait;
use mfa_totp_application::{Contact, StoreError, UserDirectoryReader, UserDirectoryWriter};
use mfa_totp_domain::{Locale, PhoneNumber, Timestamp, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TryInsertResult};

use crate::entities::user;
use crate::errors::store_error;
use crate::{SqlStore, millis};

#[async_trait]
impl UserDirectoryReader for SqlStore {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn contact(&self, user_id: &UserId) -> Result<Option<Contact>, StoreError> {
        let row = match &self.sqlite {
            Some(sqlite) => sqlite.user(user_id.as_str())?,
            None => crate::first_row(user::Entity::find_by_id(user_id.as_str()), self.reads())
                .await
                .map_err(store_error)?,
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let bad = |what: &str| {
            StoreError::Unexpected(anyhow::anyhow!(
                "stored {what} of user {user_id} is invalid"
            ))
        };
        Ok(Some(Contact {
            phone: PhoneNumber::parse(&row.phone_number).map_err(|_| bad("phone"))?,
            locale: row
                .locale
                .as_deref()
                .map(Locale::parse)
                .transpose()
                .map_err(|_| bad("locale"))?,
        }))
    }
}

#[async_trait]
impl UserDirectoryWriter for SqlStore {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn put_contact(
        &self,
        user_id: &UserId,
        contact: &Contact,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let phone = contact.phone.as_e164();
        let locale = contact.locale.as_ref().map(ToString::to_string);
        // Insert, or learn from the conflict that the user exists and update it. Each step
        // is one statement, so two concurrent PUTs cannot both report "created".
        let row = user::ActiveModel {
            user_id: Set(user_id.as_str().to_owned()),
            phone_number: Set(phone.to_owned()),
            locale: Set(locale.clone()),
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
            .col_expr(user::Column::PhoneNumber, Expr::value(phone))
            .col_expr(user::Column::Locale, Expr::value(locale))
            .col_expr(user::Column::UpdatedAt, Expr::value(millis(now)))
            .filter(user::Column::UserId.eq(user_id.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(false)
    }
}
