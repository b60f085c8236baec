//! Validating an authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636).
//!
//! The order matters: until the client and its exact `redirect_uri` are known, nothing may
//! be sent to the URI in the request (it could be an attacker's), so those errors become a
//! page shown to the person. After that, errors go back to the relying party as a redirect.

use serde::{Deserialize, Serialize};

use crate::domain::client::RelyingParty;
use crate::oidc::error::{OAuthError, OAuthErrorCode};
use crate::oidc::pkce;

/// Scopes this provider understands; others are dropped from the request (RFC 6749 §3.3
/// lets the server grant fewer scopes than asked for).
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Longest accepted `state` (relying parties sometimes pack their own data into it).
const MAX_PARAM_LEN: usize = 2048;
/// Longest accepted `nonce`, `scope` and `acr_values`.
const MAX_SHORT_PARAM_LEN: usize = 512;
/// Longest accepted `login_hint` (an account ID or an e-mail address) and `ui_locales`.
const MAX_HINT_LEN: usize = 256;

/// The query (GET) or form (POST) of `/authorize`, as received.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawAuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page: answer at once, with `login_required` if there is no session.
    None,
    /// Ask for the password again even if a session exists.
    Login,
}

/// A validated authorization request; stored on the login flow while the person signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Space-separated, only supported scopes, always including `openid`.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Vec<String>,
    /// `prompt=consent`: ask a client that needs consent again even if it was given.
    #[serde(default)]
    pub prompt_consent: bool,
}

impl AuthorizationRequest {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Why a request was refused, and how the refusal must be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// The client or redirect URI cannot be trusted: show a page, never redirect.
    Page(String),
    /// Tell the relying party (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Checks `raw` against the registered `client` (looked up by `raw.client_id`).
pub fn validate(
    raw: &RawAuthorizeParams,
    client: Option<&RelyingParty>,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let page = |msg: &str| AuthorizeRejection::Page(msg.to_string());
    let client_id = raw
        .client_id
        .as_deref()
        .ok_or_else(|| page("The request does not name an application (client_id is missing)."))?;
    let client = client.filter(|c| c.id == client_id).ok_or_else(|| {
        page("The application that sent you here is not registered with the UEC IdP.")
    })?;
    if client.disabled {
        return Err(page(
            "The application that sent you here has been disabled.",
        ));
    }
    let redirect_uri = raw
        .redirect_uri
        .as_deref()
        .ok_or_else(|| page("The request has no redirect_uri."))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(page(
            "The redirect_uri of this request is not registered for the application.",
        ));
    }

    // From here on the redirect URI is trusted.
    let state = raw.state.clone();
    let reject = |code: OAuthErrorCode, description: &str| AuthorizeRejection::Redirect {
        redirect_uri: redirect_uri.to_string(),
        state: state.clone().filter(|s| s.len() <= MAX_PARAM_LEN),
        error: OAuthError::new(code, description),
    };
    let invalid = |description: &str| reject(OAuthErrorCode::InvalidRequest, description);

    for (name, value, max) in [
        ("state", &raw.state, MAX_PARAM_LEN),
        ("nonce", &raw.nonce, MAX_SHORT_PARAM_LEN),
        ("login_hint", &raw.login_hint, MAX_HINT_LEN),
        ("ui_locales", &raw.ui_locales, MAX_HINT_LEN),
        ("acr_values", &raw.acr_values, MAX_SHORT_PARAM_LEN),
        ("scope", &raw.scope, MAX_SHORT_PARAM_LEN),
        ("prompt", &raw.prompt, MAX_HINT_LEN),
        ("max_age", &raw.max_age, MAX_HINT_LEN),
        ("response_mode", &raw.response_mode, MAX_HINT_LEN),
        ("code_challenge", &raw.code_challenge, MAX_HINT_LEN),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > max) {
            return Err(invalid(&format!("{name} is too long")));
        }
    }
    if raw.request.is_some() {
        return Err(reject(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if raw.request_uri.is_some() {
        return Err(reject(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match raw.response_type.as_deref() {
        None => return Err(invalid("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(reject(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if raw.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(invalid("only response_mode=query is supported"));
    }

    let requested: Vec<&str> = raw
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !requested.contains(&"openid") {
        return Err(reject(
            OAuthErrorCode::InvalidScope,
            "scope must contain openid",
        ));
    }
    let scope = SUPPORTED_SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");

    let code_challenge = match (
        raw.code_challenge.as_deref(),
        raw.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.is_public() => {
            return Err(invalid(
                "public clients must use PKCE (code_challenge with S256)",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        (Some(c), Some("S256")) if pkce::is_well_formed(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => return Err(invalid("code_challenge is malformed")),
        // RFC 7636 §4.3 defaults to `plain`, which this provider refuses.
        (Some(_), _) => return Err(invalid("code_challenge_method must be S256")),
    };

    let prompt = parse_prompt(raw.prompt.as_deref()).map_err(&invalid)?;
    let prompt_consent = raw
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == "consent"));
    let max_age = match raw.max_age.as_deref() {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age must be a non-negative integer"))?,
        ),
    };

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope,
        state: raw.state.clone(),
        nonce: raw.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        login_hint: raw.login_hint.clone(),
        ui_locales: raw.ui_locales.clone(),
        acr_values: raw
            .acr_values
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        prompt_consent,
    })
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, &'static str> {
    let values: Vec<&str> = raw
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if values.contains(&"none") {
        return if values.len() == 1 {
            Ok(Prompt::None)
        } else {
            Err("prompt=none cannot be combined with other values")
        };
    }
    let mut prompt = Prompt::Default;
    for v in values {
        match v {
            // select_account: an IdP session holds one account, so signing in again is
            // how another one is selected.
            "login" | "select_account" => prompt = Prompt::Login,
            // Read separately (`prompt_consent`): only third-party clients ask for consent.
            "consent" => {}
            _ => return Err("prompt has an unsupported value"),
        }
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientAuthMethod;

    fn client(public: bool) -> RelyingParty {
        RelyingParty {
            auth_method: if public {
                ClientAuthMethod::None
            } else {
                ClientAuthMethod::ClientSecretBasic
            },
            ..RelyingParty::for_tests("rp", "https://rp.example/cb")
        }
    }

    fn good() -> RawAuthorizeParams {
        RawAuthorizeParams {
            client_id: Some("rp".into()),
            redirect_uri: Some("https://rp.example/cb".into()),
            response_type: Some("code".into()),
            scope: Some("openid profile bogus".into()),
            state: Some("st".into()),
            ..Default::default()
        }
    }

    fn error_code(r: Result<AuthorizationRequest, AuthorizeRejection>) -> &'static str {
        match r {
            Err(AuthorizeRejection::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("st"), "state is echoed");
                error.code.as_str()
            }
            Err(AuthorizeRejection::Page(_)) => "page",
            Ok(_) => "ok",
        }
    }

    #[test]
    fn a_good_request_keeps_only_supported_scopes() {
        let req = validate(&good(), Some(&client(false))).expect("valid");
        assert_eq!(req.scope, "openid profile");
        assert_eq!(req.prompt, Prompt::Default);
    }

    #[test]
    fn untrusted_client_or_redirect_uri_gives_a_page_never_a_redirect() {
        let c = client(false);
        let cases: Vec<(RawAuthorizeParams, Option<&RelyingParty>)> = vec![
            (
                RawAuthorizeParams {
                    client_id: None,
                    ..good()
                },
                Some(&c),
            ),
            (good(), None),
            (
                RawAuthorizeParams {
                    redirect_uri: None,
                    ..good()
                },
                Some(&c),
            ),
            (
                RawAuthorizeParams {
                    redirect_uri: Some("https://evil.example/cb".into()),
                    ..good()
                },
                Some(&c),
            ),
            (
                RawAuthorizeParams {
                    redirect_uri: Some("https://rp.example/cb/".into()),
                    ..good()
                },
                Some(&c),
            ),
        ];
        for (raw, client) in cases {
            assert_eq!(error_code(validate(&raw, client)), "page", "{raw:?}");
        }
    }

    #[test]
    fn protocol_errors_go_back_to_the_relying_party() {
        let c = client(false);
        let p = client(true);
        let challenge = "ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k";
        let cases: Vec<(&str, RawAuthorizeParams, &RelyingParty, &str)> = vec![
            (
                "token flow",
                RawAuthorizeParams {
                    response_type: Some("token".into()),
                    ..good()
                },
                &c,
                "unsupported_response_type",
            ),
            (
                "no response_type",
                RawAuthorizeParams {
                    response_type: None,
                    ..good()
                },
                &c,
                "invalid_request",
            ),
            (
                "no openid",
                RawAuthorizeParams {
                    scope: Some("profile".into()),
                    ..good()
                },
                &c,
                "invalid_scope",
            ),
            ("public without pkce", good(), &p, "invalid_request"),
            (
                "plain pkce",
                RawAuthorizeParams {
                    code_challenge: Some(challenge.into()),
                    code_challenge_method: Some("plain".into()),
                    ..good()
                },
                &p,
                "invalid_request",
            ),
            (
                "default method is plain",
                RawAuthorizeParams {
                    code_challenge: Some(challenge.into()),
                    ..good()
                },
                &c,
                "invalid_request",
            ),
            (
                "short challenge",
                RawAuthorizeParams {
                    code_challenge: Some("abc".into()),
                    code_challenge_method: Some("S256".into()),
                    ..good()
                },
                &c,
                "invalid_request",
            ),
            (
                "bad max_age",
                RawAuthorizeParams {
                    max_age: Some("-1".into()),
                    ..good()
                },
                &c,
                "invalid_request",
            ),
            (
                "prompt none+login",
                RawAuthorizeParams {
                    prompt: Some("none login".into()),
                    ..good()
                },
                &c,
                "invalid_request",
            ),
            (
                "request object",
                RawAuthorizeParams {
                    request: Some("eyJ".into()),
                    ..good()
                },
                &c,
                "request_not_supported",
            ),
            (
                "fragment mode",
                RawAuthorizeParams {
                    response_mode: Some("fragment".into()),
                    ..good()
                },
                &c,
                "invalid_request",
            ),
        ];
        for (name, raw, client, want) in cases {
            assert_eq!(error_code(validate(&raw, Some(client))), want, "{name}");
        }
    }

    #[test]
    fn public_client_with_s256_is_accepted() {
        let raw = RawAuthorizeParams {
            code_challenge: Some("ubbNRPUvWBcg6vGDcQPx3dOfj2YHGJwQduxdYWct50k".into()),
            code_challenge_method: Some("S256".into()),
            prompt: Some("login".into()),
            max_age: Some("300".into()),
            ..good()
        };
        let req = validate(&raw, Some(&client(true))).expect("valid");
        assert!(req.code_challenge.is_some());
        assert_eq!(req.prompt, Prompt::Login);
        assert_eq!(req.max_age, Some(300));
    }
}
