//! A provider's delivery report (Twilio's status callback) updates the send it is about.

use mfa_totp_domain::DeliveryStatus;

use crate::{StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    /// Sets the delivery status of the message `provider` knows as `message_id`. Returns
    /// whether such a send was found; a report about an unknown message changes nothing.
    #[tracing::instrument(skip_all, fields(provider, status = %status))]
    pub async fn record_delivery(
        &self,
        provider: &str,
        message_id: &str,
        status: DeliveryStatus,
    ) -> Result<bool, DeliveryError> {
        let found = self
            .sends
            .update_delivery(provider, message_id, status, self.clock.now())
            .await?;
        if found {
            tracing::info!("delivery report recorded");
        } else {
            tracing::warn!("delivery report for an unknown message");
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockSmsSendLog;
    use crate::test_support::*;

    #[tokio::test]
    async fn a_delivery_report_updates_the_send_it_names() {
        let mut m = Mocks::new();
        let mut sends = MockSmsSendLog::new();
        sends
            .expect_update_delivery()
            .withf(|p, id, s, at| {
                (p, id, *s, *at) == ("twilio", "SM1", DeliveryStatus::Delivered, now())
            })
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        m.sends = sends;
        let found = m
            .build()
            .record_delivery("twilio", "SM1", DeliveryStatus::Delivered)
            .await
            .unwrap();
        assert!(found);
    }

    #[tokio::test]
    async fn a_delivery_report_reports_unavailable_storage() {
        let mut m = Mocks::new();
        let mut sends = MockSmsSendLog::new();
        sends
            .expect_update_delivery()
            .returning(|_, _, _, _| Err(unavailable()));
        m.sends = sends;
        let err = m
            .build()
            .record_delivery("twilio", "SM1", DeliveryStatus::Failed)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DeliveryError::Store(StoreError::Unavailable(_))
        ));
    }
}
