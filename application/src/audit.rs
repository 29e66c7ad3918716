//! The audit trail: every event is written by the change it records (see the ports), then
//! logged here on target `audit`, so that a log pipeline can ship it. Support staff read a
//! challenge's events through [`UseCases::challenge_events`].

use mfa_totp_domain::{Actor, AuditEvent, AuditKind, Challenge, ChallengeId, Timestamp};

use crate::{StoreError, UseCases};

#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    #[error("challenge not found")]
    ChallengeNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An event of `challenge`, naming the masked phone its last code went to (none before a
/// send).
pub(crate) fn challenge_event(
    kind: AuditKind,
    at: Timestamp,
    who: &Actor,
    challenge: &Challenge,
    outcome: &str,
) -> AuditEvent {
    let event = AuditEvent::new(
        kind,
        at,
        who,
        Some(challenge.id()),
        challenge.subject(),
        outcome,
    );
    match challenge.sent_to() {
        Some(masked) => event.with_phone(masked),
        None => event,
    }
}

/// The structured log line of an event that was written. It holds what the row holds: ids,
/// the masked phone, never a code or a full number.
pub fn log_event(event: &AuditEvent) {
    tracing::info!(
        target: "audit",
        event = event.kind.as_str(),
        at = %event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        audit_request_id = %event.request_id,
        challenge_id = %event.challenge_id.map(|id| id.to_string()).unwrap_or_default(),
        subject = %event.subject,
        actor = %event.actor,
        masked_phone = event.masked_phone.as_deref().unwrap_or(""),
        outcome = %event.outcome,
        limit = event.limit.map(|l| l.as_str()).unwrap_or(""),
        provider = event.provider.as_deref().unwrap_or(""),
        message_id = event.message_id.as_deref().unwrap_or(""),
        "audit event"
    );
}

impl UseCases {
    /// Records a refusal (by a limit, or of a stored number): its own write, since the
    /// refused change wrote nothing. A failure to record it is logged, not returned: the
    /// caller is refused either way.
    pub(crate) async fn record_refusal(&self, event: AuditEvent) {
        match self.audit.record(&event).await {
            Ok(()) => log_event(&event),
            Err(error) => {
                tracing::warn!(error = %error, "a limit refusal could not be recorded");
                log_event(&event);
            }
        }
    }

    /// The challenge's events, oldest first, for support staff.
    #[tracing::instrument(skip_all, fields(challenge_id = %id))]
    pub async fn challenge_events(
        &self,
        id: ChallengeId,
    ) -> Result<Vec<AuditEvent>, AuditReadError> {
        let events = self.audit.events(id).await?;
        if events.is_empty() && self.challenges.find(id).await?.is_none() {
            return Err(AuditReadError::ChallengeNotFound);
        }
        Ok(events)
    }
}
