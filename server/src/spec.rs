//! The published OpenAPI document: poem-openapi's, with the internal custom-method paths
//! shown in their colon form (`/{challengeId}:verify`).

use poem_openapi::OpenApiService;
use serde_json::Value;

use crate::http::custom_methods;

/// Rewrites the path keys of a generated document into their published form.
pub fn publish(generated: &str) -> String {
    let mut document: Value =
        serde_json::from_str(generated).expect("poem-openapi emits valid JSON");
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let renamed: serde_json::Map<String, Value> = std::mem::take(paths)
            .into_iter()
            .map(|(key, item)| (custom_methods::to_published(&key), item))
            .collect();
        *paths = renamed;
    }
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// The published spec and the Swagger UI page that shows it.
pub struct Published {
    pub json: String,
    pub swagger_ui_html: String,
}

impl Published {
    pub fn of<T: poem_openapi::OpenApi>(service: &OpenApiService<T, ()>) -> Self {
        let generated = service.spec();
        let json = publish(&generated);
        let swagger_ui_html = service.swagger_ui_html().replace(&generated, &json);
        Self {
            json,
            swagger_ui_html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_shows_custom_methods_with_a_colon() {
        let generated = r#"{"paths":{"/a/{id}/_colon_verify":{"post":{}},"/a/{id}":{"get":{}}}}"#;
        let published: Value = serde_json::from_str(&publish(generated)).unwrap();
        let keys: Vec<&String> = published["paths"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["/a/{id}", "/a/{id}:verify"]);
    }
}
