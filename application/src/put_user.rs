//! `PUT /users/{userId}`: feeds the SQL user directory with a user's phone.

use mfa_totp_domain::{PhoneRefused, UserId};

use crate::{Contact, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum PutUserError {
    /// The number may not receive codes: see [`mfa_totp_domain::PhonePolicy`].
    #[error("phoneNumber {0}")]
    PhoneRefused(PhoneRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    /// Creates or replaces the phone and locale. Returns `true` when the user is new.
    #[tracing::instrument(skip_all, fields(user_id = %user, phone = %contact.phone))]
    pub async fn put_user(&self, user: &UserId, contact: &Contact) -> Result<bool, PutUserError> {
        self.phones
            .check(&contact.phone)
            .map_err(PutUserError::PhoneRefused)?;
        let created = self
            .user_writer
            .put_contact(user, contact, self.clock.now())
            .await?;
        tracing::info!(created, "user phone stored");
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    fn contact() -> Contact {
        Contact {
            phone: mfa_totp_domain::PhoneNumber::parse("+447400123123").unwrap(),
            locale: Some(mfa_totp_domain::Locale::parse("de").unwrap()),
        }
    }

    #[tokio::test]
    async fn put_user_stores_the_phone_and_says_whether_it_is_new() {
        let mut m = Mocks::new();
        m.user_writer
            .expect_put_contact()
            .withf(|u, c, at| *u == user() && *c == contact() && *at == now())
            .times(1)
            .returning(|_, _, _| Ok(true));
        assert!(m.build().put_user(&user(), &contact()).await.unwrap());
    }

    #[tokio::test]
    async fn a_premium_rate_number_is_refused_before_anything_is_stored() {
        let mut m = Mocks::new();
        m.user_writer.expect_put_contact().never();
        let premium = Contact {
            phone: mfa_totp_domain::PhoneNumber::parse("+19002345678").unwrap(),
            locale: None,
        };
        let err = m.build().put_user(&user(), &premium).await.unwrap_err();
        assert!(matches!(
            err,
            PutUserError::PhoneRefused(mfa_totp_domain::PhoneRefused::Type(
                mfa_totp_domain::NumberType::PremiumRate,
                _
            ))
        ));
    }

    #[tokio::test]
    async fn put_user_reports_unavailable_storage() {
        let mut m = Mocks::new();
        m.user_writer
            .expect_put_contact()
            .returning(|_, _, _| Err(unavailable()));
        let err = m.build().put_user(&user(), &contact()).await.unwrap_err();
        assert!(matches!(
            err,
            PutUserError::Store(StoreError::Unavailable(_))
        ));
    }
}
