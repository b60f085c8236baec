//! Login flows: a sign-in in progress, with the authorization request it will resume.

use diesel::prelude::*;

use super::schema::login_flows;
use super::{DbConnection, StoreResult};
use crate::oidc::authorize::AuthorizationRequest;

#[derive(Clone, Debug)]
pub struct LoginFlow {
    pub id: String,
    /// `None` when the person came to the IdP directly (to the account pages).
    pub request: Option<AuthorizationRequest>,
    pub expires_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = login_flows)]
struct FlowRow {
    id: String,
    request: Option<String>,
    account_id: Option<String>,
    created_at: i64,
    expires_at: i64,
}

pub fn insert_flow(conn: &mut DbConnection, flow: &LoginFlow, now: i64) -> StoreResult<()> {
    let request = flow
        .request
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| super::StoreError::Unavailable(format!("cannot encode request: {e}")))?;
    diesel::insert_into(login_flows::table)
        .values(FlowRow {
            id: flow.id.clone(),
            request,
            account_id: None,
            created_at: now,
            expires_at: flow.expires_at,
        })
        .execute(conn)?;
    Ok(())
}

/// A live flow; `None` when unknown, expired or unreadable (the person starts again).
pub fn find_flow(conn: &mut DbConnection, id: &str, now: i64) -> StoreResult<Option<LoginFlow>> {
    let row = login_flows::table
        .find(id)
        .filter(login_flows::expires_at.gt(now))
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.and_then(|r| {
        let request = match r.request.as_deref().map(serde_json::from_str).transpose() {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable login flow");
                return None;
            }
        };
        Some(LoginFlow {
            id: r.id,
            request,
            expires_at: r.expires_at,
        })
    }))
}

pub fn delete_flow(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    diesel::delete(login_flows::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(login_flows::table.filter(login_flows::expires_at.le(now))).execute(conn)?)
}
