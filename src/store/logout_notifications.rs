//! The back-channel logout outbox: one row per logout token owed to a relying party,
//! written in the transaction that ends the session, delivered by a background worker.
//! A worker leases a row (`claimed_until`) before sending, so two servers never send the
//! same row at once and a crashed worker's rows come back when its lease runs out.

use diesel::prelude::*;

use super::schema::{clients, logout_notifications};
use super::{DbConnection, StoreResult};

/// How long a worker holds a claimed row before another may take it.
pub const LEASE_SECS: i64 = 30;

/// A notification owed to one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The logout token's `jti`.
    pub id: String,
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
    pub attempts: i64,
    /// Where to POST the token; `None` if the client no longer has one.
    pub backchannel_logout_uri: Option<String>,
    /// The client's ID-token algorithm (`RS256` / `ES256`).
    pub id_token_alg: String,
    /// Who registered the client (`operator`, `developer`, `dynamic`): decides whether its
    /// URI is held to the outbound address rules.
    pub registered_by: String,
}

#[derive(Insertable)]
#[diesel(table_name = logout_notifications)]
struct NewRow<'a> {
    id: &'a str,
    client_id: &'a str,
    sub: &'a str,
    sid: Option<&'a str>,
    reason: &'a str,
    created_at: i64,
    attempts: i64,
    next_attempt_at: i64,
}

/// Queues a notification, due at once.
pub fn enqueue(
    conn: &mut DbConnection,
    id: &str,
    client_id: &str,
    sub: &str,
    sid: Option<&str>,
    reason: &str,
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(logout_notifications::table)
        .values(NewRow {
            id,
            client_id,
            sub,
            sid,
            reason,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// Leases up to `limit` due rows (undelivered, retry time reached, fewer than
/// `max_attempts` tries, not leased by a live worker). Candidates are read first, then each
/// is taken by a conditional UPDATE: only the worker whose UPDATE changes the row owns it,
/// on SQLite and PostgreSQL alike.
pub fn claim_due(
    conn: &mut DbConnection,
    now: i64,
    max_attempts: i64,
    limit: i64,
) -> StoreResult<Vec<Pending>> {
    let lease_free = logout_notifications::claimed_until
        .is_null()
        .or(logout_notifications::claimed_until.le(now));
    let candidates: Vec<String> = logout_notifications::table
        .filter(logout_notifications::delivered_at.is_null())
        .filter(logout_notifications::next_attempt_at.le(now))
        .filter(logout_notifications::attempts.lt(max_attempts))
        .filter(lease_free)
        .order(logout_notifications::next_attempt_at.asc())
        .limit(limit)
        .select(logout_notifications::id)
        .load(conn)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for id in candidates {
        let taken = diesel::update(
            logout_notifications::table
                .filter(logout_notifications::id.eq(&id))
                .filter(logout_notifications::delivered_at.is_null())
                .filter(
                    logout_notifications::claimed_until
                        .is_null()
                        .or(logout_notifications::claimed_until.le(now)),
                ),
        )
        .set(logout_notifications::claimed_until.eq(now + LEASE_SECS))
        .execute(conn)?;
        if taken == 0 {
            continue;
        }
        let row = logout_notifications::table
            .inner_join(clients::table)
            .filter(logout_notifications::id.eq(&id))
            .select((
                logout_notifications::client_id,
                logout_notifications::sub,
                logout_notifications::sid,
                logout_notifications::attempts,
                clients::backchannel_logout_uri,
                clients::id_token_alg,
                clients::registered_by,
            ))
            .first::<(
                String,
                String,
                Option<String>,
                i64,
                Option<String>,
                String,
                String,
            )>(conn)
            .optional()?;
        if let Some((client_id, sub, sid, attempts, uri, alg, registered_by)) = row {
            claimed.push(Pending {
                id,
                client_id,
                sub,
                sid,
                attempts,
                backchannel_logout_uri: uri,
                id_token_alg: alg,
                registered_by,
            });
        }
    }
    Ok(claimed)
}

/// The relying party acknowledged the token.
pub fn mark_delivered(conn: &mut DbConnection, id: &str, now: i64) -> StoreResult<()> {
    diesel::update(logout_notifications::table.find(id))
        .set((
            logout_notifications::delivered_at.eq(now),
            logout_notifications::attempts.eq(logout_notifications::attempts + 1),
            logout_notifications::claimed_until.eq(None::<i64>),
            logout_notifications::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// A failed try: counted, retried at `next_attempt_at`, lease released. `error` describes
/// the failure (status or transport error), never the token.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    next_attempt_at: i64,
    error: &str,
) -> StoreResult<()> {
    diesel::update(logout_notifications::table.find(id))
        .set((
            logout_notifications::attempts.eq(logout_notifications::attempts + 1),
            logout_notifications::next_attempt_at.eq(next_attempt_at),
            logout_notifications::claimed_until.eq(None::<i64>),
            logout_notifications::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// One row as the tests and operators see it.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = logout_notifications)]
pub struct NotificationRow {
    pub id: String,
    pub client_id: String,
    pub sub: String,
    pub sid: Option<String>,
    pub reason: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Every notification owed to `client_id`, oldest first.
pub fn list_for_client(
    conn: &mut DbConnection,
    client_id: &str,
) -> StoreResult<Vec<NotificationRow>> {
    Ok(logout_notifications::table
        .filter(logout_notifications::client_id.eq(client_id))
        .order(logout_notifications::created_at.asc())
        .select(NotificationRow::as_select())
        .load(conn)?)
}
