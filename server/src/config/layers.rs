//! Reading the layers: built-in defaults, then an optional file (`--config` or
//! `MFA_TOTP_CONFIG`), then `MFA_TOTP__SECTION__KEY` environment variables. An empty
//! variable is refused, naming it; every problem is named at once, with its source.

use std::collections::BTreeMap;
use std::path::Path;

use config::{ConfigError, Environment, File, Value, ValueKind};

use super::schema::Settings;

/// The environment variables that configure the service start with this.
const ENV_PREFIX: &str = "MFA_TOTP__";

/// The most problems one reading names.
const MAX_PROBLEMS: usize = 64;

/// What reading the layers gave: the settings (values that did not deserialise set aside,
/// so their defaults stand in), where each configured value came from, and each problem.
pub struct Read {
    pub settings: Option<Settings>,
    pub sources: Sources,
    pub problems: Vec<String>,
}

impl Read {
    /// The read problems, then every problem of validating what was read, each with the
    /// source of the key it names: all of them at once.
    pub fn all_problems(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        if let Some(settings) = &self.settings {
            problems.extend(settings.problems().iter().map(|p| self.sources.annotate(p)));
        }
        problems
    }
}

impl Settings {
    /// The layers, deserialised, and every problem of reading them, each naming its key and
    /// where its value came from (the file, or the environment variable). A value that does
    /// not deserialise is set aside and the rest read again, so one wrong value does not
    /// hide the next.
    pub fn read_all(file: Option<&Path>) -> Read {
        let mut problems = empty_environment_values(std::env::vars_os());
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
        let mut merged = match builder.build() {
            Ok(merged) => merged.cache,
            Err(error) => {
                problems.push(format!("invalid configuration: {error}"));
                return Read {
                    settings: None,
                    sources: Sources::default(),
                    problems,
                };
            }
        };
        let mut settings = None;
        for _ in 0..MAX_PROBLEMS {
            match merged.clone().try_deserialize::<Settings>() {
                Ok(read) => {
                    settings = Some(read);
                    break;
                }
                Err(error) => {
                    let mut problem = Problem::of(&error);
                    if problem.origin.is_none() {
                        problem.origin =
                            problem.full_key().and_then(|key| origin_of(&merged, &key));
                    }
                    problems.push(problem.to_string());
                    if !problem.set_aside(&mut merged) {
                        break;
                    }
                }
            }
        }
        Read {
            settings,
            sources: Sources::of(&merged),
            problems,
        }
    }
}

/// One value that did not deserialise: its key, where it came from, and why.
struct Problem {
    key: Option<String>,
    origin: Option<String>,
    cause: String,
}

impl Problem {
    fn of(error: &ConfigError) -> Self {
        match error {
            ConfigError::At { error, origin, key } => {
                let inner = Self::of(error);
                Self {
                    key: key.clone().or(inner.key),
                    origin: origin.clone().or(inner.origin),
                    cause: inner.cause,
                }
            }
            ConfigError::Type {
                origin,
                unexpected,
                expected,
                key,
            } => Self {
                key: key.clone(),
                origin: origin.clone(),
                cause: format!("invalid type: {unexpected}, expected {expected}"),
            },
            ConfigError::Message(message) => Self {
                key: None,
                origin: None,
                cause: message.clone(),
            },
            other => Self {
                key: None,
                origin: None,
                cause: other.to_string(),
            },
        }
    }

    /// The key at fault: an unknown field's own key, not its table's.
    fn full_key(&self) -> Option<String> {
        let unknown = self
            .cause
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        match (&self.key, unknown) {
            (Some(table), Some(field)) => Some(format!("{table}.{field}")),
            (None, Some(field)) => Some(field.to_owned()),
            (key, None) => key.clone(),
        }
    }

    /// Removes the value at fault, so that the rest can be read again; false when there is
    /// no key to remove.
    fn set_aside(&self, merged: &mut Value) -> bool {
        let Some(key) = self.full_key() else {
            return false;
        };
        let mut path: Vec<&str> = key.split('.').collect();
        let Some(last) = path.pop() else {
            return false;
        };
        let last = last.split('[').next().unwrap_or(last);
        let mut table = merged;
        for part in path {
            let part = part.split('[').next().unwrap_or(part);
            let ValueKind::Table(map) = &mut table.kind else {
                return false;
            };
            let Some(next) = map.get_mut(part) else {
                return false;
            };
            table = next;
        }
        match &mut table.kind {
            ValueKind::Table(map) => map.remove(last).is_some(),
            _ => false,
        }
    }
}

/// Where the value at `key` came from: the file's path, or `the environment`.
fn origin_of(merged: &Value, key: &str) -> Option<String> {
    let mut value = merged;
    for part in key.split('.') {
        let part = part.split('[').next().unwrap_or(part);
        let ValueKind::Table(map) = &value.kind else {
            return None;
        };
        value = map.get(part)?;
    }
    value.origin().map(str::to_owned)
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: ")?;
        let key = self.full_key();
        if let Some(key) = &key {
            write!(f, "{key}")?;
        }
        match (self.origin.as_deref(), &key) {
            (Some("the environment"), Some(key)) => write!(f, " ({})", variable_of(key))?,
            (Some(origin), _) => write!(f, " (in {origin})")?,
            (None, _) => {}
        }
        if key.is_some() || self.origin.is_some() {
            write!(f, ": ")?;
        }
        write!(f, "{}", self.cause)
    }
}

/// The environment variable that sets `key`: `sms.twilio.auth_token` is
/// `MFA_TOTP__SMS__TWILIO__AUTH_TOKEN`.
fn variable_of(key: &str) -> String {
    let key = key.split('[').next().unwrap_or(key);
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// Each empty `MFA_TOTP__…` variable, named: it must never count as a configured value (an
/// empty secret would sign tokens anyone can forge).
fn empty_environment_values(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<String> {
    let mut empty: Vec<String> = vars
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(ENV_PREFIX))
        .map(|name| {
            let key = name[ENV_PREFIX.len()..].replace("__", ".").to_lowercase();
            format!(
                "invalid configuration: {key} ({name}): set but empty; give it a value or unset it"
            )
        })
        .collect();
    empty.sort();
    empty
}

/// Where each configured value came from, by its dotted key: a file's path, or the
/// environment variable that set it. Values left at their defaults have no entry.
#[derive(Debug, Default, Clone)]
pub struct Sources(BTreeMap<String, String>);

impl Sources {
    fn of(merged: &Value) -> Self {
        let mut sources = BTreeMap::new();
        collect(merged, String::new(), &mut sources);
        Self(sources)
    }

    /// `problem` with the source of the key it names (the longest configured key it
    /// mentions): ` (MFA_TOTP__CHALLENGE__MAX_SENDS)` or ` (in mfa-totp.toml)`.
    pub fn annotate(&self, problem: &str) -> String {
        let named = self
            .0
            .iter()
            .filter(|(key, _)| mentions(problem, key))
            .max_by_key(|(key, _)| key.len());
        match named {
            Some((key, origin)) if origin == "the environment" => {
                format!("{problem} [set by {}]", variable_of(key))
            }
            Some((_, origin)) => format!("{problem} [set in {origin}]"),
            None => problem.to_owned(),
        }
    }
}

/// Whether `text` names `key` as a whole key, not as part of a longer one.
fn mentions(text: &str, key: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + key.len()..].chars();
        let longer = match after.next() {
            Some('.') => after.next().is_some_and(word),
            Some(c) => word(c),
            None => false,
        };
        !before.is_some_and(|c| word(c) || c == '.') && !longer
    })
}

fn collect(value: &Value, key: String, into: &mut BTreeMap<String, String>) {
    match &value.kind {
        ValueKind::Table(map) => {
            for (name, child) in map {
                let child_key = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                collect(child, child_key, into);
            }
        }
        _ => {
            if let Some(origin) = value.origin() {
                into.insert(key, origin.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_annotated_with_the_source_of_the_key_it_names() {
        let mut sources = BTreeMap::new();
        sources.insert(
            "challenge.max_sends".to_owned(),
            "the environment".to_owned(),
        );
        sources.insert("challenge.max".to_owned(), "mfa-totp.toml".to_owned());
        sources.insert("limits.user_sms.max".to_owned(), "mfa-totp.toml".to_owned());
        let sources = Sources(sources);
        assert_eq!(
            sources.annotate("invalid configuration: challenge.max_sends must be at most 100."),
            "invalid configuration: challenge.max_sends must be at most 100. \
             [set by MFA_TOTP__CHALLENGE__MAX_SENDS]"
        );
        assert_eq!(
            sources.annotate("limits.user_sms.max: too big"),
            "limits.user_sms.max: too big [set in mfa-totp.toml]"
        );
        assert_eq!(sources.annotate("server.port: no"), "server.port: no");
    }
}
