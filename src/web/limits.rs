//! What one request, and one client address, may cost (issue #12 item 5): body size limits
//! per endpoint (413 before the body is read, as JSON for protocol endpoints and as a page
//! for browsers), and a per-address request rate in front of the unauthenticated
//! endpoints (actix-governor, keyed on the client address the provider already computes
//! from its trusted proxies; IPv6 per /64), answering 429 with `Retry-After`.

use std::sync::Arc;

use actix_governor::{KeyExtractor, SimpleKeyExtractionError};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use ipnet::IpNet;

use crate::domain::client_address;
use crate::domain::outbound::budget_key;
use crate::oidc::discovery::paths;
use crate::web::views;

/// Largest form body (browser forms and the OAuth endpoints' forms).
pub const FORM_LIMIT: usize = 16 * 1024;
/// Largest JSON body (RFC 7591 metadata, WebAuthn responses).
pub const JSON_LIMIT: usize = 64 * 1024;

/// The most any body may be, whatever the endpoint: the extractors' backstop for bodies
/// sent without `Content-Length` (chunked), which the guard cannot see in advance.
pub const MAX_BODY: usize = JSON_LIMIT;

/// Endpoints whose callers are programs: their errors are RFC 6749 JSON.
fn is_protocol(path: &str) -> bool {
    [
        paths::PAR,
        paths::TOKEN,
        paths::REVOKE,
        paths::INTROSPECT,
        paths::USERINFO,
    ]
    .contains(&path)
        || path == paths::REGISTER
        || path.starts_with("/register/")
}

/// The body limit of `path`.
pub fn body_limit(path: &str) -> usize {
    if path == paths::REGISTER
        || path.starts_with("/register/")
        || path.starts_with("/account/passkeys")
        || path.starts_with("/login/passkey/")
    {
        JSON_LIMIT
    } else {
        FORM_LIMIT
    }
}

/// Whether `path` is behind the per-address rate limit: the endpoints anyone can call
/// without credentials, and `/par` (a public client's id authenticates nobody).
pub fn is_rate_limited(path: &str) -> bool {
    path == paths::AUTHORIZE
        || path == paths::LOGIN
        || path.starts_with("/login/")
        || path == paths::PAR
        || path == paths::REGISTER
        || path.starts_with("/register/")
        || path == paths::END_SESSION
        || path == "/reissue"
        || path.starts_with("/reissue/")
}

fn json_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": error, "error_description": description }))
}

fn page(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(views::error::error_page(message, None).into_string())
}

fn too_large(path: &str, limit: usize) -> HttpResponse {
    if is_protocol(path) {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &format!("the request body is larger than {limit} bytes"),
        )
    } else {
        page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "What was sent is too large (more than {} KiB). / 送信された内容が大きすぎます（{} KiB を超えています）。",
                limit / 1024,
                limit / 1024
            ),
        )
    }
}

fn too_many(path: &str) -> HttpResponse {
    if is_protocol(path) {
        json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many requests from this address; retry after the time in Retry-After",
        )
    } else {
        page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests came from your network. Please wait a moment and try again. / お使いのネットワークからの要求が多すぎます。しばらく待ってからやり直してください。",
        )
    }
}

/// Refuses a body announced larger than the endpoint's limit before reading it, and
/// gives the rate limiter's 429 the endpoint's error format and a `Retry-After` of at
/// least one second.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path().to_string();
    let limit = body_limit(&path);
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Ok(req.into_response(too_large(&path, limit)));
    }
    let response = next.call(req).await?;
    if response.status() == StatusCode::TOO_MANY_REQUESTS
        && response.headers().contains_key("x-ratelimit-after")
    {
        let wait = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1);
        let (req, _) = response.into_parts();
        let mut replaced = too_many(&path);
        replaced
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(ServiceResponse::new(req, replaced));
    }
    Ok(response.map_into_boxed_body())
}

/// The rate limiter's key: the client address (trusted-proxy aware, IPv6 per /64), or
/// `None` for an endpoint that is not limited (a key on the whitelist).
#[derive(Clone, Debug)]
pub struct AddressKey {
    pub trusted_proxies: Arc<Vec<IpNet>>,
}

impl KeyExtractor for AddressKey {
    type Key = Option<String>;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        if !is_rate_limited(req.path()) {
            return Ok(None);
        }
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let values = |name: &str| -> Vec<&str> {
            req.headers()
                .get_all(name)
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        let client = client_address::resolve(
            peer,
            &values("x-forwarded-for"),
            &values("forwarded"),
            &self.trusted_proxies,
        );
        Ok(Some(budget_key(client.ip)))
    }

    fn whitelisted_keys(&self) -> Vec<Self::Key> {
        vec![None]
    }
}

/// The limiter configuration; one per server, shared by its workers.
pub type RateLimit = actix_governor::GovernorConfig<
    AddressKey,
    actix_governor::governor::middleware::NoOpMiddleware<
        actix_governor::governor::clock::QuantaInstant,
    >,
>;

/// `None` when `per_second` is 0 (no limit).
pub fn rate_limit(per_second: u32, burst: u32, trusted_proxies: Vec<IpNet>) -> Option<RateLimit> {
    if per_second == 0 {
        return None;
    }
    actix_governor::GovernorConfigBuilder::default()
        .requests_per_second(u64::from(per_second))
        .burst_size(burst.max(1))
        .key_extractor(AddressKey {
            trusted_proxies: Arc::new(trusted_proxies),
        })
        .finish()
}

/// A configuration for the type of a switched-off limiter (see `startup`); never consulted.
pub fn disabled_rate_limit() -> RateLimit {
    actix_governor::GovernorConfigBuilder::default()
        .key_extractor(AddressKey {
            trusted_proxies: Arc::new(Vec::new()),
        })
        .finish()
        .expect("the default quota is non-zero")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_endpoints_get_json_and_registration_a_larger_body() {
        assert!(is_protocol("/par"));
        assert!(is_protocol("/register/abc"));
        assert!(!is_protocol("/login"));
        assert_eq!(body_limit("/register"), JSON_LIMIT);
        assert_eq!(body_limit("/par"), FORM_LIMIT);
        assert_eq!(body_limit("/login"), FORM_LIMIT);
    }

    #[test]
    fn only_unauthenticated_endpoints_are_rate_limited() {
        for p in [
            "/authorize",
            "/login",
            "/login/second-factor",
            "/par",
            "/register",
            "/logout",
            "/reissue",
        ] {
            assert!(is_rate_limited(p), "{p}");
        }
        for p in [
            "/token",
            "/userinfo",
            "/jwks",
            "/.well-known/openid-configuration",
            "/account",
            "/healthz",
        ] {
            assert!(!is_rate_limited(p), "{p}");
        }
    }
}
