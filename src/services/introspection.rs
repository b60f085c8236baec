//! Token introspection (RFC 7662). A client learns about its own tokens only: a token
//! issued to another client is as inactive as a revoked, expired or unknown one, so the
//! endpoint cannot be used to test stolen tokens.

use serde::Serialize;

use crate::domain::client::RelyingParty;
use crate::oidc::access_token::Confirmation;
use crate::services::ServiceError;
use crate::services::access_tokens;
use crate::services::refresh;
use crate::startup::AppState;
use crate::store::{grants, refresh_tokens};

#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// RFC 9449 §6.2: the key a DPoP-bound token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl Introspection {
    fn inactive() -> Self {
        Introspection::default()
    }
}

/// `hint` (`token_type_hint`) only orders the lookups (§2.1).
pub async fn introspect(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
    hint: Option<&str>,
) -> Result<Introspection, ServiceError> {
    let found = if hint == Some("refresh_token") {
        match refresh_token(state, client, token).await? {
            Some(found) => Some(found),
            None => access_token(state, client, token).await?,
        }
    } else {
        match access_token(state, client, token).await? {
            Some(found) => Some(found),
            None => refresh_token(state, client, token).await?,
        }
    };
    Ok(found.unwrap_or_else(Introspection::inactive))
}

async fn access_token(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
) -> Result<Option<Introspection>, ServiceError> {
    // Only something shaped like a JWT can be one of our access tokens.
    if token.split('.').count() != 3 {
        return Ok(None);
    }
    let Ok(live) = access_tokens::live(state, token).await? else {
        return Ok(Some(Introspection::inactive()));
    };
    let claims = live.claims;
    if claims.client_id != client.id {
        return Ok(Some(Introspection::inactive()));
    }
    Ok(Some(Introspection {
        active: true,
        token_type: Some(if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }),
        scope: Some(claims.scope),
        client_id: Some(claims.client_id),
        sub: Some(claims.sub),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        iss: Some(claims.iss),
        aud: Some(claims.aud),
        jti: Some(claims.jti),
        cnf: claims.cnf,
    }))
}

async fn refresh_token(
    state: &AppState,
    client: &RelyingParty,
    token: &str,
) -> Result<Option<Introspection>, ServiceError> {
    let hash = crate::secrets::hash_token(token);
    let now = state.clock.now();
    let tokens = state.settings.tokens.clone();
    let client_id = client.id.clone();
    state
        .db
        .run(move |conn| {
            let Some(found) = refresh_tokens::find(conn, &hash)? else {
                return Ok(None);
            };
            let inactive = Ok(Some(Introspection::inactive()));
            if found.grant.client_id != client_id
                || found.consumed
                || refresh::lapsed(conn, &found, &tokens, now)?.is_some()
            {
                return inactive;
            }
            let Some((grant, account)) = grants::find_live_grant(conn, &found.grant.id)? else {
                return inactive;
            };
            if !account.can_sign_in() {
                return inactive;
            }
            Ok::<_, ServiceError>(Some(Introspection {
                active: true,
                scope: Some(grant.scope),
                client_id: Some(grant.client_id),
                sub: Some(account.sub),
                exp: Some(
                    found
                        .expires_at
                        .min(found.grant_created_at + tokens.refresh_token_ttl),
                ),
                cnf: grant.dpop_jkt.map(|jkt| Confirmation { jkt }),
                ..Introspection::default()
            }))
        })
        .await
}
