//! The userinfo endpoint (OIDC Core §5.3): the claims of the access token's grant.

use serde::Serialize;

use crate::oidc::access_token::{self, AccessTokenError};
use crate::oidc::claims::ProfileClaims;
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::grants;

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    /// RFC 6750 `invalid_token`: bad, expired or revoked.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// RFC 6750 `insufficient_scope`: the token was not issued with `openid`.
    #[error("the access token was not issued for OpenID Connect")]
    InsufficientScope,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

pub async fn userinfo(state: &AppState, token: &str) -> Result<UserInfo, UserInfoError> {
    let now = state.clock.now();
    let claims = access_token::verify(&state.keys(), token, &state.cfg.issuer, now).map_err(
        |e| match e {
            AccessTokenError::Invalid => UserInfoError::InvalidToken("the access token is invalid"),
            AccessTokenError::Expired => {
                UserInfoError::InvalidToken("the access token has expired")
            }
        },
    )?;
    if !claims.scope.split(' ').any(|s| s == "openid") {
        return Err(UserInfoError::InsufficientScope);
    }
    let grant_id = claims.gid.clone();
    let live = state
        .db
        .run(move |conn| Ok::<_, ServiceError>(grants::find_live_grant(conn, &grant_id)?))
        .await?;
    // A revoked grant (code replay, later logout) or an account that can no longer sign in
    // ends the token before its expiry.
    let Some((grant, account)) = live.filter(|(_, a)| a.can_sign_in() && a.sub == claims.sub)
    else {
        return Err(UserInfoError::InvalidToken(
            "the access token has been revoked",
        ));
    };
    Ok(UserInfo {
        profile: ProfileClaims::for_scope(
            &account,
            &grant.scope,
            &state.settings.accounts.mailbox_domain,
        ),
        sub: account.sub,
    })
}
