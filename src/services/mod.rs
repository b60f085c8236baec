//! Use-cases: each function orchestrates domain rules, storage, keys and hashing for one
//! thing a person, relying party or operator does. No HTTP types here.

pub mod access;
pub mod access_tokens;
pub mod accounts;
pub mod authorization;
pub mod backchannel_logout;
pub mod client_auth;
pub mod clients;
pub mod compliance;
pub mod consent;
pub mod developer_apps;
pub mod dpop;
pub mod enrolment;
pub mod introspection;
pub mod lifecycle;
pub mod login;
pub mod logout;
pub mod outbound;
pub mod par;
pub mod passkeys;
pub mod passwords;
pub mod refresh;
pub mod registration;
pub mod reissue;
pub mod revocation;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod throttle;
pub mod token;
pub mod userinfo;

use crate::hashing::HashError;
use crate::oidc::keys::KeyError;
use crate::store::StoreError;

/// Failures that are not the caller's fault. The detail is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Temporarily out of capacity (hashing queue full, database unreachable).
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => ServiceError::Unavailable("password hashing queue is full".into()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<KeyError> for ServiceError {
    fn from(e: KeyError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}
