//! Configuration, in one wing: built-in defaults, then an optional file (`--config` or
//! `MFA_TOTP_CONFIG`), then `MFA_TOTP__SECTION__KEY` environment variables. A wrong value
//! stops start-up with a message that names the key.
//!
//! - `layers`: reading the defaults, the file and the environment;
//! - `schema`: every key, its type and its default (serde);
//! - `validate`: what serde cannot check, every problem at once, into a `Config`;
//! - `policies`: the settings translated into the domain's policies, once;
//! - `messages`: the SMS templates and operations, read as trees, into the catalog;
//! - `secrets`: every secret, on its decoded bytes, after the layers are merged;
//! - `urls`: every URL setting, and `database.url`, parsed without connecting;
//! - `mode`: production versus development (`serve --dev`);
//! - `check`: `mfa-totp config check`.
//!
//! Other modules read the values they own (connection limits, token lifetime) from here;
//! this wing imports nothing of theirs.

mod check;
mod layers;
mod messages;
mod mode;
mod policies;
mod schema;
mod secrets;
mod urls;
mod validate;

#[cfg(test)]
mod tests;

pub use check::{Checked, check};
pub use layers::{Read, Sources};
pub use messages::warn_about_long_templates;
pub use mode::{
    DEVELOPMENT_ASSERTION_KEY, DEVELOPMENT_ASSERTION_KEY_ID, DEVELOPMENT_CRYPTO_KEY,
    DEVELOPMENT_CRYPTO_KEY_ID, DEVELOPMENT_HS256_SECRET, Mode,
};
pub use policies::Policies;
pub use schema::*;
pub use validate::Config;
