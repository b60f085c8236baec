//! Pushed authorization requests (RFC 9126): a client authenticates and sends the
//! parameters of its authorization request straight to us, then sends the browser to
//! `/authorize` with only `client_id` and the `request_uri` it got back. The request never
//! travels through the browser, and a client can be made to use only this way
//! (`require_pushed_authorization_requests`).

use crate::oidc::authorize::{self, AuthorizeRejection, RawAuthorizeParams};
use crate::oidc::error::OAuthError;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::client_auth::{self, ClientAuthError, PresentedClient};
use crate::startup::AppState;
use crate::store::{DbConnection, StoreResult, pushed_requests};

/// RFC 9126 §2.2: the URN prefix of the `request_uri` values we hand out.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may wait for the browser (RFC 9126 §2.2 suggests 5 to 600
/// seconds; the browser is sent on at once, so a minute is plenty).
pub const LIFETIME: i64 = 60;

/// The page for a `request_uri` that cannot be used (the redirect URI is not trusted yet).
pub const UNUSABLE: &str = "This sign-in request has expired or was already used. Go back to the application and try again. \
     / このログイン要求は有効期限が切れているか、使用済みです。アプリケーションに戻ってやり直してください。";

/// The parameters a pushed request keeps: those `/authorize` reads (`RawAuthorizeParams`).
const STORED_PARAMS: [&str; 16] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "acr_values",
    "request",
    "request_uri",
];

/// RFC 9126 §2.2's answer.
#[derive(Debug, serde::Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ParError {
    #[error("{0}")]
    OAuth(OAuthError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<ClientAuthError> for ParError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::OAuth(e) => ParError::OAuth(e),
            ClientAuthError::Service(e) => ParError::Service(e),
        }
    }
}

impl From<crate::store::StoreError> for ParError {
    fn from(e: crate::store::StoreError) -> Self {
        ParError::Service(e.into())
    }
}

/// Authenticates the client, validates its request as `/authorize` would, and stores it.
/// `params`: the form, single-valued and without empty values, client secret included.
pub async fn push(
    state: &AppState,
    presented: PresentedClient,
    mut params: Vec<(String, String)>,
    address: std::net::IpAddr,
) -> Result<Pushed, ParError> {
    let now = state.clock.now();
    let budget_key = crate::domain::outbound::budget_key(address);
    let max_per_address = state.settings.limits.pushed_requests_per_address;
    state
        .db
        .write(move |conn| {
            let client = client_auth::authenticate(conn, &presented)?;
            // Only authorization parameters are stored (never credentials, never whatever
            // else a form carries); `validate` below bounds each one's length.
            params.retain(|(k, _)| STORED_PARAMS.contains(&k.as_str()));
            if !params.iter().any(|(k, _)| k == "client_id") {
                // Authenticated by the Authorization header alone: the request is its.
                params.push(("client_id".into(), client.id.clone()));
            }
            let encoded = serde_urlencoded::to_string(&params)
                .map_err(|_| OAuthError::invalid_request("undecodable parameters"))
                .map_err(ParError::OAuth)?;
            let raw: RawAuthorizeParams = serde_urlencoded::from_str(&encoded).map_err(|_| {
                ParError::OAuth(OAuthError::invalid_request("undecodable parameters"))
            })?;
            if raw.client_id.as_deref() != Some(client.id.as_str()) {
                return Err(ParError::OAuth(OAuthError::invalid_request(
                    "client_id does not match the authenticated client",
                )));
            }
            // RFC 9126 §2.1: no request_uri inside a pushed request.
            if raw.request_uri.is_some() {
                return Err(ParError::OAuth(OAuthError::invalid_request(
                    "request_uri is not allowed in a pushed authorization request",
                )));
            }
            match authorize::validate(&raw, Some(&client)) {
                Ok(_) => {}
                Err(AuthorizeRejection::Page(message)) => {
                    return Err(ParError::OAuth(OAuthError::invalid_request(message)));
                }
                Err(AuthorizeRejection::Redirect { error, .. }) => {
                    return Err(ParError::OAuth(error));
                }
            }
            let token = secrets::new_token();
            let hash = secrets::hash_token(&token);
            pushed_requests::insert(conn, &hash, &client.id, &encoded, now, now + LIFETIME)?;
            if client.is_public() {
                // A public client id authenticates nobody: its pushes count against the
                // address that sent them.
                pushed_requests::trim_for_key(conn, &budget_key, &hash, max_per_address)?;
            }
            Ok(Pushed {
                request_uri: format!("{REQUEST_URI_PREFIX}{token}"),
                expires_in: LIFETIME,
            })
        })
        .await
}

/// Uses up the pushed request `request_uri` of `client_id` and returns its parameters;
/// `None` when it is unknown, another client's, expired, already used or unreadable.
/// Call inside the authorization endpoint's write transaction.
pub fn redeem(
    conn: &mut DbConnection,
    request_uri: &str,
    client_id: Option<&str>,
    now: i64,
) -> StoreResult<Option<RawAuthorizeParams>> {
    // RFC 9126 §4: client_id is required alongside request_uri, and must be the pusher's.
    let (Some(client_id), Some(token)) = (client_id, request_uri.strip_prefix(REQUEST_URI_PREFIX))
    else {
        return Ok(None);
    };
    let Some(params) = pushed_requests::consume(conn, &secrets::hash_token(token), client_id, now)?
    else {
        return Ok(None);
    };
    Ok(serde_urlencoded::from_str(&params).ok())
}
