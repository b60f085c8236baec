//! The one table of every route. Guards: `anonymous` needs nothing; `login-flow` needs a
//! live flow id and the CSRF cookie; `session` needs the session cookie; `client-auth`
//! authenticates the relying party; `bearer` needs an access token.

use actix_web::web;

use crate::oidc::discovery::paths;
use crate::web::{account, health, login, middleware, oidc};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(middleware::security_headers())
            .wrap(actix_web::middleware::from_fn(middleware::log_request))
            // anonymous
            .route(paths::DISCOVERY, web::get().to(oidc::get_discovery))
            .route(paths::JWKS, web::get().to(oidc::get_jwks))
            .route("/healthz", web::get().to(health::get_healthz))
            .route("/static/style.css", web::get().to(health::get_stylesheet))
            // anonymous, or session when one exists
            .route(paths::AUTHORIZE, web::get().to(oidc::get_authorize))
            .route(paths::AUTHORIZE, web::post().to(oidc::post_authorize))
            // login-flow
            .route(paths::LOGIN, web::get().to(login::get_login))
            .route(paths::LOGIN, web::post().to(login::post_login))
            // session
            .route("/account", web::get().to(account::get_account))
            // client-auth
            .route(paths::TOKEN, web::post().to(oidc::post_token))
            // bearer
            .route(paths::USERINFO, web::get().to(oidc::get_userinfo))
            .route(paths::USERINFO, web::post().to(oidc::post_userinfo)),
    );
}
