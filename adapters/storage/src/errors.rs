//! Database errors become `StoreError`s here: "cannot reach the database" is `Unavailable`
//! (the API answers 503 with `Retry-After`), everything else `Unexpected`. Each engine says
//! "unreachable" in its own codes: SQLite's busy/locked, PostgreSQL's connection-exception
//! class and the states of a server that is shutting down, starting, full or without the
//! database.

use mfa_totp_application::StoreError;
use sea_orm::{DbErr, RuntimeErr};

pub(crate) fn store_error(error: DbErr) -> StoreError {
    let unavailable = match &error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            use sea_orm::sqlx::Error as E;
            match e.as_ref() {
                E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::Tls(_) | E::WorkerCrashed => true,
                E::Database(db) => db.code().is_some_and(|code| is_unavailable_code(&code)),
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

/// The SQLSTATE (or SQLite code) and message of an error the database raised, if it was one.
pub(crate) fn database_error(error: &DbErr) -> Option<(String, String)> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = error
    else {
        return None;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(db) => {
            Some((db.code()?.into_owned(), db.message().to_owned()))
        }
        _ => None,
    }
}

/// SQLite: `5` busy and `6` locked (after the busy timeout). PostgreSQL: class `08`
/// (connection exception), `57P01`-`57P03` (shutdown, crash, cannot connect now), `53300`
/// (too many connections), `3D000` (the database does not exist, e.g. while it is re-created).
fn is_unavailable_code(code: &str) -> bool {
    matches!(
        code,
        "5" | "6" | "57P01" | "57P02" | "57P03" | "53300" | "3D000"
    ) || code.starts_with("08")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_codes_of_both_engines_are_unavailable() {
        for code in [
            "5", "6", "08006", "08001", "57P01", "57P03", "53300", "3D000",
        ] {
            assert!(is_unavailable_code(code), "{code}");
        }
        for code in ["23505", "42P01", "1", "19", "40001"] {
            assert!(!is_unavailable_code(code), "{code}");
        }
    }
}
