//! What an attribute shown in an SMS may hold. A phone turns text into links (URLs, domains,
//! e-mail addresses), calls (phone numbers) and autofill (codes, the WebOTP `@domain #code`
//! line), and shows invisible letters as blanks: an allow-list per kind of value keeps every
//! one of those out, whatever script the value is written in.

use std::fmt;

use crate::names::stored_names;

/// The kinds of value an attribute may hold, as `sms.operations.<operation>.attribute_kinds`
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttributeKind {
    /// `120.00`, `1,234.56`, `12.345,67`, `-5`: digits with 3-digit groups (`,` `.` `'`,
    /// a space or a narrow space between them) above 9999, and up to 2 decimals (3 digits after a
    /// separator are a group).
    Amount,
    /// An ISO 4217 code: three capital letters (`GBP`).
    Currency,
    /// A person's or a company's name: letters of any script and their accents, single
    /// spaces, `' ’ & - , ( )`, a `.` only at the end of a word (`Ltd.`), and at most 4
    /// digits in all (`3M`, `7-Eleven`).
    Name,
    /// What an attribute with no declared kind may hold: an amount, a currency code or a name.
    Text,
}

stored_names!(AttributeKind {
    Amount = "amount",
    Currency = "currency",
    Name = "name",
    Text = "text",
});

/// The most digits a name may hold: fewer than any code or phone number.
const MAX_NAME_DIGITS: usize = 4;

impl AttributeKind {
    /// Whether `text` (trimmed) is a value of this kind; `Err` says what this kind allows.
    pub fn check(self, text: &str) -> Result<(), KindRefusal> {
        let fits = match self {
            Self::Amount => is_amount(text),
            Self::Currency => text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()),
            Self::Name => is_name(text),
            Self::Text => is_amount(text) || is_name(text),
        };
        if fits { Ok(()) } else { Err(KindRefusal(self)) }
    }
}

/// A value refused by its kind; displays what the kind allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindRefusal(pub AttributeKind);

impl fmt::Display for KindRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            AttributeKind::Amount => {
                "must be an amount such as 120.00 or 1,234.56 (digits in groups of 3 above 9999)"
            }
            AttributeKind::Currency => "must be a currency code of three capital letters (GBP)",
            AttributeKind::Name => {
                "must be a name: letters, single spaces, ' & - , ( ), a '.' only after a word, \
                 and at most 4 digits (so that no phone shows a link, a number or a code in it)"
            }
            AttributeKind::Text => {
                "must be an amount (120.00), a currency code (GBP) or a name: letters, single \
                 spaces, ' & - , ( ), a '.' only after a word, and at most 4 digits (so that no \
                 phone shows a link, a number or a code in it)"
            }
        })
    }
}

fn is_amount(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    // The decimals: after the last `.` or `,` when 1 to 3 digits follow it and 3-digit
    // grouping does not explain it (`1,234` is one thousand two hundred and thirty-four).
    let (integer, decimals) = match unsigned.rfind(['.', ',']) {
        Some(at) if (1..=2).contains(&(unsigned.len() - at - 1)) => {
            (&unsigned[..at], Some(&unsigned[at + 1..]))
        }
        _ => (unsigned, None),
    };
    if decimals.is_some_and(|d| !d.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let groups: Vec<&str> = integer
        .split([',', '.', '\'', ' ', '\u{A0}', '\u{202F}'])
        .collect();
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    match groups.as_slice() {
        // Without grouping, at most 4 digits, and no leading zero but in `0`.
        [single] => {
            digits(single) && single.len() <= 4 && (*single == "0" || !single.starts_with('0'))
        }
        [first, rest @ ..] => {
            digits(first)
                && first.len() <= 3
                && !first.starts_with('0')
                && rest.len() <= 3
                && rest.iter().all(|g| digits(g) && g.len() == 3)
        }
        [] => false,
    }
}

/// Letters that show as nothing: Hangul fillers, which are letters to Unicode.
fn is_invisible_letter(c: char) -> bool {
    matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

fn is_name(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() || chars.iter().filter(|c| c.is_ascii_digit()).count() > MAX_NAME_DIGITS {
        return false;
    }
    chars.iter().enumerate().all(|(i, &c)| {
        let next = chars.get(i + 1).copied();
        match c {
            c if is_invisible_letter(c) => false,
            c if c.is_alphabetic() => true,
            '\u{300}'..='\u{36F}' => i > 0,
            '0'..='9' => true,
            ' ' => i > 0 && next.is_some_and(|n| n != ' '),
            '\'' | '’' | '&' | '-' | ',' | '(' | ')' => true,
            // A full stop ends a word (`Ltd.`, `St. James`): never between two words, where
            // a phone would see a domain.
            '.' => i > 0 && chars[i - 1].is_alphabetic() && next.is_none_or(|n| n == ' '),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_payees_amounts_and_currencies_pass() {
        for name in [
            "ACME Ltd",
            "Müller & Söhne GmbH",
            "O'Brien",
            "O’Brien",
            "Łukasz Żółć",
            "Zoë & Co",
            "ACME Ltd.",
            "St. James (London)",
            "7-Eleven",
            "Ελένη Παπαδοπούλου",
            "Иван Петров",
            "محمد علي",
            "山田太郎",
            "Jose\u{301} Garci\u{301}a",
        ] {
            assert_eq!(AttributeKind::Name.check(name), Ok(()), "{name}");
            assert_eq!(AttributeKind::Text.check(name), Ok(()), "{name}");
        }
        for amount in [
            "120.00",
            "120",
            "0.5",
            "1,234.56",
            "12.345,67",
            "1 234,56",
            "-5",
            "9999",
            "100,000",
            "1'000'000.00",
        ] {
            assert_eq!(AttributeKind::Amount.check(amount), Ok(()), "{amount}");
            assert_eq!(AttributeKind::Text.check(amount), Ok(()), "{amount}");
        }
        assert_eq!(AttributeKind::Currency.check("GBP"), Ok(()));
    }

    #[test]
    fn links_numbers_codes_and_invisible_letters_are_refused() {
        for hostile in [
            "@evil.com/login",
            "evil.com",
            "evil。com",
            "evil．com",
            "evil[.]com",
            "пример.рф/login",
            "пример.рф",
            "Call 08001234567 now",
            "Call 0800 123 4567 now",
            "tel:+442079460018",
            "+442079460018",
            "Your code is 000000",
            "@bank.example #000000",
            "\u{3164}",
            "ACME\u{3164}Ltd",
            "\u{2800}",
            "ACME  Ltd",
            " ACME",
            "😀",
            "ACME 😀",
            "a@b",
            "x/y",
        ] {
            for kind in [AttributeKind::Name, AttributeKind::Text] {
                assert!(kind.check(hostile).is_err(), "{kind} took {hostile:?}");
            }
        }
        for not_amount in [
            "000000",
            "123456",
            "12345",
            "08001234567",
            "1,23,456",
            "12,3456",
            "1,234,567,890,123",
        ] {
            assert!(
                AttributeKind::Amount.check(not_amount).is_err(),
                "{not_amount}"
            );
            assert!(
                AttributeKind::Text.check(not_amount).is_err(),
                "{not_amount}"
            );
        }
        // Not amounts, though harmless as text.
        for not_amount in ["1e5", "0123", "1.2.3", "", "GBP"] {
            assert!(
                AttributeKind::Amount.check(not_amount).is_err(),
                "{not_amount}"
            );
        }
        for not_currency in ["gbp", "GB", "GBPX", "G8P"] {
            assert!(AttributeKind::Currency.check(not_currency).is_err());
        }
    }
}
