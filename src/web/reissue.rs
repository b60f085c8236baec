//! Online password reissue: GET/POST `/reissue` (ID, reissue e-mail, new password) and
//! POST `/reissue/key` (the password-update key). See `services::reissue`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use serde::Deserialize;

use crate::services::reissue::{self, KeyEntry, KeyOutcome, ReissueRequest, RequestOutcome};
use crate::startup::AppState;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::second_factor::check_csrf;
use crate::web::views::reissue::{
    KeyView, RequestView, done_page, key_page, request_page, start_again_page,
};

pub const PATH: &str = "/reissue";
pub const KEY_PATH: &str = "/reissue/key";

pub async fn get_reissue(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (csrf, cookie) = cookies::csrf_token(&req, state.cfg.secure_cookies);
    let page = request_page(&RequestView {
        csrf: &csrf,
        account_id: "",
        email: "",
        error: None,
    });
    respond(StatusCode::OK, page, cookie)
}

#[derive(Deserialize)]
pub struct RequestForm {
    csrf: String,
    account_id: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn post_reissue(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<RequestForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let secure = state.cfg.secure_cookies;
    check_csrf(&req, secure, &form.csrf)?;
    let (csrf, cookie) = cookies::csrf_token(&req, secure);
    let refuse = |status: StatusCode, message: &str| {
        let page = request_page(&RequestView {
            csrf: &csrf,
            account_id: &form.account_id,
            email: &form.email,
            error: Some(message),
        });
        respond(status, page, cookie.clone())
    };
    if form.password != form.password_confirm {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two new passwords differ. / 新しいパスワードが一致しません。",
        ));
    }
    let request = ReissueRequest {
        account_id: form.account_id.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        ip: client.ip,
    };
    match reissue::request(&state, request).await? {
        RequestOutcome::Accepted { ticket } => {
            let page = key_page(&KeyView {
                csrf: &csrf,
                ticket: &ticket,
                error: None,
            });
            Ok(respond(StatusCode::OK, page, cookie))
        }
        RequestOutcome::Weak(weakness) => Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            &weakness.message(),
        )),
        RequestOutcome::Throttled { wait_secs } => Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many reissue requests. Wait {wait_secs} seconds and try again. / 申請が続いたため、{wait_secs} 秒待ってから再度お試しください。"
            ),
        )),
    }
}

#[derive(Deserialize)]
pub struct KeyForm {
    csrf: String,
    ticket: String,
    key: String,
}

pub async fn post_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<KeyForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let secure = state.cfg.secure_cookies;
    check_csrf(&req, secure, &form.csrf)?;
    let (csrf, cookie) = cookies::csrf_token(&req, secure);
    let again = |status: StatusCode, message: &str| {
        let page = key_page(&KeyView {
            csrf: &csrf,
            ticket: &form.ticket,
            error: Some(message),
        });
        respond(status, page, cookie.clone())
    };
    let entry = KeyEntry {
        ticket: form.ticket.clone(),
        key: form.key.clone(),
        ip: client.ip,
    };
    Ok(match reissue::complete(&state, entry).await? {
        KeyOutcome::Done(_) => respond(StatusCode::OK, done_page(), cookie.clone()),
        KeyOutcome::Weak(reason) => respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            start_again_page(&reason),
            cookie.clone(),
        ),
        KeyOutcome::WrongKey => again(
            StatusCode::UNAUTHORIZED,
            "The key is not correct, or it has expired or was already used. Check the e-mail and try again, or start again. / 更新キーが正しくないか、有効期限切れまたは使用済みです。",
        ),
        KeyOutcome::Throttled { wait_secs } => again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many wrong keys. Wait {wait_secs} seconds and try again. / 失敗が続いたため、{wait_secs} 秒待ってから再度お試しください。"
            ),
        ),
    })
}

fn respond(
    status: StatusCode,
    page: Markup,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(c) = cookie {
        response.cookie(c);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header((header::RETRY_AFTER, "60"));
    }
    response
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}
