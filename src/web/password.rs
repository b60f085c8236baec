//! `/account/password`: the owner changes the password. Off campus the session must carry a
//! second factor (the account pages' guard steps it up first).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::account::Account;
use crate::secrets;
use crate::services::passwords::{self, ChangeOutcome, ChangeRequest};
use crate::startup::AppState;
use crate::web::account::granted;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::second_factor::check_csrf;
use crate::web::views::password::{ChangeView, change_password_page};

async fn page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    status: StatusCode,
    notice: Option<(bool, String)>,
) -> Result<HttpResponse, PageError> {
    let change_by = passwords::change_by(state, account).await?;
    let (csrf, new_cookie) = cookies::csrf_token(req, state.cfg.secure_cookies);
    let body = change_password_page(&ChangeView {
        account_id: account.id.as_str(),
        csrf: &csrf,
        change_by,
        now: state.clock.now(),
        notice: notice.as_ref().map(|(e, t)| (*e, t.as_str())),
    });
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(c) = new_cookie {
        response.cookie(c);
    }
    Ok(response
        .content_type("text/html; charset=utf-8")
        .body(body.into_string()))
}

pub async fn get_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    page(&req, &state, &account, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf: String,
    current_password: String,
    new_password: String,
    new_password_again: String,
}

pub async fn post_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<ChangeForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    // The guard found the session by this cookie, so it is there.
    let session_hash = cookies::session_value(&req, state.cfg.secure_cookies)
        .map(|v| secrets::hash_token(&v))
        .unwrap_or_default();
    let form = form.into_inner();
    let request = ChangeRequest {
        current: form.current_password,
        new: form.new_password,
        again: form.new_password_again,
        session_hash,
    };
    let (status, notice) = match passwords::change_password(&state, &account, request).await? {
        ChangeOutcome::Changed(ended) => (
            StatusCode::OK,
            (false, format!(
                "Your password was changed. {} other sign-ins were ended, and applications must sign you in again. / パスワードを変更しました。他のログイン（{} 件）は終了しました。",
                ended.sessions, ended.sessions
            )),
        ),
        ChangeOutcome::WrongCurrent => (StatusCode::UNPROCESSABLE_ENTITY, (true, "The current password is not correct. / 現在のパスワードが正しくありません。".into())),
        ChangeOutcome::Mismatch => (StatusCode::UNPROCESSABLE_ENTITY, (true, "The two new passwords differ. / 新しいパスワードが一致しません。".into())),
        ChangeOutcome::SameAsCurrent => (StatusCode::UNPROCESSABLE_ENTITY, (true, "The new password must differ from the current one. / 現在と異なるパスワードにしてください。".into())),
        ChangeOutcome::Weak(weakness) => (StatusCode::UNPROCESSABLE_ENTITY, (true, weakness.message())),
        ChangeOutcome::Throttled { wait_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            (true, format!("Too many wrong passwords. Wait {wait_secs} seconds. / 失敗が続いたため、{wait_secs} 秒待ってください。")),
        ),
    };
    page(&req, &state, &account, status, Some(notice)).await
}
