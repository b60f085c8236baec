//! Finishing a sign-in: the one place where a session is created (or raised, under a new
//! id, after a step-up) and the pending authorization request is answered, whichever
//! factor came last.

use crate::domain::account::Account;
use crate::domain::authn;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::access;
use crate::services::authorization::{code_redirect, issue_code};
use crate::services::consent;
use crate::store::audit::{self, AuditEvent};
use crate::store::login_flows::{self, LoginFlow};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{DbConnection, accounts};

/// Where a person lands after signing in directly (not from a relying party).
pub const DEFAULT_LANDING: &str = "/account";
/// Where a person whose password is past its change-by date goes, instead of anywhere else.
pub const PASSWORD_CHANGE: &str = "/account/password";

#[derive(Debug)]
pub struct Finished {
    /// Who signed in (the browser gets a device token for this account).
    pub account_id: String,
    /// The new session cookie's value: a fresh session at a sign-in, the raised session's
    /// new id after a step-up (the old value no longer works either way).
    pub session_token: Option<String>,
    /// Where the browser goes next: the relying party with a code, the landing page, the
    /// password change page when the password is past its change-by date, the local
    /// refusal page when the relying party does not admit the account, or the consent
    /// page when a third-party client needs the person's consent first.
    pub next: String,
    /// Set when the password must be changed by this date (the person is warned).
    pub password_change_by: Option<i64>,
}

/// What finishing needs besides the flow and the account.
pub struct FinishContext {
    pub now: i64,
    pub session_ttl: i64,
    pub code_ttl: i64,
    pub issuer: String,
    /// The session the browser had before, replaced by the new one.
    pub previous_session_hash: Option<String>,
    pub ip: String,
}

/// Whether a browser presenting the session `presented_hash` may finish `flow`: any browser
/// for a sign-in, only the one still holding the stepped-up session for a step-up.
pub fn holds_its_session(flow: &LoginFlow, presented_hash: Option<&str>) -> bool {
    match &flow.session_hash {
        Some(hash) => presented_hash.is_some_and(|p| secrets::constant_time_eq(p, hash)),
        None => true,
    }
}

/// Ends `flow` with a signed-in browser. Call inside a write transaction, with a flow
/// found for this browser (`login_flows::find_flow`). `None` when the flow was already
/// finished by a concurrent request (each flow signs in at most once), when `account` is
/// not the account the flow named, or, for a step-up, when the browser no longer holds the
/// session the step-up began from (or that session is not `account`'s).
pub fn finish(
    conn: &mut DbConnection,
    flow: &LoginFlow,
    account: &Account,
    amr: Vec<String>,
    ctx: &FinishContext,
) -> Result<Option<Finished>, ServiceError> {
    // Once a password or passkey named the account, no other account finishes the flow.
    if flow
        .account_id
        .as_deref()
        .is_some_and(|id| id != account.id.as_str())
    {
        return Ok(None);
    }
    if !holds_its_session(flow, ctx.previous_session_hash.as_deref()) {
        return Ok(None);
    }
    if !login_flows::take_flow(conn, flow)? {
        return Ok(None);
    }
    let acr = authn::acr_for(&amr).to_string();
    let (session, session_token, session_hash) = match &flow.session_hash {
        Some(old_hash) => {
            // A step-up raises the session under a new id: a copy of the old cookie
            // value, wherever it went, is worth nothing from now on.
            let token = secrets::new_token();
            let new_hash = secrets::hash_token(&token);
            let account_id = account.id.as_str();
            if !sessions::rotate_and_raise(
                conn, old_hash, &new_hash, account_id, &acr, &amr, ctx.now,
            )? {
                return Ok(None);
            }
            let Some((session, _)) = sessions::find_session(conn, &new_hash, ctx.now)? else {
                return Ok(None);
            };
            (session, Some(token), new_hash)
        }
        None => {
            let token = secrets::new_token();
            let session = BrowserSession {
                sid: secrets::new_id(),
                account_id: account.id.to_string(),
                auth_time: ctx.now,
                acr,
                amr,
                expires_at: ctx.now + ctx.session_ttl,
            };
            // A fresh session id at every sign-in: a planted cookie is never promoted.
            if let Some(previous) = &ctx.previous_session_hash {
                sessions::delete_session(conn, previous)?;
            }
            let hash = secrets::hash_token(&token);
            sessions::insert_session(conn, &hash, &session, ctx.now)?;
            (session, Some(token), hash)
        }
    };
    let change_by = accounts::password_change_by(conn, account.id.as_str())?;
    let next = match &flow.request {
        // Past the deadline, signing in leads only to the change page: no code for anyone.
        _ if change_by.is_some_and(|by| ctx.now >= by) => PASSWORD_CHANGE.to_string(),
        Some(request) => {
            match access::check(conn, request, account, ctx.now, Some(ctx.ip.clone()))? {
                // Signed in all the same: the account pages are where a restriction is fixed.
                Some(refused) => refused,
                None if consent::needed(conn, request, account.id.as_str())? => {
                    let browser_hash = flow.browser_hash.as_deref().unwrap_or_default();
                    let bound = consent::Binding {
                        session_hash: &session_hash,
                        browser_hash,
                    };
                    consent::ask(conn, request, account, &session, bound, ctx.now)?
                }
                None => {
                    let code = issue_code(conn, request, &session, account, ctx.now, ctx.code_ttl)?;
                    code_redirect(request, &code, &ctx.issuer)
                }
            }
        }
        None => DEFAULT_LANDING.to_string(),
    };
    audit::record(
        conn,
        AuditEvent {
            at: ctx.now,
            kind: "login_succeeded",
            account_id: Some(account.id.as_str()),
            client_id: flow.request.as_ref().map(|r| r.client_id.as_str()),
            ip: Some(ctx.ip.clone()),
            detail: Some(session.amr.join(" ")),
        },
    )?;
    Ok(Some(Finished {
        account_id: account.id.to_string(),
        session_token,
        next,
        password_change_by: change_by,
    }))
}
