//! `POST /par`: pushed authorization requests (RFC 9126 §2). Client-authenticated like
//! `/token`; answers 201 with a single-use `request_uri`, or RFC 6749 JSON errors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::oidc::error::OAuthError;
use crate::services::par::{self, ParError};
use crate::startup::AppState;
use crate::web::client_auth;
use crate::web::errors::OAuthJsonError;

pub async fn post_par(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthJsonError> {
    let invalid = |m: &str| OAuthJsonError(OAuthError::invalid_request(m));
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(invalid(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| invalid("undecodable parameters"))?;
    let mut seen = std::collections::HashSet::new();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.clone())) {
        return Err(invalid(&format!("parameter {k} is repeated")));
    }
    // As at /authorize: an empty value is an absent one.
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let presented = client_auth::presented(&req, &field("client_id"), &field("client_secret"))
        .map_err(OAuthJsonError)?;
    match par::push(&state, presented, pairs).await {
        Ok(pushed) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(pushed)),
        Err(ParError::OAuth(e)) => Err(OAuthJsonError(e)),
        Err(ParError::Service(e)) => Err(e.into()),
    }
}
