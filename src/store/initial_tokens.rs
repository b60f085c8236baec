//! RFC 7591 initial access tokens: made by an operator, spent by dynamic registrations.

use diesel::prelude::*;

use super::schema::initial_access_tokens;
use super::{DbConnection, StoreResult};

pub fn insert_initial_token(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
    expires_at: i64,
    uses: i64,
) -> StoreResult<()> {
    diesel::insert_into(initial_access_tokens::table)
        .values((
            initial_access_tokens::token_hash.eq(token_hash),
            initial_access_tokens::created_at.eq(now),
            initial_access_tokens::expires_at.eq(expires_at),
            initial_access_tokens::uses_left.eq(uses),
        ))
        .execute(conn)?;
    Ok(())
}

/// Spends one use of a live token; false when it is unknown, expired or used up. One
/// conditional UPDATE: two registrations at the same moment cannot both spend the last use
/// (PostgreSQL re-checks the condition on the locked row, SQLite has one writer).
pub fn consume_initial_token(
    conn: &mut DbConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<bool> {
    let t = initial_access_tokens::table;
    let changed = diesel::update(
        t.filter(initial_access_tokens::token_hash.eq(token_hash))
            .filter(initial_access_tokens::uses_left.gt(0))
            .filter(initial_access_tokens::expires_at.gt(now)),
    )
    .set(initial_access_tokens::uses_left.eq(initial_access_tokens::uses_left - 1))
    .execute(conn)?;
    Ok(changed == 1)
}
