//! Every parser a request reaches, fed thousands of arbitrary inputs: the strict JSON reader
//! (each request body type), the form reader, the colon-path rewrite, request ids, token
//! claims, phone numbers and challenge ids. None may panic, and each answer keeps its
//! contract (a 400 in the error shape, a sane id, a canonical subject).

use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use mfa_totp_domain::{ChallengeId, PhoneNumber};
use poem::RequestBody;
use poem_openapi::payload::ParsePayload;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::api::challenges::CreateChallengeRequest;
use crate::api::sms_status::TwilioStatus;
use crate::api::totp_sms::VerifyRequest;
use crate::api::users::PutUserRequest;
use crate::auth::{TokenVerifier, VerificationKey, is_canonical_subject};
use crate::http::custom_methods::{decode_colons, is_internal_form, to_internal, to_published};
use crate::http::form::FormPairs;
use crate::http::request_id;
use crate::http::strict_json::{MAX_BODY_BYTES, StrictBody, StrictJson};

const CASES: u32 = 2000;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Arbitrary JSON, nested up to `depth`, with the field names the request types read.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{0,8}".prop_map(Value::String),
        Just(Value::String("+447400123123".into())),
    ];
    let name = prop_oneof![
        Just("otp".to_owned()),
        Just("phoneNumber".to_owned()),
        Just("subjectUserId".to_owned()),
        Just("stepUpRequestContext".to_owned()),
        Just("operation".to_owned()),
        Just("attributes".to_owned()),
        ".{0,6}",
    ];
    leaf.prop_recursive(depth, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(name.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body: arbitrary bytes, arbitrary JSON, or JSON nested far past serde's limit.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value(8).prop_map(|v| v.to_string().into_bytes()),
        (1usize..2000).prop_map(|depth| {
            format!("{{\"otp\":{}1{}}}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
        }),
    ]
}

fn request_body(bytes: Vec<u8>) -> RequestBody {
    RequestBody::new(poem::Body::from(bytes))
}

/// Parses `bytes` as `T`: no panic, and a refusal is a 400 in the error shape.
fn strict<T: StrictBody>(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let request = poem::Request::default();
    let parsed = runtime().block_on(StrictJson::<T>::from_request(
        &request,
        &mut request_body(bytes),
    ));
    if let Err(error) = parsed {
        let response = error.into_response();
        prop_assert_eq!(response.status().as_u16(), 400);
        let body = runtime()
            .block_on(response.into_body().into_bytes())
            .unwrap();
        let body: Value = serde_json::from_slice(&body).expect("a JSON error body");
        prop_assert_eq!(&body["code"], "urn:plmr:mfa-totp:api:BAD_REQUEST");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn the_strict_json_reader_refuses_anything_with_a_400(bytes in body()) {
        strict::<CreateChallengeRequest>(bytes.clone())?;
        strict::<VerifyRequest>(bytes.clone())?;
        strict::<PutUserRequest>(bytes)?;
    }

    #[test]
    fn the_form_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let request = poem::Request::default();
        let _ = runtime().block_on(FormPairs::<TwilioStatus>::from_request(
            &request,
            &mut request_body(bytes),
        ));
    }

    #[test]
    fn the_colon_rewrite_round_trips(path in "(/[a-zA-Z0-9:%_.-]{0,12}){0,5}") {
        let decoded = decode_colons(&path);
        if let Some(internal) = to_internal(&decoded) {
            prop_assert!(is_internal_form(&internal));
            if !is_internal_form(&decoded) {
                prop_assert_eq!(to_published(&internal), decoded);
            }
        }
    }

    #[test]
    fn the_colon_rewrite_takes_any_string(path in any::<String>()) {
        let _ = to_internal(&decode_colons(&path));
    }

    #[test]
    fn a_request_id_is_kept_only_when_sane(header in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9._:-]{0,140}",
    ]) {
        let id = request_id::from_header(Some(&header));
        let pattern = regex::Regex::new(request_id::PATTERN).unwrap();
        prop_assert!(pattern.is_match(&id), "{:?}", id);
        prop_assert_eq!(id == header, pattern.is_match(&header));
    }

    #[test]
    fn token_text_never_panics(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,40}",
    ]) {
        prop_assert!(runtime().block_on(verifier().verify(&token)).is_err());
    }

    #[test]
    fn any_signed_claims_give_a_canonical_caller_or_an_error(
        claims in prop::collection::btree_map(
            prop_oneof![
                Just("sub".to_owned()), Just("exp".to_owned()), Just("nbf".to_owned()),
                Just("iat".to_owned()), Just("aud".to_owned()), Just("iss".to_owned()),
                Just("scope".to_owned()), Just("scp".to_owned()),
            ],
            json_value(2),
            0..8,
        ),
        valid_times in any::<bool>(),
    ) {
        let mut claims: serde_json::Map<String, Value> = claims.into_iter().collect();
        if valid_times {
            let now = chrono::Utc::now().timestamp();
            claims.insert("exp".into(), json!(now + 60));
            claims.insert("iss".into(), json!("iss"));
            claims.insert("aud".into(), json!(["aud"]));
        }
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        if let Ok(caller) = runtime().block_on(verifier().verify(&token)) {
            prop_assert!(is_canonical_subject(&caller.subject));
            prop_assert_eq!(Some(&json!(caller.subject)), claims.get("sub"));
        }
    }

    #[test]
    fn phone_numbers_parse_to_e164_or_refuse(raw in prop_oneof![
        any::<String>(),
        "\\+?[0-9 ()-]{0,20}",
    ]) {
        if let Ok(phone) = PhoneNumber::parse(&raw) {
            let pattern = regex::Regex::new(PhoneNumber::PATTERN).unwrap();
            prop_assert!(pattern.is_match(phone.as_e164()));
            prop_assert!(!phone.masked().contains(phone.as_e164()));
        }
    }

    #[test]
    fn challenge_ids_parse_to_their_canonical_form_or_refuse(raw in prop_oneof![
        any::<String>(),
        "[0-9a-fA-F-]{30,40}",
    ]) {
        if let Ok(id) = ChallengeId::parse(&raw) {
            prop_assert_eq!(id.to_string(), raw.to_lowercase());
        }
    }
}

const SECRET: &[u8] = b"property-test-secret-of-at-least-32-bytes";

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        TokenVerifier::new(
            &VerificationKey::Hs256(SECRET.to_vec()),
            crate::auth::TokenRules::from(&crate::config::AuthSettings {
                issuer: "iss".into(),
                audience: "aud".into(),
                ..Default::default()
            }),
        )
        .unwrap()
    })
}

#[test]
fn a_body_past_the_cap_is_refused_with_a_400() {
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    strict::<VerifyRequest>(big).unwrap();
}
