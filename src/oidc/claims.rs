//! The claims of ID tokens and userinfo (OIDC Core §2, §5.1, §5.4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::account::Account;

pub use crate::domain::authn::{ACR_MFA, ACR_PASSWORD};
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// Claims released by scope (OIDC Core §5.4): `profile` gives the name, the UEC account ID
/// as `preferred_username` and the affiliation; `email` the address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProfileClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    pub fn for_scope(account: &Account, scope: &str, mailbox_domain: &str) -> Self {
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let mut claims = ProfileClaims::default();
        if has("profile") {
            claims.name = Some(account.name.clone());
            claims.preferred_username = Some(account.id.to_string());
            claims.affiliation = Some(account.affiliation.as_str());
        }
        if has("email") {
            claims.email = Some(account.email(mailbox_domain));
            // Campus mailboxes and aliases are assigned by the university, not typed in.
            claims.email_verified = Some(true);
        }
        claims
    }
}

/// An ID token's claims (OIDC Core §2). `sub` is the account's random subject, never the
/// account ID, so a reissued or renamed account cannot inherit another's identity.
#[derive(Clone, Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub azp: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub acr: &'a str,
    pub amr: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// `at_hash` (OIDC Core §3.1.3.6): base64url of the left half of SHA-256 of the access
/// token, for both RS256 and ES256.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountId, AccountStatus, Affiliation};

    fn account() -> Account {
        Account {
            id: AccountId::parse("a1830000").expect("id"),
            sub: "3f2a".into(),
            name: "Taro Chofu".into(),
            affiliation: Affiliation::Student,
            personal_email: Some("taro@example.com".into()),
            email_alias: None,
            valid_until: None,
            status: AccountStatus::Active,
            created_at: 0,
            previous_account_id: None,
            pledge_completed_at: None,
            infoss_completed_at: None,
        }
    }

    #[test]
    fn claims_follow_the_scopes() {
        let a = account();
        assert_eq!(
            ProfileClaims::for_scope(&a, "openid", "edu.cc.uec.ac.jp"),
            ProfileClaims::default()
        );
        let c = ProfileClaims::for_scope(&a, "openid profile email", "edu.cc.uec.ac.jp");
        assert_eq!(c.preferred_username.as_deref(), Some("a1830000"));
        assert_eq!(c.affiliation, Some("student"));
        assert_eq!(c.email.as_deref(), Some("a1830000@edu.cc.uec.ac.jp"));
        let aliased = Account {
            email_alias: Some("taro@uec.ac.jp".into()),
            ..a
        };
        let c = ProfileClaims::for_scope(&aliased, "openid email", "edu.cc.uec.ac.jp");
        assert_eq!(c.email.as_deref(), Some("taro@uec.ac.jp"));
        assert_eq!(c.name, None, "no profile scope, no name");
    }

    #[test]
    fn at_hash_matches_oidc_core_example() {
        // OIDC Core Appendix A.3: access token and its at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
