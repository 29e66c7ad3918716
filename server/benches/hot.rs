//! The pure parts every request pays for: checking a bearer token (HS256, the claim rules)
//! and rendering an error body. `cargo bench -p mfa-totp-server --bench hot`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_totp_server::auth::{TokenVerifier, VerificationKey};
use mfa_totp_server::http::error::ApiError;
use poem_openapi::types::ToJSON;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret-0123456789";

fn token() -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "sub": "alice", "iss": "mfa-totp", "aud": "mfa-totp", "iat": now, "exp": now + 3600,
        "scope": "mfa:challenges:write mfa:challenges:read",
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn verify_token(c: &mut Criterion) {
    let verifier = TokenVerifier::new(
        &VerificationKey::Hs256(SECRET.to_vec()),
        mfa_totp_server::auth::TokenRules::from(&mfa_totp_server::config::AuthSettings::default()),
    )
    .unwrap();
    let token = token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("token: verify (HS256, claims, scopes)", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.verify(black_box(&token)))
                .unwrap()
        })
    });
}

fn error_body(c: &mut Criterion) {
    c.bench_function("error: render an INVALID_OTP body", |b| {
        b.iter(|| {
            let error = ApiError::invalid_otp();
            let (_, body) = error.parts();
            let mut body = body.clone();
            body.request_id = black_box("01J9Z6F7W3K2M8N4P5Q6R7S8T9").to_owned();
            serde_json::to_vec(&body.to_json()).unwrap()
        })
    });
}

criterion_group!(benches, verify_token, error_body);
criterion_main!(benches);
