//! Configuration, in one wing: built-in defaults, then an optional file (`--config` or
//! `MFA_TOTP_CONFIG`), then `MFA_TOTP__SECTION__KEY` environment variables. A wrong value
//! stops start-up with a message that names the key.
//!
//! - `schema`: every key, its type and its default (serde);
//! - `validate`: what serde cannot check, every problem at once;
//! - `policies`: the settings translated into the domain's policies, once;
//! - `messages`: the SMS templates and operations, read as trees, into the catalog;
//! - `mode`: production versus development (`serve --dev`);
//! - `check`: `mfa-totp config check`.
//!
//! Other modules read the values they own (connection limits, token lifetime) from here;
//! this wing imports nothing of theirs.

mod check;
mod messages;
mod mode;
mod policies;
mod schema;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use config::{Environment, File};

pub use check::{Checked, check};
pub use messages::warn_about_long_templates;
pub use mode::{
    DEVELOPMENT_CRYPTO_KEY, DEVELOPMENT_CRYPTO_KEY_ID, DEVELOPMENT_HS256_SECRET,
    MIN_HS256_SECRET_BYTES, Mode,
};
pub use policies::Policies;
pub use schema::*;

/// The environment variables that configure the service start with this.
const ENV_PREFIX: &str = "MFA_TOTP__";

/// A validated configuration: the settings, and the policies they describe.
pub struct Config {
    pub settings: Settings,
    pub policies: Policies,
}

impl Config {
    /// Reads and validates the layers. `file` is the optional config file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::new(Settings::read(file)?)
    }

    /// Validates `settings`: every problem is named at once.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let policies = settings.validated()?;
        Ok(Self { settings, policies })
    }
}

impl Settings {
    /// Loads and validates the layers. `file` is the optional config file.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Config::load(file)?.settings)
    }

    /// The layers, deserialised but not yet validated.
    pub fn read(file: Option<&Path>) -> anyhow::Result<Self> {
        refuse_empty_environment_values(std::env::vars_os())?;
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            // No `try_parsing`: it would turn a secret such as `007` or `1e5` into a number
            // and back. Typed keys parse from the string when they are deserialised.
            Environment::with_prefix("MFA_TOTP")
                .prefix_separator("__")
                .separator("__"),
        );
        let settings: Settings = builder
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(settings)
    }
}

/// An empty `MFA_TOTP__…` variable is an error naming it: it must never count as a
/// configured value (an empty secret would sign tokens anyone can forge).
fn refuse_empty_environment_values(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> anyhow::Result<()> {
    let empty: Vec<String> = vars
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(ENV_PREFIX))
        .map(|name| {
            let key = name[ENV_PREFIX.len()..].replace("__", ".").to_lowercase();
            format!("{name} ({key})")
        })
        .collect();
    if empty.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "invalid configuration: {} set but empty; give it a value or unset it",
            empty.join(", ")
        )
    }
}
