//! The authorization endpoint's decision: answer at once from a live session, send the
//! person to sign in, or refuse; and issuing codes once someone is signed in.

use url::Url;

use crate::domain::account::Account;
use crate::domain::authn;
use crate::domain::network_zone::Zone;
use crate::domain::outbound::budget_key;
use crate::oidc::authorize::{
    self, AuthorizationRequest, AuthorizeRejection, Prompt, RawAuthorizeParams,
};
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::access;
use crate::services::second_factor::{self, Entry};
use crate::services::{consent, par};
use crate::startup::AppState;
use crate::store::grants::{self, Grant, IssuedCode};
use crate::store::login_flows::{self, AddressBudget, FlowStage, LoginFlow};
use crate::store::second_factors::{self, Methods};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{DbConnection, StoreResult, accounts, clients};

#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Back to the relying party: a code, or an error it must handle.
    Redirect(String),
    /// The person must sign in first; the flow holds the request.
    SignIn { flow_id: String },
    /// The session has only a password but this request needs a second factor: step up.
    StepUp { flow_id: String, entry: Entry },
    /// The request cannot be trusted enough to redirect anywhere.
    Page(String),
    /// The signed-in person's password is past its change-by date: to the change page,
    /// and no code for anyone until it is changed.
    ChangePassword,
    /// The relying party does not admit the signed-in account: our own page (a local
    /// path) says why; no code is issued.
    Refused(String),
    /// A third-party client the person has not consented to (for these scopes): our
    /// consent page (a local path) asks first.
    Consent(String),
}

/// What the transaction decided; a step-up still has to send its e-mail code afterwards.
enum Decided {
    Done(AuthorizeOutcome),
    StepUp {
        flow_id: String,
        account: Box<Account>,
        methods: Methods,
    },
}

/// Decides an authorization request from the browser holding `session_id` (its session
/// cookie) and `binding` (its flow-binding cookie: any flow begun here belongs to it).
pub async fn authorize(
    state: &AppState,
    raw: RawAuthorizeParams,
    session_id: Option<String>,
    binding: &str,
    zone: Zone,
    address: std::net::IpAddr,
) -> Result<AuthorizeOutcome, ServiceError> {
    let browser_hash = secrets::hash_token(binding);
    let now = state.clock.now();
    // Nobody is signed in yet: what this request stores counts against its address.
    let budget = AddressBudget {
        key: budget_key(address),
        max_open: state.settings.limits.open_flows_per_address,
    };
    let code_ttl = state.settings.tokens.code_ttl;
    let flow_ttl = state.settings.tokens.login_flow_ttl;
    let issuer = state.cfg.issuer.clone();
    let decided = state
        .db
        .write(move |conn| {
            use Decided::Done;
            // RFC 9126 §4: a pushed request replaces the query (all but client_id).
            let (raw, pushed) = match raw.request_uri.as_deref() {
                Some(uri) => match par::redeem(conn, uri, raw.client_id.as_deref(), now)? {
                    Some(stored) => (stored, true),
                    None => return Ok(Done(AuthorizeOutcome::Page(par::UNUSABLE.into()))),
                },
                None => (raw, false),
            };
            let client = match raw.client_id.as_deref() {
                Some(id) => clients::find_client(conn, id)?,
                None => None,
            };
            let request = match authorize::validate(&raw, client.as_ref()) {
                Ok(request) => request,
                Err(AuthorizeRejection::Page(message)) => {
                    return Ok(Done(AuthorizeOutcome::Page(message)));
                }
                Err(AuthorizeRejection::Redirect {
                    redirect_uri,
                    state,
                    error,
                }) => {
                    return Ok(Done(AuthorizeOutcome::Redirect(error_redirect(
                        &redirect_uri,
                        state.as_deref(),
                        &error,
                        &issuer,
                    ))));
                }
            };
            if !pushed && client.as_ref().is_some_and(|c| c.require_par) {
                // The redirect URI is registered (validated above): tell the client.
                let error = OAuthError::invalid_request(
                    "this client must push its authorization requests (RFC 9126)",
                );
                return Ok(Done(AuthorizeOutcome::Redirect(error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    &error,
                    &issuer,
                ))));
            }
            let needs_mfa = authn::second_factor_required(
                zone,
                &request.acr_values,
                client.as_ref().is_some_and(|c| c.require_mfa),
            );
            let refuse = |code, description: &str| {
                let error = OAuthError::new(code, description);
                Ok(Done(AuthorizeOutcome::Redirect(error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    &error,
                    &issuer,
                ))))
            };
            let live = match session_id.as_deref() {
                Some(id) => sessions::find_session(conn, &secrets::hash_token(id), now)?,
                None => None,
            };
            if let Some((session, account)) =
                live.filter(|(s, a)| session_satisfies(&request, s, a, now))
            {
                if accounts::password_change_by(conn, account.id.as_str())?
                    .is_some_and(|by| now >= by)
                {
                    if request.prompt == Prompt::None {
                        return refuse(
                            OAuthErrorCode::InteractionRequired,
                            "the password must be changed",
                        );
                    }
                    return Ok(Done(AuthorizeOutcome::ChangePassword));
                }
                // Before any step-up: a second factor would not change the answer.
                if let Some(path) = access::check(conn, &request, &account, now, None)? {
                    if request.prompt == Prompt::None {
                        return refuse(
                            OAuthErrorCode::AccessDenied,
                            "the account is not admitted to this application",
                        );
                    }
                    return Ok(Done(AuthorizeOutcome::Refused(path)));
                }
                if !needs_mfa || authn::is_multi_factor(&session.amr) {
                    if consent::needed(conn, &request, account.id.as_str())? {
                        if request.prompt == Prompt::None {
                            return refuse(
                                OAuthErrorCode::ConsentRequired,
                                "the person has not consented to this application",
                            );
                        }
                        let hash = session_id.as_deref().map(secrets::hash_token);
                        let bound = consent::Binding {
                            session_hash: hash.as_deref().unwrap_or_default(),
                            browser_hash: &browser_hash,
                        };
                        let path = consent::ask(conn, &request, &account, &session, bound, now)?;
                        return Ok(Done(AuthorizeOutcome::Consent(path)));
                    }
                    let code = issue_code(conn, &request, &session, &account, now, code_ttl)?;
                    return Ok(Done(AuthorizeOutcome::Redirect(code_redirect(
                        &request, &code, &issuer,
                    ))));
                }
                // A password-only session where a second factor is needed: step it up in
                // place rather than asking for the password again.
                if request.prompt == Prompt::None {
                    return refuse(
                        OAuthErrorCode::InteractionRequired,
                        "a second factor is needed",
                    );
                }
                let session_hash = session_id.as_deref().map(secrets::hash_token);
                let mut flow = LoginFlow::new(
                    secrets::new_token(),
                    Some(request),
                    now + flow_ttl,
                    browser_hash.clone(),
                );
                flow.stage = FlowStage::SecondFactor;
                flow.account_id = Some(account.id.to_string());
                flow.amr = session.amr.clone();
                flow.session_hash = session_hash;
                login_flows::insert_flow(conn, &flow, now)?;
                let methods = second_factors::methods(conn, account.id.as_str())?;
                return Ok(Decided::StepUp {
                    flow_id: flow.id,
                    account: Box::new(account),
                    methods,
                });
            }
            if request.prompt == Prompt::None {
                return refuse(OAuthErrorCode::LoginRequired, "the person is not signed in");
            }
            let flow = LoginFlow::new(
                secrets::new_token(),
                Some(request),
                now + flow_ttl,
                browser_hash.clone(),
            );
            login_flows::insert_flow_within_budget(conn, &flow, now, &budget)?;
            Ok::<_, ServiceError>(Done(AuthorizeOutcome::SignIn { flow_id: flow.id }))
        })
        .await?;
    match decided {
        Decided::Done(outcome) => Ok(outcome),
        Decided::StepUp {
            flow_id,
            account,
            methods,
        } => {
            let entry = second_factor::enter(state, &account, &methods).await?;
            Ok(AuthorizeOutcome::StepUp { flow_id, entry })
        }
    }
}

/// Whether an existing session may answer this request without asking for the password.
fn session_satisfies(
    request: &AuthorizationRequest,
    session: &BrowserSession,
    account: &Account,
    now: i64,
) -> bool {
    account.can_sign_in()
        && request.prompt != Prompt::Login
        && request
            .max_age
            .is_none_or(|max| now - session.auth_time <= max)
}

/// Stores a new grant with a single-use code for `request`, and returns the code.
pub fn issue_code(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    session: &BrowserSession,
    account: &Account,
    now: i64,
    code_ttl: i64,
) -> StoreResult<String> {
    let code = secrets::new_token();
    let grant = Grant {
        id: secrets::new_id(),
        client_id: request.client_id.clone(),
        account_id: account.id.to_string(),
        sid: Some(session.sid.clone()),
        scope: request.scope.clone(),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.clone(),
        dpop_jkt: None,
    };
    let issued = IssuedCode {
        code_hash: secrets::hash_token(&code),
        redirect_uri: request.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: now + code_ttl,
    };
    grants::insert_grant_with_code(conn, &grant, &issued, now)?;
    Ok(code)
}

/// The success redirect (RFC 6749 §4.1.2), with `iss` (RFC 9207) against mix-up attacks.
pub fn code_redirect(request: &AuthorizationRequest, code: &str, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    append_query(&request.redirect_uri, &pairs)
}

/// The error redirect (RFC 6749 §4.1.2.1).
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> String {
    let mut pairs = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    append_query(redirect_uri, &pairs)
}

/// Adds parameters to a registered redirect URI, keeping any query it already has.
fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        // Registered URIs are validated as absolute URLs; this cannot happen for them.
        Err(_) => uri.to_string(),
    }
}
