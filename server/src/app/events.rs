//! The background delivery of events each instance runs when `events.subscribers` names
//! any: every `events.poll_interval_ms` it marks overdue challenges `EXPIRED` (so that
//! `challenge.expired` is pushed without anyone asking), then claims the events due into
//! free delivery slots, each delivered in a task of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mfa_totp_application::UseCases;
use mfa_totp_application::events::Dispatcher;
use mfa_totp_domain::ClientId;
use mfa_totp_events::{SubscriberConfig, WebhookEvents};
use mfa_totp_storage::SqlStore;
use tokio::sync::Semaphore;

use crate::config::{EventsSettings, Policies};
use crate::dev::inbox::Inbox;

/// Challenges one sweep expires at most.
const SWEEP_BATCH: u32 = 100;

/// The dispatcher of `settings`, and how often it runs; `None` without subscribers.
pub fn dispatcher(
    settings: &EventsSettings,
    policies: &Policies,
    use_cases: &UseCases,
    store: &SqlStore,
    inbox: Option<&Inbox>,
) -> anyhow::Result<Option<(Arc<Dispatcher>, Duration)>> {
    if settings.subscribers.is_empty() {
        return Ok(None);
    }
    let subscribers: HashMap<ClientId, SubscriberConfig> = settings
        .subscribers
        .iter()
        .map(|(sub, subscriber)| {
            let client = ClientId::parse(sub).context("events.subscribers")?;
            let config = SubscriberConfig {
                setting: format!("events.subscribers.{sub}"),
                url: subscriber.url.clone().unwrap_or_default(),
                secret: subscriber.secret.clone().unwrap_or_default(),
            };
            Ok((client, config))
        })
        .collect::<anyhow::Result<_>>()?;
    let sender = WebhookEvents::new(subscribers, policies.delivery.attempt_timeout)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let sender: Arc<dyn mfa_totp_application::EventSender> = Arc::new(sender);
    let sender = match inbox {
        Some(inbox) => inbox.recording_events(sender),
        None => sender,
    };
    mfa_totp_application::events::describe_and_register();
    let dispatcher = Dispatcher {
        use_cases: use_cases.clone(),
        outbox: Arc::new(store.clone()),
        sender,
        policy: policies.delivery,
    };
    Ok(Some((
        Arc::new(dispatcher),
        Duration::from_millis(settings.poll_interval_ms),
    )))
}

/// Sweeps and delivers, for as long as the task runs: claims as many due events as there
/// are free delivery slots (`DeliveryPolicy::batch`), delivers each in a task of its own,
/// and claims again once slots free up; with nothing more to claim, waits `every`. A
/// subscriber that hangs holds only the slots of its own events. A failed round is logged
/// and tried again at the next tick.
pub async fn deliver_every(dispatcher: Arc<Dispatcher>, every: Duration) {
    let slots = Arc::new(Semaphore::new(dispatcher.policy.batch as usize));
    loop {
        if let Err(error) = dispatcher.use_cases.expire_overdue(SWEEP_BATCH).await {
            tracing::warn!(error = %error, "expiry sweep failed; trying again at the next interval");
        }
        let room = slots.available_permits() as u32;
        let mut more = false;
        if room > 0 {
            match dispatcher.claim_due(room).await {
                Ok(claimed) => {
                    more = claimed.len() as u32 == room;
                    for event in claimed {
                        let slot = slots.clone().acquire_owned().await.expect("never closed");
                        let dispatcher = dispatcher.clone();
                        tokio::spawn(async move {
                            if let Err(error) = dispatcher.deliver(event).await {
                                tracing::warn!(error = %error, "recording an event's delivery failed; its claim runs out and it is sent again");
                            }
                            drop(slot);
                        });
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "claiming events failed; trying again at the next interval");
                }
            }
        }
        if !more {
            tokio::time::sleep(every).await;
        }
    }
}
