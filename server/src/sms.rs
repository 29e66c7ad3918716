//! The SMS sender that config picks: `console` alone, or the providers of `sms.provider` /
//! `sms.chain`, each behind a retry and a circuit breaker.

use std::sync::Arc;

use mfa_totp_application::SmsSender;
use mfa_totp_sms::{ChainLink, ConsoleSms, Resilience, SmsChain, TwilioSms, VonageSms, WebhookSms};

use crate::settings::{SmsProvider, SmsSettings};

/// The configured sender. Errors name the missing or wrong key.
pub fn build_sender(settings: &SmsSettings) -> anyhow::Result<Arc<dyn SmsSender>> {
    let providers = settings.providers();
    if providers == [SmsProvider::Console] {
        return Ok(Arc::new(ConsoleSms::stdout()));
    }
    let resilience = Resilience::default();
    let links = providers
        .into_iter()
        .map(|provider| {
            Ok(ChainLink::new(
                provider.name(),
                build_one(provider, settings)?,
                &resilience,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Arc::new(SmsChain::new(links, &resilience)))
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
