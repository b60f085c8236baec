//! Passkeys (WebAuthn) as a thin wrapper over webauthn-rs.
//!
//! Everything crosses the boundary as strings: the options the browser needs, the ceremony state
//! the server keeps until the answer arrives, and the credentials the caller stores. That keeps
//! the web layer and the database free of webauthn-rs types, and this module free of both.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::{Host, Url};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

/// Domain separation for [`Passkeys::user_handle`], so the handle can't be matched against
/// SHA-256 of the `sub` used anywhere else.
const USER_HANDLE_CONTEXT: &[u8] = b"uec-idp webauthn user handle\0";

/// Scheme of the placeholder URL that anchors a loopback IP rp id (see [`loopback`]).
/// It is not a web scheme, so no browser can ever present it as an origin.
const LOOPBACK_ANCHOR_SCHEME: &str = "uec-idp-loopback";

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The issuer URL can't serve as a WebAuthn relying party.
    #[error("passkeys are not available for this issuer: {0}")]
    Config(String),
    /// Any client answer that doesn't verify, whatever the reason (forged, mismatched, replayed,
    /// unknown credential, missing user verification) or unusable ceremony state. The reasons are
    /// deliberately not told apart: the client learns nothing from a failure.
    #[error("the passkey response was not accepted")]
    Rejected,
    /// Data this server stored itself (a credential, an account name) doesn't parse or is unusable.
    #[error("stored passkey data is unreadable: {0}")]
    Corrupt(String),
}

/// The relying party for one issuer.
#[derive(Debug, Clone)]
pub struct Passkeys {
    webauthn: Webauthn,
}

/// What the browser needs (options JSON for navigator.credentials.create/get) and what the server
/// keeps until the answer comes (serialised state).
///
/// The state must stay server-side and be used once: delete it when the answer arrives, whatever
/// the outcome. A state that can be presented again lets an old answer be replayed.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub options_json: String,
    pub state: String,
}

/// A registered credential as stored: id (base64url, no padding, the same form as the browser's
/// credential `id`) and the serialised webauthn-rs `Passkey`.
///
/// The caller must refuse a `credential_id` already registered to any account (a unique index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub credential: String,
}

/// The result of a successful assertion: which credential, its new serialised state if the
/// counter/backup state changed (else the same), and whether the authenticator verified the user
/// (PIN/biometric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedPasskey {
    pub credential_id: String,
    pub credential: String,
    pub user_verified: bool,
}

impl Passkeys {
    /// rp id = the issuer URL's host, origin = the issuer's origin, so credentials are bound to
    /// exactly the host users see. An http(s) issuer on a domain, or on a loopback IPv4 address
    /// for tests; anything else is a `Config` error.
    pub fn new(issuer: &str) -> Result<Passkeys, PasskeyError> {
        let url =
            Url::parse(issuer).map_err(|e| PasskeyError::Config(format!("{issuer:?}: {e}")))?;
        let origin = web_origin(&url)?;
        let webauthn = match url.host() {
            Some(Host::Domain(domain)) => {
                WebauthnBuilder::new(domain, &origin).and_then(WebauthnBuilder::build)
            }
            Some(Host::Ipv4(ip)) if ip.is_loopback() => loopback(&ip.to_string(), &origin),
            Some(_) => {
                return Err(PasskeyError::Config(
                    "an IP address can't be a WebAuthn rp id".into(),
                ));
            }
            None => return Err(PasskeyError::Config(format!("{issuer:?} has no host"))),
        };
        Ok(Passkeys {
            webauthn: webauthn.map_err(config)?,
        })
    }

    /// The WebAuthn user handle for an account, derived from its OIDC `sub`: stable without
    /// storing it, and (being a hash) it reveals nothing to whoever reads the authenticator.
    pub fn user_handle(sub: &str) -> Uuid {
        let digest = Sha256::new()
            .chain_update(USER_HANDLE_CONTEXT)
            .chain_update(sub)
            .finalize();
        let mut handle = [0u8; 16];
        handle.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(handle)
    }

    /// Registration of a new passkey. `existing` (stored `credential` strings) are excluded so the
    /// same authenticator isn't registered twice. `account_id` and `display_name` are shown by the
    /// authenticator and must not be empty.
    ///
    /// The credential must be discoverable, because the same passkey serves passwordless sign-in.
    /// webauthn-rs's `start_passkey_registration` asks for `residentKey: "discouraged"` (to spare
    /// the few slots of old security keys), and its resident-key API requires attestation CAs, so
    /// the options are amended to `residentKey: "required"`. webauthn-rs doesn't check residency
    /// on the answer, so the state needs no change. An authenticator that can't store the key then
    /// fails visibly at registration instead of silently never offering it for sign-in.
    /// User verification is required by webauthn-rs for every passkey.
    pub fn start_registration(
        &self,
        sub: &str,
        account_id: &str,
        display_name: &str,
        existing: &[String],
    ) -> Result<Challenge, PasskeyError> {
        let exclude = existing
            .iter()
            .map(|credential| load(credential).map(|passkey| passkey.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                Self::user_handle(sub),
                account_id,
                display_name,
                Some(exclude),
            )
            .map_err(unusable)?;
        let mut options =
            serde_json::to_value(options).map_err(|e| PasskeyError::Corrupt(e.to_string()))?;
        require_resident_key(&mut options);
        Ok(Challenge {
            options_json: encode(&options)?,
            state: encode(&state)?,
        })
    }

    pub fn finish_registration(
        &self,
        state: &str,
        response_json: &str,
    ) -> Result<StoredPasskey, PasskeyError> {
        let state: PasskeyRegistration = parse(state)?;
        let response: RegisterPublicKeyCredential = parse(response_json)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(rejected)?;
        Ok(StoredPasskey {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            credential: encode(&passkey)?,
        })
    }

    /// As a second factor after the password: the allow-list is the account's credentials. With
    /// none there is nothing to answer with (an empty list would turn into a discoverable
    /// request), so that is `Rejected`.
    pub fn start_authentication(
        &self,
        credentials: &[StoredPasskey],
    ) -> Result<Challenge, PasskeyError> {
        if credentials.is_empty() {
            return Err(PasskeyError::Rejected);
        }
        let passkeys = credentials
            .iter()
            .map(|c| load(&c.credential))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(unusable)?;
        Ok(Challenge {
            options_json: encode(&options)?,
            state: encode(&state)?,
        })
    }

    /// The allow-list was fixed in `state`; `credentials` (the account's current ones) supply the
    /// record to update, so a credential deleted meanwhile is `Rejected`. The counter is compared
    /// with the credential as it was at `start_authentication` (webauthn-rs keeps it in the state).
    pub fn finish_authentication(
        &self,
        state: &str,
        response_json: &str,
        credentials: &[StoredPasskey],
    ) -> Result<UsedPasskey, PasskeyError> {
        let state: PasskeyAuthentication = parse(state)?;
        let response: PublicKeyCredential = parse(response_json)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&response, &state)
            .map_err(rejected)?;
        let mut passkey = load(&find(credentials, result.cred_id())?.credential)?;
        used(&mut passkey, &result)
    }

    /// Passwordless: no allow-list, the authenticator picks a discoverable credential. The options
    /// carry `mediation: "conditional"` (webauthn-rs sets it for autofill UI); a sign-in button
    /// may drop it.
    pub fn start_discoverable(&self) -> Result<Challenge, PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(unusable)?;
        Ok(Challenge {
            options_json: encode(&options)?,
            state: encode(&state)?,
        })
    }

    /// Which user handle and credential id (base64url) the browser's answer claims. Nothing is
    /// verified yet: the caller loads that account's credentials and calls `finish_discoverable`.
    pub fn identify_discoverable(
        &self,
        response_json: &str,
    ) -> Result<(Uuid, String), PasskeyError> {
        let response: PublicKeyCredential = parse(response_json)?;
        let (handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(&response)
            .map_err(rejected)?;
        Ok((handle, URL_SAFE_NO_PAD.encode(credential_id)))
    }

    /// `credentials` are those of the account the user handle named; the answer must come from
    /// one of them, which binds the claimed handle to the key that signed. User verification is
    /// required, so a success here is multi-factor on its own.
    pub fn finish_discoverable(
        &self,
        state: &str,
        response_json: &str,
        credentials: &[StoredPasskey],
    ) -> Result<UsedPasskey, PasskeyError> {
        let state: DiscoverableAuthentication = parse(state)?;
        let response: PublicKeyCredential = parse(response_json)?;
        let mut passkey = load(&find(credentials, response.get_credential_id())?.credential)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&response, state, &passkey)
            .map_err(rejected)?;
        used(&mut passkey, &result)
    }
}

/// The issuer's origin as webauthn-rs compares it; only http(s) issuers are web origins.
fn web_origin(url: &Url) -> Result<Url, PasskeyError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PasskeyError::Config(format!("{url} is not an http(s) URL")));
    }
    Url::parse(&url.origin().ascii_serialization()).map_err(|e| PasskeyError::Config(e.to_string()))
}

/// Browsers refuse WebAuthn on IP-address origins, but the integration tests run the IdP on
/// `http://127.0.0.1:PORT` with a software authenticator. webauthn-rs only accepts an rp id that
/// is a *domain* of the anchoring origin, so the rp id is anchored on an opaque-host URL of a
/// non-web scheme (whose host counts as a domain) and the issuer's real origin is allowed too.
/// Limited to loopback addresses, which exist only in development and tests.
fn loopback(rp_id: &str, origin: &Url) -> Result<Webauthn, WebauthnError> {
    let anchor = Url::parse(&format!("{LOOPBACK_ANCHOR_SCHEME}://{rp_id}"))
        .map_err(|_| WebauthnError::Configuration)?;
    WebauthnBuilder::new(rp_id, &anchor)?
        .append_allowed_origin(origin)
        .build()
}

/// Amends creation options to demand a discoverable credential (see `start_registration`).
fn require_resident_key(options: &mut Value) {
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
}

/// The stored credential whose id is `id`; any other answer is not this account's.
fn find<'a>(
    credentials: &'a [StoredPasskey],
    id: &[u8],
) -> Result<&'a StoredPasskey, PasskeyError> {
    let id = URL_SAFE_NO_PAD.encode(id);
    credentials
        .iter()
        .find(|c| c.credential_id == id)
        .ok_or(PasskeyError::Rejected)
}

/// Applies a verified assertion to the stored credential (counter, backup state).
fn used(passkey: &mut Passkey, result: &AuthenticationResult) -> Result<UsedPasskey, PasskeyError> {
    if passkey.update_credential(result).is_none() {
        return Err(PasskeyError::Corrupt(
            "stored credential id doesn't match its credential".into(),
        ));
    }
    Ok(UsedPasskey {
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        credential: encode(passkey)?,
        user_verified: result.user_verified(),
    })
}

/// Parses what came from the client (or the ceremony state): any failure is `Rejected`.
fn parse<T: DeserializeOwned>(json: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(json).map_err(|_| PasskeyError::Rejected)
}

/// Parses a stored credential: a failure is the server's own data gone bad.
fn load(credential: &str) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(credential).map_err(|e| PasskeyError::Corrupt(e.to_string()))
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::Corrupt(e.to_string()))
}

fn config(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Config(e.to_string())
}

fn rejected(_: WebauthnError) -> PasskeyError {
    PasskeyError::Rejected
}

/// Starting a ceremony fails only on what the server supplied (e.g. an empty account name).
fn unusable(e: WebauthnError) -> PasskeyError {
    PasskeyError::Corrupt(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passkeys() -> Passkeys {
        Passkeys::new("http://127.0.0.1:8080").expect("loopback issuer")
    }

    fn rp_id(options_json: &str) -> String {
        let options: Value = serde_json::from_str(options_json).expect("options json");
        options["publicKey"]["rp"]["id"]
            .as_str()
            .expect("rp id")
            .to_owned()
    }

    fn origins(p: &Passkeys) -> Vec<String> {
        p.webauthn
            .get_allowed_origins()
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect()
    }

    #[test]
    fn rp_id_and_origin_come_from_an_https_issuer() {
        let p = Passkeys::new("https://idp.example.ac.jp/realms/uec").expect("https issuer");
        let c = p
            .start_registration("sub-1", "taro", "Taro", &[])
            .expect("start");
        assert_eq!(rp_id(&c.options_json), "idp.example.ac.jp");
        assert_eq!(origins(&p), ["https://idp.example.ac.jp/"]);
    }

    #[test]
    fn rp_id_and_origin_come_from_a_loopback_issuer() {
        let p = passkeys();
        let c = p
            .start_registration("sub-1", "taro", "Taro", &[])
            .expect("start");
        assert_eq!(rp_id(&c.options_json), "127.0.0.1");
        assert!(origins(&p).contains(&"http://127.0.0.1:8080/".to_owned()));
        let localhost = Passkeys::new("http://localhost:3000").expect("localhost issuer");
        let c = localhost
            .start_registration("sub-1", "taro", "Taro", &[])
            .expect("start");
        assert_eq!(rp_id(&c.options_json), "localhost");
        assert_eq!(origins(&localhost), ["http://localhost:3000/"]);
    }

    #[test]
    fn issuers_that_cannot_be_a_relying_party_are_config_errors() {
        for issuer in [
            "urn:uec:idp",
            "file:///etc/idp",
            "idp.example.ac.jp",
            "http://192.0.2.1",
            "http://[::1]:80",
        ] {
            assert!(
                matches!(Passkeys::new(issuer), Err(PasskeyError::Config(_))),
                "{issuer}"
            );
        }
    }

    #[test]
    fn user_handle_is_stable_and_distinct() {
        assert_eq!(
            Passkeys::user_handle("alice"),
            Passkeys::user_handle("alice")
        );
        assert_ne!(Passkeys::user_handle("alice"), Passkeys::user_handle("bob"));
        assert_ne!(Passkeys::user_handle(""), Uuid::nil());
    }

    #[test]
    fn registration_asks_for_a_discoverable_user_verified_credential() {
        let c = passkeys()
            .start_registration("sub-1", "taro", "Taro", &[])
            .expect("start");
        let options: Value = serde_json::from_str(&c.options_json).expect("json");
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
        let handle = URL_SAFE_NO_PAD.encode(Passkeys::user_handle("sub-1").as_bytes());
        assert_eq!(options["publicKey"]["user"]["id"], handle.as_str());
    }

    #[test]
    fn garbage_state_or_response_is_rejected() {
        let p = passkeys();
        let reg = p
            .start_registration("sub-1", "taro", "Taro", &[])
            .expect("start");
        let disc = p.start_discoverable().expect("start");
        let garbage = [
            "",
            "null",
            "{",
            "[]",
            r#"{"id":"AA","rawId":"!!","type":"public-key","response":{}}"#,
            r#"{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"AA","attestationObject":"AA"}}"#,
            r#"{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AA"}}"#,
        ];
        for junk in garbage {
            assert!(
                matches!(
                    p.finish_registration(&reg.state, junk),
                    Err(PasskeyError::Rejected)
                ),
                "{junk}"
            );
            assert!(
                matches!(
                    p.finish_registration(junk, junk),
                    Err(PasskeyError::Rejected)
                ),
                "{junk}"
            );
            assert!(
                matches!(
                    p.finish_authentication(junk, junk, &[]),
                    Err(PasskeyError::Rejected)
                ),
                "{junk}"
            );
            assert!(
                matches!(p.identify_discoverable(junk), Err(PasskeyError::Rejected)),
                "{junk}"
            );
            assert!(
                matches!(
                    p.finish_discoverable(&disc.state, junk, &[]),
                    Err(PasskeyError::Rejected)
                ),
                "{junk}"
            );
        }
        // A registration state is not an authentication state.
        assert!(matches!(
            p.finish_discoverable(&reg.state, "{}", &[]),
            Err(PasskeyError::Rejected)
        ));
    }

    #[test]
    fn unreadable_stored_credentials_are_corrupt() {
        let p = passkeys();
        let broken = StoredPasskey {
            credential_id: "AA".into(),
            credential: "{}".into(),
        };
        assert!(matches!(
            p.start_registration("s", "a", "A", &["{}".into()]),
            Err(PasskeyError::Corrupt(_))
        ));
        assert!(matches!(
            p.start_authentication(&[broken]),
            Err(PasskeyError::Corrupt(_))
        ));
        assert!(matches!(
            p.start_authentication(&[]),
            Err(PasskeyError::Rejected)
        ));
    }
}
