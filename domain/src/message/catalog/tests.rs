//! Rendering, the choice of template and locale, autofill lines, and what an attribute may
//! carry into a message.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const PAY: &str = "payments.transfer";

fn locale(tag: &str) -> Locale {
    Locale::parse(tag).unwrap()
}

fn key(tag: &str, operation: Option<&str>) -> TemplateKey {
    TemplateKey {
        locale: locale(tag),
        operation: operation.map(str::to_owned),
    }
}

fn settings() -> MessageSettings {
    MessageSettings {
        default_locale: locale("en"),
        templates: vec![
            (
                key("en", Some(PAY)),
                "{code} is your code to pay {amount} {currency} to {payee}. It expires in {minutes} minutes. Never share it.".into(),
            ),
            (
                key("de", Some(PAY)),
                "{code} ist Ihr Code, um {amount} {currency} an {payee} zu zahlen. Er läuft in {minutes} Minuten ab.".into(),
            ),
            (key("pt", None), "O seu código {app} é {code}.".into()),
        ],
        required_attributes: BTreeMap::from([(
            PAY.to_owned(),
            vec!["amount".into(), "currency".into(), "payee".into()],
        )]),
        app_name: "Bank".into(),
        webotp_domain: None,
        android_app_hash: None,
        max_attribute_length: 40,
        attribute_kinds: BTreeMap::new(),
        max_segments: 3,
    }
}

fn catalog() -> MessageCatalog {
    MessageCatalog::new(settings()).unwrap()
}

fn payment() -> Map<String, Value> {
    json!({"amount": "120.00", "currency": "GBP", "payee": "ACME Ltd"})
        .as_object()
        .unwrap()
        .clone()
}

fn operation(name: &str) -> Operation {
    Operation::parse(name).unwrap()
}

#[test]
fn a_linked_operation_names_its_attributes_in_the_asked_locale() {
    let en = catalog().render("123456", 5, &operation(PAY), &payment(), None);
    assert_eq!(
        en.text,
        "123456 is your code to pay 120.00 GBP to ACME Ltd. It expires in 5 minutes. Never share it."
    );
    assert_eq!(en.locale, locale("en"));
    let de = catalog().render(
        "123456",
        5,
        &operation(PAY),
        &payment(),
        Some(&locale("de-AT")),
    );
    assert_eq!(
        de.text,
        "123456 ist Ihr Code, um 120.00 GBP an ACME Ltd zu zahlen. Er läuft in 5 Minuten ab."
    );
    assert_eq!(de.locale, locale("de"));
}

#[test]
fn locales_fall_back_to_their_language_then_to_the_default() {
    let other = operation("profile.phone.change");
    let c = catalog();
    let pick = |tag: Option<&str>, op: &Operation| {
        c.template_for(op, tag.map(locale).as_ref()).0.to_string()
    };
    assert_eq!(pick(Some("pt-BR"), &other), "sms.templates.pt.default");
    assert_eq!(pick(Some("fr"), &other), "sms.templates.en.default");
    assert_eq!(pick(None, &other), "sms.templates.en.default");
    assert_eq!(pick(Some("de"), &other), "sms.templates.de.default");
    assert_eq!(
        pick(Some("pt-BR"), &operation(PAY)),
        "sms.templates.en.payments.transfer",
        "a linked operation's own template beats a locale without one"
    );
    let pt = c.render("123456", 5, &other, &Map::new(), Some(&locale("pt-BR")));
    assert_eq!(pt.text, "O seu código Bank é 123456.");
}

#[test]
fn a_template_with_an_unknown_placeholder_stops_start_up_naming_it() {
    let mut s = settings();
    s.templates
        .push((key("de", None), "Ihr Code {code} für {payee}".into()));
    let error = MessageCatalog::new(s).unwrap_err().to_string();
    assert!(
        error.contains("sms.templates.de.default") && error.contains("{payee}"),
        "{error}"
    );
    let mut s = settings();
    s.templates.push((key("en", None), "code {code".into()));
    assert!(
        MessageCatalog::new(s)
            .unwrap_err()
            .to_string()
            .contains("sms.templates.en.default")
    );
}

#[test]
fn the_default_locale_needs_a_default_template() {
    let mut s = settings();
    s.default_locale = locale("fr");
    assert_eq!(
        MessageCatalog::new(s).unwrap_err(),
        CatalogError::NoDefaultTemplate(locale("fr"))
    );
}

#[test]
fn autofill_lines_come_last_in_their_exact_format() {
    let mut s = settings();
    s.webotp_domain = Some("bank.example".into());
    s.android_app_hash = Some("FA+9qCX9VSu".into());
    let sms =
        MessageCatalog::new(s)
            .unwrap()
            .render("123456", 5, &operation("login"), &Map::new(), None);
    assert_eq!(
        sms.text,
        "Your verification code is 123456. It expires in 5 minutes. Never share it.\nFA+9qCX9VSu\n\n@bank.example #123456"
    );
    let mut s = settings();
    s.webotp_domain = Some("https://bank.example".into());
    assert!(MessageCatalog::new(s).is_err());
    let mut s = settings();
    s.android_app_hash = Some("short".into());
    assert!(MessageCatalog::new(s).is_err());
}

#[test]
fn required_attributes_are_checked_by_name() {
    let attributes = json!({"amount": null, "currency": "  ", "payee": "ACME\nPay 1 GBP"})
        .as_object()
        .unwrap()
        .clone();
    let problems = catalog().check_attributes(&operation(PAY), &attributes);
    assert_eq!(problems[0], ("amount".into(), AttributeProblem::Missing));
    assert_eq!(problems[1], ("currency".into(), AttributeProblem::Blank));
    assert!(matches!(problems[2], (ref n, AttributeProblem::NotShowable(_)) if n == "payee"));
    assert!(
        catalog()
            .check_attributes(&operation(PAY), &payment())
            .is_empty()
    );
    assert!(
        catalog()
            .check_attributes(&operation("login"), &Map::new())
            .is_empty()
    );
}

#[test]
fn values_that_would_be_links_or_too_long_are_not_shown() {
    let c = catalog();
    let shown = |v: Value| c.shown(AttributeKind::Text, Some(&v));
    assert_eq!(shown(json!(120.5)), Ok("120.5".into()));
    assert_eq!(shown(json!(" ACME Ltd. ")), Ok("ACME Ltd.".into()));
    assert_eq!(
        shown(json!("J. Smith & Sons")),
        Ok("J. Smith & Sons".into())
    );
    for bad in [
        json!("evil.example"),
        json!("https://x.test/pay"),
        json!("pay@evil.example"),
        json!("ACME\u{202E}dtL"),
        json!("a".repeat(41)),
        json!(["x"]),
        json!(true),
    ] {
        assert!(
            matches!(shown(bad.clone()), Err(AttributeProblem::NotShowable(_))),
            "{bad}"
        );
    }
}

/// A kind per attribute: a currency must be a code, an amount an amount, and a config that
/// gives a kind to an attribute the SMS does not show is refused.
#[test]
fn declared_kinds_hold_and_the_longest_sms_is_measured() {
    let mut s = settings();
    s.attribute_kinds = BTreeMap::from([(
        PAY.to_owned(),
        BTreeMap::from([
            ("currency".to_owned(), AttributeKind::Currency),
            ("amount".to_owned(), AttributeKind::Amount),
        ]),
    )]);
    let c = MessageCatalog::new(s.clone()).unwrap();
    let mut attributes = payment();
    assert!(c.check_attributes(&operation(PAY), &attributes).is_empty());
    attributes.insert("currency".into(), json!("ACME"));
    attributes.insert("amount".into(), json!("GBP"));
    let refused: Vec<String> = c
        .check_attributes(&operation(PAY), &attributes)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(refused, ["amount", "currency"]);
    assert_eq!(c.most_segments(&operation(PAY), &payment(), 6, 5), 1);
    s.attribute_kinds
        .get_mut(PAY)
        .unwrap()
        .insert("note".into(), AttributeKind::Name);
    assert!(matches!(
        MessageCatalog::new(s),
        Err(CatalogError::KindOfUnshownAttribute { .. })
    ));
}

#[test]
fn a_long_template_is_reported_by_its_segments() {
    let mut s = settings();
    s.templates.push((
        key("en", Some(PAY)),
        "{code} pays {amount} {currency} to {payee}; {payee}; {payee}; {payee}; {payee}; {payee}; {payee}".into(),
    ));
    let catalog = MessageCatalog::new(s).unwrap();
    let longest = catalog.longest(6, 5);
    let cost_of = |name: &str| {
        longest
            .iter()
            .find(|(k, _)| k.to_string() == name)
            .map(|(_, cost)| *cost)
            .unwrap()
    };
    assert!(cost_of("sms.templates.en.payments.transfer").segments > 2);
    assert_eq!(cost_of("sms.templates.en.default").segments, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the attribute values, an accepted one never adds a line or a link: the
    /// message has the template's one line and no link.
    #[test]
    fn no_attribute_value_adds_a_line_or_a_link(
        payee in prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9 .:/@#&\\-]{0,45}",
            "[a-z]{1,10}\\.(com|example|co\\.uk|io)",
            Just("ACME\u{2028}Ltd".to_owned()),
            Just("www.evil.test".to_owned()),
        ],
        amount in prop_oneof![any::<String>(), "[0-9]{1,6}\\.[0-9]{2}"],
    ) {
        let c = catalog();
        let mut attributes = payment();
        attributes.insert("payee".into(), json!(payee));
        attributes.insert("amount".into(), json!(amount));
        if c.check_attributes(&operation(PAY), &attributes).is_empty() {
            let sms = c.render("123456", 5, &operation(PAY), &attributes, None);
            prop_assert_eq!(sms.text.lines().count(), 1, "{:?}", sms.text);
            prop_assert!(!sms.text.chars().any(is_control_or_format));
            prop_assert!(!has_link(&sms.text), "{:?}", sms.text);
            // Nothing a phone reads as a code, a phone number or the WebOTP line.
            let without_code = sms.text.replace("123456", "");
            let longest_run = without_code
                .split(|c: char| !c.is_ascii_digit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            prop_assert!(longest_run <= 4, "{:?}", sms.text);
            prop_assert!(!sms.text.contains(['@', '#', '+']), "{:?}", sms.text);
        }
    }
}
