//! Registering relying parties: the one metadata validation path shared by the operator's
//! command line, the developer portal (`services::developer_apps`) and RFC 7591 dynamic
//! registration (`services::registration`).

use crate::domain::account::Affiliation;
use crate::domain::client::{
    ClientAuthMethod, MetadataError, MetadataField, Registrar, RelyingParty, validate_uri_list,
};
use crate::oidc::keys::SigningAlg;
use crate::secrets;
use crate::services::ServiceError;
use crate::store::audit::{self, AuditEvent};
use crate::store::{Db, DbConnection, StoreResult, clients, write_tx};

#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub auth_method: Option<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub require_consent: bool,
    pub require_mfa: bool,
    pub allow_affiliations: Vec<String>,
    pub requires_compliance: bool,
    pub id_token_alg: Option<String>,
    /// RFC 9126 §6: authorization requests only through `/par`.
    pub require_par: bool,
    /// RFC 9449 §5.2: access tokens only bound to a DPoP key.
    pub dpop_bound: bool,
}

/// Metadata that passed [`validate`].
#[derive(Debug)]
pub struct ValidClient {
    pub name: String,
    pub auth_method: ClientAuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub allowed_affiliations: Vec<Affiliation>,
    pub id_token_alg: SigningAlg,
}

#[derive(Debug)]
pub struct RegisteredClient {
    pub client_id: String,
    /// Shown once; only its hash is stored.
    pub client_secret: Option<String>,
    pub client: RelyingParty,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Invalid(#[from] MetadataError),
    #[error("--id: no client {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Checks registration metadata, naming the field at fault: a 1-200 character name; at
/// least one redirect URI; every URI the provider redirects to or calls absolute, https
/// outside loopback, without fragment, wildcard or credentials; a known authentication
/// method consistent with `public`; known affiliations and ID token algorithm.
pub fn validate(new: &NewClient) -> Result<ValidClient, MetadataError> {
    use MetadataField as F;
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(MetadataError::new(
            F::Name,
            "name: must be 1-200 printable characters",
        ));
    }
    if new.redirect_uris.is_empty() {
        return Err(MetadataError::new(
            F::RedirectUris,
            "redirect URI: at least one is required",
        ));
    }
    validate_uri_list(F::RedirectUris, "redirect URI", &new.redirect_uris)?;
    validate_uri_list(
        F::PostLogoutRedirectUris,
        "post-logout redirect URI",
        &new.post_logout_redirect_uris,
    )?;
    validate_uri_list(
        F::BackchannelLogoutUri,
        "back-channel logout URI",
        new.backchannel_logout_uri.as_slice(),
    )?;
    let auth_method = match (new.auth_method.as_deref(), new.public) {
        (None, true) => ClientAuthMethod::None,
        (None, false) => ClientAuthMethod::ClientSecretBasic,
        (Some(m), public) => {
            let m = ClientAuthMethod::parse(m).ok_or_else(|| {
                MetadataError::new(
                    F::AuthMethod,
                    "token_endpoint_auth_method: must be client_secret_basic, client_secret_post or none",
                )
            })?;
            if public && m != ClientAuthMethod::None {
                return Err(MetadataError::new(
                    F::AuthMethod,
                    "public clients have no secret: use the auth method none or omit it",
                ));
            }
            m
        }
    };
    let allowed_affiliations = new
        .allow_affiliations
        .iter()
        .map(|a| {
            Affiliation::parse(a).ok_or_else(|| {
                MetadataError::new(
                    F::AllowedAffiliations,
                    format!(
                        "--allow-affiliation: {a:?} is not one of {}",
                        Affiliation::names()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id_token_alg = match new.id_token_alg.as_deref() {
        None => SigningAlg::RS256,
        Some(a) => SigningAlg::parse(a).ok_or_else(|| {
            MetadataError::new(
                F::IdTokenAlg,
                "id_token_signed_response_alg: must be RS256 or ES256",
            )
        })?,
    };
    Ok(ValidClient {
        name,
        auth_method,
        redirect_uris: new.redirect_uris.clone(),
        post_logout_redirect_uris: new.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: new.backchannel_logout_uri.clone(),
        allowed_affiliations,
        id_token_alg,
    })
}

/// A new relying party from validated metadata, with a fresh secret for a confidential
/// client. Apps from the portal or dynamic registration are third-party: consent is always
/// asked for them, whatever they sent.
pub(crate) fn new_relying_party(
    new: NewClient,
    registrar: Registrar,
    owner_account_id: Option<String>,
) -> Result<(RelyingParty, Option<String>), MetadataError> {
    let valid = validate(&new)?;
    let client_secret = (valid.auth_method != ClientAuthMethod::None).then(secrets::new_token);
    let client = RelyingParty {
        id: secrets::new_id(),
        name: valid.name,
        secret_hash: client_secret.as_deref().map(secrets::hash_token),
        auth_method: valid.auth_method,
        redirect_uris: valid.redirect_uris,
        post_logout_redirect_uris: valid.post_logout_redirect_uris,
        backchannel_logout_uri: valid.backchannel_logout_uri,
        require_consent: new.require_consent || registrar != Registrar::Operator,
        require_mfa: new.require_mfa,
        allowed_affiliations: valid.allowed_affiliations,
        requires_compliance: new.requires_compliance,
        id_token_alg: valid.id_token_alg,
        disabled: false,
        registered_by: registrar,
        owner_account_id,
        registration_token_hash: None,
        require_par: new.require_par,
        dpop_bound: new.dpop_bound,
    };
    Ok((client, client_secret))
}

/// `client` with the metadata of `new` (already validated by the caller), its identity,
/// secret, owner and policy flags kept.
pub(crate) fn with_metadata(
    client: &RelyingParty,
    valid: ValidClient,
    new: &NewClient,
) -> RelyingParty {
    RelyingParty {
        name: valid.name,
        auth_method: valid.auth_method,
        redirect_uris: valid.redirect_uris,
        post_logout_redirect_uris: valid.post_logout_redirect_uris,
        backchannel_logout_uri: valid.backchannel_logout_uri,
        id_token_alg: valid.id_token_alg,
        require_par: new.require_par,
        dpop_bound: new.dpop_bound,
        ..client.clone()
    }
}

/// Records `kind` (client_registered, client_updated, client_secret_rotated,
/// client_deleted) about a client; `account_id` is the developer who acted, if any.
pub(crate) fn audit_client(
    conn: &mut DbConnection,
    now: i64,
    kind: &str,
    client: &RelyingParty,
    account_id: Option<&str>,
) -> StoreResult<()> {
    audit::record(
        conn,
        AuditEvent {
            at: now,
            kind,
            account_id,
            client_id: Some(&client.id),
            detail: Some(format!(
                "{} ({})",
                client.name,
                client.registered_by.as_str()
            )),
            ..Default::default()
        },
    )
}

/// An operator registers a campus system from the command line.
pub fn register_client(db: &Db, new: NewClient, now: i64) -> Result<RegisteredClient, ClientError> {
    let (client, client_secret) = new_relying_party(new, Registrar::Operator, None)?;
    let mut conn = db.conn().map_err(ServiceError::from)?;
    write_tx(&mut conn, |conn| {
        clients::insert_client(conn, &client, now)?;
        audit_client(conn, now, "client_registered", &client, None)
    })
    .map_err(ServiceError::from)?;
    Ok(RegisteredClient {
        client_id: client.id.clone(),
        client_secret,
        client,
    })
}

pub fn list_clients(db: &Db) -> Result<Vec<RelyingParty>, ServiceError> {
    Ok(clients::list_clients(&mut *db.conn()?)?)
}

/// An operator disables (or re-enables) a client. A disabled client gets no token, and the
/// tokens it holds stop working (userinfo checks the client with the grant), without
/// revoking them: re-enabling brings back what has not expired.
pub fn set_disabled(db: &Db, client_id: &str, disabled: bool, now: i64) -> Result<(), ClientError> {
    let mut conn = db.conn().map_err(ServiceError::from)?;
    write_tx(&mut conn, |conn| {
        if !clients::set_disabled(conn, client_id, disabled, now)? {
            return Ok(false);
        }
        audit::record(
            conn,
            AuditEvent {
                at: now,
                kind: if disabled {
                    "client_disabled"
                } else {
                    "client_enabled"
                },
                client_id: Some(client_id),
                ..Default::default()
            },
        )?;
        Ok::<_, crate::store::StoreError>(true)
    })
    .map_err(ServiceError::from)?
    .then_some(())
    .ok_or_else(|| ClientError::NotFound(client_id.to_string()))
}
