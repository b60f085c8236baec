//! Counters of failed sign-ins per account ID and per address (see `domain::throttle`).
//! Kept in the database so that the limit holds across several servers.

use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_throttle)]
pub struct FailureCount {
    pub key: String,
    pub failures: i64,
    pub last_failure_at: i64,
}

pub fn find_counts(conn: &mut DbConnection, keys: &[String]) -> StoreResult<Vec<FailureCount>> {
    Ok(login_throttle::table
        .filter(login_throttle::key.eq_any(keys))
        .select(FailureCount::as_select())
        .load(conn)?)
}

/// Counts one failure; counts older than `window_secs` start again from one. Call inside
/// a write transaction (no portable upsert on diesel's MultiConnection).
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
    window_secs: i64,
) -> StoreResult<()> {
    let current = login_throttle::table
        .find(key)
        .select(FailureCount::as_select())
        .first(conn)
        .optional()?;
    match current {
        Some(c) => {
            let failures = if now - c.last_failure_at > window_secs {
                1
            } else {
                c.failures + 1
            };
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(failures),
                    login_throttle::last_failure_at.eq(now),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(login_throttle::table)
                .values(FailureCount {
                    key: key.into(),
                    failures: 1,
                    last_failure_at: now,
                })
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn clear(conn: &mut DbConnection, key: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}

/// Deletes counters whose last failure is older than the window: they count for nothing
/// (a new failure starts again from one) and would otherwise pile up, one per address and
/// per account ID ever tried.
pub fn delete_stale(conn: &mut DbConnection, now: i64, window_secs: i64) -> StoreResult<usize> {
    Ok(diesel::delete(
        login_throttle::table.filter(login_throttle::last_failure_at.lt(now - window_secs)),
    )
    .execute(conn)?)
}
