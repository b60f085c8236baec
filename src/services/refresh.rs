//! The `refresh_token` grant (RFC 6749 §6, OIDC Core §12): one grant is one family of
//! refresh tokens. Every use rotates the token; using a token a second time means it was
//! copied, so the whole family (the grant, and with it every access token) ends
//! (RFC 9700 §4.14.2).
//!
//! A token lives until the first of: its idle expiry (`tokens.refresh_idle_ttl` after it
//! was issued), the family's absolute end (`tokens.refresh_token_ttl` after the grant), and,
//! without `offline_access`, the end of the browser session the grant was made in.

use crate::config::TokenSettings;
use crate::domain::access;
use crate::domain::account::Account;
use crate::domain::client::{ClientAuthMethod, RelyingParty};
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::secrets;
use crate::services::token::TokenError;
use crate::store::audit::{self, AuditEvent};
use crate::store::grants::{self, Grant};
use crate::store::refresh_tokens::FoundRefreshToken;
use crate::store::{DbConnection, StoreResult, accounts, refresh_tokens};

/// What a rotation hands to signing: the grant (its scope narrowed to the request), the
/// account and the new refresh token.
pub struct Rotated {
    pub grant: Grant,
    pub account: Account,
    pub refresh_token: String,
}

pub fn grants_offline_access(scope: &str) -> bool {
    scope.split(' ').any(|s| s == "offline_access")
}

/// The expiry of a refresh token issued at `now` in a family that began at `created_at`.
pub fn refresh_expiry(tokens: &TokenSettings, created_at: i64, now: i64) -> i64 {
    (now + tokens.refresh_idle_ttl).min(created_at + tokens.refresh_token_ttl)
}

/// Rotates `presented`. As in `token::redeem_code`, the outer `Result` rolls the
/// transaction back, the inner one is a refusal that must be committed (a reuse, whose
/// revocation of the family must persist).
pub fn rotate(
    conn: &mut DbConnection,
    client: &RelyingParty,
    presented: &str,
    requested_scope: Option<&str>,
    dpop_jkt: Option<&str>,
    tokens: &TokenSettings,
    now: i64,
) -> Result<Result<Rotated, OAuthError>, TokenError> {
    let invalid = |d: &str| Err(OAuthError::invalid_grant(d).into());
    let hash = secrets::hash_token(presented);
    let Some(found) = refresh_tokens::find(conn, &hash)? else {
        return invalid("the refresh token is invalid");
    };
    let grant = found.grant.clone();
    // RFC 6749 §10.4: a refresh token is bound to its client. Not consumed: the rightful
    // client keeps it.
    if grant.client_id != client.id {
        return invalid("the refresh token was issued to another client");
    }
    if found.grant_revoked {
        return invalid("the refresh token has been revoked");
    }
    if found.consumed || !refresh_tokens::consume(conn, &hash, now)? {
        return reuse_detected(conn, client, &grant, now);
    }
    if let Some(why) = lapsed(conn, &found, tokens, now)? {
        return Ok(Err(OAuthError::invalid_grant(why)));
    }
    if let Some(bound) = grant.dpop_jkt.as_deref() {
        // RFC 9449 §5: a public client's family stays with its key; a confidential client
        // authenticates itself, but its tokens stay DPoP-bound (no downgrade to bearer).
        let refused = match dpop_jkt {
            None => Some("this refresh token is DPoP-bound: send a DPoP proof"),
            Some(jkt) if client.auth_method == ClientAuthMethod::None && jkt != bound => {
                Some("the DPoP proof is signed by another key than the refresh token's")
            }
            Some(_) => None,
        };
        if let Some(why) = refused {
            return invalid_dpop(why);
        }
    }
    let scope = narrowed_scope(&grant.scope, requested_scope)?;
    let account = accounts::find_account(conn, &grant.account_id)?.filter(Account::can_sign_in);
    let Some(account) = account else {
        return invalid("the account can no longer sign in");
    };
    // The relying party's access rules hold for every token, not only the first: an
    // account that has since become restricted (or changed affiliation) gets no more
    // tokens from a refresh than from a sign-in. Rolled back: the token works again once
    // the account is admitted.
    if access::admits(client, &account, now).is_err() {
        return invalid("the account does not meet this application's access rules");
    }
    let refresh_token = secrets::new_token();
    grants::insert_refresh_token(
        conn,
        &secrets::hash_token(&refresh_token),
        &grant.id,
        now,
        refresh_expiry(tokens, found.grant_created_at, now),
    )?;
    Ok(Ok(Rotated {
        grant: Grant { scope, ..grant },
        account,
        refresh_token,
    }))
}

/// Why a stored, unused refresh token no longer counts: its family was revoked, it or its
/// family expired, or (without `offline_access`) its browser session ended.
pub fn lapsed(
    conn: &mut DbConnection,
    found: &FoundRefreshToken,
    tokens: &TokenSettings,
    now: i64,
) -> StoreResult<Option<&'static str>> {
    if found.grant_revoked {
        return Ok(Some("the refresh token has been revoked"));
    }
    if now >= found.expires_at || now >= found.grant_created_at + tokens.refresh_token_ttl {
        return Ok(Some("the refresh token has expired"));
    }
    if !grants_offline_access(&found.grant.scope) {
        let alive = match found.grant.sid.as_deref() {
            Some(sid) => refresh_tokens::session_alive(conn, sid, now)?,
            None => false,
        };
        if !alive {
            return Ok(Some(
                "the sign-in session has ended; offline_access was not granted",
            ));
        }
    }
    Ok(None)
}

fn reuse_detected(
    conn: &mut DbConnection,
    client: &RelyingParty,
    grant: &Grant,
    now: i64,
) -> Result<Result<Rotated, OAuthError>, TokenError> {
    grants::revoke_grant(conn, &grant.id, now)?;
    audit::record(
        conn,
        AuditEvent {
            at: now,
            kind: "refresh_token_reused",
            account_id: Some(&grant.account_id),
            client_id: Some(&client.id),
            detail: Some(format!("grant {} revoked", grant.id)),
            ..Default::default()
        },
    )?;
    tracing::warn!(client_id = %client.id, "refresh token reused; its family revoked");
    Ok(Err(OAuthError::invalid_grant(
        "the refresh token has already been used",
    )))
}

fn invalid_dpop(why: &str) -> Result<Result<Rotated, OAuthError>, TokenError> {
    Err(OAuthError::new(OAuthErrorCode::InvalidDpopProof, why).into())
}

/// RFC 6749 §6: a refresh may ask for less than was granted, never more.
fn narrowed_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_string());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            "the requested scope exceeds the scope granted",
        ));
    }
    // Keep the granted order, so equal scopes compare equal.
    Ok(granted
        .into_iter()
        .filter(|s| asked.contains(s))
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_may_narrow_never_widen() {
        let granted = "openid profile email";
        assert_eq!(narrowed_scope(granted, None).unwrap(), granted);
        assert_eq!(
            narrowed_scope(granted, Some("email openid")).unwrap(),
            "openid email"
        );
        assert!(narrowed_scope(granted, Some("openid offline_access")).is_err());
        assert!(narrowed_scope(granted, Some(" ")).is_err());
    }

    #[test]
    fn a_refresh_token_never_outlives_its_family() {
        let tokens = TokenSettings {
            refresh_idle_ttl: 100,
            refresh_token_ttl: 1000,
            ..TokenSettings::default()
        };
        assert_eq!(refresh_expiry(&tokens, 0, 10), 110);
        assert_eq!(refresh_expiry(&tokens, 0, 950), 1000);
    }
}
