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

/// Keeps only the newest `max` pushed requests stored under `client_key` (a public
/// client's pushes from one address), never the one just stored (`keep`).
pub fn trim_for_key(
    conn: &mut DbConnection,
    client_key: &str,
    keep: &str,
    max: i64,
) -> StoreResult<()> {
    diesel::update(par::table.find(keep))
        .set(par::client_key.eq(client_key))
        .execute(conn)?;
    let cutoff: Option<(i64, String)> = par::table
        .filter(par::client_key.eq(client_key))
        .order((par::created_at.desc(), par::request_uri_hash.desc()))
        .offset(max.max(1))
        .select((par::created_at, par::request_uri_hash))
        .first(conn)
        .optional()?;
    if let Some((at, hash)) = cutoff {
        diesel::delete(
            par::table
                .filter(par::client_key.eq(client_key))
                .filter(par::request_uri_hash.ne(keep))
                .filter(
                    par::created_at
                        .lt(at)
                        .or(par::created_at.eq(at).and(par::request_uri_hash.le(hash))),
                ),
        )
        .execute(conn)?;
    }
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
