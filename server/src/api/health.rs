//! Liveness and readiness probes.

use mfa_totp_storage::SqlStore;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::http::error::ApiError;

pub struct HealthApi {
    pub store: SqlStore,
}

#[derive(Debug, Object)]
pub struct Health {
    /// `UP`.
    pub status: String,
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
    #[oai(path = "/live", method = "get", operation_id = "live")]
    async fn live(&self) -> Json<Health> {
        Json(Health {
            status: "UP".into(),
        })
    }

    /// Readiness: the database answers.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> Result<Ready, ApiError> {
        if self.store.ping().await {
            Ok(Ready::Ready(Json(Health {
                status: "UP".into(),
            })))
        } else {
            Err(ApiError::unavailable(
                "The database is unavailable.",
                mfa_totp_application::UNAVAILABLE_RETRY_AFTER_SECS,
            ))
        }
    }
}
