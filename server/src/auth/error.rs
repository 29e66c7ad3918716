//! Why a token was refused: the one error type of the auth wing, which both the token
//! checks and the JWKS raise.

/// Why a token was refused. Every one answers 401, except keys that cannot be fetched (503).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error(
        "the token's sub is not canonical: blank, surrounded by white space, with control characters or too long"
    )]
    NonCanonicalSubject,
    #[error("the token lives longer than auth.max_token_lifetime_secs ({max_secs} s)")]
    TooLongLived { max_secs: u64 },
    #[error("the token names no key (kid) and the keys come from a JWKS")]
    MissingKeyId,
    #[error("the JWKS has no usable key {0}")]
    UnknownKey(String),
    #[error("the token is longer than auth.max_token_bytes ({max} bytes)")]
    TooLarge { max: usize },
    #[error("the JWKS could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl TokenError {
    /// The longest part of a caller's value (a `kid`) that an error or log line shows.
    pub const SHOWN_CHARS: usize = 64;

    /// `value` as an error shows it: quoted, escaped, and cut at [`Self::SHOWN_CHARS`].
    pub fn shown(value: &str) -> String {
        let start: String = value.chars().take(Self::SHOWN_CHARS).collect();
        if start.len() < value.len() {
            format!("{start:?}... ({} bytes)", value.len())
        } else {
            format!("{start:?}")
        }
    }
}
