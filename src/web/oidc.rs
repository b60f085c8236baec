//! The OpenID Connect endpoints: discovery, JWKS, authorize, token, userinfo.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::client_address::ClientAddress;
use crate::oidc::authorize::RawAuthorizeParams;
use crate::oidc::discovery::paths;
use crate::oidc::error::OAuthError;
use crate::services::authorization::{self, AuthorizeOutcome};
use crate::services::sign_in::PASSWORD_CHANGE;
use crate::services::token::{self, TokenError, TokenForm};
use crate::services::userinfo::{self, UserInfoError};
use crate::startup::AppState;
use crate::web::errors::{BearerError, OAuthJsonError, PageError};
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
    let outcome = authorization::authorize(state, raw, session, zone).await?;
    Ok(match outcome {
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
    })
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
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthJsonError(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let form: TokenForm =
        parse_single_valued(&body).map_err(|e| OAuthJsonError(OAuthError::invalid_request(e)))?;
    let presented = client_auth::presented(&req, &form.client_id, &form.client_secret)
        .map_err(OAuthJsonError)?;
    match token::exchange(&state, presented, form).await {
        Ok(response) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(response)),
        Err(TokenError::OAuth(e)) => Err(OAuthJsonError(e)),
        Err(TokenError::Service(e)) => Err(e.into()),
    }
}

pub async fn get_userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let token = bearer_token(&req)?;
    userinfo_response(&state, &token).await
}

pub async fn post_userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, BearerError> {
    // RFC 6750 §2.2: the token may come in the form body instead of the header.
    #[derive(serde::Deserialize)]
    struct Form {
        access_token: Option<String>,
    }
    let token = match bearer_token(&req) {
        Ok(t) => t,
        Err(e) => parse_single_valued::<Form>(&body)
            .ok()
            .and_then(|f| f.access_token)
            .ok_or(e)?,
    };
    userinfo_response(&state, &token).await
}

async fn userinfo_response(state: &AppState, token: &str) -> Result<HttpResponse, BearerError> {
    match userinfo::userinfo(state, token).await {
        Ok(info) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(info)),
        Err(UserInfoError::InvalidToken(description)) => Err(BearerError {
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
            description,
        }),
        Err(UserInfoError::InsufficientScope) => Err(BearerError {
            status: StatusCode::FORBIDDEN,
            code: Some("insufficient_scope"),
            description: "the access token was not issued for OpenID Connect",
        }),
        Err(UserInfoError::Service(e)) => {
            tracing::error!(error = %e, "userinfo failed");
            Err(BearerError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: None,
                description: "",
            })
        }
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, BearerError> {
    let missing = BearerError {
        status: StatusCode::UNAUTHORIZED,
        code: None,
        description: "",
    };
    let value = req.headers().get(header::AUTHORIZATION).ok_or(missing)?;
    let value = value.to_str().map_err(|_| invalid_request())?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(invalid_request)?
        .trim();
    if token.is_empty() {
        return Err(invalid_request());
    }
    Ok(token.to_string())
}

fn invalid_request() -> BearerError {
    BearerError {
        status: StatusCode::BAD_REQUEST,
        code: Some("invalid_request"),
        description: "malformed Authorization header",
    }
}
