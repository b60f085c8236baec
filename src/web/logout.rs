//! `/logout` (OpenID Connect RP-Initiated Logout 1.0; the discovery document's
//! `end_session_endpoint`) and "sign out everywhere" on the account page.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::services::logout::{self, LogoutOutcome, LogoutParams, Via};
use crate::startup::AppState;
use crate::web::account::CsrfForm;
use crate::web::account::granted;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::{parse_single_valued, redirect};
use crate::web::second_factor::check_csrf;
use crate::web::views::logout::{ConfirmView, confirm_logout_page, signed_out_page};

pub const SIGN_OUT_EVERYWHERE: &str = "/account/sign-out-everywhere";

fn malformed(e: String) -> PageError {
    PageError::bad_request(format!(
        "The sign-out request is malformed ({e}). / サインアウト要求が不正です。"
    ))
}

pub async fn get_logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let params: LogoutParams =
        parse_single_valued(req.query_string().as_bytes()).map_err(malformed)?;
    respond(
        &req,
        &state,
        params,
        Via::RpRequest,
        client.ip,
        StatusCode::FOUND,
    )
    .await
}

/// The form a relying party may POST, or our own confirmation form (`confirm=yes`).
#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
    confirm: Option<String>,
    #[serde(flatten)]
    params: LogoutParams,
}

pub async fn post_logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form: LogoutForm = parse_single_valued(&body).map_err(malformed)?;
    let secure = state.cfg.secure_cookies;
    let via = if form.confirm.as_deref() == Some("yes") {
        check_csrf(&req, secure, form.csrf.as_deref().unwrap_or_default())?;
        Via::Confirmed
    } else if cookies::session_value(&req, secure).is_some() {
        Via::RpRequest
    } else {
        Via::RpPostWithoutCookies
    };
    respond(
        &req,
        &state,
        form.params,
        via,
        client.ip,
        StatusCode::SEE_OTHER,
    )
    .await
}

async fn respond(
    req: &HttpRequest,
    state: &AppState,
    params: LogoutParams,
    via: Via,
    ip: std::net::IpAddr,
    redirect_status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let secure = state.cfg.secure_cookies;
    let session = cookies::session_value(req, secure);
    let outcome = logout::request_logout(state, params, session, via, Some(ip.to_string())).await?;
    match outcome {
        LogoutOutcome::Invalid(message) => Err(PageError::bad_request(message)),
        LogoutOutcome::Confirm(checked) => Ok(cookies::page_with_csrf(
            StatusCode::OK,
            req,
            secure,
            |csrf| {
                confirm_logout_page(&ConfirmView {
                    csrf,
                    client_name: checked.client_name.as_deref(),
                    client_id: checked.client_id.as_deref(),
                    post_logout_redirect_uri: checked.post_logout_redirect_uri.as_deref(),
                    state: checked.state.as_deref(),
                })
            },
        )),
        LogoutOutcome::SignedOut { redirect: to } => {
            let mut response = match to {
                Some(location) => redirect(redirect_status, &location),
                None => signed_out(),
            };
            clear_session_cookie(&mut response, secure);
            Ok(response)
        }
    }
}

fn signed_out() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(signed_out_page().into_string())
}

fn clear_session_cookie(response: &mut HttpResponse, secure: bool) {
    let _ = response.add_cookie(&cookies::session_cookie(String::new(), secure, 0));
}

/// Ends every session of the signed-in person, this one included; each relying party they
/// reached is told by back-channel logout.
pub async fn post_sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    logout::sign_out_everywhere(&state, account.id.to_string(), Some(client.ip.to_string()))
        .await?;
    let mut response = signed_out();
    clear_session_cookie(&mut response, state.cfg.secure_cookies);
    Ok(response)
}
