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
use crate::secrets;
use crate::services::ServiceError;
use crate::services::second_factor::{self, Entry};
use crate::services::sign_in::{self, FinishContext, Finished};
use crate::services::throttle;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::login_flows::{self, FlowStage, LoginFlow};
use crate::store::second_factors;
use crate::store::{accounts, clients, write_tx};

pub struct PasswordAttempt {
    pub flow_id: String,
    pub username: String,
    pub password: String,
    pub ip: IpAddr,
    pub zone: Zone,
    /// The session cookie the browser already had, replaced by the new one.
    pub previous_session: Option<String>,
    /// The browser's flow-binding cookie: the flow must be this browser's.
    pub binding: Option<String>,
    /// The browser's device token, if it has one (see `services::throttle`).
    pub device_token: Option<String>,
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

/// Opens a sign-in for someone who came to the IdP directly, bound to the browser whose
/// flow-binding cookie is `binding` and counted against `address` (see
/// `login_flows::insert_flow_within_budget`).
pub async fn start_direct_flow(
    state: &AppState,
    binding: &str,
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
        secrets::hash_token(binding),
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

/// The flow, if it is still live, this browser's and waiting for its password (to render
/// the form with its `login_hint`).
pub async fn find_flow(
    state: &AppState,
    flow_id: String,
    binding: Option<String>,
) -> Result<Option<LoginFlow>, ServiceError> {
    let Some(browser_hash) = binding.as_deref().map(secrets::hash_token) else {
        return Ok(None);
    };
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            Ok(login_flows::find_flow(conn, &flow_id, &browser_hash, now)?
                .filter(waits_for_password))
        })
        .await
}

/// `/login` takes only a flow in its password stage that names no account yet: a flow past
/// it (a second factor due, a step-up of an existing session) is never given a password.
fn waits_for_password(flow: &LoginFlow) -> bool {
    flow.stage == FlowStage::Password && flow.account_id.is_none()
}

pub async fn submit_password(
    state: &AppState,
    attempt: PasswordAttempt,
) -> Result<SignInOutcome, ServiceError> {
    let now = state.clock.now();
    let account_id = AccountId::from_login_input(&attempt.username);
    let (who, address) = throttle::password_limits(
        &throttle::Limits::new(&state.settings),
        &state.server_secret,
        &attempt.username,
        attempt.device_token.as_deref(),
        attempt.ip,
    );

    let Some(browser_hash) = attempt.binding.as_deref().map(secrets::hash_token) else {
        return Ok(SignInOutcome::Refused(Refusal::FlowExpired));
    };
    let (flow, found) = {
        let (flow_id, id) = (attempt.flow_id.clone(), account_id.clone());
        state
            .db
            .run(move |conn| {
                let flow = login_flows::find_flow(conn, &flow_id, &browser_hash, now)?
                    .filter(waits_for_password);
                let found = match &id {
                    Some(id) => accounts::find_with_password(conn, id.as_str())?,
                    None => None,
                };
                Ok::<_, ServiceError>((flow, found))
            })
            .await?
    };
    let Some(flow) = flow else {
        return Ok(SignInOutcome::Refused(Refusal::FlowExpired));
    };
    // The attempt is counted before it is judged: parallel guesses cost what sequential
    // ones do.
    let limits = vec![who.clone(), address.clone()];
    if let Err(wait_secs) = throttle::reserve(&state.db, now, limits).await? {
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
    // Right: the browser's (or account's) count starts again, the address gets its
    // attempt back.
    state
        .db
        .write(move |conn| Ok::<_, ServiceError>(throttle::settle(conn, &[&who], &[&address])?))
        .await?;
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
                        // Bound to this account for good; a flow another answer already
                        // bound (or moved on) is not this one's to take.
                        if !login_flows::advance_to_second_factor(
                            conn,
                            &flow.id,
                            &account_id,
                            &amr,
                        )? {
                            return Ok::<_, ServiceError>((flow.id.clone(), Ok(None)));
                        }
                        let methods = second_factors::methods(conn, &account_id)?;
                        return Ok((flow.id.clone(), Err(methods)));
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
