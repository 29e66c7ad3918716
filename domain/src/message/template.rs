//! A message template: text with `{name}` placeholders; `{{` and `}}` are literal braces.
//! Written by hand: the syntax is this small, and a template engine would bring loops,
//! filters and escaping rules an SMS does not need.

/// Why a template text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("has a '{{' that is not closed")]
    Unclosed,
    #[error("has a '}}' that was not opened (write '}}}}' for a literal brace)")]
    StrayClose,
    #[error("has a placeholder '{{{0}}}' that is not a name of letters, digits and '_'")]
    BadName(String),
    #[error("is empty")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::StrayClose),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unclosed),
                        }
                    }
                    let valid = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !valid {
                        return Err(TemplateError::BadName(name));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder(name));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The names it uses, in order, with repeats.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with each placeholder replaced by `value(name)`; a name without a value is
    /// left empty (the catalog checks names at start-up, so that does not happen there).
    pub fn render<'a>(&self, value: impl Fn(&str) -> Option<&'a str>) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Placeholder(name) => value(name).unwrap_or_default(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_double_braces_are_literal() {
        let t = Template::parse("{code} is your code for {payee} {{ok}}").unwrap();
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["code", "payee"]);
        let text = t.render(|name| match name {
            "code" => Some("123456"),
            "payee" => Some("ACME"),
            _ => None,
        });
        assert_eq!(text, "123456 is your code for ACME {ok}");
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert_eq!(Template::parse("code {code"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("a } b"), Err(TemplateError::StrayClose));
        assert_eq!(
            Template::parse("{two words}"),
            Err(TemplateError::BadName("two words".into()))
        );
        assert_eq!(
            Template::parse("{}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(Template::parse("  "), Err(TemplateError::Empty));
    }
}
