//! The published OpenAPI document: poem-openapi's, finished for client generators. It shows
//! the internal custom-method paths in their colon form (`/{challengeId}:verify`), lists per
//! operation exactly the statuses it can answer (with example bodies), documents the
//! `X-Request-Id` and `Retry-After` headers, links challenge creation to the calls that
//! follow it, and marks the public operations as needing no token.

mod errors;

use poem_openapi::OpenApiService;
use poem_openapi::types::ToJSON;
use serde_json::{Map, Value, json};

use crate::api::assertions::StepUpAssertionClaims;
use crate::api::events::WebhookEvent;
use crate::http::{custom_methods, request_id};
pub use errors::{EXAMPLE_REQUEST_ID, errors_of};
use mfa_totp_domain::ChallengePolicy;

const HTTP_METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Finishes a generated document into its published form.
pub fn publish(generated: &str) -> String {
    let mut document: Value =
        serde_json::from_str(generated).expect("poem-openapi emits valid JSON");
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let renamed: Map<String, Value> = std::mem::take(paths)
            .into_iter()
            .map(|(key, item)| (custom_methods::to_published(&key), item))
            .collect();
        *paths = renamed;
        for item in paths.values_mut() {
            for method in HTTP_METHODS {
                if let Some(operation) = item.get_mut(method) {
                    finish_operation(operation);
                }
            }
        }
    }
    if let Some(schemas) = document.pointer_mut("/components/schemas") {
        add_schema::<StepUpAssertionClaims>(schemas);
        add_schema::<WebhookEvent>(schemas);
        give_enums_an_example(schemas);
    }
    unwrap_described_refs(&mut document);
    bound_date_times(&mut document);
    if let Some(unbounded) = first_unbounded_value(&document, "#") {
        panic!("{unbounded} has no bound: give it one in its Rust type (a validator or TextRule)");
    }
    document["servers"] = json!([{
        "url": "/",
        "description": "The instance that serves this document, local or production alike.",
        "x-internal": true,
    }]);
    document["info"]["contact"] = json!({ "name": "mfa-totp maintainers" });
    let mut text = serde_json::to_string_pretty(&document).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// A schema no operation's body names, and the schemas it names, as poem-openapi
/// generates them: the claims inside the `assertion` that `:verify` and `:consume` return.
fn add_schema<T: poem_openapi::types::Type>(schemas: &mut Value) {
    let mut registry = poem_openapi::registry::Registry::new();
    T::register(&mut registry);
    let schemas = schemas.as_object_mut().expect("schemas is an object");
    for (name, schema) in registry.schemas {
        schemas.insert(
            name,
            serde_json::to_value(schema).expect("a schema serialises"),
        );
    }
}

fn finish_operation(operation: &mut Value) {
    let id = operation["operationId"]
        .as_str()
        .expect("every operation has an operationId")
        .to_owned();
    let errors = errors_of(&id)
        .unwrap_or_else(|| panic!("operation {id} is missing from spec::errors::errors_of"));
    if operation.get("security").is_none() {
        operation["security"] = json!([]);
    }
    let responses = operation["responses"]
        .as_object_mut()
        .expect("every operation has responses");
    responses.retain(|status, _| {
        status.starts_with('2')
            || errors
                .iter()
                .any(|(_, e)| e.parts().0.to_string() == *status)
    });
    for (status, response) in responses.iter_mut() {
        let examples: Map<String, Value> = errors
            .iter()
            .filter(|(_, error)| error.parts().0.to_string() == *status)
            .map(|(name, error)| {
                let mut body = error.parts().1.clone();
                body.request_id = EXAMPLE_REQUEST_ID.to_owned();
                (
                    (*name).to_owned(),
                    json!({ "summary": body.message, "value": body.to_json() }),
                )
            })
            .collect();
        if !examples.is_empty() {
            for media in response["content"].as_object_mut().into_iter().flatten() {
                media.1["examples"] = Value::Object(examples.clone());
            }
        }
        document_headers(response);
    }
    if id == "createChallenge" {
        link_created_challenge(responses);
    }
}

/// `X-Request-Id` on every response; poem's upper-case `RETRY-AFTER` and `CACHE-CONTROL` in
/// their usual spelling.
fn document_headers(response: &mut Value) {
    let headers = response
        .as_object_mut()
        .expect("a response is an object")
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("headers is an object");
    if let Some(mut retry_after) = headers.remove("RETRY-AFTER") {
        retry_after["example"] = json!(30);
        retry_after["schema"]["minimum"] = json!(1);
        retry_after["schema"]["maximum"] = json!(ChallengePolicy::MAX_WAIT_SECS);
        headers.insert("Retry-After".into(), retry_after);
    }
    if let Some(mut cache_control) = headers.remove("CACHE-CONTROL") {
        cache_control["example"] = json!("public, max-age=300");
        cache_control["schema"]["maxLength"] = json!(64);
        headers.insert("Cache-Control".into(), cache_control);
    }
    headers.insert(
        "X-Request-Id".into(),
        json!({
            "description": "The request's id: the caller's `X-Request-Id` when it is sane \
                            (1 to 128 of `A-Za-z0-9-_.:`), a new UUID otherwise. Also in \
                            every error body and log line.",
            "required": true,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": request_id::MAX_LEN,
                "pattern": request_id::PATTERN,
                "example": EXAMPLE_REQUEST_ID,
            },
        }),
    );
}

/// Links from a new challenge to every call that takes its id, so clients and stateful
/// testers can walk the flow.
fn link_created_challenge(responses: &mut Map<String, Value>) {
    let targets = [
        ("initiate", "initiateTotpSms", "Send the code by SMS."),
        ("verify", "verifyTotpSms", "Check the code the user typed."),
        ("status", "getChallenge", "Read the challenge's status."),
        (
            "consume",
            "consumeChallenge",
            "Take the verified context, once.",
        ),
        ("cancel", "cancelChallenge", "Cancel the challenge."),
    ];
    let links: Map<String, Value> = targets
        .into_iter()
        .map(|(name, operation_id, description)| {
            (
                name.to_owned(),
                json!({
                    "operationId": operation_id,
                    "parameters": { "challengeId": "$response.body#/challengeId" },
                    "description": description,
                }),
            )
        })
        .collect();
    if let Some(created) = responses.get_mut("201") {
        created["links"] = Value::Object(links);
    }
}

/// poem-openapi publishes a field that refers to a schema, with a description, as
/// `allOf: [{"$ref": …}, {"description": …}]`. Generators such as openapi-python-client
/// refuse that ("Cannot take allOf a non-object") and drop every model that has one, and in
/// OpenAPI 3.0 a `$ref` takes no siblings. Such a field becomes the plain `$ref`, and its
/// description moves into its object's description, as "`field`: description".
fn unwrap_described_refs(document: &mut Value) {
    let schemas = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    for schema in schemas.into_iter().flat_map(|s| s.values_mut()) {
        let mut moved = Vec::new();
        for (field, property) in schema
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flatten()
        {
            let description = property.get("description").cloned();
            if let Some(reference) = plain_reference(property) {
                *property = reference;
                if let Some(Value::String(text)) = description {
                    moved.push(format!("- `{field}`: {text}"));
                }
            }
        }
        if !moved.is_empty() {
            let own = schema["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            schema["description"] = json!(format!("{own}\n\n{}", moved.join("\n")));
        }
    }
    unwrap_remaining_refs(document);
}

/// The `$ref` of a described reference, if `value` is one.
fn plain_reference(value: &Value) -> Option<Value> {
    match value
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([only_ref, rest @ ..])
            if only_ref.get("$ref").is_some()
                && rest
                    .iter()
                    .all(|r| r.get("$ref").is_none() && r.get("type").is_none()) =>
        {
            Some(only_ref.clone())
        }
        _ => None,
    }
}

/// Described references outside object properties (none today) become plain ones too.
fn unwrap_remaining_refs(value: &mut Value) {
    match value {
        Value::Object(_) => {
            if let Some(reference) = plain_reference(value) {
                *value = reference;
                return;
            }
            if let Value::Object(map) = value {
                map.values_mut().for_each(unwrap_remaining_refs);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_remaining_refs),
        _ => {}
    }
}

/// The longest RFC 3339 instant the service writes: `2026-11-29T23:37:14.123456789+00:00`.
const DATE_TIME_MAX_LEN: usize = 35;

/// Instants are strings too; they get the length of the longest one.
fn bound_date_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("type") == Some(&json!("string"))
                && map.get("format") == Some(&json!("date-time"))
            {
                map.entry("maxLength").or_insert(json!(DATE_TIME_MAX_LEN));
            }
            map.values_mut().for_each(bound_date_times);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_date_times),
        _ => {}
    }
}

/// The JSON pointer of the first string without `maxLength` (or `enum`), integer without
/// `minimum` and `maximum`, or array without `maxItems`: every value the API takes or gives
/// is bounded, so that neither side can be made to hold an unbounded one.
pub fn first_unbounded_value(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            let has = |key: &str| map.contains_key(key);
            let unbounded = match map.get("type").and_then(Value::as_str) {
                Some("string") => !has("maxLength") && !has("enum"),
                Some("integer") | Some("number") => !has("minimum") || !has("maximum"),
                Some("array") => !has("maxItems"),
                _ => false,
            };
            // Examples are data, not schemas.
            if unbounded && !at.contains("/example") {
                return Some(at.to_owned());
            }
            map.iter()
                .filter(|(key, _)| !key.starts_with("example"))
                .find_map(|(key, v)| {
                    first_unbounded_value(v, &format!("{at}/{}", key.replace('/', "~1")))
                })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_unbounded_value(v, &format!("{at}/{i}"))),
        _ => None,
    }
}

/// An enum schema's example is its first value.
fn give_enums_an_example(schemas: &mut Value) {
    for schema in schemas
        .as_object_mut()
        .into_iter()
        .flat_map(|s| s.values_mut())
    {
        let first = schema.get("enum").and_then(|values| values.get(0)).cloned();
        if let (Some(first), None) = (first, schema.get("example")) {
            schema["example"] = first;
        }
    }
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
mod tests;
