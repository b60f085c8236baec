//! Logout on the protocol level: checking an `id_token_hint` (OpenID Connect RP-Initiated
//! Logout 1.0 §2), the post-logout redirect, and the logout token of Back-Channel Logout
//! 1.0 §2.4. Knows JWTs and URLs, not HTTP frameworks or SQL.

use serde::{Deserialize, Serialize};

use crate::oidc::keys::{KeyError, KeySet, SigningAlg};

/// The `typ` of a logout token (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// The one event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is acceptable to the relying party.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// What an `id_token_hint` says once its signature and issuer are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTokenHint {
    pub sub: String,
    /// Every audience; ours are always exactly one client.
    pub aud: Vec<String>,
    pub sid: Option<String>,
}

/// Why an `id_token_hint` was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HintError {
    #[error("the id_token_hint is not an ID token signed by this provider")]
    Invalid,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: Audience,
    sid: Option<String>,
}

/// Verifies an `id_token_hint`: our signature with a published key, `typ` JWT, our issuer.
/// Expiry is deliberately not checked: RP-Initiated Logout 1.0 §2 lets the OP accept an
/// expired ID token as a hint (the RP logs out long after sign-in); a forged one never.
pub fn verify_id_token_hint(
    keys: &KeySet,
    token: &str,
    issuer: &str,
) -> Result<IdTokenHint, HintError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| HintError::Invalid)?;
    // An access token (at+jwt) or logout token must not pass as an ID token.
    if header.typ.as_deref() != Some("JWT") {
        return Err(HintError::Invalid);
    }
    let kid = header.kid.as_deref().ok_or(HintError::Invalid)?;
    let (alg, key) = keys.decoding_key(kid).ok_or(HintError::Invalid)?;
    let expected = match alg {
        SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
        SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
    };
    if header.alg != expected {
        return Err(HintError::Invalid);
    }
    let mut validation = jsonwebtoken::Validation::new(expected);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    let claims = jsonwebtoken::decode::<HintClaims>(token, key, &validation)
        .map_err(|_| HintError::Invalid)?
        .claims;
    let aud = match claims.aud {
        Audience::One(a) => vec![a],
        Audience::Many(many) => many,
    };
    Ok(IdTokenHint {
        sub: claims.sub,
        aud,
        sid: claims.sid,
    })
}

/// The URL the browser goes to after logout: the registered URI with `state` appended
/// (RP-Initiated Logout 1.0 §3). `None` if the URI does not parse (never, for a URI that
/// passed registration).
pub fn post_logout_redirect(uri: &str, state: Option<&str>) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(state) = state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Some(url.to_string())
}

/// The claims of a logout token (Back-Channel Logout 1.0 §2.4): never a `nonce`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub events: serde_json::Value,
}

impl LogoutTokenClaims {
    pub fn new(
        issuer: &str,
        client_id: &str,
        jti: &str,
        sub: &str,
        sid: Option<&str>,
        now: i64,
    ) -> Self {
        LogoutTokenClaims {
            iss: issuer.into(),
            aud: client_id.into(),
            iat: now,
            exp: now + LOGOUT_TOKEN_TTL,
            jti: jti.into(),
            sub: sub.into(),
            sid: sid.map(Into::into),
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

/// Signs a logout token with the client's ID-token algorithm.
pub fn sign_logout_token(
    keys: &KeySet,
    alg: SigningAlg,
    claims: &LogoutTokenClaims,
) -> Result<String, KeyError> {
    keys.sign(alg, LOGOUT_TOKEN_TYPE, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://idp.example";

    fn keys() -> (tempfile::TempDir, KeySet) {
        let dir = tempfile::tempdir().expect("dir");
        let ks = KeySet::load_or_generate(dir.path(), 3600, 1_700_000_000).expect("keys");
        (dir, ks)
    }

    #[derive(Serialize)]
    struct Id<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        exp: i64,
        sid: &'a str,
    }

    #[test]
    fn an_expired_hint_is_accepted_a_forged_or_foreign_one_is_not() {
        let (_d, ks) = keys();
        let claims = Id {
            iss: ISS,
            sub: "s1",
            aud: "c1",
            exp: 1,
            sid: "sid1",
        };
        let token = ks.sign(SigningAlg::RS256, "JWT", &claims).expect("sign");
        let hint = verify_id_token_hint(&ks, &token, ISS).expect("expired hint accepted");
        assert_eq!(hint.aud, vec!["c1".to_string()]);
        assert_eq!(hint.sid.as_deref(), Some("sid1"));

        assert_eq!(
            verify_id_token_hint(&ks, &token, "https://other.example"),
            Err(HintError::Invalid)
        );
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            verify_id_token_hint(&ks, &forged, ISS),
            Err(HintError::Invalid)
        );
        let at = ks.sign(SigningAlg::ES256, "at+jwt", &claims).expect("sign");
        assert_eq!(verify_id_token_hint(&ks, &at, ISS), Err(HintError::Invalid));
        let (_d2, other) = keys();
        let foreign = other.sign(SigningAlg::RS256, "JWT", &claims).expect("sign");
        assert_eq!(
            verify_id_token_hint(&ks, &foreign, ISS),
            Err(HintError::Invalid)
        );
    }

    #[test]
    fn state_is_appended_to_the_post_logout_redirect() {
        assert_eq!(
            post_logout_redirect("https://rp.example/bye?x=1", Some("a b")).as_deref(),
            Some("https://rp.example/bye?x=1&state=a+b")
        );
        assert_eq!(
            post_logout_redirect("https://rp.example/bye", None).as_deref(),
            Some("https://rp.example/bye")
        );
    }

    #[test]
    fn logout_token_claims_have_the_event_and_no_nonce() {
        let c = LogoutTokenClaims::new(ISS, "c1", "j1", "s1", Some("sid1"), 100);
        let v = serde_json::to_value(&c).expect("json");
        assert_eq!(v["exp"], 220);
        assert!(v["events"][BACKCHANNEL_LOGOUT_EVENT].is_object());
        assert!(v.get("nonce").is_none());
    }
}
