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
