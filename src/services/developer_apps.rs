//! The developer portal's use-cases: a faculty or staff member registers, edits, rotates
//! the secret of and deletes their own apps. Every lookup is by owner, so another person's
//! app reads as absent.

use crate::domain::account::Account;
use crate::domain::client::{MetadataError, Registrar, RelyingParty, may_register_apps};
use crate::secrets;
use crate::services::ServiceError;
use crate::services::clients::{
    NewClient, RegisteredClient, audit_client, new_relying_party, validate, with_metadata,
};
use crate::services::outbound::{self, OutboundPolicy};
use crate::startup::AppState;
use crate::store::{StoreError, clients, write_tx};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Students (and other non-staff affiliations) cannot register apps.
    #[error("only faculty and staff can register apps")]
    NotAllowed,
    #[error("no such app")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] MetadataError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Service(e.into())
    }
}

/// What the portal's forms carry.
#[derive(Clone, Debug, Default)]
pub struct AppForm {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Only read when registering: a client's type does not change afterwards.
    pub public: bool,
}

impl AppForm {
    fn into_new_client(self) -> NewClient {
        NewClient {
            name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            public: self.public,
            ..Default::default()
        }
    }
}

fn allowed(account: &Account) -> Result<String, AppError> {
    if may_register_apps(account.affiliation) {
        Ok(account.id.to_string())
    } else {
        Err(AppError::NotAllowed)
    }
}

pub async fn list_apps(state: &AppState, account: &Account) -> Result<Vec<RelyingParty>, AppError> {
    let owner = allowed(account)?;
    state
        .db
        .run(move |conn| Ok(clients::list_clients_by_owner(conn, &owner)?))
        .await
}

/// The app `client_id` if `account` owns it.
pub async fn find_app(
    state: &AppState,
    account: &Account,
    client_id: String,
) -> Result<RelyingParty, AppError> {
    let owner = allowed(account)?;
    state
        .db
        .run(move |conn| owned(conn, &owner, &client_id))
        .await
}

fn owned(
    conn: &mut crate::store::DbConnection,
    owner: &str,
    client_id: &str,
) -> Result<RelyingParty, AppError> {
    clients::find_client(conn, client_id)?
        .filter(|c| {
            c.registered_by == Registrar::Developer && c.owner_account_id.as_deref() == Some(owner)
        })
        .ok_or(AppError::NotFound)
}

pub async fn register_app(
    state: &AppState,
    account: &Account,
    form: AppForm,
) -> Result<RegisteredClient, AppError> {
    let owner = allowed(account)?;
    outbound::check_registration(
        &OutboundPolicy::from_state(state),
        form.backchannel_logout_uri.as_deref(),
    )
    .await?;
    let (client, client_secret) = new_relying_party(
        form.into_new_client(),
        Registrar::Developer,
        Some(owner.clone()),
    )?;
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                clients::insert_client(conn, &client, now)?;
                audit_client(conn, now, "client_registered", &client, Some(&owner))
            })?;
            Ok(RegisteredClient {
                client_id: client.id.clone(),
                client_secret,
                client,
            })
        })
        .await
}

/// Runs `change` in one write transaction on the app `client_id`, if `account` owns it;
/// `change` gets the app, the owner and the time.
async fn change_owned<T, F>(
    state: &AppState,
    account: &Account,
    client_id: String,
    change: F,
) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::store::DbConnection, RelyingParty, &str, i64) -> Result<T, AppError>
        + Send
        + 'static,
{
    let owner = allowed(account)?;
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let client = owned(conn, &owner, &client_id)?;
                change(conn, client, &owner, now)
            })
        })
        .await
}

/// Rewrites the name and URIs of an app; its type and secret stay.
pub async fn update_app(
    state: &AppState,
    account: &Account,
    client_id: String,
    form: AppForm,
) -> Result<RelyingParty, AppError> {
    outbound::check_registration(
        &OutboundPolicy::from_state(state),
        form.backchannel_logout_uri.as_deref(),
    )
    .await?;
    change_owned(
        state,
        account,
        client_id,
        move |conn, current, owner, now| {
            let new = NewClient {
                public: current.is_public(),
                auth_method: Some(current.auth_method.as_str().into()),
                id_token_alg: Some(current.id_token_alg.as_str().into()),
                require_par: current.require_par,
                dpop_bound: current.dpop_bound,
                ..form.into_new_client()
            };
            let valid = validate(&new)?;
            let updated = with_metadata(&current, valid, &new);
            clients::update_client_metadata(conn, &updated, now)?;
            audit_client(conn, now, "client_updated", &updated, Some(owner))?;
            Ok(updated)
        },
    )
    .await
}

/// A new secret for a confidential app, shown once; the old one stops working at once.
pub async fn rotate_secret(
    state: &AppState,
    account: &Account,
    client_id: String,
) -> Result<(RelyingParty, String), AppError> {
    change_owned(state, account, client_id, |conn, client, owner, now| {
        if client.is_public() {
            return Err(AppError::NotFound);
        }
        let secret = secrets::new_token();
        clients::update_secret_hash(conn, &client.id, &secrets::hash_token(&secret), now)?;
        audit_client(conn, now, "client_secret_rotated", &client, Some(owner))?;
        Ok((client, secret))
    })
    .await
}

/// Deletes an app with everything issued to it (see `store::clients::delete_client`).
pub async fn delete_app(
    state: &AppState,
    account: &Account,
    client_id: String,
) -> Result<RelyingParty, AppError> {
    change_owned(state, account, client_id, |conn, client, owner, now| {
        clients::delete_client(conn, &client.id)?;
        audit_client(conn, now, "client_deleted", &client, Some(owner))?;
        Ok(client)
    })
    .await
}
