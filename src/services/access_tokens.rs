//! Whether an access token still counts: signature and expiry (`oidc::access_token`), then
//! what only the database knows: its grant is live (not revoked by logout, reuse or
//! withdrawal), its client is enabled, its account can sign in, and the token itself was
//! not revoked (RFC 7009). Userinfo and introspection ask the same question here.

use crate::domain::account::Account;
use crate::oidc::access_token::{self, AccessTokenClaims, AccessTokenError};
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::grants::{self, Grant};
use crate::store::{DbConnection, StoreResult};

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

/// Signature, issuer, audience and expiry: what the token says about itself.
pub fn verify(state: &AppState, token: &str) -> Result<AccessTokenClaims, Dead> {
    access_token::verify(&state.keys(), token, &state.cfg.issuer, state.clock.now()).map_err(|e| {
        match e {
            AccessTokenError::Invalid => Dead::Invalid,
            AccessTokenError::Expired => Dead::Expired,
        }
    })
}

/// What only the database knows, for verified `claims` (one query).
pub fn check(
    conn: &mut DbConnection,
    claims: AccessTokenClaims,
) -> StoreResult<Result<LiveToken, Dead>> {
    let found = grants::find_live_grant(conn, &claims.gid, Some(&claims.jti))?;
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

pub async fn live(state: &AppState, token: &str) -> Result<Result<LiveToken, Dead>, ServiceError> {
    let claims = match verify(state, token) {
        Ok(claims) => claims,
        Err(dead) => return Ok(Err(dead)),
    };
    state.db.run(move |conn| Ok(check(conn, claims)?)).await
}
