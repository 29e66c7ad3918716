//! Step-up assertions, checked as an operation service checks them: offline, with the keys
//! `/.well-known/jwks.json` publishes, for exactly the challenge and the context it is about
//! to execute.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mfa_totp_tests::{PHONE, Reply, Setup, TestApp, TestDatabase};
use serde_json::{Value, json};

/// The operation service of `TestApp::service_token`: the assertion's audience.
const CLIENT: &str = "operation-service";
const USER: &str = "alice";
const KEY_K2: &str = include_str!("../../../server/testdata/assertion-k1.pem");
const KEY_ED25519: &str = include_str!("../../../server/testdata/assertion-k2-ed25519.pem");

/// What an operation service checks before it executes an operation on the strength of an
/// assertion (README, "Checking an assertion"): the signature with the key `kid` names, in
/// that key's algorithm; `typ`, `iss`, `aud`, `exp`; the challenge it created for the
/// operation; and the digest of what it is about to execute.
fn check(
    assertion: &str,
    jwks: &JwkSet,
    challenge_id: &str,
    digest: &str,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("step-up+jwt") {
        return Err(format!("typ {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or(format!("unknown kid {kid}"))?;
    let alg = match jwk.common.key_algorithm.map(|a| a.to_string()).as_deref() {
        Some("ES256") => Algorithm::ES256,
        Some("EdDSA") => Algorithm::EdDSA,
        other => return Err(format!("key algorithm {other:?}")),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&["mfa-totp"]);
    validation.set_audience(&[CLIENT]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    if claims["challenge_id"] != challenge_id {
        return Err(format!("for challenge {}", claims["challenge_id"]));
    }
    if claims["context_digest"] != digest {
        return Err(format!("for context {}", claims["context_digest"]));
    }
    Ok(claims)
}

async fn jwks(app: &TestApp) -> (Reply, JwkSet) {
    let reply = app
        .send(app.http.get(app.url("/.well-known/jwks.json")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = serde_json::from_value(reply.body.clone()).expect("a JWK Set");
    (reply, set)
}

/// A challenge of `alice` for `attributes`, verified: its id and the `:verify` answer.
async fn verified(app: &TestApp, attributes: Value) -> (String, Value) {
    assert_eq!(app.put_user(USER, PHONE).await.status / 100, 2);
    let id = app.create_challenge_for(USER, attributes).await;
    assert_eq!(app.initiate(&id, USER).await.status, 200);
    let code = app.inbox.last_code_for(PHONE).unwrap();
    let reply = app.verify(&id, USER, &code).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    (id, reply.body)
}

async fn consume(app: &TestApp, id: &str) -> Reply {
    app.consume(id, &TestApp::service_token()).await
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

#[tokio::test]
async fn verify_and_consume_hand_out_one_assertion_that_the_published_keys_verify() {
    let app = TestApp::spawn().await;
    let (id, verify) = verified(&app, json!({"amount": "120.00"})).await;
    let digest = text(&verify["contextDigest"]);
    let (reply, keys) = jwks(&app).await;
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    let claims = check(text(&verify["assertion"]), &keys, &id, digest).unwrap();
    let verified_at = chrono::DateTime::parse_from_rfc3339(text(&verify["verifiedAt"]))
        .unwrap()
        .timestamp();
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["amr"], json!(["sms", "otp"]));
    assert_eq!(claims["acr"], "urn:mfa-totp:acr:sms-otp");
    assert_eq!(claims["operation"], "payments.transfer");
    assert_eq!(claims["auth_time"], verified_at);
    assert_eq!(claims["iat"], verified_at);
    assert_eq!(claims["exp"], verified_at + 300);
    assert!(uuid::Uuid::parse_str(text(&claims["jti"])).is_ok());
    let consumed = consume(&app, &id).await;
    assert_eq!(consumed.status, 200, "{}", consumed.body);
    // The one assertion of the challenge: the same header and claims (an ES256 signature is
    // randomised, so the signature itself differs).
    let consumed_assertion = text(&consumed.body["assertion"]);
    let signed_part = |token: &str| token.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(
        signed_part(consumed_assertion),
        signed_part(text(&verify["assertion"])),
        ":consume hands out the assertion :verify did"
    );
    assert_eq!(
        check(consumed_assertion, &keys, &id, digest).unwrap(),
        claims
    );
}

/// Changing any claim, or the header, breaks the signature; `alg: none` and an HMAC signed
/// with the public key are refused.
#[tokio::test]
async fn a_tampered_assertion_is_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let app = TestApp::spawn().await;
    let (id, verify) = verified(&app, json!({"amount": "120.00"})).await;
    let digest = text(&verify["contextDigest"]);
    let (_, keys) = jwks(&app).await;
    let assertion = text(&verify["assertion"]);
    assert!(check(assertion, &keys, &id, digest).is_ok());
    let parts: Vec<&str> = assertion.split('.').collect();
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let forged = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(claims.to_string()),
            parts[2]
        )
    };
    let tampered = [
        forged(&|c| c["sub"] = "mallory".into()),
        forged(&|c| c["aud"] = "other-service".into()),
        forged(&|c| c["exp"] = (c["exp"].as_i64().unwrap() + 3600).into()),
        forged(&|c| c["operation"] = "payments.refund".into()),
        forged(&|c| c["acr"] = "urn:example:acr:high".into()),
        forged(&|c| c["amount"] = "9999.00".into()),
    ];
    for token in &tampered {
        let refused = check(token, &keys, &id, digest).unwrap_err();
        assert!(refused.contains("InvalidSignature"), "{refused}");
    }
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"step-up+jwt","kid":"dev"}"#),
        parts[1]
    );
    assert!(check(&none, &keys, &id, digest).is_err(), "alg none");
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let mut hs256 = header.clone();
    hs256["alg"] = "HS256".into();
    let relabelled = format!(
        "{}.{}.{}",
        B64.encode(hs256.to_string()),
        parts[1],
        parts[2]
    );
    assert!(check(&relabelled, &keys, &id, digest).is_err(), "HS256");
}

/// An operation service that checks `challenge_id` and `context_digest` cannot be handed the
/// assertion of another step-up: of another context (another digest), or of the same
/// context authorised for another challenge (the same digest).
#[tokio::test]
async fn an_assertion_of_another_challenge_cannot_pass_for_this_one() {
    let app = TestApp::spawn().await;
    let (small, small_verify) = verified(&app, json!({"amount": "1.00"})).await;
    let (large, large_verify) = verified(&app, json!({"amount": "5000.00"})).await;
    let (again, again_verify) = verified(&app, json!({"amount": "1.00"})).await;
    let (_, keys) = jwks(&app).await;
    let digest = |v: &Value| text(&v["contextDigest"]).to_owned();
    let assertion = |v: &Value| text(&v["assertion"]).to_owned();
    assert!(
        check(
            &assertion(&large_verify),
            &keys,
            &large,
            &digest(&large_verify)
        )
        .is_ok()
    );
    // The small transfer's assertion, presented for the large one.
    let refused = check(
        &assertion(&small_verify),
        &keys,
        &large,
        &digest(&large_verify),
    );
    assert!(refused.unwrap_err().contains("for challenge"));
    let refused = check(
        &assertion(&small_verify),
        &keys,
        &small,
        &digest(&large_verify),
    );
    assert!(refused.unwrap_err().contains("for context"));
    // The same context authorised twice: one digest, two challenges, two assertions.
    assert_eq!(digest(&small_verify), digest(&again_verify));
    let refused = check(
        &assertion(&small_verify),
        &keys,
        &again,
        &digest(&again_verify),
    );
    assert!(refused.unwrap_err().contains("for challenge"));
    assert!(
        check(
            &assertion(&again_verify),
            &keys,
            &again,
            &digest(&again_verify)
        )
        .is_ok()
    );
}

/// Rotation as the README tells it: add the new key and make it active, keep the old one
/// published until the last assertion it signed has expired, then remove it.
#[tokio::test]
async fn a_key_rotation_keeps_old_assertions_verifying_until_the_old_key_is_removed() {
    let database = TestDatabase::from_env("black-box").await;
    // Before: the development key `dev` signs.
    let before = TestApp::spawn_with(Setup::new(&database), None).await;
    let (old_id, old_verify) = verified(&before, json!({"amount": "120.00"})).await;
    let (pending_id, pending_verify) = verified(&before, json!({"amount": "7.00"})).await;
    let old = text(&old_verify["assertion"]);
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid(old), "dev");
    // During: `k2` signs, `dev` is still published.
    let mut setup = Setup::new(&database);
    setup
        .settings
        .assertion
        .keys
        .insert("k2".into(), KEY_K2.into());
    setup.settings.assertion.active_key_id = Some("k2".into());
    let during = TestApp::spawn_with(setup, None).await;
    let (_, keys) = jwks(&during).await;
    let kids: Vec<&str> = keys
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.as_deref())
        .collect();
    assert_eq!(kids, ["k2", "dev"], "the active key first");
    let digest = text(&old_verify["contextDigest"]);
    assert!(
        check(old, &keys, &old_id, digest).is_ok(),
        "the old assertion verifies"
    );
    let (new_id, new_verify) = verified(&during, json!({"amount": "120.00"})).await;
    let new = text(&new_verify["assertion"]);
    assert_eq!(kid(new), "k2");
    assert!(check(new, &keys, &new_id, digest).is_ok());
    // A challenge verified before the rotation is consumed after it: the same claims,
    // signed by the active key.
    let consumed = consume(&during, &pending_id).await;
    let resigned = text(&consumed.body["assertion"]);
    assert_eq!(kid(resigned), "k2");
    let pending_digest = text(&pending_verify["contextDigest"]);
    let claims = check(resigned, &keys, &pending_id, pending_digest).unwrap();
    let original = check(
        text(&pending_verify["assertion"]),
        &keys,
        &pending_id,
        pending_digest,
    );
    assert_eq!(claims, original.unwrap());
    // After: `dev` removed; what it signed no longer verifies, what `k2` signed does.
    let mut setup = Setup::new(&database);
    setup.settings.assertion.keys = [("k2".to_owned(), KEY_K2.into())].into();
    setup.settings.assertion.active_key_id = Some("k2".into());
    let after = TestApp::spawn_with(setup, Some(database)).await;
    let (_, keys) = jwks(&after).await;
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(
        check(old, &keys, &old_id, digest).unwrap_err(),
        "unknown kid dev"
    );
    assert!(check(new, &keys, &new_id, digest).is_ok());
}

/// An Ed25519 key signs EdDSA assertions; `acr` is the operation's own where configured.
#[tokio::test]
async fn an_ed25519_key_signs_eddsa_and_acr_follows_the_operation() {
    let (app, _clock) = TestApp::spawn_configured(|settings| {
        settings.assertion.keys = [("ed".to_owned(), KEY_ED25519.into())].into();
        settings.assertion.active_key_id = Some("ed".into());
        settings.assertion.acr_by_operation = [(
            "payments".to_owned(),
            mfa_totp_server::config::TemplateTree::Tree(
                [(
                    "transfer".to_owned(),
                    mfa_totp_server::config::TemplateTree::Text("urn:example:acr:payments".into()),
                )]
                .into(),
            ),
        )]
        .into();
    })
    .await;
    let (id, verify) = verified(&app, json!({"amount": "120.00"})).await;
    let assertion = text(&verify["assertion"]);
    assert_eq!(
        jsonwebtoken::decode_header(assertion).unwrap().alg,
        Algorithm::EdDSA
    );
    let (reply, keys) = jwks(&app).await;
    assert_eq!(reply.body["keys"][0]["kty"], "OKP");
    let claims = check(assertion, &keys, &id, text(&verify["contextDigest"])).unwrap();
    assert_eq!(claims["acr"], "urn:example:acr:payments");
}
