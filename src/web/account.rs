//! The account pages (self-service). For now: who is signed in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::oidc::discovery::paths;
use crate::services::sessions;
use crate::startup::AppState;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::oidc::redirect;
use crate::web::views::account::account_page;

pub async fn get_account(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(token) = cookies::session_value(&req, state.cfg.secure_cookies) else {
        return Ok(redirect(StatusCode::SEE_OTHER, paths::LOGIN));
    };
    match sessions::current(&state, token).await? {
        Some((session, account)) if account.can_sign_in() => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(account_page(&account, &session).into_string())),
        _ => Ok(redirect(StatusCode::SEE_OTHER, paths::LOGIN)),
    }
}
