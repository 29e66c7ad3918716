//! What the limits across challenges cost per request, on each engine: the same changes with
//! and without their charges, in one run, printed as time per change and as a ratio (only
//! ratios within one run compare: these machines are shared).
//!
//! A "create" is the change that inserts a challenge with its audit event (+
//! `user_challenges`); a "send" is `after_send`'s change (+ `user_sms`, `phone_sms`,
//! `global_sms`); a "wrong code" is `after_failed_attempt`'s with its audit event (+
//! `user_wrong_codes`). Each runs
//! sequentially, then from 16 tasks at once (every send's `global_sms` charge takes the same
//! row, so this shows the queue on it). Limits are set high enough never to refuse.
//!
//! `cargo bench -p mfa-totp-storage --bench limits`; with `MFA_TOTP_TEST_POSTGRES_URL` set,
//! PostgreSQL too. `BENCH_ROUNDS` changes the rounds per figure (default 400).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa_totp_application::{ChallengeChange, ChallengeRepository, Change};
use mfa_totp_domain::{
    Actor, AuditEvent, AuditKind, Challenge, ChallengeId, ChallengePolicy, ClientId, Limit,
    LimitCharge, LimitKey, LimitKind, Limits, Operation, PhoneNumber, SealedSecret, StepUpContext,
    Timestamp, TotpPolicy, UserId,
};
use mfa_totp_storage::testing::{Engine, TestDatabase};
use mfa_totp_storage::{PoolSettings, SqlStore, connect, migrate};

const TASKS: usize = 16;

fn generous() -> Limits {
    let mut limits = Limits::off();
    for kind in LimitKind::ALL {
        *limits.get_mut(kind) = Limit::new(u32::MAX / 2, 3600);
    }
    limits
}

struct Case {
    store: SqlStore,
    limits: Option<Limits>,
    now: Timestamp,
}

impl Case {
    fn user(n: usize) -> UserId {
        UserId::parse(&format!("user-{}", n % 64)).unwrap()
    }

    fn event(kind: AuditKind, id: ChallengeId, user: &UserId) -> AuditEvent {
        AuditEvent::new(
            kind,
            chrono::Utc::now(),
            &Actor::new("bench", "bench"),
            Some(id),
            user,
            mfa_totp_domain::AuditOutcome::Status(mfa_totp_domain::ChallengeStatus::Pending),
        )
    }

    fn charges(&self, kind: LimitKind, key: LimitKey) -> Vec<LimitCharge> {
        self.limits
            .iter()
            .filter_map(|l| l.charge(kind, key.clone(), 1, self.now))
            .collect()
    }

    async fn create(&self, n: usize) -> Challenge {
        let user = Self::user(n);
        let challenge = Challenge::new(
            ChallengeId::generate(),
            user.clone(),
            ClientId::parse("bench").unwrap(),
            SealedSecret::new("k1:bench".into()),
            self.now,
            &ChallengePolicy::default(),
        );
        let context = StepUpContext::new(
            challenge.id(),
            Operation::parse("payments.transfer").unwrap(),
            serde_json::Map::new(),
        );
        let charges = self.charges(LimitKind::UserChallenges, LimitKey::user(&user));
        let event = Self::event(AuditKind::ChallengeCreated, challenge.id(), &user);
        let change = self
            .store
            .apply(
                &ChallengeChange::insert(challenge.clone(), context)
                    .charging(charges)
                    .recording(vec![event]),
            )
            .await
            .unwrap();
        assert_eq!(change, Change::Applied);
        challenge
    }

    async fn send(&self, challenge: &Challenge, n: usize) -> Challenge {
        let plan = challenge
            .plan_send(
                self.now,
                &ChallengePolicy::default(),
                &TotpPolicy::default(),
            )
            .unwrap();
        let phone = PhoneNumber::parse(&format!("+4474001230{:02}", n % 64)).unwrap();
        let charges = match &self.limits {
            Some(limits) => limits.sms_charges(challenge.subject(), &phone, self.now),
            None => Vec::new(),
        };
        let sent = challenge.after_send(&plan);
        let change = self
            .store
            .apply(&ChallengeChange::update(challenge, sent.clone()).charging(charges))
            .await
            .unwrap();
        assert_eq!(change, Change::Applied);
        sent
    }

    async fn wrong_code(&self, challenge: &Challenge) {
        let user = challenge.subject();
        let charges = self.charges(LimitKind::UserWrongCodes, LimitKey::user(user));
        let events = vec![Self::event(AuditKind::VerifyFailed, challenge.id(), user)];
        let after = challenge.after_failed_attempt(&ChallengePolicy::default());
        let change = self
            .store
            .apply(
                &ChallengeChange::update(challenge, after)
                    .charging(charges)
                    .recording(events),
            )
            .await
            .unwrap();
        assert_eq!(change, Change::Applied);
    }

    /// One create, one send and one wrong code; the time of each.
    async fn round(&self, n: usize) -> [Duration; 3] {
        let started = Instant::now();
        let challenge = self.create(n).await;
        let created = started.elapsed();
        let started = Instant::now();
        let sent = self.send(&challenge, n).await;
        let sending = started.elapsed();
        let started = Instant::now();
        self.wrong_code(&sent).await;
        [created, sending, started.elapsed()]
    }
}

/// Mean time per change of each kind over `rounds`, from `tasks` tasks at once.
async fn measure(case: Arc<Case>, rounds: usize, tasks: usize) -> [f64; 3] {
    let per_task = rounds / tasks;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let case = case.clone();
            tokio::spawn(async move {
                let mut sums = [Duration::ZERO; 3];
                for i in 0..per_task {
                    let times = case.round(t * per_task + i).await;
                    for (sum, time) in sums.iter_mut().zip(times) {
                        *sum += time;
                    }
                }
                sums
            })
        })
        .collect();
    let mut sums = [Duration::ZERO; 3];
    for handle in handles {
        for (sum, time) in sums.iter_mut().zip(handle.await.unwrap()) {
            *sum += time;
        }
    }
    sums.map(|s| s.as_secs_f64() * 1e6 / (per_task * tasks) as f64)
}

async fn engine(engine: Engine, rounds: usize) {
    if engine == Engine::Postgres && !mfa_totp_storage::testing::postgres_configured() {
        println!("PostgreSQL: not measured (set MFA_TOTP_TEST_POSTGRES_URL)");
        return;
    }
    let database = TestDatabase::create(engine, "bench_limits").await;
    let db = connect(database.url(), &PoolSettings::default())
        .await
        .unwrap();
    migrate(&db).await.unwrap();
    let store = SqlStore::new(db);
    let now = chrono::Utc::now();
    let off = Arc::new(Case {
        store: store.clone(),
        limits: None,
        now,
    });
    let on = Arc::new(Case {
        store,
        limits: Some(generous()),
        now,
    });
    // Warm the pool and the caches.
    measure(off.clone(), 64, 1).await;
    measure(on.clone(), 64, 1).await;
    for tasks in [1, TASKS] {
        // Alternate, so that drift on a shared machine falls on both alike.
        let mut without = [0.0; 3];
        let mut with = [0.0; 3];
        for _ in 0..2 {
            let a = measure(off.clone(), rounds / 2, tasks).await;
            let b = measure(on.clone(), rounds / 2, tasks).await;
            for i in 0..3 {
                without[i] += a[i] / 2.0;
                with[i] += b[i] / 2.0;
            }
        }
        for (i, what) in ["create", "send", "wrong code"].iter().enumerate() {
            println!(
                "{:<8} {:>2} task(s)  {:<10}  without limits {:>8.1} µs  with limits {:>8.1} µs  ratio {:.2}",
                format!("{engine:?}"),
                tasks,
                what,
                without[i],
                with[i],
                with[i] / without[i],
            );
        }
    }
}

fn main() {
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400usize)
        .max(2 * TASKS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("limits across challenges: time per change, mean of {rounds} rounds");
        engine(Engine::Sqlite, rounds).await;
        engine(Engine::Postgres, rounds).await;
    });
}
