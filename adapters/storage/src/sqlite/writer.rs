//! The one thread that owns SQLite's write connection. A change is handed to it whole, once
//! (one hand-off there, one back), and runs there with no further hand-off per statement.
//!
//! Group commit: the thread takes every change that is waiting (up to [`MAX_BATCH`]) into
//! one transaction, each in a savepoint of its own. A change that is refused (a stale
//! guard, a limit) or fails rolls back to its savepoint, and the others are kept; then one
//! `COMMIT` makes them all durable at once, and only then does each caller hear its answer.
//! A failed `COMMIT` rolls the whole batch back and answers every change of it with the
//! error, so no caller is told of a change that was not written.

use std::sync::RwLock;
use std::sync::mpsc;

use mfa_totp_application::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::Failure;

/// The most changes one transaction takes.
const MAX_BATCH: usize = 64;

/// What a change decided, inside its savepoint.
pub(crate) enum Outcome<T> {
    /// Keep what it wrote, and answer `T` once the batch commits.
    Keep(T),
    /// Roll back to its savepoint (it wrote nothing), and answer `T`.
    Discard(T),
}

/// A change waiting for the thread.
trait Job: Send {
    /// Runs the change in its savepoint; whether to keep what it wrote.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), Failure>);
}

struct Task<F, T> {
    work: Option<F>,
    outcome: Option<Result<Outcome<T>, Failure>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce(&Connection) -> rusqlite::Result<Outcome<T>> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A change that panics is answered as failed and rolled back; the thread, and every
        // other change, goes on.
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn))) {
            Ok(outcome) => outcome.map_err(|e| Failure::of(&e)),
            Err(_) => Err(Failure::panicked()),
        };
        let keep = matches!(outcome, Ok(Outcome::Keep(_)));
        self.outcome = Some(outcome);
        keep
    }

    fn finish(self: Box<Self>, committed: Result<(), Failure>) {
        let answer = match (self.outcome, committed) {
            (None, Err(failure)) | (Some(_), Err(failure)) | (Some(Err(failure)), Ok(())) => {
                Err(failure.into_store_error())
            }
            (Some(Ok(Outcome::Keep(value) | Outcome::Discard(value))), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "a change was never run"
            ))),
        };
        // The caller may have gone (a request cut off): its change stands or not regardless.
        let _ = self.reply.send(answer);
    }
}

/// The handle to the writer thread.
pub(crate) struct Writer {
    jobs: RwLock<Option<mpsc::Sender<Box<dyn Job>>>>,
}

impl Writer {
    /// Starts the thread on `conn`.
    pub(crate) fn start(conn: Connection) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&conn, &receiver))?;
        Ok(Self {
            jobs: RwLock::new(Some(sender)),
        })
    }

    /// Runs `work` on the write connection, in a savepoint of the next transaction.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<Outcome<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task: Box<dyn Job> = Box::new(Task {
            work: Some(work),
            outcome: None,
            reply,
        });
        let sent = match &*self.jobs.read().unwrap_or_else(|e| e.into_inner()) {
            Some(jobs) => jobs.send(task).is_ok(),
            None => false,
        };
        if !sent {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Lets the thread finish what it was given, and takes nothing more.
    pub(crate) fn close(&self) {
        self.jobs.write().unwrap_or_else(|e| e.into_inner()).take();
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the SQLite writer is closed"))
}

/// The thread: a batch at a time, until every handle is gone.
fn run(conn: &Connection, jobs: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(conn, &mut batch);
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// One transaction for `batch`, a savepoint for each change.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), Failure> {
    let control = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(|e| Failure::of(&e))
    };
    control("BEGIN IMMEDIATE")?;
    let ran = batch.iter_mut().try_for_each(|job| {
        control("SAVEPOINT change")?;
        if !job.run(conn) {
            control("ROLLBACK TO change")?;
        }
        control("RELEASE change")
    });
    match ran.and_then(|()| control("COMMIT")) {
        Ok(()) => Ok(()),
        Err(failure) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
             CREATE TABLE t (k INTEGER PRIMARY KEY); CREATE TABLE p (k INTEGER PRIMARY KEY); \
             CREATE TABLE c (p INTEGER REFERENCES p (k) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (dir, Writer::start(conn).unwrap())
    }

    fn count(conn: &Connection) -> rusqlite::Result<i64> {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_keep_or_discard_each_their_own_writes() {
        let (_dir, writer) = writer();
        let writer = std::sync::Arc::new(writer);
        let tasks: Vec<_> = (0..200)
            .map(|k: i64| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |conn| {
                            conn.execute("INSERT INTO t (k) VALUES (?1)", [k])?;
                            Ok(if k % 2 == 0 {
                                Outcome::Keep(k)
                            } else {
                                Outcome::Discard(-k)
                            })
                        })
                        .await
                })
            })
            .collect();
        for (k, task) in tasks.into_iter().enumerate() {
            let k = k as i64;
            let expected = if k % 2 == 0 { k } else { -k };
            assert_eq!(task.await.unwrap().unwrap(), expected);
        }
        let kept = writer
            .write(|conn| Ok(Outcome::Discard(count(conn)?)))
            .await
            .unwrap();
        assert_eq!(kept, 100, "the discarded halves wrote nothing");
    }

    #[tokio::test]
    async fn a_change_whose_commit_fails_is_answered_with_the_error_and_not_written() {
        let (_dir, writer) = writer();
        // The orphan passes its statement and its savepoint; the deferred key check fails
        // the COMMIT.
        let inserted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = inserted.clone();
        let orphan = writer
            .write(move |conn| {
                conn.execute("INSERT INTO c (p) VALUES (9)", [])?;
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Outcome::Keep(()))
            })
            .await;
        assert!(inserted.load(std::sync::atomic::Ordering::SeqCst));
        assert!(
            matches!(orphan, Err(StoreError::Unexpected(_))),
            "{orphan:?}"
        );
        let left = writer
            .write(|conn| {
                let n: i64 = conn.query_row("SELECT COUNT(*) FROM c", [], |r| r.get(0))?;
                Ok(Outcome::Discard(n))
            })
            .await
            .unwrap();
        assert_eq!(left, 0, "rolled back, and the writer goes on");
    }

    #[tokio::test]
    async fn a_change_that_panics_fails_alone_and_the_writer_goes_on() {
        let (_dir, writer) = writer();
        let panicked = writer
            .write(|conn| -> rusqlite::Result<Outcome<()>> {
                conn.execute("INSERT INTO t (k) VALUES (7)", [])?;
                panic!("a bug in a change")
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Unexpected(_))));
        let n = writer
            .write(|conn| Ok(Outcome::Discard(count(conn)?)))
            .await
            .unwrap();
        assert_eq!(n, 0, "what the panicking change wrote was rolled back");
    }

    #[tokio::test]
    async fn a_failing_change_is_answered_with_its_error_and_others_are_kept() {
        let (_dir, writer) = writer();
        writer
            .write(|conn| {
                Ok(Outcome::Keep(
                    conn.execute("INSERT INTO t (k) VALUES (1)", [])?,
                ))
            })
            .await
            .unwrap();
        let duplicate = writer
            .write(|conn| {
                Ok(Outcome::Keep(
                    conn.execute("INSERT INTO t (k) VALUES (1)", [])?,
                ))
            })
            .await;
        assert!(matches!(duplicate, Err(StoreError::Unexpected(_))));
        let n = writer
            .write(|conn| Ok(Outcome::Discard(count(conn)?)))
            .await
            .unwrap();
        assert_eq!(n, 1);
        writer.close();
        assert!(matches!(
            writer.write(|_| Ok(Outcome::Discard(()))).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
