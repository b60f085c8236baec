//! Signing in with the UEC account ID and password.
//!
//! Same failure, same time, same words: an unknown ID, a wrong password and an unusable
//! account all verify one argon2 hash (a dummy one when there is no account) and all get
//! the same answer, so neither the page nor its timing tells whether an ID exists.

use std::net::IpAddr;

use crate::domain::account::AccountId;
use crate::domain::throttle;
use crate::oidc::claims::ACR_PASSWORD;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::authorization::{code_redirect, issue_code};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::login_flows::{self, LoginFlow};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{accounts, throttle as throttle_store, write_tx};

/// Where a person lands after signing in directly (not from a relying party).
pub const DEFAULT_LANDING: &str = "/account";

pub struct PasswordAttempt {
    pub flow_id: String,
    pub username: String,
    pub password: String,
    pub ip: IpAddr,
    /// The session cookie the browser already had, replaced by the new one.
    pub previous_session: Option<String>,
}

#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn {
        /// The new session cookie's value.
        session_token: String,
        /// Where the browser goes next: the relying party with a code, or the landing page.
        next: String,
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

/// Opens a sign-in for someone who came to the IdP directly.
pub async fn start_direct_flow(state: &AppState) -> Result<String, ServiceError> {
    let now = state.clock.now();
    let flow = LoginFlow {
        id: secrets::new_token(),
        request: None,
        expires_at: now + state.settings.tokens.login_flow_ttl,
    };
    let id = flow.id.clone();
    state
        .db
        .write(move |conn| Ok::<_, ServiceError>(login_flows::insert_flow(conn, &flow, now)?))
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
    let verified = state.hasher.verify(attempt.password, phc).await?;

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

    let session_token = secrets::new_token();
    let session = BrowserSession {
        sid: secrets::new_id(),
        account_id: account.id.to_string(),
        auth_time: now,
        acr: ACR_PASSWORD.into(),
        amr: vec!["pwd".into()],
        expires_at: now + state.settings.tokens.session_ttl,
    };
    let code_ttl = state.settings.tokens.code_ttl;
    let issuer = state.cfg.issuer.clone();
    let session_hash = secrets::hash_token(&session_token);
    let previous = attempt.previous_session.map(|s| secrets::hash_token(&s));
    let next = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                // A fresh session id at every sign-in: a planted cookie is never promoted.
                if let Some(previous) = &previous {
                    sessions::delete_session(conn, previous)?;
                }
                sessions::insert_session(conn, &session_hash, &session, now)?;
                throttle_store::clear(conn, &account_key)?;
                login_flows::delete_flow(conn, &flow.id)?;
                let next = match &flow.request {
                    Some(request) => {
                        let code = issue_code(conn, request, &session, &account, now, code_ttl)?;
                        code_redirect(request, &code, &issuer)
                    }
                    None => DEFAULT_LANDING.to_string(),
                };
                audit::record(
                    conn,
                    AuditEvent {
                        at: now,
                        kind: "login_succeeded",
                        account_id: Some(account.id.as_str()),
                        client_id: flow.request.as_ref().map(|r| r.client_id.as_str()),
                        ip: Some(ip),
                        detail: Some("pwd".into()),
                    },
                )?;
                Ok::<_, ServiceError>(next)
            })
        })
        .await?;
    Ok(SignInOutcome::SignedIn {
        session_token,
        next,
    })
}
