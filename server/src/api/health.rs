//! Liveness and readiness probes.

use mfa_totp_storage::SqlStore;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::http::error::ApiError;
use crate::http::error_mapping::database_unavailable;

pub struct HealthApi {
    pub store: SqlStore,
}

/// A probe's answer.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Health {
    /// `UP`.
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
    /// `200 UP` when a database round trip succeeds, `503 SERVICE_UNAVAILABLE` otherwise.
    /// A load balancer should route traffic only to ready instances.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self) -> Result<Ready, ApiError> {
        if self.store.ping().await {
            Ok(Ready::Ready(Json(Health {
                status: "UP".into(),
            })))
        } else {
            Err(database_unavailable())
        }
    }
}
