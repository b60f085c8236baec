//! DPoP at the provider's endpoints (RFC 9449): a proof is checked on its own
//! (`oidc::dpop`), then against what only the server knows: the `jti`s it has seen
//! (replay) and, when configured, the nonce it hands out.
//!
//! Nonces are stateless: an HMAC of the current five-minute window under the server
//! secret, so every node sharing `keys_dir` accepts every other's, and nothing is stored.
//! The current and the previous window's nonce are accepted.

use crate::oidc::dpop::{self, Expected, ProofError, VerifiedProof};
use crate::secrets;
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::revocations;

const NONCE_WINDOW_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error("{0}")]
    Invalid(&'static str),
    /// The proof lacks the server's current nonce; send it in `DPoP-Nonce` and retry.
    #[error("the DPoP proof must carry the server's nonce")]
    UseNonce,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for DpopError {
    fn from(e: crate::store::StoreError) -> Self {
        DpopError::Service(e.into())
    }
}

/// Checks the proof sent with a request to `path` (one of ours) by `method`;
/// `access_token` at a resource (userinfo).
pub async fn check(
    state: &AppState,
    proof: &str,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<VerifiedProof, DpopError> {
    let now = state.clock.now();
    let skew = state.settings.tokens.dpop_max_skew;
    let url = format!("{}{path}", state.cfg.base);
    let verified = dpop::verify(
        proof,
        &Expected {
            method,
            url: &url,
            access_token,
            now,
            max_skew: skew,
        },
    )
    .map_err(|ProofError::Invalid(why)| DpopError::Invalid(why))?;
    if state.settings.tokens.dpop_require_nonce {
        let fresh = verified.nonce.as_deref().is_some_and(|n| {
            n == nonce_for(state, now) || n == nonce_for(state, now - NONCE_WINDOW_SECS)
        });
        if !fresh {
            return Err(DpopError::UseNonce);
        }
    }
    // A proof is accepted once; keyed by key and jti, so two clients cannot collide.
    let seen_key = secrets::hash_token(&format!("{}.{}", verified.jkt, verified.jti));
    let expires_at = verified.iat.max(now) + 2 * skew;
    let first = state
        .db
        .run(move |conn| revocations::first_sighting(conn, &seen_key, expires_at))
        .await
        .map_err(ServiceError::from)?;
    if !first {
        return Err(DpopError::Invalid("the DPoP proof has been used before"));
    }
    Ok(verified)
}

/// The nonce for the window holding `at`; send the current one in `DPoP-Nonce`.
pub fn nonce_for(state: &AppState, at: i64) -> String {
    let window = at.div_euclid(NONCE_WINDOW_SECS);
    let mac = state.server_secret.mac("dpop-nonce", &window.to_string());
    mac.chars().take(22).collect()
}

pub fn current_nonce(state: &AppState) -> String {
    nonce_for(state, state.clock.now())
}
