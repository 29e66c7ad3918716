//! A fleet: two real `mfa-totp` processes on one PostgreSQL database, started at once (their
//! migrations take turns). A challenge created through A is initiated through B and verified
//! through A, and every limit holds across both. Needs `MFA_TOTP_TEST_POSTGRES_URL`; without
//! it the test is ignored, and the summary counts it so.

use std::collections::BTreeMap;

use crate::support::{create_challenge, service_token, start, token};
use mfa_totp_storage::testing::{Engine, TestDatabase};
use reqwest::Client;
use serde_json::{Value, json};

/// The callers' side: tokens and an HTTP client, shared by concurrent tasks.
#[derive(Clone)]
struct Callers {
    http: Client,
    service: String,
    alice: String,
}

impl Callers {
    async fn create(&self, via: &str) -> String {
        create_challenge(&self.http, via, &self.service, "alice").await
    }

    async fn call(&self, via: &str, id: &str, verb: &str, otp: Option<&str>) -> (u16, String) {
        let mut request = self
            .http
            .post(format!("{via}/internal/v1/mfa/totp-sms/{id}:{verb}"))
            .bearer_auth(&self.alice);
        if let Some(otp) = otp {
            request = request.json(&json!({ "otp": otp }));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        let code = body["code"].as_str().unwrap_or_default();
        (
            status,
            code.trim_start_matches("urn:plmr:mfa-totp:api:").to_owned(),
        )
    }
}

/// How many calls ended with each (status, code).
async fn tally(
    tasks: Vec<tokio::task::JoinHandle<(u16, String)>>,
) -> BTreeMap<(u16, String), usize> {
    let mut outcomes = BTreeMap::new();
    for task in tasks {
        *outcomes.entry(task.await.unwrap()).or_default() += 1;
    }
    outcomes
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs PostgreSQL: set MFA_TOTP_TEST_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres"
)]
async fn two_instances_on_one_database_share_challenges_and_limits() {
    let database = TestDatabase::create(Engine::Postgres, "fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("MFA_TOTP__DATABASE__URL", database.url())];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start(dir.path(), &env));
        let b = s.spawn(|| start(dir.path(), &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    mfa_totp_http::install_crypto_provider();
    let service = service_token(dir.path());
    let fleet = Callers {
        alice: token(dir.path(), &["--sub", "alice"]),
        http: Client::new(),
        service,
    };
    let (base_a, base_b) = (a.base(), b.base());
    let (via_a, via_b) = (base_a.as_str(), base_b.as_str());
    let put = fleet
        .http
        .put(format!("{via_b}/internal/v1/mfa/users/alice"))
        .bearer_auth(&fleet.service)
        .json(&json!({"phoneNumber": "+447400123123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    // Created through A, initiated through B, verified through A.
    let id = fleet.create(via_a).await;
    assert_eq!(fleet.call(via_b, &id, "initiate", None).await.0, 200);
    let code = b.next_code().expect("B sent the SMS");
    // The cooldown holds across instances: A sends nothing.
    assert_eq!(
        fleet.call(via_a, &id, "initiate", None).await,
        (429, "TOO_MANY_REQUESTS".to_owned())
    );
    assert!(a.next_code().is_none(), "A sent no second SMS");
    assert_eq!(fleet.call(via_a, &id, "verify", Some(&code)).await.0, 200);
    // The code is spent everywhere.
    assert_eq!(
        fleet.call(via_b, &id, "verify", Some(&code)).await,
        (404, "CHALLENGE_NOT_FOUND".to_owned())
    );

    // Wrong codes alternate between A and B and still count to one limit of 5.
    let id = fleet.create(via_b).await;
    assert_eq!(fleet.call(via_a, &id, "initiate", None).await.0, 200);
    let code = a.next_code().expect("A sent the SMS");
    for attempt in 0..5 {
        let via = if attempt % 2 == 0 { via_a } else { via_b };
        assert_eq!(
            fleet.call(via, &id, "verify", Some(&wrong(&code))).await,
            (400, "INVALID_OTP".to_owned()),
            "attempt {attempt}"
        );
    }
    assert_eq!(
        fleet.call(via_b, &id, "verify", Some(&code)).await,
        (429, "TOO_MANY_REQUESTS".to_owned()),
        "locked on B by attempts made on A and B"
    );

    // 40 wrong codes at once, half through each instance: exactly 5 count.
    let id = fleet.create(via_a).await;
    assert_eq!(fleet.call(via_b, &id, "initiate", None).await.0, 200);
    let code = b.next_code().expect("B sent the SMS");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (fleet, id, otp) = (fleet.clone(), id.clone(), wrong(&code));
            let via = if i % 2 == 0 {
                base_a.clone()
            } else {
                base_b.clone()
            };
            tokio::spawn(async move { fleet.call(&via, &id, "verify", Some(&otp)).await })
        })
        .collect();
    let outcomes = tally(tasks).await;
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ((400, "INVALID_OTP".to_owned()), 5),
            ((429, "TOO_MANY_REQUESTS".to_owned()), 35),
        ])
    );

    // Alice has now entered 10 wrong codes through A and B: the default user_wrong_codes.
    // Both instances lock her out of a fresh challenge, even with its right code.
    let id = fleet.create(via_b).await;
    assert_eq!(fleet.call(via_a, &id, "initiate", None).await.0, 200);
    let code = a.next_code().expect("A sent the SMS");
    for via in [via_a, via_b] {
        assert_eq!(
            fleet.call(via, &id, "verify", Some(&code)).await,
            (429, "TOO_MANY_REQUESTS".to_owned()),
            "user_wrong_codes holds on {via}"
        );
    }

    // Four SMS went to alice's phone; the default phone_sms is 5, shared by A and B: of six
    // initiates at once on six new challenges, half through each, exactly one sends.
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(fleet.create(via_a).await);
    }
    let tasks: Vec<_> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let fleet = fleet.clone();
            let via = if i % 2 == 0 {
                base_a.clone()
            } else {
                base_b.clone()
            };
            tokio::spawn(async move { fleet.call(&via, &id, "initiate", None).await })
        })
        .collect();
    let outcomes = tally(tasks).await;
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ((200, String::new()), 1),
            ((429, "TOO_MANY_REQUESTS".to_owned()), 5),
        ])
    );
}
