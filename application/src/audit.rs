//! The audit trail: every event is written by the change it records (see the ports), then
//! logged here on target `audit`, so that a log pipeline can ship it. Support staff read a
//! challenge's events through [`UseCases::challenge_events`].

use mfa_totp_domain::{
    Actor, AuditEvent, AuditKind, AuditOutcome, Challenge, ChallengeId, SendOutcome, Timestamp,
};

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
    outcome: AuditOutcome,
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

/// The metrics the audit events move. Their names are an interface (the README lists them);
/// labels hold only fixed vocabularies, never a user id, phone or code.
pub mod metric {
    /// Challenges created.
    pub const CHALLENGES_CREATED: &str = "mfa_totp_challenges_created_total";
    /// Verified step-up request contexts handed over by `:consume`.
    pub const CONTEXTS_CONSUMED: &str = "mfa_totp_contexts_consumed_total";
    /// Challenges that reached a final state, by `state` (`verified`, `locked`, `expired`,
    /// `cancelled`).
    pub const CHALLENGES_FINISHED: &str = "mfa_totp_challenges_finished_total";
    /// `:verify` results that changed something or were refused by a limit, by `outcome`.
    pub const VERIFICATIONS: &str = "mfa_totp_verifications_total";
    /// Refusals by a limit across challenges, by `limit`.
    pub const LIMIT_REFUSALS: &str = "mfa_totp_limit_refusals_total";
    /// SMS sends as the use case saw them, by `provider` (`none` when none took it) and
    /// `outcome`.
    pub const SMS_SENDS: &str = "mfa_totp_sms_sends_total";
    /// How long a send took from the first provider request to the outcome, by `provider`.
    pub const SMS_SEND_DURATION: &str = "mfa_totp_sms_send_duration_seconds";

    /// The `outcome`s of [`VERIFICATIONS`]: a right code, a wrong one, one refused by the
    /// wrong-code limit.
    pub(crate) const VERIFIED: &str = "verified";
    pub(crate) const INVALID_OTP: &str = "invalid_otp";
    pub(crate) const LIMITED: &str = "limited";

    /// Describes these metrics (their HELP text) and registers each series at 0, for the
    /// SMS `providers` configured (and `none`, for a send no provider took).
    pub fn describe_and_register(providers: &[&'static str]) {
        use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
        use mfa_totp_domain::{AuditKind, SendOutcome};
        describe_counter!(CHALLENGES_CREATED, "Challenges created.");
        describe_counter!(
            CONTEXTS_CONSUMED,
            "Verified step-up request contexts handed over by :consume."
        );
        describe_counter!(
            CHALLENGES_FINISHED,
            "Challenges that reached a final state, by state."
        );
        describe_counter!(
            VERIFICATIONS,
            "Code verifications that changed a challenge or were refused by a limit, by outcome."
        );
        describe_counter!(
            LIMIT_REFUSALS,
            "Requests refused by a limit across challenges, by limit."
        );
        describe_counter!(
            SMS_SENDS,
            "SMS sends as the use case saw them, by the provider that took, refused or last failed them (none when no provider was reached) and outcome."
        );
        describe_histogram!(
            SMS_SEND_DURATION,
            Unit::Seconds,
            "Time from a send's first provider request to its outcome (retries and failovers included), by provider."
        );
        counter!(CHALLENGES_CREATED).increment(0);
        counter!(CONTEXTS_CONSUMED).increment(0);
        for state in AuditKind::ALL.into_iter().filter_map(super::finished_state) {
            counter!(CHALLENGES_FINISHED, "state" => state).increment(0);
        }
        for outcome in [VERIFIED, INVALID_OTP, LIMITED] {
            counter!(VERIFICATIONS, "outcome" => outcome).increment(0);
        }
        for limit in mfa_totp_domain::LimitKind::ALL {
            counter!(LIMIT_REFUSALS, "limit" => limit.as_str()).increment(0);
        }
        for provider in providers.iter().copied().chain(["none"]) {
            for outcome in SendOutcome::ALL.map(super::send_outcome) {
                counter!(SMS_SENDS, "provider" => provider, "outcome" => outcome).increment(0);
            }
            let _ = histogram!(SMS_SEND_DURATION, "provider" => provider);
        }
    }
}

/// The `state` label of a challenge's final state, for the event that reached it.
fn finished_state(kind: AuditKind) -> Option<&'static str> {
    match kind {
        AuditKind::Verified => Some("verified"),
        AuditKind::Locked => Some("locked"),
        AuditKind::Expired => Some("expired"),
        AuditKind::Cancelled => Some("cancelled"),
        _ => None,
    }
}

/// The `outcome` label of a send.
fn send_outcome(outcome: SendOutcome) -> &'static str {
    match outcome {
        SendOutcome::Accepted => "accepted",
        SendOutcome::Rejected => "rejected",
        SendOutcome::Unavailable => "unavailable",
        SendOutcome::Unknown => "unknown",
    }
}

/// Moves the metrics of an event that was written.
fn count(event: &AuditEvent) {
    let verification = |outcome: &'static str| {
        metrics::counter!(metric::VERIFICATIONS, "outcome" => outcome).increment(1);
    };
    if let Some(state) = finished_state(event.kind) {
        metrics::counter!(metric::CHALLENGES_FINISHED, "state" => state).increment(1);
    }
    match event.kind {
        AuditKind::ChallengeCreated => metrics::counter!(metric::CHALLENGES_CREATED).increment(1),
        AuditKind::Verified => verification(metric::VERIFIED),
        AuditKind::VerifyFailed => verification(metric::INVALID_OTP),
        AuditKind::Consumed => metrics::counter!(metric::CONTEXTS_CONSUMED).increment(1),
        AuditKind::LimitHit => {
            if let Some(limit) = event.limit {
                metrics::counter!(metric::LIMIT_REFUSALS, "limit" => limit.as_str()).increment(1);
                if limit == mfa_totp_domain::LimitKind::UserWrongCodes {
                    verification(metric::LIMITED);
                }
            }
        }
        // Final states are counted above. Sends are counted with their provider and latency
        // in `count_send`; delivery reports are not a metric of their own; events given up
        // are counted by the dispatcher with their type.
        AuditKind::Locked
        | AuditKind::EventUndelivered
        | AuditKind::Expired
        | AuditKind::Cancelled
        | AuditKind::CodeSent
        | AuditKind::SendFailed
        | AuditKind::DeliveryReported => {}
    }
}

/// Moves the SMS metrics of one send.
pub(crate) fn count_send(
    provider: Option<&'static str>,
    outcome: SendOutcome,
    latency: std::time::Duration,
) {
    let provider = provider.unwrap_or("none");
    let outcome = send_outcome(outcome);
    metrics::counter!(metric::SMS_SENDS, "provider" => provider, "outcome" => outcome).increment(1);
    metrics::histogram!(metric::SMS_SEND_DURATION, "provider" => provider)
        .record(latency.as_secs_f64());
}

/// The structured log line of an event that was written, and its metrics. It holds what the
/// row holds: ids, the masked phone, never a code or a full number.
pub fn log_event(event: &AuditEvent) {
    count(event);
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
        error_code = event.error_code.as_deref().unwrap_or(""),
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
