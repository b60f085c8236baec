//! One integration test binary (modules, not many tests/*.rs files that each link).

mod access;
mod admin_cli;
mod backchannel_logout;
mod discovery;
mod helpers;
mod lifecycle;
mod login;
mod logout;
mod oidc_code_flow;
mod oidc_errors;
mod passkeys;
mod password;
mod reissue;
mod schema;
mod second_factor;
mod smtp_sink;
mod soft_authenticator;
