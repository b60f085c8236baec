//! RFC 7591 dynamic client registration and RFC 7592 client configuration, as protocol:
//! the metadata a client sends, the checks only the protocol imposes (grant and response
//! types), the client information document and the error codes. The metadata rules shared
//! with the other ways of registering live in `domain::client` and `services::clients`.

use serde::Deserialize;
use serde_json::json;

use crate::domain::client::{MetadataError, MetadataField, RelyingParty};

/// The client metadata of a registration (RFC 7591 §2) or update (RFC 7592 §2.2) request.
/// Fields this provider does not know are ignored, as RFC 7591 §2 requires.
#[derive(Debug, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// OpenID Connect Back-Channel Logout §2.2; logout tokens always carry `sid`, so both
    /// values are honoured.
    pub backchannel_logout_session_required: Option<bool>,
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// RFC 7592 §2.2: an update names the client it updates.
    pub client_id: Option<String>,
    /// RFC 7592 §2.2: if present in an update, it must be the client's current secret.
    pub client_secret: Option<String>,
}

/// The grant types a client may register (RFC 7591 §2).
pub const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

impl ClientMetadata {
    /// Parses a JSON request body.
    pub fn parse(body: &[u8]) -> Result<Self, MetadataError> {
        serde_json::from_slice(body).map_err(|e| {
            MetadataError::new(
                MetadataField::Other,
                format!("the body is not valid client metadata: {e}"),
            )
        })
    }

    /// RFC 7591 §2.1: only the authorization code flow (`code`), with its refresh.
    pub fn check_flows(&self) -> Result<(), MetadataError> {
        if let Some(types) = &self.response_types
            && (types.is_empty() || types.iter().any(|t| t != "code"))
        {
            return Err(MetadataError::new(
                MetadataField::ResponseTypes,
                "response_types: only \"code\" is supported",
            ));
        }
        if let Some(grants) = &self.grant_types
            && (grants.iter().any(|g| !GRANT_TYPES.contains(&g.as_str()))
                || !grants.iter().any(|g| g == "authorization_code"))
        {
            return Err(MetadataError::new(
                MetadataField::GrantTypes,
                "grant_types: must include authorization_code and may add refresh_token, nothing else",
            ));
        }
        Ok(())
    }
}

/// The RFC 7591 §3.2.2 error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationErrorCode {
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl RegistrationErrorCode {
    /// Redirect URI problems have a code of their own; everything else is metadata.
    pub fn for_field(field: MetadataField) -> Self {
        match field {
            MetadataField::RedirectUris => Self::InvalidRedirectUri,
            _ => Self::InvalidClientMetadata,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// The registered metadata of `client` (RFC 7591 §3.2.1, RFC 7592 §3), without secrets;
/// the caller adds `client_secret` and `registration_access_token` when it has them.
pub fn client_information(
    client: &RelyingParty,
    registration_client_uri: &str,
) -> serde_json::Value {
    let mut info = json!({
        "client_id": client.id,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "grant_types": GRANT_TYPES,
        "response_types": ["code"],
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "id_token_signed_response_alg": client.id_token_alg.as_str(),
        "require_pushed_authorization_requests": client.require_par,
        "dpop_bound_access_tokens": client.dpop_bound,
        "registration_client_uri": registration_client_uri,
    });
    if let Some(uri) = &client.backchannel_logout_uri {
        info["backchannel_logout_uri"] = json!(uri);
        info["backchannel_logout_session_required"] = json!(true);
    }
    if !client.is_public() {
        // RFC 7591 §3.2.1: 0 means the secret does not expire.
        info["client_secret_expires_at"] = json!(0);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_code_flow_can_be_registered() {
        let ok = ClientMetadata::parse(
            br#"{"redirect_uris":["https://a"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"unknown":1}"#,
        )
        .expect("parses");
        assert_eq!(ok.check_flows(), Ok(()));
        for body in [
            &br#"{"response_types":["token"]}"#[..],
            br#"{"response_types":[]}"#,
            br#"{"grant_types":["client_credentials"]}"#,
            br#"{"grant_types":["refresh_token"]}"#,
        ] {
            let m = ClientMetadata::parse(body).expect("parses");
            assert!(
                m.check_flows().is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(ClientMetadata::parse(b"{\"redirect_uris\":\"x\"}").is_err());
    }

    #[test]
    fn redirect_uri_problems_have_their_own_code() {
        assert_eq!(
            RegistrationErrorCode::for_field(MetadataField::RedirectUris).as_str(),
            "invalid_redirect_uri"
        );
        assert_eq!(
            RegistrationErrorCode::for_field(MetadataField::PostLogoutRedirectUris).as_str(),
            "invalid_client_metadata"
        );
    }
}
