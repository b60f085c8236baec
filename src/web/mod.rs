//! actix-web adapters: extract typed inputs, call one service, map the outcome to a page,
//! a redirect or JSON. No SQL and no policy here.

pub mod access;
pub mod account;
pub mod client_auth;
pub mod consent;
pub mod cookies;
pub mod developer;
pub mod errors;
pub mod extractors;
pub mod health;
pub mod limits;
pub mod login;
pub mod logout;
pub mod middleware;
pub mod oidc;
pub mod par;
pub mod passkeys;
pub mod password;
pub mod registration;
pub mod reissue;
pub mod routes;
pub mod second_factor;
pub mod token_status;
pub mod userinfo;
pub mod views;
