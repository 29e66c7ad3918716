//! Request strings with a domain rule. Path parameters parse straight into domain ids, and
//! body fields carry their rule as a `Text<R>`. Each publishes the exact rule the domain
//! applies (pattern, length, from the domain's own constants), so the spec and the parser
//! cannot disagree.

use std::borrow::Cow;
use std::marker::PhantomData;

use mfa_totp_domain::{ChallengeId, Locale, Operation, PhoneNumber, TEXT_PATTERN, UserId};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use crate::http::error::{FieldError, FieldErrorCode};

/// A body field parsed by its domain type: on failure, the field error at `field` that says
/// why (`NOT_BLANK`: the contract's code for a field without a usable value).
pub fn parsed<T, E: std::fmt::Display>(field: &str, value: Result<T, E>) -> Result<T, FieldError> {
    value.map_err(|e| FieldError::new(FieldErrorCode::NotBlank, field, &e.to_string()))
}

/// A `{challengeId}`: a hyphenated UUID.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeIdParam(pub ChallengeId);

/// A `{userId}`: 1 to 128 characters, no control character, not blank.
#[derive(Debug, Clone)]
pub struct UserIdParam(pub UserId);

/// The inline string schema both parameters share.
fn string_schema(
    format: Option<&'static str>,
    pattern: &str,
    max_length: Option<usize>,
    example: &str,
) -> MetaSchemaRef {
    let mut schema = MetaSchema::new("string");
    schema.format = format;
    schema.pattern = Some(pattern.to_owned());
    schema.min_length = Some(1);
    schema.max_length = max_length;
    schema.example = Some(Value::String(example.to_owned()));
    MetaSchemaRef::Inline(Box::new(schema))
}

/// The rule a `Text` field publishes.
pub trait TextRule: Send + Sync + 'static {
    const NAME: &'static str;
    const PATTERN: &'static str;
    const MAX_LEN: Option<usize>;
    const EXAMPLE: &'static str;
}

/// A body string whose schema states its domain rule. The handler still parses it with the
/// domain type; this only makes the spec say what that parser accepts.
pub struct Text<R>(pub String, PhantomData<R>);

/// Shows the rule, not the value: a phone number must not reach a log through `{:?}`.
impl<R: TextRule> std::fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}(..)", R::NAME)
    }
}

impl<R> Text<R> {
    pub fn new(value: String) -> Self {
        Self(value, PhantomData)
    }
}

pub enum UserIdRule {}
pub enum OperationRule {}
pub enum PhoneNumberRule {}
pub enum LocaleRule {}
pub enum RequestIdRule {}
pub enum MaskedPhoneRule {}

impl TextRule for RequestIdRule {
    const NAME: &'static str = "RequestIdText";
    const PATTERN: &'static str = crate::http::request_id::PATTERN;
    const MAX_LEN: Option<usize> = Some(crate::http::request_id::MAX_LEN);
    const EXAMPLE: &'static str = crate::http::request_id::EXAMPLE;
}

impl TextRule for MaskedPhoneRule {
    const NAME: &'static str = "MaskedPhoneNumberText";
    /// `+`, two digits, the hidden middle, the last three: as `PhoneNumber::masked` writes.
    const PATTERN: &'static str = r"^\+[1-9][0-9]\*{3,10}[0-9]{3}$";
    const MAX_LEN: Option<usize> = Some(PhoneNumber::MAX_LEN);
    const EXAMPLE: &'static str = "+44*******123";
}

impl TextRule for LocaleRule {
    const NAME: &'static str = "LocaleText";
    const PATTERN: &'static str = Locale::PATTERN;
    const MAX_LEN: Option<usize> = Some(Locale::MAX_LEN);
    const EXAMPLE: &'static str = "de";
}

impl TextRule for UserIdRule {
    const NAME: &'static str = "UserIdText";
    const PATTERN: &'static str = TEXT_PATTERN;
    const MAX_LEN: Option<usize> = Some(UserId::MAX_LEN);
    const EXAMPLE: &'static str = "alice";
}

impl TextRule for OperationRule {
    const NAME: &'static str = "OperationText";
    const PATTERN: &'static str = TEXT_PATTERN;
    const MAX_LEN: Option<usize> = Some(Operation::MAX_LEN);
    const EXAMPLE: &'static str = "payments.transfer";
}

impl TextRule for PhoneNumberRule {
    const NAME: &'static str = "PhoneNumberText";
    const PATTERN: &'static str = PhoneNumber::PATTERN;
    const MAX_LEN: Option<usize> = Some(PhoneNumber::MAX_LEN);
    const EXAMPLE: &'static str = "+447400123123";
}

impl<R: TextRule> Type for Text<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        R::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        string_schema(None, R::PATTERN, R::MAX_LEN, R::EXAMPLE)
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<R: TextRule> ParseFromJSON for Text<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(Self::new(s)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<R: TextRule> ToJSON for Text<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

macro_rules! param_type {
    ($param:ty, $name:literal, $schema:expr) => {
        impl Type for $param {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                $schema
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

param_type!(
    ChallengeIdParam,
    "ChallengeId",
    string_schema(
        Some("uuid"),
        ChallengeId::PATTERN,
        Some(ChallengeId::LEN),
        crate::api::EXAMPLE_CHALLENGE_ID
    )
);
param_type!(
    UserIdParam,
    "UserId",
    string_schema(None, TEXT_PATTERN, Some(UserId::MAX_LEN), "alice")
);

impl ParseFromParameter for ChallengeIdParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        ChallengeId::parse(value)
            .map(Self)
            .map_err(|e| ParseError::custom(format!("challengeId {e}")))
    }
}

impl ParseFromParameter for UserIdParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        UserId::parse(value)
            .map(Self)
            .map_err(|e| ParseError::custom(format!("userId {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_with_the_domain_rules() {
        let id = ChallengeId::generate();
        assert_eq!(
            ChallengeIdParam::parse_from_parameter(&id.to_string())
                .unwrap()
                .0,
            id
        );
        assert!(ChallengeIdParam::parse_from_parameter("0").is_err());
        assert_eq!(
            UserIdParam::parse_from_parameter("alice")
                .unwrap()
                .0
                .as_str(),
            "alice"
        );
        assert!(UserIdParam::parse_from_parameter("a\u{7}").is_err());
    }
}
