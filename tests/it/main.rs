//! One integration test binary (modules, not many tests/*.rs files that each link).

mod access;
mod admin_cli;
mod backchannel_logout;
mod consent;
mod developer_portal;
mod discovery;
mod dpop;
mod dynamic_registration;
mod guessing;
mod helpers;
mod lifecycle;
mod login;
mod logout;
mod oidc_code_flow;
mod oidc_errors;
mod par;
mod passkeys;
mod password;
mod refresh_tokens;
mod reissue;
mod schema;
mod second_factor;
mod shutdown;
mod smtp_sink;
mod soft_authenticator;
mod token_status;
