//! Access tokens: signed JWTs in the RFC 9068 profile (`typ: at+jwt`), ES256 (cheap to
//! sign and verify; RSA's cost is kept for ID tokens, where clients expect RS256).
//!
//! A token names its grant (`gid`), so revoking the grant (code replay, later logout or
//! password change) ends its access tokens too: the userinfo endpoint checks the grant.

use serde::{Deserialize, Serialize};

use crate::oidc::keys::{KeyError, KeySet, SigningAlg};

pub const TOKEN_TYPE: &str = "at+jwt";
pub const ALG: SigningAlg = SigningAlg::ES256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The resource this token is for: the provider's own userinfo endpoint (the issuer).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    /// The grant this token was issued under.
    pub gid: String,
    /// RFC 9449 §6: the DPoP key this token is bound to; `None` for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 confirmation claim, as DPoP uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

pub fn sign(keys: &KeySet, claims: &AccessTokenClaims) -> Result<String, KeyError> {
    keys.sign(ALG, TOKEN_TYPE, claims)
}

/// Why a bearer token was refused; the description goes to the client in
/// `WWW-Authenticate` (RFC 6750 §3), so it says nothing more than needed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token is malformed or its signature is invalid")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
}

/// Verifies signature, `typ`, `iss`, `aud` and expiry against `now` (the provider's clock).
pub fn verify(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    now: i64,
) -> Result<AccessTokenClaims, AccessTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| AccessTokenError::Invalid)?;
    if header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(AccessTokenError::Invalid);
    }
    let kid = header.kid.as_deref().ok_or(AccessTokenError::Invalid)?;
    let (alg, key) = keys.decoding_key(kid).ok_or(AccessTokenError::Invalid)?;
    if alg != ALG || header.alg != jsonwebtoken::Algorithm::ES256 {
        return Err(AccessTokenError::Invalid);
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    // Expiry is checked below against the provider's clock, not the library's.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[issuer]);
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &validation)
        .map_err(|_| AccessTokenError::Invalid)?
        .claims;
    if now >= claims.exp {
        return Err(AccessTokenError::Expired);
    }
    Ok(claims)
}
