//! Pushed authorization requests (RFC 9126): the parameters a client sent to `/par`,
//! under the hash of the random part of their `request_uri`; usable once, briefly.

use diesel::prelude::*;

use super::schema::pushed_authorization_requests as par;
use super::{DbConnection, StoreResult};

pub fn insert(
    conn: &mut DbConnection,
    request_uri_hash: &str,
    client_id: &str,
    params: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    diesel::insert_into(par::table)
        .values((
            par::request_uri_hash.eq(request_uri_hash),
            par::client_id.eq(client_id),
            par::params.eq(params),
            par::created_at.eq(now),
            par::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks the request used and returns its parameters; `None` when it is unknown, of
/// another client, expired or already used. The conditional UPDATE is the single-use
/// guarantee: of two concurrent uses only one changes the row.
pub fn consume(
    conn: &mut DbConnection,
    request_uri_hash: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    let live = par::table
        .filter(par::request_uri_hash.eq(request_uri_hash))
        .filter(par::client_id.eq(client_id))
        .filter(par::used_at.is_null())
        .filter(par::expires_at.gt(now));
    let taken = diesel::update(live)
        .set(par::used_at.eq(now))
        .execute(conn)?;
    if taken != 1 {
        return Ok(None);
    }
    Ok(par::table
        .find(request_uri_hash)
        .select(par::params)
        .first(conn)
        .optional()?)
}

/// Removes requests that can no longer be used.
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(par::table.filter(par::expires_at.le(now))).execute(conn)?)
}
