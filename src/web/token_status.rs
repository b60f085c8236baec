//! What a client may do with a token it holds besides using it: revoke it (RFC 7009) and
//! ask whether it is still active (RFC 7662). Both are client-authenticated form POSTs.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::oidc::error::OAuthError;
use crate::services::client_auth::{self, ClientAuthError, PresentedClient};
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
    let (presented, token, hint) = token_request(&req, &body)?;
    let client = client_auth::authenticate_in(&state, presented)
        .await
        .map_err(json_error)?;
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
    let (presented, token, hint) = token_request(&req, &body)?;
    let answer = introspection::introspect(&state, presented, token, hint)
        .await
        .map_err(json_error)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The client's credentials, the token and its type hint.
fn token_request(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(PresentedClient, String, Option<String>), OAuthJsonError> {
    let (form, presented): (TokenForm, _) = form_request(req, body)?;
    let token = form
        .token
        .ok_or_else(|| OAuthJsonError(OAuthError::invalid_request("token is missing")))?;
    Ok((presented, token, form.token_type_hint))
}

fn json_error(e: ClientAuthError) -> OAuthJsonError {
    match e {
        ClientAuthError::OAuth(e) => OAuthJsonError(e),
        ClientAuthError::Service(e) => e.into(),
    }
}
