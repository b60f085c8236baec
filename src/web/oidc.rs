//! The OpenID Connect endpoints: discovery, JWKS, authorize, token.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::domain::client_address::ClientAddress;
use crate::oidc::authorize::RawAuthorizeParams;
use crate::oidc::discovery::paths;
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::services::authorization::{self, AuthorizeOutcome};
use crate::services::dpop;
use crate::services::sign_in::PASSWORD_CHANGE;
use crate::services::token::{self, TokenError, TokenForm};
use crate::startup::AppState;
use crate::web::errors::{OAuthJsonError, PageError};
use crate::web::extractors::ClientIp;
use crate::web::second_factor;
use crate::web::{client_auth, cookies};

pub async fn get_discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type(ContentType::json())
        .body(state.discovery_json.clone())
}

pub async fn get_jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(state.keys().jwks_json().to_string())
}

pub async fn get_authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    authorize(&req, &state, req.query_string().as_bytes(), client).await
}

pub async fn post_authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    authorize(&req, &state, &body, client).await
}

async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    params: &[u8],
    client: ClientAddress,
) -> Result<HttpResponse, PageError> {
    let raw: RawAuthorizeParams = parse_single_valued(params).map_err(|e| {
        PageError::bad_request(format!(
            "The sign-in request from the application is malformed ({e})."
        ))
    })?;
    let session = cookies::session_value(req, state.cfg.secure_cookies);
    let zone = state.cfg.zones.classify(client);
    let (binding, new_cookie) = cookies::flow_binding(req, state.cfg.secure_cookies);
    let outcome = authorization::authorize(state, raw, session, &binding, zone, client.ip).await?;
    let response = match outcome {
        AuthorizeOutcome::Redirect(location) => redirect(StatusCode::FOUND, &location),
        AuthorizeOutcome::SignIn { flow_id } => redirect(
            StatusCode::FOUND,
            &format!("{}?flow={flow_id}", paths::LOGIN),
        ),
        AuthorizeOutcome::StepUp { flow_id, entry } => second_factor::after_entry(&flow_id, &entry),
        AuthorizeOutcome::Page(message) => return Err(PageError::bad_request(message)),
        AuthorizeOutcome::ChangePassword => redirect(StatusCode::FOUND, PASSWORD_CHANGE),
        AuthorizeOutcome::Refused(path) => redirect(StatusCode::FOUND, &path),
        AuthorizeOutcome::Consent(path) => redirect(StatusCode::FOUND, &path),
    };
    // Whatever flow began here belongs to this browser.
    Ok(cookies::with_cookie(response, new_cookie))
}

pub fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Decodes a form or query, refusing repeated parameters (RFC 6749 §3.1, §3.2).
pub fn parse_single_valued<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(raw).map_err(|_| "undecodable parameters".to_string())?;
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(format!("parameter {k} is repeated"));
        }
    }
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let encoded =
        serde_urlencoded::to_string(&pairs).map_err(|_| "undecodable parameters".to_string())?;
    serde_urlencoded::from_str(&encoded).map_err(|_| "undecodable parameters".to_string())
}

pub async fn post_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthJsonError> {
    let (form, presented): (TokenForm, _) = client_auth::form_request(&req, &body)?;
    let proof = dpop_header(&req).map_err(OAuthJsonError)?;
    match token::exchange(&state, presented, form, proof).await {
        Ok(response) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(response)),
        Err(TokenError::OAuth(e)) if e.code == OAuthErrorCode::UseDpopNonce => {
            let mut response = OAuthJsonError(e).error_response();
            if let Ok(nonce) = HeaderValue::from_str(&dpop::current_nonce(&state)) {
                response.headers_mut().insert(DPOP_NONCE, nonce);
            }
            Ok(response)
        }
        Err(TokenError::OAuth(e)) => Err(OAuthJsonError(e)),
        Err(TokenError::Service(e)) => Err(e.into()),
    }
}

pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The `DPoP` header: at most one (RFC 9449 §4.3 item 1).
pub fn dpop_header(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let mut values = req.headers().get_all("dpop");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::new(
            OAuthErrorCode::InvalidDpopProof,
            "send exactly one DPoP header",
        )
    };
    if values.next().is_some() {
        return Err(bad());
    }
    first
        .to_str()
        .map(|v| Some(v.to_string()))
        .map_err(|_| bad())
}
