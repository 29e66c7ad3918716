//! Throughput and latency of the whole flow on the embedded default (SQLite file, WAL), over
//! real HTTP on loopback. Prints its figures; asserts nothing about speed.
//!
//! `cargo bench -p mfa-totp-tests --bench flow` (FLOWS and CONCURRENCY env vars override).

use std::time::{Duration, Instant};

use mfa_totp_tests::{Setup, TestApp, TestDatabase};
use serde_json::json;

/// One phone per worker, so each worker reads its own SMS.
fn phone(worker: usize) -> String {
    format!("+447700{worker:06}")
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<10} n={:<6} p50={:>8.2?} p95={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
}

#[tokio::main]
async fn main() {
    let flows = env_or("FLOWS", 400);
    let concurrency = env_or("CONCURRENCY", 16);
    let database = TestDatabase::from_env("bench").await;
    let setup = Setup::new(&database);
    let app = std::sync::Arc::new(TestApp::spawn_with(setup, Some(database)).await);
    let users = concurrency;
    for u in 0..users {
        assert_eq!(
            app.put_user(&format!("user-{u}"), &phone(u)).await.status / 100,
            2
        );
    }
    let service = TestApp::service_token();
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let app = app.clone();
        let service = service.clone();
        workers.push(tokio::spawn(async move {
            let user = format!("user-{w}");
            let token = TestApp::token(&user, &[]);
            let mut timings: [Vec<Duration>; 3] = Default::default();
            for _ in 0..flows / concurrency {
                let t = Instant::now();
                let created: serde_json::Value = app
                    .http
                    .post(app.url("/internal/v1/mfa/challenges"))
                    .bearer_auth(&service)
                    .json(&json!({"subjectUserId": user, "stepUpRequestContext": {"operation": "bench"}}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                timings[0].push(t.elapsed());
                let id = created["challengeId"].as_str().unwrap().to_owned();
                let t = Instant::now();
                let sent = app
                    .http
                    .post(app.url(&format!("/internal/v1/mfa/totp-sms/{id}:initiate")))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(sent.status(), 200);
                timings[1].push(t.elapsed());
                let code = app.inbox.last_code_for(&phone(w)).unwrap();
                let t = Instant::now();
                let verified = app
                    .http
                    .post(app.url(&format!("/internal/v1/mfa/totp-sms/{id}:verify")))
                    .bearer_auth(&token)
                    .json(&json!({"otp": code}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(verified.status(), 200);
                timings[2].push(t.elapsed());
            }
            timings
        }));
    }
    let mut all: [Vec<Duration>; 3] = Default::default();
    for worker in workers {
        for (sink, samples) in all.iter_mut().zip(worker.await.unwrap()) {
            sink.extend(samples);
        }
    }
    let elapsed = started.elapsed();
    let done = all[0].len();
    println!(
        "mfa-totp flow bench: {done} flows, concurrency {concurrency}, {:?} (MFA_TOTP_TEST_ENGINE), console SMS, loopback HTTP",
        mfa_totp_tests::Engine::from_env()
    );
    println!(
        "{:.0} flows/s ({:.0} requests/s) in {elapsed:.2?}",
        done as f64 / elapsed.as_secs_f64(),
        3.0 * done as f64 / elapsed.as_secs_f64()
    );
    report("create", std::mem::take(&mut all[0]));
    report("initiate", std::mem::take(&mut all[1]));
    report("verify", std::mem::take(&mut all[2]));
}
