//! Stored names: the one way an enum of the domain gets the name it is stored, configured and
//! published under. `stored_names!` writes `ALL`, `as_str`, `Display` and `FromStr` from one
//! list, so no conversion is written by hand and every enum parses the same way.

use std::fmt;

/// A name that no variant bears.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{name}'")]
pub struct UnknownName {
    /// What was being named (`ChallengeStatus`, `LimitKind`, ...).
    pub kind: &'static str,
    pub name: String,
}

impl UnknownName {
    pub fn new(kind: &'static str, name: impl fmt::Display) -> Self {
        Self {
            kind,
            name: name.to_string(),
        }
    }
}

/// `ALL`, `as_str`, `Display` and `FromStr` for a fieldless enum, from its variants' names.
/// Parsing ignores ASCII case, so a provider's `delivered` reads as `DELIVERED`; the names
/// of one enum never differ by case alone.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: [Self; [$(stringify!($variant)),*].len()] = [$(Self::$variant),*];

            /// The name it is stored, configured and published under.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),*
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| $crate::names::UnknownName::new(stringify!($ty), s))
            }
        }
    };
}

pub(crate) use stored_names;
