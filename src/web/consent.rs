//! `/consent` (a third-party app asks; the person allows or denies) and `/account/apps`
//! (the apps consented to, and withdrawing).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::services::consent::{self, Answered, Presented};
use crate::startup::AppState;
use crate::web::account::granted;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor::{after_entry, check_csrf};
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
    let view = consent::view(&state, flow_id.clone(), presented(&req, &state))
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
    let zone = state.cfg.zones.classify(client);
    let presented = presented(&req, &state);
    let ip = client.ip.to_string();
    match consent::answer(&state, form.flow, presented, allow, ip, zone).await? {
        Some(Answered::Redirect(next)) => Ok(redirect(StatusCode::SEE_OTHER, &next)),
        // Answered from where a second factor is needed: step the session up first.
        Some(Answered::StepUp { flow_id, entry }) => Ok(after_entry(&flow_id, &entry)),
        None => Err(PageError::bad_request(GONE)),
    }
}

/// The cookies a consent step is bound to.
fn presented(req: &HttpRequest, state: &AppState) -> Presented {
    let secure = state.cfg.secure_cookies;
    Presented {
        session_cookie: cookies::session_value(req, secure),
        binding: cookies::flow_binding_value(req, secure),
    }
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
