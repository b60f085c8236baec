//! `POST /par`: pushed authorization requests (RFC 9126 §2). Client-authenticated like
//! `/token`; answers 201 with a single-use `request_uri`, or RFC 6749 JSON errors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::par::{self, ParError};
use crate::startup::AppState;
use crate::web::client_auth;
use crate::web::errors::OAuthJsonError;
use crate::web::extractors::ClientIp;

pub async fn post_par(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, OAuthJsonError> {
    // As at /authorize: repeated parameters are refused, an empty value is an absent one.
    let (pairs, presented): (Vec<(String, String)>, _) = client_auth::form_request(&req, &body)?;
    match par::push(&state, presented, pairs, client.ip).await {
        Ok(pushed) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(pushed)),
        Err(ParError::OAuth(e)) => Err(OAuthJsonError(e)),
        Err(ParError::Service(e)) => Err(e.into()),
    }
}
