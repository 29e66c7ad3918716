//! The black-box suite, one test binary (so CI links it once): the real server on port 0
//! with a fresh database, real HTTP, every response checked against the committed spec.
//! `TEST_LOG=1` shows the server's logs.

mod abuse;
mod assertions;
mod audit;
mod client_rust;
mod concurrency;
mod database_outage;
mod errors;
mod events;
mod fakes;
mod flow;
mod messages;
mod ownership;
mod slow_clients;
mod sms_providers;
mod spec;
mod spec_check;
mod tokens;
