//! The providers of `sms.chain`, in order, each behind a bounded retry with jittered backoff
//! (backon) and a circuit breaker (failsafe). What happens next depends on how the provider
//! answered ([`SmsError`]):
//! - a provider failure (unreachable, 5xx, 429, our account's problem) is retried, counts
//!   against the provider's breaker, then gives way to the next provider;
//! - a refusal of this message for its number stops the chain (another provider would be
//!   told the same) and says nothing about the provider's health: its breaker is untouched,
//!   so no number can open it;
//! - an unknown outcome (the request may have been taken) stops the chain without a retry,
//!   since the SMS may be on its way; being slow or silent is the provider's failure, so it
//!   counts against its breaker.
//!
//! A provider whose breaker is open is skipped without a request, so a dead provider costs
//! one fast failover instead of its timeout on every send.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use failsafe::backoff::{self, Constant};
use failsafe::failure_policy::{self, ConsecutiveFailures};
use failsafe::futures::CircuitBreaker;
use failsafe::{Config, StateMachine};
use mfa_totp_application::{OutboundSms, ProviderAnswer, SentSms, SmsError, SmsSender};

/// The chain's metrics, per provider (their names are an interface: the README lists them).
pub mod metric {
    /// Each provider's part in each send, by `provider` and `outcome` (`accepted`,
    /// `rejected` for this number, `failed`, `unknown`, `skipped` while its circuit is open).
    pub const PROVIDER_SENDS: &str = "mfa_totp_sms_provider_sends_total";
    /// How long a provider took, its retries included, by `provider`.
    pub const PROVIDER_DURATION: &str = "mfa_totp_sms_provider_duration_seconds";
    /// 1 while a provider's circuit breaker is open (it is skipped), else 0, by `provider`.
    pub const CIRCUIT_OPEN: &str = "mfa_totp_sms_circuit_open";

    /// The `outcome` of [`PROVIDER_SENDS`].
    pub const OUTCOMES: [&str; 5] = ["accepted", "rejected", "failed", "unknown", "skipped"];

    /// Describes these metrics (their HELP text).
    pub fn describe() {
        use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            PROVIDER_SENDS,
            "Each SMS provider's part in each send, by provider and outcome (skipped: its circuit was open)."
        );
        describe_histogram!(
            PROVIDER_DURATION,
            Unit::Seconds,
            "Time one SMS provider took for one send, its retries included, by provider."
        );
        describe_gauge!(
            CIRCUIT_OPEN,
            "1 while an SMS provider's circuit breaker is open (it is skipped), else 0, by provider."
        );
    }

    /// Registers each series of `provider` at 0, its circuit closed.
    pub(crate) fn register(provider: &'static str) {
        for outcome in OUTCOMES {
            metrics::counter!(PROVIDER_SENDS, "provider" => provider, "outcome" => outcome)
                .increment(0);
        }
        let _ = metrics::histogram!(PROVIDER_DURATION, "provider" => provider);
        metrics::gauge!(CIRCUIT_OPEN, "provider" => provider).increment(0.0);
    }
}

/// How hard each provider is tried before the chain moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resilience {
    /// Requests per message to one provider, the first included.
    pub attempts: u32,
    /// The first backoff between them; it doubles, with jitter, up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failed sends that open a provider's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its provider before one send may try it again.
    pub breaker_cool_off: Duration,
}

impl Default for Resilience {
    fn default() -> Self {
        Self {
            attempts: 2,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            breaker_failures: 3,
            breaker_cool_off: Duration::from_secs(30),
        }
    }
}

type Breaker = StateMachine<ConsecutiveFailures<Constant>, ()>;

/// One provider of the chain, with its breaker.
pub struct ChainLink {
    name: &'static str,
    provider: Arc<dyn SmsSender>,
    breaker: Breaker,
}

impl ChainLink {
    pub fn new(name: &'static str, provider: Arc<dyn SmsSender>, resilience: &Resilience) -> Self {
        let policy = failure_policy::consecutive_failures(
            resilience.breaker_failures.max(1),
            backoff::constant(resilience.breaker_cool_off),
        );
        metric::register(name);
        Self {
            name,
            provider,
            breaker: Config::new().failure_policy(policy).build(),
        }
    }

    /// Whether the breaker lets a send through now (and the gauge says so).
    pub fn is_available(&self) -> bool {
        let available = self.breaker.is_call_permitted();
        metrics::gauge!(metric::CIRCUIT_OPEN, "provider" => self.name).set(if available {
            0.0
        } else {
            1.0
        });
        available
    }
}

pub struct SmsChain {
    links: Vec<ChainLink>,
    retry: ExponentialBuilder,
}

impl SmsChain {
    pub fn new(links: Vec<ChainLink>, resilience: &Resilience) -> Self {
        let retry = ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(resilience.min_backoff)
            .with_max_delay(resilience.max_backoff)
            .with_max_times(resilience.attempts.saturating_sub(1) as usize);
        Self { links, retry }
    }

    pub fn links(&self) -> &[ChainLink] {
        &self.links
    }

    /// One provider, retried on transient failures, behind its breaker.
    async fn try_link(
        &self,
        link: &ChainLink,
        sms: &OutboundSms,
    ) -> (Result<SentSms, Failure>, u32) {
        let attempts = AtomicU32::new(0);
        let send = || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            link.provider.send(sms).await
        };
        let retried = send
            .retry(self.retry)
            .when(|e| matches!(e, SmsError::Unavailable(_)));
        // A refused number is not the provider's fault, and must not let a user open the
        // breaker; a failure or a silence is.
        let guarded = link.breaker.call_with(
            |e: &SmsError| matches!(e, SmsError::Unavailable(_) | SmsError::Unknown(_)),
            retried,
        );
        let result = match guarded.await {
            Ok(sent) => Ok(sent),
            Err(failsafe::Error::Rejected) => Err(Failure::CircuitOpen),
            Err(failsafe::Error::Inner(error)) => Err(Failure::Sms(error)),
        };
        (result, attempts.load(Ordering::Relaxed))
    }
}

enum Failure {
    CircuitOpen,
    Sms(SmsError),
}

/// What happened at one provider during one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    pub provider: &'static str,
    /// `accepted (message …)`, `rejected: …`, `unknown: …`, `failed: …` or `skipped:
    /// circuit open`.
    pub outcome: String,
    pub attempts: u32,
    pub latency_ms: u64,
}

impl SmsChain {
    /// Sends `sms` down the chain and reports what happened at each provider it reached.
    pub async fn send_reporting(
        &self,
        sms: &OutboundSms,
    ) -> (Result<SentSms, SmsError>, Vec<ProviderReport>) {
        let to = sms.to.masked();
        let mut reports = Vec::new();
        let mut last = None;
        for (position, link) in self.links.iter().enumerate() {
            let started = Instant::now();
            let (result, attempts) = self.try_link(link, sms).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let report = |outcome: String| ProviderReport {
                provider: link.name,
                outcome,
                attempts,
                latency_ms,
            };
            let count = |outcome: &'static str| {
                metrics::counter!(metric::PROVIDER_SENDS, "provider" => link.name, "outcome" => outcome)
                    .increment(1);
                if outcome != "skipped" {
                    metrics::histogram!(metric::PROVIDER_DURATION, "provider" => link.name)
                        .record(started.elapsed().as_secs_f64());
                }
                link.is_available();
            };
            match result {
                Ok(mut sent) => {
                    sent.attempts = attempts;
                    sent.chain_position = position;
                    count("accepted");
                    tracing::info!(provider = link.name, %to, latency_ms, attempts, position, "SMS accepted");
                    let id = sent.message_id.as_deref().unwrap_or("-");
                    reports.push(report(format!("accepted (message {id})")));
                    return (Ok(sent), reports);
                }
                Err(Failure::CircuitOpen) => {
                    count("skipped");
                    tracing::warn!(provider = link.name, %to, "SMS provider skipped: its circuit is open");
                    reports.push(report("skipped: circuit open".into()));
                    last = Some(ProviderAnswer::new(link.name, None, "circuit open"));
                }
                Err(Failure::Sms(error @ SmsError::Refused(_))) => {
                    count("rejected");
                    let answer = error.answer();
                    tracing::warn!(provider = link.name, %to, latency_ms, attempts, %answer, "SMS refused for this number");
                    reports.push(report(format!("rejected: {answer}")));
                    return (Err(error), reports);
                }
                Err(Failure::Sms(error @ SmsError::Unknown(_))) => {
                    count("unknown");
                    let answer = error.answer();
                    tracing::warn!(provider = link.name, %to, latency_ms, attempts, %answer, "SMS outcome unknown; not tried elsewhere");
                    reports.push(report(format!("unknown: {answer}")));
                    return (Err(error), reports);
                }
                Err(Failure::Sms(SmsError::Unavailable(answer))) => {
                    count("failed");
                    tracing::warn!(provider = link.name, %to, latency_ms, attempts, %answer, "SMS provider failed; trying the next");
                    reports.push(report(format!("failed: {answer}")));
                    last = Some(answer);
                }
            }
        }
        let summary = reports
            .iter()
            .map(|r| format!("{}: {}", r.provider, r.outcome))
            .collect::<Vec<_>>()
            .join("; ");
        let last = last.unwrap_or_else(|| ProviderAnswer::new("none", None, ""));
        (
            Err(SmsError::Unavailable(ProviderAnswer {
                detail: format!("every SMS provider failed: {summary}"),
                ..last
            })),
            reports,
        )
    }
}

#[async_trait]
impl SmsSender for SmsChain {
    async fn send(&self, sms: &OutboundSms) -> Result<SentSms, SmsError> {
        self.send_reporting(sms).await.0
    }
}
