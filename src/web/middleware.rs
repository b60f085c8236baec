//! Response headers every page gets, and a request log that never records query strings
//! or bodies (they carry codes, tokens and passwords).

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, DefaultHeaders, Next};

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        // No form-action: Chromium applies it to the redirect to the relying party.
        .add((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ))
}

/// `Strict-Transport-Security` when the issuer is https: a browser that has seen the IdP
/// once never again sends a password over plain http to that host, even when a campus
/// Wi-Fi portal or an attacker rewrites a link. One year, without `includeSubDomains`
/// (the university's other hosts are not ours to commit) and without `preload`.
pub fn strict_transport(https: bool) -> Condition<DefaultHeaders> {
    Condition::new(
        https,
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000")),
    )
}

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let response = next.call(req).await?;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}
