//! The userinfo endpoint (OIDC Core §5.3): the claims of the access token's scope, for a
//! token that still counts (`access_tokens::live`) and, when it is DPoP-bound, comes with
//! a proof by its key (RFC 9449 §7).

use serde::Serialize;

use crate::oidc::claims::ProfileClaims;
use crate::oidc::discovery::paths;
use crate::services::ServiceError;
use crate::services::access_tokens;
use crate::services::dpop::{self, DpopError};
use crate::startup::AppState;

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// How the token was presented.
pub enum Presented {
    /// `Authorization: Bearer` or the `access_token` form field.
    Bearer,
    /// `Authorization: DPoP`, with the `DPoP` header (if any) and the request's method.
    Dpop {
        proof: Option<String>,
        method: &'static str,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    /// RFC 6750 `invalid_token`: bad, expired or revoked, or presented the wrong way.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// RFC 9449 `invalid_dpop_proof`.
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// RFC 9449 `use_dpop_nonce`.
    #[error("the DPoP proof must carry the server's nonce")]
    UseDpopNonce,
    /// RFC 6750 `insufficient_scope`: the token was not issued with `openid`.
    #[error("the access token was not issued for OpenID Connect")]
    InsufficientScope,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

pub async fn userinfo(
    state: &AppState,
    token: &str,
    presented: Presented,
) -> Result<UserInfo, UserInfoError> {
    let live = access_tokens::live(state, token)
        .await?
        .map_err(|dead| UserInfoError::InvalidToken(dead.description()))?;
    let bound_to = live.claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (bound_to, presented) {
        (None, Presented::Bearer) => {}
        (Some(_), Presented::Bearer) => {
            return Err(UserInfoError::InvalidToken(
                "the access token is DPoP-bound: present it with a DPoP proof",
            ));
        }
        (None, Presented::Dpop { .. }) => {
            return Err(UserInfoError::InvalidToken(
                "the access token is not DPoP-bound",
            ));
        }
        (Some(_), Presented::Dpop { proof: None, .. }) => {
            return Err(UserInfoError::InvalidDpopProof("the DPoP proof is missing"));
        }
        (
            Some(jkt),
            Presented::Dpop {
                proof: Some(proof),
                method,
            },
        ) => {
            let proof = dpop::check(state, &proof, method, paths::USERINFO, Some(token))
                .await
                .map_err(|e| match e {
                    DpopError::Invalid(why) => UserInfoError::InvalidDpopProof(why),
                    DpopError::UseNonce => UserInfoError::UseDpopNonce,
                    DpopError::Service(e) => UserInfoError::Service(e),
                })?;
            if proof.jkt != jkt {
                return Err(UserInfoError::InvalidToken(
                    "the DPoP proof is signed by another key than the token is bound to",
                ));
            }
        }
    }
    if !live.claims.scope.split(' ').any(|s| s == "openid") {
        return Err(UserInfoError::InsufficientScope);
    }
    Ok(UserInfo {
        // The token's own scope: a refresh may have narrowed it below the grant's.
        profile: ProfileClaims::for_scope(
            &live.account,
            &live.claims.scope,
            &state.settings.accounts.mailbox_domain,
        ),
        sub: live.account.sub,
    })
}
