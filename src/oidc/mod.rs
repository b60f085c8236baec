//! The OpenID Connect / OAuth 2.0 protocol layer: knows the RFCs, not HTTP frameworks or SQL.

pub mod access_token;
pub mod authorize;
pub mod claims;
pub mod discovery;
pub mod dpop;
pub mod dpop_key;
pub mod error;
pub mod keys;
pub mod logout;
pub mod pkce;
pub mod registration;
