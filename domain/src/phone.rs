//! E.164 phone numbers, and the masked form that is the only one allowed in logs.

use std::fmt;

use crate::names::stored_names;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an E.164 phone number: '+' then 8 to 15 digits, the first not 0")]
pub struct InvalidPhoneNumber;

/// A phone number in E.164 form (`+447400123123`).
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

    /// A number in the published form, normalised to its canonical E.164 form: a national
    /// (trunk) prefix typed after the country code is dropped as the numbering plan says
    /// (`+4407400123123` is `+447400123123`), so that one handset is one number wherever it
    /// is stored, counted or sent to. A number the plans do not know is kept as typed (the
    /// phone rules refuse it as not valid).
    pub fn parse(raw: &str) -> Result<Self, InvalidPhoneNumber> {
        if !Self::is_well_formed(raw) {
            return Err(InvalidPhoneNumber);
        }
        let canonical = phonenumber::parse(None, raw)
            .ok()
            .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
            .filter(|c| Self::is_well_formed(c));
        Ok(Self(canonical.unwrap_or_else(|| raw.to_owned())))
    }

    fn is_well_formed(raw: &str) -> bool {
        raw.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        })
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

/// What a number is for, as Google's libphonenumber classifies it from the numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NumberType {
    Mobile,
    FixedLine,
    /// Plans that do not tell the two apart (the US, Canada, ...).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    PersonalNumber,
    Voip,
    Pager,
    Uan,
    Voicemail,
    Unknown,
}

// The configuration names: `mobile`, `fixed_line_or_mobile`, `premium_rate`, ...
stored_names!(NumberType {
    Mobile = "mobile",
    FixedLine = "fixed_line",
    FixedLineOrMobile = "fixed_line_or_mobile",
    TollFree = "toll_free",
    PremiumRate = "premium_rate",
    SharedCost = "shared_cost",
    PersonalNumber = "personal_number",
    Voip = "voip",
    Pager = "pager",
    Uan = "uan",
    Voicemail = "voicemail",
    Unknown = "unknown",
});

impl NumberType {
    fn of(number: &phonenumber::PhoneNumber) -> Self {
        use phonenumber::Type;
        match number.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile => Self::Mobile,
            Type::FixedLine => Self::FixedLine,
            Type::FixedLineOrMobile => Self::FixedLineOrMobile,
            Type::TollFree => Self::TollFree,
            Type::PremiumRate => Self::PremiumRate,
            Type::SharedCost => Self::SharedCost,
            Type::PersonalNumber => Self::PersonalNumber,
            Type::Voip => Self::Voip,
            Type::Pager => Self::Pager,
            Type::Uan => Self::Uan,
            Type::Voicemail => Self::Voicemail,
            // Short-number classes; never a full number's, and never allowed.
            Type::Unknown
            | Type::Emergency
            | Type::ShortCode
            | Type::StandardRate
            | Type::Carrier
            | Type::NoInternational => Self::Unknown,
        }
    }
}

/// Why [`PhonePolicy`] refused a number. The texts name no digits of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneRefused {
    #[error(
        "is not a valid number in its country's numbering plan (E.164: '+', the country code, \
         then the national number without its trunk prefix)"
    )]
    NotValid,
    #[error("is a {0} number; only {1} numbers can receive codes")]
    Type(NumberType, String),
    #[error("is in a region ({0}) this service does not send to")]
    Country(String),
}

/// Which numbers may receive codes: valid for their region, of an allowed type, and in an
/// allowed country (any, by default, but never a non-geographic code unless listed). SMS pumping works through premium,
/// shared-cost and other special ranges, so only mobile numbers pass by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonePolicy {
    allowed_types: std::collections::BTreeSet<NumberType>,
    /// ISO 3166-1 alpha-2 codes, upper case; `None`: any country.
    allowed_countries: Option<std::collections::BTreeSet<String>>,
}

impl Default for PhonePolicy {
    /// Mobile numbers, and numbers whose plan cannot tell mobile from fixed line (without
    /// them no US or Canadian number could receive a code); any country.
    fn default() -> Self {
        Self::new(
            [NumberType::Mobile, NumberType::FixedLineOrMobile],
            None::<Vec<String>>,
        )
    }
}

impl PhonePolicy {
    pub const DEFAULT_TYPES: [&str; 2] = ["mobile", "fixed_line_or_mobile"];
    /// The region of international networks, satellite phones and global services; refused
    /// unless a country allow-list names it.
    pub const NON_GEOGRAPHIC: &str = "001";

    pub fn new<C: Into<String>>(
        types: impl IntoIterator<Item = NumberType>,
        countries: Option<impl IntoIterator<Item = C>>,
    ) -> Self {
        Self {
            allowed_types: types.into_iter().collect(),
            allowed_countries: countries.map(|c| {
                c.into_iter()
                    .map(|c| c.into().to_ascii_uppercase())
                    .collect()
            }),
        }
    }

    /// Whether `code` is an ISO 3166-1 alpha-2 region the numbering plans know, or `001`.
    pub fn is_known_country(code: &str) -> bool {
        code == Self::NON_GEOGRAPHIC || code.parse::<phonenumber::country::Id>().is_ok()
    }

    pub fn check(&self, phone: &PhoneNumber) -> Result<(), PhoneRefused> {
        let parsed =
            phonenumber::parse(None, phone.as_e164()).map_err(|_| PhoneRefused::NotValid)?;
        if !parsed.is_valid() {
            return Err(PhoneRefused::NotValid);
        }
        let kind = NumberType::of(&parsed);
        if !self.allowed_types.contains(&kind) {
            let allowed: Vec<&str> = self.allowed_types.iter().map(|t| t.as_str()).collect();
            return Err(PhoneRefused::Type(kind, allowed.join(", ")));
        }
        // Non-geographic codes (+870, +881, +882, +979, ...) have no country: libphonenumber
        // files them under region `001`.
        let country = parsed.country().id().map_or_else(
            || Self::NON_GEOGRAPHIC.to_owned(),
            |id| id.as_ref().to_owned(),
        );
        let allowed = match &self.allowed_countries {
            Some(countries) => countries.contains(&country),
            None => country != Self::NON_GEOGRAPHIC,
        };
        if allowed {
            Ok(())
        } else {
            Err(PhoneRefused::Country(country))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_e164_and_masks_the_middle() {
        let phone = PhoneNumber::parse("+447400123123").unwrap();
        assert_eq!(phone.as_e164(), "+447400123123");
        assert_eq!(phone.masked(), "+44*******123");
        assert_eq!(
            format!("{phone} {phone:?}"),
            "+44*******123 PhoneNumber(+44*******123)"
        );
    }

    /// One handset, one number: a trunk `0` typed after the country code is dropped, as the
    /// numbering plan says; what is still not a valid number is refused by the rules.
    #[test]
    fn numbers_are_normalised_to_canonical_e164() {
        for (typed, canonical) in [
            ("+447400123123", "+447400123123"),
            ("+4407400123123", "+447400123123"),
            ("+4907151123456", "+497151123456"),
            ("+390612345678", "+390612345678"),
            ("+44007400123123", "+447400123123"),
        ] {
            assert_eq!(
                PhoneNumber::parse(typed).unwrap().as_e164(),
                canonical,
                "{typed}"
            );
        }
        let unknown = PhoneNumber::parse("+99912345678").unwrap();
        assert_eq!(unknown.as_e164(), "+99912345678", "kept as typed");
        assert_eq!(
            PhonePolicy::default().check(&unknown),
            Err(PhoneRefused::NotValid)
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

    fn policy_check(policy: &PhonePolicy, raw: &str) -> Result<(), PhoneRefused> {
        policy.check(&PhoneNumber::parse(raw).unwrap())
    }

    #[test]
    fn real_mobile_numbers_of_several_countries_pass_by_default() {
        let policy = PhonePolicy::default();
        for raw in [
            "+447400123456",  // GB mobile
            "+4915123456789", // DE mobile
            "+33612345678",   // FR mobile
            "+34612345678",   // ES mobile
            "+919876543210",  // IN mobile
            "+5511961234567", // BR mobile
            "+43664123456",   // AT mobile
            "+819012345678",  // JP mobile
            "+61412345678",   // AU mobile
            "+12015550123",   // US: fixed line or mobile
            "+14165550123",   // CA: fixed line or mobile
        ] {
            assert_eq!(policy_check(&policy, raw), Ok(()), "{raw}");
        }
    }

    // The examples of libphonenumber's own metadata, one per refused type.
    #[test]
    fn special_ranges_are_refused_by_default_naming_their_type() {
        let policy = PhonePolicy::default();
        for (raw, kind) in [
            ("+19002345678", NumberType::PremiumRate),      // US 1-900
            ("+449012345678", NumberType::PremiumRate),     // GB 09
            ("+4918012345", NumberType::SharedCost),        // DE 0180
            ("+4918500123456", NumberType::Uan),            // DE 0185
            ("+49177991234567", NumberType::Voicemail),     // DE mobile voicemail
            ("+3933101234501", NumberType::Voicemail),      // IT
            ("+447012345678", NumberType::PersonalNumber),  // GB 070
            ("+4970012345678", NumberType::PersonalNumber), // DE 0700
            ("+441212345678", NumberType::FixedLine),       // GB Birmingham
            ("+448001234567", NumberType::TollFree),        // GB 0800
            ("+445612345678", NumberType::Voip),            // GB 056
        ] {
            match policy_check(&policy, raw) {
                Err(PhoneRefused::Type(got, _)) => assert_eq!(got, kind, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        // Ofcom's drama range is not valid.
        assert_eq!(
            policy_check(&policy, "+447700900123"),
            Err(PhoneRefused::NotValid)
        );
    }

    #[test]
    fn non_geographic_numbers_are_refused_unless_region_001_is_listed() {
        let policy = PhonePolicy::default();
        // +979 international premium rate, +881 satellite, +882 international networks,
        // +870 Inmarsat: libphonenumber calls the last three mobile.
        for raw in [
            "+979123456789",
            "+881612345678",
            "+8823421234",
            "+870301234567",
        ] {
            assert!(
                matches!(
                    policy_check(&policy, raw),
                    Err(PhoneRefused::Type(..) | PhoneRefused::Country(_))
                ),
                "{raw}"
            );
        }
        let seafarers = PhonePolicy::new(
            PhonePolicy::default().allowed_types,
            Some([PhonePolicy::NON_GEOGRAPHIC]),
        );
        assert_eq!(policy_check(&seafarers, "+870301234567"), Ok(()));
        assert!(policy_check(&seafarers, "+979123456789").is_err());
    }

    #[test]
    fn allowed_types_and_countries_are_configurable() {
        let fixed = PhonePolicy::new([NumberType::FixedLine], None::<Vec<String>>);
        assert_eq!(policy_check(&fixed, "+441212345678"), Ok(()));
        assert!(matches!(
            policy_check(&fixed, "+447400123456"),
            Err(PhoneRefused::Type(NumberType::Mobile, _))
        ));
        let gb_de = PhonePolicy::new(PhonePolicy::default().allowed_types, Some(["gb", "DE"]));
        assert_eq!(policy_check(&gb_de, "+447400123456"), Ok(()));
        assert_eq!(policy_check(&gb_de, "+4915123456789"), Ok(()));
        assert_eq!(
            policy_check(&gb_de, "+33612345678"),
            Err(PhoneRefused::Country("FR".into()))
        );
        assert!(PhonePolicy::is_known_country("GB"));
        assert!(!PhonePolicy::is_known_country("XX"));
    }

    #[test]
    fn refusals_name_no_digits() {
        let refused = policy_check(&PhonePolicy::default(), "+19005550123").unwrap_err();
        assert!(
            !refused.to_string().chars().any(|c| c.is_ascii_digit()),
            "{refused}"
        );
    }

    proptest! {
        #[test]
        fn masked_form_never_shows_more_than_five_digits(n in "[1-9][0-9]{7,14}") {
            let phone = PhoneNumber::parse(&format!("+{n}")).unwrap();
            let masked = phone.masked();
            prop_assert_eq!(masked.len(), phone.as_e164().len());
            prop_assert_eq!(masked.chars().filter(char::is_ascii_digit).count(), 5);
        }

        #[test]
        fn pattern_accepts_exactly_what_parse_accepts(raw in r"\+?[0-9٣a ]{0,17}\n?") {
            let pattern = regex::Regex::new(PhoneNumber::PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&raw), PhoneNumber::parse(&raw).is_ok(), "{:?}", raw);
        }
    }
}
