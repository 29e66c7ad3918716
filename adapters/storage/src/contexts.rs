//! Step-up request contexts on SQL: read with their challenge, written by its changes.

use mfa_totp_application::StoreError;
use mfa_totp_domain::{ChallengeId, Operation, StepUpContext};

use crate::entities::step_up_context;
use crate::from_millis;

pub(crate) fn to_domain(
    id: ChallengeId,
    row: step_up_context::Model,
) -> Result<StepUpContext, StoreError> {
    let bad =
        |what: String| StoreError::Unexpected(anyhow::anyhow!("stored context of {id}: {what}"));
    let attributes = match serde_json::from_str(&row.attributes).map_err(|e| bad(e.to_string()))? {
        serde_json::Value::Object(map) => map,
        _ => return Err(bad("attributes are not an object".into())),
    };
    Ok(StepUpContext {
        challenge_id: id,
        operation: Operation::parse(&row.operation).map_err(|e| bad(e.to_string()))?,
        attributes,
        locale: row
            .locale
            .as_deref()
            .map(mfa_totp_domain::Locale::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        state: row
            .state
            .parse()
            .map_err(|e: mfa_totp_domain::UnknownName| bad(e.to_string()))?,
        consumed_at: row.consumed_at.map(from_millis).transpose()?,
    })
}
