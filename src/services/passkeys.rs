//! Passkeys: registered on the account pages, used as the second factor after the
//! password, or alone for a passwordless sign-in (a discoverable credential with user
//! verification, which is itself multi-factor: the device and its PIN or biometric).
//!
//! A registration's WebAuthn state travels to the browser and back sealed under the server
//! secret and bound to the account (a "ticket"), so no table holds half-done registrations.
//! A sign-in's state lives on its login flow and is taken (cleared) by the first answer, so
//! each challenge is answered at most once.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::account::Account;
use crate::domain::authn::{self, AMR_MFA, SecondFactor};
use crate::domain::second_factor::passkey::{Passkeys, StoredPasskey};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::sign_in::{self, FinishContext, Finished};
use crate::services::throttle;
use crate::startup::AppState;
use crate::store::audit;
use crate::store::login_flows::{self, FlowStage, LoginFlow};
use crate::store::second_factors::{self, PasskeyRow};
use crate::store::{DbConnection, accounts, write_tx};

/// How long a registration may take between its two requests.
const TICKET_TTL_SECS: i64 = 300;
const MAX_NAME_CHARS: usize = 60;
pub const DEFAULT_NAME: &str = "Passkey";

#[derive(Serialize, Deserialize)]
struct Ticket {
    state: String,
    expires_at: i64,
}

fn ticket_purpose(account_id: &str) -> String {
    format!("passkey-registration:{account_id}")
}

fn stored(rows: &[PasskeyRow]) -> Vec<StoredPasskey> {
    rows.iter()
        .map(|r| StoredPasskey {
            credential_id: r.credential_id.clone(),
            credential: r.credential.clone(),
        })
        .collect()
}

/// A name as shown on the account page: trimmed, at most 60 characters, never empty.
pub fn clean_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    if name.is_empty() {
        DEFAULT_NAME.to_string()
    } else {
        name
    }
}

pub async fn list(state: &AppState, account_id: String) -> Result<Vec<PasskeyRow>, ServiceError> {
    state
        .db
        .run(move |conn| Ok(second_factors::list_passkeys(conn, &account_id)?))
        .await
}

/// What the browser needs to create a passkey: the options for
/// `navigator.credentials.create` and the sealed ticket to send back with the answer.
pub struct RegistrationStart {
    pub options_json: String,
    pub ticket: String,
}

pub async fn register_begin(
    state: &AppState,
    account: &Account,
) -> Result<RegistrationStart, ServiceError> {
    let existing = list(state, account.id.to_string()).await?;
    let existing: Vec<String> = existing.into_iter().map(|r| r.credential).collect();
    let challenge = state
        .passkeys
        .start_registration(&account.sub, account.id.as_str(), &account.name, &existing)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let ticket = Ticket {
        state: challenge.state,
        expires_at: state.clock.now() + TICKET_TTL_SECS,
    };
    let ticket = serde_json::to_vec(&ticket).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(RegistrationStart {
        options_json: challenge.options_json,
        ticket: state
            .server_secret
            .seal(&ticket_purpose(account.id.as_str()), &ticket),
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum RegisterOutcome {
    Added,
    /// The authenticator's answer did not verify, or the passkey is already registered.
    Rejected,
    /// The ticket is too old, or not this account's.
    Expired,
}

pub async fn register_finish(
    state: &AppState,
    account: &Account,
    ticket: &str,
    name: &str,
    response_json: &str,
) -> Result<RegisterOutcome, ServiceError> {
    let now = state.clock.now();
    let Ok(opened) = state
        .server_secret
        .open(&ticket_purpose(account.id.as_str()), ticket)
    else {
        return Ok(RegisterOutcome::Expired);
    };
    let Some(ticket) = serde_json::from_slice::<Ticket>(&opened)
        .ok()
        .filter(|t| t.expires_at > now)
    else {
        return Ok(RegisterOutcome::Expired);
    };
    let Ok(passkey) = state
        .passkeys
        .finish_registration(&ticket.state, response_json)
    else {
        return Ok(RegisterOutcome::Rejected);
    };
    let row = PasskeyRow {
        credential_id: passkey.credential_id,
        account_id: account.id.to_string(),
        name: clean_name(name),
        credential: passkey.credential,
        created_at: now,
        last_used_at: None,
    };
    state
        .db
        .write(move |conn| {
            // A credential id is the authenticator's; one seen before is not registered again.
            if second_factors::find_passkey(conn, &row.credential_id)?.is_some() {
                return Ok(RegisterOutcome::Rejected);
            }
            second_factors::insert_passkey(conn, &row)?;
            audit::record_account_event(
                conn,
                now,
                "second_factor_added",
                &row.account_id,
                &format!("passkey {}", row.credential_id),
            )?;
            Ok::<_, ServiceError>(RegisterOutcome::Added)
        })
        .await
}

pub async fn rename(
    state: &AppState,
    account: &Account,
    credential_id: String,
    name: &str,
) -> Result<bool, ServiceError> {
    let (id, name) = (account.id.to_string(), clean_name(name));
    state
        .db
        .write(move |conn| {
            Ok::<_, ServiceError>(second_factors::rename_passkey(
                conn,
                &id,
                &credential_id,
                &name,
            )?)
        })
        .await
}

pub async fn remove(
    state: &AppState,
    account: &Account,
    credential_id: String,
) -> Result<bool, ServiceError> {
    let now = state.clock.now();
    let id = account.id.to_string();
    state
        .db
        .write(move |conn| {
            let removed = second_factors::delete_passkey(conn, &id, &credential_id)?;
            if removed {
                audit::record_account_event(
                    conn,
                    now,
                    "second_factor_removed",
                    &id,
                    &format!("passkey {credential_id}"),
                )?;
            }
            Ok::<_, ServiceError>(removed)
        })
        .await
}

/// The options for `navigator.credentials.get` in a login flow: the account's passkeys when
/// the flow waits for a second factor, any discoverable passkey when it waits for the first.
/// `None` if the flow is gone or there is nothing to ask for.
pub async fn sign_in_begin(
    state: &AppState,
    flow_id: String,
    binding: Option<String>,
) -> Result<Option<String>, ServiceError> {
    let Some(browser_hash) = binding.as_deref().map(secrets::hash_token) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let passkeys = state.passkeys.clone();
    state
        .db
        .write(move |conn| {
            let Some(flow) = login_flows::find_flow(conn, &flow_id, &browser_hash, now)? else {
                return Ok(None);
            };
            let challenge = match (flow.stage, &flow.account_id) {
                (FlowStage::SecondFactor, Some(account_id)) => {
                    let rows = second_factors::list_passkeys(conn, account_id)?;
                    if rows.is_empty() {
                        return Ok(None);
                    }
                    passkeys.start_authentication(&stored(&rows))
                }
                _ => passkeys.start_discoverable(),
            }
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
            login_flows::set_webauthn_state(conn, &flow.id, Some(&challenge.state))?;
            Ok::<_, ServiceError>(Some(challenge.options_json))
        })
        .await
}

#[derive(Debug)]
pub enum PasskeySignIn {
    SignedIn(Finished),
    /// The answer did not verify (or no challenge was pending): ask again.
    Rejected,
    Throttled {
        wait_secs: i64,
    },
    FlowExpired,
}

/// What a browser sends with a passkey's answer.
pub struct PasskeyAttempt {
    pub flow_id: String,
    pub response_json: String,
    pub ip: IpAddr,
    /// Its session cookie: replaced at a sign-in; at a step-up, the session to raise.
    pub previous_session: Option<String>,
    /// Its flow-binding cookie.
    pub binding: Option<String>,
}

pub async fn sign_in_finish(
    state: &AppState,
    attempt: PasskeyAttempt,
) -> Result<PasskeySignIn, ServiceError> {
    let PasskeyAttempt {
        flow_id,
        response_json,
        ip,
        previous_session,
        binding,
    } = attempt;
    let Some(browser_hash) = binding.as_deref().map(secrets::hash_token) else {
        return Ok(PasskeySignIn::FlowExpired);
    };
    let now = state.clock.now();
    let ctx = FinishContext {
        now,
        session_ttl: state.settings.tokens.session_ttl,
        code_ttl: state.settings.tokens.code_ttl,
        issuer: state.cfg.issuer.clone(),
        previous_session_hash: previous_session.map(|s| secrets::hash_token(&s)),
        ip: ip.to_string(),
    };
    let passkeys = state.passkeys.clone();
    let limits = throttle::Limits::new(&state.settings);
    state
        .db
        .run(move |conn| {
            // Take the pending challenge first, in its own transaction: whatever happens
            // next, this answer was the only one it gets.
            let taken = write_tx(conn, |conn| {
                let Some(flow) = login_flows::find_flow(conn, &flow_id, &browser_hash, now)? else {
                    return Ok::<_, ServiceError>(None);
                };
                login_flows::set_webauthn_state(conn, &flow.id, None)?;
                Ok(Some(flow))
            })?;
            let Some(flow) = taken else {
                return Ok(PasskeySignIn::FlowExpired);
            };
            let Some(challenge) = flow.webauthn_state.clone() else {
                return Ok(PasskeySignIn::Rejected);
            };
            let verified = match flow.stage {
                FlowStage::SecondFactor => {
                    second_factor(conn, &passkeys, &flow, &challenge, &response_json)?
                }
                // (`find_flow` never returns a consent flow.)
                FlowStage::Password | FlowStage::Consent => {
                    passwordless(conn, &passkeys, &challenge, &response_json)?
                }
            };
            let (account, credential, amr) = match verified {
                Verified::Yes {
                    account,
                    credential,
                    amr,
                } => (*account, credential, amr),
                Verified::No { account_id } => {
                    if let Some(id) = account_id {
                        // A failure counts on the account's second-factor budget (refused
                        // or not, the answer is the same).
                        let _ = throttle::reserve_on(conn, now, &[limits.second_factor(&id)])?;
                    }
                    return Ok(PasskeySignIn::Rejected);
                }
            };
            let budget = limits.second_factor(account.id.as_str());
            if let Err(wait_secs) = throttle::reserve_on(conn, now, std::slice::from_ref(&budget))?
            {
                return Ok(PasskeySignIn::Throttled { wait_secs });
            }
            let finished = write_tx(conn, |conn| {
                second_factors::touch_passkey(
                    conn,
                    &credential.credential_id,
                    &credential.credential,
                    now,
                )?;
                throttle::settle(conn, &[&budget], &[])?;
                sign_in::finish(conn, &flow, &account, amr, &ctx)
            })?;
            Ok(finished.map_or(PasskeySignIn::FlowExpired, PasskeySignIn::SignedIn))
        })
        .await
}

enum Verified {
    Yes {
        account: Box<Account>,
        credential: StoredPasskey,
        amr: Vec<String>,
    },
    No {
        account_id: Option<String>,
    },
}

/// The second factor after a password: one of this account's passkeys.
fn second_factor(
    conn: &mut DbConnection,
    passkeys: &Passkeys,
    flow: &LoginFlow,
    challenge: &str,
    response: &str,
) -> Result<Verified, ServiceError> {
    let Some(account_id) = flow.account_id.clone() else {
        return Ok(Verified::No { account_id: None });
    };
    let Some(account) = accounts::find_account(conn, &account_id)?.filter(Account::can_sign_in)
    else {
        return Ok(Verified::No { account_id: None });
    };
    let rows = second_factors::list_passkeys(conn, &account_id)?;
    match passkeys.finish_authentication(challenge, response, &stored(&rows)) {
        Ok(used) => Ok(Verified::Yes {
            account: Box::new(account),
            credential: StoredPasskey {
                credential_id: used.credential_id,
                credential: used.credential,
            },
            amr: authn::with_second_factor(&flow.amr, SecondFactor::Passkey),
        }),
        Err(_) => Ok(Verified::No {
            account_id: Some(account_id),
        }),
    }
}

/// A passwordless sign-in: the authenticator names the credential and its user; the
/// credential must be registered to that very user, and the user must have been verified.
fn passwordless(
    conn: &mut DbConnection,
    passkeys: &Passkeys,
    challenge: &str,
    response: &str,
) -> Result<Verified, ServiceError> {
    let Ok((user_handle, credential_id)) = passkeys.identify_discoverable(response) else {
        return Ok(Verified::No { account_id: None });
    };
    let Some(row) = second_factors::find_passkey(conn, &credential_id)? else {
        return Ok(Verified::No { account_id: None });
    };
    let Some(account) = accounts::find_account(conn, &row.account_id)?.filter(Account::can_sign_in)
    else {
        return Ok(Verified::No { account_id: None });
    };
    let account_id = Some(row.account_id.clone());
    if Passkeys::user_handle(&account.sub) != user_handle {
        return Ok(Verified::No { account_id });
    }
    let rows = second_factors::list_passkeys(conn, &row.account_id)?;
    match passkeys.finish_discoverable(challenge, response, &stored(&rows)) {
        Ok(used) if used.user_verified => Ok(Verified::Yes {
            account: Box::new(account),
            credential: StoredPasskey {
                credential_id: used.credential_id,
                credential: used.credential,
            },
            amr: vec![SecondFactor::Passkey.amr().to_string(), AMR_MFA.to_string()],
        }),
        _ => Ok(Verified::No { account_id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_never_empty() {
        assert_eq!(clean_name("  YubiKey 5 "), "YubiKey 5");
        assert_eq!(clean_name(" \n\t"), DEFAULT_NAME);
        assert_eq!(clean_name("a\u{0}b"), "ab");
        assert_eq!(
            clean_name(&"鍵".repeat(100)).chars().count(),
            MAX_NAME_CHARS
        );
    }
}
