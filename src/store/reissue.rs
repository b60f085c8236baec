//! Online password reissues waiting for their password-update key (see
//! `services::reissue`). Plain records: single use and the attempt limit are conditional
//! UPDATEs, so two concurrent submissions of one key cannot both succeed.

use diesel::prelude::*;

use super::schema::password_reissues;
use super::{DbConnection, StoreResult};

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = password_reissues)]
pub struct PendingReissue {
    pub id: String,
    pub account_id: String,
    pub key_mac: String,
    /// The argon2id hash of the chosen password (never the password itself).
    pub password_hash: String,
    /// Why the password fails the strength rule once the account's name is known, if it does.
    pub weakness: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// Stores a new pending reissue, voiding the account's earlier unfinished ones: only the
/// newest key works.
pub fn insert(conn: &mut DbConnection, row: &PendingReissue) -> StoreResult<()> {
    diesel::update(
        password_reissues::table
            .filter(password_reissues::account_id.eq(&row.account_id))
            .filter(password_reissues::consumed_at.is_null()),
    )
    .set(password_reissues::consumed_at.eq(row.created_at))
    .execute(conn)?;
    diesel::insert_into(password_reissues::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The pending reissue with this id if it is still usable (unconsumed, unexpired, attempts
/// left).
pub fn find_live(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
    max_attempts: i64,
) -> StoreResult<Option<PendingReissue>> {
    Ok(password_reissues::table
        .filter(password_reissues::id.eq(id))
        .filter(password_reissues::consumed_at.is_null())
        .filter(password_reissues::expires_at.gt(now))
        .filter(password_reissues::attempts.lt(max_attempts))
        .select(PendingReissue::as_select())
        .first(conn)
        .optional()?)
}

/// Counts one attempt at a key before it is compared: one conditional UPDATE, so parallel
/// attempts cannot overrun `max_attempts`; false when none is left (or it was used).
pub fn reserve_attempt(conn: &mut DbConnection, id: &str, max_attempts: i64) -> StoreResult<bool> {
    let counted = diesel::update(
        password_reissues::table
            .filter(password_reissues::id.eq(id))
            .filter(password_reissues::consumed_at.is_null())
            .filter(password_reissues::attempts.lt(max_attempts)),
    )
    .set(password_reissues::attempts.eq(password_reissues::attempts + 1))
    .returning(password_reissues::attempts)
    .get_result::<i64>(conn)
    .optional()?;
    Ok(counted.is_some())
}

/// Marks a pending reissue used (or void); false if it already was.
pub fn consume(conn: &mut DbConnection, id: &str, now: i64) -> StoreResult<bool> {
    let changed = diesel::update(
        password_reissues::table
            .filter(password_reissues::id.eq(id))
            .filter(password_reissues::consumed_at.is_null()),
    )
    .set(password_reissues::consumed_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Deletes expired pending reissues (consumed ones go when they expire too).
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(password_reissues::table.filter(password_reissues::expires_at.le(now)))
            .execute(conn)?,
    )
}
