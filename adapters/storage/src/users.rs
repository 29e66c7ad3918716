//! The SQL user directory: user id → E.164 phone and, optionally, locale.

use async_trait::async_trait;
use mfa_totp_application::{Contact, StoreError, UserDirectoryReader, UserDirectoryWriter};
use mfa_totp_domain::{Locale, PhoneNumber, Timestamp, UserId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

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
        if let Some(sqlite) = &self.sqlite {
            return sqlite.put_contact(user_id, contact, now).await;
        }
        // Insert, or learn from the conflict that the user exists and update it. Each step
        // is one statement, so two concurrent PUTs cannot both report "created".
        let inserted = insert_statement(user_id, contact, now)
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        if inserted == 1 {
            return Ok(true);
        }
        update_statement(user_id, contact, now)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(false)
    }
}

/// A new user's row; it changes nothing when the user exists.
pub(crate) fn insert_statement(
    user_id: &UserId,
    contact: &Contact,
    now: Timestamp,
) -> sea_orm::Insert<user::ActiveModel> {
    user::Entity::insert(user::ActiveModel {
        user_id: Set(user_id.as_str().to_owned()),
        phone_number: Set(contact.phone.as_e164().to_owned()),
        locale: Set(contact.locale.as_ref().map(ToString::to_string)),
        created_at: Set(millis(now)),
        updated_at: Set(millis(now)),
    })
    .on_conflict(
        OnConflict::column(user::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
}

/// An existing user's phone and locale, replaced.
pub(crate) fn update_statement(
    user_id: &UserId,
    contact: &Contact,
    now: Timestamp,
) -> sea_orm::UpdateMany<user::Entity> {
    user::Entity::update_many()
        .col_expr(
            user::Column::PhoneNumber,
            Expr::value(contact.phone.as_e164()),
        )
        .col_expr(
            user::Column::Locale,
            Expr::value(contact.locale.as_ref().map(ToString::to_string)),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(millis(now)))
        .filter(user::Column::UserId.eq(user_id.as_str()))
}
