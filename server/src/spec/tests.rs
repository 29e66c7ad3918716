use super::*;

fn operation(id: &str, responses: Value) -> Value {
    json!({ "operationId": id, "responses": responses })
}

#[test]
fn publish_shows_custom_methods_with_a_colon() {
    let generated = json!({ "paths": {
        "/a/{id}/_colon_verify": { "post": operation("live", json!({"200": {}})) },
        "/a/{id}": { "get": operation("live", json!({"200": {}})) },
    }});
    let published: Value = serde_json::from_str(&publish(&generated.to_string())).unwrap();
    let keys: Vec<&String> = published["paths"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["/a/{id}", "/a/{id}:verify"]);
}

#[test]
fn publish_keeps_only_the_statuses_an_operation_can_answer() {
    let error = json!({ "content": { "application/json": {} } });
    let generated = json!({ "paths": { "/c": { "get": operation("getChallenge", json!({
        "200": {}, "400": error, "404": error, "429": error, "503": error,
    })) } } });
    let published: Value = serde_json::from_str(&publish(&generated.to_string())).unwrap();
    let responses = &published["paths"]["/c"]["get"]["responses"];
    let statuses: Vec<&String> = responses.as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "400", "404", "503"]);
    let not_found = &responses["404"]["content"]["application/json"]["examples"];
    assert_eq!(
        not_found["CHALLENGE_NOT_FOUND"]["value"]["code"],
        "urn:plmr:mfa-totp:api:CHALLENGE_NOT_FOUND"
    );
    assert_eq!(
        not_found["CHALLENGE_NOT_FOUND"]["value"]["requestId"],
        EXAMPLE_REQUEST_ID
    );
    assert_eq!(
        responses["200"]["headers"]["X-Request-Id"]["required"],
        true
    );
}

#[test]
#[should_panic(expected = "missing from spec::errors::errors_of")]
fn an_operation_without_an_error_table_stops_publishing() {
    let generated = json!({ "paths": { "/x": { "get": operation("brandNew", json!({})) } } });
    publish(&generated.to_string());
}

#[test]
fn every_example_status_is_an_error_status() {
    for id in [
        "live",
        "ready",
        "initiateTotpSms",
        "verifyTotpSms",
        "createChallenge",
        "getChallenge",
        "consumeChallenge",
        "cancelChallenge",
        "putUser",
    ] {
        for (name, error) in errors_of(id).unwrap() {
            let (status, body) = error.parts();
            assert!((400..600).contains(&status), "{id} {name}");
            assert!(!body.message.is_empty(), "{id} {name}");
        }
    }
}

#[test]
fn a_described_reference_is_published_as_the_plain_reference() {
    let generated = json!({
        "paths": {},
        "components": { "schemas": { "Body": { "type": "object", "description": "A body.", "properties": {
            "status": {
                "allOf": [{ "$ref": "#/components/schemas/Status" }, { "description": "d" }],
                "description": "d",
            },
        } } } },
    });
    let published: Value = serde_json::from_str(&publish(&generated.to_string())).unwrap();
    let body = &published["components"]["schemas"]["Body"];
    assert_eq!(
        body["properties"]["status"],
        json!({ "$ref": "#/components/schemas/Status" })
    );
    assert_eq!(body["description"], "A body.\n\n- `status`: d");
}

#[test]
fn instants_get_the_length_of_the_longest_one() {
    let generated = json!({ "paths": {}, "components": { "schemas": { "T": {
        "type": "object",
        "properties": { "at": { "type": "string", "format": "date-time" } },
    } } } });
    let published: Value = serde_json::from_str(&publish(&generated.to_string())).unwrap();
    let at = &published["components"]["schemas"]["T"]["properties"]["at"];
    assert_eq!(at["maxLength"], 35);
    assert!(
        chrono::DateTime::<chrono::Utc>::MAX_UTC.to_rfc3339().len() > 35,
        "years past 9999 are not written"
    );
    let longest = chrono::DateTime::from_timestamp(253_402_300_799, 999_999_999)
        .unwrap()
        .to_rfc3339();
    assert_eq!(longest.len(), 35, "{longest}");
}

#[test]
#[should_panic(expected = "/components/schemas/T/properties/name has no bound")]
fn an_unbounded_string_stops_publishing() {
    let generated = json!({ "paths": {}, "components": { "schemas": { "T": {
        "type": "object",
        "properties": { "name": { "type": "string" } },
    } } } });
    publish(&generated.to_string());
}

#[test]
fn integers_need_both_limits_and_arrays_a_maximum() {
    let schema = |s: Value| first_unbounded_value(&s, "#");
    assert!(schema(json!({ "type": "integer", "minimum": 0 })).is_some());
    assert!(schema(json!({ "type": "integer", "minimum": 0, "maximum": 9 })).is_none());
    assert!(schema(json!({ "type": "array", "items": {} })).is_some());
    assert!(schema(json!({ "type": "string", "enum": ["UP"] })).is_none());
}
