//! Finishing a sign-in: the one place where a session is created (or raised after a
//! step-up) and the pending authorization request is answered, whichever factor came last.

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
    /// A new session cookie's value; `None` when an existing session was raised in place.
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

/// Ends `flow` with a signed-in browser. Call inside a write transaction. `None` when the
/// flow was already finished by a concurrent request (each flow signs in at most once).
pub fn finish(
    conn: &mut DbConnection,
    flow: &LoginFlow,
    account: &Account,
    amr: Vec<String>,
    ctx: &FinishContext,
) -> Result<Option<Finished>, ServiceError> {
    if !login_flows::delete_flow(conn, &flow.id)? {
        return Ok(None);
    }
    let acr = authn::acr_for(&amr).to_string();
    let (session, session_token, session_hash) = match &flow.session_hash {
        Some(hash) => {
            sessions::upgrade_session(conn, hash, &acr, &amr, ctx.now)?;
            let Some((session, _)) = sessions::find_session(conn, hash, ctx.now)? else {
                return Ok(None);
            };
            (session, None, hash.clone())
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
                    consent::ask(conn, request, account, &session, &session_hash, ctx.now)?
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
