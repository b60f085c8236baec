//! `/consent` (a third-party app asks; the person allows or denies) and `/account/apps`
//! (the apps consented to, and withdrawing).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::services::consent;
use crate::startup::AppState;
use crate::web::account::granted;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor::check_csrf;
use crate::web::views::consent::{apps_page, consent_page};

pub use crate::services::consent::PATH;
pub const APPS_PATH: &str = "/account/apps";
pub const WITHDRAW_PATH: &str = "/account/apps/withdraw";

const GONE: &str = "This question has expired or was already answered. Go back to the application and sign in again. \
     / この確認画面は有効期限が切れているか、回答済みです。アプリケーションに戻ってやり直してください。";

fn html(
    req: &HttpRequest,
    state: &AppState,
    page: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    cookies::page_with_csrf(StatusCode::OK, req, state.cfg.secure_cookies, page)
}

#[derive(Deserialize)]
pub struct ConsentQuery {
    flow: String,
}

pub async fn get_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ConsentQuery>,
) -> Result<HttpResponse, PageError> {
    let flow_id = query.into_inner().flow;
    let session = cookies::session_value(&req, state.cfg.secure_cookies);
    let view = consent::view(&state, flow_id.clone(), session)
        .await?
        .ok_or_else(|| PageError::bad_request(GONE))?;
    Ok(html(&req, &state, |csrf| {
        consent_page(&view, &flow_id, csrf)
    }))
}

#[derive(Deserialize)]
pub struct ConsentForm {
    flow: String,
    csrf: String,
    decision: String,
}

pub async fn post_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return Err(PageError::bad_request(
                "Choose Allow or Deny. / 許可するかどうかを選んでください。",
            ));
        }
    };
    let session = cookies::session_value(&req, state.cfg.secure_cookies);
    let next = consent::answer(&state, form.flow, session, allow, client.ip.to_string())
        .await?
        .ok_or_else(|| PageError::bad_request(GONE))?;
    Ok(redirect(StatusCode::SEE_OTHER, &next))
}

pub async fn get_apps(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    let apps = consent::list(&state, account.id.to_string()).await?;
    Ok(html(&req, &state, |csrf| apps_page(&apps, csrf, None)))
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    client_id: String,
}

pub async fn post_withdraw(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<WithdrawForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    consent::withdraw(
        &state,
        account.id.to_string(),
        form.client_id,
        client.ip.to_string(),
    )
    .await?;
    let apps = consent::list(&state, account.id.to_string()).await?;
    Ok(html(&req, &state, |csrf| {
        apps_page(
            &apps,
            csrf,
            Some("Access withdrawn. / アクセスを取り消しました。"),
        )
    }))
}
