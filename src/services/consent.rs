//! Consent for third-party clients (portal or dynamically registered, `require_consent`):
//! one stage right before a code would be issued, in both places codes are issued (the
//! authorization endpoint for a live session, `sign_in::finish` after a sign-in).
//!
//! The pending request waits server-side in a login flow of stage `Consent`, bound to the
//! session that will answer it and to the browser's flow-binding cookie, so the page's form
//! carries nothing a person could alter but Allow or Deny. Allow is judged where it is
//! given: a session whose factors no longer meet the policy there is stepped up first. The answer is remembered per scope; `/account/apps` withdraws it,
//! which also ends the client's grants (and so its tokens).

use crate::domain::account::Account;
use crate::domain::authn;
use crate::domain::client::Registrar;
use crate::domain::network_zone::Zone;
use crate::oidc::authorize::AuthorizationRequest;
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::authorization::{code_redirect, error_redirect, issue_code};
use crate::services::second_factor::{self, Entry};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::consents::{self, ConsentListing};
use crate::store::login_flows::{self, FlowStage, LoginFlow};
use crate::store::second_factors::{self, Methods};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{DbConnection, StoreError, StoreResult, accounts, clients, grants, write_tx};

/// The consent page.
pub const PATH: &str = "/consent";

/// How long the consent page may stay open before it must be asked again.
const CONSENT_TTL: i64 = 10 * 60;

/// Whether `request` must be put to the person before a code is issued: the client needs
/// consent and it was not given for every requested scope (or `prompt=consent`).
pub fn needed(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    account_id: &str,
) -> StoreResult<bool> {
    // A vanished client is refused by the access check that runs before this.
    let Some(client) = clients::find_client(conn, &request.client_id)? else {
        return Ok(false);
    };
    if !client.require_consent {
        return Ok(false);
    }
    if request.prompt_consent {
        return Ok(true);
    }
    let granted = consents::find_scope(conn, account_id, &request.client_id)?;
    Ok(!covers(granted.as_deref().unwrap_or(""), &request.scope))
}

/// Whether every scope of `requested` is among `granted` (both space-separated).
fn covers(granted: &str, requested: &str) -> bool {
    requested
        .split(' ')
        .filter(|s| !s.is_empty())
        .all(|s| granted.split(' ').any(|g| g == s))
}

/// The union of two space-separated scope lists, in first-seen order.
fn union(a: &str, b: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for s in a.split(' ').chain(b.split(' ')) {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

/// What a consent question is bound to: the session that will get the code and the
/// browser (its flow-binding cookie) that asked.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    pub session_hash: &'a str,
    pub browser_hash: &'a str,
}

/// Stores the pending request on a consent flow bound to the session and the browser;
/// returns the local path of the consent page. (Consent flows are only ever created here,
/// new: no flow of another stage becomes one.)
pub fn ask(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    account: &Account,
    session: &BrowserSession,
    bound: Binding<'_>,
    now: i64,
) -> StoreResult<String> {
    let mut flow = LoginFlow::new(
        secrets::new_token(),
        Some(request.clone()),
        now + CONSENT_TTL,
        bound.browser_hash.to_string(),
    );
    flow.stage = FlowStage::Consent;
    flow.account_id = Some(account.id.to_string());
    flow.amr = session.amr.clone();
    flow.session_hash = Some(bound.session_hash.to_string());
    login_flows::insert_flow(conn, &flow, now)?;
    Ok(format!("{PATH}?flow={}", flow.id))
}

/// What the consent page shows.
#[derive(Debug)]
pub struct ConsentView {
    pub client_name: String,
    /// Who registered the app: the page must not vouch for what the university did not.
    pub registrant: Registrant,
    /// The requested scopes, in the order of `SUPPORTED_SCOPES`.
    pub scopes: Vec<String>,
    pub account_id: String,
}

/// Who stands behind an app, as the consent page says it.
#[derive(Debug, PartialEq, Eq)]
pub enum Registrant {
    /// The ITC, with `uec-idp client register`.
    University,
    /// A faculty or staff member at `/developer` (their name).
    Person(String),
    /// Anyone holding an initial access token (RFC 7591): nobody at the university
    /// reviewed it.
    Unreviewed,
}

/// What the browser presents with a consent step: its session cookie and its flow-binding
/// cookie (both raw values).
pub struct Presented {
    pub session_cookie: Option<String>,
    pub binding: Option<String>,
}

/// The live consent flow and its request, if `flow_id` belongs to this browser and its
/// session.
fn own_flow(
    conn: &mut DbConnection,
    flow_id: &str,
    session_cookie: &str,
    binding: &str,
    now: i64,
) -> StoreResult<Option<(LoginFlow, AuthorizationRequest, BrowserSession, Account)>> {
    let browser_hash = secrets::hash_token(binding);
    let Some(flow) = login_flows::find_consent_flow(conn, flow_id, &browser_hash, now)? else {
        return Ok(None);
    };
    let hash = secrets::hash_token(session_cookie);
    let bound = flow
        .session_hash
        .as_deref()
        .is_some_and(|h| secrets::constant_time_eq(h, &hash));
    if !bound {
        return Ok(None);
    }
    let Some((session, account)) = sessions::find_session(conn, &hash, now)? else {
        return Ok(None);
    };
    if flow.account_id.as_deref() != Some(account.id.as_str()) || !account.can_sign_in() {
        return Ok(None);
    }
    let Some(request) = flow.request.clone() else {
        return Ok(None);
    };
    Ok(Some((flow, request, session, account)))
}

/// The consent page's content; `None` when the flow is gone or not this browser's.
pub async fn view(
    state: &AppState,
    flow_id: String,
    presented: Presented,
) -> Result<Option<ConsentView>, ServiceError> {
    let (Some(cookie), Some(binding)) = (presented.session_cookie, presented.binding) else {
        return Ok(None);
    };
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let Some((_, request, _, account)) = own_flow(conn, &flow_id, &cookie, &binding, now)?
            else {
                return Ok(None);
            };
            let Some(client) = clients::find_client(conn, &request.client_id)? else {
                return Ok(None);
            };
            let registrant = match (client.registered_by, client.owner_account_id.as_deref()) {
                (Registrar::Operator, _) => Registrant::University,
                (Registrar::Developer, Some(id)) => Registrant::Person(
                    accounts::find_account(conn, id)?.map_or_else(|| id.to_string(), |a| a.name),
                ),
                (Registrar::Developer, None) | (Registrar::Dynamic, _) => Registrant::Unreviewed,
            };
            Ok::<_, ServiceError>(Some(ConsentView {
                client_name: client.name,
                registrant,
                scopes: request.scope.split(' ').map(str::to_string).collect(),
                account_id: account.id.to_string(),
            }))
        })
        .await
}

/// Where the browser goes after answering.
#[derive(Debug)]
pub enum Answered {
    /// Back to the relying party with a code or `access_denied`.
    Redirect(String),
    /// "Allow" from where the session's factors no longer satisfy the policy (a question
    /// opened on campus, answered from off campus): no code; the session is stepped up
    /// first and the question is asked again once it is raised.
    StepUp { flow_id: String, entry: Entry },
}

/// What the answer decided inside its transaction (a step-up still sends its e-mail code).
enum Decided {
    Redirect(String),
    StepUp {
        flow_id: String,
        account: Box<Account>,
        methods: Methods,
    },
}

/// The person's answer, from `zone`; `None` when the flow is gone, already answered or not
/// this browser's.
pub async fn answer(
    state: &AppState,
    flow_id: String,
    presented: Presented,
    allow: bool,
    ip: String,
    zone: Zone,
) -> Result<Option<Answered>, ServiceError> {
    let (Some(cookie), Some(binding)) = (presented.session_cookie, presented.binding) else {
        return Ok(None);
    };
    let ctx = AnswerContext {
        allow,
        ip,
        zone,
        issuer: state.cfg.issuer.clone(),
        code_ttl: state.settings.tokens.code_ttl,
        flow_ttl: state.settings.tokens.login_flow_ttl,
        now: state.clock.now(),
    };
    let decided = state
        .db
        .run(move |conn| {
            let answer = |conn: &mut DbConnection| {
                write_tx(conn, |conn| {
                    answer_in(conn, &flow_id, &cookie, &binding, &ctx)
                })
            };
            // Two first answers for one app at once (two tabs) race to insert the consent;
            // on PostgreSQL the loser's transaction fails whole, so it runs once more and
            // finds the row (SQLite's write lock serialises them anyway).
            match answer(conn) {
                Err(StoreError::Conflict) => answer(conn),
                other => other,
            }
        })
        .await
        .map_err(ServiceError::from)?;
    Ok(match decided {
        None => None,
        Some(Decided::Redirect(location)) => Some(Answered::Redirect(location)),
        Some(Decided::StepUp {
            flow_id,
            account,
            methods,
        }) => {
            let entry = second_factor::enter(state, &account, &methods).await?;
            Some(Answered::StepUp { flow_id, entry })
        }
    })
}

struct AnswerContext {
    allow: bool,
    ip: String,
    zone: Zone,
    issuer: String,
    code_ttl: i64,
    flow_ttl: i64,
    now: i64,
}

fn answer_in(
    conn: &mut DbConnection,
    flow_id: &str,
    cookie: &str,
    binding: &str,
    ctx: &AnswerContext,
) -> StoreResult<Option<Decided>> {
    let now = ctx.now;
    let Some((flow, request, session, account)) = own_flow(conn, flow_id, cookie, binding, now)?
    else {
        return Ok(None);
    };
    if !login_flows::delete_flow(conn, &flow.id)? {
        return Ok(None);
    }
    let event = |kind| AuditEvent {
        at: now,
        kind,
        account_id: Some(account.id.as_str()),
        client_id: Some(request.client_id.as_str()),
        ip: Some(ctx.ip.clone()),
        detail: Some(request.scope.clone()),
    };
    if !ctx.allow {
        audit::record(conn, event("consent_denied"))?;
        let error = OAuthError::new(OAuthErrorCode::AccessDenied, "the person did not consent");
        return Ok(Some(Decided::Redirect(error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &error,
            &ctx.issuer,
        ))));
    }
    // The question may have been opened elsewhere: the policy is the one of where it is
    // answered, as `/authorize` would apply it now. Nothing is remembered yet.
    let requires_mfa =
        clients::find_client(conn, &request.client_id)?.is_some_and(|c| c.require_mfa);
    if authn::second_factor_required(ctx.zone, &request.acr_values, requires_mfa)
        && !authn::is_multi_factor(&session.amr)
    {
        let mut step_up = LoginFlow::new(
            secrets::new_token(),
            Some(request),
            now + ctx.flow_ttl,
            secrets::hash_token(binding),
        );
        step_up.stage = FlowStage::SecondFactor;
        step_up.account_id = Some(account.id.to_string());
        step_up.amr = session.amr.clone();
        step_up.session_hash = Some(secrets::hash_token(cookie));
        login_flows::insert_flow(conn, &step_up, now)?;
        let methods = second_factors::methods(conn, account.id.as_str())?;
        return Ok(Some(Decided::StepUp {
            flow_id: step_up.id,
            account: Box::new(account),
            methods,
        }));
    }
    let before = consents::find_scope(conn, account.id.as_str(), &request.client_id)?;
    let scope = union(before.as_deref().unwrap_or(""), &request.scope);
    consents::upsert(conn, account.id.as_str(), &request.client_id, &scope, now)?;
    audit::record(conn, event("consent_granted"))?;
    let code = issue_code(conn, &request, &session, &account, now, ctx.code_ttl)?;
    Ok(Some(Decided::Redirect(code_redirect(
        &request,
        &code,
        &ctx.issuer,
    ))))
}

pub async fn list(
    state: &AppState,
    account_id: String,
) -> Result<Vec<ConsentListing>, ServiceError> {
    state
        .db
        .run(move |conn| Ok(consents::list_for_account(conn, &account_id)?))
        .await
}

/// Withdraws the consent to `client_id` and ends every grant of it (so its refresh and
/// access tokens stop working), in one transaction. False if there was no consent.
pub async fn withdraw(
    state: &AppState,
    account_id: String,
    client_id: String,
    ip: String,
) -> Result<bool, ServiceError> {
    let now = state.clock.now();
    state
        .db
        .write(move |conn| {
            if !consents::delete(conn, &account_id, &client_id)? {
                return Ok(false);
            }
            let ended = grants::revoke_for_account_and_client(conn, &account_id, &client_id, now)?;
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: "consent_withdrawn",
                    account_id: Some(&account_id),
                    client_id: Some(&client_id),
                    ip: Some(ip),
                    detail: Some(format!("{ended} grants revoked")),
                },
            )?;
            Ok::<_, ServiceError>(true)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_scopes_cover_only_what_they_name() {
        assert!(covers("openid profile", "openid"));
        assert!(covers("openid profile", "profile openid"));
        assert!(!covers("openid", "openid email"));
        assert!(!covers("", "openid"));
    }

    #[test]
    fn the_union_keeps_every_scope_once() {
        assert_eq!(
            union("openid profile", "openid email"),
            "openid profile email"
        );
        assert_eq!(union("", "openid"), "openid");
    }
}
