//! The console provider: a development tool that prints one line per message,
//! `SMS to +447400123123: <text>`, to stdout (logs go to stderr), and the parser that reads
//! such a line back.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mfa_totp_application::{OutboundSms, ProviderAnswer, SentSms, SmsError, SmsSender};

/// What the console provider prints before the text; `to` is the E.164 number.
const PREFIX: &str = "SMS to ";

/// Prints each SMS to a writer (stdout by default), one line each: `SMS to <phone>: <text>`.
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
            SmsError::Unavailable(ProviderAnswer::new(
                "console",
                None,
                "console writer poisoned",
            ))
        })?;
        writeln!(out, "{PREFIX}{}: {}", sms.to.as_e164(), sms.body)
            .and_then(|()| out.flush())
            .map_err(|e| {
                SmsError::Unavailable(ProviderAnswer::new("console", None, e.to_string()))
            })?;
        Ok(SentSms::by("console", None))
    }
}

/// One line the console provider printed, read back (by tests and local tooling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine<'a> {
    /// The E.164 number the SMS went to.
    pub to: &'a str,
    pub text: &'a str,
}

impl<'a> ConsoleLine<'a> {
    /// `None` for a line that is not a console SMS.
    pub fn parse(line: &'a str) -> Option<Self> {
        let (to, text) = line.strip_prefix(PREFIX)?.split_once(": ")?;
        Some(Self { to, text })
    }

    /// The one-time code in the text (see [`code_in`]).
    pub fn code(&self) -> Option<&'a str> {
        code_in(self.text)
    }
}

/// The one-time code in an SMS text, whichever provider carried it: its first run of 6 to 8
/// digits (the code lengths the service can be configured to send).
pub fn code_in(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| (6..=8).contains(&run.len()))
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
            to: PhoneNumber::parse("+447400123123").unwrap(),
            body: "Your code is 123456.".into(),
            challenge_id: mfa_totp_domain::ChallengeId::generate(),
            locale: None,
            send_id: "test.1".into(),
        };
        let sent = sms.send(&message).await.unwrap();
        assert_eq!(sent.provider, "console");
        let printed = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(printed, "SMS to +447400123123: Your code is 123456.\n");
        let line = ConsoleLine::parse(printed.trim_end()).unwrap();
        assert_eq!(
            (line.to, line.text, line.code()),
            ("+447400123123", "Your code is 123456.", Some("123456"))
        );
    }

    #[test]
    fn console_line_finds_codes_of_every_configurable_length() {
        for code in ["123456", "1234567", "12345678"] {
            let text =
                format!("SMS to +447400123123: Your code is {code}. It expires in 5 minutes.");
            assert_eq!(ConsoleLine::parse(&text).unwrap().code(), Some(code));
        }
        let no_code = ConsoleLine::parse("SMS to +447400123123: Amount 120.00").unwrap();
        assert_eq!(no_code.code(), None);
        assert_eq!(ConsoleLine::parse("INFO listening on 8080"), None);
    }
}
