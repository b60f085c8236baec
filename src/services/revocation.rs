//! Token revocation (RFC 7009). Revoking a refresh token ends its whole grant (§2.1: "the
//! authorization server SHOULD also invalidate all access tokens based on the same
//! authorization grant"); revoking an access token denies that one token until it expires.
//! A token that is unknown, already dead or another client's is answered like a revoked
//! one (200): the response tells the caller nothing about other clients' tokens.

use crate::domain::client::RelyingParty;
use crate::oidc::access_token::{self, AccessTokenError};
use crate::services::ServiceError;
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::{grants, refresh_tokens, revocations, write_tx};

/// `hint` (`token_type_hint`) only orders the lookups (§2.1).
pub async fn revoke(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
    hint: Option<&str>,
) -> Result<(), ServiceError> {
    if hint == Some("access_token") {
        if !revoke_access_token(state, client, token).await? {
            revoke_refresh_token(state, client, token).await?;
        }
    } else if !revoke_refresh_token(state, client, token).await? {
        revoke_access_token(state, client, token).await?;
    }
    Ok(())
}

/// Whether `token` was one of our refresh tokens (whoever it belongs to).
async fn revoke_refresh_token(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
) -> Result<bool, ServiceError> {
    let hash = crate::secrets::hash_token(token);
    let now = state.clock.now();
    let client_id = client.id.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let Some(found) = refresh_tokens::find(conn, &hash)? else {
                    return Ok(false);
                };
                if found.grant.client_id == client_id && !found.grant_revoked {
                    grants::revoke_grant(conn, &found.grant.id, now)?;
                    audit::record(
                        conn,
                        AuditEvent {
                            at: now,
                            kind: "token_revoked",
                            account_id: Some(&found.grant.account_id),
                            client_id: Some(&client_id),
                            detail: Some(format!(
                                "refresh token; grant {} revoked",
                                found.grant.id
                            )),
                            ..Default::default()
                        },
                    )?;
                }
                Ok::<_, ServiceError>(true)
            })
        })
        .await
}

/// Whether `token` was one of our access tokens (live, expired or another client's).
async fn revoke_access_token(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
) -> Result<bool, ServiceError> {
    let claims =
        match access_token::verify(&state.keys(), token, &state.cfg.issuer, state.clock.now()) {
            Ok(claims) => claims,
            // An expired token needs no revoking.
            Err(AccessTokenError::Expired) => return Ok(true),
            Err(AccessTokenError::Invalid) => return Ok(false),
        };
    if claims.client_id != client.id {
        return Ok(true);
    }
    state
        .db
        .run(move |conn| {
            Ok::<_, ServiceError>(revocations::revoke_access_token(
                conn,
                &claims.jti,
                claims.exp,
            )?)
        })
        .await?;
    Ok(true)
}
