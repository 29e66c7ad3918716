//! Checks a response against the committed OpenAPI document: the status is documented for
//! the operation (or, off the spec's routes, is the contract's 404 or 405), the JSON body
//! matches the documented schema, and every required header (`X-Request-Id`, `Retry-After`)
//! is present.

use std::sync::OnceLock;

use mfa_totp_server::http::custom_methods::decode_colons;
use mfa_totp_server::http::routes_table::RoutesTable;
use serde_json::{Value, json};

pub struct SpecCheck {
    document: Value,
    /// Finds the template a request path falls under, as the server's middleware does.
    routes: RoutesTable,
}

/// Statuses the middleware answers for a path or method that is not in the spec.
const CONTRACT_WIDE: [u16; 2] = [404, 405];

impl SpecCheck {
    /// The committed `openapi/mfa-totp.json`, loaded once.
    pub fn committed() -> &'static SpecCheck {
        static SPEC: OnceLock<SpecCheck> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/mfa-totp.json");
            let text = std::fs::read_to_string(path).expect("openapi/mfa-totp.json is committed");
            let document: Value = serde_json::from_str(&text).expect("the committed spec is JSON");
            SpecCheck {
                routes: RoutesTable::from_spec(&document, &[]),
                document,
            }
        })
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The operation for `method` on the template that matches `path`.
    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let template = self.routes.template(&decode_colons(path))?;
        self.document["paths"][template].get(method.to_ascii_lowercase())
    }

    #[track_caller]
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &Value,
    ) {
        assert!(
            headers.contains_key("x-request-id"),
            "{method} {path} -> {status}: no X-Request-Id"
        );
        let what = format!("{method} {path} -> {status}");
        let schema = match self.operation(method, path) {
            Some(operation) => match operation["responses"].get(status.to_string()) {
                Some(response) => {
                    check_required_headers(response, headers, &what);
                    response_schema(response)
                }
                None => panic!("{what}: the spec does not document this status"),
            },
            None if path == "/openapi.json" || path == "/docs" => None,
            None => {
                assert!(
                    CONTRACT_WIDE.contains(&status),
                    "{method} {path} is not in the spec but answered {status}"
                );
                Some(self.error_schema())
            }
        };
        if let Some(schema) = schema {
            self.validate(&schema, body, &what);
        }
    }

    /// Checks a spec example against a schema of the spec.
    #[track_caller]
    pub fn check_example(&self, example: &Value, schema: &Value, what: &str) {
        self.validate(schema, example, &format!("the example of {what}"));
    }

    fn error_schema(&self) -> Value {
        json!({"$ref": "#/components/schemas/ErrorBody"})
    }

    #[track_caller]
    fn validate(&self, schema: &Value, body: &Value, what: &str) {
        let mut root = schema.clone();
        root["components"] = self.document["components"].clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .expect("the spec's schemas compile");
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: body {body} does not match the spec: {errors:?}"
        );
    }
}

/// Every header the response documents as required is present, and an integer header holds
/// an integer.
#[track_caller]
fn check_required_headers(response: &Value, headers: &reqwest::header::HeaderMap, what: &str) {
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        if header["required"] != true {
            continue;
        }
        let value = headers
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{what}: the documented header {name} is missing"));
        if header["schema"]["type"] == "integer" {
            let text = value.to_str().unwrap_or_default();
            assert!(
                text.parse::<u64>().is_ok(),
                "{what}: header {name} is {text:?}, not an integer"
            );
        }
    }
}

fn response_schema(response: &Value) -> Option<Value> {
    response["content"]
        .as_object()?
        .values()
        .next()
        .map(|media| media["schema"].clone())
}
