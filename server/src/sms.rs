//! The SMS sender that config picks: `console` alone, or the providers of `sms.provider` /
//! `sms.chain`, each behind a retry and a circuit breaker; and `mfa-totp sms test`.

use std::sync::Arc;

use mfa_totp_application::{OutboundSms, ReadinessCheck, SmsSender};
use mfa_totp_sms::{ChainLink, ConsoleSms, Resilience, SmsChain, TwilioSms, VonageSms, WebhookSms};

use crate::settings::{SmsProvider, SmsSettings};

/// The configured sender. Errors name the missing or wrong key.
pub fn build_sender(settings: &SmsSettings) -> anyhow::Result<Arc<dyn SmsSender>> {
    Ok(build_sms(settings)?.0)
}

/// The readiness check of an SMS chain, when there is one.
pub type SmsReadiness = Option<Arc<dyn ReadinessCheck>>;

/// The configured sender, and the readiness check of its chain (`sms`: not ready while every
/// provider's circuit is open). The console alone has no circuit and no check.
pub fn build_sms(settings: &SmsSettings) -> anyhow::Result<(Arc<dyn SmsSender>, SmsReadiness)> {
    if settings.providers() == [SmsProvider::Console] {
        return Ok((Arc::new(ConsoleSms::stdout()), None));
    }
    let chain = Arc::new(build_chain(settings)?);
    Ok((chain.clone(), Some(chain)))
}

/// Every configured provider as a chain, each behind its retry and breaker (console too).
pub fn build_chain(settings: &SmsSettings) -> anyhow::Result<SmsChain> {
    let resilience = Resilience::default();
    let links = settings
        .providers()
        .into_iter()
        .map(|provider| {
            let sender = build_one(provider, settings)?;
            Ok(ChainLink::new(provider.name(), sender, &resilience))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SmsChain::new(links, &resilience))
}

fn build_one(provider: SmsProvider, settings: &SmsSettings) -> anyhow::Result<Arc<dyn SmsSender>> {
    let missing = |key: String| {
        anyhow::anyhow!(
            "invalid configuration: {key} is required for the {} SMS provider",
            provider.name()
        )
    };
    Ok(match provider {
        SmsProvider::Console => Arc::new(ConsoleSms::stdout()),
        SmsProvider::Twilio => Arc::new(TwilioSms::new(&settings.twilio).map_err(missing)?),
        SmsProvider::Vonage => Arc::new(VonageSms::new(&settings.vonage).map_err(missing)?),
        SmsProvider::Webhook => Arc::new(WebhookSms::new(&settings.webhook).map_err(missing)?),
    })
}

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
