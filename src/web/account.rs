//! The account pages (self-service): second-factor settings. Every page needs a session;
//! from off campus it must be a multi-factor one, else the person first adds a second
//! factor (a step-up), so a password alone never changes security settings from outside.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::account::Account;
use crate::domain::authn;
use crate::domain::client_address::ClientAddress;
use crate::oidc::discovery::paths;
use crate::services::enrolment::{self, EmailBegin};
use crate::services::sessions;
use crate::startup::AppState;
use crate::store::sessions::BrowserSession;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor::{after_entry, check_csrf};
use crate::web::views::account::{AccountView, account_page, backup_codes_page, totp_setup_page};

/// The signed-in person, or where to send the browser first.
pub enum Access {
    Granted(BrowserSession, Account),
    Redirect(HttpResponse),
}

pub async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    client: ClientAddress,
) -> Result<Access, PageError> {
    let to_login = || {
        Ok(Access::Redirect(redirect(
            StatusCode::SEE_OTHER,
            paths::LOGIN,
        )))
    };
    let Some(token) = cookies::session_value(req, state.cfg.secure_cookies) else {
        return to_login();
    };
    let Some((session, account)) = sessions::current(state, token.clone())
        .await?
        .filter(|(_, a)| a.can_sign_in())
    else {
        return to_login();
    };
    let zone = state.cfg.zones.classify(client);
    if !zone.is_trusted_network() && !authn::is_multi_factor(&session.amr) {
        let (binding, new_cookie) = cookies::flow_binding(req, state.cfg.secure_cookies);
        let (flow_id, entry) =
            sessions::start_step_up(state, token, &binding, account, session.amr).await?;
        let response = after_entry(&flow_id, &entry);
        return Ok(Access::Redirect(cookies::with_cookie(response, new_cookie)));
    }
    Ok(Access::Granted(session, account))
}

/// The signed-in session and account, or return the redirect `signed_in` asks for.
macro_rules! granted {
    ($req:expr, $state:expr, $client:expr) => {
        match $crate::web::account::signed_in(&$req, &$state, $client).await? {
            $crate::web::account::Access::Granted(session, account) => (session, account),
            $crate::web::account::Access::Redirect(response) => return Ok(response),
        }
    };
}
pub(crate) use granted;

fn html(
    status: StatusCode,
    req: &HttpRequest,
    state: &AppState,
    page: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    cookies::page_with_csrf(status, req, state.cfg.secure_cookies, page)
}

async fn overview(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    session: &BrowserSession,
    account: &Account,
    notice: Option<(bool, String)>,
) -> Result<HttpResponse, PageError> {
    let methods = enrolment::methods(state, account.id.to_string()).await?;
    let compliance = account.compliance().status(state.clock.now());
    Ok(html(status, req, state, |csrf| {
        account_page(&AccountView {
            account,
            session,
            methods: &methods,
            compliance: &compliance,
            csrf,
            notice: notice.as_ref().map(|(e, t)| (*e, t.as_str())),
        })
    }))
}

pub async fn get_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (session, account) = granted!(req, state, client);
    overview(&req, &state, StatusCode::OK, &session, &account, None).await
}

#[derive(Deserialize)]
/// A form that carries nothing but the CSRF token (a button).
pub struct CsrfForm {
    pub csrf: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

#[derive(Deserialize)]
pub struct AddressForm {
    csrf: String,
    address: String,
}

pub async fn post_totp_setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    let setup = enrolment::totp_begin(&state, &account).await?;
    Ok(html(StatusCode::OK, &req, &state, |csrf| {
        totp_setup_page(&setup, csrf, None)
    }))
}

pub async fn post_totp_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    if enrolment::totp_confirm(&state, &account, &form.code).await? {
        let notice = (
            false,
            "The authenticator app is set up. / 認証アプリを設定しました。".to_string(),
        );
        return overview(
            &req,
            &state,
            StatusCode::OK,
            &session,
            &account,
            Some(notice),
        )
        .await;
    }
    match enrolment::totp_pending(&state, &account).await? {
        Some(setup) => Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &req,
            &state,
            |csrf| {
                totp_setup_page(
                    &setup,
                    csrf,
                    Some(
                        "The code is not correct. Check the app and try again. / コードが正しくありません。",
                    ),
                )
            },
        )),
        None => Ok(redirect(StatusCode::SEE_OTHER, "/account")),
    }
}

pub async fn post_totp_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    enrolment::totp_remove(&state, &account).await?;
    let notice = (
        false,
        "The authenticator app was removed. / 認証アプリを削除しました。".to_string(),
    );
    overview(
        &req,
        &state,
        StatusCode::OK,
        &session,
        &account,
        Some(notice),
    )
    .await
}

pub async fn post_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<AddressForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    let (status, notice) = match enrolment::email_begin(&state, &account, &form.address).await? {
        EmailBegin::Sent(to) => (StatusCode::OK, (false, format!("A confirmation code was sent to {to}. Enter it below. / 確認コードを送信しました。"))),
        EmailBegin::NotAllowed => (
            StatusCode::UNPROCESSABLE_ENTITY,
            (true, "Use a personal address: university mailboxes (@e-l.cc.uec.ac.jp, @gmail-du.cc.uec.ac.jp) disappear with the account. / 大学のメールアドレスは使えません。".to_string()),
        ),
        EmailBegin::SendFailed => (StatusCode::BAD_GATEWAY, (true, "The code could not be sent. Check the address and try again. / メールを送信できませんでした。".to_string())),
    };
    overview(&req, &state, status, &session, &account, Some(notice)).await
}

pub async fn post_email_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    let (status, notice) = if enrolment::email_confirm(&state, &account, &form.code).await? {
        (
            StatusCode::OK,
            (
                false,
                "Sign-in codes will go to the new address. / 確認コードの送信先を変更しました。"
                    .to_string(),
            ),
        )
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, (true, "The code is not correct or has expired. / コードが正しくないか、有効期限が切れています。".to_string()))
    };
    overview(&req, &state, status, &session, &account, Some(notice)).await
}

pub async fn post_email_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    enrolment::email_remove(&state, &account).await?;
    let notice = (
        false,
        "Codes will no longer be sent by e-mail. / メールでの確認コード送信を停止しました。"
            .to_string(),
    );
    overview(
        &req,
        &state,
        StatusCode::OK,
        &session,
        &account,
        Some(notice),
    )
    .await
}

pub async fn post_backup_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    let codes = enrolment::backup_codes_regenerate(&state, &account).await?;
    Ok(html(StatusCode::OK, &req, &state, |_| {
        backup_codes_page(account.id.as_str(), &codes)
    }))
}

pub async fn post_backup_codes_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (session, account) = granted!(req, state, client);
    enrolment::backup_codes_remove(&state, &account).await?;
    let notice = (
        false,
        "The backup codes were voided. / バックアップコードを無効にしました。".to_string(),
    );
    overview(
        &req,
        &state,
        StatusCode::OK,
        &session,
        &account,
        Some(notice),
    )
    .await
}
