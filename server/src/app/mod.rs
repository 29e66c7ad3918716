//! The composition root: `Application::build` wires the adapters that config picks into
//! the use cases and the API, and binds the listeners, so tests can bind port 0 and read the
//! port back. It only composes; what it composes lives beside it:
//! - `adapters`: the SMS sender, the cipher and the store that config picks;
//! - `use_cases`: the use cases on those adapters;
//! - `routes`: what the main and admin listeners serve;
//! - `purge`, `signals`: the background purge, and when to stop;
//! - `events`: the background delivery of events (and the expiry sweep behind them);
//! - `spec`: the published spec, without a database;
//! - `clock`: the real clock.

pub mod adapters;
pub mod clock;
mod events;
mod purge;
mod routes;
mod signals;
mod spec;
mod use_cases;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mfa_totp_application::events::Dispatcher;
use mfa_totp_application::purge::Purger;
use mfa_totp_application::{Clock, ReadinessCheck, SmsSender};
use mfa_totp_storage::{SqlStore, migrate};
use poem::endpoint::BoxEndpoint;
use tokio::net::TcpListener;

use crate::api::sms_status::TwilioCallback;
use crate::auth::build_verifier;
use crate::config::{Config, SmsProvider, SmsSettings, warn_about_long_templates};
use crate::dev::inbox::Inbox;
use crate::http::serve::{ConnectionLimits, serve};
pub use clock::SystemClock;
pub use spec::published_spec;
use use_cases::Adapters;

/// Adapters a test can put in place of the configured ones.
#[derive(Default)]
pub struct Overrides {
    pub sms: Option<Arc<dyn SmsSender>>,
    pub clock: Option<Arc<dyn Clock>>,
}

pub struct Application {
    listener: TcpListener,
    port: u16,
    endpoint: BoxEndpoint<'static>,
    limits: ConnectionLimits,
    /// The admin listener and what it serves (`/metrics`), when `server.admin_port` is set.
    admin: Option<(TcpListener, BoxEndpoint<'static>)>,
    store: SqlStore,
    grace: Duration,
    /// The background purge and how often it runs (`None`: never).
    purge: Option<(Arc<Purger>, Duration)>,
    /// The event dispatcher and how often it looks for work (`None`: no subscribers).
    events: Option<(Arc<Dispatcher>, Duration)>,
}

impl Application {
    pub async fn build(config: &Config, overrides: Overrides) -> anyhow::Result<Self> {
        let (settings, policies) = (&config.settings, &config.policies);
        mfa_totp_http::install_crypto_provider();
        // First: every adapter below registers its series with the recorder.
        let providers: Vec<&'static str> = settings
            .sms
            .providers()
            .into_iter()
            .map(|p| p.name())
            .collect();
        crate::telemetry::describe_and_register(&providers);
        let store = adapters::open_store(&settings.database).await?;
        if settings.database.migrate_on_start {
            migrate(store.writer()).await.context("migrations failed")?;
        }
        warn_about_long_templates(settings, &policies.messages);
        let sms = match overrides.sms {
            Some(sms) => sms,
            None => adapters::build_sms(&settings.sms)?,
        };
        // `serve --dev` only: the inbox of what the console provider sent and the events.
        let inbox = config.development.then(Inbox::default);
        let console_only = settings
            .sms
            .providers()
            .iter()
            .all(|p| *p == SmsProvider::Console);
        let sms = match &inbox {
            Some(inbox) if console_only => inbox.recording_sms(sms),
            _ => sms,
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let purge = (settings.purge.interval_secs > 0).then(|| {
            let purger = Purger {
                store: Arc::new(store.clone()),
                clock: clock.clone(),
                policy: policies.retention,
            };
            let every = Duration::from_secs(settings.purge.interval_secs);
            (Arc::new(purger), every)
        });
        let signer = adapters::build_signer(&settings.assertion)?;
        let public_keys = signer.public_keys();
        let adapters = Adapters {
            sms,
            clock,
            cipher: adapters::build_cipher(&settings.crypto)?,
            signer,
        };
        let use_cases = use_cases::wire(&store, adapters, policies);
        let events = events::dispatcher(
            &settings.events,
            policies,
            &use_cases,
            &store,
            inbox.as_ref(),
        )?;
        let verifier = Arc::new(build_verifier(&settings.auth).await?);
        // The database, and the identity provider's keys when they come from a JWKS: see
        // `HealthApi::ready` for why SMS providers are not in it.
        let mut checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(store.clone())];
        if let Some(jwks) = verifier.jwks() {
            checks.push(Arc::new(jwks.clone()));
        }
        let operations = routes::Operations {
            checks,
            pools: Arc::new(store.clone()),
            metrics_here: settings.server.admin_port.is_none(),
            twilio: twilio_callback(&settings.sms),
            public_keys,
        };
        let endpoint = routes::main_endpoint(
            routes::api_service(use_cases, operations),
            verifier,
            inbox.as_ref(),
        )?;
        let host = &settings.server.host;
        let listener = bind(host, settings.server.port, "server.port").await?;
        let port = listener.local_addr()?.port();
        let admin = match settings.server.admin_port {
            Some(admin_port) => Some((
                bind(host, admin_port, "server.admin_port").await?,
                routes::admin_endpoint(Arc::new(store.clone())),
            )),
            None => None,
        };
        Ok(Self {
            listener,
            port,
            endpoint,
            limits: ConnectionLimits::from(&settings.server),
            admin,
            store,
            grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            purge,
            events,
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
    /// finish within `server.shutdown_grace_secs`, and closes the database pool. An error
    /// when requests were cut off at the end of the grace period, saying how many.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(port = self.port, admin_port = ?self.admin_port(), "mfa-totp listening");
        let purging = self
            .purge
            .clone()
            .map(|(purger, every)| tokio::spawn(purge::purge_every(purger, every)));
        let delivering = self.spawn_events();
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
                signals::shutdown_signal().await;
                let _ = stop.0.send(true);
            },
            self.grace,
        )
        .await;
        let mut cut_off = served?;
        if let Some(admin) = admin {
            cut_off += admin.await.ok().and_then(Result::ok).unwrap_or(0);
        }
        if let Some(purging) = purging {
            purging.abort();
        }
        if let Some(delivering) = delivering {
            delivering.abort();
        }
        self.store.close().await;
        if cut_off > 0 {
            tracing::error!(
                cut_off,
                "mfa-totp stopped: {cut_off} requests cut off at the end of server.shutdown_grace_secs, database pool closed"
            );
            anyhow::bail!(
                "{cut_off} requests were still in flight when server.shutdown_grace_secs ran out and were cut off"
            );
        }
        tracing::info!("mfa-totp stopped: requests drained, database pool closed");
        Ok(())
    }

    /// The background delivery of events, when there are subscribers.
    fn spawn_events(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.events
            .clone()
            .map(|(dispatcher, every)| tokio::spawn(events::deliver_every(dispatcher, every)))
    }

    /// Serves until the task is dropped (tests). The background purge does not run; events
    /// are delivered.
    pub async fn run(self) -> std::io::Result<usize> {
        let _delivering = self.spawn_events().map(AbortOnDrop);
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

/// Stops a background task when the server it runs beside is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A listener on `host:port`; an error names the key of the port.
async fn bind(host: &str, port: u16, key: &str) -> anyhow::Result<TcpListener> {
    let address = format!("{host}:{port}");
    TcpListener::bind(address.clone())
        .await
        .with_context(|| format!("cannot listen on {address} (server.host, {key})"))
}

/// Twilio's callbacks are checked when Twilio is configured with a status callback URL.
fn twilio_callback(sms: &SmsSettings) -> Option<TwilioCallback> {
    Some(TwilioCallback {
        auth_token: sms.twilio.auth_token.clone()?,
        url: sms.twilio.status_callback.clone()?,
    })
}
