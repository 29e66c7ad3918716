//! HTTP plumbing shared by every resource: the error contract, the strict JSON payload,
//! request ids, custom-method paths, the middleware that ties them together, and the server
//! loop with its timeouts and connection cap.

pub mod custom_methods;
pub mod error;
pub mod form;
pub mod middleware;
pub mod request_id;
pub mod routes_table;
pub mod serve;
pub mod strict_json;
mod unique_keys;
