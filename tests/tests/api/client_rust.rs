//! The Rust client that progenitor generates from the committed spec (`clients/rust`) walks
//! the flow against the real server: user, create, initiate, a wrong code answered with a
//! typed `ErrorBody`, verify, status, consume.

use mfa_totp_client::types::{
    ChallengeStatus, CreateChallengeRequest, ErrorBody, ErrorCode, PutUserRequest,
    StepUpRequestContext, VerifyRequest,
};
use mfa_totp_client::{Client, Error};
use mfa_totp_tests::{PHONE, TestApp, other_code};

/// A generated client that sends `token` as its bearer token.
fn client_for(app: &TestApp, token: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    Client::new_with_client(&app.base, http)
}

/// The typed error body of a documented error response.
fn error_body<T: std::fmt::Debug>(result: Result<T, Error<ErrorBody>>) -> (u16, ErrorBody) {
    match result {
        Err(Error::ErrorResponse(response)) => (response.status().as_u16(), response.into_inner()),
        other => panic!("expected a documented error response, got {other:?}"),
    }
}

#[tokio::test]
async fn the_generated_rust_client_walks_the_flow_with_typed_models_and_errors() {
    let app = TestApp::spawn().await;
    let service = client_for(&app, &TestApp::service_token());
    let alice = client_for(&app, &TestApp::token("alice", &[]));

    let user = service
        .put_user(
            &"alice".parse().unwrap(),
            &PutUserRequest {
                phone_number: PHONE.parse().unwrap(),
                locale: Some("en-GB".parse().unwrap()),
            },
        )
        .await
        .unwrap();
    assert_eq!(user.status().as_u16(), 201);
    assert_eq!(user.masked_phone_number.as_str(), "+44*******123");

    let created = service
        .create_challenge(&CreateChallengeRequest {
            subject_user_id: "alice".parse().unwrap(),
            step_up_request_context: StepUpRequestContext {
                operation: "payments.transfer".parse().unwrap(),
                attributes: serde_json::json!({"amount": "120.00"})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
            locale: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.status, ChallengeStatus::Pending);
    let id: uuid::Uuid = created.challenge_id.parse().unwrap();

    let initiated = alice.initiate_totp_sms(&id).await.unwrap().into_inner();
    assert_eq!(initiated.status, ChallengeStatus::CodeSent);
    assert_eq!(initiated.sends_remaining, 4);
    let code = app.inbox.last_code_for(PHONE).expect("an SMS with a code");

    let wrong = VerifyRequest {
        otp: other_code(&code).parse().unwrap(),
    };
    let (status, body) = error_body(alice.verify_totp_sms(&id, &wrong).await);
    assert_eq!(status, 400);
    assert_eq!(body.code, ErrorCode::UrnPlmrMfaTotpApiInvalidOtp);
    assert!(body.field_errors.is_empty());

    let right = VerifyRequest {
        otp: code.parse().unwrap(),
    };
    let verified = alice
        .verify_totp_sms(&id, &right)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.status, ChallengeStatus::Verified);

    let status = service.get_challenge(&id).await.unwrap().into_inner();
    assert_eq!(status.status, ChallengeStatus::Verified);

    let consumed = service.consume_challenge(&id).await.unwrap().into_inner();
    assert_eq!(
        consumed.step_up_request_context.operation.as_str(),
        "payments.transfer"
    );
    let (status, body) = error_body(service.consume_challenge(&id).await);
    assert_eq!(status, 404);
    assert_eq!(
        body.code,
        ErrorCode::UrnPlmrMfaTotpApiStepUpRequestContextNotFound
    );
}
