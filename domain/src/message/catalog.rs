//! The templates in force, and how one is picked and filled for a challenge.
//!
//! Picking: the operation's own template in the first locale of the chain that has one, else
//! the `default` template in the first locale that has one. The chain is the asked locale and
//! its shorter forms (`pt-BR`, `pt`), then the default locale's. So a dynamically linked
//! operation always shows its attributes, in the default language if need be.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::{AttributeKind, Locale, MessageCost, Template, TemplateError};
use crate::Operation;

/// The placeholders every template may use.
const STANDARD: [&str; 3] = ["code", "minutes", "app"];

/// The built-in `default` templates; config adds locales and operations, or replaces these.
const BUILT_IN: [(&str, &str); 2] = [
    (
        "en",
        "Your verification code is {code}. It expires in {minutes} minutes. Never share it.",
    ),
    (
        "de",
        "Ihr Bestätigungscode lautet {code}. Er läuft in {minutes} Minuten ab. Geben Sie ihn niemals weiter.",
    ),
];

/// `sms.templates.<locale>.<operation>`, or `.default` when `operation` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TemplateKey {
    pub locale: Locale,
    pub operation: Option<String>,
}

impl fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operation = self.operation.as_deref().unwrap_or("default");
        write!(f, "sms.templates.{}.{operation}", self.locale)
    }
}

/// What configuration says about messages.
#[derive(Debug, Clone)]
pub struct MessageSettings {
    pub default_locale: Locale,
    /// Configured templates; they add to the built-in ones and replace those with their key.
    pub templates: Vec<(TemplateKey, String)>,
    /// Per operation, the context attributes its SMS shows and creation requires.
    pub required_attributes: BTreeMap<String, Vec<String>>,
    pub app_name: String,
    /// `sms.webotp_domain`: appends `@domain #code` as the last line (WebOTP, iOS autofill).
    pub webotp_domain: Option<String>,
    /// `sms.android_app_hash`: the 11-character SMS Retriever hash of the Android app.
    pub android_app_hash: Option<String>,
    /// The longest attribute value an SMS shows.
    pub max_attribute_length: usize,
    /// Per operation, what each shown attribute may hold; an attribute not listed is
    /// [`AttributeKind::Text`].
    pub attribute_kinds: BTreeMap<String, BTreeMap<String, AttributeKind>>,
    /// The most segments a challenge's SMS may take, its attributes filled in, in any
    /// locale: a challenge whose SMS would take more is refused at creation.
    pub max_segments: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("{key} {error}")]
    Template { key: String, error: TemplateError },
    #[error("{key} names an unknown placeholder {{{name}}}; it may use {allowed}")]
    UnknownPlaceholder {
        key: String,
        name: String,
        allowed: String,
    },
    #[error("sms.default_locale {0} has no sms.templates.{0}.default (nor does its language)")]
    NoDefaultTemplate(Locale),
    #[error("sms.webotp_domain '{0}' is not a host name such as example.com")]
    WebOtpDomain(String),
    #[error("sms.android_app_hash '{0}' is not the 11 characters of an SMS Retriever hash")]
    AndroidAppHash(String),
    #[error("sms.max_attribute_length must be between 1 and 200")]
    MaxAttributeLength,
    #[error("sms.max_segments must be between 1 and 10")]
    MaxSegments,
    #[error(
        "sms.operations.{operation}.attribute_kinds.{name} is not one of its required_attributes"
    )]
    KindOfUnshownAttribute { operation: String, name: String },
}

/// Why a required attribute cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeProblem {
    /// Absent or `null`.
    Missing,
    /// Empty or white space only.
    Blank,
    /// A value no SMS may carry (see [`MessageCatalog::shown`]).
    NotShowable(String),
    /// The SMS, its attributes filled in, would take `segments`, more than `max`.
    TooManySegments { segments: u32, max: u32 },
    /// A number the digest would not cover as written ([`crate::StepUpContext::inexact_numbers`]);
    /// the form it would be digested as.
    Inexact(String),
}

impl fmt::Display for AttributeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("is missing"),
            Self::Blank => f.write_str("is blank"),
            Self::NotShowable(why) => f.write_str(why),
            Self::TooManySegments { segments, max } => write!(
                f,
                "would make the SMS {segments} segments long; at most {max} are sent: shorten \
                 the attributes it shows"
            ),
            Self::Inexact(canonical) => write!(
                f,
                "is a number that cannot be returned exactly as written (it reads as \
                 {canonical}); send {canonical} or a string"
            ),
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedSms {
    /// Contains the code: never log it.
    pub text: String,
    /// The locale of the template used.
    pub locale: Locale,
    pub cost: MessageCost,
}

#[derive(Debug, Clone)]
pub struct MessageCatalog {
    templates: BTreeMap<TemplateKey, Template>,
    settings: MessageSettings,
}

impl MessageCatalog {
    pub fn new(settings: MessageSettings) -> Result<Self, CatalogError> {
        if !(1..=200).contains(&settings.max_attribute_length) {
            return Err(CatalogError::MaxAttributeLength);
        }
        if !(1..=10).contains(&settings.max_segments) {
            return Err(CatalogError::MaxSegments);
        }
        for (operation, kinds) in &settings.attribute_kinds {
            let required = settings.required_attributes.get(operation);
            if let Some(name) = kinds
                .keys()
                .find(|name| !required.is_some_and(|r| r.contains(name)))
            {
                return Err(CatalogError::KindOfUnshownAttribute {
                    operation: operation.clone(),
                    name: name.clone(),
                });
            }
        }
        if let Some(domain) = &settings.webotp_domain
            && !is_host_name(domain)
        {
            return Err(CatalogError::WebOtpDomain(domain.clone()));
        }
        if let Some(hash) = &settings.android_app_hash
            && !(hash.len() == 11
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'))
        {
            return Err(CatalogError::AndroidAppHash(hash.clone()));
        }
        let built_in = BUILT_IN.iter().map(|(locale, text)| {
            let key = TemplateKey {
                locale: Locale::parse(locale).expect("a built-in locale"),
                operation: None,
            };
            (key, (*text).to_owned())
        });
        let mut templates = BTreeMap::new();
        for (key, text) in built_in.chain(settings.templates.iter().cloned()) {
            let template = Template::parse(&text).map_err(|error| CatalogError::Template {
                key: key.to_string(),
                error,
            })?;
            let required = key
                .operation
                .as_ref()
                .and_then(|op| settings.required_attributes.get(op));
            let allowed: Vec<&str> = STANDARD
                .into_iter()
                .chain(required.into_iter().flatten().map(String::as_str))
                .collect();
            if let Some(name) = template.placeholders().find(|n| !allowed.contains(n)) {
                return Err(CatalogError::UnknownPlaceholder {
                    key: key.to_string(),
                    name: name.to_owned(),
                    allowed: allowed
                        .iter()
                        .map(|n| format!("{{{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            templates.insert(key, template);
        }
        let catalog = Self {
            templates,
            settings,
        };
        let default_locale = &catalog.settings.default_locale;
        if !default_locale.fallbacks().any(|locale| {
            catalog.templates.contains_key(&TemplateKey {
                locale,
                operation: None,
            })
        }) {
            return Err(CatalogError::NoDefaultTemplate(default_locale.clone()));
        }
        Ok(catalog)
    }

    /// The attributes an operation's SMS shows, which its creation requires.
    pub fn required_attributes(&self, operation: &Operation) -> &[String] {
        self.settings
            .required_attributes
            .get(operation.as_str())
            .map_or(&[], Vec::as_slice)
    }

    /// The required attributes that are missing, blank or not showable, by name.
    pub fn check_attributes(
        &self,
        operation: &Operation,
        attributes: &Map<String, Value>,
    ) -> Vec<(String, AttributeProblem)> {
        self.required_attributes(operation)
            .iter()
            .filter_map(|name| {
                self.shown(self.kind_of(operation, name), attributes.get(name))
                    .err()
                    .map(|problem| (name.clone(), problem))
            })
            .collect()
    }

    /// What `name` may hold in `operation`'s SMS.
    pub fn kind_of(&self, operation: &Operation, name: &str) -> AttributeKind {
        self.settings
            .attribute_kinds
            .get(operation.as_str())
            .and_then(|kinds| kinds.get(name))
            .copied()
            .unwrap_or(AttributeKind::Text)
    }

    /// The most segments the challenge's SMS would take in any locale of the catalog, its
    /// attributes filled in, with a code of `code_digits`.
    pub fn most_segments(
        &self,
        operation: &Operation,
        attributes: &Map<String, Value>,
        code_digits: usize,
        minutes: i64,
    ) -> u32 {
        let code = "8".repeat(code_digits);
        let locales: std::collections::BTreeSet<&Locale> =
            self.templates.keys().map(|key| &key.locale).collect();
        locales
            .into_iter()
            .map(|locale| {
                self.render(&code, minutes, operation, attributes, Some(locale))
                    .cost
                    .segments
            })
            .max()
            .unwrap_or(1)
    }

    pub fn max_segments(&self) -> u32 {
        self.settings.max_segments
    }

    /// An attribute value as an SMS shows it: a string (trimmed) or a number, of at most
    /// `max_attribute_length` characters, with no control or formatting character (so no
    /// second line), nothing a phone would turn into a link (URL, domain, e-mail), and of its
    /// `kind` ([`AttributeKind`]: no phone number, no code, no invisible letter).
    pub fn shown(
        &self,
        kind: AttributeKind,
        value: Option<&Value>,
    ) -> Result<String, AttributeProblem> {
        let text = match value {
            None | Some(Value::Null) => return Err(AttributeProblem::Missing),
            Some(Value::String(s)) if s.trim().is_empty() => return Err(AttributeProblem::Blank),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(AttributeProblem::NotShowable(
                    "must be a string or a number".into(),
                ));
            }
        };
        let max = self.settings.max_attribute_length;
        if text.chars().count() > max {
            return Err(AttributeProblem::NotShowable(format!(
                "must be at most {max} characters to be shown in an SMS"
            )));
        }
        if text.chars().any(is_control_or_format) {
            return Err(AttributeProblem::NotShowable(
                "must not contain control or formatting characters".into(),
            ));
        }
        if has_link(&text) {
            return Err(AttributeProblem::NotShowable(
                "must not contain a link, a domain or an e-mail address".into(),
            ));
        }
        kind.check(&text)
            .map_err(|refusal| AttributeProblem::NotShowable(refusal.to_string()))?;
        Ok(text)
    }

    /// The template for `operation` in `locale` (see the module's rule), and its key.
    pub fn template_for(
        &self,
        operation: &Operation,
        locale: Option<&Locale>,
    ) -> (&TemplateKey, &Template) {
        let chain: Vec<Locale> = locale
            .into_iter()
            .flat_map(Locale::fallbacks)
            .chain(self.settings.default_locale.fallbacks())
            .collect();
        let wanted = [Some(operation.as_str().to_owned()), None];
        wanted
            .iter()
            .flat_map(|op| {
                chain.iter().map(move |locale| TemplateKey {
                    locale: locale.clone(),
                    operation: op.clone(),
                })
            })
            .find_map(|key| self.templates.get_key_value(&key))
            .expect("the default locale has a default template (checked when built)")
    }

    /// The SMS for a challenge: the template filled in, then the autofill lines.
    /// `attributes` were checked at creation; a value that is not showable is left out.
    pub fn render(
        &self,
        code: &str,
        minutes: i64,
        operation: &Operation,
        attributes: &Map<String, Value>,
        locale: Option<&Locale>,
    ) -> RenderedSms {
        let (key, template) = self.template_for(operation, locale);
        let minutes = minutes.to_string();
        let shown: BTreeMap<&str, String> = self
            .required_attributes(operation)
            .iter()
            .filter_map(|name| {
                let kind = self.kind_of(operation, name);
                Some((name.as_str(), self.shown(kind, attributes.get(name)).ok()?))
            })
            .collect();
        let body = template.render(|name| match name {
            "code" => Some(code),
            "minutes" => Some(minutes.as_str()),
            "app" => Some(self.settings.app_name.as_str()),
            other => shown.get(other).map(String::as_str),
        });
        let text = self.with_autofill(body, code);
        RenderedSms {
            cost: MessageCost::of(&text),
            text,
            locale: key.locale.clone(),
        }
    }

    /// The Android SMS Retriever hash on a line of its own, then the WebOTP / iOS line
    /// `@domain #code`, which must be the last line.
    fn with_autofill(&self, mut text: String, code: &str) -> String {
        if let Some(hash) = &self.settings.android_app_hash {
            text.push('\n');
            text.push_str(hash);
        }
        if let Some(domain) = &self.settings.webotp_domain {
            text.push_str(&format!("\n\n@{domain} #{code}"));
        }
        text
    }

    /// Each template at its longest: a code of `code_digits`, `minutes`, and every shown
    /// attribute at the longest allowed value of plain letters.
    pub fn longest(&self, code_digits: usize, minutes: i64) -> Vec<(&TemplateKey, MessageCost)> {
        let code = "8".repeat(code_digits);
        let long = "W".repeat(self.settings.max_attribute_length);
        self.templates
            .iter()
            .map(|(key, template)| {
                let minutes = minutes.to_string();
                let body = template.render(|name| match name {
                    "code" => Some(code.as_str()),
                    "minutes" => Some(minutes.as_str()),
                    "app" => Some(self.settings.app_name.as_str()),
                    _ => Some(long.as_str()),
                });
                (key, MessageCost::of(&self.with_autofill(body, &code)))
            })
            .collect()
    }
}

/// Control characters (Cc), format characters (Cf: bidi overrides, zero-width joiners, soft
/// hyphen, ...) and the line and paragraph separators (Zl, Zp).
fn is_control_or_format(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{8E2}'
            | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Whether a phone could show part of `text` as a link: a URL with or without a scheme
/// (`evil.example`), or an e-mail address (the `linkify` crate's rules).
pub(crate) fn has_link(text: &str) -> bool {
    let mut finder = linkify::LinkFinder::new();
    finder.url_must_have_scheme(false);
    finder.links(text).next().is_some()
}

fn is_host_name(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests;
