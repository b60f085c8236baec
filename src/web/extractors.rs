//! Typed request inputs.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::client_address::{self, ClientAddress};
use crate::startup::AppState;

/// Where the request really came from: the TCP peer, or the forwarded address when the
/// peer is a configured trusted proxy (resolved once, here; see `domain::client_address`).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub ClientAddress);

impl FromRequest for ClientIp {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(resolve(req))))
    }
}

fn resolve(req: &HttpRequest) -> ClientAddress {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        // No configuration means no trusted proxies: the peer is the client.
        return ClientAddress {
            ip: client_address::normalize(peer),
            reliable: true,
        };
    };
    let values = |name: &str| -> Vec<&str> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    client_address::resolve(
        peer,
        &values("x-forwarded-for"),
        &values("forwarded"),
        &state.cfg.trusted_proxies,
    )
}
