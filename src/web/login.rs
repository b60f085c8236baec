//! The sign-in pages: GET shows the form of a login flow, POST checks the password.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::oidc::discovery::paths;
use crate::services::login::{self, PasswordAttempt, Refusal, SignInOutcome};
use crate::startup::AppState;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor;
use crate::web::views::login::{LoginView, login_page};

use crate::web::second_factor::FLOW_EXPIRED;

#[derive(Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
}

pub async fn get_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let secure = state.cfg.secure_cookies;
    let Some(flow_id) = query.into_inner().flow else {
        let (binding, new_cookie) = cookies::flow_binding(&req, secure);
        let flow_id = login::start_direct_flow(&state, &binding, client.ip).await?;
        let response = redirect(
            StatusCode::SEE_OTHER,
            &format!("{}?flow={flow_id}", paths::LOGIN),
        );
        return Ok(cookies::with_cookie(response, new_cookie));
    };
    let binding = cookies::flow_binding_value(&req, secure);
    let flow = login::find_flow(&state, flow_id.clone(), binding)
        .await?
        .ok_or_else(|| PageError::bad_request(FLOW_EXPIRED))?;
    let username = flow.request.and_then(|r| r.login_hint).unwrap_or_default();
    Ok(render(
        &req,
        &state,
        StatusCode::OK,
        &flow_id,
        &username,
        None,
        false,
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    flow: String,
    csrf: String,
    username: String,
    password: String,
}

pub async fn post_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let secure = state.cfg.secure_cookies;
    if !cookies::csrf_ok(&req, secure, &form.csrf) {
        return Err(PageError::bad_request(
            "This form has expired. Reload the page and try again. / フォームの有効期限が切れました。再読み込みしてください。",
        ));
    }
    let attempt = PasswordAttempt {
        flow_id: form.flow.clone(),
        username: form.username.clone(),
        password: form.password,
        ip: client.ip,
        zone: state.cfg.zones.classify(client),
        previous_session: cookies::session_value(&req, secure),
        binding: cookies::flow_binding_value(&req, secure),
        device_token: cookies::device_value(&req, secure),
    };
    let (status, message, expired) = match login::submit_password(&state, attempt).await? {
        SignInOutcome::SignedIn(finished) => return Ok(second_factor::signed_in(&state, finished)),
        SignInOutcome::NeedSecondFactor { flow_id, entry } => return Ok(second_factor::after_entry(&flow_id, &entry)),
        SignInOutcome::Refused(Refusal::FlowExpired) => return Err(PageError::bad_request(FLOW_EXPIRED)),
        SignInOutcome::Refused(Refusal::WrongCredentials) => (
            StatusCode::UNAUTHORIZED,
            "The account ID or password is incorrect. / アカウントIDまたはパスワードが違います。".to_string(),
            false,
        ),
        SignInOutcome::Refused(Refusal::Throttled { wait_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed attempts. Wait {wait_secs} seconds and try again. / 失敗が続いたため、{wait_secs} 秒待ってから再度お試しください。"
            ),
            false,
        ),
        SignInOutcome::Refused(Refusal::PasswordExpired) => (
            StatusCode::FORBIDDEN,
            "Your password has expired. Reissue it online, or at the ITC desk with your student/staff ID card. / パスワードの有効期限が切れています。パスワードを再発行してください。".to_string(),
            true,
        ),
    };
    Ok(render(
        &req,
        &state,
        status,
        &form.flow,
        &form.username,
        Some(&message),
        expired,
    ))
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    flow_id: &str,
    username: &str,
    error: Option<&str>,
    expired: bool,
) -> HttpResponse {
    let (csrf, new_cookie) = cookies::csrf_token(req, state.cfg.secure_cookies);
    let page = login_page(&LoginView {
        flow_id,
        csrf: &csrf,
        username,
        error,
        expired,
    });
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(c) = new_cookie {
        response.cookie(c);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.insert_header((header::RETRY_AFTER, "60"));
    }
    response
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}
