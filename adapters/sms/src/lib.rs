//! SMS provider adapters. The console provider is a development tool: it prints one line
//! per message, `SMS to +447700900123: <text>`, to stdout (logs go to stderr).

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, SentSms, SmsError, SmsSender};

/// Prints each SMS to a writer (stdout by default).
pub struct ConsoleSms {
    out: Arc<Mutex<dyn Write + Send>>,
}

impl ConsoleSms {
    pub fn stdout() -> Self {
        Self::to_writer(Arc::new(Mutex::new(std::io::stdout())))
    }

    /// Prints to `out` instead, for tests that read what was "sent".
    pub fn to_writer(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        Self { out }
    }
}

#[async_trait]
impl SmsSender for ConsoleSms {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        let mut out = self.out.lock().map_err(|_| {
            SmsError::Unavailable(std::io::Error::other("console writer poisoned").into())
        })?;
        writeln!(out, "SMS to {}: {}", sms.to.as_e164(), sms.body)
            .and_then(|()| out.flush())
            .map_err(|e| SmsError::Unavailable(e.into()))?;
        Ok(SentSms {
            provider: "console",
            message_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_totp_domain::PhoneNumber;

    #[tokio::test]
    async fn console_prints_one_line_per_message() {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sms = ConsoleSms::to_writer(buffer.clone());
        let message = OutboundSms {
            to: PhoneNumber::parse("+447700900123").unwrap(),
            body: "Your code is 123456.".into(),
        };
        let sent = sms.send(&message).await.unwrap();
        assert_eq!(sent.provider, "console");
        let printed = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(printed, "SMS to +447700900123: Your code is 123456.\n");
    }
}
