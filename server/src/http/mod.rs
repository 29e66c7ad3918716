//! HTTP plumbing shared by every resource: the error contract, the strict JSON payload,
//! request ids, custom-method paths and the middleware that ties them together.

pub mod custom_methods;
pub mod error;
pub mod error_mapping;
pub mod form;
pub mod middleware;
pub mod request_id;
pub mod routes_table;
pub mod strict_json;
