//! `GET /metrics`: Prometheus' text format, on the main port, or only on the admin port when
//! `server.admin_port` is set.

use std::sync::Arc;

use mfa_totp_application::PoolGauges;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, OpenApi};

use crate::api::ApiTags;
use crate::http::error::{ApiError, ErrorCode};

pub struct MetricsApi {
    /// The database pools' gauges, set at each scrape.
    pub pools: Arc<dyn PoolGauges>,
    /// `false` when an admin port serves the metrics instead.
    pub served_here: bool,
}

/// The largest exposition the spec admits; a scrape is a few tens of KiB.
const MAX_EXPOSITION_BYTES: usize = 4 * 1024 * 1024;

/// Prometheus' text exposition format, version 0.0.4.
pub struct Exposition(String);

impl Payload for Exposition {
    const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        schema.max_length = Some(MAX_EXPOSITION_BYTES);
        schema.example = Some(serde_json::Value::String(
            "# TYPE mfa_totp_challenges_created_total counter\nmfa_totp_challenges_created_total 3\n"
                .into(),
        ));
        MetaSchemaRef::Inline(Box::new(schema))
    }
}

impl IntoResponse for Exposition {
    fn into_response(self) -> Response {
        self.0.with_content_type(Self::CONTENT_TYPE).into_response()
    }
}

#[derive(ApiResponse)]
enum Scrape {
    /// Every metric in Prometheus' text exposition format (version 0.0.4).
    #[oai(status = 200)]
    Metrics(Exposition),
}

impl Exposition {
    /// The metrics as of now: the pool gauges are read at each scrape.
    pub fn of(pools: &dyn PoolGauges) -> Self {
        pools.record_pool_gauges();
        Self(crate::telemetry::render())
    }
}

#[OpenApi(tag = "ApiTags::Health")]
impl MetricsApi {
    /// Metrics for Prometheus.
    ///
    /// HTTP requests by operation and status, SMS sends by provider and outcome, circuit
    /// breakers, verifications, challenges by final state, limit refusals, the database
    /// pool and query latency. No label holds a user id, phone number or code. With
    /// `server.admin_port` set they are served there and this port answers `404`.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> Result<Scrape, ApiError> {
        if !self.served_here {
            return Err(ApiError::not_found(
                ErrorCode::ResourceUnknown,
                "Metrics are served on the admin port.",
            ));
        }
        Ok(Scrape::Metrics(Exposition::of(self.pools.as_ref())))
    }
}
