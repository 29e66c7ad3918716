//! The SMS a user reads: a template per locale and per operation, the context attributes it
//! shows (PSD2 dynamic linking), the autofill lines phones look for, and what the message
//! costs in segments.

mod attribute;
mod catalog;
mod cost;
mod locale;
mod template;

pub use attribute::{AttributeKind, KindRefusal};
pub use catalog::{
    AttributeProblem, CatalogError, MessageCatalog, MessageSettings, RenderedSms, TemplateKey,
};
pub use cost::{Encoding, MessageCost};
pub use locale::{InvalidLocale, Locale};
pub use template::{Template, TemplateError};
