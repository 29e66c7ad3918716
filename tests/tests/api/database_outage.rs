//! The database goes away under a running server and comes back: requests fail fast with
//! 503 SERVICE_UNAVAILABLE and Retry-After, readiness says so, and the service recovers by
//! itself. PostgreSQL behind a TCP proxy the test cuts; ignored (and counted so)
//! without `MFA_TOTP_TEST_POSTGRES_URL`.

use std::time::{Duration, Instant};

use mfa_totp_storage::testing::{host_port, with_host_port};
use mfa_totp_tests::proxy::TcpProxy;
use mfa_totp_tests::{Engine, PHONE, Setup, TestApp, TestDatabase};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
)]
async fn database_outage_is_503_with_retry_after_and_the_service_recovers() {
    let database = TestDatabase::create(Engine::Postgres, "database_outage").await;
    let proxy = TcpProxy::start(host_port(database.url()).to_owned()).await;
    let mut setup = Setup::new(&database);
    setup.settings.database.url = with_host_port(database.url(), &proxy.addr().to_string());
    setup.settings.database.acquire_timeout_ms = 500;
    let app = TestApp::spawn_with(setup, Some(database)).await;
    assert_eq!(app.put_user("alice", PHONE).await.status, 201);
    let before = app.create_challenge("alice").await;
    assert_eq!(app.get("/health/ready", "").await.status, 200);

    proxy.cut();
    let started = Instant::now();
    let ready = app.get("/health/ready", "").await;
    ready.assert_error(503, "SERVICE_UNAVAILABLE");
    let create = app
        .post_json(
            "/internal/v1/mfa/challenges",
            &TestApp::service_token(),
            serde_json::json!({"subjectUserId": "alice", "stepUpRequestContext": {"operation": "payments.transfer"}}),
        )
        .await;
    create.assert_error(503, "SERVICE_UNAVAILABLE");
    let retry_after: u64 = create.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after > 0);
    let initiate = app.initiate(&before, "alice").await;
    initiate.assert_error(503, "SERVICE_UNAVAILABLE");
    // Fail fast: bounded by the acquire timeout, not by TCP's minutes.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/health/ready", "").await.status != 200 {
        assert!(Instant::now() < deadline, "readiness did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing was lost or half-written: the earlier challenge is intact and usable.
    let status = app
        .get(
            &format!("/internal/v1/mfa/challenges/{before}"),
            &TestApp::service_token(),
        )
        .await;
    assert_eq!(status.body["status"], "PENDING", "{}", status.body);
    assert_eq!(app.initiate(&before, "alice").await.status, 200);
    assert!(app.inbox.last_code_for(PHONE).is_some());
}
