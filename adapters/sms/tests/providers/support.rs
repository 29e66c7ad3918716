//! What the provider tests share: a message, and a matcher for an exact form body.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use mfa_totp_application::OutboundSms;
use mfa_totp_domain::{ChallengeId, PhoneNumber};
use wiremock::matchers::method;
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const CODE_TEXT: &str = "Your verification code is 482913. It expires in 5 minutes.";

/// Every test's message; creating one makes sure the log capture is in place first.
pub fn message() -> OutboundSms {
    capture_logs();
    OutboundSms {
        to: PhoneNumber::parse("+447400123123").unwrap(),
        body: CODE_TEXT.into(),
        challenge_id: ChallengeId::parse("0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10").unwrap(),
        locale: None,
        send_id: "0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10.1".into(),
    }
}

/// Everything this test binary logs, from the first message on.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs one global subscriber that captures every log line. A scoped subscriber would
/// race with the other tests' threads over tracing's per-callsite interest cache.
fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    });
}

/// What the tests logged so far.
pub fn captured_logs() -> String {
    capture_logs();
    String::from_utf8(LOGS.get().unwrap().lock().unwrap().clone()).unwrap()
}

/// A fake provider that answers every POST with `reply`.
pub async fn fake_answering(reply: ResponseTemplate) -> MockServer {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(reply)
        .mount(&fake)
        .await;
    fake
}

/// Matches a form-encoded body with exactly these fields, no more, no fewer.
pub struct FormIs(pub BTreeMap<String, String>);

impl FormIs {
    pub fn of(fields: &[(&str, &str)]) -> Self {
        Self(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let form: BTreeMap<String, String> = form_urlencoded_pairs(&request.body);
        form == self.0
    }
}

fn form_urlencoded_pairs(body: &[u8]) -> BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}
