//! Each challenge's version: the guard every change is written under; and, on PostgreSQL,
//! the function that writes a change in one statement.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;

use super::idens::*;

/// `challenges.version`: how many changes the challenge has had (`Challenge::version`). A
/// change is written only over the version it was decided on. Rows from before start at 0.
///
/// On PostgreSQL, `mfa_totp_apply(change jsonb)` (see `postgres.rs`, which writes the
/// document): one call, one round trip, one statement, writes a whole change. It decides
/// nothing: it writes the challenge over its guard (another version: `stale`, nothing
/// written), the context, the limit charges (a refused one raises `MT429`, which undoes the
/// statement, with the refused windows in its message), the refunds, the send record and
/// the audit events. The challenge's row is locked first and the limit rows after it, in
/// the order the charges come (always the same order of kinds), so no two changes wait on
/// each other in a circle.
pub(super) struct AddChallengeVersion;

pub(super) const APPLY: &str = r#"
CREATE OR REPLACE FUNCTION mfa_totp_apply(change jsonb) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    c jsonb := change->'challenge';
    x jsonb := change->'context';
    s jsonb := change->'send';
    charge jsonb;
    refused jsonb := '[]'::jsonb;
    started bigint;
BEGIN
    IF jsonb_typeof(c) = 'object' THEN
        IF jsonb_typeof(change->'guard') = 'number' THEN
            UPDATE challenges SET
                status = c->>'status',
                code_step = (c->>'code_step')::bigint,
                code_issued_at = (c->>'code_issued_at')::bigint,
                send_count = (c->>'send_count')::int,
                last_sent_at = (c->>'last_sent_at')::bigint,
                failed_attempts = (c->>'failed_attempts')::int,
                verified_at = (c->>'verified_at')::bigint,
                sent_to = c->>'sent_to',
                version = (c->>'version')::int
            WHERE id = c->>'id' AND version = (change->>'guard')::int;
            IF NOT FOUND THEN
                RETURN 'stale';
            END IF;
            IF jsonb_typeof(x) = 'object' THEN
                UPDATE step_up_contexts SET
                    state = x->>'state',
                    consumed_at = (x->>'consumed_at')::bigint
                WHERE challenge_id = c->>'id';
            END IF;
        ELSE
            INSERT INTO challenges (id, subject_user_id, status, secret_sealed, client_id,
                created_at, expires_at, code_step, code_issued_at, send_count, last_sent_at,
                failed_attempts, verified_at, sent_to, version)
            VALUES (c->>'id', c->>'subject_user_id', c->>'status', c->>'secret_sealed',
                c->>'client_id', (c->>'created_at')::bigint, (c->>'expires_at')::bigint,
                (c->>'code_step')::bigint, (c->>'code_issued_at')::bigint,
                (c->>'send_count')::int, (c->>'last_sent_at')::bigint,
                (c->>'failed_attempts')::int, (c->>'verified_at')::bigint, c->>'sent_to',
                (c->>'version')::int);
            IF jsonb_typeof(x) = 'object' THEN
                INSERT INTO step_up_contexts (challenge_id, operation, attributes, state,
                    locale, created_at, consumed_at)
                VALUES (c->>'id', x->>'operation', x->>'attributes', x->>'state',
                    x->>'locale', (c->>'created_at')::bigint, (x->>'consumed_at')::bigint);
            END IF;
        END IF;
    END IF;
    FOR charge IN SELECT value FROM jsonb_array_elements(change->'charges') LOOP
        INSERT INTO rate_limits AS r (kind, limit_key, window_start, used)
        VALUES (charge->>'kind', charge->>'key', (charge->>'now')::bigint,
            (charge->>'amount')::int)
        ON CONFLICT (kind, limit_key) DO UPDATE SET
            used = CASE WHEN r.window_start <= (charge->>'lapsed_at')::bigint
                THEN excluded.used ELSE r.used + excluded.used END,
            window_start = CASE WHEN r.window_start <= (charge->>'lapsed_at')::bigint
                THEN excluded.window_start ELSE r.window_start END
        WHERE r.window_start <= (charge->>'lapsed_at')::bigint
            OR r.used < (charge->>'max')::int;
        IF NOT FOUND THEN
            SELECT window_start INTO started FROM rate_limits
            WHERE kind = charge->>'kind' AND limit_key = charge->>'key';
            refused := refused || jsonb_build_object('kind', charge->>'kind', 'window_start', started);
        END IF;
    END LOOP;
    IF jsonb_array_length(refused) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MT429', MESSAGE = refused::text;
    END IF;
    FOR charge IN SELECT value FROM jsonb_array_elements(change->'refunds') LOOP
        UPDATE rate_limits SET used = used - (charge->>'amount')::int
        WHERE kind = charge->>'kind' AND limit_key = charge->>'key'
            AND window_start <= (charge->>'now')::bigint
            AND window_start > (charge->>'lapsed_at')::bigint
            AND used >= (charge->>'amount')::int;
    END LOOP;
    IF jsonb_typeof(s) = 'object' THEN
        INSERT INTO sms_sends (id, challenge_id, outcome, provider, message_id,
            chain_position, attempts, latency_ms, segments, delivery_status, sent_at,
            updated_at, error_code)
        VALUES (s->>'id', s->>'challenge_id', s->>'outcome', s->>'provider',
            s->>'message_id', (s->>'chain_position')::int, (s->>'attempts')::int,
            (s->>'latency_ms')::bigint, (s->>'segments')::int, s->>'delivery_status',
            (s->>'sent_at')::bigint, (s->>'sent_at')::bigint, s->>'error_code');
    END IF;
    INSERT INTO audit_events (challenge_id, kind, occurred_at, request_id, subject_user_id,
        actor, masked_phone, outcome, limit_kind, provider, message_id, error_code, repeats,
        last_occurred_at)
    SELECT e.challenge_id, e.kind, e.occurred_at, e.request_id, e.subject_user_id, e.actor,
        e.masked_phone, e.outcome, e.limit_kind, e.provider, e.message_id, e.error_code,
        e.repeats, e.last_occurred_at
    FROM jsonb_to_recordset(change->'events') AS e(challenge_id text, kind text,
        occurred_at bigint, request_id text, subject_user_id text, actor text,
        masked_phone text, outcome text, limit_kind text, provider text, message_id text,
        error_code text, repeats int, last_occurred_at bigint);
    RETURN 'applied';
END
$fn$;
"#;

impl MigrationName for AddChallengeVersion {
    fn name(&self) -> &str {
        "m20261205_000008_add_challenge_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddChallengeVersion {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .add_column(
                        ColumnDef::new(Challenges::Version)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(APPLY).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS mfa_totp_apply(jsonb)")
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Challenges::Table)
                    .drop_column(Challenges::Version)
                    .to_owned(),
            )
            .await
    }
}
