//! Table models. Status and state columns hold the domain's upper-case names.

pub mod audit_event;
pub mod challenge;
pub mod rate_limit;
pub mod sms_send;
pub mod step_up_context;
pub mod user;
