//! Locales: the part of BCP 47 that picks a message's language: a language (2 or 3
//! letters), an optional script (4 letters) and an optional region (2 letters or 3 digits),
//! e.g. `de`, `pt-BR`, `zh-Hant-TW`, `es-419`. Kept in canonical case. The published pattern
//! accepts exactly what [`Locale::parse`] accepts; a language nobody wrote templates for
//! simply falls back to the default.

use std::fmt;

/// Why a text is not a locale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a locale such as en, de, pt-BR or zh-Hant-TW (language[-Script][-REGION])")]
pub struct InvalidLocale;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locale(String);

impl Locale {
    /// What the spec publishes; exactly what `parse` accepts.
    pub const PATTERN: &'static str = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$";
    pub const MAX_LEN: usize = 12;

    pub fn parse(raw: &str) -> Result<Self, InvalidLocale> {
        let mut subtags = raw.split('-');
        let language = subtags
            .next()
            .filter(|l| is_alpha(l, 2..=3))
            .ok_or(InvalidLocale)?;
        let mut canonical = language.to_ascii_lowercase();
        let mut next = subtags.next();
        if let Some(script) = next.filter(|s| is_alpha(s, 4..=4)) {
            canonical.push('-');
            canonical.push_str(&script[..1].to_ascii_uppercase());
            canonical.push_str(&script[1..].to_ascii_lowercase());
            next = subtags.next();
        }
        if let Some(region) = next {
            let letters = is_alpha(region, 2..=2);
            let digits = region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit());
            if !(letters || digits) {
                return Err(InvalidLocale);
            }
            canonical.push('-');
            canonical.push_str(&region.to_ascii_uppercase());
        }
        if subtags.next().is_some() {
            return Err(InvalidLocale);
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This locale, then each shorter one: `zh-Hant-TW` → `zh-Hant-TW`, `zh-Hant`, `zh`.
    pub fn fallbacks(&self) -> impl Iterator<Item = Locale> + '_ {
        let subtags: Vec<&str> = self.0.split('-').collect();
        (1..=subtags.len())
            .rev()
            .map(move |n| Locale(subtags[..n].join("-")))
    }
}

fn is_alpha(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphabetic())
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags_are_kept_in_canonical_case() {
        assert_eq!(Locale::parse("pt-br").unwrap().as_str(), "pt-BR");
        assert_eq!(Locale::parse("DE").unwrap().as_str(), "de");
        assert_eq!(Locale::parse("zh-hant-tw").unwrap().as_str(), "zh-Hant-TW");
        assert_eq!(Locale::parse("es-419").unwrap().as_str(), "es-419");
    }

    #[test]
    fn malformed_or_unregistered_tags_are_refused() {
        for raw in [
            "",
            "e",
            "en_GB",
            "en-",
            "x-private",
            "en-zzzzz",
            "en-GB\n",
            "english-xxxxxxxxx",
        ] {
            assert_eq!(Locale::parse(raw), Err(InvalidLocale), "{raw:?}");
        }
    }

    #[test]
    fn fallbacks_drop_one_subtag_at_a_time() {
        let chain: Vec<String> = Locale::parse("zh-Hant-TW")
            .unwrap()
            .fallbacks()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(chain, ["zh-Hant-TW", "zh-Hant", "zh"]);
    }

    proptest! {
        #[test]
        fn the_pattern_accepts_exactly_what_parse_accepts(raw in prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9]{1,4}(-[a-zA-Z0-9]{1,5}){0,3}",
        ]) {
            let pattern = regex::Regex::new(Locale::PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&raw), Locale::parse(&raw).is_ok(), "{:?}", raw);
            if let Ok(locale) = Locale::parse(&raw) {
                prop_assert!(pattern.is_match(locale.as_str()));
                prop_assert!(locale.as_str().len() <= Locale::MAX_LEN);
            }
        }
    }
}
