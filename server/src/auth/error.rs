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
    #[error("the JWKS has no usable key {0:?}")]
    UnknownKey(String),
    #[error("the JWKS could not be fetched: {0}")]
    KeysUnavailable(String),
}
