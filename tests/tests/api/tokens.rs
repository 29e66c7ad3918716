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
    jwks_app_with(idp, |setup| {
        setup.settings.auth.jwks_min_refresh_secs = min_refresh_secs;
        setup.settings.auth.jwks_cache_secs = cache_secs;
    })
    .await
}

/// The app on `idp`'s `/jwks`, with `change` on top.
async fn jwks_app_with(idp: &MockServer, change: impl FnOnce(&mut Setup)) -> TestApp {
    let database = TestDatabase::from_env("jwks").await;
    let mut setup = jwks_setup(&database, &format!("{}/jwks", idp.uri()));
    change(&mut setup);
    TestApp::spawn_with(setup, Some(database)).await
}

fn jwks_setup(database: &TestDatabase, url: &str) -> Setup {
    let mut setup = Setup::new(database);
    setup.settings.auth.hs256_secret = None;
    setup.settings.auth.jwks_url = Some(url.to_owned());
    setup
}

/// Why start-up with the JWKS at `url` fails, with its causes.
async fn start_up_error(url: &str) -> String {
    let database = TestDatabase::from_env("jwks-start").await;
    let config = mfa_totp_server::Config::new(jwks_setup(&database, url).settings).unwrap();
    let error = Application::build(&config, Overrides::default())
        .await
        .err()
        .expect("start-up fails");
    format!("{error:#}")
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
    let error = start_up_error(&url).await;
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

/// `jwk(name)` under another `kid`: the same key published twice, as a set in rotation has.
fn jwk_as(name: &str, kid: &str) -> Value {
    let mut key = jwk(name);
    key["kid"] = json!(kid);
    key
}

/// The finding: with the identity provider hanging, four concurrent requests with a known
/// key answered after 5, 10, 15 and 20 s once the cache was old. Now the refresh runs in the
/// background and a known key is answered from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_identity_provider_stalls_no_request_whose_key_is_known() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app_with(&idp, |setup| {
        setup.settings.auth.jwks_cache_secs = 1;
        setup.settings.auth.jwks_min_refresh_secs = 1;
    })
    .await;
    idp.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "keys": [jwk("rs256-test-public.jwk.json")] }))
                .set_delay(std::time::Duration::from_secs(60)),
        )
        .mount(&idp)
        .await;
    // The cache is now older than auth.jwks_cache_secs, and a refresh hangs.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        !idp.received_requests().await.unwrap().is_empty(),
        "a refresh is under way"
    );
    let token = idp_token(Algorithm::RS256, "rsa-2026");
    let started = std::time::Instant::now();
    let (a, b, c, d) = tokio::join!(
        put_alice(&app, &token),
        put_alice(&app, &token),
        put_alice(&app, &token),
        put_alice(&app, &token)
    );
    let answers = [a, b, c, d];
    let took = started.elapsed();
    assert!(
        answers.iter().all(|status| status / 100 == 2),
        "{answers:?}"
    );
    // Far below one fetch timeout (5 s): nobody waited for the identity provider.
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
}

/// The finding: a failed refetch did not count against `auth.jwks_min_refresh_secs`, so 30
/// made-up `kid`s against an identity provider answering 500 made 30 fetches.
#[tokio::test]
async fn a_failing_identity_provider_is_asked_at_most_once_per_interval() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app_with(&idp, |setup| setup.settings.auth.jwks_min_refresh_secs = 1).await;
    idp.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&idp)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for n in 0..30 {
        let token = idp_token(Algorithm::RS256, &format!("random-{n}"));
        assert_eq!(
            put_alice(&app, &token).await / 100,
            5,
            "unknown while the IdP fails"
        );
    }
    let fetches = idp.received_requests().await.unwrap().len();
    assert!(
        fetches <= 2,
        "{fetches} fetches for 30 unknown kids within ~1 s"
    );
    let known = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(
        put_alice(&app, &known).await / 100,
        2,
        "the known key still works"
    );
}

/// An empty set is a failed fetch; a set that drops most of the known keys is applied only
/// when a second fetch confirms it.
#[tokio::test]
async fn an_empty_or_much_smaller_set_does_not_replace_the_known_keys() {
    let idp = MockServer::start().await;
    let all = [
        jwk("rs256-test-public.jwk.json"),
        jwk("es256-test-public.jwk.json"),
        jwk_as("rs256-test-public.jwk.json", "rsa-2025"),
    ];
    serve_keys(&idp, &all).await;
    let app = jwks_app(&idp, 0).await;
    let rsa = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(put_alice(&app, &rsa).await / 100, 2);

    serve_keys(&idp, &[]).await;
    // An unknown kid makes the service refetch: the empty set must not drop the others.
    put_alice(&app, &idp_token(Algorithm::RS256, "unknown-1")).await;
    assert!(!idp.received_requests().await.unwrap().is_empty());
    assert_eq!(
        put_alice(&app, &rsa).await / 100,
        2,
        "kept after an empty set"
    );

    serve_keys(&idp, &[jwk("es256-test-public.jwk.json")]).await;
    put_alice(&app, &idp_token(Algorithm::RS256, "unknown-2")).await;
    assert_eq!(
        put_alice(&app, &rsa).await / 100,
        2,
        "kept after one much smaller set"
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    put_alice(&app, &idp_token(Algorithm::RS256, "unknown-3")).await;
    assert_eq!(
        put_alice(&app, &rsa).await,
        401,
        "dropped once a second fetch confirms the smaller set"
    );
    let ec = idp_token(Algorithm::ES256, "ec-2026");
    assert_eq!(put_alice(&app, &ec).await / 100, 2);
}

/// A redirect is the identity provider failing, never a new address to take keys from.
#[tokio::test]
async fn a_redirecting_jwks_url_is_not_followed() {
    let idp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .mount(&idp)
        .await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "keys": [jwk("rs256-test-public.jwk.json")] })),
        )
        .mount(&idp)
        .await;
    let error = start_up_error(&format!("{}/jwks", idp.uri())).await;
    assert!(error.contains("302"), "{error}");
}

/// Readiness says when the keys are older than `auth.jwks_max_stale_secs`, and recovers
/// when the identity provider answers again.
#[tokio::test]
async fn readiness_fails_while_the_keys_are_stale_and_recovers() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app_with(&idp, |setup| {
        setup.settings.auth.jwks_cache_secs = 1;
        setup.settings.auth.jwks_min_refresh_secs = 1;
        setup.settings.auth.jwks_max_stale_secs = 2;
    })
    .await;
    assert_eq!(app.get("/health/ready", "").await.status, 200);
    idp.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&idp)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let stale = app.get("/health/ready", "").await;
    stale.assert_error(503, "SERVICE_UNAVAILABLE");
    let message = stale.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("identity provider's keys"), "{message}");
    let rsa = idp_token(Algorithm::RS256, "rsa-2026");
    assert_eq!(
        put_alice(&app, &rsa).await / 100,
        2,
        "known keys still verify"
    );
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.get("/health/ready", "").await.status, 200);
}

/// An unknown `kid` is remembered for `auth.jwks_min_refresh_secs`: asked again while a
/// fetch hangs, it is refused at once instead of queueing behind that fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_is_remembered_and_does_not_queue_behind_a_hanging_fetch() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let app = jwks_app(&idp, 2).await;
    idp.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)))
        .mount(&idp)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let made_up = idp_token(Algorithm::RS256, "made-up");
    assert_eq!(
        put_alice(&app, &made_up).await,
        401,
        "within the interval: no fetch"
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // Past the interval: another unknown kid starts a fetch, which hangs.
    let app = std::sync::Arc::new(app);
    let hanging = {
        let app = app.clone();
        let other = idp_token(Algorithm::RS256, "other");
        tokio::spawn(async move { put_alice(&app, &other).await })
    };
    while idp.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    assert_eq!(put_alice(&app, &made_up).await, 401);
    let took = started.elapsed();
    // A fetch times out after 5 s; the remembered kid did not wait for it.
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    hanging.abort();
}

/// A JWKS document over 1 MiB is not read: a broken or hostile identity provider cannot
/// fill the memory of every instance.
#[tokio::test]
async fn an_oversized_jwks_is_refused() {
    let idp = MockServer::start().await;
    let padding = "x".repeat(mfa_totp_server::auth::jwks::MAX_JWKS_BYTES);
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "keys": [jwk("rs256-test-public.jwk.json")], "padding": padding }),
        ))
        .mount(&idp)
        .await;
    let error = start_up_error(&format!("{}/jwks", idp.uri())).await;
    assert!(error.contains("larger than"), "{error}");
}

/// The key fetches are metrics: an operator's alert on the keys' age reads the time of the
/// last successful fetch, and a failed refetch counts from 0.
#[tokio::test]
async fn key_fetches_are_counted_and_the_last_success_is_timed() {
    let idp = MockServer::start().await;
    serve_keys(&idp, &[jwk("rs256-test-public.jwk.json")]).await;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let app = jwks_app(&idp, 0).await;
    let text = app
        .get("/metrics", "")
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in:\n{text}"))
    };
    assert!(value("mfa_totp_jwks_last_success_timestamp_seconds ") >= started.floor());
    assert!(value("mfa_totp_jwks_fetches_total{outcome=\"success\"} ") >= 1.0);
    assert!(value("mfa_totp_jwks_fetches_total{outcome=\"failure\"} ") >= 0.0);
    assert!(text.contains("# HELP mfa_totp_jwks_last_success_timestamp_seconds "));
}
