//! Passkey routes. The page `/account/passkeys` lists, names and removes passkeys; the JSON
//! endpoints are what `/static/passkeys.js` calls around `navigator.credentials`:
//! - `POST /account/passkeys/begin` `{csrf}` → `{options, ticket}`;
//!   `POST /account/passkeys` `{csrf, ticket, name, credential}` → `{ok}`;
//! - `POST /login/passkey/begin` `{csrf, flow}` → options;
//!   `POST /login/passkey/finish` `{csrf, flow, credential}` → `{next}` (and the session
//!   cookie), for a second factor or a passwordless sign-in, by the flow's stage.
//!
//! JSON errors are `{"error": message}`; the CSRF token travels in the body as in forms.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::account::Account;
use crate::domain::client_address::ClientAddress;
use crate::services::passkeys::{self, PasskeyAttempt, PasskeySignIn, RegisterOutcome};
use crate::startup::AppState;
use crate::web::account::{Access, granted, signed_in};
use crate::web::cookies;
use crate::web::errors::PageError;
use crate::web::extractors::ClientIp;
use crate::web::oidc::redirect;
use crate::web::second_factor::{self, FLOW_EXPIRED, check_csrf};
use crate::web::views::passkeys::passkeys_page;

pub const JS: &str = include_str!("../../templates/passkeys.js");

pub async fn get_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("text/javascript; charset=utf-8")
        .body(JS)
}

fn json(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, json!({ "error": message }))
}

const REJECTED: &str = "The passkey could not be verified. Try again. / パスキーを確認できませんでした。もう一度お試しください。";
const NOT_SIGNED_IN: &str = "Your session has ended. Reload the page and sign in again. / セッションが終了しました。再読み込みしてください。";

/// The options JSON from webauthn-rs as a value, to embed in a response.
fn options_value(options_json: &str) -> Result<Value, PageError> {
    serde_json::from_str(options_json)
        .map_err(|e| crate::services::ServiceError::Internal(e.to_string()).into())
}

// ---- account pages ----

/// The signed-in account for a JSON call from the account pages, or the JSON error to
/// answer (a stale CSRF token, or no session that may change settings from here).
async fn json_account(
    req: &HttpRequest,
    state: &AppState,
    client: ClientAddress,
    csrf: &str,
) -> Result<Result<Account, HttpResponse>, PageError> {
    if !cookies::csrf_ok(req, state.cfg.secure_cookies, csrf) {
        return Ok(Err(json_error(StatusCode::BAD_REQUEST, NOT_SIGNED_IN)));
    }
    Ok(match signed_in(req, state, client).await? {
        Access::Granted(_, account) => Ok(account),
        Access::Redirect(_) => Err(json_error(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN)),
    })
}

#[derive(Deserialize)]
pub struct CsrfBody {
    csrf: String,
}

pub async fn get_passkeys(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
) -> Result<HttpResponse, PageError> {
    let (_, account) = granted!(req, state, client);
    let rows = passkeys::list(&state, account.id.to_string()).await?;
    let secure = state.cfg.secure_cookies;
    Ok(cookies::page_with_csrf(
        StatusCode::OK,
        &req,
        secure,
        |csrf| passkeys_page(account.id.as_str(), &rows, csrf),
    ))
}

pub async fn post_register_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    body: web::Json<CsrfBody>,
) -> Result<HttpResponse, PageError> {
    let account = match json_account(&req, &state, client, &body.csrf).await? {
        Ok(account) => account,
        Err(refused) => return Ok(refused),
    };
    let start = passkeys::register_begin(&state, &account).await?;
    Ok(json(
        StatusCode::OK,
        json!({ "options": options_value(&start.options_json)?, "ticket": start.ticket }),
    ))
}

#[derive(Deserialize)]
pub struct RegisterBody {
    csrf: String,
    ticket: String,
    #[serde(default)]
    name: String,
    credential: Value,
}

pub async fn post_register_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, PageError> {
    let account = match json_account(&req, &state, client, &body.csrf).await? {
        Ok(account) => account,
        Err(refused) => return Ok(refused),
    };
    let response = body.credential.to_string();
    Ok(
        match passkeys::register_finish(&state, &account, &body.ticket, &body.name, &response)
            .await?
        {
            RegisterOutcome::Added => json(StatusCode::OK, json!({ "ok": true })),
            RegisterOutcome::Rejected => json_error(StatusCode::UNPROCESSABLE_ENTITY, REJECTED),
            RegisterOutcome::Expired => json_error(
                StatusCode::BAD_REQUEST,
                "The registration took too long. Try again. / 時間切れです。もう一度お試しください。",
            ),
        },
    )
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    csrf: String,
    credential_id: String,
    #[serde(default)]
    name: String,
}

pub async fn post_rename(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<PasskeyForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    let form = form.into_inner();
    passkeys::rename(&state, &account, form.credential_id, &form.name).await?;
    Ok(redirect(StatusCode::SEE_OTHER, "/account/passkeys"))
}

pub async fn post_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    form: web::Form<PasskeyForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, state.cfg.secure_cookies, &form.csrf)?;
    let (_, account) = granted!(req, state, client);
    passkeys::remove(&state, &account, form.into_inner().credential_id).await?;
    Ok(redirect(StatusCode::SEE_OTHER, "/account/passkeys"))
}

// ---- sign-in ----

#[derive(Deserialize)]
pub struct FlowBody {
    csrf: String,
    flow: String,
}

pub async fn post_sign_in_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<FlowBody>,
) -> Result<HttpResponse, PageError> {
    if !cookies::csrf_ok(&req, state.cfg.secure_cookies, &body.csrf) {
        return Ok(json_error(StatusCode::BAD_REQUEST, FLOW_EXPIRED));
    }
    let binding = cookies::flow_binding_value(&req, state.cfg.secure_cookies);
    match passkeys::sign_in_begin(&state, body.into_inner().flow, binding).await? {
        Some(options) => Ok(json(StatusCode::OK, options_value(&options)?)),
        None => Ok(json_error(StatusCode::BAD_REQUEST, FLOW_EXPIRED)),
    }
}

#[derive(Deserialize)]
pub struct FinishBody {
    csrf: String,
    flow: String,
    credential: Value,
}

pub async fn post_sign_in_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientIp(client): ClientIp,
    body: web::Json<FinishBody>,
) -> Result<HttpResponse, PageError> {
    let secure = state.cfg.secure_cookies;
    if !cookies::csrf_ok(&req, secure, &body.csrf) {
        return Ok(json_error(StatusCode::BAD_REQUEST, FLOW_EXPIRED));
    }
    let FinishBody {
        flow, credential, ..
    } = body.into_inner();
    let attempt = PasskeyAttempt {
        flow_id: flow,
        response_json: credential.to_string(),
        ip: client.ip,
        previous_session: cookies::session_value(&req, secure),
        binding: cookies::flow_binding_value(&req, secure),
    };
    Ok(match passkeys::sign_in_finish(&state, attempt).await? {
        PasskeySignIn::SignedIn(finished) => {
            let mut response = HttpResponse::Ok();
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(token) = finished.session_token {
                response.cookie(cookies::session_cookie(
                    token,
                    secure,
                    state.settings.tokens.session_ttl,
                ));
            }
            response.cookie(second_factor::device_cookie(&state, &finished.account_id));
            response.json(json!({ "next": finished.next }))
        }
        PasskeySignIn::Rejected => json_error(StatusCode::UNAUTHORIZED, REJECTED),
        PasskeySignIn::FlowExpired => json_error(StatusCode::BAD_REQUEST, FLOW_EXPIRED),
        PasskeySignIn::Throttled { wait_secs } => json_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed attempts. Wait {wait_secs} seconds. / 失敗が続いたため、{wait_secs} 秒待ってください。"
            ),
        ),
    })
}
