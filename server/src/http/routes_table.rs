//! The published paths, read from the published spec: which template a request path falls
//! under (the most specific one), and which methods it accepts, so a 405 can carry a true
//! `Allow` header.

use serde_json::Value;

pub struct RoutesTable {
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<Segment>,
    methods: Vec<String>,
    operations: Vec<Operation>,
}

/// A published operation: its method (upper case), operationId and documented statuses.
struct Operation {
    method: String,
    id: String,
    statuses: Vec<String>,
}

impl Route {
    fn new(template: &str, methods: Vec<String>) -> Self {
        Self {
            template: template.to_owned(),
            segments: parse(template),
            methods,
            operations: Vec::new(),
        }
    }
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
                let mut route = Route::new(template, methods);
                route.operations = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(method, op)| {
                        Some(Operation {
                            method: method.to_ascii_uppercase(),
                            id: op.get("operationId")?.as_str()?.to_owned(),
                            statuses: op
                                .get("responses")
                                .and_then(Value::as_object)
                                .map(|r| r.keys().cloned().collect())
                                .unwrap_or_default(),
                        })
                    })
                    .collect();
                routes.push(route);
            }
        }
        for (template, methods) in extra {
            routes.push(Route::new(
                template,
                methods.iter().map(|m| (*m).to_owned()).collect(),
            ));
        }
        Self { routes }
    }

    /// The methods allowed on `path` (upper case); empty when no route matches.
    pub fn allowed_methods(&self, path: &str) -> Vec<String> {
        self.best_match(path)
            .map(|route| route.methods.clone())
            .unwrap_or_default()
    }

    /// Whether `path` names a custom method (`/c/42:verify`) of a published route. A colon
    /// anywhere else (`/users/tenant:alice`) is plain data.
    pub fn is_custom_method(&self, path: &str) -> bool {
        self.best_match(path).is_some_and(|route| {
            route
                .segments
                .iter()
                .any(|segment| matches!(segment, Segment::Param { suffix } if !suffix.is_empty()))
        })
    }

    /// The operationId of `method` on `path` (a HEAD counts as its GET).
    pub fn operation_id(&self, method: &str, path: &str) -> Option<&str> {
        let method = if method == "HEAD" { "GET" } else { method };
        self.best_match(path)?
            .operations
            .iter()
            .find(|op| op.method == method)
            .map(|op| op.id.as_str())
    }

    /// Every published operation (its operationId) with the statuses its spec documents.
    pub fn documented_statuses(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.routes
            .iter()
            .flat_map(|route| &route.operations)
            .map(|op| (op.id.as_str(), op.statuses.as_slice()))
    }

    /// The published template `path` falls under (`/c/{id}:verify` for `/c/42:verify`).
    pub fn template(&self, path: &str) -> Option<&str> {
        self.best_match(path).map(|route| route.template.as_str())
    }

    /// The most specific route for `path`: `/c/{id}:verify` over `/c/{id}` for `/c/42:verify`.
    fn best_match(&self, path: &str) -> Option<&Route> {
        let request: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|route| {
                route.segments.len() == request.len()
                    && route
                        .segments
                        .iter()
                        .zip(&request)
                        .all(|(segment, part)| match segment {
                            Segment::Literal(literal) => literal == part,
                            Segment::Param { suffix } => {
                                part.len() > suffix.len() && part.ends_with(suffix.as_str())
                            }
                        })
            })
            .max_by_key(|route| {
                route
                    .segments
                    .iter()
                    .map(Segment::specificity)
                    .sum::<usize>()
            })
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
        assert_eq!(table.template("/c/42:verify"), Some("/c/{id}:verify"));
        assert_eq!(table.template("/c/42"), Some("/c/{id}"));
        assert_eq!(table.template("/nope"), None);
    }

    #[test]
    fn only_published_custom_methods_count_as_custom_methods() {
        let spec = serde_json::json!({"paths": {
            "/c/{id}:verify": {"post": {}},
            "/users/{userId}": {"put": {}}
        }});
        let table = RoutesTable::from_spec(&spec, &[]);
        assert!(table.is_custom_method("/c/42:verify"));
        assert!(!table.is_custom_method("/c/42:cancel"));
        assert!(!table.is_custom_method("/users/tenant:alice"));
    }
}
