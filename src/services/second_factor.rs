//! The second step of a sign-in: a code from an authenticator app, an e-mail or the backup
//! list (one form field, `code`), or a passkey (see `services::passkeys`).
//!
//! Guessing is throttled per account (the same counter for every kind of code) and per
//! sign-in flow, reserved before a code is judged (`services::throttle`); e-mail codes
//! also die after a few wrong tries (counted before compared), and every code is
//! single-use even under concurrent submission (conditional UPDATEs).

use std::net::IpAddr;

use crate::domain::account::Account;
use crate::domain::authn::{self, SecondFactor};
use crate::domain::second_factor::{backup_codes, email_otp, totp};
use crate::mail::messages;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::sign_in::{self, FinishContext, Finished};
use crate::services::throttle;
use crate::startup::AppState;
use crate::store::login_flows::{self, FlowStage, LoginFlow};
use crate::store::second_factors::{self, Methods, OneTimeCode};
use crate::store::{DbConnection, StoreResult, accounts, write_tx};

pub const PURPOSE_SIGN_IN: &str = "sign_in";
pub const PURPOSE_CONFIRM_ADDRESS: &str = "confirm_address";

/// How the second step begins.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// Methods are set up; the person picks one.
    Ready,
    /// E-mail is the only way (or the first off-campus access): a code went to `to` (masked).
    CodeSent { to: String },
    /// The code could not be sent; the page says so and offers to try again.
    SendFailed,
    /// No method and no personal e-mail: sign in from campus or the VPN to set one up.
    NotSet,
}

/// The e-mail a sign-in code goes to: the configured destination, or (first off-campus
/// access with nothing set up) the personal address registered at issue.
pub fn code_destination(account: &Account, methods: &Methods) -> Option<String> {
    methods.email.clone().or_else(|| {
        if methods.any() {
            None
        } else {
            account.personal_email.clone()
        }
    })
}

/// Decides how the second factor will be given and sends an e-mail code when e-mail is the
/// only way.
pub async fn enter(
    state: &AppState,
    account: &Account,
    methods: &Methods,
) -> Result<Entry, ServiceError> {
    let only_email = !methods.totp && methods.backup_codes_left == 0 && methods.passkeys == 0;
    if methods.any() && !only_email {
        return Ok(Entry::Ready);
    }
    match code_destination(account, methods) {
        Some(address) => send_sign_in_code(state, account, &address).await,
        None => Ok(Entry::NotSet),
    }
}

/// Sends a fresh sign-in code (voiding the previous one), unless one went out less than a
/// minute ago: then that one stands and nothing is sent, so the form cannot flood a mailbox.
pub async fn send_sign_in_code(
    state: &AppState,
    account: &Account,
    address: &str,
) -> Result<Entry, ServiceError> {
    let code = email_otp::generate_code();
    let now = state.clock.now();
    let code_id = secrets::new_id();
    let row = OneTimeCode {
        id: code_id.clone(),
        account_id: account.id.to_string(),
        purpose: PURPOSE_SIGN_IN.into(),
        code_mac: code_mac(state, account.id.as_str(), PURPOSE_SIGN_IN, &code),
        attempts: 0,
        created_at: now,
        expires_at: now + email_otp::CODE_TTL_SECS,
        consumed_at: None,
    };
    let sent = state
        .db
        .write(move |conn| {
            // One mail a minute at most: the live code a moment old is still on its way.
            let live = second_factors::find_live_code(
                conn,
                &row.account_id,
                PURPOSE_SIGN_IN,
                now,
                email_otp::MAX_ATTEMPTS,
            )?;
            if live.is_some_and(|c| now - c.created_at < email_otp::RESEND_AFTER_SECS) {
                return Ok(false);
            }
            second_factors::insert_code(conn, &row)?;
            Ok::<_, ServiceError>(true)
        })
        .await?;
    if !sent {
        return Ok(Entry::CodeSent { to: mask(address) });
    }
    let mail = messages::sign_in_code(account.id.as_str(), &code, email_otp::CODE_TTL_SECS / 60)
        .to(address);
    match state.mailer.send(mail).await {
        Ok(()) => Ok(Entry::CodeSent { to: mask(address) }),
        Err(e) => {
            tracing::error!(account = %account.id, error = %e, "sign-in code not sent");
            // The code never arrived: void it, so that "send again" really sends.
            state
                .db
                .write(move |conn| {
                    Ok::<_, ServiceError>(second_factors::consume_code(conn, &code_id, now)?)
                })
                .await?;
            Ok(Entry::SendFailed)
        }
    }
}

/// Sends another code for a flow waiting for its second factor ("send me a code").
pub async fn resend(
    state: &AppState,
    flow_id: String,
    binding: Option<String>,
) -> Result<Option<Entry>, ServiceError> {
    let Some((_, account, methods)) = waiting_flow(state, flow_id, binding).await? else {
        return Ok(None);
    };
    match code_destination(&account, &methods) {
        Some(address) => send_sign_in_code(state, &account, &address).await.map(Some),
        None => Ok(Some(Entry::NotSet)),
    }
}

/// A flow of this browser (flow-binding cookie `binding`) in the second-factor stage,
/// with its account and methods.
pub async fn waiting_flow(
    state: &AppState,
    flow_id: String,
    binding: Option<String>,
) -> Result<Option<(LoginFlow, Account, Methods)>, ServiceError> {
    let Some(browser_hash) = binding.as_deref().map(secrets::hash_token) else {
        return Ok(None);
    };
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let Some(flow) = login_flows::find_flow(conn, &flow_id, &browser_hash, now)? else {
                return Ok(None);
            };
            let Some(account_id) = flow
                .account_id
                .clone()
                .filter(|_| flow.stage == FlowStage::SecondFactor)
            else {
                return Ok(None);
            };
            let Some(account) =
                accounts::find_account(conn, &account_id)?.filter(Account::can_sign_in)
            else {
                return Ok(None);
            };
            let methods = second_factors::methods(conn, &account_id)?;
            Ok::<_, ServiceError>(Some((flow, account, methods)))
        })
        .await
}

#[derive(Debug)]
pub enum CodeOutcome {
    SignedIn(Finished),
    WrongCode,
    Throttled { wait_secs: i64 },
    FlowExpired,
}

/// What a browser sends with a second-factor code.
pub struct CodeAttempt {
    pub flow_id: String,
    pub code: String,
    pub ip: IpAddr,
    /// Its session cookie: replaced at a sign-in; at a step-up, the session to raise.
    pub previous_session: Option<String>,
    /// Its flow-binding cookie.
    pub binding: Option<String>,
}

pub async fn submit_code(
    state: &AppState,
    attempt: CodeAttempt,
) -> Result<CodeOutcome, ServiceError> {
    let CodeAttempt {
        flow_id,
        code,
        ip,
        previous_session,
        binding,
    } = attempt;
    let Some((flow, account, _)) = waiting_flow(state, flow_id, binding).await? else {
        return Ok(CodeOutcome::FlowExpired);
    };
    let previous_session_hash = previous_session.map(|s| secrets::hash_token(&s));
    // Checked again when finishing; here so that a code is not spent on a flow that
    // cannot finish (a step-up whose session this browser no longer holds).
    if !sign_in::holds_its_session(&flow, previous_session_hash.as_deref()) {
        return Ok(CodeOutcome::FlowExpired);
    }
    let now = state.clock.now();
    let limits = throttle::Limits::new(&state.settings);
    let budget = limits.second_factor(account.id.as_str());
    // Reserved before the code is looked at: the account's budget and this flow's cap.
    let reserve = vec![budget.clone(), limits.flow(&flow.id)];
    if let Err(wait_secs) = throttle::reserve(&state.db, now, reserve).await? {
        return Ok(CodeOutcome::Throttled { wait_secs });
    }
    let secret = state.server_secret.clone();
    let ctx = FinishContext {
        now,
        session_ttl: state.settings.tokens.session_ttl,
        code_ttl: state.settings.tokens.code_ttl,
        issuer: state.cfg.issuer.clone(),
        previous_session_hash,
        ip: ip.to_string(),
    };
    state
        .db
        .run(move |conn| {
            let factor = write_tx(conn, |conn| {
                Ok::<_, ServiceError>(check_code(conn, &secret, account.id.as_str(), &code, now)?)
            })?;
            let Some(factor) = factor else {
                return Ok(CodeOutcome::WrongCode);
            };
            let amr = authn::with_second_factor(&flow.amr, factor);
            let finished = write_tx(conn, |conn| {
                throttle::settle(conn, &[&budget], &[])?;
                sign_in::finish(conn, &flow, &account, amr, &ctx)
            })?;
            Ok(finished.map_or(CodeOutcome::FlowExpired, CodeOutcome::SignedIn))
        })
        .await
}

/// Which factor `input` proves, if any, consuming it. Six digits are tried as a TOTP code
/// and then as the live e-mail code; anything else as a backup code.
fn check_code(
    conn: &mut DbConnection,
    secret: &crate::server_secret::ServerSecret,
    account_id: &str,
    input: &str,
    now: i64,
) -> StoreResult<Option<SecondFactor>> {
    if let Some(digits) = email_otp::normalize(input) {
        if let Some(row) = second_factors::find_totp(conn, account_id)? {
            let seed = secret.open(&totp_purpose(account_id), &row.sealed_secret);
            match seed {
                Ok(seed) => {
                    if let Some(step) = totp::verify(&seed, &digits, now, row.last_step)
                        && second_factors::advance_totp(conn, account_id, step)?
                    {
                        return Ok(Some(SecondFactor::Totp));
                    }
                }
                Err(e) => tracing::error!(account_id, error = %e, "TOTP seed cannot be opened"),
            }
        }
        if let Some(code) = second_factors::find_live_code(
            conn,
            account_id,
            PURPOSE_SIGN_IN,
            now,
            email_otp::MAX_ATTEMPTS,
        )? && second_factors::reserve_attempt(conn, &code.id, email_otp::MAX_ATTEMPTS)?
        {
            // Counted before compared (a conditional UPDATE): parallel tries cannot
            // overrun the code's attempt limit.
            let mac = secret.mac(&code_purpose(account_id, PURPOSE_SIGN_IN), &digits);
            if secrets::constant_time_eq(&mac, &code.code_mac) {
                return Ok(second_factors::consume_code(conn, &code.id, now)?
                    .then_some(SecondFactor::EmailCode));
            }
        }
        return Ok(None);
    }
    if let Some(normalized) = backup_codes::normalize(input) {
        let mac = secret.mac(&backup_purpose(account_id), &normalized);
        if second_factors::consume_backup_code(conn, account_id, &mac, now)? {
            return Ok(Some(SecondFactor::BackupCode));
        }
    }
    Ok(None)
}

/// The associated data under which an account's TOTP seed is sealed.
pub fn totp_purpose(account_id: &str) -> String {
    format!("totp:{account_id}")
}

pub fn backup_purpose(account_id: &str) -> String {
    format!("backup-code:{account_id}")
}

pub fn code_purpose(account_id: &str, purpose: &str) -> String {
    format!("email-code:{purpose}:{account_id}")
}

fn code_mac(state: &AppState, account_id: &str, purpose: &str, code: &str) -> String {
    state
        .server_secret
        .mac(&code_purpose(account_id, purpose), code)
}

/// `taro@example.com` → `t***@example.com`: enough to recognise, not to harvest.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}
