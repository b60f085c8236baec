//! The provider's cookies and the CSRF check.
//!
//! Every cookie is HttpOnly and SameSite=Lax; on an https issuer it is also Secure and
//! carries the `__Host-` prefix, which stops a sibling sub-domain (any `*.uec.ac.jp` host)
//! from planting it. CSRF uses the double-submit pattern: a random per-browser cookie whose
//! value each form repeats; a cross-site page can neither read the cookie nor set it.
//!
//! Sign-in and step-up flows are bound to the browser that began them by a third random
//! per-browser cookie, the flow-binding cookie: its SHA-256 is stored on each flow, and
//! every step of a flow must present it. A flow handle that leaks (a URL, a referrer, a
//! phishing link) is worth nothing in another browser.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use crate::secrets;

const SESSION: &str = "uec_idp_session";
const CSRF: &str = "uec_idp_csrf";
const FLOW: &str = "uec_idp_flow";
/// Marks a browser that signed in to an account (see `services::throttle`); it outlives
/// sign-out: it names the browser, not a session.
const DEVICE: &str = "uec_idp_device";
/// How long a browser stays known after its last sign-in: a year.
const DEVICE_MAX_AGE: i64 = 365 * 86_400;

fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

fn build(name: String, value: String, secure: bool, max_age: Option<i64>) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(Duration::seconds(secs));
    }
    c
}

pub fn session_value(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(&name(SESSION, secure))
        .map(|c| c.value().to_string())
}

pub fn session_cookie(value: String, secure: bool, max_age: i64) -> Cookie<'static> {
    build(name(SESSION, secure), value, secure, Some(max_age))
}

pub fn device_value(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(&name(DEVICE, secure))
        .map(|c| c.value().to_string())
}

pub fn device_cookie(value: String, secure: bool) -> Cookie<'static> {
    build(name(DEVICE, secure), value, secure, Some(DEVICE_MAX_AGE))
}

/// An HTML page whose forms carry the browser's CSRF token (`render` gets it), setting the
/// CSRF cookie when the browser had none. Never cached: such pages hold tokens, and some
/// a client secret.
pub fn page_with_csrf(
    status: StatusCode,
    req: &HttpRequest,
    secure: bool,
    render: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    let (csrf, new_cookie) = csrf_token(req, secure);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(c) = new_cookie {
        response.cookie(c);
    }
    response
        .content_type("text/html; charset=utf-8")
        .body(render(&csrf).into_string())
}

/// The browser's CSRF secret, and a cookie to set when it had none yet.
pub fn csrf_token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    match req.cookie(&name(CSRF, secure)) {
        Some(c) if c.value().len() >= 32 => (c.value().to_string(), None),
        _ => {
            let token = secrets::new_token();
            (
                token.clone(),
                Some(build(name(CSRF, secure), token, secure, None)),
            )
        }
    }
}

/// Whether a submitted form's `csrf` field repeats this browser's CSRF cookie.
pub fn csrf_ok(req: &HttpRequest, secure: bool, submitted: &str) -> bool {
    req.cookie(&name(CSRF, secure))
        .is_some_and(|c| c.value().len() >= 32 && secrets::constant_time_eq(c.value(), submitted))
}

/// The browser's flow-binding value, for a flow about to begin, and a cookie to set when it
/// had none yet. One value per browser (not per flow), so flows in several tabs coexist; it
/// lasts as long as the browser session.
pub fn flow_binding(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    match flow_binding_value(req, secure) {
        Some(value) => (value, None),
        None => {
            let value = secrets::new_token();
            (
                value.clone(),
                Some(build(name(FLOW, secure), value.clone(), secure, None)),
            )
        }
    }
}

/// The flow-binding value a browser presents with a step of a flow, if any.
pub fn flow_binding_value(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(&name(FLOW, secure))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32)
}

/// Sets `cookie` (a new flow-binding cookie) on `response`, if there is one.
pub fn with_cookie(mut response: HttpResponse, cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(c) = cookie
        && let Err(e) = response.add_cookie(&c)
    {
        tracing::error!(error = %e, "cookie not set");
    }
    response
}
