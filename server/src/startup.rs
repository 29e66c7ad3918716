//! The composition root: `Application::build` wires the adapters that config picks and binds
//! the listener, so tests can bind port 0 and read the port back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mfa_totp_application::{Clock, ReadinessCheck, SecretCipher, SmsSender, UseCases};
use mfa_totp_crypto::AesGcmCipher;
use mfa_totp_domain::MessageCatalog;
use mfa_totp_sms::ConsoleSms;
use mfa_totp_storage::{PoolSettings, SqlStore, connect, migrate as migrate_database};
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{EndpointExt, IntoResponse, Route, get};
use poem_openapi::OpenApiService;

use crate::api::audit::AuditApi;
use crate::api::challenges::ChallengesApi;
use crate::api::health::HealthApi;
use crate::api::metrics::MetricsApi;
use crate::api::sms_status::{SmsStatusApi, TwilioCallback};
use crate::api::totp_sms::TotpSmsApi;
use crate::api::users::UsersApi;
use crate::auth::ClientOperations;
use crate::clock::SystemClock;
use crate::http::middleware::Contract;
use crate::http::routes_table::RoutesTable;
use crate::http::serve::{ConnectionLimits, serve};
use crate::keys::{build_cipher, build_verifier};
use crate::settings::{DEVELOPMENT_CRYPTO_KEY, DEVELOPMENT_CRYPTO_KEY_ID, Settings};
use crate::sms::build_sms;
use crate::spec::Published;
use mfa_totp_application::purge::Purger;

/// Adapters a test can put in place of the configured ones.
#[derive(Default)]
pub struct Overrides {
    pub sms: Option<Arc<dyn SmsSender>>,
    pub clock: Option<Arc<dyn Clock>>,
}

pub struct Application {
    listener: tokio::net::TcpListener,
    port: u16,
    endpoint: poem::endpoint::BoxEndpoint<'static>,
    limits: ConnectionLimits,
    /// The admin listener and what it serves (`/metrics`), when `server.admin_port` is set.
    admin: Option<(
        tokio::net::TcpListener,
        poem::endpoint::BoxEndpoint<'static>,
    )>,
    store: SqlStore,
    grace: Duration,
    /// The background purge and how often it runs (`None`: never).
    purge: Option<(Arc<Purger>, Duration)>,
}

type Apis = (
    TotpSmsApi,
    ChallengesApi,
    UsersApi,
    SmsStatusApi,
    HealthApi,
    AuditApi,
    MetricsApi,
);

/// What the operations endpoints check and serve.
#[derive(Default)]
struct Operations {
    /// The SMS chain's readiness, when there is a chain.
    sms_check: Option<Arc<dyn ReadinessCheck>>,
    /// Whether `/metrics` is served on the main port (no admin port).
    metrics_here: bool,
}

fn api_service(
    use_cases: UseCases,
    store: SqlStore,
    twilio: Option<TwilioCallback>,
    clients: ClientOperations,
    operations: Operations,
) -> OpenApiService<Apis, ()> {
    let mut checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(store.clone())];
    checks.extend(operations.sms_check);
    let apis = (
        TotpSmsApi {
            use_cases: use_cases.clone(),
        },
        ChallengesApi {
            use_cases: use_cases.clone(),
            clients: Arc::new(clients),
        },
        UsersApi {
            use_cases: use_cases.clone(),
        },
        SmsStatusApi {
            use_cases: use_cases.clone(),
            twilio,
        },
        HealthApi { checks },
        AuditApi { use_cases },
        MetricsApi {
            store,
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

/// The rules the use cases apply, as configured.
#[derive(Default)]
struct Policies {
    challenge: mfa_totp_domain::ChallengePolicy,
    totp: mfa_totp_domain::TotpPolicy,
    limits: mfa_totp_domain::Limits,
    phones: mfa_totp_domain::PhonePolicy,
}

impl Policies {
    fn of(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            challenge: settings.challenge_policy()?,
            totp: settings.totp_policy()?,
            limits: settings.limits()?,
            phones: settings.phone_policy()?,
        })
    }
}

/// The use cases on the SQL store (which serves every storage port) and the given SMS and clock.
fn wire(
    store: &SqlStore,
    sms: Arc<dyn SmsSender>,
    clock: Arc<dyn Clock>,
    cipher: Arc<dyn SecretCipher>,
    messages: MessageCatalog,
    policies: Policies,
) -> UseCases {
    UseCases {
        challenges: Arc::new(store.clone()),
        contexts: Arc::new(store.clone()),
        user_reader: Arc::new(store.clone()),
        user_writer: Arc::new(store.clone()),
        sms,
        sends: Arc::new(store.clone()),
        audit: Arc::new(store.clone()),
        clock,
        cipher,
        messages: Arc::new(messages),
        policy: policies.challenge,
        totp: policies.totp,
        limits: policies.limits,
        phones: policies.phones,
    }
}

/// The admin listener on `host:port`: `GET /metrics` only.
async fn admin_listener(
    host: &str,
    port: u16,
    store: &SqlStore,
) -> anyhow::Result<(
    tokio::net::TcpListener,
    poem::endpoint::BoxEndpoint<'static>,
)> {
    let address = format!("{host}:{port}");
    let listener = tokio::net::TcpListener::bind(address.clone())
        .await
        .with_context(|| format!("cannot listen on {address} (server.host, server.admin_port)"))?;
    let store = store.clone();
    let endpoint = Route::new()
        .at(
            "/metrics",
            get(make_sync(move |_| {
                crate::api::metrics::Exposition::of(&store).into_response()
            })),
        )
        .boxed();
    Ok((listener, endpoint))
}

/// Twilio's callbacks are checked when Twilio is configured with a status callback URL.
fn twilio_callback(settings: &Settings) -> Option<TwilioCallback> {
    let twilio = &settings.sms.twilio;
    Some(TwilioCallback {
        auth_token: twilio.auth_token.clone()?,
        url: twilio.status_callback.clone()?,
    })
}

/// Installs ring as the one rustls crypto provider (for sqlx and reqwest alike).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Application {
    pub async fn build(settings: &Settings, overrides: Overrides) -> anyhow::Result<Self> {
        install_crypto_provider();
        let store = open_store(settings).await?;
        if settings.database.migrate_on_start {
            migrate_database(store.writer())
                .await
                .context("migrations failed")?;
        }
        let messages = crate::messages::catalog(&settings.sms)?;
        crate::messages::warn_about_long_templates(settings, &messages);
        let (sms, sms_check) = match overrides.sms {
            Some(sms) => (sms, None),
            None => build_sms(&settings.sms)?,
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let purger = Arc::new(Purger {
            store: Arc::new(store.clone()),
            clock: clock.clone(),
            policy: settings.retention_policy()?,
        });
        let purge = (settings.purge.interval_secs > 0)
            .then(|| (purger, Duration::from_secs(settings.purge.interval_secs)));
        let use_cases = wire(
            &store,
            sms,
            clock,
            build_cipher(settings)?,
            messages,
            Policies::of(settings)?,
        );
        let verifier = Arc::new(build_verifier(settings).await?);
        let clients = ClientOperations::new(
            settings
                .auth
                .clients
                .iter()
                .map(|(sub, client)| (sub.clone(), client.operations.clone()))
                .collect(),
        );
        crate::telemetry::metrics();
        let operations = Operations {
            sms_check,
            metrics_here: settings.server.admin_port.is_none(),
        };
        let service = api_service(
            use_cases,
            store.clone(),
            twilio_callback(settings),
            clients,
            operations,
        );
        let published = Published::of(&service);
        let document: serde_json::Value = serde_json::from_str(&published.json)?;
        let routes = Arc::new(RoutesTable::from_spec(
            &document,
            &[
                ("/openapi.json", &["GET", "HEAD"]),
                ("/docs", &["GET", "HEAD"]),
            ],
        ));
        let spec_json = published.json;
        let docs_html = published.swagger_ui_html;
        let endpoint = Route::new()
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
            .boxed();

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = tokio::net::TcpListener::bind(address.clone())
            .await
            .with_context(|| format!("cannot listen on {address} (server.host, server.port)"))?;
        let port = listener.local_addr()?.port();
        let admin = match settings.server.admin_port {
            Some(admin_port) => {
                Some(admin_listener(&settings.server.host, admin_port, &store).await?)
            }
            None => None,
        };
        Ok(Self {
            listener,
            port,
            endpoint,
            limits: settings.server.connection_limits(),
            admin,
            store,
            grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            purge,
        })
    }

    /// The admin port, when one is configured.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
            .map(|address| address.port())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM / SIGINT; then stops accepting, lets the requests in flight
    /// finish within `server.shutdown_grace_secs`, and closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(port = self.port, admin_port = ?self.admin_port(), "mfa-totp listening");
        let purging = self
            .purge
            .clone()
            .map(|(purger, every)| tokio::spawn(purge_every(purger, every)));
        let stop = tokio::sync::watch::channel(false);
        let admin = self.admin.map(|(listener, endpoint)| {
            let mut stopped = stop.1.clone();
            tokio::spawn(serve(
                listener,
                endpoint,
                self.limits,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
                self.grace,
            ))
        });
        let served = serve(
            self.listener,
            self.endpoint,
            self.limits,
            async move {
                shutdown_signal().await;
                let _ = stop.0.send(true);
            },
            self.grace,
        )
        .await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        if let Some(purging) = purging {
            purging.abort();
        }
        self.store.close().await;
        tracing::info!("mfa-totp stopped: requests drained, database pool closed");
        served
    }

    /// Serves until the task is dropped (tests). The background purge does not run.
    pub async fn run(self) -> std::io::Result<()> {
        if let Some((listener, endpoint)) = self.admin {
            tokio::spawn(serve(
                listener,
                endpoint,
                self.limits,
                std::future::pending(),
                Duration::ZERO,
            ));
        }
        serve(
            self.listener,
            self.endpoint,
            self.limits,
            std::future::pending(),
            Duration::ZERO,
        )
        .await
    }
}

/// The published spec, generated without a configured database.
pub async fn published_spec() -> anyhow::Result<String> {
    install_crypto_provider();
    let db = connect("sqlite::memory:", &PoolSettings::default()).await?;
    let cipher = Arc::new(AesGcmCipher::from_base64_keys(
        [(DEVELOPMENT_CRYPTO_KEY_ID, DEVELOPMENT_CRYPTO_KEY)],
        DEVELOPMENT_CRYPTO_KEY_ID,
    )?);
    let store = SqlStore::new(db);
    let use_cases = wire(
        &store,
        Arc::new(ConsoleSms::stdout()),
        Arc::new(SystemClock),
        cipher,
        crate::messages::catalog(&Settings::default().sms)?,
        Policies::default(),
    );
    Ok(Published::of(&api_service(
        use_cases,
        store,
        None,
        ClientOperations::default(),
        Operations::default(),
    ))
    .json)
}

fn pool_settings(settings: &Settings) -> PoolSettings {
    PoolSettings {
        max_connections: settings.database.max_connections,
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
        connect_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
    }
}

async fn connect_database(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    connect(&settings.database.url, &pool_settings(settings))
        .await
        .context("cannot connect to the database (database.url)")
}

/// The store as the server uses it: on a SQLite file, a writer and a pool of readers.
async fn open_store(settings: &Settings) -> anyhow::Result<SqlStore> {
    mfa_totp_storage::open(&settings.database.url, &pool_settings(settings))
        .await
        .context("cannot connect to the database (database.url)")
}

/// Purges every `every`, from one `every` after start. A failed purge is logged and tried
/// again at the next tick; a purge stopped halfway (shutdown) leaves only whole batches done.
async fn purge_every(purger: Arc<Purger>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = purger.purge().await {
            tracing::warn!(error = %error, "purge failed; trying again at the next interval");
        }
    }
}

/// Purges once, to the end (`mfa-totp purge`).
pub async fn purge(settings: &Settings) -> anyhow::Result<mfa_totp_application::Purged> {
    install_crypto_provider();
    let db = connect_database(settings).await?;
    if settings.database.migrate_on_start {
        migrate_database(&db).await.context("migrations failed")?;
    }
    let store = SqlStore::new(db);
    let purger = Purger {
        store: Arc::new(store.clone()),
        clock: Arc::new(SystemClock),
        policy: settings.retention_policy()?,
    };
    let purged = purger.purge().await.context("purge failed")?;
    store.close().await;
    Ok(purged)
}

/// Runs the migrations alone (`mfa-totp migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    install_crypto_provider();
    let db = connect_database(settings).await?;
    migrate_database(&db).await.context("migrations failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
