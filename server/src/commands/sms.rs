//! `mfa-totp sms test` and `mfa-totp sms render`: the SMS chain and the messages, tried from
//! the command line.

use mfa_totp_application::OutboundSms;

use crate::app::adapters::build_chain;
use crate::config::{Config, SmsSettings};

/// `mfa-totp sms test`: one test message through the configured chain, and what happened
/// at each provider, as lines for the operator. Errors (with those lines) when no provider
/// carried it.
pub async fn send_test(settings: &SmsSettings, to: &str) -> anyhow::Result<Vec<String>> {
    let to = mfa_totp_domain::PhoneNumber::parse(to)
        .map_err(|_| anyhow::anyhow!("--to must be an E.164 number, e.g. +447400123123"))?;
    let chain = build_chain(settings)?;
    let sms = OutboundSms {
        to,
        body: "mfa-totp test message: SMS delivery works.".into(),
        challenge_id: mfa_totp_domain::ChallengeId::generate(),
        locale: None,
        send_id: format!("test.{}", mfa_totp_domain::ChallengeId::generate()),
    };
    let (result, reports) = chain.send_reporting(&sms).await;
    let mut lines: Vec<String> = reports
        .iter()
        .map(|r| {
            let plural = if r.attempts == 1 { "" } else { "s" };
            format!(
                "{}: {} ({} attempt{plural}, {} ms)",
                r.provider, r.outcome, r.attempts, r.latency_ms
            )
        })
        .collect();
    match result {
        Ok(sent) => {
            lines.push(format!("delivered through {}", sent.provider));
            Ok(lines)
        }
        Err(error) => {
            lines.push(format!("not delivered: {error}"));
            anyhow::bail!("{}", lines.join("\n"))
        }
    }
}

/// `sms render`: the message, then its locale, encoding and segments.
pub fn render_preview(
    config: &Config,
    operation: &str,
    locale: Option<&str>,
    attributes: Vec<(String, String)>,
) -> anyhow::Result<String> {
    let (settings, catalog) = (&config.settings, &config.policies.messages);
    let operation = mfa_totp_domain::Operation::parse(operation)
        .map_err(|e| anyhow::anyhow!("--operation {e}"))?;
    let locale = locale
        .map(mfa_totp_domain::Locale::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--locale {e}"))?;
    let attributes: serde_json::Map<String, serde_json::Value> = attributes
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect();
    let problems = catalog.check_attributes(&operation, &attributes);
    if let Some((name, problem)) = problems.first() {
        anyhow::bail!("--attr {name} {problem} (this operation's SMS shows it)");
    }
    let code: String = "123456789"
        .chars()
        .take(settings.challenge.otp_digits.into())
        .collect();
    let minutes = (i64::from(settings.challenge.code_ttl_secs) / 60).max(1);
    let sms = catalog.render(&code, minutes, &operation, &attributes, locale.as_ref());
    Ok(format!(
        "{}\n---\nlocale: {}\nencoding: {}\nsegments: {} ({} {})\n",
        sms.text,
        sms.locale,
        sms.cost.encoding.as_str(),
        sms.cost.segments,
        sms.cost.units,
        match sms.cost.encoding {
            mfa_totp_domain::Encoding::Gsm7 => "septets",
            mfa_totp_domain::Encoding::Ucs2 => "UTF-16 units",
        }
    ))
}
