//! Consents: which scopes a person has let a third-party client have (one row per person
//! and client; `scope` is the space-separated union of what was granted).

use diesel::prelude::*;

use super::schema::{clients, consents};
use super::{DbConnection, StoreResult};

/// A consent, with its client's name (for `/account/apps`).
#[derive(Clone, Debug, PartialEq, Eq, Queryable)]
pub struct ConsentListing {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

/// The scopes `account_id` has granted `client_id`, if any.
pub fn find_scope(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
) -> StoreResult<Option<String>> {
    Ok(consents::table
        .find((account_id, client_id))
        .select(consents::scope)
        .first(conn)
        .optional()?)
}

/// Records the granted scopes (replacing any earlier row). Call inside a transaction.
pub fn upsert(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> StoreResult<()> {
    // Update-then-insert: one statement shape for both back-ends.
    let updated = diesel::update(consents::table.find((account_id, client_id)))
        .set((consents::scope.eq(scope), consents::granted_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(consents::table)
            .values((
                consents::account_id.eq(account_id),
                consents::client_id.eq(client_id),
                consents::scope.eq(scope),
                consents::granted_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes the consent; false if there was none.
pub fn delete(conn: &mut DbConnection, account_id: &str, client_id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(consents::table.find((account_id, client_id))).execute(conn)? == 1)
}

/// The person's consents, newest first.
pub fn list_for_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> StoreResult<Vec<ConsentListing>> {
    Ok(consents::table
        .inner_join(clients::table)
        .filter(consents::account_id.eq(account_id))
        .order((consents::granted_at.desc(), consents::client_id.asc()))
        .select((
            consents::client_id,
            clients::name,
            consents::scope,
            consents::granted_at,
        ))
        .load(conn)?)
}
