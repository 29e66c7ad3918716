//! `mfa-totp-bench`: the load benchmark that `scripts/bench` runs. For each engine it starts
//! the release binary on a fresh database with a fake Twilio over real HTTP, then measures,
//! at `BENCH_CONNECTIONS` connections (64) for up to `BENCH_SECS` (10) each:
//!
//! 1. the ceiling, `GET /health/live` (the same server doing no work);
//! 2. `POST challenges` (one fresh challenge per request);
//! 3. `GET` of a challenge;
//! 4. `:initiate` of a fresh challenge;
//! 5. `:verify` with the right code, each on a fresh challenge, then with wrong codes;
//! 6. the whole flow (create → initiate → verify), per connection;
//!
//! then tops the requests served up to `BENCH_TOTAL_REQUESTS` (1,000,000) with `GET`s and
//! reads the peak RSS. It prints a Markdown report: req/s, p50/p99/p99.9, the server's CPU
//! time per request (from `/proc/<pid>/stat`: it moves less with the machine's noise than
//! throughput does) and peak RSS, each also as a ratio to the ceiling of the same run,
//! beside `pgbench -N` and `-S`.
//!
//! Usage: `mfa-totp-bench --server PATH [--engines sqlite,postgres] [--postgres-url URL]`.
//!
//! `BENCH_PERF=<phase name prefix>` records the server with `perf record -g` during the
//! phases whose name starts so (e.g. `:verify right`), into `target/bench/<engine>-<phase>.perf.data`.

mod external;
mod fake_twilio;
mod load;
mod report;
mod server;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use load::{Budget, Call, Tally};
use report::{Phase, Run};
use server::Server;

struct Options {
    server: PathBuf,
    engines: Vec<String>,
    postgres_url: Option<String>,
    secs: u64,
    connections: usize,
    challenges: usize,
    total_requests: u64,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}: not a number: {v}")),
        Err(_) => Ok(default),
    }
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut server = None;
    let mut engines = vec!["sqlite".to_owned()];
    let mut postgres_url = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => server = Some(std::fs::canonicalize(value()?)?),
            "--engines" => engines = value()?.split(',').map(str::to_owned).collect(),
            "--postgres-url" => postgres_url = Some(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Options {
        server: server.context("--server PATH (the release mfa-totp binary)")?,
        engines,
        postgres_url,
        secs: env_or("BENCH_SECS", 10)?,
        connections: env_or("BENCH_CONNECTIONS", 64)?,
        challenges: env_or("BENCH_CHALLENGES", 40_000)?,
        total_requests: env_or("BENCH_TOTAL_REQUESTS", 1_000_000)?,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let database_limits = match &options.postgres_url {
        Some(url) => Some(external::pgbench(url, options.secs)?),
        None => None,
    };
    let mut runs = Vec::new();
    for engine in &options.engines {
        let dir = std::env::temp_dir().join(format!("mfa-totp-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let database_url = match engine.as_str() {
            "sqlite" => format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
            "postgres" => external::fresh_database(
                options
                    .postgres_url
                    .as_deref()
                    .context("--engines postgres needs --postgres-url")?,
                "mfa_totp_bench",
            )?,
            other => bail!("unknown engine {other} (sqlite, postgres)"),
        };
        eprintln!("== {engine}");
        let run = run_engine(&options, engine, &dir, &database_url).await?;
        runs.push(run);
        std::fs::remove_dir_all(&dir)?;
    }
    print!(
        "{}",
        report::markdown(&runs, database_limits.as_ref(), &options_line(&options))
    );
    Ok(())
}

fn options_line(o: &Options) -> String {
    format!(
        "{} connections, up to {} s per phase, {} fresh challenges, {} requests in all per engine",
        o.connections, o.secs, o.challenges, o.total_requests
    )
}

/// A user of the bench: its id, phone and `Authorization` value.
struct User {
    id: String,
    phone: String,
    bearer: Arc<str>,
}

fn users(prefix: &str, range: u32, count: usize) -> Vec<User> {
    (0..count)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            User {
                bearer: bearer(&id, ""),
                // GB mobiles: 074[0-4] then six digits.
                phone: format!("+4474{range}{i:07}"),
                id,
            }
        })
        .collect()
}

fn bearer(sub: &str, scope: &str) -> Arc<str> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "sub": sub, "iss": "mfa-totp", "aud": "mfa-totp", "iat": now, "exp": now + 7200,
        "scope": scope,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(server::SECRET.as_bytes()),
    )
    .expect("a token");
    format!("Bearer {token}").into()
}

struct Bench {
    server: Arc<Server>,
    service: Arc<str>,
    connections: usize,
    duration: Duration,
    served: u64,
}

impl Bench {
    /// Runs one phase: `send` on every connection until the budget is spent.
    async fn phase<F, Fut>(&mut self, name: &str, items: usize, send: F) -> anyhow::Result<Phase>
    where
        F: Fn(usize, load::Conn, Budget) -> Fut,
        Fut: Future<Output = anyhow::Result<Tally>> + Send + 'static,
    {
        let budget = Budget::new(self.duration, items);
        let watch = self.server.watch_rss();
        let cpu_before = self.server.cpu_time()?;
        let profile = server::Profile::start_if_asked(&self.server, name)?;
        let (tally, elapsed) = load::run(self.server.addr, self.connections, |i, conn| {
            send(i, conn, budget.clone())
        })
        .await?;
        let peak_rss = watch.peak();
        let cpu = self.server.cpu_time()? - cpu_before;
        if let Some(profile) = profile {
            profile.stop()?;
        }
        self.served += tally.requests();
        let phase = Phase::new(name, tally, elapsed, peak_rss, cpu);
        eprintln!("{}", phase.line());
        Ok(phase)
    }
}

fn json(value: serde_json::Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// Sends `calls[i]` for each item the budget hands out, expecting `expected`.
async fn each(
    mut conn: load::Conn,
    budget: Budget,
    calls: Arc<Vec<Call>>,
    expected: u16,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new();
    while let Some(i) = budget.take() {
        let call = &calls[i % calls.len()];
        let answer = conn.send(call).await?;
        tally.record(&answer, expected, &call.path);
    }
    Ok(tally)
}

fn challenge_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value["challengeId"].as_str()?.to_owned())
}

fn create_call(service: &Arc<str>, user: &str) -> Call {
    Call::post(
        "/internal/v1/mfa/challenges".into(),
        service.clone(),
        json(serde_json::json!({
            "subjectUserId": user,
            "stepUpRequestContext": {"operation": "payments.transfer", "attributes": {"amount": "120.00"}},
        })),
    )
}

fn initiate_call(id: &str, user: &User) -> Call {
    Call::post(
        format!("/internal/v1/mfa/totp-sms/{id}:initiate"),
        user.bearer.clone(),
        Bytes::new(),
    )
}

fn verify_call(id: &str, user: &User, otp: &str) -> Call {
    Call::post(
        format!("/internal/v1/mfa/totp-sms/{id}:verify"),
        user.bearer.clone(),
        json(serde_json::json!({ "otp": otp })),
    )
}

/// A code that is not `code`.
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// Creates one challenge per user, in parallel; the ids, in the users' order.
async fn create_all(
    bench: &mut Bench,
    name: &str,
    users: &Arc<Vec<User>>,
) -> anyhow::Result<(Phase, Vec<Option<String>>)> {
    let ids: Arc<Vec<OnceLock<String>>> = Arc::new(users.iter().map(|_| OnceLock::new()).collect());
    let calls: Arc<Vec<Call>> = Arc::new(
        users
            .iter()
            .map(|u| create_call(&bench.service, &u.id))
            .collect(),
    );
    let sink = ids.clone();
    let phase = bench
        .phase(name, users.len(), move |_, mut conn, budget| {
            let calls = calls.clone();
            let ids = sink.clone();
            async move {
                let mut tally = Tally::new();
                while let Some(i) = budget.take() {
                    let answer = conn.send(&calls[i]).await?;
                    if tally.record(&answer, 201, "create")
                        && let Some(id) = challenge_id(&answer.body)
                    {
                        let _ = ids[i].set(id);
                    }
                }
                Ok(tally)
            }
        })
        .await?;
    let ids = ids.iter().map(|id| id.get().cloned()).collect();
    Ok((phase, ids))
}

async fn run_engine(
    options: &Options,
    engine: &str,
    dir: &std::path::Path,
    database_url: &str,
) -> anyhow::Result<Run> {
    let (twilio_url, inbox) = fake_twilio::start().await?;
    let server = Arc::new(Server::start(
        &options.server,
        dir,
        database_url,
        &twilio_url,
    )?);
    let mut bench = Bench {
        server: server.clone(),
        service: bearer(
            "bench-service",
            "mfa:challenges:write mfa:challenges:read mfa:users:write",
        ),
        connections: options.connections,
        duration: Duration::from_secs(options.secs),
        served: 0,
    };
    let fresh = Arc::new(users("b", 0, options.challenges));
    let wrong_set = Arc::new(users("w", 1, 2_000));
    let flow_users = Arc::new(users("f", 2, options.connections));

    // Set-up, not reported: every user gets a phone; the wrong-code challenges get a code.
    let puts: Vec<Call> = fresh
        .iter()
        .chain(wrong_set.iter())
        .chain(flow_users.iter())
        .map(|u| Call {
            method: hyper::Method::PUT,
            path: format!("/internal/v1/mfa/users/{}", u.id),
            bearer: Some(bench.service.clone()),
            body: json(serde_json::json!({ "phoneNumber": u.phone })),
        })
        .collect();
    let puts = Arc::new(puts);
    let long = Duration::from_secs(3600);
    let secs = std::mem::replace(&mut bench.duration, long);
    let setup = bench
        .phase("set-up: PUT users", puts.len(), |_, conn, budget| {
            each(conn, budget, puts.clone(), 201)
        })
        .await?;
    setup.require_clean()?;
    let (setup, wrong_ids) = create_all(&mut bench, "set-up: create", &wrong_set).await?;
    setup.require_clean()?;
    let initiates: Vec<Call> = wrong_ids
        .iter()
        .zip(wrong_set.iter())
        .map(|(id, u)| initiate_call(id.as_deref().unwrap(), u))
        .collect();
    let initiates = Arc::new(initiates);
    bench
        .phase("set-up: initiate", initiates.len(), |_, conn, budget| {
            each(conn, budget, initiates.clone(), 200)
        })
        .await?
        .require_clean()?;
    bench.duration = secs;

    let mut phases = Vec::new();
    let health = Arc::new(vec![Call::get("/health/live".into(), None)]);
    phases.push(
        bench
            .phase(
                "GET /health/live (ceiling)",
                usize::MAX,
                |_, conn, budget| each(conn, budget, health.clone(), 200),
            )
            .await?,
    );
    let ceiling_by_wrk = external::wrk_ceiling(server.addr, options.connections, options.secs);

    let (phase, ids) = create_all(&mut bench, "POST challenges", &fresh).await?;
    phases.push(phase);
    let created: Vec<(usize, String)> = ids
        .into_iter()
        .enumerate()
        .filter_map(|(i, id)| Some((i, id?)))
        .collect();
    if created.is_empty() {
        bail!("no challenge was created");
    }

    let reads: Arc<Vec<Call>> = Arc::new(
        created
            .iter()
            .map(|(_, id)| {
                Call::get(
                    format!("/internal/v1/mfa/challenges/{id}"),
                    Some(bench.service.clone()),
                )
            })
            .collect(),
    );
    phases.push(
        bench
            .phase("GET challenge", usize::MAX, |_, conn, budget| {
                each(conn, budget, reads.clone(), 200)
            })
            .await?,
    );

    let sends: Arc<Vec<Call>> = Arc::new(
        created
            .iter()
            .map(|(i, id)| initiate_call(id, &fresh[*i]))
            .collect(),
    );
    let sent_before = inbox.sent();
    phases.push(
        bench
            .phase(
                ":initiate (fresh challenge)",
                sends.len(),
                |_, conn, budget| each(conn, budget, sends.clone(), 200),
            )
            .await?,
    );
    let sent = (inbox.sent() - sent_before) as usize;

    // The first `sent` challenges were initiated (the budget hands items out in order).
    let verifies: Arc<Vec<Call>> = Arc::new(
        created[..sent]
            .iter()
            .filter_map(|(i, id)| {
                let user = &fresh[*i];
                Some(verify_call(id, user, &inbox.code_for(&user.phone)?))
            })
            .collect(),
    );
    phases.push(
        bench
            .phase(
                ":verify right code (fresh challenge)",
                verifies.len(),
                |_, conn, budget| each(conn, budget, verifies.clone(), 200),
            )
            .await?,
    );

    let wrongs: Arc<Vec<Call>> = Arc::new(
        wrong_ids
            .iter()
            .zip(wrong_set.iter())
            .map(|(id, u)| {
                let code = inbox.code_for(&u.phone).expect("the set-up sent a code");
                verify_call(id.as_deref().unwrap(), u, &wrong(&code))
            })
            .collect(),
    );
    // 99 wrong codes each: the 100th would lock the challenge.
    phases.push(
        bench
            .phase(
                ":verify wrong code",
                wrongs.len() * 99,
                |_, conn, budget| each(conn, budget, wrongs.clone(), 400),
            )
            .await?,
    );

    let service = bench.service.clone();
    let flow_inbox = inbox.clone();
    let flow = bench
        .phase(
            "whole flow (3 requests)",
            usize::MAX,
            move |c, mut conn, budget| {
                let users = flow_users.clone();
                let service = service.clone();
                let inbox = flow_inbox.clone();
                async move {
                    let user = &users[c];
                    let create = create_call(&service, &user.id);
                    let mut tally = Tally::new();
                    while budget.take().is_some() {
                        let started = std::time::Instant::now();
                        let answer = conn.send(&create).await?;
                        let Some(id) = challenge_id(&answer.body) else {
                            tally.record(&answer, 201, "flow create");
                            continue;
                        };
                        let answer = conn.send(&initiate_call(&id, user)).await?;
                        if answer.status != 200 {
                            tally.record(&answer, 200, "flow initiate");
                            continue;
                        }
                        let code = inbox.code_for(&user.phone).unwrap_or_default();
                        let mut answer = conn.send(&verify_call(&id, user, &code)).await?;
                        answer.latency = started.elapsed();
                        tally.record(&answer, 200, "flow verify");
                    }
                    Ok(tally)
                }
            },
        )
        .await?;
    let mut flow = flow;
    flow.per_item = 3;
    bench.served += 2 * flow.ok();
    phases.push(flow);

    let remaining = options.total_requests.saturating_sub(bench.served);
    let soak = if remaining > 0 {
        bench.duration = long;
        let phase = bench
            .phase(
                "GET challenge (to the total)",
                remaining as usize,
                |_, conn, budget| each(conn, budget, reads.clone(), 200),
            )
            .await?;
        Some(phase)
    } else {
        None
    };
    let (rss, hwm) = server.memory()?;
    let errors_logged = std::fs::read_to_string(&server.log)?
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#))
        .count();
    Ok(Run {
        engine: engine.to_owned(),
        phases,
        soak,
        served: bench.served,
        rss_after: rss,
        peak_rss: hwm,
        sms_sent: inbox.sent(),
        sms_refused: inbox.refused(),
        errors_logged,
        ceiling_by_wrk,
    })
}
