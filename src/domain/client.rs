//! Relying parties (OAuth clients): their registration rules and redirect URIs.

use url::{Host, Url};

use crate::domain::account::Affiliation;
use crate::oidc::keys::SigningAlg;

/// How a client proves itself at the token endpoint (RFC 6749 §2.3, OIDC Core §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client (a native or browser app): no secret, PKCE required.
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Who registered a client. Operator-registered clients are campus systems; the others are
/// third-party apps, for which the person is asked to consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registrar {
    /// `uec-idp client register`.
    Operator,
    /// A faculty or staff member at `/developer`.
    Developer,
    /// RFC 7591 dynamic registration.
    Dynamic,
}

impl Registrar {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Developer => "developer",
            Self::Dynamic => "dynamic",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "operator" => Some(Self::Operator),
            "developer" => Some(Self::Developer),
            "dynamic" => Some(Self::Dynamic),
            _ => None,
        }
    }
}

/// A registered relying party.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    /// SHA-256 of the client secret (see `secrets::hash_token`); `None` for public clients.
    pub secret_hash: Option<String>,
    pub auth_method: ClientAuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub require_consent: bool,
    pub require_mfa: bool,
    /// Empty: every affiliation is admitted.
    pub allowed_affiliations: Vec<Affiliation>,
    pub requires_compliance: bool,
    pub id_token_alg: SigningAlg,
    pub disabled: bool,
    pub registered_by: Registrar,
    /// The developer who registered it at `/developer`.
    pub owner_account_id: Option<String>,
    /// SHA-256 of the RFC 7592 registration access token (dynamic clients).
    pub registration_token_hash: Option<String>,
    /// RFC 9126 §6: authorization requests only by `request_uri` from the PAR endpoint.
    pub require_par: bool,
    /// RFC 9449 §5.2: tokens for this client are always DPoP-bound.
    pub dpop_bound: bool,
}

impl RelyingParty {
    pub fn is_public(&self) -> bool {
        self.auth_method == ClientAuthMethod::None
    }

    /// Exact, character-for-character comparison (OIDC Core §3.1.2.1): no prefix, no
    /// normalisation, no wildcards, so an attacker cannot steer a code to a look-alike URL.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn admits(&self, affiliation: Affiliation) -> bool {
        self.allowed_affiliations.is_empty() || self.allowed_affiliations.contains(&affiliation)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("{0:?} is not an absolute URL")]
    NotAbsolute(String),
    #[error("{0:?} must use https (http is allowed only for loopback addresses)")]
    NotHttps(String),
    #[error("{0:?} must not contain a fragment")]
    Fragment(String),
    #[error("{0:?} must not contain a wildcard")]
    Wildcard(String),
    #[error("{0:?} must not contain user information")]
    UserInfo(String),
}

/// Checks a redirect URI for registration: absolute, https outside loopback, no fragment
/// (RFC 6749 §3.1.2), no wildcard, no credentials. The string is stored exactly as given,
/// because authorization requests are compared against it exactly.
pub fn validate_redirect_uri(raw: &str) -> Result<(), RedirectUriError> {
    if raw.contains('*') {
        return Err(RedirectUriError::Wildcard(raw.into()));
    }
    if raw.contains('#') {
        return Err(RedirectUriError::Fragment(raw.into()));
    }
    let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute(raw.into()))?;
    if !url.has_host() {
        return Err(RedirectUriError::NotAbsolute(raw.into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo(raw.into()));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        _ => Err(RedirectUriError::NotHttps(raw.into())),
    }
}

/// Who may register apps at `/developer`: faculty and staff (including limited-term
/// staff), not students.
pub fn may_register_apps(affiliation: Affiliation) -> bool {
    affiliation.is_staff()
}

/// A registration field, so that a refusal can say which one is wrong; RFC 7591 §3.2.2
/// reports redirect URI problems (`invalid_redirect_uri`) apart from the rest
/// (`invalid_client_metadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataField {
    Name,
    RedirectUris,
    PostLogoutRedirectUris,
    BackchannelLogoutUri,
    AuthMethod,
    AllowedAffiliations,
    IdTokenAlg,
    GrantTypes,
    ResponseTypes,
    /// Another field, or the document as a whole (not JSON, wrong types).
    Other,
}

/// Why a client's registration metadata was refused, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    pub field: MetadataField,
    pub message: String,
}

impl MetadataError {
    pub fn new(field: MetadataField, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// The most URIs of one kind a client may register: a bound on what a request can make us
/// store and compare.
pub const MAX_URIS: usize = 20;

/// Checks one list of URIs that the provider will redirect to or call (redirect URIs,
/// post-logout redirect URIs, the back-channel logout URI): each under the rules of
/// [`validate_redirect_uri`].
pub fn validate_uri_list(
    field: MetadataField,
    label: &str,
    uris: &[String],
) -> Result<(), MetadataError> {
    if uris.len() > MAX_URIS {
        return Err(MetadataError::new(
            field,
            format!("{label}: at most {MAX_URIS} are allowed"),
        ));
    }
    for uri in uris {
        validate_redirect_uri(uri)
            .map_err(|e| MetadataError::new(field, format!("{label}: {e}")))?;
    }
    Ok(())
}

/// `localhost`, 127.0.0.0/8 or `[::1]`: the only hosts where plain http is acceptable.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl RelyingParty {
    /// A confidential campus system with one redirect URI and nothing else set, for unit
    /// tests (and the parser fuzzing in `benches/fuzz.rs`) to adjust with struct-update
    /// syntax.
    #[doc(hidden)]
    pub fn for_tests(id: &str, redirect_uri: &str) -> RelyingParty {
        RelyingParty {
            id: id.into(),
            name: "RP".into(),
            secret_hash: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            require_consent: false,
            require_mfa: false,
            allowed_affiliations: vec![],
            requires_compliance: false,
            id_token_alg: SigningAlg::RS256,
            disabled: false,
            registered_by: Registrar::Operator,
            owner_account_id: None,
            registration_token_hash: None,
            require_par: false,
            dpop_bound: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_absolute_https_and_exact() {
        for ok in [
            "https://rp.uec.ac.jp/callback",
            "https://rp.uec.ac.jp/cb?x=1",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "http://[::1]:8000/cb",
        ] {
            assert_eq!(validate_redirect_uri(ok), Ok(()), "{ok}");
        }
        let cases = [
            (
                "/callback",
                RedirectUriError::NotAbsolute("/callback".into()),
            ),
            (
                "http://rp.uec.ac.jp/cb",
                RedirectUriError::NotHttps("http://rp.uec.ac.jp/cb".into()),
            ),
            (
                "https://rp.uec.ac.jp/cb#x",
                RedirectUriError::Fragment("https://rp.uec.ac.jp/cb#x".into()),
            ),
            (
                "https://*.uec.ac.jp/cb",
                RedirectUriError::Wildcard("https://*.uec.ac.jp/cb".into()),
            ),
            (
                "https://u:p@rp.uec.ac.jp/cb",
                RedirectUriError::UserInfo("https://u:p@rp.uec.ac.jp/cb".into()),
            ),
            (
                "javascript:alert(1)",
                RedirectUriError::NotAbsolute("javascript:alert(1)".into()),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(validate_redirect_uri(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn uri_lists_name_their_field_and_are_bounded() {
        let ok = vec!["https://rp.uec.ac.jp/a".to_string(); MAX_URIS];
        assert_eq!(
            validate_uri_list(MetadataField::RedirectUris, "redirect URI", &ok),
            Ok(())
        );
        let too_many = vec!["https://rp.uec.ac.jp/a".to_string(); MAX_URIS + 1];
        let err = validate_uri_list(MetadataField::RedirectUris, "redirect URI", &too_many)
            .expect_err("bounded");
        assert_eq!(err.field, MetadataField::RedirectUris);
        let err = validate_uri_list(
            MetadataField::BackchannelLogoutUri,
            "back-channel logout URI",
            &["http://rp.uec.ac.jp/bc".to_string()],
        )
        .expect_err("http off loopback");
        assert_eq!(err.field, MetadataField::BackchannelLogoutUri);
        assert!(
            err.message.starts_with("back-channel logout URI: "),
            "{err}"
        );
    }

    #[test]
    fn only_faculty_and_staff_register_apps() {
        for a in Affiliation::ALL {
            assert_eq!(
                may_register_apps(a),
                matches!(
                    a,
                    Affiliation::Faculty | Affiliation::Staff | Affiliation::LimitedTermStaff
                ),
                "{a:?}"
            );
        }
    }

    #[test]
    fn redirect_uri_matching_is_exact() {
        let rp = RelyingParty {
            auth_method: ClientAuthMethod::None,
            ..RelyingParty::for_tests("c", "https://rp.uec.ac.jp/cb")
        };
        assert!(rp.has_redirect_uri("https://rp.uec.ac.jp/cb"));
        for near in [
            "https://rp.uec.ac.jp/cb/",
            "https://rp.uec.ac.jp/cb?x",
            "https://RP.uec.ac.jp/cb",
            "https://rp.uec.ac.jp/c",
        ] {
            assert!(!rp.has_redirect_uri(near), "{near}");
        }
        assert!(rp.admits(Affiliation::Student));
    }
}
