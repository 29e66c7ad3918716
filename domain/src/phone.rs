//! E.164 phone numbers, and the masked form that is the only one allowed in logs.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an E.164 phone number: '+' then 8 to 15 digits, the first not 0")]
pub struct InvalidPhoneNumber;

/// A phone number in E.164 form (`+447700900123`).
///
/// `Debug` and `Display` print the masked form, so a number never leaks into a log line
/// by accident; [`PhoneNumber::as_e164`] gives the full number to the SMS adapters.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The published form: E.164, `+` and 8 to 15 digits, the first not `0`.
    pub const PATTERN: &str = r"^\+[1-9][0-9]{7,14}$";
    /// The longest E.164 number: `+` and 15 digits.
    pub const MAX_LEN: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, InvalidPhoneNumber> {
        let digits = raw.strip_prefix('+').ok_or(InvalidPhoneNumber)?;
        let well_formed = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidPhoneNumber)
        }
    }

    /// The full number. Only for the wire to an SMS provider; never for logs.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// `+44*******123`: the `+`, the first two and the last three digits.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let hidden = digits.len() - 5;
        format!(
            "+{}{}{}",
            &digits[..2],
            "*".repeat(hidden),
            &digits[2 + hidden..]
        )
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_e164_and_masks_the_middle() {
        let phone = PhoneNumber::parse("+447700900123").unwrap();
        assert_eq!(phone.as_e164(), "+447700900123");
        assert_eq!(phone.masked(), "+44*******123");
        assert_eq!(
            format!("{phone} {phone:?}"),
            "+44*******123 PhoneNumber(+44*******123)"
        );
    }

    #[test]
    fn refuses_numbers_that_are_not_e164() {
        for raw in [
            "447700900123",
            "+0447700900",
            "+44 7700 900123",
            "+1234567",
            "+1234567890123456",
            "+",
            "",
        ] {
            assert_eq!(PhoneNumber::parse(raw), Err(InvalidPhoneNumber), "{raw}");
        }
    }

    proptest! {
        #[test]
        fn masked_form_never_shows_more_than_five_digits(n in "[1-9][0-9]{7,14}") {
            let phone = PhoneNumber::parse(&format!("+{n}")).unwrap();
            let masked = phone.masked();
            prop_assert_eq!(masked.len(), n.len() + 1);
            prop_assert_eq!(masked.chars().filter(char::is_ascii_digit).count(), 5);
        }

        #[test]
        fn pattern_accepts_exactly_what_parse_accepts(raw in r"\+?[0-9٣a ]{0,17}\n?") {
            let pattern = regex::Regex::new(PhoneNumber::PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&raw), PhoneNumber::parse(&raw).is_ok(), "{:?}", raw);
        }
    }
}
