//! The development inbox: the newest SMS the console provider sent (with the code ready to
//! copy) and the events delivered, kept in memory, newest first. `GET /dev/inbox` is a page
//! that polls `GET /dev/inbox/messages` every second, so new entries appear without a reload.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mfa_totp_application::{EventError, EventSender, OutboundSms, SentSms, SmsError, SmsSender};
use mfa_totp_domain::{ChallengeEvent, ClientId};
use poem::endpoint::{BoxEndpoint, make_sync};
use poem::web::{Html, Json};
use poem::{EndpointExt, IntoResponse, Route, get};
use serde_json::{Value, json};

/// The most entries kept: the oldest go first.
pub const CAPACITY: usize = 200;

const PAGE: &str = include_str!("inbox.html");

/// What was sent, newest first.
#[derive(Clone, Default)]
pub struct Inbox {
    entries: Arc<Mutex<VecDeque<Value>>>,
}

impl Inbox {
    fn push(&self, entry: Value) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push_front(entry);
        entries.truncate(CAPACITY);
    }

    /// The entries, newest first.
    pub fn entries(&self) -> Vec<Value> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().cloned().collect()
    }

    /// `/dev/inbox` and `/dev/inbox/messages`.
    pub fn routes(&self) -> BoxEndpoint<'static> {
        let inbox = self.clone();
        Route::new()
            .at("/", get(make_sync(|_| Html(PAGE))))
            .at(
                "/messages",
                get(make_sync(move |_| {
                    Json(json!({ "entries": inbox.entries() }))
                        .with_header("Cache-Control", "no-store")
                        .into_response()
                })),
            )
            .boxed()
    }

    /// `sms` keeps a copy of each message it sends in the inbox.
    pub fn recording_sms(&self, sms: Arc<dyn SmsSender>) -> Arc<dyn SmsSender> {
        Arc::new(RecordedSms {
            inner: sms,
            inbox: self.clone(),
        })
    }

    /// `sender` keeps a copy of each event it delivers in the inbox.
    pub fn recording_events(&self, sender: Arc<dyn EventSender>) -> Arc<dyn EventSender> {
        Arc::new(RecordedEvents {
            inner: sender,
            inbox: self.clone(),
        })
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct RecordedSms {
    inner: Arc<dyn SmsSender>,
    inbox: Inbox,
}

#[async_trait]
impl SmsSender for RecordedSms {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        let sent = self.inner.send(sms).await?;
        self.inbox.push(json!({
            "kind": "sms",
            "at": now(),
            "to": sms.to.masked(),
            "text": sms.body,
            "code": mfa_totp_sms::code_in(&sms.body),
            "challengeId": sms.challenge_id.to_string(),
            "provider": sent.provider,
        }));
        Ok(sent)
    }
}

struct RecordedEvents {
    inner: Arc<dyn EventSender>,
    inbox: Inbox,
}

#[async_trait]
impl EventSender for RecordedEvents {
    async fn deliver(
        &self,
        subscriber: &ClientId,
        event: &ChallengeEvent,
    ) -> Result<(), EventError> {
        self.inner.deliver(subscriber, event).await?;
        self.inbox.push(json!({
            "kind": "event",
            "at": now(),
            "id": event.id,
            "type": event.event_type.as_str(),
            "subscriber": subscriber.as_str(),
            "challengeId": event.challenge_id.to_string(),
            "payload": mfa_totp_events::payload(event),
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_totp_domain::{ChallengeId, PhoneNumber};

    struct Accepts;

    #[async_trait]
    impl SmsSender for Accepts {
        async fn send(&self, _: &OutboundSms) -> Result<SentSms, SmsError> {
            Ok(SentSms::by("console", None))
        }
    }

    #[tokio::test]
    async fn the_newest_sms_comes_first_with_its_code_and_a_masked_number() {
        let inbox = Inbox::default();
        let sms = inbox.recording_sms(Arc::new(Accepts));
        for code in ["111111", "222222"] {
            sms.send(&OutboundSms {
                to: PhoneNumber::parse("+447400123456").unwrap(),
                body: format!("Your code is {code}."),
                challenge_id: ChallengeId::generate(),
                locale: None,
                send_id: "x.1".into(),
            })
            .await
            .unwrap();
        }
        let entries = inbox.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["code"], "222222");
        assert_eq!(entries[1]["code"], "111111");
        assert_eq!(entries[0]["to"], "+44*******456");
        for _ in 0..CAPACITY {
            inbox.push(json!({}));
        }
        assert_eq!(inbox.entries().len(), CAPACITY);
    }
}
