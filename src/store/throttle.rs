//! Counters of attempts per key (see `domain::throttle`), kept in the database so that the
//! limit holds across several servers.
//!
//! An attempt is *reserved* before it is judged: [`reserve`] is one conditional UPDATE that
//! both checks (`blocked_until <= now`) and counts (`failures + 1`), with `RETURNING` the
//! new count, then sets the row's next `blocked_until` while the row lock is still held (same
//! transaction). Parallel attempts queue on the row and each sees the previous one's
//! result, on SQLite (one writer) and on PostgreSQL under READ COMMITTED (an UPDATE re-reads
//! a row another transaction changed before applying its WHERE). A key seen for the first
//! time is inserted, relying on the primary key: of two first attempts one inserts and the
//! other, refused by the key, counts through the UPDATE.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::login_throttle;
use super::{DbConnection, StoreResult};
use crate::domain::throttle::{Key, Policy};

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_throttle)]
pub struct FailureCount {
    pub key: String,
    pub failures: i64,
    pub last_failure_at: i64,
    pub blocked_until: i64,
}

/// What a reservation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted (this is the `count`th in the window) and may be judged.
    Granted { count: i64 },
    /// Refused: try again in this many seconds. Nothing was counted.
    Wait(i64),
}

/// Reserves one attempt under `key`. Call inside a write transaction (`write_tx`), and
/// commit before the slow work (the hash): the row stays locked until then.
pub fn reserve(
    conn: &mut DbConnection,
    key: &Key,
    now: i64,
    policy: Policy,
) -> StoreResult<Reservation> {
    let key = key.as_str();
    // A count whose last attempt is older than the window starts again.
    diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::last_failure_at.lt(now - policy.window_secs())),
    )
    .set((
        login_throttle::failures.eq(0),
        login_throttle::blocked_until.eq(0),
    ))
    .execute(conn)?;
    for _ in 0..3 {
        if let Some(count) = count_if_allowed(conn, key, now)? {
            return granted(conn, key, count, now, policy);
        }
        match login_throttle::table
            .find(key)
            .select(login_throttle::blocked_until)
            .first::<i64>(conn)
            .optional()?
        {
            Some(blocked_until) if blocked_until > now => {
                return Ok(Reservation::Wait(blocked_until - now));
            }
            // Committed by another first attempt after the UPDATE looked (each statement
            // sees what is committed when it starts): count through the UPDATE.
            Some(_) => continue,
            None => {}
        }
        // A first attempt: insert, in a savepoint so that losing the race to another first
        // attempt leaves this transaction usable; then the loop counts through the UPDATE.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(login_throttle::table)
                .values(FailureCount {
                    key: key.into(),
                    failures: 1,
                    last_failure_at: now,
                    blocked_until: policy.next_allowed_at(1, now),
                })
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(Reservation::Granted { count: 1 }),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    // Losing the insert race (or seeing the row appear) means the row exists; only the
    // sweep deletes rows, and only idle ones, so this is not reached. Refuse rather than
    // let an attempt through uncounted.
    Ok(Reservation::Wait(1))
}

/// The conditional UPDATE: counts the attempt if the key is not blocked; the new count.
fn count_if_allowed(conn: &mut DbConnection, key: &str, now: i64) -> StoreResult<Option<i64>> {
    Ok(diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::blocked_until.le(now)),
    )
    .set((
        login_throttle::failures.eq(login_throttle::failures + 1),
        login_throttle::last_failure_at.eq(now),
    ))
    .returning(login_throttle::failures)
    .get_result::<i64>(conn)
    .optional()?)
}

fn granted(
    conn: &mut DbConnection,
    key: &str,
    count: i64,
    now: i64,
    policy: Policy,
) -> StoreResult<Reservation> {
    diesel::update(login_throttle::table.find(key))
        .set(login_throttle::blocked_until.eq(policy.next_allowed_at(count, now)))
        .execute(conn)?;
    Ok(Reservation::Granted { count })
}

/// Gives back one reserved attempt that turned out right (the address's count after a
/// successful sign-in); the wait it set stands, it only shortens the next ones.
pub fn refund(conn: &mut DbConnection, key: &Key) -> StoreResult<()> {
    diesel::update(
        login_throttle::table
            .find(key.as_str())
            .filter(login_throttle::failures.gt(0)),
    )
    .set(login_throttle::failures.eq(login_throttle::failures - 1))
    .execute(conn)?;
    Ok(())
}

/// Starts a key's count again (a successful sign-in clears its account's or device's).
/// The row stays (the sweep removes idle ones): deleting it under attempts in flight would
/// send them back to the insert race.
pub fn clear(conn: &mut DbConnection, key: &Key) -> StoreResult<()> {
    diesel::update(login_throttle::table.find(key.as_str()))
        .set((
            login_throttle::failures.eq(0),
            login_throttle::blocked_until.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes counters whose last attempt is older than `before` and that no longer block
/// (they would restart anyway).
pub fn delete_stale(conn: &mut DbConnection, before: i64, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(
        login_throttle::table
            .filter(login_throttle::last_failure_at.lt(before))
            .filter(login_throttle::blocked_until.le(now)),
    )
    .execute(conn)?)
}
