//! Signing in with the UEC account ID and password.
//!
//! Same failure, same time, same words: an unknown ID, a wrong password and an unusable
//! account all verify one argon2 hash (a dummy one when there is no account) and all get
//! the same answer, so neither the page nor its timing tells whether an ID exists.

use std::net::IpAddr;

use crate::domain::account::{Account, AccountId};
use crate::domain::authn::{self, AMR_PASSWORD};
use crate::domain::network_zone::Zone;
use crate::domain::password;
use crate::domain::throttle;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::second_factor::{self, Entry};
use crate::services::sign_in::{self, FinishContext, Finished};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::login_flows::{self, LoginFlow};
use crate::store::second_factors;
use crate::store::{accounts, clients, throttle as throttle_store, write_tx};

pub struct PasswordAttempt {
    pub flow_id: String,
    pub username: String,
    pub password: String,
    pub ip: IpAddr,
    pub zone: Zone,
    /// The session cookie the browser already had, replaced by the new one.
    pub previous_session: Option<String>,
}

#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(Finished),
    /// The password was right; a second factor is due (the flow now waits for it).
    NeedSecondFactor {
        flow_id: String,
        entry: Entry,
    },
    Refused(Refusal),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong ID or password, or an account that cannot sign in: deliberately one case.
    WrongCredentials,
    Throttled {
        wait_secs: i64,
    },
    PasswordExpired,
    /// The flow expired or never existed: start again from the application.
    FlowExpired,
}

/// Opens a sign-in for someone who came to the IdP directly (counted against `address`,
/// see `login_flows::insert_flow_within_budget`).
pub async fn start_direct_flow(
    state: &AppState,
    address: std::net::IpAddr,
) -> Result<String, ServiceError> {
    let budget = login_flows::AddressBudget {
        key: crate::domain::outbound::budget_key(address),
        max_open: state.settings.limits.open_flows_per_address,
    };
    let now = state.clock.now();
    let flow = LoginFlow::new(
        secrets::new_token(),
        None,
        now + state.settings.tokens.login_flow_ttl,
    );
    let id = flow.id.clone();
    state
        .db
        .write(move |conn| {
            Ok::<_, ServiceError>(login_flows::insert_flow_within_budget(
                conn, &flow, now, &budget,
            )?)
        })
        .await?;
    Ok(id)
}

/// The flow, if it is still live (to render the form with its `login_hint`).
pub async fn find_flow(
    state: &AppState,
    flow_id: String,
) -> Result<Option<LoginFlow>, ServiceError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| Ok(login_flows::find_flow(conn, &flow_id, now)?))
        .await
}

pub async fn submit_password(
    state: &AppState,
    attempt: PasswordAttempt,
) -> Result<SignInOutcome, ServiceError> {
    let now = state.clock.now();
    let t = state.settings.throttle.clone();
    let account_id = AccountId::from_login_input(&attempt.username);
    let account_key = format!("account:{}", attempt.username.trim().to_ascii_lowercase());
    let address_key = format!("address:{}", attempt.ip);

    let (flow, counts, found) = {
        let (flow_id, keys, id) = (
            attempt.flow_id.clone(),
            vec![account_key.clone(), address_key.clone()],
            account_id.clone(),
        );
        state
            .db
            .run(move |conn| {
                let flow = login_flows::find_flow(conn, &flow_id, now)?;
                let counts = throttle_store::find_counts(conn, &keys)?;
                let found = match &id {
                    Some(id) => accounts::find_with_password(conn, id.as_str())?,
                    None => None,
                };
                Ok::<_, ServiceError>((flow, counts, found))
            })
            .await?
    };
    let Some(flow) = flow else {
        return Ok(SignInOutcome::Refused(Refusal::FlowExpired));
    };
    let wait = counts
        .iter()
        .filter_map(|c| {
            let free = if c.key == account_key {
                t.account_free_failures
            } else {
                t.address_free_failures
            };
            throttle::wait_secs(
                c.failures,
                c.last_failure_at,
                now,
                free,
                t.window_secs,
                t.max_delay_secs,
            )
        })
        .max();
    if let Some(wait_secs) = wait {
        return Ok(SignInOutcome::Refused(Refusal::Throttled { wait_secs }));
    }

    let (account, credential) = match found {
        Some((account, credential)) if account.can_sign_in() => (Some(account), credential),
        _ => (None, None),
    };
    let phc = credential.as_ref().map(|c| c.hash.clone());
    // Kept to judge its strength once it is known to be right.
    let password = attempt.password;
    let verified = state.hasher.verify(password.clone(), phc).await?;

    let ip = attempt.ip.to_string();
    let (Some(account), Some(credential), true) = (account, credential, verified) else {
        state
            .db
            .write(move |conn| {
                throttle_store::record_failure(conn, &account_key, now, t.window_secs)?;
                throttle_store::record_failure(conn, &address_key, now, t.window_secs)?;
                audit::record(
                    conn,
                    AuditEvent {
                        at: now,
                        kind: "login_failed",
                        account_id: account_id.as_ref().map(AccountId::as_str),
                        ip: Some(ip),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ServiceError>(())
            })
            .await?;
        return Ok(SignInOutcome::Refused(Refusal::WrongCredentials));
    };
    if credential.is_expired(now) {
        return Ok(SignInOutcome::Refused(Refusal::PasswordExpired));
    }
    let right = RightPassword {
        password,
        zone: attempt.zone,
        ip,
        previous_session: attempt.previous_session,
    };
    after_password(state, flow, account, right, now).await
}

/// A password found right, and where it came from.
struct RightPassword {
    /// Kept to judge its strength.
    password: String,
    zone: Zone,
    ip: String,
    previous_session: Option<String>,
}

/// The password is right: sign in, or move the flow on to its second factor.
async fn after_password(
    state: &AppState,
    flow: LoginFlow,
    account: Account,
    right: RightPassword,
    now: i64,
) -> Result<SignInOutcome, ServiceError> {
    let RightPassword {
        password,
        zone,
        ip,
        previous_session,
    } = right;
    let amr = vec![AMR_PASSWORD.to_string()];
    let ctx = FinishContext {
        now,
        session_ttl: state.settings.tokens.session_ttl,
        code_ttl: state.settings.tokens.code_ttl,
        issuer: state.cfg.issuer.clone(),
        previous_session_hash: previous_session.map(|s| secrets::hash_token(&s)),
        ip,
    };
    let account_id = account.id.to_string();
    let weak_change_secs = state.settings.passwords.weak_change_days * 86_400;
    let (flow_id, step) = {
        let account = account.clone();
        state
            .db
            .run(move |conn| {
                // A weak password signs in, but must be changed by a deadline (DOMAIN.md).
                let weak = password::judge(&password, &account_id, &account.name).is_err();
                drop(password);
                write_tx(conn, |conn| {
                    if weak {
                        accounts::flag_password(conn, &account_id, now + weak_change_secs)?;
                    }
                    let client = match &flow.request {
                        Some(request) => clients::find_client(conn, &request.client_id)?,
                        None => None,
                    };
                    let acr_values = flow
                        .request
                        .as_ref()
                        .map(|r| r.acr_values.clone())
                        .unwrap_or_default();
                    let requires_mfa = client.is_some_and(|c| c.require_mfa);
                    if authn::second_factor_required(zone, &acr_values, requires_mfa) {
                        throttle_store::clear(conn, &format!("account:{account_id}"))?;
                        login_flows::advance_to_second_factor(conn, &flow.id, &account_id, &amr)?;
                        let methods = second_factors::methods(conn, &account_id)?;
                        return Ok::<_, ServiceError>((flow.id.clone(), Err(methods)));
                    }
                    Ok((
                        flow.id.clone(),
                        Ok(sign_in::finish(conn, &flow, &account, amr, &ctx)?),
                    ))
                })
            })
            .await?
    };
    match step {
        Ok(Some(finished)) => Ok(SignInOutcome::SignedIn(finished)),
        Ok(None) => Ok(SignInOutcome::Refused(Refusal::FlowExpired)),
        Err(methods) => {
            let entry = second_factor::enter(state, &account, &methods).await?;
            Ok(SignInOutcome::NeedSecondFactor { flow_id, entry })
        }
    }
}
