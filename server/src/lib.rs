//! mfa-totp's server: the HTTP API (poem-openapi), auth, config, telemetry and the
//! composition root behind the `mfa-totp` binary.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config_check;
pub mod http;
pub mod jwks;
pub mod keys;
pub mod messages;
pub mod settings;
pub mod sms;
pub mod spec;
pub mod startup;
pub mod telemetry;

pub use clock::SystemClock;
pub use settings::Settings;
pub use startup::{Application, Overrides};

#[cfg(test)]
mod parser_properties;
