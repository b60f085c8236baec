//! Token introspection (RFC 7662). A client learns about its own tokens only: a token
//! issued to another client is as inactive as a revoked, expired or unknown one, so the
//! endpoint cannot be used to test stolen tokens.

use serde::Serialize;

use crate::config::TokenSettings;
use crate::domain::client::{ClientAuthMethod, RelyingParty};
use crate::oidc::access_token::{AccessTokenClaims, Confirmation};
use crate::oidc::error::OAuthError;
use crate::services::access_tokens::{self, Dead};
use crate::services::client_auth::{self, ClientAuthError, PresentedClient};
use crate::services::refresh;
use crate::startup::AppState;
use crate::store::{DbConnection, StoreResult, grants, refresh_tokens};

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

/// Authenticates the client and looks the token up in one database round trip (the
/// endpoint is on every resource server's hot path). `hint` (`token_type_hint`) only
/// orders the lookups (§2.1).
pub async fn introspect(
    state: &AppState,
    presented: PresentedClient,
    token: String,
    hint: Option<String>,
) -> Result<Introspection, ClientAuthError> {
    // Only something shaped like a JWT can be one of our access tokens; its signature is
    // checked here, off the database.
    let claims = (token.split('.').count() == 3).then(|| access_tokens::verify(state, &token));
    let now = state.clock.now();
    let tokens = state.settings.tokens.clone();
    state
        .db
        .run(move |conn| {
            let client = client_auth::authenticate(conn, &presented)?;
            // RFC 7662 §2.1: the caller must be authorised; a public client proves nothing.
            if client.auth_method == ClientAuthMethod::None {
                return Err(OAuthError::invalid_client(
                    "introspection needs a confidential client",
                )
                .into());
            }
            let found = if hint.as_deref() == Some("refresh_token") {
                match refresh_token(conn, &client, &token, &tokens, now)? {
                    Some(found) => Some(found),
                    None => access_token(conn, &client, claims)?,
                }
            } else {
                match access_token(conn, &client, claims)? {
                    Some(found) => Some(found),
                    None => refresh_token(conn, &client, &token, &tokens, now)?,
                }
            };
            Ok(found.unwrap_or_else(Introspection::inactive))
        })
        .await
}

fn access_token(
    conn: &mut DbConnection,
    client: &RelyingParty,
    claims: Option<Result<AccessTokenClaims, Dead>>,
) -> StoreResult<Option<Introspection>> {
    let Some(claims) = claims else {
        return Ok(None);
    };
    let claims = match claims {
        Ok(claims) if claims.client_id == client.id => claims,
        _ => return Ok(Some(Introspection::inactive())),
    };
    let Ok(live) = access_tokens::check(conn, claims)? else {
        return Ok(Some(Introspection::inactive()));
    };
    let claims = live.claims;
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

fn refresh_token(
    conn: &mut DbConnection,
    client: &RelyingParty,
    token: &str,
    tokens: &TokenSettings,
    now: i64,
) -> StoreResult<Option<Introspection>> {
    let hash = crate::secrets::hash_token(token);
    let Some(found) = refresh_tokens::find(conn, &hash)? else {
        return Ok(None);
    };
    let inactive = Ok(Some(Introspection::inactive()));
    if found.grant.client_id != client.id
        || found.consumed
        || refresh::lapsed(conn, &found, tokens, now)?.is_some()
    {
        return inactive;
    }
    let Some((grant, account)) = grants::find_live_grant(conn, &found.grant.id, None)? else {
        return inactive;
    };
    if !account.can_sign_in() {
        return inactive;
    }
    Ok(Some(Introspection {
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
}
