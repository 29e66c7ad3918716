//! Liveness and readiness probes.

use std::sync::Arc;

use mfa_totp_application::ReadinessCheck;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::http::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};

pub struct HealthApi {
    /// Every dependency that must answer before the instance takes traffic.
    pub checks: Vec<Arc<dyn ReadinessCheck>>,
}

/// `503`, naming the dependencies that did not answer.
pub fn not_ready(names: &[&str]) -> ApiError {
    ApiError::unavailable(
        format!("Not ready: the {} did not answer.", names.join(", ")),
        UNAVAILABLE_RETRY_AFTER_SECS,
    )
}

/// A probe's answer.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Health {
    /// `UP`.
    #[oai(validator(max_length = 8))]
    pub status: String,
}

impl Example for Health {
    fn example() -> Self {
        Self {
            status: "UP".into(),
        }
    }
}

#[derive(ApiResponse)]
enum Ready {
    /// The service can take traffic.
    #[oai(status = 200)]
    Ready(Json<Health>),
}

#[OpenApi(prefix_path = "/health", tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process answers.
    ///
    /// Always `200 UP` while the process serves HTTP; it does not touch the database.
    #[oai(path = "/live", method = "get", operation_id = "live")]
    async fn live(&self) -> Json<Health> {
        Json(Health {
            status: "UP".into(),
        })
    }

    /// Readiness: the database answers.
    ///
    /// `200 UP` when a database round trip succeeds; `503 SERVICE_UNAVAILABLE` naming what is
    /// down otherwise. A load balancer should route traffic only to ready instances.
    ///
    /// SMS providers are not part of it: every instance shares them, so taking one instance
    /// out of service cannot bring an SMS back, while verifying codes already sent, creating
    /// and consuming challenges still work. An open circuit shows in
    /// `mfa_totp_sms_circuit_open`; `:initiate` answers 503 while no provider can take a
    /// message.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> Result<Ready, ApiError> {
        let mut failing = Vec::new();
        for check in &self.checks {
            if !check.is_ready().await {
                failing.push(check.name());
            }
        }
        if failing.is_empty() {
            Ok(Ready::Ready(Json(Health {
                status: "UP".into(),
            })))
        } else {
            Err(not_ready(&failing))
        }
    }
}
