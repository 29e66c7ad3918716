//! Each SMS provider over real HTTP against a local fake (wiremock) that checks the method,
//! path, auth, content type and every field, and answers with that provider's real success
//! and error bodies; then the chain: failover, a permanent rejection, timeouts, the breaker,
//! and every provider down. One test binary.

mod chain;
mod support;
mod twilio;
mod vonage;
mod webhook;
