//! Which methods each published path accepts, read from the published spec, so a 405 can
//! carry a true `Allow` header.

use serde_json::Value;

pub struct RoutesTable {
    routes: Vec<(Vec<Segment>, Vec<String>)>,
}

enum Segment {
    Literal(String),
    /// `{param}`, or `{param}:verb` when `suffix` is `:verb`.
    Param {
        suffix: String,
    },
}

impl RoutesTable {
    /// Reads `paths` of an OpenAPI document, plus extra `(path, methods)` pairs served
    /// outside the spec (the spec itself, the docs).
    pub fn from_spec(spec: &Value, extra: &[(&str, &[&str])]) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
            for (template, item) in paths {
                let mut methods: Vec<String> = item
                    .as_object()
                    .map(|ops| ops.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                routes.push((parse(template), methods));
            }
        }
        for (template, methods) in extra {
            routes.push((
                parse(template),
                methods.iter().map(|m| (*m).to_owned()).collect(),
            ));
        }
        Self { routes }
    }

    /// The methods allowed on `path` (upper case); empty when no route matches.
    pub fn allowed_methods(&self, path: &str) -> Vec<String> {
        self.best_match(path)
            .map(|(_, methods)| methods.clone())
            .unwrap_or_default()
    }

    /// Whether `path` names a custom method (`/c/42:verify`, or `/c/42%3Averify`) of a
    /// published route. A colon anywhere else (`/users/tenant:alice`) is plain data.
    pub fn is_custom_method(&self, path: &str) -> bool {
        let decoded = path.replace("%3A", ":").replace("%3a", ":");
        self.best_match(&decoded).is_some_and(|(segments, _)| {
            segments
                .iter()
                .any(|segment| matches!(segment, Segment::Param { suffix } if !suffix.is_empty()))
        })
    }

    /// The most specific route for `path`: `/c/{id}:verify` over `/c/{id}` for `/c/42:verify`.
    fn best_match(&self, path: &str) -> Option<&(Vec<Segment>, Vec<String>)> {
        let request: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|(segments, _)| {
                segments.len() == request.len()
                    && segments
                        .iter()
                        .zip(&request)
                        .all(|(segment, part)| match segment {
                            Segment::Literal(literal) => literal == part,
                            Segment::Param { suffix } => {
                                part.len() > suffix.len() && part.ends_with(suffix.as_str())
                            }
                        })
            })
            .max_by_key(|(segments, _)| segments.iter().map(Segment::specificity).sum::<usize>())
    }
}

impl Segment {
    fn specificity(&self) -> usize {
        match self {
            Segment::Literal(literal) => 1 + literal.len(),
            Segment::Param { suffix } => suffix.len(),
        }
    }
}

fn parse(template: &str) -> Vec<Segment> {
    template
        .trim_end_matches('/')
        .split('/')
        .map(
            |part| match part.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
                Some((_, suffix)) => Segment::Param {
                    suffix: suffix.to_owned(),
                },
                None => Segment::Literal(part.to_owned()),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_methods_come_from_the_spec_paths() {
        let spec = serde_json::json!({"paths": {
            "/c/{id}": {"get": {}},
            "/c/{id}:verify": {"post": {}},
            "/c": {"post": {}}
        }});
        let table = RoutesTable::from_spec(&spec, &[("/openapi.json", &["GET"])]);
        assert_eq!(table.allowed_methods("/c/42"), ["GET", "HEAD"]);
        assert_eq!(table.allowed_methods("/c/42:verify"), ["POST"]);
        assert_eq!(table.allowed_methods("/c"), ["POST"]);
        assert_eq!(table.allowed_methods("/openapi.json"), ["GET"]);
        assert!(table.allowed_methods("/nope").is_empty());
    }

    #[test]
    fn only_published_custom_methods_count_as_custom_methods() {
        let spec = serde_json::json!({"paths": {
            "/c/{id}:verify": {"post": {}},
            "/users/{userId}": {"put": {}}
        }});
        let table = RoutesTable::from_spec(&spec, &[]);
        assert!(table.is_custom_method("/c/42:verify"));
        assert!(table.is_custom_method("/c/42%3Averify"));
        assert!(!table.is_custom_method("/c/42:cancel"));
        assert!(!table.is_custom_method("/users/tenant:alice"));
    }
}
