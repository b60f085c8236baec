//! Registering relying parties (campus systems, by an operator on the command line).

use crate::domain::account::Affiliation;
use crate::domain::client::{ClientAuthMethod, RelyingParty, validate_redirect_uri};
use crate::oidc::keys::SigningAlg;
use crate::secrets;
use crate::services::ServiceError;
use crate::store::audit::{self, AuditEvent};
use crate::store::{Db, clients, write_tx};

#[derive(Debug, Default)]
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

#[derive(Debug)]
pub struct RegisteredClient {
    pub client_id: String,
    /// Shown once; only its hash is stored.
    pub client_secret: Option<String>,
    pub client: RelyingParty,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

pub fn register_client(db: &Db, new: NewClient, now: i64) -> Result<RegisteredClient, ClientError> {
    let invalid = |m: String| ClientError::Invalid(m);
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid("--name: must be 1-200 printable characters".into()));
    }
    if new.redirect_uris.is_empty() {
        return Err(invalid("--redirect-uri: at least one is required".into()));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
        .chain(&new.backchannel_logout_uri)
    {
        validate_redirect_uri(uri).map_err(|e| invalid(format!("redirect URI: {e}")))?;
    }
    let auth_method = match (new.auth_method.as_deref(), new.public) {
        (None, true) => ClientAuthMethod::None,
        (None, false) => ClientAuthMethod::ClientSecretBasic,
        (Some(m), public) => {
            let m = ClientAuthMethod::parse(m).ok_or_else(|| {
                invalid(
                    "--auth-method: must be client_secret_basic, client_secret_post or none".into(),
                )
            })?;
            if public && m != ClientAuthMethod::None {
                return Err(invalid(
                    "--public clients have no secret: use --auth-method none or omit it".into(),
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
                invalid(format!(
                    "--allow-affiliation: {a:?} is not one of {}",
                    Affiliation::names()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id_token_alg = match new.id_token_alg.as_deref() {
        None => SigningAlg::RS256,
        Some(a) => SigningAlg::parse(a)
            .ok_or_else(|| invalid("--id-token-alg: must be RS256 or ES256".into()))?,
    };
    let client_secret = (auth_method != ClientAuthMethod::None).then(secrets::new_token);
    let client = RelyingParty {
        id: secrets::new_id(),
        name,
        secret_hash: client_secret.as_deref().map(secrets::hash_token),
        auth_method,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout_uri: new.backchannel_logout_uri,
        require_consent: new.require_consent,
        require_mfa: new.require_mfa,
        allowed_affiliations,
        requires_compliance: new.requires_compliance,
        id_token_alg,
        disabled: false,
        registered_by: crate::domain::client::Registrar::Operator,
        owner_account_id: None,
        registration_token_hash: None,
        require_par: new.require_par,
        dpop_bound: new.dpop_bound,
    };
    let mut conn = db.conn().map_err(ServiceError::from)?;
    write_tx(&mut conn, |conn| {
        clients::insert_client(conn, &client, now)?;
        audit::record(
            conn,
            AuditEvent {
                at: now,
                kind: "client_registered",
                client_id: Some(&client.id),
                detail: Some(client.name.clone()),
                ..Default::default()
            },
        )
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
    .ok_or_else(|| ClientError::Invalid(format!("--id: no client {client_id:?}")))
}
