//! Replacing a password, the one way every path does it (change, online reissue, desk
//! reissue): hash off the executor, store, and at once end every other session and every
//! token of the account (DOMAIN.md: "after a change, every session and token must end"),
//! all in one transaction, recorded in the audit log.

use crate::domain::account::Account;
use crate::domain::password::{PasswordCredential, PasswordKind};
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::{accounts, grants, sessions};

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
    state
        .db
        .write(move |conn| {
            let credential = PasswordCredential {
                hash,
                kind,
                expires_at,
            };
            accounts::set_password(conn, &id, &credential, now)?;
            let ended = Ended {
                sessions: sessions::delete_for_account(conn, &id, keep_session.as_deref())?,
                grants: grants::revoke_all_for_account(conn, &id, now)?,
            };
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: reason.audit_kind(),
                    account_id: Some(&id),
                    detail: Some(format!(
                        "{} sessions and {} grants ended",
                        ended.sessions, ended.grants
                    )),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServiceError>(ended)
        })
        .await
}
