//! The `mfa-totp` binary itself, run as a process: the README's flow with no set-up, and a
//! fleet of two processes on one PostgreSQL database. One test binary, so CI links it once.

mod drain;
mod events;
mod fleet;
mod memory;
mod metrics;
mod operations;
mod production;
mod readme_flow;
mod sms_providers;
mod support;
mod traces;
mod trust_store;
