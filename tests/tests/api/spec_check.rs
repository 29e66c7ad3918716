//! The spec check itself fails where it should: a test that trusts it must be able to fail.

use mfa_totp_tests::SpecCheck;
use serde_json::json;

fn headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-request-id", "r".parse().unwrap());
    headers
}

#[test]
#[should_panic(expected = "does not match the spec")]
fn an_error_body_without_request_id_fails_the_check() {
    let body =
        json!({"code": "urn:plmr:mfa-totp:api:BAD_REQUEST", "message": "m", "fieldErrors": []});
    SpecCheck::committed().check("GET", "/nope", 404, &headers(), &body);
}

#[test]
#[should_panic(expected = "does not document this status")]
fn an_undocumented_status_fails_the_check() {
    SpecCheck::committed().check("GET", "/health/live", 418, &headers(), &json!({}));
}

#[test]
#[should_panic(expected = "no X-Request-Id")]
fn a_response_without_request_id_fails_the_check() {
    SpecCheck::committed().check(
        "GET",
        "/health/live",
        200,
        &Default::default(),
        &json!({"status": "UP"}),
    );
}

#[test]
#[should_panic(expected = "the documented header Retry-After is missing")]
fn a_429_without_retry_after_fails_the_check() {
    let body = json!({
        "code": "urn:plmr:mfa-totp:api:TOO_MANY_REQUESTS",
        "message": "m",
        "requestId": "r",
        "fieldErrors": [],
    });
    let path = "/internal/v1/mfa/totp-sms/0b6f1c1e-2f4d-4c43-9a51-6d1f0f7f2a10:initiate";
    SpecCheck::committed().check("POST", path, 429, &headers(), &body);
}

#[test]
fn a_documented_response_passes_the_check() {
    SpecCheck::committed().check(
        "GET",
        "/health/live",
        200,
        &headers(),
        &json!({"status": "UP"}),
    );
}
