//! Login flows: a sign-in in progress, with the authorization request it will resume and
//! how far it has got (password, then perhaps a second factor).

use diesel::prelude::*;

use super::schema::login_flows;
use super::{DbConnection, StoreError, StoreResult, from_json_list, to_json_list};
use crate::oidc::authorize::AuthorizationRequest;

/// Where a flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStage {
    /// Waiting for the account ID and password (or a passwordless passkey).
    Password,
    /// The password (or an existing session) is verified; a second factor is due.
    SecondFactor,
    /// Signed in; the person is asked to consent to a third-party client. Such a flow is
    /// bound to its session and invisible to the sign-in pages (see `find_flow`).
    Consent,
}

impl FlowStage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SecondFactor => "second_factor",
            Self::Consent => "consent",
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "second_factor" => Self::SecondFactor,
            "consent" => Self::Consent,
            _ => Self::Password,
        }
    }
}

#[derive(Clone, Debug)]
pub struct LoginFlow {
    pub id: String,
    /// `None` when the person came to the IdP directly (to the account pages).
    pub request: Option<AuthorizationRequest>,
    pub expires_at: i64,
    pub stage: FlowStage,
    /// Set once the first factor is verified.
    pub account_id: Option<String>,
    /// Methods passed so far (RFC 8176 values).
    pub amr: Vec<String>,
    /// When stepping up an existing session: its hash, to upgrade it in place.
    pub session_hash: Option<String>,
    /// A pending WebAuthn challenge's server-side state.
    pub webauthn_state: Option<String>,
    /// The SHA-256 of the flow-binding cookie of the browser that began the flow: every
    /// step must come from that browser (`find_flow` finds the flow for no other).
    pub browser_hash: Option<String>,
}

impl LoginFlow {
    /// A new flow in its password stage, bound to the browser whose binding cookie hashes
    /// to `browser_hash`.
    pub fn new(
        id: String,
        request: Option<AuthorizationRequest>,
        expires_at: i64,
        browser_hash: String,
    ) -> Self {
        LoginFlow {
            id,
            request,
            expires_at,
            stage: FlowStage::Password,
            account_id: None,
            amr: Vec::new(),
            session_hash: None,
            webauthn_state: None,
            browser_hash: Some(browser_hash),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = login_flows)]
struct FlowRow {
    id: String,
    request: Option<String>,
    account_id: Option<String>,
    created_at: i64,
    expires_at: i64,
    stage: String,
    amr: Option<String>,
    session_hash: Option<String>,
    webauthn_state: Option<String>,
    browser_hash: Option<String>,
}

pub fn insert_flow(conn: &mut DbConnection, flow: &LoginFlow, now: i64) -> StoreResult<()> {
    let request = flow
        .request
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Unavailable(format!("cannot encode request: {e}")))?;
    diesel::insert_into(login_flows::table)
        .values(FlowRow {
            id: flow.id.clone(),
            request,
            account_id: flow.account_id.clone(),
            created_at: now,
            expires_at: flow.expires_at,
            stage: flow.stage.as_str().into(),
            amr: Some(to_json_list(&flow.amr)),
            session_hash: flow.session_hash.clone(),
            webauthn_state: flow.webauthn_state.clone(),
            browser_hash: flow.browser_hash.clone(),
        })
        .execute(conn)?;
    Ok(())
}

/// How many open flows one client address may hold (see [`insert_flow_within_budget`]).
#[derive(Clone, Debug)]
pub struct AddressBudget {
    /// `domain::outbound::budget_key` of the client address.
    pub key: String,
    pub max_open: i64,
}

/// Inserts a flow opened by unauthenticated traffic, counted against its address: the
/// address's flows beyond the newest `max_open` are deleted in the same transaction (the
/// new one never), so what one address can make us store is bounded whatever it sends.
/// Eviction rather than refusal: someone behind the same campus NAT as a flood loses at
/// worst a sign-in page, and the flood cannot lock the address out.
pub fn insert_flow_within_budget(
    conn: &mut DbConnection,
    flow: &LoginFlow,
    now: i64,
    budget: &AddressBudget,
) -> StoreResult<()> {
    insert_flow(conn, flow, now)?;
    diesel::update(login_flows::table.find(&flow.id))
        .set(login_flows::client_key.eq(&budget.key))
        .execute(conn)?;
    let cutoff: Option<(i64, String)> = login_flows::table
        .filter(login_flows::client_key.eq(&budget.key))
        .order((login_flows::created_at.desc(), login_flows::id.desc()))
        .offset(budget.max_open.max(1))
        .select((login_flows::created_at, login_flows::id))
        .first(conn)
        .optional()?;
    if let Some((at, id)) = cutoff {
        diesel::delete(
            login_flows::table
                .filter(login_flows::client_key.eq(&budget.key))
                .filter(login_flows::id.ne(&flow.id))
                .filter(
                    login_flows::created_at
                        .lt(at)
                        .or(login_flows::created_at.eq(at).and(login_flows::id.le(id))),
                ),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A live sign-in flow begun by the browser whose binding cookie hashes to
/// `browser_hash`; `None` when unknown, expired, unreadable or another browser's (all the
/// same to the caller: the person starts again). Consent flows are not sign-ins: they are
/// never returned here.
pub fn find_flow(
    conn: &mut DbConnection,
    id: &str,
    browser_hash: &str,
    now: i64,
) -> StoreResult<Option<LoginFlow>> {
    find_in_stage(conn, id, browser_hash, now, false)
}

/// A live consent flow of this browser (see `FlowStage::Consent`).
pub fn find_consent_flow(
    conn: &mut DbConnection,
    id: &str,
    browser_hash: &str,
    now: i64,
) -> StoreResult<Option<LoginFlow>> {
    find_in_stage(conn, id, browser_hash, now, true)
}

fn find_in_stage(
    conn: &mut DbConnection,
    id: &str,
    browser_hash: &str,
    now: i64,
    consent: bool,
) -> StoreResult<Option<LoginFlow>> {
    let row = login_flows::table
        .find(id)
        .filter(login_flows::expires_at.gt(now))
        .filter(login_flows::browser_hash.eq(browser_hash))
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?
        .filter(|r| (FlowStage::parse(&r.stage) == FlowStage::Consent) == consent);
    Ok(row.and_then(|r| {
        let request = match r.request.as_deref().map(serde_json::from_str).transpose() {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable login flow");
                return None;
            }
        };
        Some(LoginFlow {
            id: r.id,
            request,
            expires_at: r.expires_at,
            stage: FlowStage::parse(&r.stage),
            account_id: r.account_id,
            amr: r.amr.as_deref().map(from_json_list).unwrap_or_default(),
            session_hash: r.session_hash,
            webauthn_state: r.webauthn_state,
            browser_hash: r.browser_hash,
        })
    }))
}

/// The first factor is done: the flow now waits for a second one, bound to `account_id`
/// for good. Only a flow still in its password stage, naming no account yet, moves on (one
/// conditional UPDATE, so two answers at once cannot bind it to two accounts); false
/// otherwise.
pub fn advance_to_second_factor(
    conn: &mut DbConnection,
    id: &str,
    account_id: &str,
    amr: &[String],
) -> StoreResult<bool> {
    let moved = diesel::update(
        login_flows::table
            .find(id)
            .filter(login_flows::stage.eq(FlowStage::Password.as_str()))
            .filter(login_flows::account_id.is_null()),
    )
    .set((
        login_flows::stage.eq(FlowStage::SecondFactor.as_str()),
        login_flows::account_id.eq(account_id),
        login_flows::amr.eq(to_json_list(amr)),
        // Past its password the flow is someone's sign-in, no longer anonymous traffic:
        // a flood from the same address must not evict it (see `insert_flow_within_budget`).
        login_flows::client_key.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(moved == 1)
}

/// Deletes `flow` to finish it, only while it is still in the stage and bound to the
/// account it was read with; false if a concurrent request finished or moved it.
pub fn take_flow(conn: &mut DbConnection, flow: &LoginFlow) -> StoreResult<bool> {
    let this = login_flows::table
        .find(&flow.id)
        .filter(login_flows::stage.eq(flow.stage.as_str()));
    let deleted = match &flow.account_id {
        Some(account_id) => {
            diesel::delete(this.filter(login_flows::account_id.eq(account_id))).execute(conn)?
        }
        None => diesel::delete(this.filter(login_flows::account_id.is_null())).execute(conn)?,
    };
    Ok(deleted == 1)
}

pub fn set_webauthn_state(
    conn: &mut DbConnection,
    id: &str,
    state: Option<&str>,
) -> StoreResult<()> {
    diesel::update(login_flows::table.find(id))
        .set(login_flows::webauthn_state.eq(state))
        .execute(conn)?;
    Ok(())
}

/// Deletes the flow; false if it was already gone (finished by a concurrent request).
pub fn delete_flow(conn: &mut DbConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(login_flows::table.find(id)).execute(conn)? == 1)
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(login_flows::table.filter(login_flows::expires_at.le(now))).execute(conn)?)
}
