//! Reading client credentials off a request: `Authorization: Basic` or form fields.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::oidc::error::OAuthError;
use crate::services::client_auth::PresentedClient;
use crate::web::errors::OAuthJsonError;
use crate::web::oidc::parse_single_valued;

/// The credential fields of a client-authenticated form (other fields are ignored here).
#[derive(Deserialize)]
struct FormCredentials {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// A form POST to a client-authenticated endpoint (token, revocation, introspection, PAR):
/// the form as `T` and the client's credentials. Refuses other content types and repeated
/// parameters (RFC 6749 §3.2).
pub fn form_request<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(T, PresentedClient), OAuthJsonError> {
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
    let invalid = |e: String| OAuthJsonError(OAuthError::invalid_request(e));
    let form: T = parse_single_valued(body).map_err(invalid)?;
    let credentials: FormCredentials = parse_single_valued(body).map_err(invalid)?;
    let presented = presented(req, &credentials.client_id, &credentials.client_secret)
        .map_err(OAuthJsonError)?;
    Ok((form, presented))
}

/// What the client presented; which method it amounts to is decided by the service.
pub fn presented(
    req: &HttpRequest,
    form_id: &Option<String>,
    form_secret: &Option<String>,
) -> Result<PresentedClient, OAuthError> {
    Ok(PresentedClient {
        basic: basic_credentials(req)?,
        form_id: form_id.clone(),
        form_secret: form_secret.clone(),
    })
}

/// `Authorization: Basic` client credentials, form-urlencoded inside (RFC 6749 §2.3.1).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(bad());
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let plus_as_space = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus_as_space)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}
