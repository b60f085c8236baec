//! RFC 7591 `POST /register` and RFC 7592 `GET|PUT|DELETE /register/{client_id}`:
//! bearer-token guarded JSON endpoints.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::oidc::discovery::paths;
use crate::oidc::registration::{ClientMetadata, client_information};
use crate::services::registration::{self, RegistrationError};
use crate::startup::AppState;
use crate::web::errors::{BearerError, RegistrationJsonError};

/// Every refused token looks the same, whether missing, unknown, used up or another
/// client's (RFC 7592 §2).
fn invalid_token() -> BearerError {
    BearerError {
        status: StatusCode::UNAUTHORIZED,
        code: Some("invalid_token"),
        description: "the access token is missing, invalid or expired",
        ..BearerError::default()
    }
}

fn bearer(req: &HttpRequest) -> Result<String, BearerError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(invalid_token)
}

/// What a registration endpoint fails with: a refused token or refused metadata.
#[derive(Debug)]
pub enum RegistrationHttpError {
    Token(BearerError),
    Json(RegistrationJsonError),
}

impl std::fmt::Display for RegistrationHttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(e) => write!(f, "{e}"),
            Self::Json(e) => write!(f, "{e}"),
        }
    }
}

impl From<BearerError> for RegistrationHttpError {
    fn from(e: BearerError) -> Self {
        Self::Token(e)
    }
}

impl From<RegistrationJsonError> for RegistrationHttpError {
    fn from(e: RegistrationJsonError) -> Self {
        Self::Json(e)
    }
}

impl ResponseError for RegistrationHttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Token(e) => e.status_code(),
            Self::Json(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Token(e) => e.error_response(),
            Self::Json(e) => e.error_response(),
        }
    }
}

impl From<RegistrationError> for RegistrationHttpError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::InvalidToken => invalid_token().into(),
            RegistrationError::Invalid(m) => RegistrationJsonError::Metadata(m).into(),
            RegistrationError::Service(s) => RegistrationJsonError::Service(s).into(),
        }
    }
}

fn configuration_uri(state: &AppState, client_id: &str) -> String {
    format!("{}{}/{client_id}", state.cfg.base, paths::REGISTER)
}

fn json(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

pub async fn post_register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, RegistrationHttpError> {
    let token = bearer(&req)?;
    let metadata = ClientMetadata::parse(&body);
    let r = registration::register(&state, token, metadata).await?;
    let mut info = client_information(&r.client, &configuration_uri(&state, &r.client.id));
    info["client_id_issued_at"] = serde_json::json!(r.issued_at);
    info["registration_access_token"] = serde_json::json!(r.registration_access_token);
    if let Some(secret) = r.client_secret {
        info["client_secret"] = serde_json::json!(secret);
    }
    Ok(json(StatusCode::CREATED, info))
}

pub async fn get_client_configuration(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, RegistrationHttpError> {
    let token = bearer(&req)?;
    let client = registration::read(&state, client_id.into_inner(), token.clone()).await?;
    let mut info = client_information(&client, &configuration_uri(&state, &client.id));
    // Only the hash is stored; the token the client holds stays valid (RFC 7592 §3).
    info["registration_access_token"] = serde_json::json!(token);
    Ok(json(StatusCode::OK, info))
}

pub async fn put_client_configuration(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, RegistrationHttpError> {
    let token = bearer(&req)?;
    let metadata = ClientMetadata::parse(&body);
    let (client, new_secret) =
        registration::replace(&state, client_id.into_inner(), token.clone(), metadata).await?;
    let mut info = client_information(&client, &configuration_uri(&state, &client.id));
    info["registration_access_token"] = serde_json::json!(token);
    if let Some(secret) = new_secret {
        info["client_secret"] = serde_json::json!(secret);
    }
    Ok(json(StatusCode::OK, info))
}

pub async fn delete_client_configuration(
    req: HttpRequest,
    state: web::Data<AppState>,
    client_id: web::Path<String>,
) -> Result<HttpResponse, RegistrationHttpError> {
    let token = bearer(&req)?;
    registration::delete(&state, client_id.into_inner(), token).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
