//! Identifiers parsed at the edge: a challenge id is a UUID, a user id is an opaque,
//! non-blank string chosen by the user directory.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    #[error("must not be blank")]
    Blank,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must be a UUID")]
    NotUuid,
}

/// The id of a challenge: a UUID in its lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChallengeId(uuid::Uuid);

impl ChallengeId {
    /// A new random (v4) id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Parses any hyphenated or simple UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        uuid::Uuid::try_parse(raw.trim())
            .map(Self)
            .map_err(|_| InvalidId::NotUuid)
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The id of a user, as the user directory and the caller's token (`sub`) know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    /// Accepts 1 to 128 characters with no control characters; surrounding blanks are trimmed.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        if raw.trim().is_empty() {
            return Err(InvalidId::Blank);
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(InvalidId::TooLong { max: Self::MAX_LEN });
        }
        if raw.chars().any(char::is_control) {
            return Err(InvalidId::ControlCharacter);
        }
        Ok(Self(raw.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_id_round_trips_through_its_display_form() {
        let id = ChallengeId::generate();
        assert_eq!(ChallengeId::parse(&id.to_string()), Ok(id));
    }

    #[test]
    fn challenge_id_refuses_what_is_not_a_uuid() {
        assert_eq!(ChallengeId::parse("abc"), Err(InvalidId::NotUuid));
        assert_eq!(ChallengeId::parse(""), Err(InvalidId::NotUuid));
    }

    #[test]
    fn user_id_refuses_blank_long_and_control_characters() {
        assert_eq!(UserId::parse("  "), Err(InvalidId::Blank));
        assert_eq!(
            UserId::parse(&"u".repeat(129)),
            Err(InvalidId::TooLong { max: 128 })
        );
        assert_eq!(UserId::parse("a\nb"), Err(InvalidId::ControlCharacter));
        assert_eq!(UserId::parse("user-42").unwrap().as_str(), "user-42");
    }
}
