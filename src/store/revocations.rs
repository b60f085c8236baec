//! Short-lived denylists: access tokens revoked before their expiry (RFC 7009) and DPoP
//! proof `jti`s already seen (RFC 9449 §11.1). Rows go when the thing they deny expires.

use diesel::prelude::*;

use super::schema::{dpop_proofs_seen, revoked_access_tokens};
use super::{DbConnection, StoreError, StoreResult};

/// Denies the access token `jti` until `expires_at`. Idempotent.
pub fn revoke_access_token(conn: &mut DbConnection, jti: &str, expires_at: i64) -> StoreResult<()> {
    let known = revoked_access_tokens::table
        .find(jti)
        .select(revoked_access_tokens::jti)
        .first::<String>(conn)
        .optional()?;
    if known.is_none() {
        diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn access_token_revoked(conn: &mut DbConnection, jti: &str) -> StoreResult<bool> {
    Ok(revoked_access_tokens::table
        .find(jti)
        .select(revoked_access_tokens::jti)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

/// Records a proof's `jti` (hashed); `false` when it was seen before: a replay. Call
/// outside a transaction: on PostgreSQL a refused insert would abort the transaction.
pub fn first_sighting(
    conn: &mut DbConnection,
    jti_hash: &str,
    expires_at: i64,
) -> StoreResult<bool> {
    let inserted = diesel::insert_into(dpop_proofs_seen::table)
        .values((
            dpop_proofs_seen::jti_hash.eq(jti_hash),
            dpop_proofs_seen::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) => match StoreError::from(e) {
            StoreError::Conflict => Ok(false),
            other => Err(other),
        },
    }
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    let tokens = diesel::delete(
        revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.le(now)),
    )
    .execute(conn)?;
    let proofs =
        diesel::delete(dpop_proofs_seen::table.filter(dpop_proofs_seen::expires_at.le(now)))
            .execute(conn)?;
    Ok(tokens + proofs)
}
