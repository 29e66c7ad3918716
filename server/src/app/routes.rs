//! What the listeners serve: the API resources as one OpenAPI service, the published spec
//! and Swagger UI beside it, all behind the contract's middleware; and the admin port's
//! `/metrics`.

use std::sync::Arc;

use mfa_totp_application::{PoolGauges, ReadinessCheck, UseCases};
use mfa_totp_crypto::PublicKey;
use poem::endpoint::{BoxEndpoint, make_sync};
use poem::web::Html;
use poem::{EndpointExt, IntoResponse, Route, get};
use poem_openapi::OpenApiService;

use crate::api::assertions::KeysApi;
use crate::api::audit::AuditApi;
use crate::api::challenges::ChallengesApi;
use crate::api::health::HealthApi;
use crate::api::metrics::{Exposition, MetricsApi};
use crate::api::sms_status::{SmsStatusApi, TwilioCallback};
use crate::api::totp_sms::TotpSmsApi;
use crate::api::users::UsersApi;
use crate::auth::TokenVerifier;
use crate::dev::inbox::Inbox;
use crate::http::middleware::Contract;
use crate::http::routes_table::RoutesTable;
use crate::spec::Published;

pub type Apis = (
    TotpSmsApi,
    KeysApi,
    ChallengesApi,
    UsersApi,
    SmsStatusApi,
    HealthApi,
    AuditApi,
    MetricsApi,
);

/// What the API serves besides the use cases.
pub struct Operations {
    /// What `/health/ready` asks: the database, and the SMS chain when there is one.
    pub checks: Vec<Arc<dyn ReadinessCheck>>,
    /// The database pools' gauges, for `/metrics`.
    pub pools: Arc<dyn PoolGauges>,
    /// Whether `/metrics` is served on the main port (no admin port).
    pub metrics_here: bool,
    /// How Twilio's delivery callbacks are checked, when Twilio is configured with one.
    pub twilio: Option<TwilioCallback>,
    /// What `/.well-known/jwks.json` publishes: every assertion key's public half.
    pub public_keys: Vec<PublicKey>,
}

/// Every API resource, as one OpenAPI service.
pub fn api_service(use_cases: UseCases, operations: Operations) -> OpenApiService<Apis, ()> {
    let apis = (
        TotpSmsApi {
            use_cases: use_cases.clone(),
        },
        KeysApi::new(&operations.public_keys),
        ChallengesApi {
            use_cases: use_cases.clone(),
        },
        UsersApi {
            use_cases: use_cases.clone(),
        },
        SmsStatusApi {
            use_cases: use_cases.clone(),
            twilio: operations.twilio,
        },
        HealthApi {
            checks: operations.checks,
        },
        AuditApi { use_cases },
        MetricsApi {
            pools: operations.pools,
            served_here: operations.metrics_here,
        },
    );
    OpenApiService::new(apis, "mfa-totp", env!("CARGO_PKG_VERSION"))
        .description(
            "Step-up MFA with a TOTP code sent by SMS. An operation service creates a challenge for a step-up request context; the user's \
             client calls `:initiate` to receive a TOTP code by SMS and `:verify` to check it; the \
             operation service then consumes the verified context once. Every error has the body \
             `{code, message, requestId, fieldErrors}`; every response has `X-Request-Id`.",
        )
}

/// The main port's endpoint: the API, `/openapi.json` and `/docs`, behind the contract's
/// middleware (request ids, colon paths, the error shape, one log line per request).
pub fn main_endpoint(
    service: OpenApiService<Apis, ()>,
    verifier: Arc<TokenVerifier>,
    inbox: Option<&Inbox>,
) -> anyhow::Result<BoxEndpoint<'static>> {
    let published = Published::of(&service);
    let document: serde_json::Value = serde_json::from_str(&published.json)?;
    let mut extra: Vec<(&str, &[&str])> = vec![
        ("/openapi.json", &["GET", "HEAD"]),
        ("/docs", &["GET", "HEAD"]),
    ];
    if inbox.is_some() {
        extra.push(("/dev/inbox", &["GET", "HEAD"]));
        extra.push(("/dev/inbox/messages", &["GET", "HEAD"]));
    }
    let routes = Arc::new(RoutesTable::from_spec(&document, &extra));
    crate::telemetry::register_operations(routes.documented_statuses());
    let spec_json = published.json;
    let docs_html = published.swagger_ui_html;
    let mut route = Route::new();
    if let Some(inbox) = inbox {
        route = route.nest("/dev/inbox", inbox.routes());
    }
    Ok(route
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                spec_json
                    .clone()
                    .with_content_type("application/json")
                    .into_response()
            })),
        )
        .at("/docs", get(make_sync(move |_| Html(docs_html.clone()))))
        .nest("/", service)
        .data(verifier)
        .with(Contract { routes })
        .boxed())
}

/// The admin port's endpoint: `GET /metrics` only.
pub fn admin_endpoint(pools: Arc<dyn PoolGauges>) -> BoxEndpoint<'static> {
    Route::new()
        .at(
            "/metrics",
            get(make_sync(move |_| {
                Exposition::of(pools.as_ref()).into_response()
            })),
        )
        .boxed()
}
