//! Schema migrations, the same for SQLite and PostgreSQL. Applied at start-up and by
//! `mfa-totp migrate`, through [`migrate`]. One file per migration, named in the order they run
//! (`m<date>_<number>_<what>`); each keeps the name it was deployed under.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use sea_orm_migration::prelude::*;

mod idens;
mod m20261130_000001_create_tables;
mod m20261130_000002_create_sms_sends;
mod m20261130_000003_add_challenge_client;
mod m20261130_000004_add_locales_and_segments;
mod m20261201_000005_create_limits_and_audit;
mod m20261201_000006_add_purge_indexes;
mod m20261205_000007_add_error_codes_and_repeats;
mod m20261205_000008_add_challenge_version;
mod m20261206_000009_add_event_outbox;

use m20261130_000001_create_tables::CreateTables;
use m20261130_000002_create_sms_sends::CreateSmsSends;
use m20261130_000003_add_challenge_client::AddChallengeClient;
use m20261130_000004_add_locales_and_segments::AddLocalesAndSegments;
use m20261201_000005_create_limits_and_audit::CreateLimitsAndAudit;
use m20261201_000006_add_purge_indexes::AddPurgeIndexes;
use m20261205_000007_add_error_codes_and_repeats::AddErrorCodesAndRepeats;
use m20261205_000008_add_challenge_version::AddChallengeVersion;
use m20261206_000009_add_event_outbox::AddEventOutbox;

/// The PostgreSQL advisory lock that serialises migrations ("mfa-totp" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d66_612d_746f_7470;

/// Applies pending migrations, in one transaction, so instances that start at once take
/// turns: on PostgreSQL the transaction holds an advisory lock, on SQLite it is `BEGIN
/// IMMEDIATE` (the file's write lock, waited for up to the busy timeout). The second instance
/// waits for the first to commit and then finds nothing to do. Both engines' DDL is
/// transactional, so a failed migration leaves nothing half-applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = crate::connect::begin_immediate(db).await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(CreateSmsSends),
            Box::new(AddChallengeClient),
            Box::new(AddLocalesAndSegments),
            Box::new(CreateLimitsAndAudit),
            Box::new(AddPurgeIndexes),
            Box::new(AddErrorCodesAndRepeats),
            Box::new(AddChallengeVersion),
            Box::new(AddEventOutbox),
        ]
    }
}
