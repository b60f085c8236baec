//! Relying parties.

use diesel::prelude::*;

use super::schema::clients;
use super::{DbConnection, StoreError, StoreResult, from_json_list, to_json_list};
use crate::domain::account::Affiliation;
use crate::domain::client::{ClientAuthMethod, Registrar, RelyingParty};
use crate::oidc::keys::SigningAlg;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub auth_method: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub require_consent: bool,
    pub require_mfa: bool,
    pub allowed_affiliations: String,
    pub requires_compliance: bool,
    pub id_token_alg: String,
    pub disabled: bool,
    pub created_at: i64,
    pub registered_by: String,
    pub owner_account_id: Option<String>,
    pub registration_token_hash: Option<String>,
    pub require_pushed_authorization_requests: bool,
    pub dpop_bound_access_tokens: bool,
    pub updated_at: i64,
}

impl ClientRow {
    fn into_client(self) -> StoreResult<RelyingParty> {
        let corrupt =
            |what: &str| StoreError::Unavailable(format!("client {}: corrupt {what}", self.id));
        let allowed_affiliations = from_json_list(&self.allowed_affiliations)
            .iter()
            .map(|a| Affiliation::parse(a).ok_or_else(|| corrupt("affiliation")))
            .collect::<StoreResult<_>>()?;
        Ok(RelyingParty {
            auth_method: ClientAuthMethod::parse(&self.auth_method)
                .ok_or_else(|| corrupt("auth_method"))?,
            id_token_alg: SigningAlg::parse(&self.id_token_alg)
                .ok_or_else(|| corrupt("id_token_alg"))?,
            registered_by: Registrar::parse(&self.registered_by)
                .ok_or_else(|| corrupt("registered_by"))?,
            redirect_uris: from_json_list(&self.redirect_uris),
            post_logout_redirect_uris: from_json_list(&self.post_logout_redirect_uris),
            allowed_affiliations,
            id: self.id,
            name: self.name,
            secret_hash: self.secret_hash,
            backchannel_logout_uri: self.backchannel_logout_uri,
            require_consent: self.require_consent,
            require_mfa: self.require_mfa,
            requires_compliance: self.requires_compliance,
            disabled: self.disabled,
            owner_account_id: self.owner_account_id,
            registration_token_hash: self.registration_token_hash,
            require_par: self.require_pushed_authorization_requests,
            dpop_bound: self.dpop_bound_access_tokens,
        })
    }
}

pub fn insert_client(conn: &mut DbConnection, rp: &RelyingParty, now: i64) -> StoreResult<()> {
    let affiliations: Vec<String> = rp
        .allowed_affiliations
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    diesel::insert_into(clients::table)
        .values(ClientRow {
            id: rp.id.clone(),
            name: rp.name.clone(),
            secret_hash: rp.secret_hash.clone(),
            auth_method: rp.auth_method.as_str().into(),
            redirect_uris: to_json_list(&rp.redirect_uris),
            post_logout_redirect_uris: to_json_list(&rp.post_logout_redirect_uris),
            backchannel_logout_uri: rp.backchannel_logout_uri.clone(),
            require_consent: rp.require_consent,
            require_mfa: rp.require_mfa,
            allowed_affiliations: to_json_list(&affiliations),
            requires_compliance: rp.requires_compliance,
            id_token_alg: rp.id_token_alg.as_str().into(),
            disabled: rp.disabled,
            created_at: now,
            registered_by: rp.registered_by.as_str().into(),
            owner_account_id: rp.owner_account_id.clone(),
            registration_token_hash: rp.registration_token_hash.clone(),
            require_pushed_authorization_requests: rp.require_par,
            dpop_bound_access_tokens: rp.dpop_bound,
            updated_at: now,
        })
        .execute(conn)?;
    Ok(())
}

pub fn find_client(conn: &mut DbConnection, id: &str) -> StoreResult<Option<RelyingParty>> {
    clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?
        .map(ClientRow::into_client)
        .transpose()
}

pub fn list_clients(conn: &mut DbConnection) -> StoreResult<Vec<RelyingParty>> {
    into_clients(
        clients::table
            .order(clients::created_at.asc())
            .select(ClientRow::as_select())
            .load(conn)?,
    )
}

fn into_clients(rows: Vec<ClientRow>) -> StoreResult<Vec<RelyingParty>> {
    rows.into_iter().map(ClientRow::into_client).collect()
}

/// Disables or re-enables a client; false when there is no such client.
pub fn set_disabled(
    conn: &mut DbConnection,
    id: &str,
    disabled: bool,
    now: i64,
) -> StoreResult<bool> {
    let changed = diesel::update(clients::table.find(id))
        .set((clients::disabled.eq(disabled), clients::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The apps an account registered at `/developer`, oldest first.
pub fn list_clients_by_owner(
    conn: &mut DbConnection,
    owner_account_id: &str,
) -> StoreResult<Vec<RelyingParty>> {
    into_clients(
        clients::table
            .filter(clients::owner_account_id.eq(owner_account_id))
            .order(clients::created_at.asc())
            .select(ClientRow::as_select())
            .load(conn)?,
    )
}

/// Rewrites what a client registered (name, URIs, authentication, algorithms); who
/// registered it, its owner, its policy flags and its enabled state stay. False when there
/// is no such client.
pub fn update_client_metadata(
    conn: &mut DbConnection,
    rp: &RelyingParty,
    now: i64,
) -> StoreResult<bool> {
    let changed = diesel::update(clients::table.find(&rp.id))
        .set((
            clients::name.eq(&rp.name),
            clients::secret_hash.eq(&rp.secret_hash),
            clients::auth_method.eq(rp.auth_method.as_str()),
            clients::redirect_uris.eq(to_json_list(&rp.redirect_uris)),
            clients::post_logout_redirect_uris.eq(to_json_list(&rp.post_logout_redirect_uris)),
            clients::backchannel_logout_uri.eq(&rp.backchannel_logout_uri),
            clients::id_token_alg.eq(rp.id_token_alg.as_str()),
            clients::require_pushed_authorization_requests.eq(rp.require_par),
            clients::dpop_bound_access_tokens.eq(rp.dpop_bound),
            clients::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Replaces a client's secret hash (rotation); false when there is no such client.
pub fn update_secret_hash(
    conn: &mut DbConnection,
    id: &str,
    secret_hash: &str,
    now: i64,
) -> StoreResult<bool> {
    let changed = diesel::update(clients::table.find(id))
        .set((
            clients::secret_hash.eq(secret_hash),
            clients::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Deletes a client. Its grants (with their codes and refresh tokens), consents, pending
/// logout notifications and pushed requests go with it through `ON DELETE CASCADE`, in
/// the same statement, so nothing is left half-deleted. False when there is no such client.
pub fn delete_client(conn: &mut DbConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(clients::table.find(id)).execute(conn)? == 1)
}
