//! SQLite through rusqlite, without a hand-off per statement.
//!
//! - **Changes** go to the one thread that owns the write connection ([`writer`]), whole:
//!   one hand-off there and one back per change, however many statements it takes, with
//!   concurrent changes committed together (group commit).
//! - **Reads** run on the caller's own thread, on a connection taken from a small pool: a
//!   point read by key costs microseconds, less than any hand-off. In WAL mode a reader never
//!   waits for the writer.
//!
//! The writes are the statements the sea-orm builders of the other modules make, run
//! through [`execute`]; the reads of the hot paths are plain SQL with their columns named.

mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mfa_totp_application::{
    ChallengeChange, Change, Contact, DeliveryReport, DeliveryUpdate, StoreError,
};
use mfa_totp_domain::{
    AuditEvent, Challenge, ChallengeId, LimitReached, SmsSend, StepUpContext, Timestamp, UserId,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use sea_orm::{DatabaseBackend, QueryTrait};
use sea_query_rusqlite::{RusqliteValue, RusqliteValues};

use crate::entities::{audit_event, challenge, sms_send, step_up_context, user};
use crate::{challenges, connect, from_millis, limits, millis};
use writer::{Outcome, Writer};

/// How long a statement waits for a lock another process holds before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

/// The SQLite engine of a store: its writer thread and its readers.
pub(crate) struct Sqlite {
    writer: Writer,
    readers: Readers,
}

impl Sqlite {
    /// Opens the file at `path` (already created and in WAL mode), with `readers` idle
    /// read connections kept at most.
    pub(crate) fn open(path: &Path, readers: usize) -> Result<Self, StoreError> {
        let conn = open_connection(path, connect::SQLITE_PAGE_CACHE_KIB * 4)?;
        let writer = Writer::start(conn)
            .map_err(|e| StoreError::Unexpected(anyhow::anyhow!("the SQLite writer: {e}")))?;
        Ok(Self {
            writer,
            readers: Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                keep: readers.max(1),
            },
        })
    }

    pub(crate) fn close(&self) {
        self.writer.close();
    }

    /// Writes `change`: its charges, the challenge (inserted, or over its guard), its
    /// context, refunds and events, in its own savepoint.
    pub(crate) async fn apply(&self, change: &ChallengeChange) -> Result<Change, StoreError> {
        let change = change.clone();
        self.writer
            .write(move |conn| {
                let outcome = write_change(conn, &change)?;
                Ok(match outcome {
                    Change::Applied => Outcome::Keep(outcome),
                    Change::Stale | Change::Limited(_) => Outcome::Discard(outcome),
                })
            })
            .await
    }

    /// Records a send and its audit event together.
    pub(crate) async fn log_send(
        &self,
        send: &SmsSend,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let send = crate::sends::insert_statement(send);
        let events = crate::audit::insert_statement(std::slice::from_ref(event));
        self.writer
            .write(move |conn| {
                execute(conn, &send)?;
                if let Some(events) = &events {
                    execute(conn, events)?;
                }
                Ok(Outcome::Keep(()))
            })
            .await
    }

    /// Counts `event` on the challenge's newest event when it repeats it, or inserts it.
    pub(crate) async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.writer
            .write(move |conn| {
                let newest = match event.challenge_id {
                    Some(id) => conn
                        .prepare_cached(&format!(
                            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE challenge_id = ?1 \
                             ORDER BY id DESC LIMIT 1"
                        ))?
                        .query_row([id.to_string()], audit_row)
                        .optional()?,
                    None => None,
                };
                let repeated = newest
                    .map(|row| {
                        let id = row.id;
                        crate::audit::to_domain(row)
                            .map(|newest| event.repeats(&newest).then_some(id))
                    })
                    .transpose()
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?
                    .flatten();
                match repeated {
                    Some(id) => {
                        execute(conn, &crate::audit::repeat_statement(id, &event))?;
                    }
                    None => {
                        if let Some(insert) =
                            crate::audit::insert_statement(std::slice::from_ref(&event))
                        {
                            execute(conn, &insert)?;
                        }
                    }
                }
                Ok(Outcome::Keep(()))
            })
            .await
    }

    /// Adds a user, or replaces their phone and locale; whether the user is new.
    pub(crate) async fn put_contact(
        &self,
        user_id: &UserId,
        contact: &Contact,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let insert = crate::users::insert_statement(user_id, contact, now);
        let update = crate::users::update_statement(user_id, contact, now);
        self.writer
            .write(move |conn| {
                if execute(conn, &insert)? == 1 {
                    return Ok(Outcome::Keep(true));
                }
                execute(conn, &update)?;
                Ok(Outcome::Keep(false))
            })
            .await
    }

    /// Applies a delivery report to the send the provider knows by its message id.
    pub(crate) async fn update_delivery(
        &self,
        report: &DeliveryReport,
        at: Timestamp,
    ) -> Result<Option<DeliveryUpdate>, StoreError> {
        let report = report.clone();
        let found = self
            .writer
            .write(move |conn| {
                let send = conn
                    .prepare_cached(
                        "SELECT id, challenge_id FROM sms_sends \
                         WHERE provider = ?1 AND message_id = ?2",
                    )?
                    .query_row([&report.provider, &report.message_id], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                    })
                    .optional()?;
                let Some((send_id, challenge_id)) = send else {
                    return Ok(Outcome::Discard(None));
                };
                let changed = execute(
                    conn,
                    &crate::sends::delivery_statement(&send_id, &report, at),
                )?;
                Ok(Outcome::Keep(Some((send_id, challenge_id, changed > 0))))
            })
            .await?;
        found
            .map(|(send_id, challenge_id, applied)| {
                Ok(DeliveryUpdate {
                    challenge_id: crate::sends::send_challenge(&send_id, &challenge_id)?,
                    applied,
                })
            })
            .transpose()
    }

    /// Runs one statement on the writer; the rows it changed.
    pub(crate) async fn execute(&self, statement: sea_orm::Statement) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| Ok(Outcome::Keep(run(conn, &statement)? as u64)))
            .await
    }

    pub(crate) fn find(&self, id: ChallengeId) -> Result<Option<Challenge>, StoreError> {
        Ok(self.find_with_context(id)?.map(|(challenge, _)| challenge))
    }

    /// The challenge and its context, in one statement.
    pub(crate) fn find_with_context(
        &self,
        id: ChallengeId,
    ) -> Result<Option<(Challenge, Option<StepUpContext>)>, StoreError> {
        let rows = self.readers.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CHALLENGE_COLUMNS}, {CONTEXT_COLUMNS} FROM challenges c \
                 LEFT JOIN step_up_contexts x ON x.challenge_id = c.id WHERE c.id = ?1"
            ))?
            .query_row([id.to_string()], |row| {
                Ok((challenge_row(row)?, context_row(row, CHALLENGE_FIELDS)?))
            })
            .optional()
        })?;
        let Some((challenge, context)) = rows else {
            return Ok(None);
        };
        let context = context
            .map(|row| crate::contexts::to_domain(id, row))
            .transpose()?;
        Ok(Some((challenges::to_domain(challenge)?, context)))
    }

    /// The challenge's latest send.
    pub(crate) fn last_send(&self, id: ChallengeId) -> Result<Option<SmsSend>, StoreError> {
        self.readers
            .read(|conn| {
                conn.prepare_cached(
                    "SELECT id, challenge_id, outcome, provider, message_id, chain_position, \
                     attempts, latency_ms, segments, delivery_status, sent_at, updated_at, \
                     error_code FROM sms_sends WHERE challenge_id = ?1 \
                     ORDER BY sent_at DESC, id DESC LIMIT 1",
                )?
                .query_row([id.to_string()], |row| {
                    Ok(sms_send::Model {
                        id: row.get(0)?,
                        challenge_id: row.get(1)?,
                        outcome: row.get(2)?,
                        provider: row.get(3)?,
                        message_id: row.get(4)?,
                        chain_position: row.get(5)?,
                        attempts: row.get(6)?,
                        latency_ms: row.get(7)?,
                        segments: row.get(8)?,
                        delivery_status: row.get(9)?,
                        sent_at: row.get(10)?,
                        updated_at: row.get(11)?,
                        error_code: row.get(12)?,
                    })
                })
                .optional()
            })?
            .map(crate::sends::to_domain)
            .transpose()
    }

    /// A user's row in the directory.
    pub(crate) fn user(&self, user_id: &str) -> Result<Option<user::Model>, StoreError> {
        self.readers.read(|conn| {
            conn.prepare_cached(
                "SELECT user_id, phone_number, locale, created_at, updated_at FROM users \
                 WHERE user_id = ?1",
            )?
            .query_row([user_id], |row| {
                Ok(user::Model {
                    user_id: row.get(0)?,
                    phone_number: row.get(1)?,
                    locale: row.get(2)?,
                    created_at: row.get(3)?,
                    updated_at: row.get(4)?,
                })
            })
            .optional()
        })
    }
}

/// Writes `change` statement by statement on `conn` (inside the writer's savepoint).
fn write_change(conn: &Connection, change: &ChallengeChange) -> rusqlite::Result<Change> {
    let mut refused = Vec::new();
    for charge in &change.charges {
        if execute(conn, &limits::charge_statement(charge))? == 1 {
            continue;
        }
        let window_start: i64 = conn
            .prepare_cached(
                "SELECT window_start FROM rate_limits WHERE kind = ?1 AND limit_key = ?2",
            )?
            .query_row([charge.kind.as_str(), charge.key.as_str()], |row| {
                row.get(0)
            })?;
        let window_start = from_millis(window_start)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        refused.push(LimitReached {
            kind: charge.kind,
            retry_at: charge.window_end(window_start),
        });
    }
    if let Some(reached) = LimitReached::last_to_end(refused) {
        return Ok(Change::Limited(reached));
    }
    let c = &change.challenge;
    match change.guard {
        None => {
            execute(conn, &challenges::insert_challenge(c))?;
            if let Some(context) = &change.context {
                execute(
                    conn,
                    &challenges::insert_context(context, millis(c.created_at())),
                )?;
            }
        }
        Some(guard) => {
            if execute(conn, &challenges::update_challenge(c, guard))? != 1 {
                return Ok(Change::Stale);
            }
            if let Some(context) = &change.context {
                execute(conn, &challenges::update_context(context))?;
            }
        }
    }
    for refund in change.refunds.iter().filter(|c| c.amount > 0) {
        execute(conn, &limits::refund_statement(refund))?;
    }
    if let Some(events) = crate::audit::insert_statement(&change.events) {
        execute(conn, &events)?;
    }
    Ok(Change::Applied)
}

/// Runs a statement a sea-orm builder made; the rows it changed. Timed like every other
/// statement (`mfa_totp_db_query_duration_seconds`).
fn execute(conn: &Connection, query: &impl QueryTrait) -> rusqlite::Result<usize> {
    run(conn, &query.build(DatabaseBackend::Sqlite))
}

/// Runs a statement built for SQLite; the rows it changed.
fn run(conn: &Connection, statement: &sea_orm::Statement) -> rusqlite::Result<usize> {
    let values = RusqliteValues(
        statement
            .values
            .iter()
            .flat_map(|v| v.0.iter().cloned())
            .map(RusqliteValue)
            .collect(),
    );
    let started = Instant::now();
    let changed = conn
        .prepare_cached(&statement.sql)?
        .execute(&*values.as_params())?;
    connect::record_statement(&statement.sql, started.elapsed());
    Ok(changed)
}

const CHALLENGE_COLUMNS: &str = "c.id, c.subject_user_id, c.status, c.secret_sealed, \
    c.created_at, c.expires_at, c.code_step, c.code_issued_at, c.send_count, c.last_sent_at, \
    c.failed_attempts, c.verified_at, c.sent_to, c.client_id, c.version";
const CHALLENGE_FIELDS: usize = 15;
const CONTEXT_COLUMNS: &str = "x.challenge_id, x.operation, x.attributes, x.state, x.locale, \
    x.created_at, x.consumed_at";
const AUDIT_COLUMNS: &str = "id, challenge_id, kind, occurred_at, request_id, subject_user_id, \
    actor, masked_phone, outcome, limit_kind, provider, message_id, error_code, repeats, \
    last_occurred_at, subscriber, delivery_state, delivery_attempts, delivery_due_at";

fn challenge_row(row: &Row) -> rusqlite::Result<challenge::Model> {
    Ok(challenge::Model {
        id: row.get(0)?,
        subject_user_id: row.get(1)?,
        status: row.get(2)?,
        secret_sealed: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        code_step: row.get(6)?,
        code_issued_at: row.get(7)?,
        send_count: row.get(8)?,
        last_sent_at: row.get(9)?,
        failed_attempts: row.get(10)?,
        verified_at: row.get(11)?,
        sent_to: row.get(12)?,
        client_id: row.get(13)?,
        version: row.get(14)?,
    })
}

/// The context's columns from `at` on, or `None` when the join found none.
fn context_row(row: &Row, at: usize) -> rusqlite::Result<Option<step_up_context::Model>> {
    let Some(challenge_id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(step_up_context::Model {
        challenge_id,
        operation: row.get(at + 1)?,
        attributes: row.get(at + 2)?,
        state: row.get(at + 3)?,
        locale: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
        consumed_at: row.get(at + 6)?,
    }))
}

fn audit_row(row: &Row) -> rusqlite::Result<audit_event::Model> {
    Ok(audit_event::Model {
        id: row.get(0)?,
        challenge_id: row.get(1)?,
        kind: row.get(2)?,
        occurred_at: row.get(3)?,
        request_id: row.get(4)?,
        subject_user_id: row.get(5)?,
        actor: row.get(6)?,
        masked_phone: row.get(7)?,
        outcome: row.get(8)?,
        limit_kind: row.get(9)?,
        provider: row.get(10)?,
        message_id: row.get(11)?,
        error_code: row.get(12)?,
        repeats: row.get(13)?,
        last_occurred_at: row.get(14)?,
        subscriber: row.get(15)?,
        delivery_state: row.get(16)?,
        delivery_attempts: row.get(17)?,
        delivery_due_at: row.get(18)?,
    })
}

/// Read connections, used on the caller's thread.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The most idle connections kept.
    keep: usize,
}

impl Readers {
    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path, connect::SQLITE_PAGE_CACHE_KIB)?,
        };
        let started = Instant::now();
        let result = work(&conn).map_err(|e| Failure::of(&e).into_store_error());
        connect::record_statement("select", started.elapsed());
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
        result
    }
}

fn open_connection(path: &Path, cache_kib: u32) -> Result<Connection, StoreError> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{cache_kib};"
        ))?;
        Ok(conn)
    };
    open().map_err(|e| Failure::of(&e).into_store_error())
}

/// A SQLite failure, kept as what the caller needs to hear (it is answered to every change
/// of a failed batch, so it is cloned).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    busy: bool,
    message: String,
}

impl Failure {
    fn of(error: &rusqlite::Error) -> Self {
        let busy = matches!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Self {
            busy,
            message: error.to_string(),
        }
    }

    fn panicked() -> Self {
        Self {
            busy: false,
            message: "the change panicked".into(),
        }
    }

    /// Busy or locked is `Unavailable` (retry later), as on the other engine; anything
    /// else `Unexpected`.
    fn into_store_error(self) -> StoreError {
        let error = anyhow::anyhow!("SQLite: {}", self.message);
        if self.busy {
            StoreError::Unavailable(error)
        } else {
            StoreError::Unexpected(error)
        }
    }
}
