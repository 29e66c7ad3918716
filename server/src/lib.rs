//! mfa-totp's server: the HTTP API (poem-openapi), auth, config, telemetry and the
//! composition root behind the `mfa-totp` binary. One wing per concern:
//! - `config/`: the configuration's schema, validation, policies and modes;
//! - `auth/`: bearer tokens, the identity provider's keys, who may call what;
//! - `http/`: the plumbing every resource shares (the error contract, strict JSON, request
//!   ids, colon paths, the middleware, the server loop);
//! - `api/`: the resources, and use-case errors in the contract's terms;
//! - `spec/`: the published OpenAPI document;
//! - `telemetry/`: logs, traces and metrics;
//! - `app/`: the composition root; `commands/`: what the CLI runs besides `serve`.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dev;
pub mod http;
pub mod spec;
pub mod telemetry;

pub use app::{Application, Overrides, SystemClock};
pub use config::{Config, Settings};

#[cfg(test)]
mod parser_properties;
