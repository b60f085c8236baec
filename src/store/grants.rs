//! Grants, authorization codes and refresh tokens.
//!
//! A grant is one person's authorization of one client; a code, the tokens issued for it
//! and (later) their refreshes all hang off one grant, so revoking the grant ends them all.

use diesel::prelude::*;

use super::schema::{
    accounts, authorization_codes, clients, grants, refresh_tokens, revoked_access_tokens,
};
use super::{DbConnection, StoreResult, from_json_list, to_json_list};
use crate::domain::account::Account;
use crate::store::accounts::AccountRow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub sid: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    /// RFC 9449: the JWK thumbprint every token of this grant is bound to.
    pub dpop_jkt: Option<String>,
}

/// What a code was bound to when it was issued.
#[derive(Clone, Debug)]
pub struct IssuedCode {
    pub code_hash: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = grants)]
pub(crate) struct GrantRow {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) account_id: String,
    pub(crate) sid: Option<String>,
    pub(crate) scope: String,
    pub(crate) auth_time: i64,
    pub(crate) acr: String,
    pub(crate) amr: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) dpop_jkt: Option<String>,
}

impl From<GrantRow> for Grant {
    fn from(r: GrantRow) -> Self {
        Grant {
            amr: from_json_list(&r.amr),
            id: r.id,
            client_id: r.client_id,
            account_id: r.account_id,
            sid: r.sid,
            scope: r.scope,
            auth_time: r.auth_time,
            acr: r.acr,
            dpop_jkt: r.dpop_jkt,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
struct CodeRow {
    code_hash: String,
    grant_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    created_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
}

/// Stores a new grant and its authorization code (one transaction, by the caller).
pub fn insert_grant_with_code(
    conn: &mut DbConnection,
    grant: &Grant,
    code: &IssuedCode,
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(grants::table)
        .values(GrantRow {
            id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            account_id: grant.account_id.clone(),
            sid: grant.sid.clone(),
            scope: grant.scope.clone(),
            auth_time: grant.auth_time,
            acr: grant.acr.clone(),
            amr: to_json_list(&grant.amr),
            created_at: now,
            revoked_at: None,
            dpop_jkt: grant.dpop_jkt.clone(),
        })
        .execute(conn)?;
    diesel::insert_into(authorization_codes::table)
        .values(CodeRow {
            code_hash: code.code_hash.clone(),
            grant_id: grant.id.clone(),
            redirect_uri: code.redirect_uri.clone(),
            nonce: code.nonce.clone(),
            code_challenge: code.code_challenge.clone(),
            created_at: now,
            expires_at: code.expires_at,
            consumed_at: None,
        })
        .execute(conn)?;
    Ok(())
}

/// The result of trying to use a code (short-lived, so the size of `Redeemed` is no cost).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Redemption {
    /// This call consumed the code; it was live. The grant may still be revoked.
    Redeemed {
        code: IssuedCode,
        grant: Grant,
        revoked: bool,
    },
    /// The code had been used before: a replay (the caller revokes the grant).
    AlreadyUsed {
        grant_id: String,
        /// The client the code was issued to: only it may end the grant by a replay.
        client_id: String,
    },
    /// This call consumed the code, but it had expired.
    Expired,
    Unknown,
}

/// Marks the code used and returns what it was bound to. The conditional UPDATE is the
/// single-use guarantee: of two concurrent redemptions only one sees a row change
/// (PostgreSQL locks the row; SQLite serialises writers).
pub fn consume_code(conn: &mut DbConnection, code_hash: &str, now: i64) -> StoreResult<Redemption> {
    let consumed = diesel::update(
        authorization_codes::table
            .filter(authorization_codes::code_hash.eq(code_hash))
            .filter(authorization_codes::consumed_at.is_null()),
    )
    .set(authorization_codes::consumed_at.eq(now))
    .execute(conn)?;
    let row = authorization_codes::table
        .inner_join(grants::table)
        .filter(authorization_codes::code_hash.eq(code_hash))
        .select((CodeRow::as_select(), GrantRow::as_select()))
        .first::<(CodeRow, GrantRow)>(conn)
        .optional()?;
    Ok(match (consumed, row) {
        (_, None) => Redemption::Unknown,
        (0, Some((code, grant))) => Redemption::AlreadyUsed {
            grant_id: code.grant_id,
            client_id: grant.client_id,
        },
        (_, Some((code, _))) if now >= code.expires_at => Redemption::Expired,
        (_, Some((code, grant))) => Redemption::Redeemed {
            revoked: grant.revoked_at.is_some(),
            grant: grant.into(),
            code: IssuedCode {
                code_hash: code.code_hash,
                redirect_uri: code.redirect_uri,
                nonce: code.nonce,
                code_challenge: code.code_challenge,
                expires_at: code.expires_at,
            },
        },
    })
}

/// Ends a grant and everything issued under it. Idempotent.
pub fn revoke_grant(conn: &mut DbConnection, grant_id: &str, now: i64) -> StoreResult<()> {
    diesel::update(
        grants::table
            .filter(grants::id.eq(grant_id))
            .filter(grants::revoked_at.is_null()),
    )
    .set(grants::revoked_at.eq(now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::grant_id.eq(grant_id))
            .filter(refresh_tokens::consumed_at.is_null()),
    )
    .set(refresh_tokens::consumed_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Ends every grant of the account (and so its refresh and access tokens); how many.
pub fn revoke_all_for_account(
    conn: &mut DbConnection,
    account_id: &str,
    now: i64,
) -> StoreResult<usize> {
    let live: Vec<String> = grants::table
        .filter(grants::account_id.eq(account_id))
        .filter(grants::revoked_at.is_null())
        .select(grants::id)
        .load(conn)?;
    revoke_each(conn, &live, now)
}

fn revoke_each(conn: &mut DbConnection, grant_ids: &[String], now: i64) -> StoreResult<usize> {
    for id in grant_ids {
        revoke_grant(conn, id, now)?;
    }
    Ok(grant_ids.len())
}

/// A grant that has not been revoked, of a client that is not disabled, with its account.
/// With `access_token_jti`, also `None` when that access token was revoked on its own
/// (RFC 7009): one query answers userinfo and introspection.
pub fn find_live_grant(
    conn: &mut DbConnection,
    grant_id: &str,
    access_token_jti: Option<&str>,
) -> StoreResult<Option<(Grant, Account)>> {
    let mut query = grants::table
        .inner_join(accounts::table)
        .inner_join(clients::table)
        .filter(grants::id.eq(grant_id))
        .filter(grants::revoked_at.is_null())
        .filter(clients::disabled.eq(false))
        .select((GrantRow::as_select(), AccountRow::as_select()))
        .into_boxed();
    if let Some(jti) = access_token_jti {
        query = query.filter(diesel::dsl::not(diesel::dsl::exists(
            revoked_access_tokens::table.filter(revoked_access_tokens::jti.eq(jti.to_string())),
        )));
    }
    let row = query.first::<(GrantRow, AccountRow)>(conn).optional()?;
    row.map(|(g, a)| Ok((g.into(), a.into_account()?)))
        .transpose()
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshRow<'a> {
    token_hash: &'a str,
    grant_id: &'a str,
    created_at: i64,
    expires_at: i64,
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
    grant_id: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(NewRefreshRow {
            token_hash,
            grant_id,
            created_at: now,
            expires_at,
        })
        .execute(conn)?;
    Ok(())
}

/// Removes codes that can no longer be redeemed and grants that never got past a code.
pub fn delete_expired_codes(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(
        authorization_codes::table.filter(authorization_codes::expires_at.le(now - 3600)),
    )
    .execute(conn)?)
}

/// Ends every live grant of `account_id` for `client_id` (and so their refresh and access
/// tokens), as when the person withdraws consent; how many.
pub fn revoke_for_account_and_client(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<usize> {
    let live: Vec<String> = grants::table
        .filter(grants::account_id.eq(account_id))
        .filter(grants::client_id.eq(client_id))
        .filter(grants::revoked_at.is_null())
        .select(grants::id)
        .load(conn)?;
    revoke_each(conn, &live, now)
}

/// Revokes the grants a browser session made, except those with `offline_access` (the
/// person allowed those to outlive the session); how many.
pub fn revoke_session_grants(conn: &mut DbConnection, sid: &str, now: i64) -> StoreResult<usize> {
    let live: Vec<(String, String)> = grants::table
        .filter(grants::sid.eq(sid))
        .filter(grants::revoked_at.is_null())
        .select((grants::id, grants::scope))
        .load(conn)?;
    let mut ended = 0;
    for (id, scope) in &live {
        if !scope.split(' ').any(|s| s == "offline_access") {
            revoke_grant(conn, id, now)?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// A relying party a session touched, to be told by back-channel logout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
}

/// The clients with a back-channel logout URI that the session `sid` signed in to.
pub fn touched_by_session(conn: &mut DbConnection, sid: &str) -> StoreResult<Vec<Touched>> {
    let rows: Vec<(String, String)> = grants::table
        .inner_join(clients::table)
        .inner_join(accounts::table)
        .filter(grants::sid.eq(sid))
        .filter(clients::backchannel_logout_uri.is_not_null())
        .select((grants::client_id, accounts::sub))
        .distinct()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(client_id, sub)| Touched {
            client_id,
            sub,
            sid: Some(sid.to_string()),
        })
        .collect())
}

/// The (client, session) pairs with a back-channel logout URI that an account's live
/// grants or live sessions reach: what must be told when all of the account's sessions
/// and tokens end. Call before the sessions are deleted and the grants revoked.
pub fn touched_by_account(
    conn: &mut DbConnection,
    account_id: &str,
    now: i64,
) -> StoreResult<Vec<Touched>> {
    use super::schema::browser_sessions;
    let live_sids: Vec<String> = browser_sessions::table
        .filter(browser_sessions::account_id.eq(account_id))
        .filter(browser_sessions::expires_at.gt(now))
        .select(browser_sessions::sid)
        .load(conn)?;
    let rows: Vec<(String, String, Option<String>)> = grants::table
        .inner_join(clients::table)
        .inner_join(accounts::table)
        .filter(grants::account_id.eq(account_id))
        .filter(clients::backchannel_logout_uri.is_not_null())
        .filter(
            grants::revoked_at
                .is_null()
                .or(grants::sid.eq_any(live_sids)),
        )
        .select((grants::client_id, accounts::sub, grants::sid))
        .distinct()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(client_id, sub, sid)| Touched {
            client_id,
            sub,
            sid,
        })
        .collect())
}
