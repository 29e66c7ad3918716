//! The committed spec is what the code generates, is what the server serves, and shows the
//! documented colon paths and every error code.

use mfa_totp_tests::{SpecCheck, TestApp};

#[tokio::test]
async fn committed_spec_matches_the_generated_one() {
    let generated = mfa_totp_server::startup::published_spec().await.unwrap();
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
