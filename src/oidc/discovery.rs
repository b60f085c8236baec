//! The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414), built once at
//! start-up. It advertises exactly what is implemented, no more.

use serde_json::json;

use crate::oidc::authorize::SUPPORTED_SCOPES;
use crate::oidc::claims::ACR_VALUES_SUPPORTED;
use crate::oidc::dpop::SIGNING_ALGS as DPOP_ALGS;

/// Paths of the endpoints, relative to the issuer.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AUTHORIZE: &str = "/authorize";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const JWKS: &str = "/jwks";
    pub const LOGIN: &str = "/login";
    pub const REVOKE: &str = "/revoke";
    pub const INTROSPECT: &str = "/introspect";
    /// RFC 7591 registration; RFC 7592 client configuration below it.
    pub const REGISTER: &str = "/register";
    pub const PAR: &str = "/par";
    pub const END_SESSION: &str = "/logout";
}

/// `base`: the issuer without a trailing slash.
pub fn document(issuer: &str, base: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}{}", paths::AUTHORIZE),
        "token_endpoint": format!("{base}{}", paths::TOKEN),
        "userinfo_endpoint": format!("{base}{}", paths::USERINFO),
        "jwks_uri": format!("{base}{}", paths::JWKS),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "revocation_endpoint": format!("{base}{}", paths::REVOKE),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{base}{}", paths::INTROSPECT),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "dpop_signing_alg_values_supported": DPOP_ALGS,
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr", "amr",
            "azp", "sid", "name", "preferred_username", "affiliation", "email", "email_verified"
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["ja", "en"],
        "registration_endpoint": format!("{base}{}", paths::REGISTER),
        "pushed_authorization_request_endpoint": format!("{base}{}", paths::PAR),
        "require_pushed_authorization_requests": false,
        "end_session_endpoint": format!("{base}{}", paths::END_SESSION),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}
