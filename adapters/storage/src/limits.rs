//! Limits across challenges on SQLite. A charge is one statement: an upsert of the limit's
//! row for its key that starts a new window when the last one has ended, and otherwise adds
//! to the window only while fewer than `max` were used (`ON CONFLICT … DO UPDATE … WHERE`).
//! It changes one row or none. PostgreSQL runs the same upsert inside `mfa_totp_apply`
//! (`postgres.rs`), where it holds the row's lock until the change commits, so concurrent
//! charges on any number of instances queue on that row.

use mfa_totp_domain::LimitCharge;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entities::rate_limit::{self, Column};
use crate::millis;

fn window_lapsed(charge: &LimitCharge) -> sea_orm::sea_query::SimpleExpr {
    let lapsed_at_or_before = millis(charge.now) - charge.window.num_milliseconds();
    Expr::col((rate_limit::Entity, Column::WindowStart)).lte(lapsed_at_or_before)
}

/// The upsert that takes `charge` from its window: it changes one row when the charge fits
/// (or starts a new window), none when it is refused.
pub(crate) fn charge_statement(charge: &LimitCharge) -> sea_orm::Insert<rate_limit::ActiveModel> {
    let current = |column: Column| Expr::col((rate_limit::Entity, column));
    let proposed = |column: Column| Expr::col((Alias::new("excluded"), column));
    let lapsed = window_lapsed(charge);
    let on_conflict = OnConflict::columns([Column::Kind, Column::LimitKey])
        .value(
            Column::Used,
            Expr::case(lapsed.clone(), proposed(Column::Used))
                .finally(current(Column::Used).add(proposed(Column::Used))),
        )
        .value(
            Column::WindowStart,
            Expr::case(lapsed.clone(), proposed(Column::WindowStart))
                .finally(current(Column::WindowStart)),
        )
        .action_and_where(lapsed.or(current(Column::Used).lt(charge.max as i32)))
        .to_owned();
    let row = rate_limit::ActiveModel {
        kind: Set(charge.kind.as_str().to_owned()),
        limit_key: Set(charge.key.as_str().to_owned()),
        window_start: Set(millis(charge.now)),
        used: Set(charge.amount as i32),
    };
    rate_limit::Entity::insert(row).on_conflict(on_conflict)
}

/// Gives back what `charge` took, from the window it was taken from.
pub(crate) fn refund_statement(charge: &LimitCharge) -> sea_orm::UpdateMany<rate_limit::Entity> {
    let at = millis(charge.now);
    rate_limit::Entity::update_many()
        .col_expr(
            Column::Used,
            Expr::col(Column::Used).sub(charge.amount as i32),
        )
        .filter(Column::Kind.eq(charge.kind.as_str()))
        .filter(Column::LimitKey.eq(charge.key.as_str()))
        .filter(Column::WindowStart.lte(at))
        .filter(Column::WindowStart.gt(at - charge.window.num_milliseconds()))
        .filter(Column::Used.gte(charge.amount as i32))
}
