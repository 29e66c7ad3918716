//! The SMS texts from config: `sms.templates.<locale>.<operation>` and
//! `sms.operations.<operation>.required_attributes`. Operation names contain dots, which
//! config reads as nesting, so both maps are read as trees and flattened back into names.

use std::collections::BTreeMap;

use mfa_totp_domain::{AttributeKind, Locale, MessageCatalog, MessageSettings, TemplateKey};

use super::schema::{OperationSettings, OperationTree, Settings, SmsSettings, TemplateTree};

/// `prefix.name`, or `name` at the top.
fn dotted(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn flatten_templates(
    prefix: &str,
    tree: &TemplateTree,
    out: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    if let (TemplateTree::Text(text), "") = (tree, prefix) {
        anyhow::bail!(
            "invalid configuration: sms.templates.<locale> must hold templates by operation, e.g. default = \"{text}\""
        );
    }
    flatten_texts(prefix, tree, out);
    Ok(())
}

/// Each text of `tree`, by its dotted name under `prefix` (`sms.templates.<locale>`,
/// `assertion.acr_by_operation`).
pub(super) fn flatten_texts(prefix: &str, tree: &TemplateTree, out: &mut Vec<(String, String)>) {
    match tree {
        TemplateTree::Text(text) => out.push((prefix.to_owned(), text.clone())),
        TemplateTree::Tree(children) => {
            for (name, child) in children {
                flatten_texts(&dotted(prefix, name), child, out);
            }
        }
    }
}

/// Each operation's settings, by its dotted name.
fn flatten_operations<'a>(
    prefix: &str,
    tree: &'a OperationTree,
    out: &mut BTreeMap<String, &'a OperationSettings>,
) {
    match tree {
        OperationTree::Operation(settings) => {
            out.insert(prefix.to_owned(), settings);
        }
        OperationTree::Tree(children) => {
            for (name, child) in children {
                flatten_operations(&dotted(prefix, name), child, out);
            }
        }
    }
}

/// The catalog the configuration describes: the built-in templates, then the configured
/// ones. A template that does not parse or names an unknown placeholder stops start-up,
/// naming the template.
pub fn catalog(sms: &SmsSettings) -> anyhow::Result<MessageCatalog> {
    let locale = |raw: &str, key: &str| {
        Locale::parse(raw).map_err(|e| anyhow::anyhow!("invalid configuration: {key} '{raw}' {e}"))
    };
    let mut templates = Vec::new();
    for (raw_locale, tree) in &sms.templates {
        let locale = locale(raw_locale, "sms.templates.<locale>")?;
        let mut flat = Vec::new();
        flatten_templates("", tree, &mut flat)?;
        for (operation, text) in flat {
            let operation = (operation != "default").then_some(operation);
            templates.push((
                TemplateKey {
                    locale: locale.clone(),
                    operation,
                },
                text,
            ));
        }
    }
    let mut operations = BTreeMap::new();
    for (name, tree) in &sms.operations {
        flatten_operations(name, tree, &mut operations);
    }
    let mut attribute_kinds = BTreeMap::new();
    for (operation, settings) in &operations {
        let mut kinds = BTreeMap::new();
        for (name, kind) in &settings.attribute_kinds {
            let kind = kind.parse::<AttributeKind>().map_err(|_| {
                anyhow::anyhow!(
                    "invalid configuration: sms.operations.{operation}.attribute_kinds.{name} \
                     '{kind}' is not one of {}",
                    AttributeKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })?;
            kinds.insert(name.clone(), kind);
        }
        attribute_kinds.insert(operation.clone(), kinds);
    }
    let required_attributes = operations
        .iter()
        .map(|(operation, settings)| (operation.clone(), settings.required_attributes.clone()))
        .collect();
    MessageCatalog::new(MessageSettings {
        default_locale: locale(&sms.default_locale, "sms.default_locale")?,
        templates,
        required_attributes,
        app_name: sms.app_name.clone(),
        webotp_domain: sms.webotp_domain.clone(),
        android_app_hash: sms.android_app_hash.clone(),
        max_attribute_length: sms.max_attribute_length,
        attribute_kinds,
        max_segments: sms.max_segments,
    })
    .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
}

/// Warns about each template whose longest message takes more than two segments.
pub fn warn_about_long_templates(settings: &Settings, catalog: &MessageCatalog) {
    let minutes = (i64::from(settings.challenge.code_ttl_secs) / 60).max(1);
    for (key, cost) in catalog.longest(settings.challenge.otp_digits.into(), minutes) {
        if cost.segments > 2 {
            tracing::warn!(
                template = %key,
                segments = cost.segments,
                encoding = cost.encoding.as_str(),
                "at its longest this template takes more than 2 SMS segments; each is billed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_totp_domain::Operation;
    use std::sync::Arc;

    /// The catalog a configuration built from `toml` carries.
    fn load(toml: &str) -> anyhow::Result<Arc<MessageCatalog>> {
        Ok(crate::config::tests::load_toml(toml)?.policies.messages)
    }

    #[test]
    fn dotted_operations_read_from_nested_or_quoted_keys() {
        let catalog = load(
            "[sms.operations.payments.transfer]\nrequired_attributes = [\"amount\", \"payee\"]\n\
             [sms.templates.de]\n\"payments.transfer\" = \"{code}: {amount} an {payee}\"\n\
             [sms.templates.pt-BR.payments]\ntransfer = \"{code}: {amount} para {payee}\"\n",
        )
        .unwrap();
        let op = Operation::parse("payments.transfer").unwrap();
        assert_eq!(catalog.required_attributes(&op), ["amount", "payee"]);
        for (locale, key) in [
            ("de", "sms.templates.de.payments.transfer"),
            ("pt-BR", "sms.templates.pt-BR.payments.transfer"),
        ] {
            let locale = Locale::parse(locale).unwrap();
            assert_eq!(catalog.template_for(&op, Some(&locale)).0.to_string(), key);
        }
    }

    #[test]
    fn an_unknown_placeholder_stops_start_up_naming_the_template() {
        let error = load("[sms.templates.de]\ndefault = \"Code {code} für {payee}\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sms.templates.de.default"), "{error}");
        assert!(error.contains("{payee}"), "{error}");
    }
}
