//! Whether an access token still counts: signature and expiry (`oidc::access_token`), then
//! what only the database knows: its grant is live (not revoked by logout, reuse or
//! withdrawal), its client is enabled, its account can sign in, and the token itself was
//! not revoked (RFC 7009). Userinfo and introspection ask the same question here.

use crate::domain::account::Account;
use crate::oidc::access_token::{self, AccessTokenClaims, AccessTokenError};
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::grants::{self, Grant};
use crate::store::revocations;

/// Why a token does not count; the text may go to the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Dead {
    Invalid,
    Expired,
    Revoked,
}

impl Dead {
    pub fn description(&self) -> &'static str {
        match self {
            Dead::Invalid => "the access token is invalid",
            Dead::Expired => "the access token has expired",
            Dead::Revoked => "the access token has been revoked",
        }
    }
}

pub struct LiveToken {
    pub claims: AccessTokenClaims,
    pub grant: Grant,
    pub account: Account,
}

pub async fn live(state: &AppState, token: &str) -> Result<Result<LiveToken, Dead>, ServiceError> {
    let claims =
        match access_token::verify(&state.keys(), token, &state.cfg.issuer, state.clock.now()) {
            Ok(claims) => claims,
            Err(AccessTokenError::Invalid) => return Ok(Err(Dead::Invalid)),
            Err(AccessTokenError::Expired) => return Ok(Err(Dead::Expired)),
        };
    let grant_id = claims.gid.clone();
    let jti = claims.jti.clone();
    let found = state
        .db
        .run(move |conn| {
            if revocations::access_token_revoked(conn, &jti)? {
                return Ok::<_, ServiceError>(None);
            }
            Ok(grants::find_live_grant(conn, &grant_id)?)
        })
        .await?;
    let live = found.filter(|(grant, account)| {
        account.can_sign_in() && account.sub == claims.sub && grant.client_id == claims.client_id
    });
    Ok(match live {
        Some((grant, account)) => Ok(LiveToken {
            claims,
            grant,
            account,
        }),
        None => Err(Dead::Revoked),
    })
}
