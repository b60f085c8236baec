//! RFC 7591 dynamic registration and RFC 7592 client configuration. An operator makes an
//! initial access token (`uec-idp client initial-token`); a registration spends one use of
//! it and returns a registration access token, which alone lets the client read, replace
//! or delete its own registration. Only hashes of both tokens are stored.

use crate::domain::client::{
    ClientAuthMethod, MetadataError, MetadataField, Registrar, RelyingParty,
};
use crate::oidc::registration::ClientMetadata;
use crate::secrets;
use crate::services::ServiceError;
use crate::services::clients::{
    ClientError, NewClient, audit_client, new_relying_party, validate, with_metadata,
};
use crate::services::outbound::{self, OutboundPolicy};
use crate::startup::AppState;
use crate::store::{Db, DbConnection, StoreError, clients, initial_tokens, write_tx};

/// Defaults and bounds of `client initial-token`.
pub const DEFAULT_INITIAL_TOKEN_HOURS: i64 = 24;
pub const MAX_INITIAL_TOKEN_HOURS: i64 = 24 * 90;
pub const MAX_INITIAL_TOKEN_USES: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The bearer token is missing, unknown, expired, used up, or belongs to another
    /// client: all look the same (RFC 7592 §2: do not reveal whether a client exists).
    #[error("invalid token")]
    InvalidToken,
    #[error(transparent)]
    Invalid(#[from] MetadataError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for RegistrationError {
    fn from(e: StoreError) -> Self {
        RegistrationError::Service(e.into())
    }
}

#[derive(Debug)]
pub struct InitialToken {
    /// Shown once.
    pub token: String,
    pub expires_at: i64,
    pub uses: i64,
}

/// An operator makes an initial access token good for `uses` registrations within `hours`.
pub fn issue_initial_token(
    db: &Db,
    hours: i64,
    uses: i64,
    now: i64,
) -> Result<InitialToken, ClientError> {
    if !(1..=MAX_INITIAL_TOKEN_HOURS).contains(&hours) {
        return Err(MetadataError::new(
            MetadataField::Other,
            format!("--expires-in: 1 to {MAX_INITIAL_TOKEN_HOURS} hours"),
        )
        .into());
    }
    if !(1..=MAX_INITIAL_TOKEN_USES).contains(&uses) {
        return Err(MetadataError::new(
            MetadataField::Other,
            format!("--uses: 1 to {MAX_INITIAL_TOKEN_USES}"),
        )
        .into());
    }
    let token = secrets::new_token();
    let expires_at = now + hours * 3600;
    let mut conn = db.conn().map_err(ServiceError::from)?;
    write_tx(&mut conn, |conn| {
        initial_tokens::insert_initial_token(
            conn,
            &secrets::hash_token(&token),
            now,
            expires_at,
            uses,
        )?;
        crate::store::audit::record(
            conn,
            crate::store::audit::AuditEvent {
                at: now,
                kind: "initial_access_token_issued",
                detail: Some(format!("{uses} use(s) until {expires_at}")),
                ..Default::default()
            },
        )
    })
    .map_err(ServiceError::from)?;
    Ok(InitialToken {
        token,
        expires_at,
        uses,
    })
}

/// A registration just made: the only time its secrets are seen.
#[derive(Debug)]
pub struct Registration {
    pub client: RelyingParty,
    pub client_secret: Option<String>,
    pub registration_access_token: String,
    pub issued_at: i64,
}

/// The metadata of a request, in the form every way of registering shares.
pub fn new_client(m: &ClientMetadata) -> Result<NewClient, MetadataError> {
    m.check_flows()?;
    // RFC 7591 makes client_name optional; the consent page needs something to show, and
    // the redirect URI's host is what the person can check.
    let name = m.client_name.clone().unwrap_or_else(|| {
        m.redirect_uris
            .first()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "unnamed client".into())
    });
    Ok(NewClient {
        name,
        redirect_uris: m.redirect_uris.clone(),
        auth_method: Some(
            m.token_endpoint_auth_method
                .clone()
                .unwrap_or_else(|| ClientAuthMethod::ClientSecretBasic.as_str().into()),
        ),
        post_logout_redirect_uris: m.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: m.backchannel_logout_uri.clone(),
        id_token_alg: m.id_token_signed_response_alg.clone(),
        require_par: m.require_pushed_authorization_requests,
        dpop_bound: m.dpop_bound_access_tokens,
        ..Default::default()
    })
}

/// The metadata with its back-channel URI checked against the outbound rules (resolved
/// here, before any transaction: no lookup inside one).
async fn outbound_checked(
    state: &AppState,
    metadata: Result<ClientMetadata, MetadataError>,
) -> Result<ClientMetadata, MetadataError> {
    let m = metadata?;
    outbound::check_registration(
        &OutboundPolicy::from_state(state),
        m.backchannel_logout_uri.as_deref(),
    )
    .await
    .map(|()| m)
}

/// RFC 7591 §3: registers a client with one use of `initial_token`. The use is spent in
/// the transaction that inserts the client, so a refused registration costs nothing and
/// two at once cannot overspend the token.
/// `metadata` is the parsed request body, or why it could not be parsed: the token is
/// checked first, so an unauthorised caller learns nothing about the metadata rules.
pub async fn register(
    state: &AppState,
    initial_token: String,
    metadata: Result<ClientMetadata, MetadataError>,
) -> Result<Registration, RegistrationError> {
    let now = state.clock.now();
    let metadata = outbound_checked(state, metadata).await;
    let prepared = metadata
        .and_then(|m| new_client(&m))
        .and_then(|new| new_relying_party(new, Registrar::Dynamic, None));
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                if !initial_tokens::consume_initial_token(
                    conn,
                    &secrets::hash_token(&initial_token),
                    now,
                )? {
                    return Err(RegistrationError::InvalidToken);
                }
                let (mut client, client_secret) = prepared?;
                let registration_access_token = secrets::new_token();
                client.registration_token_hash =
                    Some(secrets::hash_token(&registration_access_token));
                clients::insert_client(conn, &client, now)?;
                audit_client(conn, now, "client_registered", &client, None)?;
                Ok(Registration {
                    client,
                    client_secret,
                    registration_access_token,
                    issued_at: now,
                })
            })
        })
        .await
}

/// The dynamic client `client_id`, if `token` is its registration access token.
fn authorised(
    conn: &mut DbConnection,
    client_id: &str,
    token: &str,
) -> Result<RelyingParty, RegistrationError> {
    let presented = secrets::hash_token(token);
    clients::find_client(conn, client_id)?
        .filter(|c| c.registered_by == Registrar::Dynamic)
        .filter(|c| {
            c.registration_token_hash
                .as_deref()
                .is_some_and(|h| secrets::constant_time_eq(h, &presented))
        })
        .ok_or(RegistrationError::InvalidToken)
}

/// RFC 7592 §2.1: the client's current registration.
pub async fn read(
    state: &AppState,
    client_id: String,
    token: String,
) -> Result<RelyingParty, RegistrationError> {
    state
        .db
        .run(move |conn| authorised(conn, &client_id, &token))
        .await
}

/// RFC 7592 §2.2: replaces the registration with `metadata` (fields left out take their
/// defaults). Switching to a confidential method issues a secret, returned once; switching
/// to `none` drops it.
pub async fn replace(
    state: &AppState,
    client_id: String,
    token: String,
    metadata: Result<ClientMetadata, MetadataError>,
) -> Result<(RelyingParty, Option<String>), RegistrationError> {
    let now = state.clock.now();
    // Resolved before the transaction (no lookup inside it); a refusal is reported only
    // after the token check below, like any other metadata problem.
    let metadata = outbound_checked(state, metadata).await;
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let current = authorised(conn, &client_id, &token)?;
                let metadata = metadata?;
                if metadata.client_id.as_deref() != Some(current.id.as_str()) {
                    return Err(MetadataError::new(
                        MetadataField::Other,
                        "client_id: must be the id of the client being updated",
                    )
                    .into());
                }
                if let Some(secret) = &metadata.client_secret {
                    let matches = current.secret_hash.as_deref().is_some_and(|h| {
                        secrets::constant_time_eq(h, &secrets::hash_token(secret))
                    });
                    if !matches {
                        return Err(MetadataError::new(
                            MetadataField::Other,
                            "client_secret: does not match the client's secret",
                        )
                        .into());
                    }
                }
                let new = new_client(&metadata)?;
                let valid = validate(&new)?;
                let mut updated = with_metadata(&current, valid, &new);
                let mut new_secret = None;
                if updated.is_public() {
                    updated.secret_hash = None;
                } else if current.secret_hash.is_none() {
                    let secret = secrets::new_token();
                    updated.secret_hash = Some(secrets::hash_token(&secret));
                    new_secret = Some(secret);
                }
                clients::update_client_metadata(conn, &updated, now)?;
                audit_client(conn, now, "client_updated", &updated, None)?;
                Ok((updated, new_secret))
            })
        })
        .await
}

/// RFC 7592 §2.3: deletes the client with its grants, so its tokens stop working.
pub async fn delete(
    state: &AppState,
    client_id: String,
    token: String,
) -> Result<(), RegistrationError> {
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let client = authorised(conn, &client_id, &token)?;
                clients::delete_client(conn, &client.id)?;
                audit_client(conn, now, "client_deleted", &client, None)
                    .map_err(RegistrationError::from)
            })
        })
        .await
}
