//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OIDC Core §3.1.3, §12): client
//! authentication, the `authorization_code` and `refresh_token` grants, and DPoP binding
//! (RFC 9449 §5).

use serde::{Deserialize, Serialize};

use crate::domain::account::Account;
use crate::domain::client::RelyingParty;
use crate::oidc::access_token::{self, AccessTokenClaims, Confirmation};
use crate::oidc::claims::{IdTokenClaims, ProfileClaims, at_hash};
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::oidc::keys::KeySet;
use crate::oidc::pkce;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::client_auth::{self, PresentedClient};
use crate::services::dpop::{self, DpopError};
use crate::services::refresh::{self, Rotated};
use crate::startup::AppState;
use crate::store::audit::{self, AuditEvent};
use crate::store::grants::{self, Grant, Redemption};
use crate::store::{DbConnection, accounts, refresh_tokens, write_tx};

/// The form of a token request, as received.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to a key (RFC 9449 §5).
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    OAuth(OAuthError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<OAuthError> for TokenError {
    fn from(e: OAuthError) -> Self {
        TokenError::OAuth(e)
    }
}

impl From<client_auth::ClientAuthError> for TokenError {
    fn from(e: client_auth::ClientAuthError) -> Self {
        match e {
            client_auth::ClientAuthError::OAuth(e) => TokenError::OAuth(e),
            client_auth::ClientAuthError::Service(e) => TokenError::Service(e),
        }
    }
}

impl From<crate::store::StoreError> for TokenError {
    fn from(e: crate::store::StoreError) -> Self {
        TokenError::Service(e.into())
    }
}

impl From<DpopError> for TokenError {
    fn from(e: DpopError) -> Self {
        match e {
            DpopError::Invalid(why) => {
                TokenError::OAuth(OAuthError::new(OAuthErrorCode::InvalidDpopProof, why))
            }
            DpopError::UseNonce => TokenError::OAuth(OAuthError::new(
                OAuthErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            )),
            DpopError::Service(e) => TokenError::Service(e),
        }
    }
}

/// The grant asked for, with its parameters.
enum Requested {
    Code {
        code: String,
        redirect_uri: String,
        verifier: Option<String>,
    },
    Refresh {
        token: String,
        scope: Option<String>,
    },
}

/// `dpop_proof`: the `DPoP` header, when sent.
pub async fn exchange(
    state: &AppState,
    client: PresentedClient,
    form: TokenForm,
    dpop_proof: Option<String>,
) -> Result<TokenResponse, TokenError> {
    let request = match form.grant_type.as_deref() {
        Some("authorization_code") => Requested::Code {
            code: form
                .code
                .ok_or_else(|| OAuthError::invalid_request("code is missing"))?,
            redirect_uri: form
                .redirect_uri
                .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?,
            verifier: form.code_verifier,
        },
        Some("refresh_token") => Requested::Refresh {
            token: form
                .refresh_token
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?,
            scope: form.scope,
        },
        Some(_) => {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "only authorization_code and refresh_token are supported",
            )
            .into());
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing").into()),
    };
    let jkt = match dpop_proof {
        Some(proof) => Some(
            dpop::check(
                state,
                &proof,
                "POST",
                crate::oidc::discovery::paths::TOKEN,
                None,
            )
            .await?
            .jkt,
        ),
        None => None,
    };

    let now = state.clock.now();
    let keys = state.keys();
    let issuer = state.cfg.issuer.clone();
    let tokens = state.settings.tokens.clone();
    let mailbox_domain = state.settings.accounts.mailbox_domain.clone();
    state
        .db
        .run(move |conn| {
            let client = client_auth::authenticate(conn, &client)?;
            if client.dpop_bound && jkt.is_none() {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidDpopProof,
                    "this client's tokens must be DPoP-bound: send a DPoP proof",
                )
                .into());
            }
            let (grant, nonce, account, refresh_token) = match request {
                Requested::Code {
                    code,
                    redirect_uri,
                    verifier,
                } => {
                    let refresh_token = secrets::new_token();
                    let redeemed = write_tx(conn, |conn| {
                        redeem_code(
                            conn,
                            &client,
                            &code,
                            &redirect_uri,
                            verifier.as_deref(),
                            now,
                        )
                        .and_then(|outcome| match outcome {
                            Ok((grant, nonce, account)) => {
                                // Every code yields a refresh token; without offline_access
                                // it ends with the browser session (see `refresh`).
                                grants::insert_refresh_token(
                                    conn,
                                    &secrets::hash_token(&refresh_token),
                                    &grant.id,
                                    now,
                                    refresh::refresh_expiry(&tokens, now, now),
                                )?;
                                if let Some(jkt) = jkt.as_deref() {
                                    refresh_tokens::bind_grant_to_key(conn, &grant.id, jkt)?;
                                }
                                Ok(Ok((grant, nonce, account)))
                            }
                            Err(e) => Ok(Err(e)),
                        })
                    })?;
                    // Committed before refusing: a replayed code's revocation must stick.
                    let (grant, nonce, account) = redeemed?;
                    (grant, nonce, account, refresh_token)
                }
                Requested::Refresh { token, scope } => {
                    let rotated = write_tx(conn, |conn| {
                        refresh::rotate(
                            conn,
                            &client,
                            &token,
                            scope.as_deref(),
                            jkt.as_deref(),
                            &tokens,
                            now,
                        )
                    })?;
                    // Committed before refusing: a reused token's family revocation must stick.
                    let Rotated {
                        grant,
                        account,
                        refresh_token,
                    } = rotated?;
                    // OIDC Core §12.2: a refreshed ID token carries no nonce.
                    (grant, None, account, refresh_token)
                }
            };
            // Signing happens after the commit, outside the write lock.
            let issued = sign_tokens(
                &keys,
                &client,
                &grant,
                nonce.as_deref(),
                jkt,
                &account,
                &issuer,
                &mailbox_domain,
                now,
                &tokens,
            )?;
            Ok(TokenResponse {
                refresh_token: Some(refresh_token),
                ..issued
            })
        })
        .await
}

type Redeemed = (Grant, Option<String>, Account);

/// Consumes the code and checks what it is bound to. The outer `Result` fails the
/// transaction (rolled back: a request with a wrong verifier or client leaves the code
/// usable by its rightful client); the inner one is a refusal to commit (a replay, whose
/// revocation of everything issued from the code must persist).
fn redeem_code(
    conn: &mut DbConnection,
    client: &RelyingParty,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: i64,
) -> Result<Result<Redeemed, OAuthError>, TokenError> {
    let invalid = |d: &str| Err(OAuthError::invalid_grant(d).into());
    match grants::consume_code(conn, &secrets::hash_token(code), now)? {
        Redemption::Unknown => invalid("the code is invalid"),
        Redemption::Expired => Ok(Err(OAuthError::invalid_grant("the code has expired"))),
        Redemption::AlreadyUsed {
            grant_id,
            client_id,
        } => {
            // Another client holding a leaked used code must not be able to end the
            // rightful client's grant with it: refuse, and change nothing.
            if client_id != client.id {
                return invalid("the code was issued to another client");
            }
            // RFC 6749 §4.1.2: a code used twice may have been stolen; end what it issued.
            grants::revoke_grant(conn, &grant_id, now)?;
            audit::record(
                conn,
                AuditEvent {
                    at: now,
                    kind: "code_replayed",
                    client_id: Some(&client.id),
                    detail: Some(format!("grant {grant_id} revoked")),
                    ..Default::default()
                },
            )?;
            tracing::warn!(client_id = %client.id, "authorization code replayed; grant revoked");
            Ok(Err(OAuthError::invalid_grant(
                "the code has already been used",
            )))
        }
        Redemption::Redeemed {
            code: issued,
            grant,
            revoked,
        } => {
            if grant.client_id != client.id {
                return invalid("the code was issued to another client");
            }
            if revoked {
                return invalid("the grant has been revoked");
            }
            if issued.redirect_uri != redirect_uri {
                return invalid("redirect_uri does not match the authorization request");
            }
            match (issued.code_challenge.as_deref(), verifier) {
                (Some(challenge), Some(v)) if pkce::verify_s256(v, challenge) => {}
                (Some(_), _) => return invalid("code_verifier does not match the code_challenge"),
                // A verifier for a code issued without a challenge is a downgrade attempt.
                (None, Some(_)) => return invalid("no code_challenge was sent for this code"),
                (None, None) => {}
            }
            let account =
                accounts::find_account(conn, &grant.account_id)?.filter(Account::can_sign_in);
            let Some(account) = account else {
                return invalid("the account can no longer sign in");
            };
            Ok(Ok((grant, issued.nonce, account)))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn sign_tokens(
    keys: &KeySet,
    client: &RelyingParty,
    grant: &Grant,
    nonce: Option<&str>,
    jkt: Option<String>,
    account: &Account,
    issuer: &str,
    mailbox_domain: &str,
    now: i64,
    ttl: &crate::config::TokenSettings,
) -> Result<TokenResponse, TokenError> {
    let access_claims = AccessTokenClaims {
        iss: issuer.into(),
        sub: account.sub.clone(),
        aud: issuer.into(),
        exp: now + ttl.access_token_ttl,
        iat: now,
        jti: secrets::new_id(),
        client_id: client.id.clone(),
        scope: grant.scope.clone(),
        auth_time: grant.auth_time,
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        gid: grant.id.clone(),
        cnf: jkt.map(|jkt| Confirmation { jkt }),
    };
    let token_type = if access_claims.cnf.is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    let access_token = access_token::sign(keys, &access_claims).map_err(ServiceError::from)?;
    let id_claims = IdTokenClaims {
        iss: issuer,
        sub: &account.sub,
        aud: &client.id,
        azp: &client.id,
        exp: now + ttl.id_token_ttl,
        iat: now,
        auth_time: grant.auth_time,
        nonce,
        at_hash: Some(at_hash(&access_token)),
        acr: &grant.acr,
        amr: &grant.amr,
        sid: grant.sid.as_deref(),
        profile: ProfileClaims::for_scope(account, &grant.scope, mailbox_domain),
    };
    let id_token = keys
        .sign(client.id_token_alg, "JWT", &id_claims)
        .map_err(ServiceError::from)?;
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in: ttl.access_token_ttl,
        id_token,
        refresh_token: None,
        scope: grant.scope.clone(),
    })
}
