//! Replacing a password, the one way every path does it (change, online reissue, desk
//! reissue): hash off the executor, store, and at once end every other session and every
//! token of the account (DOMAIN.md: "after a change, every session and token must end"),
//! all in one transaction, recorded in the audit log.

use crate::domain::account::Account;
use crate::domain::password::{self, PasswordCredential, PasswordKind, Weakness};
use crate::services::{ServiceError, backchannel_logout, throttle};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::{DbConnection, StoreResult, accounts, grants, sessions};

/// Why the password was replaced, as the audit log names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Changed,
    ReissuedOnline,
    ReissuedAtDesk,
}

impl Reason {
    fn audit_kind(self) -> &'static str {
        match self {
            Self::Changed => "password_changed",
            Self::ReissuedOnline => "password_reissued_online",
            Self::ReissuedAtDesk => "password_reissued_at_desk",
        }
    }
}

/// What ended with the old password.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ended {
    pub sessions: usize,
    pub grants: usize,
}

/// Sets `password` as the account's password of `kind` (expiring at `expires_at`), ends every
/// session but `keep_session` (a session id hash: the browser that made the change stays
/// signed in) and revokes every grant, with its refresh and access tokens.
pub async fn replace_password(
    state: &AppState,
    account: &Account,
    password: String,
    kind: PasswordKind,
    expires_at: Option<i64>,
    keep_session: Option<String>,
    reason: Reason,
) -> Result<Ended, ServiceError> {
    let hash = state.hasher.hash(password).await?;
    let now = state.clock.now();
    let id = account.id.to_string();
    let ended = state
        .db
        .write(move |conn| {
            let credential = PasswordCredential {
                hash,
                kind,
                expires_at,
            };
            Ok::<_, ServiceError>(store_password(
                conn,
                &id,
                &credential,
                keep_session.as_deref(),
                reason,
                now,
            )?)
        })
        .await?;
    state.backchannel.wake();
    Ok(ended)
}

/// The strength rule on a blocking thread: zxcvbn takes milliseconds on a long password,
/// too long to hold an executor thread that serves other requests.
pub async fn judge(
    password: &str,
    account_id: &str,
    name: &str,
) -> Result<Result<(), Weakness>, ServiceError> {
    let (p, id, n) = (
        password.to_string(),
        account_id.to_string(),
        name.to_string(),
    );
    tokio::task::spawn_blocking(move || password::judge(&p, &id, &n))
        .await
        .map_err(|e| ServiceError::Internal(format!("password check failed: {e}")))
}

/// The answer to a change request.
#[derive(Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    Changed(Ended),
    WrongCurrent,
    Mismatch,
    SameAsCurrent,
    Weak(Weakness),
    Throttled { wait_secs: i64 },
}

pub struct ChangeRequest {
    pub current: String,
    pub new: String,
    pub again: String,
    /// The session making the change (its id hash): it stays signed in.
    pub session_hash: String,
}

/// The owner changes the password: the current one must be right (wrong guesses are
/// throttled on the account's change counter), the new one typed twice, different, and
/// strong by the one rule.
pub async fn change_password(
    state: &AppState,
    account: &Account,
    req: ChangeRequest,
) -> Result<ChangeOutcome, ServiceError> {
    let now = state.clock.now();
    let limit = throttle::Limits::new(&state.settings).password_change(account.id.as_str());
    // Counted before the hash runs; only a signed-in session reaches this page, so it has
    // its own counter (a stranger's sign-in guesses do not block the owner's change).
    if let Err(wait_secs) = throttle::reserve(&state.db, now, vec![limit.clone()]).await? {
        return Ok(ChangeOutcome::Throttled { wait_secs });
    }
    let id = account.id.to_string();
    let found = state
        .db
        .run(move |conn| Ok::<_, ServiceError>(accounts::find_with_password(conn, &id)?))
        .await?;
    let phc = found.and_then(|(_, credential)| credential).map(|c| c.hash);
    if !state.hasher.verify(req.current.clone(), phc).await? {
        return Ok(ChangeOutcome::WrongCurrent);
    }
    state
        .db
        .write(move |conn| Ok::<_, ServiceError>(throttle::settle(conn, &[&limit], &[])?))
        .await?;
    if req.new != req.again {
        return Ok(ChangeOutcome::Mismatch);
    }
    if req.new == req.current {
        return Ok(ChangeOutcome::SameAsCurrent);
    }
    if let Err(weakness) = judge(&req.new, account.id.as_str(), &account.name).await? {
        return Ok(ChangeOutcome::Weak(weakness));
    }
    let ended = replace_password(
        state,
        account,
        req.new,
        PasswordKind::Chosen,
        None,
        Some(req.session_hash),
        Reason::Changed,
    )
    .await?;
    Ok(ChangeOutcome::Changed(ended))
}

/// The change-by date of the account's password, if it is flagged.
pub async fn change_by(state: &AppState, account: &Account) -> Result<Option<i64>, ServiceError> {
    let id = account.id.to_string();
    state
        .db
        .run(move |conn| Ok(accounts::password_change_by(conn, &id)?))
        .await
}

/// The synchronous core of every password replacement, in the caller's write transaction:
/// store the (already hashed) credential, end the sessions but `keep_session`, revoke every
/// grant, record it. Used as is where the hash exists already (an online reissue holds it
/// until its key is entered) or where there is no executor (the desk reissue command).
pub fn store_password(
    conn: &mut DbConnection,
    account_id: &str,
    credential: &PasswordCredential,
    keep_session: Option<&str>,
    reason: Reason,
    now: i64,
) -> StoreResult<Ended> {
    accounts::set_password(conn, account_id, credential, now)?;
    // Before the sessions and grants go: the relying parties they reach must be told.
    backchannel_logout::enqueue_for_account(conn, account_id, reason.audit_kind(), now)?;
    let ended = Ended {
        sessions: sessions::delete_for_account(conn, account_id, keep_session)?,
        grants: grants::revoke_all_for_account(conn, account_id, now)?,
    };
    audit::record(
        conn,
        AuditEvent {
            at: now,
            kind: reason.audit_kind(),
            account_id: Some(account_id),
            detail: Some(format!(
                "{} sessions and {} grants ended",
                ended.sessions, ended.grants
            )),
            ..Default::default()
        },
    )?;
    Ok(ended)
}
