//! Refresh tokens: one row per token, a family per grant. A token is used once (rotation);
//! `consumed_at` marks it used, and a second use of a consumed token is reuse.

use diesel::prelude::*;

use super::schema::{browser_sessions, grants, refresh_tokens};
use super::{DbConnection, StoreResult};
use crate::store::grants::{Grant, GrantRow};

/// A presented refresh token, with its family.
#[derive(Clone, Debug)]
pub struct FoundRefreshToken {
    pub grant: Grant,
    /// When the family began: the absolute lifetime counts from here.
    pub grant_created_at: i64,
    pub grant_revoked: bool,
    pub expires_at: i64,
    pub consumed: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow {
    expires_at: i64,
    consumed_at: Option<i64>,
}

pub fn find(conn: &mut DbConnection, token_hash: &str) -> StoreResult<Option<FoundRefreshToken>> {
    let row = refresh_tokens::table
        .inner_join(grants::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((TokenRow::as_select(), GrantRow::as_select()))
        .first::<(TokenRow, GrantRow)>(conn)
        .optional()?;
    Ok(row.map(|(t, g)| FoundRefreshToken {
        grant_created_at: g.created_at,
        grant_revoked: g.revoked_at.is_some(),
        grant: g.into(),
        expires_at: t.expires_at,
        consumed: t.consumed_at.is_some(),
    }))
}

/// Marks the token used. `false` when it was already used: of two concurrent rotations
/// only one sees a row change (the same single-use guarantee codes have).
pub fn consume(conn: &mut DbConnection, token_hash: &str, now: i64) -> StoreResult<bool> {
    let changed = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::consumed_at.is_null()),
    )
    .set(refresh_tokens::consumed_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Whether the browser session a grant was made in is still alive (refresh tokens without
/// `offline_access` live no longer than it).
pub fn session_alive(conn: &mut DbConnection, sid: &str, now: i64) -> StoreResult<bool> {
    let found = browser_sessions::table
        .filter(browser_sessions::sid.eq(sid))
        .filter(browser_sessions::expires_at.gt(now))
        .select(browser_sessions::sid)
        .first::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Binds a grant to a DPoP key (its first proof); the family keeps that key.
pub fn bind_grant_to_key(conn: &mut DbConnection, grant_id: &str, jkt: &str) -> StoreResult<()> {
    diesel::update(
        grants::table
            .filter(grants::id.eq(grant_id))
            .filter(grants::dpop_jkt.is_null()),
    )
    .set(grants::dpop_jkt.eq(jkt))
    .execute(conn)?;
    Ok(())
}

/// Removes expired tokens (used or not): an expired token is refused as unknown, so its row
/// no longer matters for reuse detection.
pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(now)))
            .execute(conn)?,
    )
}
