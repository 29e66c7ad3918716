//! SMS provider adapters, chosen by config: `console` (development), `twilio`, `vonage` and
//! `webhook` (an in-house gateway), alone or as a failover chain with a retry and a circuit
//! breaker per provider.

pub mod chain;
pub mod console;
mod http;
pub mod twilio;
pub mod vonage;
pub mod webhook;

pub use chain::{ChainLink, ProviderReport, Resilience, SmsChain};
pub use console::{ConsoleLine, ConsoleSms, code_in};
pub use http::SetupError;
pub use twilio::{TwilioConfig, TwilioSms};
pub use vonage::{VonageConfig, VonageSms};
pub use webhook::{WebhookConfig, WebhookSms};
