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

/// Longest key stored as it is; a longer one (an account ID typed by anyone, up to the
/// form limit) is stored as its hash, so a counter row stays small whatever was typed.
const MAX_PLAIN_KEY: usize = 128;

fn stored_key(key: &str) -> String {
    if key.len() <= MAX_PLAIN_KEY {
        key.to_string()
    } else {
        format!("sha256:{}", crate::secrets::hash_token(key))
    }
}

/// The counts of `keys` (each reported under the key asked for).
pub fn find_counts(conn: &mut DbConnection, keys: &[String]) -> StoreResult<Vec<FailureCount>> {
    let stored: Vec<String> = keys.iter().map(|k| stored_key(k)).collect();
    let mut counts: Vec<FailureCount> = login_throttle::table
        .filter(login_throttle::key.eq_any(&stored))
        .select(FailureCount::as_select())
        .load(conn)?;
    for c in &mut counts {
        if let Some(i) = stored.iter().position(|k| *k == c.key) {
            c.key = keys[i].clone();
        }
    }
    Ok(counts)
}

/// Counts one failure; counts older than `window_secs` start again from one. Call inside
/// a write transaction (no portable upsert on diesel's MultiConnection).
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
    window_secs: i64,
) -> StoreResult<()> {
    let key = &stored_key(key);
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
    diesel::delete(login_throttle::table.find(stored_key(key))).execute(conn)?;
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
