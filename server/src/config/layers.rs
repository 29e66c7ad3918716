//! Reading the layers: built-in defaults, then an optional file (`--config` or
//! `MFA_TOTP_CONFIG`), then `MFA_TOTP__SECTION__KEY` environment variables. An empty
//! variable is refused, naming it.

use std::path::Path;

use config::{Environment, File};

use super::schema::Settings;

/// The environment variables that configure the service start with this.
const ENV_PREFIX: &str = "MFA_TOTP__";

impl Settings {
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
