//! A relying party's access rules (affiliation, compliance), applied in one place right
//! before a code would be issued: by the authorization endpoint for a live session and by
//! `sign_in::finish` after a sign-in. A refused person stays signed in (the account pages
//! are where restrictions are fixed) and is sent to a page of ours, `/access-refused`,
//! that says why; no code is issued, nothing goes to the relying party unless the person
//! follows the page's link back, which carries `error=access_denied`.

use crate::domain::access::{self, Refusal};
use crate::domain::account::Account;
use crate::oidc::authorize::AuthorizationRequest;
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::authorization::error_redirect;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::{DbConnection, StoreResult, clients, sessions};

/// The refusal page.
pub const REFUSED_PATH: &str = "/access-refused";

/// The check before issuing a code for `request`. `Some(path)`: refused; the browser goes
/// to that local page (it carries no secret: client id, redirect URI and state, which
/// were in the authorization request's URL already). The refusal is audited.
pub fn check(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    account: &Account,
    now: i64,
    ip: Option<String>,
) -> StoreResult<Option<String>> {
    // A client that vanished admits nobody (fail closed).
    let refusal = match clients::find_client(conn, &request.client_id)? {
        Some(client) => match access::admits(&client, account, now) {
            Ok(()) => return Ok(None),
            Err(refusal) => refusal.as_str(),
        },
        None => "unknown_client",
    };
    audit::record(
        conn,
        AuditEvent {
            at: now,
            kind: "access_refused",
            account_id: Some(account.id.as_str()),
            client_id: Some(request.client_id.as_str()),
            ip,
            detail: Some(refusal.to_string()),
        },
    )?;
    Ok(Some(refused_path(request)))
}

fn refused_path(request: &AuthorizationRequest) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("client_id", &request.client_id);
    query.append_pair("redirect_uri", &request.redirect_uri);
    if let Some(state) = &request.state {
        query.append_pair("state", state);
    }
    format!("{REFUSED_PATH}?{}", query.finish())
}

/// What the refusal page shows.
#[derive(Debug)]
pub struct RefusalView {
    pub client_name: String,
    pub account_id: String,
    /// `None`: the account is admitted now (the restriction was lifted meanwhile).
    pub refusal: Option<Refusal>,
    /// `error=access_denied` back to the relying party, only to one of its registered
    /// redirect URIs (never to a URI from the query alone).
    pub back: Option<String>,
}

/// The parameters of the refusal page, as received.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RefusedQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// Recomputes the refusal for the signed-in person, so the page always tells the truth
/// about this account now (and a crafted link cannot make it say anything else).
/// `None` when there is no live session or no such client.
pub async fn explain(
    state: &AppState,
    session_cookie: Option<String>,
    query: RefusedQuery,
) -> Result<Option<RefusalView>, ServiceError> {
    let (Some(cookie), Some(client_id)) = (session_cookie, query.client_id) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let issuer = state.cfg.issuer.clone();
    state
        .db
        .run(move |conn| {
            let Some((_, account)) =
                sessions::find_session(conn, &secrets::hash_token(&cookie), now)?
            else {
                return Ok(None);
            };
            let Some(client) = clients::find_client(conn, &client_id)? else {
                return Ok(None);
            };
            let back = query
                .redirect_uri
                .filter(|uri| client.has_redirect_uri(uri))
                .map(|uri| {
                    let error = OAuthError::new(
                        OAuthErrorCode::AccessDenied,
                        "the account is not admitted to this application",
                    );
                    error_redirect(&uri, query.state.as_deref(), &error, &issuer)
                });
            Ok::<_, ServiceError>(Some(RefusalView {
                client_name: client.name.clone(),
                account_id: account.id.to_string(),
                refusal: access::admits(&client, &account, now).err(),
                back,
            }))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_path_is_local_and_encodes_the_request() {
        let request = AuthorizationRequest {
            client_id: "c1".into(),
            redirect_uri: "https://rp.uec.ac.jp/cb?x=1".into(),
            scope: "openid".into(),
            state: Some("a b&c".into()),
            nonce: None,
            code_challenge: None,
            prompt: Default::default(),
            max_age: None,
            login_hint: None,
            ui_locales: None,
            acr_values: vec![],
            prompt_consent: false,
        };
        let path = refused_path(&request);
        assert!(path.starts_with("/access-refused?client_id=c1&redirect_uri=https%3A%2F%2F"));
        assert!(path.ends_with("&state=a+b%26c"), "{path}");
    }
}
