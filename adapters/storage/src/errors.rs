//! Database errors become `StoreError`s here: "cannot reach the database" is `Unavailable`
//! (the API answers 503 with `Retry-After`), everything else `Unexpected`.

use mfa_totp_application::StoreError;
use sea_orm::{DbErr, RuntimeErr};

pub(crate) fn store_error(error: DbErr) -> StoreError {
    let unavailable = match &error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            use sea_orm::sqlx::Error as E;
            match e.as_ref() {
                E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::Tls(_) | E::WorkerCrashed => true,
                // SQLite's "database is locked" after the busy timeout: retry later.
                E::Database(db) => db.code().is_some_and(|code| code == "5" || code == "6"),
                _ => false,
            }
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(error.into())
    } else {
        StoreError::Unexpected(error.into())
    }
}
