//! Client authentication at the token, revocation, introspection and PAR endpoints
//! (RFC 6749 §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`, or `none`
//! for public clients (which prove nothing but their id, and so get only what PKCE or a
//! DPoP key protects).

use crate::domain::client::{ClientAuthMethod, RelyingParty};
use crate::oidc::error::OAuthError;
use crate::secrets;
use crate::services::ServiceError;
use crate::store::{DbConnection, clients};

/// How the client presented itself.
#[derive(Clone, Debug, Default)]
pub struct PresentedClient {
    /// From `Authorization: Basic` (already decoded).
    pub basic: Option<(String, String)>,
    pub form_id: Option<String>,
    pub form_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("{0}")]
    OAuth(OAuthError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<OAuthError> for ClientAuthError {
    fn from(e: OAuthError) -> Self {
        ClientAuthError::OAuth(e)
    }
}

impl From<crate::store::StoreError> for ClientAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        ClientAuthError::Service(e.into())
    }
}

/// The client that presented itself, if it exists, is enabled, used its registered
/// method and the right secret; `invalid_client` otherwise, the same for every cause.
pub fn authenticate(
    conn: &mut DbConnection,
    presented: &PresentedClient,
) -> Result<RelyingParty, ClientAuthError> {
    let (client_id, secret, method) = presented_credentials(presented.clone())?;
    check_client(conn, &client_id, secret.as_deref(), method)
}

/// [`authenticate`] from async code.
pub async fn authenticate_in(
    state: &crate::startup::AppState,
    presented: PresentedClient,
) -> Result<RelyingParty, ClientAuthError> {
    state
        .db
        .run(move |conn| authenticate(conn, &presented))
        .await
}

/// Which client, which secret, and by which method (RFC 6749 §2.3.1: only one method per
/// request).
fn presented_credentials(
    p: PresentedClient,
) -> Result<(String, Option<String>, ClientAuthMethod), OAuthError> {
    match (p.basic, p.form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use only one client authentication method",
        )),
        (Some((id, secret)), None) => {
            if p.form_id.as_ref().is_some_and(|f| f != &id) {
                return Err(OAuthError::invalid_client(
                    "client_id does not match the Authorization header",
                ));
            }
            Ok((id, Some(secret), ClientAuthMethod::ClientSecretBasic))
        }
        (None, Some(secret)) => {
            let id = p
                .form_id
                .ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
            Ok((id, Some(secret), ClientAuthMethod::ClientSecretPost))
        }
        (None, None) => {
            let id = p
                .form_id
                .ok_or_else(|| OAuthError::invalid_client("client authentication is missing"))?;
            Ok((id, None, ClientAuthMethod::None))
        }
    }
}

/// The client, if it exists, is enabled, used its registered method and the right secret.
fn check_client(
    conn: &mut DbConnection,
    client_id: &str,
    secret: Option<&str>,
    method: ClientAuthMethod,
) -> Result<RelyingParty, ClientAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let client = clients::find_client(conn, client_id)?.ok_or_else(failed)?;
    if client.disabled || client.auth_method != method {
        return Err(failed().into());
    }
    let secret_ok = match (secret, client.secret_hash.as_deref()) {
        (None, None) => method == ClientAuthMethod::None,
        (Some(secret), Some(hash)) => secrets::constant_time_eq(&secrets::hash_token(secret), hash),
        _ => false,
    };
    if secret_ok {
        Ok(client)
    } else {
        Err(failed().into())
    }
}
