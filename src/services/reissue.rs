//! Password reissue (DOMAIN.md "Passwords"): online with a password-update key, or at the
//! ITC desk with a temporary password.
//!
//! **Online.** The person gives the account ID, the registered reissue e-mail and a new
//! password. The reissue e-mail is, for now, the personal address given at issue
//! (`account create --email`, `accounts.personal_email`). If the account exists, can sign
//! in and the address matches, the password's argon2id hash waits in `password_reissues`
//! and an eight-digit key goes to that address; entering the key (30 minutes, once, five
//! tries) sets the password and ends every session and grant of the account.
//!
//! Nothing in the answer tells whether the account or the address exists: every request
//! that passes the strength rule and the throttle does the same work (judge twice, one
//! argon2 hash, one write transaction) and gets the same page with an opaque ticket, the
//! pending reissue's id or a random one of the same form. The mail goes out in the
//! background, so its latency does not show either; a failed send is logged and voids the
//! pending reissue (the page cannot say so without telling that the account exists).

use std::net::IpAddr;

use crate::domain::account::{Account, AccountId};
use crate::domain::password::{PasswordCredential, PasswordKind, Weakness};
use crate::domain::reissue::{self as rules};
use crate::hashing::PasswordHasher;
use crate::mail::messages;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::passwords::{self, Ended, Reason};
use crate::services::throttle;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::reissue::{self as store, PendingReissue};
use crate::store::{Db, accounts, write_tx};

pub struct ReissueRequest {
    pub account_id: String,
    pub email: String,
    pub password: String,
    pub ip: IpAddr,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The uniform answer: a key went out if everything matched. `ticket` goes into the
    /// key-entry form.
    Accepted {
        ticket: String,
    },
    /// The new password fails the strength rule (judged with the typed ID only).
    Weak(Weakness),
    Throttled {
        wait_secs: i64,
    },
}

/// The MAC purpose of a key: bound to its pending reissue.
fn key_purpose(ticket: &str) -> String {
    format!("reissue-key:{ticket}")
}

pub async fn request(
    state: &AppState,
    req: ReissueRequest,
) -> Result<RequestOutcome, ServiceError> {
    let typed_id = req.account_id.trim().to_ascii_lowercase();
    // The rule first, with what was typed only: the answer must not depend on the account.
    if let Err(weakness) = passwords::judge(&req.password, &typed_id, "").await? {
        return Ok(RequestOutcome::Weak(weakness));
    }
    let now = state.clock.now();
    let limits = throttle::Limits::new(&state.settings);
    // Every request counts (matched or not), reserved before any work is done.
    let reserve = vec![
        limits.reissue_account(&typed_id),
        limits.reissue_address(req.ip),
    ];
    if let Err(wait_secs) = throttle::reserve(&state.db, now, reserve).await? {
        return Ok(RequestOutcome::Throttled { wait_secs });
    }
    let found = {
        let id = AccountId::from_login_input(&typed_id);
        state
            .db
            .run(move |conn| {
                Ok::<_, ServiceError>(match &id {
                    Some(id) => accounts::find_account(conn, id.as_str())?,
                    None => None,
                })
            })
            .await?
    };

    let target: Option<(Account, String)> = found.filter(Account::can_sign_in).and_then(|a| {
        let registered = a.personal_email.clone()?;
        rules::same_address(&registered, &req.email).then_some((a, registered))
    });
    // Judged again with the real name (an empty one when nothing matched: the same work).
    // The verdict waits with the hash and is told only to whoever has the key.
    let name = target.as_ref().map(|(a, _)| a.name.as_str()).unwrap_or("");
    let weakness = passwords::judge(&req.password, &typed_id, name)
        .await?
        .err()
        .map(|w| w.message());
    // Hashed in every case, so the time taken does not tell whether anything matched.
    let hash = state.hasher.hash(req.password).await?;
    let ticket = secrets::new_id();
    let key = rules::generate_key();
    let key_mac = state.server_secret.mac(&key_purpose(&ticket), &key);
    let row = target.as_ref().map(|(account, _)| PendingReissue {
        id: ticket.clone(),
        account_id: account.id.to_string(),
        key_mac,
        password_hash: hash,
        weakness,
        attempts: 0,
        created_at: now,
        expires_at: now + rules::KEY_TTL_SECS,
        consumed_at: None,
    });
    let ip = req.ip.to_string();
    state
        .db
        .write(move |conn| {
            if let Some(row) = &row {
                store::insert(conn, row)?;
                audit::record(
                    conn,
                    AuditEvent {
                        at: now,
                        kind: "password_reissue_requested",
                        account_id: Some(&row.account_id),
                        ip: Some(ip),
                        ..Default::default()
                    },
                )?;
            }
            Ok::<_, ServiceError>(())
        })
        .await?;
    if let Some((account, address)) = target {
        send_key(state, account, address, ticket.clone(), key);
    }
    Ok(RequestOutcome::Accepted { ticket })
}

/// Sends the key in the background; a failed send is logged and voids the pending reissue.
fn send_key(state: &AppState, account: Account, address: String, ticket: String, key: String) {
    let mail =
        messages::reissue_key(account.id.as_str(), &key, rules::KEY_TTL_SECS / 60).to(&address);
    let (mailer, db, clock) = (state.mailer.clone(), state.db.clone(), state.clock.clone());
    tokio::spawn(async move {
        if let Err(e) = mailer.send(mail).await {
            tracing::error!(account = %account.id, error = %e, "password-update key not sent");
            let now = clock.now();
            let voided = db
                .write(move |conn| Ok::<_, ServiceError>(store::consume(conn, &ticket, now)?))
                .await;
            if let Err(e) = voided {
                tracing::error!(account = %account.id, error = %e, "unsent reissue not voided");
            }
        }
    });
}

pub struct KeyEntry {
    pub ticket: String,
    pub key: String,
    pub ip: IpAddr,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The password is set; every session and grant of the account ended.
    Done(Ended),
    /// A wrong key, an unknown ticket, or a reissue expired, used or void: one answer.
    WrongKey,
    /// The key was right but the password fails the rule once the name is known: start
    /// again with another (the pending reissue is used up).
    Weak(String),
    Throttled {
        wait_secs: i64,
    },
}

/// Completes an online reissue with its key.
pub async fn complete(state: &AppState, entry: KeyEntry) -> Result<KeyOutcome, ServiceError> {
    let now = state.clock.now();
    let address = throttle::Limits::new(&state.settings).reissue_key_address(entry.ip);
    if let Err(wait_secs) = throttle::reserve(&state.db, now, vec![address.clone()]).await? {
        return Ok(KeyOutcome::Throttled { wait_secs });
    }
    let secret = state.server_secret.clone();
    let ip = entry.ip.to_string();
    state
        .db
        .write(move |conn| {
            // The attempt is counted on the reissue before the key is compared (a
            // conditional UPDATE): parallel tries cannot overrun its limit.
            let live = match store::find_live(conn, &entry.ticket, now, rules::MAX_ATTEMPTS)? {
                Some(p) if store::reserve_attempt(conn, &p.id, rules::MAX_ATTEMPTS)? => Some(p),
                _ => None,
            };
            let typed = rules::normalize_key(&entry.key);
            let right = live.as_ref().is_some_and(|p| {
                typed.as_deref().is_some_and(|k| {
                    secrets::constant_time_eq(&secret.mac(&key_purpose(&p.id), k), &p.key_mac)
                })
            });
            let pending = match live {
                Some(p) if right && store::consume(conn, &p.id, now)? => p,
                _ => return Ok(KeyOutcome::WrongKey),
            };
            throttle::settle(conn, &[], &[&address])?;
            if let Some(weakness) = pending.weakness {
                return Ok(KeyOutcome::Weak(weakness));
            }
            if !accounts::find_account(conn, &pending.account_id)?.is_some_and(|a| a.can_sign_in())
            {
                return Ok(KeyOutcome::WrongKey);
            }
            let credential = PasswordCredential {
                hash: pending.password_hash,
                kind: PasswordKind::Chosen,
                expires_at: None,
            };
            let ended = passwords::store_password(
                conn,
                &pending.account_id,
                &credential,
                None,
                Reason::ReissuedOnline,
                now,
            )?;
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: "password_reissue_key_accepted",
                    account_id: Some(&pending.account_id),
                    ip: Some(ip),
                    ..Default::default()
                },
            )?;
            Ok::<_, ServiceError>(KeyOutcome::Done(ended))
        })
        .await
}

/// A temporary password issued at the desk.
#[derive(Debug)]
pub struct DeskReissue {
    pub account: Account,
    pub password: String,
    pub expires_at: i64,
    pub ended: Ended,
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("{0}")]
    Invalid(String),
    #[error("no account {0}")]
    NotFound(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Desk reissue (ITC staff have checked the ID card): a generated temporary password,
/// valid `expires_in_days` (30 unless shorter), replacing the old one and ending every
/// session and grant. Synchronous, for the command line.
pub fn reissue_at_desk(
    db: &Db,
    hasher: &PasswordHasher,
    id: &str,
    expires_in_days: Option<i64>,
    now: i64,
) -> Result<DeskReissue, DeskError> {
    let days = rules::desk_days(expires_in_days).map_err(DeskError::Invalid)?;
    let mut conn = db.conn().map_err(ServiceError::from)?;
    let account = accounts::find_account(&mut conn, id)
        .map_err(ServiceError::from)?
        .ok_or_else(|| DeskError::NotFound(id.to_string()))?;
    let password = secrets::new_initial_password();
    let credential = PasswordCredential {
        hash: hasher
            .hash_blocking(&password)
            .map_err(ServiceError::from)?,
        kind: PasswordKind::Temporary,
        expires_at: Some(now + days * 86_400),
    };
    let ended = write_tx(&mut conn, |conn| {
        passwords::store_password(
            conn,
            account.id.as_str(),
            &credential,
            None,
            Reason::ReissuedAtDesk,
            now,
        )
    })
    .map_err(ServiceError::from)?;
    Ok(DeskReissue {
        expires_at: now + days * 86_400,
        account,
        password,
        ended,
    })
}
