//! Turning failures into HTTP, in one place: HTML pages for people, RFC 6749 §5.2 JSON for
//! clients, RFC 6750 `WWW-Authenticate` for bearer-token users.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::services::ServiceError;
use crate::web::views;

/// An error page for a browser route.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Set for server faults: the id under which the cause was logged.
    pub incident: Option<String>,
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            incident: None,
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(views::error::error_page(&self.message, self.incident.as_deref()).into_string())
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        let incident = crate::secrets::new_id()[..10].to_string();
        match e {
            ServiceError::Unavailable(cause) => {
                tracing::warn!(incident, %cause, "service unavailable");
                PageError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message:
                        "The UEC IdP is very busy right now. Please try again in a few seconds."
                            .into(),
                    incident: Some(incident),
                }
            }
            ServiceError::Internal(cause) => {
                tracing::error!(incident, %cause, "internal error");
                PageError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Something went wrong on our side. Please try again; if it keeps happening, tell the ITC the incident id below.".into(),
                    incident: Some(incident),
                }
            }
        }
    }
}

/// An RFC 6749 §5.2 error from the token endpoint (and later introspection, revocation).
#[derive(Debug)]
pub struct OAuthJsonError(pub OAuthError);

impl std::fmt::Display for OAuthJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for OAuthJsonError {
    fn status_code(&self) -> StatusCode {
        match self.0.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.0.code == OAuthErrorCode::InvalidClient {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"uec-idp\""),
            ));
        }
        response.json(serde_json::json!({
            "error": self.0.code.as_str(),
            "error_description": self.0.description,
        }))
    }
}

impl From<ServiceError> for OAuthJsonError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unavailable(cause) => {
                tracing::warn!(%cause, "token endpoint unavailable");
                OAuthJsonError(OAuthError::new(
                    OAuthErrorCode::TemporarilyUnavailable,
                    "try again shortly",
                ))
            }
            ServiceError::Internal(cause) => {
                tracing::error!(%cause, "token endpoint failed");
                OAuthJsonError(OAuthError::server_error())
            }
        }
    }
}

/// RFC 6750 §3 / RFC 9449 §7.1: a refused access token.
#[derive(Debug, Default)]
pub struct BearerError {
    pub status: StatusCode,
    /// `invalid_token`, `insufficient_scope`, `invalid_dpop_proof`, `use_dpop_nonce`, or
    /// `None` when no token was sent (§3.1).
    pub code: Option<&'static str>,
    pub description: &'static str,
    /// Challenge with the `DPoP` scheme (the token was presented as, or is, DPoP-bound).
    pub dpop: bool,
    /// Sent as `DPoP-Nonce` (RFC 9449 §9).
    pub dpop_nonce: Option<String>,
}

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.description)
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let algs = crate::oidc::dpop::SIGNING_ALGS.join(" ");
        let scheme = if self.dpop {
            format!("DPoP algs=\"{algs}\"")
        } else {
            "Bearer realm=\"uec-idp\"".to_string()
        };
        let challenge = match self.code {
            Some(code) => format!(
                "{scheme}, error=\"{code}\", error_description=\"{}\"",
                self.description
            ),
            None => scheme,
        };
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::WWW_AUTHENTICATE, challenge));
        if self.code.is_none() && !self.dpop {
            // No credentials at all: either scheme will do (RFC 9449 §7.2).
            response.append_header((header::WWW_AUTHENTICATE, format!("DPoP algs=\"{algs}\"")));
        }
        if let Some(nonce) = &self.dpop_nonce {
            response.insert_header(("DPoP-Nonce", nonce.as_str()));
        }
        match self.code {
            Some(code) => response
                .json(serde_json::json!({"error": code, "error_description": self.description})),
            None => response.finish(),
        }
    }
}

/// RFC 7591 §3.2.2: refused client metadata (400 `invalid_redirect_uri` or
/// `invalid_client_metadata`), or a server fault at a registration endpoint.
#[derive(Debug)]
pub enum RegistrationJsonError {
    Metadata(crate::domain::client::MetadataError),
    Service(ServiceError),
}

impl std::fmt::Display for RegistrationJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Metadata(e) => write!(f, "{e}"),
            Self::Service(e) => write!(f, "{e}"),
        }
    }
}

impl ResponseError for RegistrationJsonError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Metadata(_) => StatusCode::BAD_REQUEST,
            Self::Service(ServiceError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Service(ServiceError::Internal(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        use crate::oidc::registration::RegistrationErrorCode;
        let (code, description) = match self {
            Self::Metadata(e) => (
                RegistrationErrorCode::for_field(e.field).as_str(),
                e.message.clone(),
            ),
            Self::Service(e) => {
                tracing::error!(error = %e, "registration endpoint failed");
                let code = if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
                    OAuthErrorCode::TemporarilyUnavailable
                } else {
                    OAuthErrorCode::ServerError
                };
                (
                    code.as_str(),
                    "the server could not complete the request".into(),
                )
            }
        };
        HttpResponse::build(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"error": code, "error_description": description}))
    }
}
