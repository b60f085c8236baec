//! The second-factor page of a sign-in: one `code` field for an authenticator app, an
//! e-mail code or a backup code; a button to (re)send an e-mail code; and a passkey button.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::services::second_factor::{self, CodeAttempt, CodeOutcome, Entry};
use crate::services::sign_in::{Finished, PASSWORD_CHANGE};
use crate::services::throttle;
use crate::startup::AppState;
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::views::password::weak_password_page;
use crate::web::views::second_factor::{SecondFactorView, not_set_page, second_factor_page};

pub const PATH: &str = "/login/second-factor";

pub const FLOW_EXPIRED: &str = "This sign-in has expired or was already used. Go back to the application and sign in again. \
     / このログイン画面は有効期限が切れています。アプリケーションに戻ってやり直してください。";

/// Where the browser goes once a flow waits for its second factor, or the page that says
/// no method is set up.
pub fn after_entry(flow_id: &str, entry: &Entry) -> HttpResponse {
    let notice = match entry {
        Entry::Ready => "",
        Entry::CodeSent { .. } => "&mail=sent",
        Entry::SendFailed => "&mail=failed",
        Entry::NotSet => {
            return HttpResponse::Forbidden()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .content_type("text/html; charset=utf-8")
                .body(not_set_page().into_string());
        }
    };
    redirect(
        StatusCode::SEE_OTHER,
        &format!("{PATH}?flow={flow_id}{notice}"),
    )
}

/// A new device token for a browser that just signed in to `account_id`: its password
/// attempts at that account are throttled on their own counter from now on.
pub fn device_cookie(state: &AppState, account_id: &str) -> actix_web::cookie::Cookie<'static> {
    cookies::device_cookie(
        throttle::new_device_token(&state.server_secret, account_id),
        state.cfg.secure_cookies,
    )
}

/// A finished sign-in: set the new session cookie (if any) and go on; when the password
/// must be changed by a date still ahead, first a page that says so, with a way on.
pub fn signed_in(state: &AppState, finished: Finished) -> HttpResponse {
    let warn = finished
        .password_change_by
        .filter(|_| finished.next != PASSWORD_CHANGE);
    let mut response = match warn {
        Some(_) => {
            let mut r = HttpResponse::Ok();
            r.content_type("text/html; charset=utf-8");
            r
        }
        None => {
            let mut r = HttpResponse::SeeOther();
            r.insert_header((header::LOCATION, finished.next.clone()));
            r
        }
    };
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(token) = finished.session_token {
        response.cookie(cookies::session_cookie(
            token,
            state.cfg.secure_cookies,
            state.settings.tokens.session_ttl,
        ));
    }
    response.cookie(device_cookie(state, &finished.account_id));
    match warn {
        Some(by) => response.body(weak_password_page(by, &finished.next).into_string()),
        None => response.finish(),
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    flow: String,
    mail: Option<String>,
}

pub async fn get_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let PageQuery { flow, mail } = query.into_inner();
    let message = match mail.as_deref() {
        Some("sent") => Some(Notice::Info(
            "A code has been sent by e-mail. / 確認コードをメールで送信しました。",
        )),
        Some("failed") => Some(Notice::Error(
            "The code could not be sent by e-mail. Try again, or use another method. / メールを送信できませんでした。再送するか、別の方法をお使いください。",
        )),
        _ => None,
    };
    render(&req, &state, StatusCode::OK, flow, message).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    flow: String,
    csrf: String,
    code: String,
}

pub async fn post_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let secure = state.cfg.secure_cookies;
    check_csrf(&req, secure, &form.csrf)?;
    let attempt = CodeAttempt {
        flow_id: form.flow.clone(),
        code: form.code,
        ip: client.ip,
        previous_session: cookies::session_value(&req, secure),
        binding: cookies::flow_binding_value(&req, secure),
    };
    match second_factor::submit_code(&state, attempt).await? {
        CodeOutcome::SignedIn(finished) => Ok(signed_in(&state, finished)),
        CodeOutcome::FlowExpired => Err(PageError::bad_request(FLOW_EXPIRED)),
        CodeOutcome::WrongCode => {
            let notice = Notice::Error(
                "The code is not correct or has expired. / コードが正しくないか、有効期限が切れています。",
            );
            render(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                form.flow,
                Some(notice),
            )
            .await
        }
        CodeOutcome::Throttled { wait_secs } => {
            let text = format!(
                "Too many wrong codes. Wait {wait_secs} seconds and try again. / 失敗が続いたため、{wait_secs} 秒待ってから再度お試しください。"
            );
            render_owned(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                form.flow,
                Some((true, text)),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct FlowForm {
    flow: String,
    csrf: String,
}

pub async fn post_send_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<FlowForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let secure = state.cfg.secure_cookies;
    check_csrf(&req, secure, &form.csrf)?;
    let binding = cookies::flow_binding_value(&req, secure);
    match second_factor::resend(&state, form.flow.clone(), binding).await? {
        Some(entry) => Ok(after_entry(&form.flow, &entry)),
        None => Err(PageError::bad_request(FLOW_EXPIRED)),
    }
}

pub fn check_csrf(req: &HttpRequest, secure: bool, submitted: &str) -> Result<(), PageError> {
    if cookies::csrf_ok(req, secure, submitted) {
        Ok(())
    } else {
        Err(PageError::bad_request(
            "This form has expired. Reload the page and try again. / フォームの有効期限が切れました。再読み込みしてください。",
        ))
    }
}

enum Notice {
    Info(&'static str),
    Error(&'static str),
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    flow_id: String,
    notice: Option<Notice>,
) -> Result<HttpResponse, PageError> {
    let notice = notice.map(|n| match n {
        Notice::Info(t) => (false, t.to_string()),
        Notice::Error(t) => (true, t.to_string()),
    });
    render_owned(req, state, status, flow_id, notice).await
}

async fn render_owned(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    flow_id: String,
    notice: Option<(bool, String)>,
) -> Result<HttpResponse, PageError> {
    let secure = state.cfg.secure_cookies;
    let binding = cookies::flow_binding_value(req, secure);
    let Some((_, account, methods)) =
        second_factor::waiting_flow(state, flow_id.clone(), binding).await?
    else {
        return Err(PageError::bad_request(FLOW_EXPIRED));
    };
    let destination =
        second_factor::code_destination(&account, &methods).map(|a| second_factor::mask(&a));
    Ok(cookies::page_with_csrf(status, req, secure, |csrf| {
        second_factor_page(&SecondFactorView {
            flow_id: &flow_id,
            csrf,
            account_id: account.id.as_str(),
            totp: methods.totp,
            email_destination: destination.as_deref(),
            backup_codes: methods.backup_codes_left > 0,
            passkeys: methods.passkeys > 0,
            notice: notice
                .as_ref()
                .map(|(is_error, text)| (*is_error, text.as_str())),
        })
    }))
}
