//! PostgreSQL: a change in one statement, one round trip. The store writes the change as
//! one JSON document and calls `mfa_totp_apply` (created by the migration
//! `m20261205_000008`), which writes it all or nothing: the challenge over its guard, its
//! context, the charges, refunds, the send record and the audit events. A refused charge
//! raises `MT429` with the refused windows, which undoes the statement.

use mfa_totp_application::{ChallengeChange, Change, StoreError};
use mfa_totp_domain::{
    AuditEvent, Challenge, LimitCharge, LimitKind, LimitReached, SmsSend, StepUpContext,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};
use serde_json::{Value, json};

use crate::errors::store_error;
use crate::{from_millis, millis};

/// The SQLSTATE `mfa_totp_apply` raises when a charge is refused.
const REFUSED: &str = "MT429";

/// Writes `change` in one statement.
pub(crate) async fn apply(
    db: &DatabaseConnection,
    change: &ChallengeChange,
) -> Result<Change, StoreError> {
    let document = json!({
        "guard": change.guard,
        "challenge": challenge(&change.challenge),
        "context": change.context.as_ref().map(context),
        "charges": change.charges.iter().map(charge).collect::<Vec<_>>(),
        "refunds": change.refunds.iter().filter(|c| c.amount > 0).map(charge).collect::<Vec<_>>(),
        "events": change.events.iter().map(event).collect::<Vec<_>>(),
    });
    match call(db, &document).await {
        Ok(outcome) if outcome == "applied" => Ok(Change::Applied),
        Ok(outcome) if outcome == "stale" => Ok(Change::Stale),
        Ok(other) => Err(StoreError::Unexpected(anyhow::anyhow!(
            "mfa_totp_apply answered {other:?}"
        ))),
        Err(error) => match refused_windows(&error) {
            Some(refused) => reached(&change.charges, &refused).map(Change::Limited),
            None => Err(store_error(error)),
        },
    }
}

/// Records a send and its audit event in one statement.
pub(crate) async fn log_send(
    db: &DatabaseConnection,
    send: &SmsSend,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let document = json!({
        "send": {
            "id": uuid::Uuid::new_v4().to_string(),
            "challenge_id": send.challenge_id.to_string(),
            "outcome": send.outcome.as_str(),
            "provider": send.provider,
            "message_id": send.message_id,
            "chain_position": send.chain_position,
            "attempts": send.attempts,
            "latency_ms": send.latency_ms,
            "segments": send.segments,
            "delivery_status": send.delivery.map(|d| d.as_str()),
            "sent_at": millis(send.sent_at),
            "error_code": send.error_code,
        },
        "charges": [],
        "refunds": [],
        "events": [event(audit)],
    });
    match call(db, &document).await.map_err(store_error)?.as_str() {
        "applied" => Ok(()),
        other => Err(StoreError::Unexpected(anyhow::anyhow!(
            "mfa_totp_apply answered {other:?}"
        ))),
    }
}

async fn call(db: &DatabaseConnection, document: &Value) -> Result<String, DbErr> {
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT mfa_totp_apply($1::jsonb)",
        [document.to_string().into()],
    );
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| DbErr::Custom("mfa_totp_apply returned no row".into()))?;
    row.try_get_by_index::<String>(0)
        .map_err(|e| DbErr::Custom(format!("mfa_totp_apply: {e}")))
}

/// The windows that refused a charge, from the error `mfa_totp_apply` raised, if it was that.
fn refused_windows(error: &DbErr) -> Option<Vec<(String, i64)>> {
    let (code, message) = crate::errors::database_error(error)?;
    if code != REFUSED {
        return None;
    }
    let refused: Vec<Value> = serde_json::from_str(&message).ok()?;
    refused
        .iter()
        .map(|r| Some((r["kind"].as_str()?.to_owned(), r["window_start"].as_i64()?)))
        .collect()
}

/// The refusal to report, with each window's end as the domain computes it.
fn reached(charges: &[LimitCharge], refused: &[(String, i64)]) -> Result<LimitReached, StoreError> {
    let reached = refused
        .iter()
        .map(|(kind, window_start)| {
            let kind: LimitKind = kind
                .parse()
                .map_err(|e: mfa_totp_domain::UnknownName| StoreError::Unexpected(e.into()))?;
            let charge = charges.iter().find(|c| c.kind == kind).ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!(
                    "a refusal of {kind}, which was not charged"
                ))
            })?;
            Ok(LimitReached {
                kind,
                retry_at: charge.window_end(from_millis(*window_start)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    LimitReached::last_to_end(reached)
        .ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("a refusal without a window")))
}

fn challenge(c: &Challenge) -> Value {
    let code = c.code();
    json!({
        "id": c.id().to_string(),
        "subject_user_id": c.subject().as_str(),
        "status": c.status().as_str(),
        "secret_sealed": c.secret().as_str(),
        "client_id": c.client().map(|c| c.as_str()),
        "created_at": millis(c.created_at()),
        "expires_at": millis(c.expires_at()),
        "code_step": code.map(|c| c.step as i64),
        "code_issued_at": code.map(|c| millis(c.issued_at)),
        "send_count": c.send_count(),
        "last_sent_at": c.last_sent_at().map(millis),
        "failed_attempts": c.failed_attempts(),
        "verified_at": c.verified_at().map(millis),
        "sent_to": c.sent_to(),
        "version": c.version(),
    })
}

fn context(c: &StepUpContext) -> Value {
    json!({
        "operation": c.operation.as_str(),
        "attributes": Value::Object(c.attributes.clone()).to_string(),
        "state": c.state.as_str(),
        "locale": c.locale.as_ref().map(ToString::to_string),
        "consumed_at": c.consumed_at.map(millis),
    })
}

fn charge(c: &LimitCharge) -> Value {
    let now = millis(c.now);
    json!({
        "kind": c.kind.as_str(),
        "key": c.key.as_str(),
        "now": now,
        "lapsed_at": now - c.window.num_milliseconds(),
        "amount": c.amount,
        "max": c.max,
    })
}

fn event(e: &AuditEvent) -> Value {
    json!({
        "challenge_id": e.challenge_id.map(|id| id.to_string()),
        "kind": e.kind.as_str(),
        "occurred_at": millis(e.at),
        "request_id": e.request_id,
        "subject_user_id": e.subject.as_str(),
        "actor": e.actor,
        "masked_phone": e.masked_phone,
        "outcome": e.outcome.as_str(),
        "limit_kind": e.limit.map(|l| l.as_str()),
        "provider": e.provider,
        "message_id": e.message_id,
        "error_code": e.error_code,
        "repeats": e.repeats.min(i32::MAX as u32),
        "last_occurred_at": e.last_at.map(millis),
        "subscriber": e.subscriber.as_ref().map(|s| s.to_string()),
    })
}
