//! Tokens as identity providers send them, against the real server: keys from a JWKS on
//! loopback (picked by `kid`, refetched on rotation, rate limited), and a `sub` that must be
//! canonical.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use mfa_totp_server::auth::SCOPE_USERS_WRITE;
use mfa_totp_server::{Application, Overrides};
use mfa_totp_storage::testing::TestDatabase;
use mfa_totp_tests::{Setup, TestApp};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// A service token signed by the identity provider's key `kid`, in the shape Keycloak and
/// Azure AD send: `aud` an array, scopes in `scp`.
fn idp_token(algorithm: Algorithm, kid: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": "payments-service",
        "iss": "mfa-totp",
        "aud": ["account", "mfa-totp"],
        "scp": [SCOPE_USERS_WRITE],
        "iat": now,
        "exp": now + 300,
    });
    let key = match algorithm {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(fixture("rs256-test-private.pem").as_bytes()).unwrap()
        }
        _ => EncodingKey::from_ec_pem(fixture("es256-test-private.pem").as_bytes()).unwrap(),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    encode(&header, &claims, &key).unwrap()
}

async fn serve_keys(idp: &MockServer, keys: &[Value]) {
    idp.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })))
        .mount(idp)
        .await;
}

async fn jwks_app(idp: &MockServer, min_refresh_secs: u64) -> TestApp {
    jwks_app_caching(idp, min_refresh_secs, 300).await
}

async fn jwks_app_caching(idp: &MockServer, min_refresh_secs: u64, cache_secs: u64) -> TestApp {
    let database = TestDatabase::from_env("jwks").await;
    let mut setup = Setup::new(&database);
    setup.settings.auth.hs256_secret = None;
    setup.settings.auth.jwks_url = Some(format!("{}/jwks", idp.uri()));
    setup.settings.auth.jwks_min_refresh_secs = min_refresh_secs;
    setup.settings.auth.jwks_cache_secs = cache_secs;
    TestApp::spawn_with(setup, Some(database)).await
}

async fn put_alice(app: &TestApp, token: &str) -> u16 {
    app.send(
        app.http
            .put(app.url("/internal/v1/mfa/users/alice"))
            .bearer_auth(token)
            .json(&json!({"phoneNumber": mfa_totp_tests::PHONE})),
    )
    .await
    .status
}

#[tokio::test]
async fn keys_come_from_the_jwks_by_kid_and_a_rotation_just_works() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app(&idp, 0).await;

    let rsa = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(put_alice(&app, &rsa).await / 100, 2, "RS256 key by kid");
    let ec = idp_token(Algorithm::ES256, "ec-2026");
    assert_eq!(put_alice(&app, &ec).await, 401, "not yet published");

    // The identity provider rotates to the EC key: an unknown kid refetches the set.
    serve_keys(&idp, &[jwk("es256-test-public.jwk.json")]).await;
    assert_eq!(
        put_alice(&app, &ec).await,
        200,
        "the new key after a rotation"
    );
    assert_eq!(idp.received_requests().await.unwrap().len(), 1);

    let forged = idp_token(Algorithm::ES256, "rsa-2026");
    assert_eq!(
        put_alice(&app, &forged).await,
        401,
        "a kid's algorithm is the key's, not the token's"
    );
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app(&idp, 3600).await;
    idp.reset().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    for n in 0..20 {
        let token = idp_token(Algorithm::RS256, &format!("made-up-{n}"));
        assert_eq!(put_alice(&app, &token).await, 401);
    }
    let rsa = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(put_alice(&app, &rsa).await / 100, 2);
    assert_eq!(
        idp.received_requests().await.unwrap().len(),
        0,
        "made-up kids within the interval fetch nothing"
    );
}

#[tokio::test]
async fn with_the_identity_provider_down_known_keys_still_work_and_unknown_ones_are_503() {
    let idp = MockServer::builder().start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    // Every token refetches (no cache, no interval), so every one meets the outage.
    let app = jwks_app_caching(&idp, 0, 0).await;
    drop(idp);
    let rsa = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(
        put_alice(&app, &rsa).await / 100,
        2,
        "the known key stays in use"
    );
    let rotated = idp_token(Algorithm::ES256, "ec-2026");
    let reply = app
        .send(
            app.http
                .put(app.url("/internal/v1/mfa/users/alice"))
                .bearer_auth(&rotated)
                .json(&json!({"phoneNumber": mfa_totp_tests::PHONE})),
        )
        .await;
    reply.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(reply.header("retry-after").is_some());
}

#[tokio::test]
async fn start_up_fails_clearly_when_the_first_jwks_fetch_fails() {
    let idp = MockServer::builder().start().await;
    let url = format!("{}/jwks", idp.uri());
    drop(idp);
    let database = TestDatabase::from_env("jwks-down").await;
    let mut setup = Setup::new(&database);
    setup.settings.auth.hs256_secret = None;
    setup.settings.auth.jwks_url = Some(url);
    let config = mfa_totp_server::Config::new(setup.settings).unwrap();
    let error = Application::build(&config, Overrides::default())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(error.contains("auth.jwks_url"), "{error}");
}

#[tokio::test]
async fn a_sub_with_surrounding_spaces_cannot_act_as_that_user() {
    let app = TestApp::spawn().await;
    let (id, code) = app.challenge_with_code("alice").await;
    let spaced = TestApp::token(" alice ", &[]);
    app.post_json(
        &format!("/internal/v1/mfa/totp-sms/{id}:verify"),
        &spaced,
        json!({ "otp": code }),
    )
    .await
    .assert_error(401, "UNAUTHORIZED");
    assert_eq!(app.verify(&id, "alice", &code).await.status, 200);
}
