//! The committed spec is what the code generates, is what the server serves, and shows the
//! documented colon paths and every error code.

use mfa_totp_tests::{SpecCheck, TestApp};
use serde_json::json;

#[tokio::test]
async fn committed_spec_matches_the_generated_one() {
    let generated = mfa_totp_server::app::published_spec().unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/mfa-totp.json"
    ))
    .unwrap();
    assert!(
        generated == committed,
        "openapi/mfa-totp.json is stale: run `cargo run -p mfa-totp-server -- openapi > openapi/mfa-totp.json`"
    );
}

#[tokio::test]
async fn served_spec_is_the_committed_one_with_colon_paths() {
    let app = TestApp::spawn().await;
    let served = app.send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(served.status, 200);
    assert_eq!(&served.body, SpecCheck::committed().document());
    let paths: Vec<&String> = served.body["paths"].as_object().unwrap().keys().collect();
    for documented in [
        "/internal/v1/mfa/totp-sms/{challengeId}:initiate",
        "/internal/v1/mfa/totp-sms/{challengeId}:verify",
    ] {
        assert!(
            paths.iter().any(|p| *p == documented),
            "{documented} missing from {paths:?}"
        );
    }
    assert!(paths.iter().all(|p| !p.contains("_colon_")), "{paths:?}");
}

#[tokio::test]
async fn spec_enumerates_every_error_code_of_the_seed() {
    let document = SpecCheck::committed().document();
    let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "INTERNAL_SERVER_ERROR",
        "BAD_REQUEST",
        "RESOURCE_UNKNOWN",
        "UNAUTHORIZED",
        "FORBIDDEN",
        "USER_NOT_FOUND",
        "CHALLENGE_NOT_FOUND",
        "INVALID_OTP",
        "USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID",
        "STEP_UP_REQUEST_CONTEXT_NOT_FOUND",
        "TOO_MANY_REQUESTS",
        "SERVICE_UNAVAILABLE",
    ] {
        let urn = format!("urn:plmr:mfa-totp:api:{code}");
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == &urn),
            "{urn} missing"
        );
    }
    let field_codes = &document["components"]["schemas"]["FieldErrorCode"]["enum"];
    assert_eq!(
        field_codes,
        &serde_json::json!([
            "urn:plmr:mfa-totp:api:NOT_BLANK",
            "urn:plmr:mfa-totp:api:NOT_NULL"
        ])
    );
}

#[tokio::test]
async fn swagger_ui_is_served_with_the_published_paths() {
    let app = TestApp::spawn().await;
    let page = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("{challengeId}:verify"));
    assert!(!html.contains("_colon_"));
}

/// What a client generator needs from every operation.
#[test]
fn every_operation_is_documented_for_client_generators() {
    let document = SpecCheck::committed().document();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            for key in ["operationId", "summary", "description"] {
                assert!(
                    operation[key].as_str().is_some_and(|v| !v.is_empty()),
                    "{what}: no {key}"
                );
            }
            assert!(operation["security"].is_array(), "{what}: no security");
            for (status, response) in operation["responses"].as_object().unwrap() {
                let headers = &response["headers"];
                assert_eq!(
                    headers["X-Request-Id"]["required"], true,
                    "{what} {status}: no X-Request-Id"
                );
                if status == "429" || status == "503" {
                    assert_eq!(
                        headers["Retry-After"]["required"], true,
                        "{what} {status}: no Retry-After"
                    );
                }
                if status.starts_with('4') || status.starts_with('5') {
                    let examples =
                        response["content"]["application/json; charset=utf-8"]["examples"]
                            .as_object()
                            .unwrap_or_else(|| panic!("{what} {status}: no examples"));
                    for example in examples.values() {
                        SpecCheck::committed().check_example(
                            &example["value"],
                            &json!({"$ref": "#/components/schemas/ErrorBody"}),
                            &format!("{what} {status}"),
                        );
                    }
                }
            }
        }
    }
}

/// Every schema has a description and an example that its own schema accepts, and every
/// property has a description (its own, or for a reference, a line in its object's).
#[test]
fn every_schema_has_descriptions_and_a_valid_example() {
    let document = SpecCheck::committed().document();
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        assert!(schema["description"].is_string(), "{name}: no description");
        let example = schema
            .get("example")
            .unwrap_or_else(|| panic!("{name}: no example"));
        SpecCheck::committed().check_example(
            example,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
            name,
        );
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            // OpenAPI 3.0 gives a `$ref` no siblings: its object's description names it.
            let described = property["description"].is_string()
                || (property.get("$ref").is_some()
                    && schema["description"]
                        .as_str()
                        .is_some_and(|d| d.contains(&format!("- `{field}`: "))));
            assert!(described, "{name}.{field}: no description");
        }
    }
}

/// The challenge-creation response links to every call that takes the new id.
#[test]
fn challenge_creation_links_to_the_flow() {
    let document = SpecCheck::committed().document();
    let links =
        &document["paths"]["/internal/v1/mfa/challenges"]["post"]["responses"]["201"]["links"];
    for operation_id in [
        "initiateTotpSms",
        "verifyTotpSms",
        "getChallenge",
        "consumeChallenge",
        "cancelChallenge",
    ] {
        let link = links
            .as_object()
            .unwrap()
            .values()
            .find(|l| l["operationId"] == operation_id)
            .unwrap_or_else(|| panic!("no link to {operation_id}"));
        assert_eq!(
            link["parameters"]["challengeId"],
            "$response.body#/challengeId"
        );
    }
}

#[test]
fn committed_spec_is_readable_by_generators_and_bounds_every_value() {
    let spec = SpecCheck::committed().document();
    let text = spec.to_string();
    assert!(
        !text.contains("\"allOf\""),
        "openapi-python-client drops every model with an allOf of a reference and a description"
    );
    assert_eq!(
        mfa_totp_server::spec::first_unbounded_value(spec, "#"),
        None,
        "every string, integer and array has a bound"
    );
    assert_eq!(spec["servers"][0]["url"], "/");
    assert!(spec["info"]["contact"]["name"].is_string());
    let jwt = spec["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .unwrap();
    assert!(jwt.contains("RFC8725"), "{jwt}");
}
