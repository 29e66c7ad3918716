//! `PUT /users/{userId}`: feeds the SQL user directory with a user's phone.

use mfa_totp_domain::{PhoneNumber, UserId};

use crate::{StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum PutUserError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    /// Creates or replaces the phone. Returns `true` when the user is new.
    #[tracing::instrument(skip_all, fields(user_id = %user, phone = %phone))]
    pub async fn put_user(&self, user: &UserId, phone: &PhoneNumber) -> Result<bool, PutUserError> {
        let created = self
            .user_writer
            .put_phone_number(user, phone, self.clock.now())
            .await?;
        tracing::info!(created, "user phone stored");
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+447700900123").unwrap()
    }

    #[tokio::test]
    async fn put_user_stores_the_phone_and_says_whether_it_is_new() {
        let mut m = Mocks::new();
        m.user_writer
            .expect_put_phone_number()
            .withf(|u, p, at| *u == user() && *p == phone() && *at == now())
            .times(1)
            .returning(|_, _, _| Ok(true));
        assert!(m.build().put_user(&user(), &phone()).await.unwrap());
    }

    #[tokio::test]
    async fn put_user_reports_unavailable_storage() {
        let mut m = Mocks::new();
        m.user_writer
            .expect_put_phone_number()
            .returning(|_, _, _| Err(unavailable()));
        let err = m.build().put_user(&user(), &phone()).await.unwrap_err();
        assert!(matches!(
            err,
            PutUserError::Store(StoreError::Unavailable(_))
        ));
    }
}
