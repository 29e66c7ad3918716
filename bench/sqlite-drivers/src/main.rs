//! Spike: what one change (BEGIN, an upsert, a guarded UPDATE, an INSERT, COMMIT) costs on
//! SQLite through (a) sea-orm on sqlx, (b) sea-query built, run by rusqlite through
//! sea-query-rusqlite, (c) sea-orm-sync on rusqlite. Each from 64 tasks at once; (b) and (c)
//! run on one writer thread, one hand-off per change. Prints wall µs and process CPU µs per
//! change.
use std::sync::mpsc;
use std::time::{Duration, Instant};

const N: usize = 20_000;
const TASKS: usize = 64;

fn cpu() -> Duration {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t =
        |v: libc::timeval| Duration::from_micros(v.tv_sec as u64 * 1_000_000 + v.tv_usec as u64);
    t(u.ru_utime) + t(u.ru_stime)
}

const SCHEMA: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
CREATE TABLE r (kind TEXT NOT NULL, k TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (kind, k));
CREATE TABLE c (id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE e (id INTEGER PRIMARY KEY AUTOINCREMENT, c TEXT NOT NULL, kind TEXT NOT NULL);";

use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SqliteQueryBuilder};

fn statements(i: usize) -> [(String, sea_query::Values); 3] {
    let id = format!("c{}", i % 1000);
    let upsert = Query::insert()
        .into_table(Alias::new("r"))
        .columns([Alias::new("kind"), Alias::new("k"), Alias::new("used")])
        .values_panic(["user_sms".into(), format!("u{}", i % 100).into(), 1.into()])
        .on_conflict(
            OnConflict::columns([Alias::new("kind"), Alias::new("k")])
                .value(
                    Alias::new("used"),
                    Expr::col((Alias::new("r"), Alias::new("used"))).add(1),
                )
                .action_and_where(
                    Expr::col((Alias::new("r"), Alias::new("used"))).lt(1_000_000_000),
                )
                .to_owned(),
        )
        .to_owned()
        .build(SqliteQueryBuilder);
    let update = Query::update()
        .table(Alias::new("c"))
        .value(
            Alias::new("version"),
            Expr::col(Alias::new("version")).add(1),
        )
        .value(Alias::new("status"), "CODE_SENT")
        .and_where(Expr::col(Alias::new("id")).eq(id.clone()))
        .to_owned()
        .build(SqliteQueryBuilder);
    let insert = Query::insert()
        .into_table(Alias::new("e"))
        .columns([Alias::new("c"), Alias::new("kind")])
        .values_panic([id.into(), "VERIFY_FAILED".into()])
        .to_owned()
        .build(SqliteQueryBuilder);
    [upsert, update, insert]
}

fn seed(path: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    for i in 0..1000 {
        conn.execute("INSERT INTO c VALUES (?1, 0, 'PENDING')", [format!("c{i}")])
            .unwrap();
    }
}

fn report(name: &str, wall: Duration, cpu: Duration) {
    println!(
        "{name:<44} {:>7.1} µs wall/change  {:>7.1} µs CPU/change",
        wall.as_secs_f64() * 1e6 / N as f64,
        cpu.as_secs_f64() * 1e6 / N as f64
    );
}

type Job = Box<dyn FnOnce() + Send>;

async fn drive(send: impl Fn(usize) -> tokio::sync::oneshot::Receiver<()> + Send + Sync + 'static) {
    let send = std::sync::Arc::new(send);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let send = send.clone();
            tokio::spawn(async move {
                for i in (t..N).step_by(TASKS) {
                    send(i).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("spike-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // (a) sea-orm on sqlx: one pooled connection, as the writer pool was.
    {
        use sea_orm::{
            ConnectOptions, ConnectionTrait, Database, DatabaseBackend, Statement, TransactionTrait,
        };
        let path = dir.join("a.db");
        seed(path.to_str().unwrap());
        let mut o = ConnectOptions::new(format!("sqlite://{}", path.display()));
        o.max_connections(1).sqlx_logging(false);
        let db = Database::connect(o).await.unwrap();
        let (t0, c0) = (Instant::now(), cpu());
        let db = std::sync::Arc::new(db);
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let db = db.clone();
                tokio::spawn(async move {
                    for i in (t..N).step_by(TASKS) {
                        let txn = db.begin().await.unwrap();
                        for (sql, values) in statements(i) {
                            txn.execute_raw(Statement::from_sql_and_values(
                                DatabaseBackend::Sqlite,
                                sql,
                                values,
                            ))
                            .await
                            .unwrap();
                        }
                        txn.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        report(
            "(a) sea-orm on sqlx-sqlite (async)",
            t0.elapsed(),
            cpu() - c0,
        );
    }

    // (b) sea-query built, rusqlite via sea-query-rusqlite, on one writer thread.
    {
        use sea_query_rusqlite::{RusqliteValue, RusqliteValues};
        let path = dir.join("b.db");
        seed(path.to_str().unwrap());
        let (tx, rx) = mpsc::channel::<Job>();
        let conn = std::sync::Arc::new(std::sync::Mutex::new(
            rusqlite::Connection::open(&path).unwrap(),
        ));
        std::thread::spawn(move || {
            while let Ok(job) = rx.recv() {
                job();
            }
        });
        let tx = std::sync::Mutex::new(tx);
        let (t0, c0) = (Instant::now(), cpu());
        drive(move |i| {
            let (done, wait) = tokio::sync::oneshot::channel();
            let conn = conn.clone();
            tx.lock()
                .unwrap()
                .send(Box::new(move || {
                    let conn = conn.lock().unwrap();
                    conn.prepare_cached("BEGIN").unwrap().execute([]).unwrap();
                    for (sql, values) in statements(i) {
                        let values =
                            RusqliteValues(values.into_iter().map(RusqliteValue).collect());
                        conn.prepare_cached(&sql)
                            .unwrap()
                            .execute(&*values.as_params())
                            .unwrap();
                    }
                    conn.prepare_cached("COMMIT").unwrap().execute([]).unwrap();
                    let _ = done.send(());
                }))
                .unwrap();
            wait
        })
        .await;
        report(
            "(b) rusqlite + sea-query-rusqlite (thread)",
            t0.elapsed(),
            cpu() - c0,
        );
    }

    // (c) sea-orm-sync on rusqlite, on one writer thread (its connection is not Send: the
    // thread opens it).
    {
        use sea_orm_sync::{
            ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
            TransactionTrait,
        };
        type SyncJob = Box<dyn FnOnce(&DatabaseConnection) + Send>;
        let path = dir.join("c.db");
        seed(path.to_str().unwrap());
        let (tx, rx) = mpsc::channel::<SyncJob>();
        let url = format!("sqlite://{}", path.display());
        std::thread::spawn(move || {
            let db = Database::connect(url).unwrap();
            while let Ok(job) = rx.recv() {
                job(&db);
            }
        });
        let tx = std::sync::Mutex::new(tx);
        let (t0, c0) = (Instant::now(), cpu());
        drive(move |i| {
            let (done, wait) = tokio::sync::oneshot::channel();
            tx.lock()
                .unwrap()
                .send(Box::new(move |db: &DatabaseConnection| {
                    let txn = db.begin().unwrap();
                    for (sql, values) in statements(i) {
                        txn.execute_raw(Statement::from_sql_and_values(
                            DatabaseBackend::Sqlite,
                            sql,
                            values,
                        ))
                        .unwrap();
                    }
                    txn.commit().unwrap();
                    let _ = done.send(());
                }))
                .unwrap();
            wait
        })
        .await;
        report(
            "(c) sea-orm-sync on rusqlite (thread)",
            t0.elapsed(),
            cpu() - c0,
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
