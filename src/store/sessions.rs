//! Browser sessions, stored server-side (the cookie holds only a random id, the table its
//! SHA-256). A plain record: no domain rules beyond expiry.

use diesel::prelude::*;

use super::schema::{accounts, browser_sessions};
use super::{DbConnection, StoreResult, from_json_list, to_json_list};
use crate::domain::account::Account;
use crate::store::accounts::AccountRow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSession {
    /// Public session id, carried in ID tokens as `sid`.
    pub sid: String,
    pub account_id: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = browser_sessions)]
struct SessionRow {
    id_hash: String,
    sid: String,
    account_id: String,
    auth_time: i64,
    acr: String,
    amr: String,
    created_at: i64,
    expires_at: i64,
}

pub fn insert_session(
    conn: &mut DbConnection,
    id_hash: &str,
    s: &BrowserSession,
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(browser_sessions::table)
        .values(SessionRow {
            id_hash: id_hash.into(),
            sid: s.sid.clone(),
            account_id: s.account_id.clone(),
            auth_time: s.auth_time,
            acr: s.acr.clone(),
            amr: to_json_list(&s.amr),
            created_at: now,
            expires_at: s.expires_at,
        })
        .execute(conn)?;
    Ok(())
}

/// A live session and its account; `None` when unknown or expired.
pub fn find_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<(BrowserSession, Account)>> {
    let row = browser_sessions::table
        .inner_join(accounts::table)
        .filter(browser_sessions::id_hash.eq(id_hash))
        .filter(browser_sessions::expires_at.gt(now))
        .select((SessionRow::as_select(), AccountRow::as_select()))
        .first::<(SessionRow, AccountRow)>(conn)
        .optional()?;
    let Some((s, account)) = row else {
        return Ok(None);
    };
    let session = BrowserSession {
        amr: from_json_list(&s.amr),
        sid: s.sid,
        account_id: s.account_id,
        auth_time: s.auth_time,
        acr: s.acr,
        expires_at: s.expires_at,
    };
    Ok(Some((session, account.into_account()?)))
}

pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> StoreResult<()> {
    diesel::delete(browser_sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// Ends every session of the account except `keep` (a session id hash); how many ended.
pub fn delete_for_account(
    conn: &mut DbConnection,
    account_id: &str,
    keep: Option<&str>,
) -> StoreResult<usize> {
    let mine = browser_sessions::table.filter(browser_sessions::account_id.eq(account_id));
    Ok(match keep {
        Some(keep) => {
            diesel::delete(mine.filter(browser_sessions::id_hash.ne(keep))).execute(conn)?
        }
        None => diesel::delete(mine).execute(conn)?,
    })
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(browser_sessions::table.filter(browser_sessions::expires_at.le(now)))
            .execute(conn)?,
    )
}

/// The public ids (`sid`) of every session of the account.
pub fn sids_of_account(conn: &mut DbConnection, account_id: &str) -> StoreResult<Vec<String>> {
    Ok(browser_sessions::table
        .filter(browser_sessions::account_id.eq(account_id))
        .select(browser_sessions::sid)
        .load(conn)?)
}

/// Raises a session after a step-up under a new id: the row keyed by `old_hash` (and only
/// if it is live and `account_id`'s) takes `new_hash`, new `acr`/`amr` and a fresh
/// `auth_time`, so the old cookie value stops working in the same statement. Its public
/// `sid` stays (grants and logout tokens name it). False if no such session.
pub fn rotate_and_raise(
    conn: &mut DbConnection,
    old_hash: &str,
    new_hash: &str,
    account_id: &str,
    acr: &str,
    amr: &[String],
    now: i64,
) -> StoreResult<bool> {
    let raised = diesel::update(
        browser_sessions::table
            .find(old_hash)
            .filter(browser_sessions::account_id.eq(account_id))
            .filter(browser_sessions::expires_at.gt(now)),
    )
    .set((
        browser_sessions::id_hash.eq(new_hash),
        browser_sessions::acr.eq(acr),
        browser_sessions::amr.eq(to_json_list(amr)),
        browser_sessions::auth_time.eq(now),
    ))
    .execute(conn)?;
    Ok(raised == 1)
}
