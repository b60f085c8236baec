//! What a client may do with a token it holds besides using it: revoke it (RFC 7009) and
//! ask whether it is still active (RFC 7662). Both are client-authenticated form POSTs.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::client::{ClientAuthMethod, RelyingParty};
use crate::oidc::error::OAuthError;
use crate::services::client_auth::{self, ClientAuthError};
use crate::services::{introspection, revocation};
use crate::startup::AppState;
use crate::web::client_auth::form_request;
use crate::web::errors::OAuthJsonError;

#[derive(Deserialize)]
struct TokenForm {
    token: Option<String>,
    token_type_hint: Option<String>,
}

pub async fn post_revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthJsonError> {
    let (client, token, hint) = token_request(&req, &state, &body).await?;
    revocation::revoke(&state, &client, &token, hint.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

pub async fn post_introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthJsonError> {
    let (client, token, hint) = token_request(&req, &state, &body).await?;
    // RFC 7662 §2.1: the caller must be authorised; a public client proves nothing.
    if client.auth_method == ClientAuthMethod::None {
        return Err(OAuthJsonError(OAuthError::invalid_client(
            "introspection needs a confidential client",
        )));
    }
    let answer = introspection::introspect(&state, &client, &token, hint.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The authenticated client, the token and its type hint.
async fn token_request(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(RelyingParty, String, Option<String>), OAuthJsonError> {
    let (form, presented): (TokenForm, _) = form_request(req, body)?;
    let client = client_auth::authenticate_in(state, presented)
        .await
        .map_err(|e| match e {
            ClientAuthError::OAuth(e) => OAuthJsonError(e),
            ClientAuthError::Service(e) => e.into(),
        })?;
    let token = form
        .token
        .ok_or_else(|| OAuthJsonError(OAuthError::invalid_request("token is missing")))?;
    Ok((client, token, form.token_type_hint))
}
