//! The userinfo endpoint over HTTP: the token from `Authorization: Bearer|DPoP` (or the
//! RFC 6750 §2.2 form field), refusals as RFC 6750 / RFC 9449 challenges.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::dpop;
use crate::services::userinfo::{self, Presented, UserInfoError};
use crate::startup::AppState;
use crate::web::errors::BearerError;
use crate::web::oidc::{dpop_header, parse_single_valued};

pub async fn get_userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let (token, presented) = authorization(&req, "GET")?;
    respond(&state, &token, presented).await
}

pub async fn post_userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, BearerError> {
    // RFC 6750 §2.2: a bearer token may come in the form body instead of the header.
    #[derive(serde::Deserialize)]
    struct Form {
        access_token: Option<String>,
    }
    let (token, presented) = match authorization(&req, "POST") {
        Ok(found) => found,
        Err(e) => {
            let token = parse_single_valued::<Form>(&body)
                .ok()
                .and_then(|f| f.access_token)
                .ok_or(e)?;
            (token, Presented::Bearer)
        }
    };
    respond(&state, &token, presented).await
}

async fn respond(
    state: &AppState,
    token: &str,
    presented: Presented,
) -> Result<HttpResponse, BearerError> {
    let dpop = matches!(presented, Presented::Dpop { .. });
    let refused = |status, code, description| BearerError {
        status,
        code: Some(code),
        description,
        dpop,
        dpop_nonce: None,
    };
    match userinfo::userinfo(state, token, presented).await {
        Ok(info) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(info)),
        Err(UserInfoError::InvalidToken(description)) => Err(refused(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            description,
        )),
        Err(UserInfoError::InvalidDpopProof(description)) => Err(refused(
            StatusCode::UNAUTHORIZED,
            "invalid_dpop_proof",
            description,
        )),
        Err(UserInfoError::UseDpopNonce) => Err(BearerError {
            dpop_nonce: Some(dpop::current_nonce(state)),
            ..refused(
                StatusCode::UNAUTHORIZED,
                "use_dpop_nonce",
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            )
        }),
        Err(UserInfoError::InsufficientScope) => Err(refused(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token was not issued for OpenID Connect",
        )),
        Err(UserInfoError::Service(e)) => {
            tracing::error!(error = %e, "userinfo failed");
            Err(BearerError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..BearerError::default()
            })
        }
    }
}

/// The token and how it was presented, from `Authorization`.
fn authorization(
    req: &HttpRequest,
    method: &'static str,
) -> Result<(String, Presented), BearerError> {
    let missing = BearerError {
        status: StatusCode::UNAUTHORIZED,
        ..BearerError::default()
    };
    let value = req.headers().get(header::AUTHORIZATION).ok_or(missing)?;
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed());
    }
    let presented = if scheme.eq_ignore_ascii_case("bearer") {
        Presented::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        let proof = dpop_header(req).map_err(|_| BearerError {
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_dpop_proof"),
            description: "send exactly one DPoP header",
            dpop: true,
            dpop_nonce: None,
        })?;
        Presented::Dpop { proof, method }
    } else {
        return Err(malformed());
    };
    Ok((token.to_string(), presented))
}

fn malformed() -> BearerError {
    BearerError {
        status: StatusCode::BAD_REQUEST,
        code: Some("invalid_request"),
        description: "malformed Authorization header",
        ..BearerError::default()
    }
}
