//! A provider's delivery report (Twilio's status callback) updates the send it is about, and
//! goes into the challenge's audit trail.

use mfa_totp_domain::{Actor, AuditEvent, AuditKind, AuditOutcome};

use crate::audit::log_event;
use crate::{DeliveryReport, StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCases {
    /// Applies `report` to the send it names: the status moves only forward, so a late or
    /// replayed report changes nothing, and every report of a known send writes a
    /// `DELIVERY_REPORTED` event with the provider's error code. Returns whether such a send
    /// was found; a report about an unknown message changes nothing.
    #[tracing::instrument(skip_all, fields(provider = %report.provider, status = %report.status))]
    pub async fn record_delivery(
        &self,
        who: &Actor,
        report: DeliveryReport,
    ) -> Result<bool, DeliveryError> {
        let now = self.clock.now();
        let Some(update) = self.sends.update_delivery(&report, now).await? else {
            tracing::warn!("delivery report for an unknown message");
            return Ok(false);
        };
        if update.applied {
            tracing::info!("delivery report recorded");
        } else {
            tracing::info!("delivery report of a status the message is past: status kept");
        }
        if let Some(challenge) = self.challenges.find(update.challenge_id).await? {
            let event = AuditEvent::new(
                AuditKind::DeliveryReported,
                now,
                who,
                Some(update.challenge_id),
                challenge.subject(),
                AuditOutcome::Delivery(report.status),
            )
            .with_message(Some(report.provider), Some(report.message_id))
            .with_error_code(report.error_code);
            let subscriber = self.subscriptions.subscriber(&challenge, &event);
            let event = event.notifying(subscriber);
            self.audit.record(&event).await?;
            log_event(&event);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use mfa_totp_domain::{ChallengeStatus, DeliveryStatus};

    use super::*;
    use crate::DeliveryUpdate;
    use crate::ports::MockSmsSendLog;
    use crate::test_support::*;

    fn report(status: DeliveryStatus) -> DeliveryReport {
        DeliveryReport {
            provider: "twilio".into(),
            message_id: "SM1".into(),
            status,
            error_code: Some("30008".into()),
        }
    }

    fn sends_answering(update: Option<DeliveryUpdate>) -> MockSmsSendLog {
        let mut sends = MockSmsSendLog::new();
        sends
            .expect_update_delivery()
            .withf(|r, at| *r == report(DeliveryStatus::Undelivered) && *at == now())
            .times(1)
            .returning(move |_, _| Ok(update));
        sends
    }

    #[tokio::test]
    async fn a_report_updates_its_send_and_is_audited_with_the_error_code() {
        for applied in [true, false] {
            let mut m = Mocks::new().with_challenge(challenge(ChallengeStatus::CodeSent));
            m.sends = sends_answering(Some(DeliveryUpdate {
                challenge_id: challenge_id(),
                applied,
            }));
            m.audit
                .expect_record()
                .withf(|e| {
                    e.kind == AuditKind::DeliveryReported
                        && e.outcome == AuditOutcome::Delivery(DeliveryStatus::Undelivered)
                        && e.error_code.as_deref() == Some("30008")
                        && e.provider.as_deref() == Some("twilio")
                        && e.message_id.as_deref() == Some("SM1")
                        && e.challenge_id == Some(challenge_id())
                })
                .times(1)
                .returning(|_| Ok(()));
            let found = m
                .build()
                .record_delivery(&who(), report(DeliveryStatus::Undelivered))
                .await
                .unwrap();
            assert!(found);
        }
    }

    #[tokio::test]
    async fn a_report_of_an_unknown_message_changes_and_audits_nothing() {
        let mut m = Mocks::new();
        m.sends = sends_answering(None);
        m.audit.expect_record().never();
        let found = m
            .build()
            .record_delivery(&who(), report(DeliveryStatus::Undelivered))
            .await
            .unwrap();
        assert!(!found);
    }

    #[tokio::test]
    async fn a_delivery_report_reports_unavailable_storage() {
        let mut m = Mocks::new();
        let mut sends = MockSmsSendLog::new();
        sends
            .expect_update_delivery()
            .returning(|_, _| Err(unavailable()));
        m.sends = sends;
        let err = m
            .build()
            .record_delivery(&who(), report(DeliveryStatus::Failed))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DeliveryError::Store(StoreError::Unavailable(_))
        ));
    }
}
