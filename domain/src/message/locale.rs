//! Locales: BCP 47 language tags, well-formed and valid per the IANA registry (the
//! `language-tags` crate), kept in their canonical case (`pt-BR`).

use std::fmt;

/// Why a text is not a locale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a BCP 47 language tag such as en, de or pt-BR")]
pub struct InvalidLocale;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locale(String);

impl Locale {
    /// What the spec publishes: a language, then subtags (region, script, ...).
    pub const PATTERN: &'static str = "^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,4}$";
    pub const MAX_LEN: usize = 35;

    pub fn parse(raw: &str) -> Result<Self, InvalidLocale> {
        let shaped = raw.len() <= Self::MAX_LEN
            && !raw.starts_with(['x', 'X'])
            && raw.split('-').count() <= 5
            && raw.split('-').enumerate().all(|(i, subtag)| {
                let ok_len = if i == 0 {
                    (2..=8).contains(&subtag.len())
                } else {
                    (1..=8).contains(&subtag.len())
                };
                ok_len
                    && subtag.bytes().all(|b| {
                        if i == 0 {
                            b.is_ascii_alphabetic()
                        } else {
                            b.is_ascii_alphanumeric()
                        }
                    })
            });
        if !shaped {
            return Err(InvalidLocale);
        }
        let tag = language_tags::LanguageTag::parse(raw).map_err(|_| InvalidLocale)?;
        if !tag.is_valid() {
            return Err(InvalidLocale);
        }
        Ok(Self(tag.into_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This locale, then each shorter one: `pt-BR` → `pt-BR`, `pt`.
    pub fn fallbacks(&self) -> impl Iterator<Item = Locale> + '_ {
        let subtags: Vec<&str> = self.0.split('-').collect();
        (1..=subtags.len())
            .rev()
            .map(move |n| Locale(subtags[..n].join("-")))
    }
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
        fn whatever_parses_matches_the_published_pattern(raw in prop_oneof![
            any::<String>(),
            "[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8}){0,3}",
        ]) {
            if let Ok(locale) = Locale::parse(&raw) {
                let pattern = regex::Regex::new(Locale::PATTERN).unwrap();
                prop_assert!(pattern.is_match(&raw), "{:?}", raw);
                prop_assert!(pattern.is_match(locale.as_str()));
            }
        }
    }
}
